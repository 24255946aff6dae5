package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestExprWorkdays: Monday to Friday from a's day up to b's, in the service's zone.
func TestExprWorkdays(t *testing.T) {
	x := NewExprs()
	env := ExprEnv{"a": {Kind: ExprTime}, "b": {Kind: ExprTime}}
	p, err := x.Compile("workdays(a, b)", env, ExprInt)
	if err != nil {
		t.Fatal(err)
	}
	sh, _ := time.LoadLocation("Asia/Shanghai")
	day := func(s string) time.Time {
		d, err := time.ParseInLocation("2006-01-02 15:04", s, sh)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	// 2026-03-06 is a Friday.
	for _, c := range []struct {
		a, b string
		want int
	}{
		{"2026-03-06 09:00", "2026-03-09 08:00", 1},  // Friday → Monday: Friday
		{"2026-03-07 00:00", "2026-03-09 00:00", 0},  // Saturday → Monday
		{"2026-03-02 00:00", "2026-03-09 00:00", 5},  // a week
		{"2026-03-02 00:00", "2026-03-30 00:00", 20}, // four weeks
		{"2026-03-04 00:00", "2026-03-04 23:00", 0},  // the same day
		{"2026-03-09 00:00", "2026-03-06 00:00", -1}, // backwards
		{"2026-03-04 00:00", "2026-03-17 00:00", 9},  // Wed → Tue two weeks on
		// 2026-03-05 23:30 UTC is Friday 07:30 in Shanghai (Thursday in UTC would make 2).
		{"2026-03-05 23:30", "2026-03-09 00:00", 1},
	} {
		a, b := day(c.a), day(c.b)
		if c.a == "2026-03-05 23:30" {
			a = time.Date(2026, 3, 5, 23, 30, 0, 0, time.UTC)
		}
		got, err := p.Eval(context.Background(), map[string]any{"a": a, "b": b})
		if err != nil || got != c.want {
			t.Errorf("workdays(%s, %s) = %v %v, want %d", c.a, c.b, got, err, c.want)
		}
	}
	// Brute force over many pairs.
	start := day("2026-01-01 00:00")
	for i := 0; i < 40; i++ {
		for j := 0; j < 40; j++ {
			a, b := start.AddDate(0, 0, i), start.AddDate(0, 0, j)
			want := 0
			for d := a; d.Before(b); d = d.AddDate(0, 0, 1) {
				if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
					want++
				}
			}
			for d := b; d.Before(a); d = d.AddDate(0, 0, 1) {
				if d.Weekday() != time.Saturday && d.Weekday() != time.Sunday {
					want--
				}
			}
			if got := exprWorkdays(a, b); got != want {
				t.Fatalf("workdays(%v, %v) = %d, want %d", a, b, got, want)
			}
		}
	}
}

// TestExprSubTableAggregates: sumOf, countOf, minOf, maxOf skip empty cells and treat a missing
// sub-table as no rows, where expr's own sum(list, .qty) fails on an empty cell.
func TestExprSubTableAggregates(t *testing.T) {
	x := NewExprs()
	env := ExprEnv{"record": {Kind: ExprObject}}
	rec := map[string]any{"items": []any{
		map[string]any{"qty": 2.0, "sku": "a"}, map[string]any{"qty": 3.5, "sku": ""}, map[string]any{"qty": nil, "sku": "c"}, map[string]any{"sku": "d"},
	}, "bad": []any{map[string]any{"qty": "lots"}}}
	for _, c := range []struct {
		src  string
		want any
		err  string
	}{
		{`sumOf(record.items, "qty")`, 5.5, ""},
		{`countOf(record.items)`, 4, ""},
		{`countOf(record.items, "sku")`, 3, ""},
		{`minOf(record.items, "qty")`, 2.0, ""},
		{`maxOf(record.items, "qty")`, 3.5, ""},
		{`sumOf(record.none, "qty")`, 0.0, ""},
		{`maxOf(record.none, "qty") == nil`, true, ""},
		{`countOf(record.none)`, 0, ""},
		{`sumOf(record.items, "qty") > 5 && countOf(record.items) == 4`, true, ""},
		{`sumOf(record.bad, "qty")`, nil, "sumOf: a value of the column is string, not a number"},
		{`sumOf(record.items, .qty)`, nil, "compile"},
		{`sum(record.items, .qty)`, nil, "operator + cannot combine nil and number"},
		{`sum(record.items, .qty ?? 0)`, 5.5, ""},
	} {
		p, err := x.Compile(c.src, env, ExprAny)
		if err != nil {
			if c.err == "compile" {
				continue
			}
			t.Fatalf("%s: %v", c.src, err)
		}
		if c.err == "compile" {
			t.Fatalf("%s compiled", c.src)
		}
		got, err := p.Eval(context.Background(), map[string]any{"record": rec})
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) || strings.Contains(err.Error(), "lots") {
				t.Fatalf("%s: %v, want %q", c.src, err, c.err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Fatalf("%s = %#v %v, want %#v", c.src, got, err, c.want)
		}
	}
}

// TestExprLookup: lookup() needs quoted names, is answered by the context's function, and stops
// past the cap with a clear error.
func TestExprLookup(t *testing.T) {
	x := NewExprs(WithMaxLookups(2))
	env := ExprEnv{"record": {Kind: ExprObject}}
	if _, err := x.Compile(`lookup(record.form, "code", 1) != nil`, env, ExprBool); err == nil || !strings.Contains(err.Error(), "quoted names") {
		t.Fatalf("a computed form: %v", err)
	}
	p, err := x.Compile(`lookup("material", "code", record.m).stock > 3`, env, ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	if refs := p.Lookups(); len(refs) != 1 || refs[0] != (ExprLookupRef{Form: "material", Field: "code"}) {
		t.Fatalf("lookups %+v", refs)
	}
	vars := map[string]any{"record": map[string]any{"m": "M1"}}
	if _, err := p.Eval(context.Background(), vars); err == nil || !strings.Contains(err.Error(), "lookup: not available here") {
		t.Fatalf("without a lookup function: %v", err)
	}
	calls := 0
	ctx := WithExprLookup(context.Background(), func(_ context.Context, form, field string, value any) (map[string]any, error) {
		calls++
		if form != "material" || field != "code" {
			return nil, errors.New("unexpected")
		}
		if value == "M1" {
			return map[string]any{"stock": 5.0}, nil
		}
		return nil, nil
	})
	if ok, err := p.EvalBool(ctx, vars); err != nil || !ok {
		t.Fatalf("M1: %v %v", ok, err)
	}
	three, err := x.Compile(`lookup("material", "code", "M1") != nil && lookup("material", "code", "M2") == nil && lookup("material", "code", "M3") == nil`, env, ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	calls = 0
	_, err = three.EvalBool(ctx, vars)
	if err == nil || !strings.Contains(err.Error(), "lookup: more than 2 lookups in one evaluation") || calls != 2 {
		t.Fatalf("past the cap: %v (%d calls)", err, calls)
	}
	// Each evaluation has its own count.
	if ok, err := p.EvalBool(ctx, vars); err != nil || !ok {
		t.Fatalf("again: %v %v", ok, err)
	}
}
