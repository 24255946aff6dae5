package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// Issue 8 item 4: a write costs two inserts — its audit entry, which carries its event, and the
// document — and is never stored without them: a restart voids the entry of a write that was
// not stored and delivers the event of one that was; Verify notices a revision with no entry.

// outboxKernel makes a kernel on st with a recording subscriber to "doc." events, covering the
// collections "docs.*" for Verify, and starts it.
func outboxKernel(t *testing.T, st *store.Store, rec *busRecorder, opts BusOptions) *Kernel {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff, opts.MaxBackoff = 5*time.Millisecond, 20*time.Millisecond
	}
	k := NewKernel(st, KernelOptions{Log: storetest.Quiet, AuditKey: auditTestKey, Bus: opts})
	k.Audit.Cover("docs.", "doc", func(coll, id string) string { return strings.TrimPrefix(coll, "docs.") + "/" + id })
	k.Bus.Subscribe("docs", []string{"doc."}, rec.handle)
	if err := k.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
		_ = k.stopSettler(ctx)
	})
	return k
}

// outboxWrite is the write of revision rev of docs.a/id, with its entry and event.
func outboxWrite(id string, rev int64, qty float64) Write {
	return Write{Coll: "docs.a", ID: id, Rev: rev,
		Entry: AuditEntry{Actor: "alice", Action: "doc.save", Kind: "doc", Target: "a/" + id, After: map[string]any{"qty": qty}},
		Event: &Event{Type: "doc.saved", App: "a", Data: map[string]any{"id": id, "rev": rev}}}
}

func outboxCreate(ctx context.Context, k *Kernel, id string, qty float64) (AuditEntry, error) {
	return k.Commit(ctx, outboxWrite(id, 1, qty), func(ctx context.Context, journal func(context.Context) error) error {
		return k.Store.CreateWith(ctx, "docs.a", id, bson.D{{Key: "qty", Value: qty}}, journal)
	})
}

func TestIssue8Writes_CommitOneEntryCarriesTheEvent(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	e, err := outboxCreate(ctx, k, "d1", 12.5)
	if err != nil {
		t.Fatal(err)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := rec.got()
	want := Event{ID: "a" + auditID(e.Seq), Type: "doc.saved", App: "a", Kind: "doc", Target: "a/d1", Actor: "alice", At: e.At,
		After: map[string]any{"qty": 12.5}, Data: map[string]any{"id": "d1", "rev": int64(1)}}
	if len(got) != 1 || !reflect.DeepEqual(got[0], want) {
		t.Fatalf("delivered %#v\nwant %#v", got, want)
	}
	// The entry is the only document written besides the record: no event in the bus's outbox.
	for coll, want := range map[string]int64{busEvents: 0, busDeliveries: 0, "docs.a": 1} {
		if n, err := st.Count(ctx, coll, nil); err != nil || n != want {
			t.Fatalf("%s holds %d documents (%v), want %d", coll, n, err, want)
		}
	}
	es, err := k.Audit.List(ctx, AuditQuery{Action: "doc.save"})
	if err != nil || len(es) != 1 || es[0].Hash != e.Hash || !reflect.DeepEqual(es[0].After, map[string]any{"qty": 12.5}) {
		t.Fatalf("listed %+v, %v", es, err)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK || rep.Entries != 1 {
		t.Fatalf("verify: %+v", rep)
	}
}

// A write the store refuses after its entry was appended gets its entry voided: its event is
// never delivered, and the caller sees the refusal.
func TestIssue8Writes_RefusedWriteVoidsItsEntry(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	if _, err := outboxCreate(ctx, k, "d1", 1); err != nil {
		t.Fatal(err)
	}
	_, err := outboxCreate(ctx, k, "d1", 2) // the id is taken
	if !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second create of d1: %v", err)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.got(); len(got) != 1 || got[0].After["qty"] != int64(1) {
		t.Fatalf("delivered %+v, want the first create's event only", got)
	}
	es, err := k.Audit.List(ctx, AuditQuery{})
	if err != nil || len(es) != 3 || es[0].Action != "audit.void" || es[0].Target != auditID(es[1].Seq) {
		t.Fatalf("entries %+v, %v: want the refused create voided", es, err)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
}

// A process that stops between an entry and its write leaves an entry whose write is missing:
// the next start voids it, and delivers the event of a write that was stored but whose event
// was never handed to the bus.
func TestIssue8Writes_RestartSettlesUnfinishedWrites(t *testing.T) {
	dir, ctx := storetest.TempDir(t), busTestCtx(t)
	st1 := storetest.OpenEmbedded(t, dir)
	var rec1 busRecorder
	k1 := outboxKernel(t, st1, &rec1, BusOptions{})
	if _, err := outboxCreate(ctx, k1, "done", 1); err != nil {
		t.Fatal(err)
	}
	// Stopped after the entry: no record.
	w := outboxWrite("ghost", 1, 2)
	ghost, _, err := k1.Audit.append(ctx, w.Entry, &auditExtra{write: &AuditWrite{Coll: w.Coll, ID: w.ID, Rev: 1}, event: &auditEvent{Type: "doc.saved", App: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	// Stopped after the record: its event never reached the bus.
	w = outboxWrite("orphan", 1, 3)
	orphan, _, err := k1.Audit.append(ctx, w.Entry, &auditExtra{write: &AuditWrite{Coll: w.Coll, ID: w.ID, Rev: 1}, event: &auditEvent{Type: "doc.saved", App: "a"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := st1.Create(ctx, "docs.a", "orphan", bson.D{{Key: "qty", Value: 3.0}}); err != nil {
		t.Fatal(err)
	}
	if err := k1.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	// Whatever the first process stored at its end, its open entries kept the settled point and
	// the watermarks below them.
	if err := k1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec1.got(); len(got) != 1 {
		t.Fatalf("first process delivered %d events, want 1", len(got))
	}

	st2 := storetest.OpenEmbedded(t, dir)
	var rec2 busRecorder
	k2 := outboxKernel(t, st2, &rec2, BusOptions{})
	if err := k2.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec2.got(); len(got) != 1 || got[0].Target != "a/orphan" || got[0].ID != "a"+auditID(orphan.Seq) {
		t.Fatalf("after the restart delivered %+v, want the orphan's event only", got)
	}
	voids, err := k2.Audit.List(ctx, AuditQuery{Action: "audit.void"})
	if err != nil || len(voids) != 1 || voids[0].Target != auditID(ghost.Seq) {
		t.Fatalf("voids %+v, %v: want the ghost's entry voided", voids, err)
	}
	if rep := auditTestVerify(t, k2.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
	if err := k2.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// A third start has nothing to settle or deliver.
	st3 := storetest.OpenEmbedded(t, dir)
	var rec3 busRecorder
	k3 := outboxKernel(t, st3, &rec3, BusOptions{})
	if err := k3.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec3.got(); len(got) != 0 {
		t.Fatalf("third start delivered %+v", got)
	}
	if voids, err := k3.Audit.List(ctx, AuditQuery{Action: "audit.void"}); err != nil || len(voids) != 1 {
		t.Fatalf("voids after the third start: %+v, %v", voids, err)
	}
}

// Verify reports every stored revision of a covered collection that no entry stands for — a
// document written behind the log's back, or a revision of it — and accepts documents whose
// entries were written before entries named their writes.
func TestIssue8Writes_VerifyNoticesRevisionWithoutEntry(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	if _, err := outboxCreate(ctx, k, "d1", 1); err != nil {
		t.Fatal(err)
	}
	_, err := k.Commit(ctx, outboxWrite("d1", 2, 5), func(ctx context.Context, journal func(context.Context) error) error {
		_, err := k.Store.UpdateWith(ctx, "docs.a", "d1", 1, bson.D{{Key: "qty", Value: 5.0}}, journal)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	// Written the old way: the entry by target, then the document.
	if _, err := k.Audit.Append(ctx, AuditEntry{Actor: "bob", Action: "doc.save", Kind: "doc", Target: "a/old"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Create(ctx, "docs.a", "old", bson.D{{Key: "qty", Value: 1.0}}); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK || rep.Unaudited != 0 {
		t.Fatalf("verify of audited writes: %+v", rep)
	}

	if err := st.Create(ctx, "docs.b", "forged", bson.D{{Key: "qty", Value: 9.0}}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Update(ctx, "docs.a", "old", 1, bson.D{{Key: "qty", Value: 0.0}}); err != nil {
		t.Fatal(err)
	}
	rep := auditTestVerify(t, k.Audit)
	if rep.OK || rep.Unaudited != 2 || rep.FirstBad != 0 || !strings.Contains(rep.Reason, "docs.a/old revision 2") {
		t.Fatalf("verify after two writes behind the log's back: %+v", rep)
	}
}

// An outbox entry is keyed like the others: changing what it says is found.
func TestIssue8Writes_ChangedOutboxEntryFailsVerify(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	var es []AuditEntry
	for i := range 3 {
		e, err := outboxCreate(ctx, k, fmt.Sprint("d", i), float64(i))
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	var s auditStored
	if err := st.Get(ctx, auditCollection, auditID(es[1].Seq), &s); err != nil || s.E == "" {
		t.Fatalf("entry %d: %+v, %v", es[1].Seq, s, err)
	}
	changed := strings.Replace(s.E, `"alice"`, `"mallory"`, 1)
	if _, err := st.Database().Collection(auditCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: auditID(es[1].Seq)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "e", Value: changed}, {Key: "h", Value: outboxPlainHash(changed)}}}}); err != nil {
		t.Fatal(err)
	}
	rep := auditTestVerify(t, k.Audit)
	if rep.OK || rep.FirstBad != es[1].Seq {
		t.Fatalf("verify after changing entry %d: %+v", es[1].Seq, rep)
	}
}

// A delivery of an event carried by an audit entry is retried, parked as dead and revived like
// any other.
func TestIssue8Writes_AuditStreamDeadLetter(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	broken := true
	rec := busRecorder{fail: func(Event, int) error {
		if broken {
			return errors.New("printer offline")
		}
		return nil
	}}
	k := outboxKernel(t, st, &rec, BusOptions{MaxAttempts: 2})
	e, err := outboxCreate(ctx, k, "d1", 1)
	if err != nil {
		t.Fatal(err)
	}
	key := "a" + auditID(e.Seq) + "/docs"
	busEventually(t, "the delivery is dead", func() bool {
		failed, err := k.Bus.Failed(ctx)
		return err == nil && len(failed) == 1 && failed[0].State == DeliveryDead && failed[0].Key == key
	})
	if err := k.Bus.Drain(ctx); err != nil { // the dead delivery is let go of
		t.Fatal(err)
	}
	rec.mu.Lock()
	broken = false
	rec.mu.Unlock()
	if err := k.Bus.Retry(ctx, key); err != nil {
		t.Fatal(err)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := rec.got(); len(got) != 1 || got[0].ID != "a"+auditID(e.Seq) {
		t.Fatalf("after Retry delivered %+v", got)
	}
}

// Outbox entries written without the key (plain SHA-256) are sealed with the older ones when the
// key comes, and verify then.
func TestIssue8Writes_SealCoversPlainOutboxEntries(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	k := NewKernel(st, KernelOptions{Log: storetest.Quiet})
	if _, err := k.Audit.Append(ctx, AuditEntry{Actor: "alice", Action: "user.login"}); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		_, err := k.Commit(ctx, outboxWrite(fmt.Sprint("d", i), 1, 1), func(ctx context.Context, journal func(context.Context) error) error {
			return k.Store.CreateWith(ctx, "docs.a", fmt.Sprint("d", i), bson.D{{Key: "qty", Value: 1.0}}, journal)
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK || rep.Entries != 3 {
		t.Fatalf("unkeyed verify: %+v", rep)
	}
	keyed := NewAudit(st, WithAuditKey(auditTestKey))
	if rep := auditTestVerify(t, keyed); rep.OK {
		t.Fatalf("keyed verify before the seal: %+v", rep)
	}
	if n, err := keyed.SealLegacy(ctx); err != nil || n != 3 {
		t.Fatalf("seal: %d, %v", n, err)
	}
	if rep := auditTestVerify(t, keyed); !rep.OK || rep.Legacy != 3 || rep.Entries != 4 {
		t.Fatalf("keyed verify after the seal: %+v", rep)
	}
}
