package store

import (
	"database/sql/driver"
	"errors"

	"context"
	"fmt"
	sqlite "modernc.org/sqlite"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkFairness: reads by _id while four clients list a 10,000-document collection. A list
// is what a record list asks: a page filtered by a substring (a read of every document) and its
// count, capped. The ratio reported by get/4-lists is its rate over get/unloaded's, measured in
// the same run (target ≥ 0.5: heavy reads must not starve point reads):
//
//	go test -run '^$' -bench Fairness -benchtime 2000x ./engine/store/
func BenchmarkFairness(b *testing.B) {
	const n = 10_000
	s, ctx := openTestStore(b), context.Background()
	fillRecords(b, s, "fair", n)
	if err := s.EnsureIndexes(ctx, "fair", []IndexSpec{{Keys: []IndexKey{{Path: "created_at", Desc: true}}}}); err != nil {
		b.Fatal(err)
	}
	get := func(i int) {
		var out bson.M
		if err := s.Get(ctx, "fair", fmt.Sprintf("R%07d", (i*7919)%n), &out); err != nil {
			b.Fatal(err)
		}
	}
	var unloaded float64
	b.Run("get/unloaded", func(b *testing.B) {
		i := 0
		for b.Loop() {
			get(i)
			i++
		}
		unloaded = float64(b.Elapsed()) / float64(b.N)
	})
	b.Run("get/4-lists", func(b *testing.B) {
		stop, lists := startLists(s, "fair", 4)
		i := 0
		for b.Loop() {
			get(i)
			i++
		}
		loaded := float64(b.Elapsed()) / float64(b.N)
		done := stop()
		b.ReportMetric(unloaded/loaded, "ratio")
		b.ReportMetric(float64(done)/b.Elapsed().Seconds(), "lists/s")
		if err := lists(); err != nil {
			b.Fatal(err)
		}
	})
}

// startLists runs clients loops of a heavy list (a scanned page and its capped count) until
// stop, which returns how many lists completed; errs reports the first error other than the
// cancellation.
func startLists(s *Store, coll string, clients int) (stop func() int, errs func() error) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	count := 0
	q := Query{Where: Contains("data.lot", "LOT-0499"), Sort: []SortKey{{Path: "created_at", Desc: true}}, Limit: 50}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				_, err := s.Query(ctx, coll, q)
				if err == nil {
					_, err = s.QueryCount(ctx, coll, q.Where, 10_000)
				}
				mu.Lock()
				if err != nil && ctx.Err() == nil && first == nil {
					first = err
				}
				if err == nil {
					count++
				}
				mu.Unlock()
			}
		}()
	}
	// Let every client get its first statement going before the measurement starts.
	time.Sleep(50 * time.Millisecond)
	return func() int {
			cancel()
			wg.Wait()
			return count
		}, func() error {
			mu.Lock()
			defer mu.Unlock()
			return first
		}
}

// signalled is closed by the SQL function tc_test_started the first time a statement calls it:
// the statement is then running.
var (
	signalled  = make(chan struct{})
	signalOnce sync.Once
)

func init() {
	sqlite.MustRegisterScalarFunction("tc_test_started", 0, func(*sqlite.FunctionContext, []driver.Value) (driver.Value, error) {
		signalOnce.Do(func() { close(signalled) })
		return int64(1), nil
	})
}

// TestQueryCancelStopsStatement: a statement that would never end stops when its context is
// cancelled while it runs, and the read returns the context's error (the read pool's
// connection and the heavy slot are free again: the next count answers).
func TestQueryCancelStopsStatement(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 10)
	db, _, ok, err := s.emb.table(ctx, "recs")
	if err != nil || !ok {
		t.Fatalf("table: %v %v", ok, err)
	}
	endless := &sqlQuery{}
	endless.w(`WITH RECURSIVE c(x) AS (SELECT tc_test_started() UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c`)
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		var n int64
		errc <- s.emb.gate.row(cctx, db, endless, true, &n)
	}()
	<-signalled
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled statement: %v, want context.Canceled", err)
	}
	for range heavySlots + 1 {
		if n, err := s.QueryCount(ctx, "recs", Eq("status", "open"), 0); err != nil || n.N != 3 {
			t.Fatalf("count after the cancel: %v %v", n, err)
		}
	}
}

// TestQueryHeavyReadsQueue: with every heavy slot taken, reads from an index (by _id, by an
// indexed equality in index order) still answer, a count that scans waits its turn, and a
// count whose context ends while it waits returns the context's error.
func TestQueryHeavyReadsQueue(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 200)
	defer func(n int64) { lightRows = n }(lightRows)
	lightRows = 100 // 200 rows: not a small table
	if err := s.EnsureIndexes(ctx, "recs", []IndexSpec{{Keys: []IndexKey{{Path: "status"}, {Path: "created_at", Desc: true}}}}); err != nil {
		t.Fatal(err)
	}
	var held []func()
	for range heavySlots {
		release, err := s.emb.gate.enter(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, release)
	}
	page, err := s.Query(ctx, "recs", Query{Where: Eq("_id", "R0000007")})
	if err != nil || len(page.Docs) != 1 {
		t.Fatalf("read by _id behind heavy reads: %v %v", page, err)
	}
	page, err = s.Query(ctx, "recs", Query{Where: Eq("status", "open"), Sort: []SortKey{{Path: "created_at", Desc: true}}, Limit: 10})
	if err != nil || len(page.Docs) != 10 {
		t.Fatalf("indexed page behind heavy reads: %v %v", page, err)
	}
	// A scan is heavy: it must wait, so a context that is already over gets its error.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Query(cctx, "recs", Query{Where: Contains("data.lot", "LOT-001")}); !errors.Is(err, context.Canceled) {
		t.Fatalf("scan with a cancelled context: %v", err)
	}
	wctx, stop := context.WithCancel(ctx)
	waited := make(chan error, 1)
	go func() {
		_, err := s.QueryCount(wctx, "recs", Contains("data.lot", "LOT-001"), 0)
		waited <- err
	}()
	queued := make(chan Count, 1)
	go func() {
		n, err := s.QueryCount(ctx, "recs", Contains("data.lot", "LOT-0001"), 0)
		if err != nil {
			t.Error(err)
		}
		queued <- n
	}()
	stop()
	if err := <-waited; !errors.Is(err, context.Canceled) {
		t.Fatalf("count cancelled while queued: %v", err)
	}
	select {
	case n := <-queued:
		t.Fatalf("count ran while every heavy slot was taken: %v", n)
	default:
	}
	for _, release := range held {
		release()
	}
	if n := <-queued; n.N != 10 {
		t.Fatalf("queued count: %v", n)
	}
}

// TestHeavyPlan: which plans are heavy.
func TestHeavyPlan(t *testing.T) {
	for plan, heavy := range map[string]bool{
		"SEARCH t USING INDEX t_tcq_1 (<expr>=? AND <expr>=?)\n":                  false,
		"SEARCH t USING INDEX t_tc_id (<expr>=?)\nUSE TEMP B-TREE FOR ORDER BY\n": false,
		"SCAN t\n":                     true,
		"SCAN t USING INDEX t_tcq_2\n": true,
		"SEARCH t USING INDEX t_tcq_1 (<expr>=?)\nUSE TEMP B-TREE FOR ORDER BY\n":                                true,
		"SEARCH t USING INDEX t_tcq_1 (<expr>=?)\nCORRELATED SCALAR SUBQUERY 1\nSCAN e VIRTUAL TABLE INDEX 1:\n": false,
	} {
		if got := heavyPlan(plan); got != heavy {
			t.Errorf("heavyPlan(%q) = %v, want %v", plan, got, heavy)
		}
	}
}
