package rules

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/expr-lang/expr"
	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/forms"
)

// BenchmarkCondition compares a rule condition evaluated through the kernel's expression
// service (budgets, typed environment) with bare expr.Run of the same program in the same run;
// the ratio is reported as ours/bare.
func BenchmarkCondition(b *testing.B) {
	const src = `record.qty > 10 && record.lot != "X" && status == "ok"`
	vars := map[string]any{"record": map[string]any{"qty": 20.0, "lot": "L1"}, "previous": nil, "status": "ok",
		"user": map[string]any{"username": "system"}, "rule": map[string]any{"key": "r", "version": 1}}
	x := engine.NewExprs()
	prog, err := x.Compile(src, conditionEnv, engine.ExprBool)
	if err != nil {
		b.Fatal(err)
	}
	bare, err := expr.Compile(src, expr.Env(vars), expr.AsBool())
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	var ours, plain time.Duration
	for b.Loop() {
		t0 := time.Now()
		for range 100 {
			if ok, err := prog.EvalBool(ctx, vars); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
		t1 := time.Now()
		for range 100 {
			if out, err := expr.Run(bare, vars); err != nil || out != true {
				b.Fatal(out, err)
			}
		}
		ours, plain = ours+t1.Sub(t0), plain+time.Since(t1)
	}
	b.ReportMetric(float64(ours.Nanoseconds())/float64(b.N*100), "ns/ours")
	b.ReportMetric(float64(plain.Nanoseconds())/float64(b.N*100), "ns/bare")
	b.ReportMetric(float64(ours)/float64(plain), "ours/bare")
}

// BenchmarkSweep times the daily date sweep over TRACECRAFT_BENCH_LOTS lots (10,000 by
// default; the figure is 100,000), of which one in a hundred is due: the sweep's cost
// follows the lots it finds, not the lots there are. Lots are written straight into the form's
// collection in the form engine's layout, to set up quickly.
func BenchmarkSweep(b *testing.B) {
	n := 10_000
	if v, err := strconv.Atoi(os.Getenv("TRACECRAFT_BENCH_LOTS")); err == nil && v > 0 {
		n = v
	}
	e := newTestEnv(b, Options{})
	e.rule(b, `{"key":"expiry","label":{"zh-CN":"效期"},"form":"lot","trigger":{"on":"date","field":"expiry_date","days":-30,"window":0},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"record.lot"}}]}`)
	coll := forms.RecordsCollection(testApp, "lot")
	now := e.clock.Now().UTC()
	for lo := 0; lo < n; lo += 1000 {
		var docs []any
		for i := lo; i < min(lo+1000, n); i++ {
			days := 31 + i%300 // none due ...
			if i%100 == 0 {
				days = 30 // ... but one in a hundred, due today
			}
			docs = append(docs, bson.D{{Key: "_id", Value: fmt.Sprintf("lot%08d", i)}, {Key: "_rev", Value: int64(1)},
				{Key: "app", Value: testApp}, {Key: "form", Value: "lot"}, {Key: "version", Value: 1}, {Key: "status", Value: "ok"},
				{Key: "data", Value: bson.D{{Key: "lot", Value: fmt.Sprintf("L%d", i)}, {Key: "expiry_date", Value: e.day(days)}}},
				{Key: "owner", Value: "system"}, {Key: "created_by", Value: "system"}, {Key: "created_at", Value: now},
				{Key: "updated_by", Value: "system"}, {Key: "updated_at", Value: now}})
		}
		if _, err := e.st.PutMany(e.ctx, coll, docs); err != nil {
			b.Fatal(err)
		}
	}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		// Each loop sweeps a new day's due lots: move the clock a day and back the lots' due
		// day with it is not possible without rewriting them, so every loop after the first
		// finds the same lots claimed — the query and the claims' refusals are what it costs.
		res, err := e.rs.Sweep(e.ctx, e.clock.Now())
		if err != nil {
			b.Fatal(err)
		}
		if res.Records != (n+99)/100 {
			b.Fatalf("found %d lots, want %d", res.Records, (n+99)/100)
		}
	}
	b.ReportMetric(float64(n), "lots")
}
