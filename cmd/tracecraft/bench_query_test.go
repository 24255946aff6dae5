package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"math"
	"regexp"
	"testing"
	"time"

	"tracecraft/engine/store"
)

// TestBenchQuery runs the query measurement of `tracecraft bench` on 10,000 records (and 1,000)
// and checks that every rate is a rate and that the command reports the four ratio lines with
// their targets. It asserts no time.
func TestBenchQuery(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.Close(ctx)
	})
	rep, err := measureQuery(ctx, st, 10, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Small != 1000 || rep.Big != 10_000 {
		t.Errorf("sizes %d and %d, want 1000 and 10000", rep.Small, rep.Big)
	}
	for name, r := range map[string]float64{"page store small": rep.PageStore[0], "page plain small": rep.PagePlain[0],
		"page store big": rep.PageStore[1], "page plain big": rep.PagePlain[1], "group store": rep.GroupStore, "group plain": rep.GroupPlain} {
		if r <= 0 || math.IsInf(r, 0) || math.IsNaN(r) {
			t.Errorf("%s: rate %v", name, r)
		}
	}
	if _, err := measureQuery(ctx, st, 10, 9999); err == nil {
		t.Error("9,999 records were measured")
	}

	var out bytes.Buffer
	if err := cmdBench(ctx, []string{"--query-docs", "10000", "--n", "20", "--docs", "1000", "--import-rows", "0", "--records", "0"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^\s*query page of 50 at 1000 vs plain SQL \(target ≥ 0\.50\)\s+\d+\s+\d+\s+\d+\.\d\d\s*$`,
		`(?m)^\s*query page of 50 at 10000 vs plain SQL \(target ≥ 0\.50\)\s+\d+\s+\d+\s+\d+\.\d\d\s*$`,
		`(?m)^\s*query page of 50 at 10000 vs at 1000 \(flat: target ≥ 0\.67\)\s+\d+\s+\d+\s+\d+\.\d\d\s*$`,
		`(?m)^\s*query group-by over 10000 vs plain SQL \(target ≥ 0\.67\)\s+[\d.]+\s+[\d.]+\s+\d+\.\d\d\s*$`,
		`(?m)^query rows: each rate the best of 5 rounds`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("the report lacks %s:\n%s", want, out.String())
		}
	}
	if err := cmdBench(ctx, []string{"--query-docs", "5000"}, io.Discard, io.Discard); err == nil {
		t.Error("--query-docs 5000 was accepted")
	}
}
