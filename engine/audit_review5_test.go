package engine

import (
	"bytes"
	"compress/flate"
	"context"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// review5Audit is a keyed log with its list indexes and n outbox entries by alice, as
// Kernel.Commit writes them (stored deflated, with plain copies).
func review5Audit(t *testing.T, n int) (*store.Store, *Audit, []AuditEntry) {
	t.Helper()
	st, ctx := storetest.New(t), context.Background()
	if err := st.EnsureIndexes(ctx, auditCollection, auditIndexes); err != nil {
		t.Fatal(err)
	}
	a := NewAudit(st, WithAuditKey([]byte("audit-review5-test-key-0123456789")))
	var es []AuditEntry
	for i := range n {
		e, _, err := a.append(ctx, AuditEntry{Actor: "alice", Action: "record.create", Kind: "record", Target: fmt.Sprint("plant/receipt/r", i),
			After: map[string]any{"lot": fmt.Sprint("RM", i)}}, &auditExtra{})
		if err != nil {
			t.Fatal(err)
		}
		es = append(es, e)
	}
	if n > 0 {
		var raw bson.Raw
		if err := st.Get(ctx, auditCollection, auditID(es[0].Seq), &raw); err != nil || raw.Lookup("z").Type != bson.TypeBinary {
			t.Fatalf("entry 1 is not stored deflated: %s (%v)", raw, err)
		}
	}
	return st, a, es
}

// review5Set sets fields of entry seq as stored, behind the log's back.
func review5Set(t *testing.T, st *store.Store, seq int64, op string, fields bson.D) {
	t.Helper()
	if _, err := st.Database().Collection(auditCollection).UpdateOne(context.Background(), bson.D{{Key: "_id", Value: auditID(seq)}},
		bson.D{{Key: op, Value: fields}}); err != nil {
		t.Fatal(err)
	}
}

func review5Seqs(es []AuditEntry) []int64 {
	var seqs []int64
	for _, e := range es {
		seqs = append(seqs, e.Seq)
	}
	return seqs
}

// TestReview5Audit_1_DeflatedEntryWithoutCopiesIsReported: removing all three plain copies of a
// deflated entry (which hides it from the lists by them) is reported by Verify, as is a copy of
// another type; the next filtered list gives it its copies back from its hashed encoding.
func TestReview5Audit_1_DeflatedEntryWithoutCopiesIsReported(t *testing.T) {
	st, a, es := review5Audit(t, 4)
	ctx := context.Background()
	if rep := auditTestVerify(t, a); !rep.OK {
		t.Fatalf("verify before: %+v", rep)
	}
	review5Set(t, st, es[2].Seq, "$unset", bson.D{{Key: auditActorField, Value: ""}, {Key: auditActionField, Value: ""}, {Key: auditTargetField, Value: ""}})
	rep := auditTestVerify(t, a)
	if rep.OK || rep.FirstBad != es[2].Seq || !strings.Contains(rep.Reason, "field is missing") {
		t.Fatalf("verify after removing the copies of entry %d: %+v", es[2].Seq, rep)
	}
	// A filtered list fills copies only into text-layout entries, which were written without
	// them: a deflated entry always had its copies, so it is not repaired out of sight — the
	// evidence stays for Verify.
	if _, err := a.List(ctx, AuditQuery{Actor: "alice"}); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != es[2].Seq {
		t.Fatalf("verify after a filtered list: %+v (a list must not repair a deflated entry's copies)", rep)
	}
	review5Set(t, st, es[2].Seq, "$set", bson.D{{Key: auditActorField, Value: es[2].Actor}, {Key: auditActionField, Value: es[2].Action}, {Key: auditTargetField, Value: es[2].Target}})
	review5Set(t, st, es[1].Seq, "$set", bson.D{{Key: auditTargetField, Value: int32(7)}})
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != es[1].Seq || !strings.Contains(rep.Reason, "not text") {
		t.Fatalf("verify after a target copy of another type: %+v", rep)
	}
	// The entry is still listed by what its hashed encoding says.
	if got, err := a.List(ctx, AuditQuery{Action: "record.create"}); err != nil || len(got) != 4 {
		t.Fatalf("listed %v (%v)", review5Seqs(got), err)
	}
}

// TestReview5Audit_1_CopiesFilledOnEveryList: an outbox entry written without plain copies
// after a process's first filtered list (an older binary during an upgrade) is given them, and
// listed, by the next filtered list of that process.
func TestReview5Audit_1_CopiesFilledOnEveryList(t *testing.T) {
	st, a, _ := review5Audit(t, 4)
	ctx := context.Background()
	if got, err := a.List(ctx, AuditQuery{Actor: "alice"}); err != nil || len(got) != 4 {
		t.Fatalf("first list: %v (%v)", review5Seqs(got), err)
	}
	// Entry 5 as an older binary writes it: the encoding and hash as text, no copies.
	e, _, err := a.append(ctx, AuditEntry{Actor: "alice", Action: "record.update", Target: "plant/receipt/r0"}, &auditExtra{})
	if err != nil {
		t.Fatal(err)
	}
	var s auditStored
	if err := st.Get(ctx, auditCollection, auditID(e.Seq), &s); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Database().Collection(auditCollection).ReplaceOne(ctx, bson.D{{Key: "_id", Value: auditID(e.Seq)}},
		bson.D{{Key: "_id", Value: auditID(e.Seq)}, {Key: "e", Value: s.E}, {Key: "h", Value: s.H}}); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a); !rep.OK {
		t.Fatalf("an entry without copies in the text layout verifies: %+v", rep)
	}
	for _, q := range []AuditQuery{{Actor: "alice"}, {Action: "record.update"}, {Target: "plant/receipt/r0"}} {
		got, err := a.List(ctx, q)
		if err != nil || len(got) == 0 || got[0].Seq != e.Seq {
			t.Fatalf("%+v: listed %v (%v), want entry %d first", q, review5Seqs(got), err, e.Seq)
		}
	}
	// The look-up that runs before every filtered list is a seek in the action index, not a scan.
	plan, err := st.Explain(ctx, auditCollection, auditNoCopiesQuery(""))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "SEARCH") || !strings.Contains(plan, "USING INDEX") || strings.Contains(plan, "SCAN") {
		t.Errorf("entries without an action are not found in the action index:\n%s", plan)
	}
}

// TestReview5Audit_2_AppendRefusesOversizedEntry: an entry whose encoding would be larger than
// 16 MiB is refused, although deflated it would fit in a document.
func TestReview5Audit_2_AppendRefusesOversizedEntry(t *testing.T) {
	_, a, _ := review5Audit(t, 1)
	big := strings.Repeat("a", auditEntryMax)
	for _, x := range []*auditExtra{{}, nil} {
		_, _, err := a.append(context.Background(), AuditEntry{Actor: "alice", Action: "record.create", After: map[string]any{"blob": big}}, x)
		if err == nil || !strings.Contains(err.Error(), "more than an entry may hold") {
			t.Fatalf("outbox %v: appended an entry of %d bytes: %v", x != nil, len(big), err)
		}
	}
	if rep := auditTestVerify(t, a); !rep.OK || rep.Entries != 1 {
		t.Fatalf("verify: %+v", rep)
	}
}

// review5Deflate is a Z that inflates to a hash, a newline and n zero bytes.
func review5Deflate(t *testing.T, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := flate.NewWriterDict(&b, flate.BestSpeed, []byte(auditZDict))
	if err != nil {
		t.Fatal(err)
	}
	_, _ = w.Write([]byte(strings.Repeat("0", 64) + "\n"))
	chunk := make([]byte, 1<<20)
	for n > 0 {
		m := min(n, len(chunk))
		_, _ = w.Write(chunk[:m])
		n -= m
	}
	_ = w.Close()
	return b.Bytes()
}

// TestReview5Audit_2_InflateBombIsABadEntry: a Z changed to inflate to 100 MiB is reported by
// Verify as a changed entry, and reading it allocates about what an entry may hold, not what
// it inflates to; a list that reaches it fails naming it.
func TestReview5Audit_2_InflateBombIsABadEntry(t *testing.T) {
	st, a, es := review5Audit(t, 3)
	ctx := context.Background()
	bomb := review5Deflate(t, 100<<20)
	review5Set(t, st, es[1].Seq, "$set", bson.D{{Key: "z", Value: bson.Binary{Data: bomb}}})
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	rep := auditTestVerify(t, a)
	runtime.ReadMemStats(&after)
	if rep.OK || rep.FirstBad != es[1].Seq || !strings.Contains(rep.Reason, "more than 16 MiB") {
		t.Fatalf("verify after a %d-byte Z that inflates to 100 MiB: %+v", len(bomb), rep)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 32<<20 {
		t.Fatalf("verify allocated %d MiB reading a Z that inflates to 100 MiB", alloc>>20)
	}
	for _, q := range []AuditQuery{{}, {Actor: "alice"}} {
		if _, err := a.List(ctx, q); err == nil || !strings.Contains(err.Error(), fmt.Sprint("entry ", es[1].Seq)) &&
			!strings.Contains(err.Error(), auditID(es[1].Seq)) {
			t.Fatalf("%+v: list over the changed entry: %v", q, err)
		}
	}
}

// TestReview5Audit_2_PageClosesAtByteBudget: a page of large entries closes once their
// encodings reach 32 MiB, with next set, and the next page holds the rest.
func TestReview5Audit_2_PageClosesAtByteBudget(t *testing.T) {
	st, a, _ := review5Audit(t, 0)
	ctx := context.Background()
	blob := strings.Repeat("x", 9<<20)
	var seqs []int64
	for i := range 5 {
		e, _, err := a.append(ctx, AuditEntry{Actor: "alice", Action: "record.create", Target: fmt.Sprint("r", i), After: map[string]any{"blob": blob}}, &auditExtra{})
		if err != nil {
			t.Fatal(err)
		}
		seqs = append([]int64{e.Seq}, seqs...)
	}
	_ = st
	for _, q := range []AuditQuery{{}, {Actor: "alice"}} {
		page, next, err := a.ListPage(ctx, q)
		if err != nil || !slices.Equal(review5Seqs(page), seqs[:3]) || next != seqs[2] {
			t.Fatalf("%+v: first page %v next %d (%v), want %v next %d", q, review5Seqs(page), next, err, seqs[:3], seqs[2])
		}
		q.BeforeSeq = next
		page, next, err = a.ListPage(ctx, q)
		if err != nil || !slices.Equal(review5Seqs(page), seqs[3:]) || next != 0 {
			t.Fatalf("%+v: second page %v next %d (%v), want %v next 0", q, review5Seqs(page), next, err, seqs[3:])
		}
	}
}

// TestReview5Audit_3_WrongTypeZIsReported: a Z of another BSON type is reported by Verify as a
// changed entry, not a decode error of the whole walk, and a list that reaches it names it.
func TestReview5Audit_3_WrongTypeZIsReported(t *testing.T) {
	st, a, es := review5Audit(t, 3)
	ctx := context.Background()
	review5Set(t, st, es[1].Seq, "$set", bson.D{{Key: "z", Value: int32(7)}})
	rep, err := a.Verify(ctx)
	if err != nil || rep.OK || rep.FirstBad != es[1].Seq || !strings.Contains(rep.Reason, "not binary") {
		t.Fatalf("verify after z became an int32: %+v, %v", rep, err)
	}
	for _, q := range []AuditQuery{{}, {Actor: "alice"}} {
		if _, err := a.List(ctx, q); err == nil || !strings.Contains(err.Error(), "not binary") {
			t.Fatalf("%+v: list over the changed entry: %v", q, err)
		}
	}
	// Appends still find the tail past it.
	if _, _, err := a.append(ctx, AuditEntry{Actor: "alice", Action: "record.create"}, &auditExtra{}); err != nil {
		t.Fatal(err)
	}
	if rep, err := NewAudit(st, WithAuditKey([]byte("audit-review5-test-key-0123456789"))).Verify(ctx); err != nil || rep.Entries != 4 || rep.FirstBad != es[1].Seq {
		t.Fatalf("verify from a fresh process: %+v, %v", rep, err)
	}
}

// TestReview5Audit_4_TrailingBytesAfterStreamReported: bytes after the end of Z's deflate
// stream are a change that Verify reports.
func TestReview5Audit_4_TrailingBytesAfterStreamReported(t *testing.T) {
	st, a, es := review5Audit(t, 3)
	var raw bson.Raw
	if err := st.Get(context.Background(), auditCollection, auditID(es[1].Seq), &raw); err != nil {
		t.Fatal(err)
	}
	_, z, _ := raw.Lookup("z").BinaryOK()
	review5Set(t, st, es[1].Seq, "$set", bson.D{{Key: "z", Value: bson.Binary{Data: append(slices.Clone(z), "hidden"...)}}})
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != es[1].Seq || !strings.Contains(rep.Reason, "follow the end") {
		t.Fatalf("verify after bytes were added to entry %d's z: %+v", es[1].Seq, rep)
	}
}

// TestReview5Audit_5_PrefixListsSixtyFourActions: an action prefix with 64 distinct actions
// under it is still listed action by action (the prefix itself is not counted); with 65 it is
// one range.
func TestReview5Audit_5_PrefixListsSixtyFourActions(t *testing.T) {
	st, a, _ := review5Audit(t, 0)
	ctx := context.Background()
	_ = st
	for i := range auditListMaxActions {
		if _, err := a.Append(ctx, AuditEntry{Actor: "alice", Action: fmt.Sprintf("p.a%02d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	values, err := a.actionsUnder(ctx, "p")
	if err != nil || len(values) != auditListMaxActions+1 || values[0] != "p" {
		t.Fatalf("64 actions under p: %d values (%v)", len(values), err)
	}
	if got, err := a.List(ctx, AuditQuery{Action: "p.*", Limit: 100}); err != nil || len(got) != auditListMaxActions {
		t.Fatalf("listed %d (%v)", len(got), err)
	}
	if _, err := a.Append(ctx, AuditEntry{Actor: "alice", Action: "p.b"}); err != nil {
		t.Fatal(err)
	}
	if values, err := a.actionsUnder(ctx, "p"); err != nil || values != nil {
		t.Fatalf("65 actions under p: %d values (%v), want one range", len(values), err)
	}
}
