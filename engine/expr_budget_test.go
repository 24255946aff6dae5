package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/expr-lang/expr"
)

// exprBudgetEnv has a long text, a second copy of it and lists of the sizes
// a form's data reaches.
func exprBudgetEnv() (ExprEnv, map[string]any) {
	env := ExprEnv{
		"s":       {Kind: ExprString},
		"t":       {Kind: ExprString},
		"pattern": {Kind: ExprString},
		"cut":     {Kind: ExprString},
		"big":     ExprListOf(ExprType{Kind: ExprAny}),
		"lines": ExprListOf(ExprObjectOf(map[string]ExprType{
			"sku":   {Kind: ExprString},
			"qty":   {Kind: ExprInt},
			"price": {Kind: ExprNumber},
		})),
	}
	big := make([]any, 2000)
	for i := range big {
		big[i] = float64(i * 7 % 2000)
	}
	lines := make([]any, 1000)
	for i := range lines {
		lines[i] = map[string]any{"sku": fmt.Sprintf("SKU-%03d", i%250), "qty": float64(i % 9), "price": float64(i%40) / 4}
	}
	s := strings.Repeat("ab", 64<<10) // 128 KiB
	vars := map[string]any{
		"s":       s,
		"t":       strings.Clone(s), // equal but not the same memory: == compares every byte
		"pattern": "(a|b)*c",
		"cut":     strings.Repeat("éà", 1<<10),
		"big":     big,
		"lines":   lines,
	}
	return env, vars
}

// TestHardening07_ExprCPUBudget (item 7): each of these ran for seconds on
// every row while the old budget charged it only a few thousand steps,
// because builtins were free and loop bodies cost one step whatever their
// size. Now the work is charged before it is done, so each stops on the step
// budget. The deadline is off: it is the step count that must stop them.
func TestHardening07_ExprCPUBudget(t *testing.T) {
	x := NewExprs(WithEvalTimeout(0))
	env, vars := exprBudgetEnv()
	tests := []struct {
		name   string
		source string
	}{
		{"text function in a loop", `count(1..900, upper(s) != "")`},
		{"split into runes in a loop", `count(1..300, len(split(s, "")) > 0)`},
		{"join of a long text many times", `len(join(map(1..300, s), ","))`},
		{"nested filters over ranges", `len(filter(1..700, len(filter(1..700, # < 0)) == 0))`},
		{"ranges built in a loop", `count(1..999, count(1..999, # > 0) > 0)`},
		{"big loop body", `count(1..100000, ` + strings.Repeat("# + ", 50) + `# > 0)`},
		{"sort in a loop", `count(1..400, len(sort(big)) > 0)`},
		{"median in a loop", `count(1..400, median(big) > 0)`},
		{"sum without a predicate in a loop", `count(1..900, sum(big) > 0)`},
		{"in over a list in a loop", `count(1..900, "x" in big)`},
		{"uniq of lists", `len(uniq(map(1..3000, [#])))`},
		{"matches on long input", `count(1..300, s matches "(a|b)*c")`},
		{"matches with a computed pattern", `count(1..300, s matches pattern)`},
		{"equal long texts in a loop", `count(1..900, s == t)`},
		{"contains in a loop", `count(1..900, t contains s)`},
		{"trim with a non-ASCII cutset", `count(1..100, trim(s + cut, cut) != "")`},
		{"sortBy in a loop", `count(1..300, len(sortBy(lines, .sku)) > 0)`},
		{"range longer than the steps left", `len(1..999999) + len(1..999999)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := x.Compile(tt.source, env, ExprAny)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			out, err := p.Eval(context.Background(), vars)
			if !errors.Is(err, ErrExprBudget) {
				t.Fatalf("Eval = %v, %v; want the step budget exceeded", out, err)
			}
			var ee *ExprError
			if !errors.As(err, &ee) || ee.Message != "step budget exceeded (more than 1000000 steps)" {
				t.Errorf("error %v, want the step budget exceeded", err)
			}
		})
	}
}

// TestHardening07_ExprCompileLimits (item 7): what can be checked once is
// checked when the definition is saved.
func TestHardening07_ExprCompileLimits(t *testing.T) {
	x := NewExprs()
	env, _ := exprBudgetEnv()
	tests := []struct {
		source string
		err    string
		budget bool
	}{
		{`s matches "` + strings.Repeat("a", 5000) + `"`, "pattern is too long (5000 bytes, at most 4096)", true},
		{`s matches "(a|b){1000}(c|d){1000}"`, "pattern is too complex (6002 instructions, at most 5000)", true},
		{`date("2024-01-02", "2006-01-02", s)`, `date: the time zone must be a quoted name such as "Asia/Shanghai"`, false},
		{`date("2024-01-02", "2006-01-02", "Mars/Olympus")`, `date: unknown time zone "Mars/Olympus"`, false},
	}
	for _, tt := range tests {
		_, err := x.Compile(tt.source, env, ExprAny)
		var ee *ExprError
		if !errors.As(err, &ee) || ee.Message != tt.err {
			t.Errorf("Compile(%.60q) = %v, want %q", tt.source, err, tt.err)
			continue
		}
		if errors.Is(err, ErrExprBudget) != tt.budget {
			t.Errorf("Compile(%.60q): errors.Is(ErrExprBudget) = %v", tt.source, !tt.budget)
		}
	}
}

// TestHardening07_ExprDeadline (item 7): whatever the step budget, an
// evaluation stops at the service's wall-clock cap, and at the caller's.
func TestHardening07_ExprDeadline(t *testing.T) {
	x := NewExprs(WithStepBudget(1<<40), WithEvalTimeout(time.Nanosecond))
	p, err := x.Compile("count(1..100000, true)", nil, ExprInt)
	if err != nil {
		t.Fatal(err)
	}
	_, err = p.Eval(context.Background(), nil)
	var ee *ExprError
	if !errors.Is(err, ErrExprBudget) || !errors.As(err, &ee) || ee.Message != "time budget exceeded (evaluation ran longer than 1ns)" {
		t.Fatalf("Eval: %v, want the time budget exceeded", err)
	}

	// The caller's deadline still wins when it is the earlier.
	x = NewExprs(WithStepBudget(1<<40), WithEvalTimeout(time.Hour))
	p, err = x.Compile("count(1..100000, true)", nil, ExprInt)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithDeadline(context.Background(), time.Now().Add(-time.Second))
	defer cancel()
	if _, err := p.Eval(ctx, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Eval with an expired context: %v", err)
	}
}

// TestHardening07_ExprOrdinaryFormulas (item 7): formulas over an order of
// a thousand lines stay well inside a tenth of the default budget and give
// the same results as before.
func TestHardening07_ExprOrdinaryFormulas(t *testing.T) {
	x := NewExprs(WithClock(exprTestClock), WithStepBudget(exprDefaultStepBudget/10), WithEvalTimeout(0))
	env, vars := exprBudgetEnv()
	vars["s"], vars["t"] = "Widget Pro", " widget pro "
	tests := []struct {
		source string
		want   any
	}{
		{"round(sum(lines, .qty * .price), 2)", 19466.0},
		{"sum(map(lines, .qty))", 3996},
		{"count(lines, .qty > 4)", 444},
		{"len(uniq(map(lines, .sku)))", 250},
		{"len(groupBy(lines, .sku))", 250},
		{"sortBy(lines, .price, \"desc\")[0].price", 9.75},
		{"first(sort(map(lines, .sku), \"desc\"))", "SKU-249"},
		{"max(map(lines, .price)) + min(map(lines, .price))", 9.75},
		{"median(map(lines, .qty))", 4.0},
		{"len(join(map(lines, .sku), \",\"))", 7999},
		{"all(lines, .sku matches \"^SKU-[0-9]{3}$\")", true},
		{"any(lines, .sku in [\"SKU-007\", \"SKU-300\"])", true},
		{"count(lines, .qty in 2..4)", 333},
		{"upper(trim(t)) == upper(s)", true},
		{"trim(\"éé x éé\", \"é\")", " x "},
		{"replace(lower(s), \" \", \"-\") + \"/\" + string(len(lines))", "widget-pro/1000"},
		{"s matches pattern", false},
		{"format(date(\"2024-05-06 07:08\", \"2006-01-02 15:04\", \"Europe/Paris\"), \"yyyy-MM-dd HH:mm\")", "2024-05-06 13:08"},
		{"uniq([1, 1.0, \"1\", 2, nil, nil, [1], [1], true])", []any{1, "1", 2, nil, []any{1}, true}},
		{"sum(1..100)", 5050},
		{"len(filter(1..1000, # % 3 == 0))", 333},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			p, err := x.Compile(tt.source, env, ExprAny)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Eval(context.Background(), vars)
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

// TestHardening07_ExprUniqLikeExpr (item 7): the linear uniq keeps what
// expr's quadratic one keeps, in the same order.
func TestHardening07_ExprUniqLikeExpr(t *testing.T) {
	x := NewExprs(WithEvalTimeout(0))
	p, err := x.Compile("uniq(list)", ExprEnv{"list": ExprListOf(ExprType{Kind: ExprAny})}, ExprList)
	if err != nil {
		t.Fatal(err)
	}
	ref, err := expr.Compile("uniq(list)", expr.Env(map[string]any{"list": []any{}}))
	if err != nil {
		t.Fatal(err)
	}
	pool := []any{nil, 0, 1, 2, 1.0, 2.5, -0.0, "1", "a", "", true, false, []any{1}, []any{1.0}, []any{}, map[string]any{"a": 1},
		map[string]any{"a": 1}, time.Duration(1), time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 1, 1, 8, 0, 0, 0, time.FixedZone("CST", 8*3600))}
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 300; i++ {
		list := make([]any, rng.Intn(12))
		for j := range list {
			list[j] = pool[rng.Intn(len(pool))]
		}
		got, err := p.Eval(context.Background(), map[string]any{"list": list})
		if err != nil {
			t.Fatalf("uniq(%v): %v", list, err)
		}
		want, err := expr.Run(ref, map[string]any{"list": list})
		if err != nil {
			t.Fatalf("expr uniq(%v): %v", list, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("uniq(%#v)\n got %#v\nwant %#v", list, got, want)
		}
	}
}

// TestHardening07_ExprCheckedAsWritten (item 7, found by FuzzExprCompileEval):
// expr's checker keeps a call's type from its first visit, so once patches
// ran, a type error inside a call's arguments compiled and failed only at
// run time; and folding 1 % 0 failed inside the service.
func TestHardening07_ExprCheckedAsWritten(t *testing.T) {
	x := NewExprs()
	tests := []struct{ source, err string }{
		{`string(!qty)`, "line 1, column 8: invalid operation: ! (mismatched type int)\n | string(!qty)\n | .......^"},
		{`len(join(map(1..3, !0)))`, "line 1, column 20: invalid operation: ! (mismatched type int)\n | len(join(map(1..3, !0)))\n | ...................^"},
		{`concat(name, 1 + true)`, "line 1, column 16: invalid operation: + (mismatched types int and bool)\n | concat(name, 1 + true)\n | ...............^"},
		{`0 % 0`, "line 1, column 3: integer divide by zero\n | 0 % 0\n | ..^"},
	}
	for _, tt := range tests {
		_, err := x.Compile(tt.source, exprTestEnv(), ExprAny)
		if err == nil || err.Error() != tt.err {
			t.Errorf("Compile(%q) error\n%v\nwant\n%s", tt.source, err, tt.err)
		}
	}
}
