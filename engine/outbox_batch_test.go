package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// Issue 8 item 5: an import writes its records in batches under a Journal — the entries of a
// batch in one insert, then the records in another — and holds their events until its own
// commit point: Settle delivers them, Void (after the records are taken back) never does, and a
// process that stops leaves them to the next start, after the engines' recoveries (OnRecover).

// journalBatch appends the entries of the creates of ids and stores their documents.
func journalBatch(t *testing.T, ctx context.Context, k *Kernel, j *Journal, ids ...string) {
	t.Helper()
	ws := make([]Write, len(ids))
	docs := make([]any, len(ids))
	for i, id := range ids {
		ws[i] = outboxWrite(id, 1, float64(i))
		docs[i] = bson.D{{Key: "_id", Value: id}, {Key: store.RevField, Value: int64(1)}, {Key: "qty", Value: float64(i)}}
	}
	if err := j.Append(ctx, ws); err != nil {
		t.Fatal(err)
	}
	if n, err := k.Store.PutMany(ctx, "docs.a", docs); err != nil || n != len(docs) {
		t.Fatalf("put %d: %v", n, err)
	}
}

func deliveredTargets(rec *busRecorder) string {
	var out []string
	for _, e := range rec.got() {
		out = append(out, e.Target)
	}
	return strings.Join(out, " ")
}

func TestIssue8Import_JournalHoldsEventsUntilSettled(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var rec busRecorder
	k := outboxKernel(t, st, &rec, BusOptions{})
	j := k.NewJournal()
	journalBatch(t, ctx, k, j, "i1", "i2")
	journalBatch(t, ctx, k, j, "i3")
	// A write of someone else's meanwhile is delivered at once.
	if _, err := outboxCreate(ctx, k, "other", 9); err != nil {
		t.Fatal(err)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deliveredTargets(&rec); got != "a/other" || j.Len() != 3 {
		t.Fatalf("before Settle delivered %q (journal holds %d)", got, j.Len())
	}
	// The three entries were appended with two inserts, one after another.
	creates, err := k.Audit.List(ctx, AuditQuery{Action: "doc.save"})
	if err != nil || len(creates) != 4 {
		t.Fatalf("entries %+v %v", creates, err)
	}
	j.Settle()
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deliveredTargets(&rec); !strings.HasPrefix(got, "a/other ") || len(rec.got()) != 4 {
		t.Fatalf("after Settle delivered %q", got)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}

	// Taken back: the documents removed, the entries voided, no event.
	j = k.NewJournal()
	journalBatch(t, ctx, k, j, "v1", "v2")
	for _, id := range []string{"v1", "v2"} {
		if err := st.Delete(ctx, "docs.a", id); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Void(ctx, "import taken back"); err != nil {
		t.Fatal(err)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.got()); n != 4 || j.Len() != 0 {
		t.Fatalf("after Void %d events delivered, journal holds %d", n, j.Len())
	}
	voids, err := k.Audit.List(ctx, AuditQuery{Action: "audit.void"})
	if err != nil || len(voids) != 2 {
		t.Fatalf("voids %+v %v", voids, err)
	}
	if rep := auditTestVerify(t, k.Audit); !rep.OK {
		t.Fatalf("verify after Void: %+v", rep)
	}
	if limit := k.Audit.openLimit(); limit != k.Audit.last {
		t.Fatalf("entries left open: settled up to %d of %d", limit, k.Audit.last)
	}
}

// A process that stops with a journal open: the next start runs the recoveries first (here one
// that takes back the second batch, as the form engine takes back an import without its commit
// marker), then settles — the first batch's events are delivered, the second's entries voided.
func TestIssue8Import_RestartSettlesJournalAfterRecoveries(t *testing.T) {
	dir, ctx := storetest.TempDir(t), busTestCtx(t)
	st1 := storetest.OpenEmbedded(t, dir)
	var rec1 busRecorder
	k1 := outboxKernel(t, st1, &rec1, BusOptions{})
	j := k1.NewJournal()
	journalBatch(t, ctx, k1, j, "kept1", "kept2")
	journalBatch(t, ctx, k1, j, "gone1", "gone2")
	if err := k1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if n := len(rec1.got()); n != 0 {
		t.Fatalf("first process delivered %d events of an open journal", n)
	}

	st2 := storetest.OpenEmbedded(t, dir)
	var rec2 busRecorder
	k2 := NewKernel(st2, KernelOptions{Log: storetest.Quiet, AuditKey: auditTestKey,
		Bus: BusOptions{MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	k2.Audit.Cover("docs.", "doc", func(coll, id string) string { return strings.TrimPrefix(coll, "docs.") + "/" + id })
	k2.Bus.Subscribe("docs", []string{"doc."}, rec2.handle)
	var order []string
	k2.OnRecover("take back", func(ctx context.Context) error {
		order = append(order, "recover")
		for _, id := range []string{"gone1", "gone2"} {
			if err := st2.Delete(ctx, "docs.a", id); err != nil {
				return err
			}
		}
		return nil
	})
	k2.OnRecover("second", func(context.Context) error { order = append(order, "second"); return nil })
	if err := k2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer k2.Close(context.Background())
	if err := k2.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := deliveredTargets(&rec2); got != "a/kept1 a/kept2" && got != "a/kept2 a/kept1" {
		t.Fatalf("after the restart delivered %q, want the kept batch's events only", got)
	}
	voids, err := k2.Audit.List(ctx, AuditQuery{Action: "audit.void"})
	if err != nil || len(voids) != 2 {
		t.Fatalf("voids %+v %v: want the taken-back batch's entries voided", voids, err)
	}
	if rep := auditTestVerify(t, k2.Audit); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
	if fmt.Sprint(order) != "[recover second]" {
		t.Fatalf("recoveries ran %v", order)
	}
}
