package forms

import (
	"context"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store/storetest"
)

// TestHardening20_AutoNumberTimeZone (issue 7, item 20): auto-numbers take their day from the
// plant's time zone, which is the kernel's (--timezone), not a fixed Asia/Shanghai.
func TestHardening20_AutoNumberTimeZone(t *testing.T) {
	// 20:00 UTC on 1 January is already 2 January in Shanghai.
	clock := time.Date(2026, 1, 1, 20, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		loc  *time.Location
		want string
	}{
		{nil, "RM260102"},      // the default: Asia/Shanghai
		{time.UTC, "RM260101"}, // a plant that runs on UTC
	} {
		ctx := context.Background()
		k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet, Location: tc.loc})
		s := New(k, Options{Now: func() time.Time { return clock }})
		admin := engine.SystemPrincipal()
		if _, err := s.CreateApp(ctx, admin, AppInput{Key: "tz", Name: engine.Text{ZH: "时区"}}); err != nil {
			t.Fatal(err)
		}
		def := `{"key":"lot","name":{"zh-CN":"批次"},"schema":{"type":"object","properties":{
			"no":{"x-type":"autonumber","x-label":{"zh-CN":"编号"},"x-options":{"pattern":"RM{yyMMdd}{seq:3}","reset":"day"}}}}}`
		if _, err := s.SaveDraft(ctx, admin, "tz", []byte(def), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Publish(ctx, admin, "tz", "lot"); err != nil {
			t.Fatal(err)
		}
		r, err := s.Create(ctx, admin, "tz", "lot", Values{})
		if err != nil {
			t.Fatal(err)
		}
		if no, _ := r.Data["no"].(string); !strings.HasPrefix(no, tc.want) {
			t.Errorf("location %v: number %q, want prefix %s", tc.loc, no, tc.want)
		}
		if k.Location() == nil || (tc.loc != nil && k.Location() != tc.loc) {
			t.Errorf("kernel location %v, want %v", k.Location(), tc.loc)
		}
	}
}
