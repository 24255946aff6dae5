package store_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// TestQueryViaWire: Options.QueryViaWire sends the embedded store's Query, QueryCount and
// Aggregate through FerretDB (the find, count and aggregate commands a MongoDB would get), with
// the answers of the SQL path on the same documents; a grouping FerretDB cannot compute right
// is refused, not answered wrong.
func TestQueryViaWire(t *testing.T) {
	ctx := context.Background()
	var mu sync.Mutex
	var commands []string
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		mu.Lock()
		defer mu.Unlock()
		commands = append(commands, e.CommandName)
	}}
	sqlStore := storetest.New(t)
	wire, err := store.Open(ctx, store.Options{DataDir: storetest.TempDir(t), Logger: storetest.Quiet, QueryViaWire: true, Monitor: monitor})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = wire.Close(ctx) })
	for _, st := range []*store.Store{sqlStore, wire} {
		mc, err := st.Collection(ctx, "lots")
		if err != nil {
			t.Fatal(err)
		}
		var docs []any
		for i := range 40 {
			d := bson.D{{Key: "_id", Value: fmt.Sprintf("l%02d", i)}, {Key: "site", Value: []string{"A", "B", "C"}[i%3]}}
			if i%5 != 0 {
				d = append(d, bson.E{Key: "qty", Value: float64((i * 7) % 20)})
			}
			docs = append(docs, d)
		}
		if _, err := mc.InsertMany(ctx, docs); err != nil {
			t.Fatal(err)
		}
	}
	q := store.Query{Where: store.Or(store.Gte("qty", 5), store.Eq("site", "A")), Sort: []store.SortKey{{Path: "qty", Desc: true}}, Limit: 6}
	ids := func(st *store.Store) (out []string, counts []int64) {
		q := q
		for {
			page, err := st.Query(ctx, "lots", q)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range page.Docs {
				out = append(out, d.Lookup("_id").StringValue())
			}
			n, err := st.QueryCount(ctx, "lots", q.Where, 0)
			if err != nil {
				t.Fatal(err)
			}
			counts = append(counts, n.N)
			if page.Next == "" {
				return out, counts
			}
			q.After = page.Next
		}
	}
	mu.Lock()
	commands = nil
	mu.Unlock()
	wantIDs, wantCounts := ids(sqlStore)
	gotIDs, gotCounts := ids(wire)
	if !reflect.DeepEqual(gotIDs, wantIDs) || !reflect.DeepEqual(gotCounts, wantCounts) || len(wantIDs) == 0 {
		t.Fatalf("via the wire %v %v, SQL %v %v", gotIDs, gotCounts, wantIDs, wantCounts)
	}
	mu.Lock()
	sent := append([]string{}, commands...)
	mu.Unlock()
	if !slicesHave(sent, "find") || !slicesHave(sent, "count") && !slicesHave(sent, "aggregate") {
		t.Fatalf("the wire store sent %v: its queries did not go through FerretDB", sent)
	}

	agg := store.Aggregation{GroupBy: []store.GroupKey{{Name: "site", Path: "site"}}, Measures: []store.Measure{{Name: "qty", Op: store.AggSum, Path: "qty"}}}
	want, err := sqlStore.Aggregate(ctx, "lots", agg)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.Aggregate(ctx, "lots", agg)
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("aggregate via the wire %+v %v, SQL %+v", got, err, want)
	}
	agg.Measures = append(agg.Measures, store.Measure{Name: "n", Op: store.AggCount})
	if _, err := wire.Aggregate(ctx, "lots", agg); !errors.Is(err, store.ErrInvalidQuery) {
		t.Fatalf("two measures via the wire: %v, want ErrInvalidQuery", err)
	}
}

func slicesHave(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
