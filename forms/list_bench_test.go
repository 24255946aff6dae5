package forms_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// BenchmarkListPage (issue 8) lists a filtered, sorted page — qty ≥ 90 (one record in ten),
// largest qty first, 50 a page, with its capped total — of a 10,000-record form through the
// form engine, against the same query and count asked of the store directly (st.Query and
// st.QueryCount), on the indexes publishing declared. engine/store in "ratio" is the time of
// an engine list divided by that of the direct query, measured interleaved. engine-unindexed
// is a page whose filter (contains) no index serves, for the cost of reading every record;
// engine-unfiltered the first page of the whole form, whose count runs to forms.CountCap.
func BenchmarkListPage(b *testing.B) {
	const n = 10_000
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	fs, st := benchEngine(b, benchLotsDef)
	seedLotsRaw(b, st, n)
	query := forms.ListQuery{Filters: []forms.Filter{{Field: "qty", Op: "gte", Value: 90.0}},
		Sort: &forms.SortKey{Field: "qty", Desc: true}, Limit: 50}
	coll := forms.RecordsCollection(benchApp, "lots")
	where := store.And(store.Eq("deleted", nil), store.Gte("data.qty", 90.0))
	direct := store.Query{Where: where, Sort: []store.SortKey{{Path: "data.qty", Desc: true}}, Limit: 50}

	listEngine := func(b *testing.B) {
		res, err := fs.List(ctx, sys, benchApp, "lots", query)
		if err != nil {
			b.Fatal(err)
		}
		if len(res.Items) != 50 || res.Total != n/10 {
			b.Fatalf("engine listed %d of %d, want 50 of %d", len(res.Items), res.Total, n/10)
		}
	}
	queryStore := func(b *testing.B) {
		page, err := st.Query(ctx, coll, direct)
		if err != nil {
			b.Fatal(err)
		}
		c, err := st.QueryCount(ctx, coll, where, forms.CountCap)
		if err != nil {
			b.Fatal(err)
		}
		if len(page.Docs) != 50 || c.N != n/10 {
			b.Fatalf("store found %d of %d, want 50 of %d", len(page.Docs), c.N, n/10)
		}
	}
	b.Run("engine", func(b *testing.B) {
		for b.Loop() {
			listEngine(b)
		}
	})
	b.Run("store", func(b *testing.B) {
		for b.Loop() {
			queryStore(b)
		}
	})
	// A filter no index serves (contains): every record is read, in SQL.
	unindexed := forms.ListQuery{Filters: []forms.Filter{{Field: "name", Op: "contains", Value: "lot-00"}},
		Sort: &forms.SortKey{Field: "qty", Desc: true}, Limit: 50}
	b.Run("engine-unindexed", func(b *testing.B) {
		for b.Loop() {
			res, err := fs.List(ctx, sys, benchApp, "lots", unindexed)
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Items) != 50 || res.Total != 1000 {
				b.Fatalf("engine listed %d of %d, want 50 of 100", len(res.Items), res.Total)
			}
		}
	})
	// No filter, the default order (newest first): the count runs to the cap.
	b.Run("engine-unfiltered", func(b *testing.B) {
		for b.Loop() {
			res, err := fs.List(ctx, sys, benchApp, "lots", forms.ListQuery{Limit: 50})
			if err != nil {
				b.Fatal(err)
			}
			if len(res.Items) != 50 || res.Total != n || !res.TotalEstimated {
				b.Fatalf("engine listed %d of %d, want 50 of %d (capped)", len(res.Items), res.Total, n)
			}
		}
	})
	b.Run("ratio", func(b *testing.B) {
		var inEngine, inStore time.Duration
		for b.Loop() {
			t0 := time.Now()
			listEngine(b)
			t1 := time.Now()
			queryStore(b)
			inEngine += t1.Sub(t0)
			inStore += time.Since(t1)
		}
		b.ReportMetric(float64(inEngine.Microseconds())/float64(b.N)/1000, "engine-ms/list")
		b.ReportMetric(float64(inStore.Microseconds())/float64(b.N)/1000, "store-ms/list")
		b.ReportMetric(float64(inEngine)/float64(inStore), "engine/store")
	})
}

// seedLotsRaw writes n records of the lots form straight into its collection, in the engine's
// layout (quicker than n creates; the list, not the create, is measured): qty runs 0…99.
func seedLotsRaw(b *testing.B, st *store.Store, n int) {
	b.Helper()
	ctx := context.Background()
	mc, err := st.Collection(ctx, forms.RecordsCollection(benchApp, "lots"))
	if err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var docs []any
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Second)
		docs = append(docs, bson.D{
			{Key: "_id", Value: fmt.Sprintf("%028x", i)},
			{Key: "_rev", Value: int64(1)},
			{Key: "app", Value: benchApp},
			{Key: "form", Value: "lots"},
			{Key: "version", Value: 1},
			{Key: "data", Value: bson.D{{Key: "name", Value: fmt.Sprintf("LOT-%05d", i)}, {Key: "qty", Value: float64(i % 100)}}},
			{Key: "owner", Value: engine.SystemActor},
			{Key: "created_by", Value: engine.SystemActor},
			{Key: "created_at", Value: at},
			{Key: "updated_by", Value: engine.SystemActor},
			{Key: "updated_at", Value: at},
		})
		if len(docs) == 1000 || i == n-1 {
			if _, err := mc.InsertMany(ctx, docs); err != nil {
				b.Fatal(err)
			}
			docs = docs[:0]
		}
	}
}
