package forms_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

// The benchmarks here measure the form engine against the raw driver on the same embedded
// store in the same run (STYLE.md habit 11): the numbers that matter are the ratios, which
// hold from one machine to another better than times do.

const benchApp = "bench"

// benchReceiptDef is a realistic goods-receipt form: text, two numbers, a choice, a date, a
// formula over the numbers and an auto-number that resets daily.
const benchReceiptDef = `{
  "key": "receipt",
  "name": {"zh-CN": "原料验收", "en": "Goods receipt"},
  "schema": {
    "type": "object",
    "properties": {
      "lot_no":      {"x-type": "autonumber", "x-label": {"zh-CN": "批号"}, "x-options": {"pattern": "RM{yyMMdd}{seq:4}", "reset": "day"}},
      "supplier":    {"x-type": "text", "x-label": {"zh-CN": "供应商"}, "maxLength": 60},
      "weight":      {"x-type": "number", "x-label": {"zh-CN": "重量"}, "minimum": 0, "x-options": {"precision": 2, "unit": "kg"}},
      "price":       {"x-type": "number", "x-label": {"zh-CN": "单价"}, "minimum": 0, "x-options": {"precision": 2, "unit": "元/kg"}},
      "grade":       {"x-type": "select", "x-label": {"zh-CN": "等级"}, "x-options": {"options": [
                        {"value": "a", "label": {"zh-CN": "甲"}}, {"value": "b", "label": {"zh-CN": "乙"}}, {"value": "c", "label": {"zh-CN": "丙"}}]}},
      "received_on": {"x-type": "date", "x-label": {"zh-CN": "到货日期"}},
      "amount":      {"x-type": "formula", "x-label": {"zh-CN": "金额"}, "x-options": {"expr": "weight * price", "precision": 2}}
    },
    "required": ["supplier", "weight", "price", "grade", "received_on"]
  }
}`

// benchLotsDef is the form the list benchmark filters.
const benchLotsDef = `{
  "key": "lots",
  "name": {"zh-CN": "批次"},
  "schema": {
    "type": "object",
    "properties": {
      "name":    {"x-type": "text", "x-label": {"zh-CN": "名称"}},
      "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量"}, "x-filterable": true},
      "made_on": {"x-type": "date", "x-label": {"zh-CN": "生产日期"}, "x-filterable": true}
    }
  }
}`

// benchEngine is a started kernel with the form engine on a fresh embedded store, holding the
// app "bench" with the given forms published.
func benchEngine(b *testing.B, defs ...string) (*forms.Service, *store.Store) {
	b.Helper()
	ctx := context.Background()
	st := storetest.New(b)
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet})
	fs := forms.New(k, forms.Options{})
	if err := k.Start(ctx); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
	sys := engine.SystemPrincipal()
	if _, err := fs.CreateApp(ctx, sys, forms.AppInput{Key: benchApp, Name: engine.Text{ZH: "基准"}}); err != nil {
		b.Fatal(err)
	}
	for _, def := range defs {
		f, err := fs.SaveDraft(ctx, sys, benchApp, []byte(def), 0)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := fs.Publish(ctx, sys, benchApp, f.Key); err != nil {
			b.Fatal(err)
		}
	}
	return fs, st
}

var benchSuppliers = []string{"云南高原农业合作社", "Acme Foods Ltd.", "山东寿光蔬菜批发市场", "Nordic Fish AS"}

func benchReceipt(i int) forms.Values {
	return forms.Values{
		"supplier":    benchSuppliers[i%len(benchSuppliers)],
		"weight":      float64(100+i%900) + 0.25,
		"price":       float64(3 + i%7),
		"grade":       []string{"a", "b", "c"}[i%3],
		"received_on": "2026-11-25",
	}
}

// benchRawReceipt is the document the engine stores for benchReceipt(i), written by hand: the
// same fields, the computed amount and number, the date parts and the system fields.
func benchRawReceipt(i int, now time.Time) bson.D {
	v := benchReceipt(i)
	return bson.D{
		{Key: "_id", Value: fmt.Sprintf("%028x", i)},
		{Key: "_rev", Value: int64(1)},
		{Key: "app", Value: benchApp},
		{Key: "form", Value: "receipt"},
		{Key: "version", Value: 1},
		{Key: "data", Value: bson.D{
			{Key: "supplier", Value: v["supplier"]},
			{Key: "weight", Value: v["weight"]},
			{Key: "price", Value: v["price"]},
			{Key: "grade", Value: v["grade"]},
			{Key: "received_on", Value: v["received_on"]},
			{Key: "amount", Value: v["weight"].(float64) * v["price"].(float64)},
			{Key: "lot_no", Value: fmt.Sprintf("RM261125%04d", i+1)},
		}},
		{Key: "parts", Value: bson.D{{Key: "received_on", Value: bson.D{
			{Key: "day", Value: "2026-11-25"}, {Key: "week", Value: "2026-W48"}, {Key: "month", Value: "2026-11"},
			{Key: "quarter", Value: "2026-Q4"}, {Key: "year", Value: "2026"},
		}}}},
		{Key: "owner", Value: engine.SystemActor},
		{Key: "created_by", Value: engine.SystemActor},
		{Key: "created_at", Value: now},
		{Key: "updated_by", Value: engine.SystemActor},
		{Key: "updated_at", Value: now},
	}
}

// BenchmarkCreateRecord compares creating a record through the engine (Service.Create:
// validation, formula, auto-number, revision, audit entry and bus event) with a raw driver
// InsertOne of the same document into an indexed collection of the same store.
//
//   - engine, raw: records/s of each on its own.
//   - ratio: one engine create and one raw insert per iteration, interleaved so both see the
//     same machine state; engine/raw is the time of an engine create divided by the time of a
//     raw insert (how many raw inserts one engine record costs).
//   - ratio-own: the same, with the raw inserts going into the form's own collection, whose
//     query indexes (made on publish) every insert there pays: what the engine adds to a record
//     insert — its audit entry with its event, validation, formula, auto-number (issue 8 item 4:
//     at most two store writes, engine/raw ≤ 2).
func BenchmarkCreateRecord(b *testing.B) {
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	fs, st := benchEngine(b, benchReceiptDef)
	var rawSeq atomic.Int64
	rawColl := func(b *testing.B, name string) *mongo.Collection {
		c, err := st.Collection(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		return c
	}
	createEngine := func(b *testing.B, i int) {
		if _, err := fs.Create(ctx, sys, benchApp, "receipt", benchReceipt(i)); err != nil {
			b.Fatal(err)
		}
	}
	insertRaw := func(b *testing.B, c *mongo.Collection) {
		if _, err := c.InsertOne(ctx, benchRawReceipt(int(rawSeq.Add(1)), time.Now().UTC())); err != nil {
			b.Fatal(err)
		}
	}
	perSecond := func(b *testing.B, n int, d time.Duration) {
		b.ReportMetric(float64(n)/d.Seconds(), "records/s")
	}

	b.Run("engine", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			createEngine(b, i)
		}
		perSecond(b, b.N, b.Elapsed())
	})
	b.Run("raw", func(b *testing.B) {
		c := rawColl(b, "raw_receipts")
		for b.Loop() {
			insertRaw(b, c)
		}
		perSecond(b, b.N, b.Elapsed())
	})
	b.Run("ratio", func(b *testing.B) {
		c := rawColl(b, "raw_receipts_ratio")
		var inEngine, inRaw time.Duration
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			createEngine(b, i)
			t1 := time.Now()
			insertRaw(b, c)
			inEngine += t1.Sub(t0)
			inRaw += time.Since(t1)
		}
		b.ReportMetric(float64(b.N)/inEngine.Seconds(), "engine-records/s")
		b.ReportMetric(float64(b.N)/inRaw.Seconds(), "raw-records/s")
		b.ReportMetric(float64(inEngine)/float64(inRaw), "engine/raw")
	})
	b.Run("ratio-own", func(b *testing.B) {
		c := rawColl(b, forms.RecordsCollection(benchApp, "receipt"))
		var inEngine, inRaw time.Duration
		for i := 0; b.Loop(); i++ {
			t0 := time.Now()
			createEngine(b, i)
			t1 := time.Now()
			insertRaw(b, c)
			inEngine += t1.Sub(t0)
			inRaw += time.Since(t1)
		}
		b.ReportMetric(float64(b.N)/inEngine.Seconds(), "engine-records/s")
		b.ReportMetric(float64(b.N)/inRaw.Seconds(), "raw-records/s")
		b.ReportMetric(float64(inEngine)/float64(inRaw), "engine/raw")
	})
}

// seedLots creates n lot records through the engine (qty cycles 0–99), several at a time.
func seedLots(b *testing.B, fs *forms.Service, n int) {
	b.Helper()
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	const workers = 8
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				v := forms.Values{"name": fmt.Sprintf("LOT-%05d", i), "qty": float64(i % 100), "made_on": fmt.Sprintf("2026-%02d-%02d", 1+i%12, 1+i%28)}
				if _, err := fs.Create(ctx, sys, benchApp, "lots", v); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListFilter lists the first page (50, newest first) of the records with qty ≥ 90
// (one in ten) through the engine, against a raw driver Find with the same filter, sort and
// limit, at 1,000 and 10,000 records. The raw Find goes through FerretDB, which scans the
// form's records; the engine asks the store's query model (SQL over the indexes publishing
// declared), also counts the matches (capped at forms.CountCap) and checks permissions.
// engine/raw in "ratio" is the time of an engine list divided by that of the raw Find,
// measured interleaved. BenchmarkListPage compares the engine with the same query asked of
// the store directly.
func BenchmarkListFilter(b *testing.B) {
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	query := forms.ListQuery{Filters: []forms.Filter{{Field: "qty", Op: "gte", Value: 90.0}}, Limit: 50}
	// The filter of query, given to the driver directly.
	rawFilter := bson.D{
		{Key: "deleted", Value: nil},
		{Key: "$and", Value: bson.A{bson.D{{Key: "data.qty", Value: bson.D{{Key: "$gte", Value: 90.0}}}}}},
	}
	rawOpts := options.Find().SetSort(bson.D{{Key: "_id", Value: -1}}).SetLimit(int64(query.Limit + 1))

	for _, n := range []int{1_000, 10_000} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			fs, st := benchEngine(b, benchLotsDef)
			seedLots(b, fs, n)
			coll, err := st.Collection(ctx, forms.RecordsCollection(benchApp, "lots"))
			if err != nil {
				b.Fatal(err)
			}
			listEngine := func(b *testing.B) {
				res, err := fs.List(ctx, sys, benchApp, "lots", query)
				if err != nil {
					b.Fatal(err)
				}
				if len(res.Items) != query.Limit || res.Total != int64(n/10) {
					b.Fatalf("engine listed %d of %d, want %d of %d", len(res.Items), res.Total, query.Limit, n/10)
				}
			}
			findRaw := func(b *testing.B) {
				cur, err := coll.Find(ctx, rawFilter, rawOpts)
				if err != nil {
					b.Fatal(err)
				}
				var docs []bson.Raw
				if err := cur.All(ctx, &docs); err != nil {
					b.Fatal(err)
				}
				if len(docs) != query.Limit+1 {
					b.Fatalf("raw found %d, want %d", len(docs), query.Limit+1)
				}
			}
			b.Run("engine", func(b *testing.B) {
				for b.Loop() {
					listEngine(b)
				}
			})
			b.Run("raw", func(b *testing.B) {
				for b.Loop() {
					findRaw(b)
				}
			})
			b.Run("ratio", func(b *testing.B) {
				var inEngine, inRaw time.Duration
				for b.Loop() {
					t0 := time.Now()
					listEngine(b)
					t1 := time.Now()
					findRaw(b)
					inEngine += t1.Sub(t0)
					inRaw += time.Since(t1)
				}
				b.ReportMetric(float64(inEngine.Microseconds())/float64(b.N)/1000, "engine-ms/list")
				b.ReportMetric(float64(inRaw.Microseconds())/float64(b.N)/1000, "raw-ms/list")
				b.ReportMetric(float64(inEngine)/float64(inRaw), "engine/raw")
			})
		})
	}
}
