package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// benchFairness measures reads by _id on a 10,000-document collection alone, then while four
// clients list it (each list a page filtered by a substring — a read of every document — and
// its capped count, as a record list asks), and reports the loaded rate as a ratio of the
// unloaded one (target ≥ 0.5: a heavy query must not starve the rest).
func benchFairness(ctx context.Context, st *store.Store, n int, report func(string, float64, float64)) error {
	const docs, clients = 10_000, 4
	coll, err := st.Collection(ctx, "bench_fair")
	if err != nil {
		return err
	}
	batch := make([]any, 0, 1000)
	for i := range docs {
		batch = append(batch, bson.D{{Key: "_id", Value: fmt.Sprintf("F%06d", i)}, {Key: "created_at", Value: time.Now()},
			{Key: "data", Value: bson.D{{Key: "lot", Value: fmt.Sprintf("LOT-%05d", i)}, {Key: "qty", Value: float64(i % 1000)}, {Key: "note", Value: "received in good order"}}}})
		if len(batch) == cap(batch) {
			if _, err := coll.InsertMany(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if err := st.EnsureIndexes(ctx, "bench_fair", []store.IndexSpec{{Keys: []store.IndexKey{{Path: "created_at"}}}}); err != nil {
		return err
	}
	gets := func() (float64, error) {
		start := time.Now()
		for i := range n {
			var out bson.M
			if err := st.Get(ctx, "bench_fair", fmt.Sprintf("F%06d", (i*7919)%docs), &out); err != nil {
				return 0, err
			}
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	alone, err := gets()
	if err != nil {
		return err
	}
	lctx, stop := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var listErr error
	q := store.Query{Where: store.Contains("data.lot", "LOT-0499"), Sort: []store.SortKey{{Path: "created_at", Desc: true}}, Limit: 50}
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for lctx.Err() == nil {
				_, err := st.Query(lctx, "bench_fair", q)
				if err == nil {
					_, err = st.QueryCount(lctx, "bench_fair", q.Where, 10_000)
				}
				if err != nil && lctx.Err() == nil {
					mu.Lock()
					listErr = err
					mu.Unlock()
					return
				}
			}
		}()
	}
	loaded, err := gets()
	stop()
	wg.Wait()
	if err != nil {
		return err
	}
	if listErr != nil {
		return listErr
	}
	report(fmt.Sprintf("Get by _id while %d clients list %d docs (vs alone)", clients, docs), loaded, alone)
	return nil
}
