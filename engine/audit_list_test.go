package engine

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// auditListFixture appends n entries from 8 writers, half in the field layout (Append) and half
// in the outbox layout (with extras, as Kernel.Commit writes them), one second apart, on a store
// with the audit log's indexes. Few entries are bob's, user.* or on target "T-rare"; most are
// the system's record writes.
func auditListFixture(t *testing.T, n int) (*store.Store, *Audit, []AuditEntry) {
	t.Helper()
	st, ctx := storetest.New(t), context.Background()
	if err := st.EnsureIndexes(ctx, auditCollection, auditIndexes); err != nil {
		t.Fatal(err)
	}
	a := NewAudit(st, WithAuditKey([]byte("audit-list-test-key-0123456789ab")))
	base := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var tick atomic.Int64
	a.now = func() time.Time { return base.Add(time.Duration(tick.Add(1)) * time.Second) }
	var (
		mu  sync.Mutex
		all []AuditEntry
		wg  sync.WaitGroup
	)
	errs := make(chan error, 8)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				e := AuditEntry{Actor: "system", Action: "record.create", Kind: "record", Target: fmt.Sprintf("plant/receipt/%d", i%4000)}
				switch {
				case i%1500 == 7:
					e.Actor = "bob"
				case i%10 == 1:
					e.Actor = "alice"
				}
				switch {
				case i%1000 == 3:
					e.Action, e.Kind = "user.create", "user"
				case i%2500 == 11:
					e.Action, e.Kind = "user.role.grant", "user"
				case i%3 == 0:
					e.Action = "record.update"
				}
				if i%1800 == 5 {
					e.Target = "T-rare"
				}
				var got AuditEntry
				var err error
				if i%2 == 0 {
					got, _, err = a.append(ctx, e, &auditExtra{})
				} else {
					got, err = a.Append(ctx, e)
				}
				if err != nil {
					errs <- err
					return
				}
				mu.Lock()
				all = append(all, got)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	slices.SortFunc(all, func(x, y AuditEntry) int { return int(y.Seq - x.Seq) })
	return st, a, all
}

// TestAuditListsByIndexInFullPages: over 20,000 entries of both layouts, lists by actor, action,
// action prefix, target and time — rare and common — come in full pages, newest first, exactly
// the matching entries, and each of their queries is read from an audit index in _id order (no
// scan of the log, no sort): a page reads about a page of entries, however rare the filter.
func TestAuditListsByIndexInFullPages(t *testing.T) {
	st, a, all := auditListFixture(t, 20_000)
	ctx := context.Background()
	at := func(i int) time.Time { return all[len(all)-1-i].At } // the time of the i-th entry appended
	cases := []struct {
		name  string
		q     AuditQuery
		pages int // pages to walk (0: all)
	}{
		{"rare actor", AuditQuery{Actor: "bob", Limit: 5}, 0},
		{"common actor", AuditQuery{Actor: "alice"}, 4},
		{"action", AuditQuery{Action: "user.create", Limit: 7}, 0},
		{"action prefix", AuditQuery{Action: "user.*", Limit: 10}, 0},
		{"common action prefix", AuditQuery{Action: "record.*", Limit: 100}, 3},
		{"rare target", AuditQuery{Target: "T-rare", Limit: 4}, 0},
		{"actor and action prefix", AuditQuery{Actor: "alice", Action: "record.*", Limit: 30}, 3},
		{"action in a time window", AuditQuery{Action: "user.*", Since: at(5000), Until: at(15000), Limit: 3}, 0},
		{"time window", AuditQuery{Since: at(7000), Until: at(7120), Limit: 50}, 0},
		{"before a seq", AuditQuery{Actor: "bob", BeforeSeq: all[len(all)/2].Seq, Limit: 2}, 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var want []int64
			for _, e := range all {
				if c.q.matches(e) && (c.q.BeforeSeq == 0 || e.Seq < c.q.BeforeSeq) {
					want = append(want, e.Seq)
				}
			}
			if len(want) == 0 {
				t.Fatal("the fixture has no entry for this case")
			}
			var got []int64
			q := c.q
			if q.Limit == 0 {
				q.Limit = 50
			}
			for page := 1; ; page++ {
				es, next, err := a.ListPage(ctx, q)
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					got = append(got, e.Seq)
				}
				if next == 0 {
					if len(got) != len(want) {
						t.Fatalf("page %d ends the list after %d entries, want %d", page, len(got), len(want))
					}
					break
				}
				if len(es) != q.Limit {
					t.Fatalf("page %d: %d entries, not a full page of %d (next %d)", page, len(es), q.Limit, next)
				}
				if next != es[len(es)-1].Seq {
					t.Fatalf("page %d: next %d, want its last seq %d", page, next, es[len(es)-1].Seq)
				}
				if page == c.pages {
					break
				}
				q.BeforeSeq = next
			}
			if !slices.Equal(got, want[:len(got)]) {
				t.Fatalf("listed %v…, want %v…", got[:min(len(got), 12)], want[:min(len(want), 12)])
			}
			if q.Actor == "" && q.Action == "" && q.Target == "" {
				return // read by _id, one entry at a time
			}
			low, top, err := a.listWindow(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			queries, err := a.listQueries(ctx, c.q, low, top)
			if err != nil {
				t.Fatal(err)
			}
			for _, lq := range queries {
				plan, err := st.Explain(ctx, auditCollection, lq)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN") {
					t.Errorf("not read from an audit index in order:\n%s", plan)
				}
			}
		})
	}
	// The distinct actions under a prefix are found by seeks in the action index.
	plan, err := st.Explain(ctx, auditCollection, store.Query{
		Where: store.And(store.StartsWith(auditActionField, "user."), store.Gt(auditActionField, "user.create")),
		Sort:  []store.SortKey{{Path: auditActionField}}, Limit: 1, Fields: []string{auditActionField},
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "USING INDEX") || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN") {
		t.Errorf("the next action under a prefix is not one index seek:\n%s", plan)
	}
	if rep := auditTestVerify(t, a); !rep.OK || rep.Entries != int64(len(all)) {
		t.Fatalf("verify: %+v", rep)
	}
}

// TestAuditVerifyFindsChangedPlainCopy: an outbox entry's plain actor, action or target that
// differs from its hashed encoding is reported by Verify, and the entry is not listed under
// the value it was changed to.
func TestAuditVerifyFindsChangedPlainCopy(t *testing.T) {
	for _, field := range []string{auditActorField, auditActionField, auditTargetField} {
		t.Run(field, func(t *testing.T) {
			st, ctx := storetest.New(t), context.Background()
			a := NewAudit(st, WithAuditKey([]byte("audit-list-test-key-0123456789ab")))
			var es []AuditEntry
			for i := range 4 {
				e, _, err := a.append(ctx, AuditEntry{Actor: "alice", Action: "record.create", Target: fmt.Sprint("r", i)}, &auditExtra{})
				if err != nil {
					t.Fatal(err)
				}
				es = append(es, e)
			}
			if rep := auditTestVerify(t, a); !rep.OK {
				t.Fatalf("verify before: %+v", rep)
			}
			if _, err := st.Database().Collection(auditCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: auditID(es[2].Seq)}},
				bson.D{{Key: "$set", Value: bson.D{{Key: field, Value: "mallory"}}}}); err != nil {
				t.Fatal(err)
			}
			rep := auditTestVerify(t, a)
			if rep.OK || rep.FirstBad != es[2].Seq || !strings.Contains(rep.Reason, "differ from its hashed content") {
				t.Fatalf("verify after changing the %s copy of entry %d: %+v", field, es[2].Seq, rep)
			}
			q := map[string]AuditQuery{auditActorField: {Actor: "mallory"}, auditActionField: {Action: "mallory"}, auditTargetField: {Target: "mallory"}}[field]
			if got, err := a.List(ctx, q); err != nil || len(got) != 0 {
				t.Fatalf("listed under the changed copy: %+v, %v", got, err)
			}
		})
	}
}

// TestAuditListsEntriesWithoutPlainCopies: entries stored before the outbox layout had plain
// copies are listed by actor, action and target — the first filtered list gives them their
// copies from their encoding, once — and the log still verifies.
func TestAuditListsEntriesWithoutPlainCopies(t *testing.T) {
	st, ctx := storetest.New(t), context.Background()
	if err := st.EnsureIndexes(ctx, auditCollection, auditIndexes); err != nil {
		t.Fatal(err)
	}
	a := NewAudit(st, WithAuditKey([]byte("audit-list-test-key-0123456789ab")))
	var want []int64
	for i := range 30 {
		e := AuditEntry{Actor: "system", Action: "record.create", Target: fmt.Sprint("r", i)}
		if i%3 == 0 {
			e.Actor, e.Action, e.Target = "carol", "user.update", "u1"
		}
		var err error
		if i%2 == 0 {
			e, _, err = a.append(ctx, e, &auditExtra{})
		} else {
			e, err = a.Append(ctx, e) // the field layout: its plain fields are what is hashed
		}
		if err != nil {
			t.Fatal(err)
		}
		if e.Actor == "carol" {
			want = append([]int64{e.Seq}, want...)
		}
	}
	// The outbox entries as written before: the encoding and the hash as text, no plain copies.
	coll := st.Database().Collection(auditCollection)
	for seq := int64(1); seq <= 30; seq += 2 {
		var s auditStored
		if err := st.Get(ctx, auditCollection, auditID(seq), &s); err != nil || s.E == "" {
			t.Fatalf("entry %d: %+v, %v", seq, s, err)
		}
		old := bson.D{{Key: "_id", Value: auditID(seq)}, {Key: "e", Value: s.E}, {Key: "h", Value: s.H}}
		if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: auditID(seq)}}, old); err != nil {
			t.Fatal(err)
		}
	}
	if rep := auditTestVerify(t, a); !rep.OK {
		t.Fatalf("entries without copies verify: %+v", rep)
	}
	fresh := NewAudit(st, WithAuditKey([]byte("audit-list-test-key-0123456789ab"))) // a process after the upgrade
	for _, q := range []AuditQuery{{Actor: "carol"}, {Action: "user.*"}, {Action: "user.update"}, {Target: "u1"}} {
		got, err := fresh.List(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		var seqs []int64
		for _, e := range got {
			seqs = append(seqs, e.Seq)
		}
		if !slices.Equal(seqs, want) {
			t.Fatalf("%+v: %v, want %v", q, seqs, want)
		}
	}
	left, err := st.QueryCount(ctx, auditCollection, store.Eq(auditActionField, nil), 0)
	if err != nil || left.N != 0 {
		t.Fatalf("%d entries still without copies (%v)", left.N, err)
	}
	if rep := auditTestVerify(t, fresh); !rep.OK || rep.Entries != 30 {
		t.Fatalf("verify after the copies: %+v", rep)
	}
}

// TestAuditOutboxEntryStoredDeflated: an outbox entry is stored as its plain copies and one
// deflated field holding its hash and encoding, smaller than the two as text; it reads back as
// appended and verifies, and a changed byte of that field is reported by Verify.
func TestAuditOutboxEntryStoredDeflated(t *testing.T) {
	st, ctx := storetest.New(t), context.Background()
	a := NewAudit(st, WithAuditKey([]byte("audit-list-test-key-0123456789ab")))
	var es []AuditEntry
	for i := range 3 {
		after := map[string]any{"lot": fmt.Sprint("RM26120600", i), "material": "面粉 T65", "qty": int64(i)}
		x := &auditExtra{write: &AuditWrite{Coll: "rec.plant.receipt", ID: fmt.Sprint("01a24a635c1502ffc6c2c4e", i), Rev: 1},
			event: &auditEvent{Type: "record.created", App: "plant", Data: map[string]any{"form": "receipt", "rev": int64(1)}}}
		e, enc, err := a.append(ctx, AuditEntry{Actor: "alice", Action: "record.create", Kind: "record",
			Target: fmt.Sprint("plant/receipt/01a24a635c1502ffc6c2c4e", i), After: after}, x)
		if err != nil {
			t.Fatal(err)
		}
		a.closeEntry(e.Seq)
		var raw bson.Raw
		if err := st.Get(ctx, auditCollection, auditID(e.Seq), &raw); err != nil {
			t.Fatal(err)
		}
		_, z, ok := raw.Lookup("z").BinaryOK()
		if !ok || raw.Lookup("e").Type != 0 || raw.Lookup("h").Type != 0 {
			t.Fatalf("entry %d is not stored deflated: %s", e.Seq, raw)
		}
		if stored, text := (len(z)+2)/3*4, len(enc)+len(e.Hash)+strings.Count(enc, `"`); stored >= text*3/4 {
			t.Fatalf("entry %d: %d bytes deflated (as base64), %d as text", e.Seq, stored, text)
		}
		es = append(es, e)
	}
	got, err := a.List(ctx, AuditQuery{Actor: "alice"})
	if err != nil || len(got) != 3 || !reflect.DeepEqual(got[2], es[0]) {
		t.Fatalf("listed %+v (%v), want %+v first", got, err, es[0])
	}
	if rep := auditTestVerify(t, a); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
	var raw bson.Raw
	if err := st.Get(ctx, auditCollection, auditID(es[1].Seq), &raw); err != nil {
		t.Fatal(err)
	}
	_, data, _ := raw.Lookup("z").BinaryOK()
	z := slices.Clone(data)
	z[len(z)/2] ^= 0x10
	if _, err := st.Database().Collection(auditCollection).UpdateOne(ctx, bson.D{{Key: "_id", Value: auditID(es[1].Seq)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "z", Value: bson.Binary{Data: z}}}}}); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != es[1].Seq {
		t.Fatalf("verify after changing the deflated entry %d: %+v", es[1].Seq, rep)
	}
}
