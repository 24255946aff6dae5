package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"sort"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store/storetest"
)

func auditTestAppend(t *testing.T, a *Audit, n int) []AuditEntry {
	t.Helper()
	out := make([]AuditEntry, 0, n)
	for i := range n {
		e, err := a.Append(context.Background(), AuditEntry{
			Actor: "alice", Action: "record.create", Kind: "record", Target: fmt.Sprint("r", i),
			After: map[string]any{"n": i},
		})
		if err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
		out = append(out, e)
	}
	return out
}

func auditTestVerify(t *testing.T, a *Audit) AuditReport {
	t.Helper()
	rep, err := a.Verify(context.Background())
	if err != nil {
		t.Fatalf("verify: %v", err)
	}
	return rep
}

// auditTestHash is the hash of e as Append computes it.
func auditTestHash(t *testing.T, e AuditEntry) string {
	t.Helper()
	before, _, err := auditCanonicalText(e.Before)
	if err != nil {
		t.Fatal(err)
	}
	after, _, err := auditCanonicalText(e.After)
	if err != nil {
		t.Fatal(err)
	}
	return auditHash(e, before, after)
}

func TestAuditAppendConcurrent(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	const writers, total = 8, 50
	var mu sync.Mutex
	var seqs []int64
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += writers {
				e, err := a.Append(ctx, AuditEntry{Actor: fmt.Sprint("w", w), Action: "test.append", Target: fmt.Sprint(i)})
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				mu.Lock()
				seqs = append(seqs, e.Seq)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	sort.Slice(seqs, func(i, j int) bool { return seqs[i] < seqs[j] })
	if len(seqs) != total {
		t.Fatalf("%d entries, want %d", len(seqs), total)
	}
	for i, s := range seqs {
		if s != int64(i+1) {
			t.Fatalf("seqs %v: want 1..%d, each once", seqs, total)
		}
	}
	if rep := auditTestVerify(t, a); !rep.OK || rep.Entries != total {
		t.Fatalf("verify: %+v", rep)
	}
}

func TestAuditAppendFromTwoNodes(t *testing.T) {
	// Two Audit values on one store race as two nodes would: each claims seqs by unique insert
	// and follows the other's entries when it loses.
	s, ctx := storetest.New(t), context.Background()
	nodes := []*Audit{NewAudit(s), NewAudit(s)}
	const total = 40
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < total; i += 8 {
				if _, err := nodes[w%2].Append(ctx, AuditEntry{Actor: "n", Action: "test.append"}); err != nil {
					t.Errorf("append: %v", err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if rep := auditTestVerify(t, nodes[0]); !rep.OK || rep.Entries != total {
		t.Fatalf("verify: %+v", rep)
	}
}

func TestAuditChainLinks(t *testing.T) {
	a := NewAudit(storetest.New(t))
	es := auditTestAppend(t, a, 3)
	if es[0].Prev != "" || es[0].Seq != 1 {
		t.Errorf("first entry: seq %d prev %q", es[0].Seq, es[0].Prev)
	}
	for i := 1; i < len(es); i++ {
		if es[i].Prev != es[i-1].Hash || len(es[i].Hash) != 64 {
			t.Errorf("entry %d: prev %q, want %q; hash %q", es[i].Seq, es[i].Prev, es[i-1].Hash, es[i].Hash)
		}
	}
	if es[0].At.IsZero() || es[0].At.Location() != time.UTC {
		t.Errorf("at %v: want a UTC time", es[0].At)
	}
}

func TestAuditVerifyFindsTamperedEntry(t *testing.T) {
	ctx := context.Background()
	// Entry 4's after changed to other JSON, to a document, and to null.
	for _, after := range []any{`{"n":999}`, bson.D{{Key: "n", Value: int64(3)}}, nil} {
		s := storetest.New(t)
		a := NewAudit(s)
		auditTestAppend(t, a, 10)
		if rep := auditTestVerify(t, a); !rep.OK || rep.Entries != 10 {
			t.Fatalf("before tampering: %+v", rep)
		}
		_, err := s.Database().Collection("_audit").UpdateOne(ctx,
			bson.D{{Key: "_id", Value: auditID(4)}},
			bson.D{{Key: "$set", Value: bson.D{{Key: "after", Value: after}}}})
		if err != nil {
			t.Fatal(err)
		}
		rep := auditTestVerify(t, a)
		if rep.OK || rep.FirstBad != 4 || rep.Entries != 10 {
			t.Fatalf("after setting entry 4's after to %v: %+v", after, rep)
		}
		t.Logf("reason: %s", rep.Reason)
	}
}

func TestAuditVerifyFindsRehashedEntry(t *testing.T) {
	// Whoever recomputes the changed entry's own hash still breaks the next entry's link.
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	es := auditTestAppend(t, a, 6)
	e := es[2]
	e.Actor = "mallory"
	h := auditTestHash(t, e)
	_, err := s.Database().Collection("_audit").UpdateOne(ctx, bson.D{{Key: "_id", Value: auditID(3)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "actor", Value: "mallory"}, {Key: "hash", Value: h}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != 4 {
		t.Fatalf("after rehashing entry 3: %+v, want entry 4 reported", rep)
	}
}

func TestAuditVerifyFindsDeletedEntry(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	auditTestAppend(t, a, 10)
	if err := s.Delete(ctx, "_audit", auditID(5)); err != nil {
		t.Fatal(err)
	}
	rep := auditTestVerify(t, a)
	if rep.OK || rep.FirstBad != 5 {
		t.Fatalf("after deleting entry 5: %+v", rep)
	}
	t.Logf("reason: %s", rep.Reason)

	// The first entry too.
	s2 := storetest.New(t)
	a2 := NewAudit(s2)
	auditTestAppend(t, a2, 3)
	if err := s2.Delete(ctx, "_audit", auditID(1)); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a2); rep.OK || rep.FirstBad != 1 {
		t.Fatalf("after deleting entry 1: %+v", rep)
	}
}

func TestAuditVerifyFindsRemovedTailBehindHint(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	auditTestAppend(t, a, auditHintEvery+2) // the hint is written at auditHintEvery
	for seq := int64(auditHintEvery - 1); seq <= auditHintEvery+2; seq++ {
		if err := s.Delete(ctx, "_audit", auditID(seq)); err != nil {
			t.Fatal(err)
		}
	}
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != auditHintEvery-1 {
		t.Fatalf("after cutting the tail: %+v", rep)
	}
}

func TestAuditRestartContinuesChain(t *testing.T) {
	s := storetest.New(t)
	first := NewAudit(s)
	es := auditTestAppend(t, first, 5)

	// A restart: a new Audit on the same store.
	second := NewAudit(s)
	more := auditTestAppend(t, second, 3)
	if more[0].Seq != 6 || more[0].Prev != es[4].Hash {
		t.Fatalf("after restart: seq %d prev %q, want 6 and %q", more[0].Seq, more[0].Prev, es[4].Hash)
	}
	// The first Audit's cached tail is stale now, as another node's would be: its next append
	// collides on seq 6 and moves on.
	e := auditTestAppend(t, first, 1)[0]
	if e.Seq != 9 || e.Prev != more[2].Hash {
		t.Fatalf("stale appender: seq %d prev %q, want 9 and %q", e.Seq, e.Prev, more[2].Hash)
	}
	if rep := auditTestVerify(t, second); !rep.OK || rep.Entries != 9 {
		t.Fatalf("verify: %+v", rep)
	}
}

func TestAuditTailFromHint(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	n := 2*auditHintEvery + 3
	es := auditTestAppend(t, a, n)
	var h auditHint
	if err := s.Get(ctx, "_audit_meta", "tail", &h); err != nil {
		t.Fatal(err)
	}
	if h.Seq != 2*auditHintEvery || h.Hash != es[h.Seq-1].Hash {
		t.Fatalf("hint %+v, want seq %d with its hash", h, 2*auditHintEvery)
	}
	b := NewAudit(s)
	e := auditTestAppend(t, b, 1)[0]
	if e.Seq != int64(n+1) || e.Prev != es[n-1].Hash {
		t.Fatalf("append after restart: seq %d, want %d", e.Seq, n+1)
	}
}

func TestAuditBeforeAfterRoundTrip(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	type line struct {
		SKU string  `json:"sku"`
		Qty float64 `json:"qty"`
	}
	type doc struct {
		Name    string         `json:"name"`
		Secret  string         `json:"-"`
		Count   int64          `json:"count"`
		Big     int64          `json:"big"`
		Ratio   float64        `json:"ratio"`
		When    time.Time      `json:"when"`
		Lines   []line         `json:"lines"`
		Empty   map[string]any `json:"empty"`
		None    []string       `json:"none"`
		EmptyA  []string       `json:"emptyA"`
		Flag    bool           `json:"flag"`
		Chinese string         `json:"中文"`
		Schema  map[string]any `json:"schema"`
	}
	in := doc{
		Name: "批次 <A&B>", Secret: "hunter2", Count: 3, Big: 1<<62 + 1, Ratio: 0.1,
		When:  time.Date(2024, 3, 1, 8, 0, 0, 123456789, time.FixedZone("CST", 8*3600)),
		Lines: []line{{"S1", 2.5}, {"S2", 1e21}}, Empty: map[string]any{}, EmptyA: []string{},
		Flag: true, Chinese: "冷链",
		// FerretDB refuses these as document keys and values; the log must not.
		Schema: map[string]any{"$ref": "#/$defs/lot", "a.b": 1, "rows": [][]int{{1, 2}, {3}}, "neg0": math.Copysign(0, -1)},
	}
	raw, _ := bson.Marshal(bson.D{{Key: "k", Value: "v"}, {Key: "n", Value: int32(7)}})
	e, err := a.Append(ctx, AuditEntry{Actor: "bob", Action: "record.update", Before: bson.Raw(raw), After: in})
	if err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a); !rep.OK {
		t.Fatalf("verify: %+v", rep)
	}
	got, err := a.List(ctx, AuditQuery{})
	if err != nil || len(got) != 1 {
		t.Fatalf("list: %v %v", got, err)
	}
	if !reflect.DeepEqual(got[0].After, e.After) || !reflect.DeepEqual(got[0].Before, e.Before) {
		t.Fatalf("read back:\n%#v\n%#v\nwant:\n%#v\n%#v", got[0].Before, got[0].After, e.Before, e.After)
	}
	want := map[string]any{"k": "v", "n": int64(7)}
	if !reflect.DeepEqual(got[0].Before, want) {
		t.Errorf("before %#v, want %#v", got[0].Before, want)
	}
	after := got[0].After.(map[string]any)
	if _, ok := after["Secret"]; ok {
		t.Error("a json:\"-\" field reached the audit log")
	}
	if after["big"] != int64(1<<62+1) || after["count"] != int64(3) || after["ratio"] != 0.1 {
		t.Errorf("numbers: %v %v %v", after["big"], after["count"], after["ratio"])
	}
	if got[0].Hash != e.Hash || !got[0].At.Equal(e.At) {
		t.Errorf("listed entry differs from appended: %+v vs %+v", got[0], e)
	}
	out, _ := json.Marshal(got[0])
	t.Logf("%s", out)
}

func TestAuditList(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	a := NewAudit(s)
	for i := range 30 {
		actor := "alice"
		if i%3 == 0 {
			actor = "bob"
		}
		action := "user.update"
		if i%2 == 0 {
			action = "login"
		}
		if _, err := a.Append(ctx, AuditEntry{Actor: actor, Action: action, Target: fmt.Sprint("t", i%5)}); err != nil {
			t.Fatal(err)
		}
	}
	seqsOf := func(es []AuditEntry) []int64 {
		out := []int64{}
		for _, e := range es {
			out = append(out, e.Seq)
		}
		return out
	}
	cases := []struct {
		name string
		q    AuditQuery
		want []int64
	}{
		{"newest first", AuditQuery{Limit: 3}, []int64{30, 29, 28}},
		{"page", AuditQuery{Limit: 3, BeforeSeq: 28}, []int64{27, 26, 25}},
		{"actor", AuditQuery{Actor: "bob", Limit: 4}, []int64{28, 25, 22, 19}},
		{"action", AuditQuery{Action: "login", BeforeSeq: 8}, []int64{7, 5, 3, 1}},
		{"action prefix", AuditQuery{Action: "user.*", Limit: 2}, []int64{30, 28}},
		{"target and actor", AuditQuery{Target: "t0", Actor: "alice"}, []int64{26, 21, 11, 6}},
		{"nothing", AuditQuery{Actor: "carol"}, []int64{}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := a.List(ctx, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(seqsOf(got), c.want) {
				t.Fatalf("got %v, want %v", seqsOf(got), c.want)
			}
		})
	}
	// List sees entries another node appended.
	other := NewAudit(s)
	if _, err := other.Append(ctx, AuditEntry{Actor: "x", Action: "y"}); err != nil {
		t.Fatal(err)
	}
	got, err := a.List(ctx, AuditQuery{Limit: 1})
	if err != nil || len(got) != 1 || got[0].Seq != 31 {
		t.Fatalf("after another node's append: %v %v", seqsOf(got), err)
	}
}

func TestAuditHashCoversEveryField(t *testing.T) {
	base := AuditEntry{Seq: 7, At: time.Date(2024, 1, 2, 3, 4, 5, 6e6, time.UTC), Actor: "a", Action: "b",
		Kind: "c", Target: "d", Before: map[string]any{"x": int64(1)}, After: []any{"y"}, IP: "1.2.3.4", Prev: "p"}
	h0 := auditTestHash(t, base)
	changes := map[string]func(*AuditEntry){
		"seq":    func(e *AuditEntry) { e.Seq++ },
		"at":     func(e *AuditEntry) { e.At = e.At.Add(time.Millisecond) },
		"actor":  func(e *AuditEntry) { e.Actor = "z" },
		"action": func(e *AuditEntry) { e.Action = "z" },
		"kind":   func(e *AuditEntry) { e.Kind = "z" },
		"target": func(e *AuditEntry) { e.Target = "z" },
		"before": func(e *AuditEntry) { e.Before = map[string]any{"x": int64(2)} },
		"after":  func(e *AuditEntry) { e.After = nil },
		"ip":     func(e *AuditEntry) { e.IP = "z" },
		"prev":   func(e *AuditEntry) { e.Prev = "z" },
		// Field boundaries are unambiguous: moving a character between fields changes the hash.
		"shift": func(e *AuditEntry) { e.Actor, e.Action = "ab", "" },
	}
	for name, change := range changes {
		e := base
		change(&e)
		if auditTestHash(t, e) == h0 {
			t.Errorf("changing %s keeps the hash", name)
		}
	}
	// Map order does not matter.
	e := base
	e.Before = map[string]any{"b": int64(1), "a": "x"}
	h1 := auditTestHash(t, e)
	e.Before = map[string]any{"a": "x", "b": int64(1)}
	if h2 := auditTestHash(t, e); h1 != h2 {
		t.Error("hash depends on map order")
	}
}
