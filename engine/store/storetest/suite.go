package storetest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"tracecraft/engine/store"
)

// Run runs the store suite against one backend.
func Run(t *testing.T, b Backend) {
	t.Run("PutIsUniqueUnderRace", func(t *testing.T) { testPutUnique(t, b) })
	t.Run("GetSetDelete", func(t *testing.T) { testGetSetDelete(t, b) })
	t.Run("RevisionedUpdate32Writers", func(t *testing.T) { testRevisionedRace(t, b) })
	t.Run("RevisionedLifecycle", func(t *testing.T) { testRevisionedLifecycle(t, b) })
	t.Run("RevisionRollForward", func(t *testing.T) { testRollForward(t, b) })
	t.Run("Sequence8x2000", func(t *testing.T) { testSequenceRace(t, b) })
	t.Run("SequencesSideBySide", func(t *testing.T) { testSequencesSideBySide(t, b) })
	t.Run("SequenceAcrossRestart", func(t *testing.T) { testSequenceRestart(t, b) })
	t.Run("FindShapes", func(t *testing.T) { testFindShapes(t, b) })
	if b.Peer != nil {
		t.Run("SequenceAcrossNodes", func(t *testing.T) { testSequenceNodes(t, b) })
	}
}

type item struct {
	ID   string   `bson:"_id"`
	Rev  int64    `bson:"_rev,omitempty"`
	Name string   `bson:"name"`
	Qty  float64  `bson:"qty"`
	Tags []string `bson:"tags,omitempty"`
}

func testPutUnique(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	const n = 16
	var wins, dups int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := s.Put(ctx, "keys", "LOT-1", item{Name: fmt.Sprint("writer ", i)})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				wins++
			case errors.Is(err, store.ErrDuplicate):
				dups++
			default:
				t.Errorf("put: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || dups != n-1 {
		t.Fatalf("wins=%d duplicates=%d, want 1 and %d", wins, dups, n-1)
	}
}

func testGetSetDelete(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	var got item
	if err := s.Get(ctx, "things", "x", &got); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("get missing: %v, want ErrNotFound", err)
	}
	if err := s.Set(ctx, "things", "x", item{Name: "a", Qty: 1}); err != nil {
		t.Fatal(err)
	}
	if err := s.Set(ctx, "things", "x", item{Name: "b", Qty: 2}); err != nil {
		t.Fatal(err)
	}
	if err := s.Get(ctx, "things", "x", &got); err != nil || got.Name != "b" || got.Qty != 2 || got.ID != "x" {
		t.Fatalf("get after set: %+v, %v", got, err)
	}
	if err := s.Delete(ctx, "things", "x"); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(ctx, "things", "x"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("second delete: %v, want ErrNotFound", err)
	}
}

func testRevisionedRace(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	if err := s.Create(ctx, "docs", "d1", item{Name: "start"}); err != nil {
		t.Fatal(err)
	}
	const n = 32
	var mu sync.Mutex
	var winners []string
	conflicts := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			name := fmt.Sprint("writer-", i)
			rev, err := s.Update(ctx, "docs", "d1", 1, item{Name: name})
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				if rev != 2 {
					t.Errorf("winner got revision %d, want 2", rev)
				}
				winners = append(winners, name)
			case errors.Is(err, store.ErrConflict):
				conflicts++
			default:
				t.Errorf("update: %v", err)
			}
		}()
	}
	close(start)
	wg.Wait()
	if len(winners) != 1 || conflicts != n-1 {
		t.Fatalf("winners=%v conflicts=%d, want exactly 1 winner and %d conflicts", winners, conflicts, n-1)
	}
	var got item
	if err := s.Get(ctx, "docs", "d1", &got); err != nil {
		t.Fatal(err)
	}
	if got.Rev != 2 || got.Name != winners[0] {
		t.Fatalf("stored %+v, want revision 2 by %s", got, winners[0])
	}
	revs, err := s.Revisions(ctx, "docs", "d1")
	if err != nil || len(revs) != 2 {
		t.Fatalf("revisions: %d, %v; want 2", len(revs), err)
	}
}

func testRevisionedLifecycle(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	if _, err := s.Update(ctx, "docs", "nope", 1, item{}); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("update missing: %v, want ErrNotFound", err)
	}
	if err := s.Create(ctx, "docs", "a", item{Name: "v1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Create(ctx, "docs", "a", item{Name: "again"}); !errors.Is(err, store.ErrDuplicate) {
		t.Fatalf("second create: %v, want ErrDuplicate", err)
	}
	for i, want := range []int64{2, 3, 4} {
		rev, err := s.Update(ctx, "docs", "a", want-1, item{Name: fmt.Sprint("v", i+2)})
		if err != nil || rev != want {
			t.Fatalf("update to %d: rev %d, %v", want, rev, err)
		}
	}
	if _, err := s.Update(ctx, "docs", "a", 2, item{Name: "stale"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("stale update: %v, want ErrConflict", err)
	}
	if _, err := s.Update(ctx, "docs", "a", 9, item{Name: "ahead"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update from a revision that never existed: %v, want ErrConflict", err)
	}
	revs, err := s.Revisions(ctx, "docs", "a")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range revs {
		var it item
		if err := bson.Unmarshal(r.Doc, &it); err != nil {
			t.Fatal(err)
		}
		if it.Rev != r.Rev {
			t.Errorf("revision %d holds a document at revision %d", r.Rev, it.Rev)
		}
		names = append(names, it.Name)
	}
	if fmt.Sprint(names) != "[v1 v2 v3 v4]" {
		t.Fatalf("history %v, want [v1 v2 v3 v4]", names)
	}
}

// testRollForward leaves a claimed revision that was never applied, as a writer killed between
// its two writes does, and checks the next writer repairs the document.
func testRollForward(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	if err := s.Create(ctx, "docs", "r", item{Name: "v1"}); err != nil {
		t.Fatal(err)
	}
	orphan := bson.D{{Key: "_id", Value: "r@000000000002"}, {Key: "rev", Value: int64(2)},
		{Key: "doc", Value: bson.D{{Key: "_id", Value: "r"}, {Key: "name", Value: "v2 (claimed, unapplied)"}, {Key: "_rev", Value: int64(2)}}}}
	if err := s.Put(ctx, store.RevisionsCollection("docs"), "r@000000000002", orphan); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(ctx, "docs", "r", 1, item{Name: "late"}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("update over an orphan claim: %v, want ErrConflict", err)
	}
	var got item
	if err := s.Get(ctx, "docs", "r", &got); err != nil {
		t.Fatal(err)
	}
	if got.Rev != 2 || got.Name != "v2 (claimed, unapplied)" {
		t.Fatalf("after roll-forward: %+v", got)
	}
	if rev, err := s.Update(ctx, "docs", "r", 2, item{Name: "v3"}); err != nil || rev != 3 {
		t.Fatalf("update after roll-forward: %d, %v", rev, err)
	}
}

// takeNumbers has each of g goroutines take want numbers of seq in blocks of varying size.
func takeNumbers(t *testing.T, stores []*store.Store, seq string, g, want int) []int64 {
	t.Helper()
	ctx := context.Background()
	var mu sync.Mutex
	var all []int64
	var wg sync.WaitGroup
	for i := range g {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := stores[i%len(stores)]
			var mine []int64
			for k := 0; len(mine) < want; k++ {
				n := int64(1 + (i*7+k*13)%25)
				n = min(n, int64(want-len(mine)))
				first, err := s.Next(ctx, seq, n)
				if err != nil {
					t.Errorf("next: %v", err)
					return
				}
				for j := range n {
					mine = append(mine, first+j)
				}
			}
			mu.Lock()
			all = append(all, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all
}

// checkExactly checks nums are exactly 1..n, each once.
func checkExactly(t *testing.T, nums []int64, n int) {
	t.Helper()
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	if len(nums) != n {
		t.Fatalf("got %d numbers, want %d", len(nums), n)
	}
	for i, v := range nums {
		if v != int64(i+1) {
			t.Fatalf("number at position %d is %d: duplicate or gap", i+1, v)
		}
	}
}

func testSequenceRace(t *testing.T, b Backend) {
	s := b.Open(t)
	checkExactly(t, takeNumbers(t, []*store.Store{s}, "lot", 8, 2000), 16000)
}

// testSequencesSideBySide draws from many sequences at once (auto-numbers of several forms and
// the bus's event numbers do this all the time): each must stay exact, and the shared state of
// the store must survive the race detector.
func testSequencesSideBySide(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	const seqs, each = 8, 50
	got := make([][]int64, seqs)
	var wg sync.WaitGroup
	for g := range seqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				n, err := s.Next(ctx, fmt.Sprint("side-", g), 1)
				if err != nil {
					t.Errorf("next: %v", err)
					return
				}
				got[g] = append(got[g], n)
			}
		}()
	}
	wg.Wait()
	for g := range seqs {
		checkExactly(t, got[g], each)
	}
}

func testSequenceRestart(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	var all []int64
	for range 40 {
		first, err := s.Next(ctx, "serial/240101", 3)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, first, first+1, first+2)
	}
	s = b.Reopen(t, s)
	for range 10 {
		first, err := s.Next(ctx, "serial/240101", 1)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, first)
	}
	checkExactly(t, all, 130)
	if first, err := s.Next(ctx, "serial/240102", 1); err != nil || first != 1 {
		t.Fatalf("a new sequence starts at %d (%v), want 1", first, err)
	}
}

func testSequenceNodes(t *testing.T, b Backend) {
	s := b.Open(t)
	peer := b.Peer(t, s)
	checkExactly(t, takeNumbers(t, []*store.Store{s, peer}, "lot", 8, 500), 4000)
}

// testFindShapes covers the query shapes the engines send, with expected results computed here.
func testFindShapes(t *testing.T, b Backend) {
	s, ctx := b.Open(t), context.Background()
	want := map[string]item{}
	for i := range 30 {
		it := item{ID: fmt.Sprintf("i%02d", i), Name: fmt.Sprint("name ", i%3), Qty: float64(i)}
		if i%2 == 0 {
			it.Tags = []string{"even"}
		}
		want[it.ID] = it
		if err := s.Put(ctx, "items", it.ID, it); err != nil {
			t.Fatal(err)
		}
	}
	count := func(pred func(item) bool) int64 {
		var n int64
		for _, it := range want {
			if pred(it) {
				n++
			}
		}
		return n
	}
	cases := []struct {
		name   string
		filter bson.D
		pred   func(item) bool
	}{
		{"eq", bson.D{{Key: "name", Value: "name 1"}}, func(it item) bool { return it.Name == "name 1" }},
		{"range", bson.D{{Key: "qty", Value: bson.D{{Key: "$gte", Value: 5}, {Key: "$lt", Value: 12}}}}, func(it item) bool { return it.Qty >= 5 && it.Qty < 12 }},
		{"in", bson.D{{Key: "name", Value: bson.D{{Key: "$in", Value: bson.A{"name 0", "name 2"}}}}}, func(it item) bool { return it.Name != "name 1" }},
		{"array contains", bson.D{{Key: "tags", Value: "even"}}, func(it item) bool { return len(it.Tags) > 0 }},
		{"exists false", bson.D{{Key: "tags", Value: bson.D{{Key: "$exists", Value: false}}}}, func(it item) bool { return len(it.Tags) == 0 }},
		{"or", bson.D{{Key: "$or", Value: bson.A{bson.D{{Key: "qty", Value: 1}}, bson.D{{Key: "qty", Value: 29}}}}}, func(it item) bool { return it.Qty == 1 || it.Qty == 29 }},
		{"regex", bson.D{{Key: "name", Value: bson.D{{Key: "$regex", Value: "^name [12]$"}}}}, func(it item) bool { return it.Name != "name 0" }},
	}
	for _, c := range cases {
		n, err := s.Count(ctx, "items", c.filter)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if w := count(c.pred); n != w {
			t.Errorf("%s: count %d, want %d", c.name, n, w)
		}
	}
	var got []string
	err := s.Find(ctx, "items", bson.D{{Key: "qty", Value: bson.D{{Key: "$gt", Value: 20}}}},
		options.Find().SetSort(bson.D{{Key: "qty", Value: -1}}).SetLimit(3), func(r bson.Raw) error {
			var it item
			if err := bson.Unmarshal(r, &it); err != nil {
				return err
			}
			got = append(got, it.ID)
			return nil
		})
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != "[i29 i28 i27]" {
		t.Fatalf("sorted, limited find: %v", got)
	}
}
