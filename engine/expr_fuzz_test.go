package engine

import (
	"context"
	"errors"
	goruntime "runtime"
	"strings"
	"testing"
	"time"
)

// exprFuzzEnv is shaped like a form's: system values, fields of every kind,
// a sub-table and its parent.
func exprFuzzEnv() ExprEnv {
	env := exprTestEnv()
	env["id"] = ExprType{Kind: ExprString}
	env["user"] = ExprType{Kind: ExprString}
	env["status"] = ExprType{Kind: ExprString}
	env["created"] = ExprType{Kind: ExprTime}
	env["memo"] = ExprType{Kind: ExprString}
	env["pattern"] = ExprType{Kind: ExprString}
	env["scores"] = ExprListOf(ExprType{Kind: ExprNumber})
	env["items"] = ExprListOf(ExprObjectOf(map[string]ExprType{
		"sku":   {Kind: ExprString},
		"qty":   {Kind: ExprInt},
		"price": {Kind: ExprNumber},
		"tags":  ExprListOf(ExprType{Kind: ExprString}),
	}))
	env["parent"] = ExprType{Kind: ExprObject}
	return env
}

// exprFuzzVars are big enough that work which is not charged shows.
func exprFuzzVars() map[string]any {
	vars := exprTestVars()
	items := make([]any, 300)
	scores := make([]any, 300)
	for i := range items {
		items[i] = map[string]any{
			"sku":   "SKU-" + strings.Repeat("x", i%40),
			"qty":   float64(i % 17),
			"price": float64(i) * 0.25,
			"tags":  []any{"a", "b", strings.Repeat("é", i%9)},
		}
		scores[i] = float64(i%23) / 3
	}
	vars["id"] = "r-0001"
	vars["user"] = "alice"
	vars["status"] = "draft"
	vars["created"] = "2024-03-01T08:00:00+08:00"
	vars["memo"] = strings.Repeat("ab é", 2<<10)
	vars["pattern"] = "(a|b)+é"
	vars["scores"] = scores
	vars["items"] = items
	vars["parent"] = map[string]any{"cost": 12.5, "name": "P"}
	vars["note"] = strings.Repeat("n", 1000)
	return vars
}

// exprFuzzSeeds are ordinary formulas and the worst cases of item 7.
var exprFuzzSeeds = []string{
	"qty * price",
	"round(sum(items, .qty * .price), 2)",
	`concat(id, "/", user, "/", format(created, "yyyy-MM-dd"))`,
	`len(filter(items, .sku startsWith "SKU-x" and .qty > 3))`,
	`upper(trim(name)) + lower(status)`,
	`join(map(items, .sku), ",")`,
	`sortBy(items, .price, "desc")[0].sku`,
	`uniq(map(items, .qty))`,
	`memo matches "(a|b)*c"`,
	`memo matches pattern`,
	`count(1..900, upper(memo) != "")`,
	`len(join(map(1..500, memo)))`,
	`len(filter(1..700, len(filter(1..700, # % 2 == 0)) > 0))`,
	`count(1..400, len(sort(scores)) > 0)`,
	`len(uniq(map(1..3000, [#])))`,
	`count(1..900, memo == note + memo)`,
	`date("2024-01-02 03:04", "2006-01-02 15:04", "Europe/Paris")`,
	`trim(memo, "éa b")`,
	`let s = memo + memo; let t = s + s; len(split(t + t, ""))`,
	`groupBy(items, .qty)[3]`,
	`max(map(items, .tags))`,
	`"a" in items[0].tags and 5 in 1..9`,
	`any(items, .sku in ["SKU-", "SKU-x"])`,
}

// FuzzExprCompileEval (item 7) compiles and evaluates any source against a
// form's environment: it must never panic or fail inside the service, and
// the step budget must stop every evaluation well before the wall clock
// does. The budget here is a tenth of the default, so a run within it takes
// milliseconds; the deadline is a hundred times longer than that, so only
// work the step model does not see can reach it.
func FuzzExprCompileEval(f *testing.F) {
	for _, s := range exprFuzzSeeds {
		f.Add(s)
	}
	x := NewExprs(WithClock(exprTestClock), WithStepBudget(100_000), WithEvalTimeout(2*time.Second))
	env := exprFuzzEnv()
	vars := exprFuzzVars()
	f.Fuzz(func(t *testing.T, source string) {
		for _, want := range []ExprKind{ExprAny, ExprBool} {
			p, err := x.Compile(source, env, want)
			if err != nil {
				if strings.Contains(err.Error(), "internal error") {
					t.Fatalf("compile %q: %v", source, err)
				}
				continue
			}
			_, err = p.Eval(context.Background(), vars)
			if err == nil {
				continue
			}
			if strings.Contains(err.Error(), "time budget exceeded") {
				t.Fatalf("eval %q: the step budget did not stop it: %v", source, err)
			}
			// expr's builtins assert the types of operands its checker lets
			// through (any, for one), and division by zero is the
			// analyst's; any other Go run-time error is a bug.
			var re goruntime.Error
			var te *goruntime.TypeAssertionError
			if errors.As(err, &re) && !errors.As(err, &te) && !strings.Contains(re.Error(), "divide by zero") {
				t.Fatalf("eval %q: a Go run-time error: %v", source, err)
			}
		}
	})
}
