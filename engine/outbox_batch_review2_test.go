package engine

import (
	"context"
	"errors"
	"testing"

	"tracecraft/engine/store/storetest"
)

// Issue 8, second review: a Journal.Void that fails put its entries nowhere — they stayed open
// for the rest of the process, so the settled point and the bus's watermarks never passed them
// again, even once the store answered. They go on the unsettled list, as Commit's failed voids
// do, and the retries after the next commit void them.
func TestIssue8Review2_JournalVoidRetried(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	j := k.NewJournal()
	journalBatch(t, ctx, k, j, "v1", "v2")
	before := k.Audit.openLimit()
	k.Audit.hooks.putMany = func(ctx context.Context, docs []any) (int, error) { return 0, errors.New("disk full") }
	if err := j.Void(ctx, "taken back"); err == nil {
		t.Fatal("void succeeded")
	}
	k.Audit.hooks.putMany = nil
	// The store answers again; the next commit retries what is unsettled.
	if _, err := outboxCreate(ctx, k, "later", 1); err != nil {
		t.Fatal(err)
	}
	k.retryUnsettled(ctx)
	if after := k.Audit.openLimit(); after <= before {
		t.Fatalf("openLimit stuck at %d (was %d) after the store recovered: the journal's entries were never voided", after, before)
	}
	voids, err := k.Audit.List(ctx, AuditQuery{Action: "audit.void"})
	if err != nil || len(voids) != 2 {
		t.Fatalf("%d void entries (%v), want 2", len(voids), err)
	}

}
