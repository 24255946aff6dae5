package engine

import (
	"context"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store/storetest"
)

// TestIssue8Review_CancelAfterEntryStillWrites: a request cancelled after its write's audit
// entry is stored (the client left) does not break the write off. Before, the record insert
// failed at once with "context canceled", the outcome looked uncertain, and another writer of the
// same document could be taken for it (its event delivered for a write that never happened); a
// write found stored was also reported as failed, so the caller would write it again.
func TestIssue8Review_CancelAfterEntryStillWrites(t *testing.T) {
	st, bctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	ctx, cancel := context.WithCancel(bctx)
	e, err := k.Commit(ctx, outboxWrite("c1", 1, 7), func(ctx context.Context, journal func(context.Context) error) error {
		return k.Store.CreateWith(ctx, "docs.a", "c1", bson.D{{Key: "qty", Value: 7.0}}, func(jctx context.Context) error {
			if err := journal(jctx); err != nil {
				return err
			}
			cancel() // the client leaves right after the commit point
			return nil
		})
	})
	if err != nil || e.Seq == 0 {
		t.Fatalf("commit after a cancel at the commit point: %+v, %v (want the write stored and acknowledged)", e, err)
	}
	var got bson.M
	if err := k.Store.Get(bctx, "docs.a", "c1", &got); err != nil {
		t.Fatalf("the record is not stored: %v", err)
	}
	if err := k.Bus.Drain(bctx); err != nil {
		t.Fatal(err)
	}
	if evs := rec.got(); len(evs) != 1 {
		t.Fatalf("delivered %d events, want 1", len(evs))
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
}
