package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// Issue 8 item 4, review of the write path: Settle, the group commit's failures, failed voids
// and a live Verify.

var errLostAnswer = errors.New("injected: the connection broke before the answer")

// voidsOf lists the seqs that void entries of the log void.
func voidsOf(t *testing.T, ctx context.Context, k *Kernel) map[int64]bool {
	t.Helper()
	top, err := k.Audit.tail(ctx)
	if err != nil {
		t.Fatal(err)
	}
	out := map[int64]bool{}
	for seq := int64(1); seq <= top; seq++ {
		_, x, ok, err := k.Audit.readOutbox(ctx, seq)
		if err != nil || !ok {
			t.Fatalf("entry %d: %v, %v", seq, ok, err)
		}
		if x != nil && x.void > 0 {
			out[x.void] = true
		}
	}
	return out
}

// TestIssue8Review_SettleIsTheWritesOwnRevision: a write whose outcome is unknown (it timed
// out) while another writer stored the same revision of the document was taken as stored: its
// caller was told it succeeded and its event delivered, for another writer's revision. The
// revision carries its entry's seq, and Settle compares.
func TestIssue8Review_SettleIsTheWritesOwnRevision(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	if _, err := outboxCreate(ctx, k, "d1", 1); err != nil {
		t.Fatal(err)
	}
	var other AuditEntry
	mine, err := k.Commit(ctx, outboxWrite("d1", 2, 5), func(ctx context.Context, journal func(context.Context) error) error {
		if err := journal(ctx); err != nil {
			return err
		}
		// Before this write reaches the store, another writer takes revision 2 ...
		var err error
		other, err = k.Commit(ctx, outboxWrite("d1", 2, 9), func(ctx context.Context, journal func(context.Context) error) error {
			_, err := k.Store.UpdateWith(ctx, "docs.a", "d1", 1, bson.D{{Key: "qty", Value: 9.0}}, journal)
			return err
		})
		if err != nil {
			t.Errorf("the other writer: %v", err)
		}
		return context.DeadlineExceeded // ... and this one times out: its outcome is unknown
	})
	if err == nil {
		t.Fatalf("the write that timed out was acknowledged as entry %d: revision 2 is the other writer's (entry %d)", mine.Seq, other.Seq)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	qty := map[string]int{}
	for _, ev := range rec.got() {
		if ev.Data["rev"] == int64(2) {
			qty[fmt.Sprint(ev.After["qty"])]++
		}
	}
	if len(qty) != 1 || qty["9"] != 1 {
		t.Fatalf("events of revision 2 delivered (by qty): %v; want the other writer's only", qty)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
	if k.Audit.openLimit() != k.Audit.last {
		t.Fatalf("open limit %d, tail %d: an entry stays open", k.Audit.openLimit(), k.Audit.last)
	}
}

// TestIssue8Review_BatchFailedAfterStoring: a group-commit batch whose store call failed after
// storing its entries (the answer was lost) failed every write in it, and left the stored
// entries — each carrying its event — open to no one: never voided, their events delivered at
// the next start for writes that never ran. The batch is read back: what is stored counts.
func TestIssue8Review_BatchFailedAfterStoring(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	var failed atomic.Int32
	k.Audit.hooks.putMany = func(ctx context.Context, docs []any) (int, error) {
		n, err := st.PutMany(ctx, auditCollection, docs)
		if err == nil && failed.Add(1) == 1 {
			return 0, errLostAnswer
		}
		return n, err
	}
	e, err := outboxCreate(ctx, k, "d1", 3)
	if err != nil {
		t.Fatalf("a create whose entry was stored though the store call failed: %v (want it written)", err)
	}
	var got bson.M
	if err := st.Get(ctx, "docs.a", "d1", &got); err != nil {
		t.Fatalf("the document of entry %d: %v", e.Seq, err)
	}
	if _, err := outboxCreate(ctx, k, "d2", 4); err != nil {
		t.Fatal(err)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.got()); n != 2 {
		t.Fatalf("delivered %d events, want 2", n)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK || rep.Entries != 2 {
		t.Fatalf("verify: %+v (want 2 entries: d1's and d2's)", rep)
	}
}

// TestIssue8Review_BatchInDoubtIsVoided: when the batch failed and reading it back failed too,
// the entries may be stored: the writes fail, and each entry found stored is voided once the
// store answers, so its event is never delivered and the watermarks move on.
func TestIssue8Review_BatchInDoubtIsVoided(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	var down atomic.Bool
	k.Audit.hooks.putMany = func(ctx context.Context, docs []any) (int, error) {
		n, err := st.PutMany(ctx, auditCollection, docs)
		if err == nil && down.Load() {
			return 0, errLostAnswer
		}
		return n, err
	}
	k.Audit.hooks.getEntry = func(ctx context.Context, seq int64, s *auditStored) error {
		if down.Load() {
			return errLostAnswer
		}
		return st.Get(ctx, auditCollection, auditID(seq), s)
	}
	down.Store(true)
	if _, err := outboxCreate(ctx, k, "d1", 3); err == nil {
		t.Fatal("a create whose entry could not be read back succeeded")
	}
	if err := st.Get(ctx, "docs.a", "d1", &bson.M{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the document of the failed create: %v", err)
	}
	down.Store(false)
	e2, err := outboxCreate(ctx, k, "d2", 4) // the next commit retries
	if err != nil {
		t.Fatal(err)
	}
	if voids := voidsOf(t, ctx, k); !voids[e2.Seq-1] {
		t.Fatalf("entry %d of the failed create is not voided: voids %v", e2.Seq-1, voids)
	}
	if lim := k.Audit.openLimit(); lim != k.Audit.last {
		t.Fatalf("open limit %d, tail %d: the watermarks stay behind", lim, k.Audit.last)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if evs := rec.got(); len(evs) != 1 || evs[0].Data["id"] != "d2" {
		t.Fatalf("delivered %+v, want d2's event only", evs)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
}

// TestIssue8Review_FailedVoidIsRetried: a void the store refused kept the entry open for the
// process's life, so no watermark passed it (the bus's and the settled point) until a restart.
// The void is retried after the next commit.
func TestIssue8Review_FailedVoidIsRetried(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	var refuse atomic.Bool
	k.Audit.hooks.putMany = func(ctx context.Context, docs []any) (int, error) {
		for _, d := range docs {
			if o, ok := d.(auditOutboxDoc); ok && strings.Contains(o.E, `"void":`) && refuse.Load() {
				return 0, errors.New("injected: disk full")
			}
		}
		return st.PutMany(ctx, auditCollection, docs)
	}
	if _, err := outboxCreate(ctx, k, "d1", 1); err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	if _, err := outboxCreate(ctx, k, "d1", 2); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("a second create of d1: %v", err)
	}
	failedSeq := k.Audit.last
	if lim := k.Audit.openLimit(); lim >= failedSeq {
		t.Fatalf("open limit %d passes entry %d, whose void failed", lim, failedSeq)
	}
	refuse.Store(false)
	if _, err := outboxCreate(ctx, k, "d2", 3); err != nil {
		t.Fatal(err)
	}
	if voids := voidsOf(t, ctx, k); !voids[failedSeq] {
		t.Fatalf("entry %d is not voided after the next commit: voids %v", failedSeq, voids)
	}
	if lim := k.Audit.openLimit(); lim != k.Audit.last {
		t.Fatalf("open limit %d, tail %d: the watermarks stay behind the entry whose void failed", lim, k.Audit.last)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
}

// TestIssue8Review_LiveVerifyWriteDuringWalk: Verify walks the log, then looks at the stored
// revisions; a write committed in between has its entry past the end of the walk and was
// reported unaudited. Verify walks on to the entries appended meanwhile before judging.
func TestIssue8Review_LiveVerifyWriteDuringWalk(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	if _, err := outboxCreate(ctx, k, "d1", 1); err != nil {
		t.Fatal(err)
	}
	k.Audit.hooks.afterWalk = func() {
		k.Audit.hooks.afterWalk = nil
		if _, err := outboxCreate(ctx, k, "d2", 2); err != nil {
			t.Error(err)
		}
	}
	rep := auditTestVerify(t, k.Audit)
	if !rep.OK || rep.Unaudited != 0 || rep.Entries != 2 {
		t.Fatalf("verify with a write during it: %+v (want OK, both entries walked)", rep)
	}
	// A write behind the log's back is still found.
	if err := st.Create(ctx, "docs.a", "forged", bson.D{{Key: "qty", Value: 9.0}}); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, k.Audit); rep.OK || rep.Unaudited != 1 {
		t.Fatalf("verify after a write behind the log's back: %+v", rep)
	}
}
