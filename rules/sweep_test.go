package rules

import (
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/forms"
)

const expiryRule = `{"key":"expiry_warning","label":{"zh-CN":"效期预警","en":"Expiry warning"},"form":"lot",
  "trigger":{"on":"date","field":"expiry_date","days":-30},
  "actions":[{"type":"notify","params":{"roles":["warehouse"],"title":"concat('批次 ', record.lot, ' 将于 ', record.expiry_date, ' 到期')"}}]}`

// TestShelfLifeWarning: 30 days before a lot's expiry date the warehouse is notified, once
// per lot — by the daily sweep for lots already stored, at once for a lot stored inside the
// window, and not again when the sweep runs again or the next day.
func TestShelfLifeWarning(t *testing.T) {
	e := newTestEnv(t, Options{})
	// Sample lots, stored before the rule exists.
	for lot, days := range map[string]int{"L10": 10, "L30": 30, "L31": 31, "L60": 60, "LOLD": -1} {
		e.lot(t, forms.Values{"lot": lot, "material": "milk powder", "expiry_date": e.day(days)})
	}
	e.lot(t, forms.Values{"lot": "LNONE", "material": "sugar"})
	e.drain(t)
	e.rule(t, expiryRule)

	res, err := e.rs.Sweep(e.ctx, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Rules != 1 || res.Fired != 2 || res.Records != 2 {
		t.Fatalf("first sweep: %+v (want L10 and L30 found and fired)", res)
	}
	titles := func(user string) []string {
		var out []string
		for _, n := range e.notifications(t, user).Items {
			out = append(out, n.Title)
		}
		return out
	}
	if got := titles("wang"); len(got) != 2 || !strings.Contains(strings.Join(got, "|"), "批次 L30 将于 "+e.day(30)+" 到期") {
		t.Fatalf("wang after the sweep: %v", got)
	}
	// The same day again: nothing more.
	if res, err := e.rs.Sweep(e.ctx, e.clock.Now()); err != nil || res.Fired != 0 {
		t.Fatalf("second sweep: %+v %v", res, err)
	}
	// A lot stored inside the window is warned about when it is stored ...
	e.lot(t, forms.Values{"lot": "L05", "expiry_date": e.day(5)})
	e.drain(t)
	if got := titles("li"); len(got) != 3 {
		t.Fatalf("li after L05: %v", got)
	}
	// ... and not again by the sweep.
	if res, err := e.rs.Sweep(e.ctx, e.clock.Now()); err != nil || res.Fired != 0 {
		t.Fatalf("sweep after L05: %+v %v", res, err)
	}
	// The next day L31 comes due.
	e.clock.Add(24 * time.Hour)
	if res, err := e.rs.Sweep(e.ctx, e.clock.Now()); err != nil || res.Fired != 1 {
		t.Fatalf("next day's sweep: %+v %v", res, err)
	}
	if got := titles("wang"); len(got) != 4 {
		t.Fatalf("wang after the next day: %v", got)
	}
	for _, r := range e.runs(t, "expiry_warning") {
		if r.Outcome != OutcomeFired || !strings.HasPrefix(r.Trigger, "date:") {
			t.Fatalf("run %+v", r)
		}
	}
}

// TestSweepUsesIndex: the sweep's query is served by the expiry field's index, not a scan of
// the lots.
func TestSweepUsesIndex(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.lot(t, forms.Values{"lot": "L1", "expiry_date": e.day(3)})
	plan, err := e.st.Explain(e.ctx, forms.RecordsCollection(testApp, "lot"), sweepQuery("data.expiry_date", e.day(0), e.day(30)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "USING INDEX") || strings.Contains(plan, "SCAN "+"\"") {
		t.Fatalf("plan:\n%s", plan)
	}
	t.Logf("plan:\n%s", plan)
}

// TestSweepTwoKernels: two nodes sweeping the same day at once notify once per lot.
func TestSweepTwoKernels(t *testing.T) {
	e := newTestEnv(t, Options{})
	for i, days := range []int{1, 2, 3, 4, 5, 6, 7, 8} {
		e.lot(t, forms.Values{"lot": "K" + string(rune('A'+i)), "expiry_date": e.day(days)})
	}
	e.drain(t)
	e.rule(t, expiryRule)
	other := newTestPlatform(t, e.st, e.clock, Options{}, false)
	var wg sync.WaitGroup
	fired := make([]int, 2)
	errs := make([]error, 2)
	for i, s := range []*Service{e.rs, other.rs} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Sweep(e.ctx, e.clock.Now())
			if res != nil {
				fired[i] = res.Fired
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	if errs[0] != nil || errs[1] != nil {
		t.Fatal(errs)
	}
	if fired[0]+fired[1] != 8 {
		t.Fatalf("fired %v, want 8 in all", fired)
	}
	if l := e.notifications(t, "wang"); len(l.Items) != 8 || l.Unread != 8 {
		t.Fatalf("wang: %d notifications, %d unread", len(l.Items), l.Unread)
	}
	if n := len(e.runs(t, "expiry_warning")); n != 8 {
		t.Fatalf("%d runs logged, want 8", n)
	}
	_ = engine.SystemActor
}
