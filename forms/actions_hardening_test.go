package forms

import (
	"context"
	"sync"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
)

const actionTestLot = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "schema": {"type": "object", "properties": {
    "material": {"x-type": "text", "x-label": {"zh-CN": "物料", "en": "Material"}}
  }, "required": ["material"]}
}`

// Item 12 of issue 7: record.create run again with the same key — after a crash, or at the same
// time — gives the same record, and only one.
func TestHardening12_RecordCreateActionIsIdempotentPerKey(t *testing.T) {
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	enginetest.Start(t, k)
	sys := engine.SystemPrincipal()
	if _, err := s.CreateApp(ctx, sys, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(ctx, sys, "qa", []byte(actionTestLot), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, sys, "qa", "lot"); err != nil {
		t.Fatal(err)
	}
	action, ok := k.Actions.Get("record.create")
	if !ok {
		t.Fatal("record.create is not registered")
	}
	run := func(key string) string {
		t.Helper()
		out, err := action.Run(ctx, engine.ActionContext{Key: key, App: "qa", Actor: sys,
			Params: map[string]any{"form": "lot", "values": map[string]any{"material": "高筋面粉"}}})
		if err != nil {
			t.Errorf("run %s: %v", key, err)
			return ""
		}
		id, _ := out["record"].(string)
		return id
	}
	stored := func() int64 {
		t.Helper()
		n, err := s.st.Count(ctx, RecordsCollection("qa", "lot"), nil)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}

	// Runs of one key at the same time (a redelivered event while the first is still going).
	const runners = 4
	ids := make([]string, runners)
	var wg sync.WaitGroup
	for i := range runners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i] = run("inst-1/create-lot/1")
		}()
	}
	wg.Wait()
	for _, id := range ids {
		if id == "" || id != ids[0] {
			t.Fatalf("concurrent runs of one key gave records %v, want one id", ids)
		}
	}
	if n := stored(); n != 1 {
		t.Fatalf("%d records after %d runs of one key, want 1", n, runners)
	}
	// Run again later: the same record.
	if id := run("inst-1/create-lot/1"); id != ids[0] {
		t.Fatalf("re-run gave %s, want %s", id, ids[0])
	}

	// A run that stopped right after its claim, before the record was written, is finished by
	// the next run under the claimed id.
	claim, err := s.claimActionRun(ctx, "inst-2/create-lot/1", "lot")
	if err != nil {
		t.Fatal(err)
	}
	if id := run("inst-2/create-lot/1"); id != claim.Record {
		t.Fatalf("run after a crash gave %s, want the claimed id %s", id, claim.Record)
	}
	if id := run("inst-2/create-lot/1"); id != claim.Record {
		t.Fatalf("second run after a crash gave %s, want %s", id, claim.Record)
	}
	if n := stored(); n != 2 {
		t.Fatalf("%d records, want 2", n)
	}

	// A record deleted since is not made again.
	r, err := s.Get(ctx, sys, "qa", "lot", ids[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Delete(ctx, sys, "qa", "lot", r.ID, r.Rev); err != nil {
		t.Fatal(err)
	}
	if id := run("inst-1/create-lot/1"); id != ids[0] {
		t.Fatalf("re-run after a delete gave %s, want %s", id, ids[0])
	}
	if n := stored(); n != 2 {
		t.Fatalf("%d records after re-running a deleted record's action, want 2", n)
	}
	// Another key is another record.
	if id := run("inst-3/create-lot/1"); id == "" || id == ids[0] || id == claim.Record {
		t.Fatalf("a new key gave %q", id)
	}
}
