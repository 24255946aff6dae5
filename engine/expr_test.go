package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

// exprTestClock is 2024-03-01 20:30 UTC, already 2024-03-02 in Shanghai.
func exprTestClock() time.Time { return time.Date(2024, 3, 1, 20, 30, 0, 0, time.UTC) }

func exprTestEnv() ExprEnv {
	line := ExprObjectOf(map[string]ExprType{
		"sku": {Kind: ExprString},
		"qty": {Kind: ExprInt},
	})
	return ExprEnv{
		"qty":   {Kind: ExprInt},
		"price": {Kind: ExprNumber},
		"name":  {Kind: ExprString},
		"vip":   {Kind: ExprBool},
		"due":   {Kind: ExprTime},
		"wait":  {Kind: ExprDuration},
		"tags":  ExprListOf(ExprType{Kind: ExprString}),
		"note":  {Kind: ExprAny},
		"order": ExprObjectOf(map[string]ExprType{
			"id":    {Kind: ExprString},
			"lines": ExprListOf(line),
		}),
	}
}

// exprTestVars look like decoded JSON: numbers are float64, times are strings.
func exprTestVars() map[string]any {
	return map[string]any{
		"qty":   3.0,
		"price": 2.5,
		"name":  " Widget ",
		"vip":   true,
		"due":   "2024-03-10T00:00:00+08:00",
		"wait":  "90m",
		"tags":  []any{"a", "b", "c"},
		"order": map[string]any{
			"id": "SO-1",
			"lines": []any{
				map[string]any{"sku": "A", "qty": 2.0},
				map[string]any{"sku": "B", "qty": 5.0},
			},
		},
	}
}

func TestExprCompileErrors(t *testing.T) {
	x := NewExprs(WithClock(exprTestClock))
	tests := []struct {
		name   string
		source string
		want   ExprKind
		err    string
	}{
		{
			name:   "unknown variable",
			source: "qty + qtyy",
			err:    "line 1, column 7: unknown name qtyy\n | qty + qtyy\n | ......^",
		},
		{
			name:   "unknown field",
			source: "order.customer",
			err:    "line 1, column 7: unknown field customer\n | order.customer\n | ......^",
		},
		{
			name:   "type mismatch",
			source: `qty > "x"`,
			err:    "line 1, column 5: invalid operation: > (mismatched types int and string)\n | qty > \"x\"\n | ....^",
		},
		{
			name:   "string plus int",
			source: `(name + name) + 1`,
			err:    "line 1, column 15: invalid operation: + (mismatched types string and int)\n | (name + name) + 1\n | ..............^",
		},
		{
			name:   "syntax error",
			source: "qty * (price",
			err:    "line 1, column 12: unexpected token EOF\n | qty * (price\n | ...........^",
		},
		{
			name:   "syntax error on a later line",
			source: "qty > 1 &&\n  price > 2 &&\n  name ==",
			err:    "line 3, column 9: unexpected token EOF\n |   name ==\n | ........^",
		},
		{
			name:   "disabled builtin",
			source: "toJSON(tags)",
			err:    "line 1, column 1: function toJSON is not allowed\n | toJSON(tags)\n | ^",
		},
		{
			name:   "disabled predicate builtin",
			source: "vip && reduce(order.lines, #acc + .qty, 0) > 1",
			err:    "line 1, column 8: function reduce is not allowed\n | vip && reduce(order.lines, #acc + .qty, 0) > 1\n | .......^",
		},
		{
			name:   "environment escape",
			source: `$env["qty"]`,
			err:    "line 1, column 1: $env is not allowed\n | $env[\"qty\"]\n | ^",
		},
		{
			name:   "environment escape in a closure",
			source: `any(tags, $env.vip)`,
			err:    "line 1, column 11: $env is not allowed\n | any(tags, $env.vip)\n | ..........^",
		},
		{
			name:   "dynamic get",
			source: `get(order, "id")`,
			err:    "line 1, column 1: function get is not allowed\n | get(order, \"id\")\n | ^",
		},
		{
			name:   "condition is not bool",
			source: "qty * price",
			want:   ExprBool,
			err:    "line 1, column 1: result must be bool, got number\n | qty * price\n | ^",
		},
		{
			name:   "int result from a number",
			source: "  price * 2",
			want:   ExprInt,
			err:    "line 1, column 3: result must be int, got number\n |   price * 2\n | ..^",
		},
		{
			name:   "predicate not bool",
			source: "filter(order.lines, .qty + 1)",
			err:    "line 1, column 21: predicate should return boolean (got int)\n | filter(order.lines, .qty + 1)\n | ....................^",
		},
		{
			name:   "bad format layout",
			source: `format(due, "YYYY-MM-dd")`,
			err:    "line 1, column 13: format: unknown letter \"Y\" in layout \"YYYY-MM-dd\" (quote literal text with ')\n | format(due, \"YYYY-MM-dd\")\n | ............^",
		},
		{
			name:   "empty",
			source: "  ",
			err:    "expression is empty",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := x.Compile(tt.source, exprTestEnv(), tt.want)
			if err == nil {
				t.Fatalf("Compile(%q) = %v, want error", tt.source, p)
			}
			if err.Error() != tt.err {
				t.Errorf("Compile(%q) error\n%s\nwant\n%s", tt.source, err, tt.err)
			}
			var ee *ExprError
			if !errors.As(err, &ee) {
				t.Errorf("error is %T, want *ExprError", err)
			}
		})
	}
}

func TestExprErrorFields(t *testing.T) {
	x := NewExprs()
	_, err := x.Compile("qty > 1 and\n  qtyy < 5", exprTestEnv(), ExprBool)
	var ee *ExprError
	if !errors.As(err, &ee) {
		t.Fatalf("error %v is %T, want *ExprError", err, err)
	}
	want := ExprError{Line: 2, Column: 3, Message: "unknown name qtyy", Snippet: " |   qtyy < 5\n | ..^"}
	if ee.Line != want.Line || ee.Column != want.Column || ee.Message != want.Message || ee.Snippet != want.Snippet {
		t.Errorf("got %+v, want %+v", *ee, want)
	}
}

func TestExprEnvErrors(t *testing.T) {
	x := NewExprs()
	tests := []struct {
		env ExprEnv
		err string
	}{
		{ExprEnv{"1st": {Kind: ExprInt}}, `compile expression: variable "1st" is not a valid name`},
		{ExprEnv{"now": {Kind: ExprTime}}, `compile expression: variable "now" clashes with the function now()`},
		{ExprEnv{"in": {Kind: ExprInt}}, `compile expression: variable "in" is a reserved word`},
		{ExprEnv{"q": {Kind: ExprInt, Fields: map[string]ExprType{}}}, `compile expression: variable q: fields are only for objects`},
	}
	for _, tt := range tests {
		if _, err := x.Compile("1", tt.env, ExprAny); err == nil || err.Error() != tt.err {
			t.Errorf("Compile with %v: error %v, want %s", tt.env, err, tt.err)
		}
	}
	// Variables may reuse the names of builtins that are not available.
	if _, err := x.Compile("type + 1", ExprEnv{"type": {Kind: ExprInt}}, ExprInt); err != nil {
		t.Errorf("variable named type: %v", err)
	}
}

func TestExprKindText(t *testing.T) {
	var env ExprEnv
	err := json.Unmarshal([]byte(`{"qty": {"kind": "int"}, "lines": {"kind": "list", "elem": {"kind": "object", "fields": {"sku": {"kind": "string"}}}}}`), &env)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := env.fingerprint(), `"lines":list<object{"sku": string}>;"qty":int;`; got != want {
		t.Errorf("decoded env %s, want %s", got, want)
	}
	out, err := json.Marshal(ExprListOf(ExprType{Kind: ExprNumber}))
	if err != nil || string(out) != `{"kind":"list","elem":{"kind":"number"}}` {
		t.Errorf("Marshal = %s, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"kind": "decimal"}`), new(ExprType)); err == nil || err.Error() != `unknown expression kind "decimal"` {
		t.Errorf("unknown kind: %v", err)
	}
}

func TestExprEval(t *testing.T) {
	x := NewExprs(WithClock(exprTestClock))
	tests := []struct {
		source string
		want   ExprKind
		result any
	}{
		// arithmetic
		{"qty * price", ExprNumber, 7.5},
		{"qty * 2 + 1", ExprInt, 7},
		{"qty * 2", ExprNumber, 6.0},
		{"qty / 2", ExprAny, 1.5},
		{"qty % 2", ExprAny, 1},
		{"round(qty * price * 1.13, 2)", ExprNumber, 8.48},
		{"round(2.675, 2)", ExprNumber, 2.68},
		{"round(price)", ExprNumber, 3.0},
		{"abs(-price) + ceil(1.2) + floor(1.8)", ExprNumber, 5.5},
		{"max(qty, 10) - min(qty, 10)", ExprInt, 7},
		{"sum(order.lines, .qty)", ExprInt, 7},
		{"sum(map(order.lines, .qty * price))", ExprNumber, 17.5},
		{"count(order.lines, .qty > 2)", ExprInt, 1},
		{"len(order.lines) == 2 && all(order.lines, .qty > 0)", ExprBool, true},
		{"int(\"42\") + float(\"0.5\")", ExprNumber, 42.5},
		// strings
		{"upper(trim(name))", ExprString, "WIDGET"},
		{"lower(trim(name)) + \"-\" + order.id", ExprString, "widget-SO-1"},
		{"concat(order.id, \"/\", qty, \"/\", price, \"/\", note)", ExprString, "SO-1/3/2.5/"},
		{"join(tags, \",\")", ExprString, "a,b,c"},
		{"join(split(\"x;y\", \";\"), \"+\")", ExprString, "x+y"},
		{"replace(order.id, \"-\", \"\")", ExprString, "SO1"},
		{"string(qty) + string(price) + string(tags)", ExprString, "32.5[a, b, c]"},
		{"trim(name) startsWith \"Wid\" and trim(name) endsWith \"get\" and name contains \"dg\"", ExprBool, true},
		{"hasPrefix(order.id, \"SO\") && hasSuffix(order.id, \"1\")", ExprBool, true},
		{"\"b\" in tags", ExprBool, true},
		{"first(tags) + last(tags)", ExprString, "ac"},
		{"name matches \"^ W\"", ExprBool, true},
		// dates: the clock says 2024-03-01 20:30 UTC, which is 2024-03-02 04:30 in Shanghai
		{"format(now(), \"yyyy-MM-dd HH:mm\")", ExprString, "2024-03-02 04:30"},
		{"format(today(), \"yyyy/M/d EEE\")", ExprString, "2024/3/2 Sat"},
		{"format(addDays(today(), 30), \"yyyy-MM-dd\")", ExprString, "2024-04-01"},
		{"daysBetween(today(), due)", ExprInt, 8},
		{"due > now()", ExprBool, true},
		{"format(now() + wait, \"HH:mm\")", ExprString, "06:00"},
		{"format(date(\"2024-02-29\"), \"yyyy-MM-dd HH:mm Z\")", ExprString, "2024-02-29 00:00 +0800"},
		{"daysBetween(date(\"2024-01-01\"), date(\"2024-12-31\"))", ExprInt, 365},
		{"duration(\"1h\") > wait", ExprBool, false},
		// nil handling
		{"coalesce(note, \"none\")", ExprString, "none"},
		{"coalesce(note, nil, qty)", ExprAny, 3},
		{"coalesce(note, 0) + qty", ExprAny, 3},
		{"note ?? \"fallback\"", ExprAny, "fallback"},
		{"note == nil ? \"empty\" : \"set\"", ExprString, "empty"},
		{"format(note, \"yyyy\")", ExprString, ""},
		// lists and objects
		{"map(filter(order.lines, .qty > 2), .sku)", ExprList, []any{"B"}},
		{"{\"id\": order.id, \"n\": len(order.lines)}", ExprObject, map[string]any{"id": "SO-1", "n": 2}},
		{"let total = sum(order.lines, .qty); total > 5 ? \"big\" : \"small\"", ExprString, "big"},
	}
	for _, tt := range tests {
		t.Run(tt.source, func(t *testing.T) {
			p, err := x.Compile(tt.source, exprTestEnv(), tt.want)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := p.Eval(context.Background(), exprTestVars())
			if err != nil {
				t.Fatalf("Eval: %v", err)
			}
			if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tt.result) {
				t.Errorf("got %#v, want %#v", got, tt.result)
			}
		})
	}
}

func TestExprEvalErrors(t *testing.T) {
	x := NewExprs(WithClock(exprTestClock))
	tests := []struct {
		source string
		want   ExprKind
		vars   map[string]any
		err    string
	}{
		{"qty % 0", ExprAny, exprTestVars(), "line 1, column 5: division by zero\n | qty % 0\n | ....^"},
		{"note", ExprBool, exprTestVars(), "result must be bool, got nil"},
		{"note", ExprBool, map[string]any{"note": "yes"}, "result must be bool, got string"},
		{"addDays(today(), price)", ExprAny, exprTestVars(), "line 1, column 1: addDays: days must be a whole number, got a fraction\n | addDays(today(), price)\n | ^"},
		{"qty + 1", ExprAny, map[string]any{"qty": "three"}, "eval expression: variable qty: must be int, got string"},
		{"qty + 1", ExprAny, map[string]any{"qty": 1.5}, "eval expression: variable qty: must be int, got number"},
		{"len(order.lines)", ExprAny, map[string]any{"order": map[string]any{"lines": []any{map[string]any{"qty": "x"}}}}, "eval expression: variable order: .lines [0] .qty must be int, got string"},
	}
	for _, tt := range tests {
		p, err := x.Compile(tt.source, exprTestEnv(), tt.want)
		if err != nil {
			t.Fatalf("Compile(%q): %v", tt.source, err)
		}
		_, err = p.Eval(context.Background(), tt.vars)
		if err == nil || err.Error() != tt.err {
			t.Errorf("Eval(%q) error\n%v\nwant\n%s", tt.source, err, tt.err)
		}
	}
}

func TestExprEvalTyped(t *testing.T) {
	x := NewExprs()
	ctx := context.Background()
	cond, err := x.Compile("vip && qty >= 3", exprTestEnv(), ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := cond.EvalBool(ctx, exprTestVars()); err != nil || !ok {
		t.Errorf("EvalBool = %v, %v; want true", ok, err)
	}
	formula, err := x.Compile("qty * 2", exprTestEnv(), ExprAny)
	if err != nil {
		t.Fatal(err)
	}
	if f, err := formula.EvalFloat(ctx, exprTestVars()); err != nil || f != 6 {
		t.Errorf("EvalFloat = %v, %v; want 6", f, err)
	}
	if _, err := formula.EvalBool(ctx, exprTestVars()); err == nil || err.Error() != "result must be bool, got int" {
		t.Errorf("EvalBool of a number: %v", err)
	}
	text, err := x.Compile("name", exprTestEnv(), ExprAny)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := text.EvalFloat(ctx, exprTestVars()); err == nil || err.Error() != "result must be number, got string" {
		t.Errorf("EvalFloat of a string: %v", err)
	}
}

func TestExprLocation(t *testing.T) {
	x := NewExprs(WithClock(exprTestClock), WithLocation(time.UTC))
	p, err := x.Compile(`format(today(), "yyyy-MM-dd") + " " + format(now(), "h:mm a")`, nil, ExprString)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.Eval(context.Background(), nil)
	if err != nil || got != "2024-03-01 8:30 PM" {
		t.Errorf("got %q, %v", got, err)
	}
}

func TestExprBudget(t *testing.T) {
	// No deadline: under the race detector a million steps take longer
	// than it, and these must stop on the step budget.
	x := NewExprs(WithClock(exprTestClock), WithEvalTimeout(0))
	many := make([]any, 200)
	for i := range many {
		many[i] = fmt.Sprint(i)
	}
	vars := map[string]any{"tags": many, "name": "0123456789abcdef"}
	tests := []struct {
		name   string
		source string
		err    string
	}{
		{
			name:   "huge range",
			source: "map(1..100000000, # * 2)",
			err:    "line 1, column 6: range is too long (more than 1000000 elements)\n | map(1..100000000, # * 2)\n | .....^",
		},
		{
			name:   "nested loops over data",
			source: "all(tags, all(tags, all(tags, true)))",
			err:    "line 1, column 31: step budget exceeded (more than 1000000 steps)\n | all(tags, all(tags, all(tags, true)))\n | ..............................^",
		},
		{
			name:   "string doubling",
			source: exprChain("let s%d = s%d + s%d;", 20) + " len(s20)",
			err:    "string budget exceeded (longer than 1048576 bytes)",
		},
		{
			name:   "string doubling in a closure",
			source: "map(tags, map(tags, map(tags, # + # + # + #)))",
			err:    "step budget exceeded (more than 1000000 steps)",
		},
		{
			name:   "shared lists",
			source: exprChain("let s%d = [s%d, s%d];", 30) + " max(s30) == s30",
			err:    "step budget exceeded (more than 1000000 steps)",
		},
		{
			name:   "lists built in a loop",
			source: exprChain("let s%d = map(1..8, s%d ?? s%d);", 15) + " string(s15)",
			err:    "step budget exceeded (more than 1000000 steps)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := x.Compile(tt.source, exprTestEnv(), ExprAny)
			if err != nil {
				t.Fatalf("Compile: %v", err)
			}
			_, err = p.Eval(context.Background(), vars)
			if !errors.Is(err, ErrExprBudget) {
				t.Fatalf("Eval error %v, want ErrExprBudget", err)
			}
			var ee *ExprError
			if !errors.As(err, &ee) {
				t.Fatalf("error is %T, want *ExprError", err)
			}
			if strings.Contains(tt.err, "\n") {
				if err.Error() != tt.err {
					t.Errorf("error\n%s\nwant\n%s", err, tt.err)
				}
			} else if ee.Message != tt.err {
				t.Errorf("message %q, want %q", ee.Message, tt.err)
			}
		})
	}

	// The same loops pass with a bigger budget (each iteration costs three
	// steps: the loop and the one node of its body).
	big := NewExprs(WithStepBudget(6_000_000), WithEvalTimeout(0))
	p, err := big.Compile("all(tags, all(tags, all(tags, true)))", exprTestEnv(), ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := p.EvalBool(context.Background(), map[string]any{"tags": many[:120]}); err != nil || !ok {
		t.Errorf("with a bigger budget: %v, %v", ok, err)
	}
}

// exprChain returns "let s0 = name; " and n steps of format, each building
// s(i) from s(i-1) twice.
func exprChain(format string, n int) string {
	var b strings.Builder
	b.WriteString("let s0 = name;")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, " "+format, i, i-1, i-1)
	}
	return b.String()
}

func TestExprMaxNodes(t *testing.T) {
	x := NewExprs(WithMaxNodes(20))
	source := strings.Repeat("1 + ", 20) + "1"
	_, err := x.Compile(source, nil, ExprAny)
	want := "line 1, column 43: expression is too large (more than 20 nodes)\n | " + source + "\n | " + strings.Repeat(".", 42) + "^"
	if err == nil || err.Error() != want {
		t.Errorf("error\n%v\nwant\n%s", err, want)
	}
	if !errors.Is(err, ErrExprBudget) {
		t.Errorf("error %v does not match ErrExprBudget", err)
	}
	if _, err := x.Compile("1 + 2", nil, ExprAny); err != nil {
		t.Errorf("small expression: %v", err)
	}
}

func TestExprEvalContext(t *testing.T) {
	x := NewExprs(WithStepBudget(1 << 40))
	many := make([]any, 1000)
	p, err := x.Compile("all(tags, all(tags, all(tags, true)))", ExprEnv{"tags": ExprListOf(ExprType{Kind: ExprAny})}, ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]any{"tags": many}

	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.Eval(canceled, vars); !errors.Is(err, context.Canceled) || err.Error() != "eval expression: context canceled" {
		t.Errorf("canceled before: %v", err)
	}

	// 10^9 iterations would take minutes; the deadline stops them.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = p.Eval(ctx, vars)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("error %v, want deadline exceeded", err)
	}
	if elapsed := time.Since(start); elapsed > 5*time.Second {
		t.Errorf("stopped after %v", elapsed)
	}
}

func TestExprCache(t *testing.T) {
	x := NewExprs()
	a, err := x.Compile("qty > 1", exprTestEnv(), ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	b, err := x.Compile("qty > 1", exprTestEnv(), ExprBool) // equal env, another map
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Error("same source, env and want compiled twice")
	}
	c, err := x.Compile("qty > 1", exprTestEnv(), ExprAny)
	if err != nil {
		t.Fatal(err)
	}
	if c == a {
		t.Error("another want shares the program")
	}
	env := exprTestEnv()
	env["qty"] = ExprType{Kind: ExprNumber}
	d, err := x.Compile("qty > 1", env, ExprBool)
	if err != nil {
		t.Fatal(err)
	}
	if d == a {
		t.Error("another env shares the program")
	}

	// Concurrent first compiles of one definition end with one shared program.
	var wg sync.WaitGroup
	progs := make([]*Program, 16)
	for i := range progs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			progs[i], _ = x.Compile("qty * price", exprTestEnv(), ExprNumber)
		}()
	}
	wg.Wait()
	for _, p := range progs {
		if p == nil || p != progs[0] {
			t.Fatal("concurrent compiles returned different programs")
		}
	}
}

func TestExprConcurrentEval(t *testing.T) {
	x := NewExprs(WithClock(exprTestClock))
	p, err := x.Compile(`concat(name, ":", round(sum(order.lines, .qty) * price, 1), ":", format(addDays(today(), qty), "MM-dd"))`, exprTestEnv(), ExprString)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				vars := map[string]any{
					"name":  fmt.Sprint("g", g),
					"qty":   i % 10,
					"price": 0.5,
					"order": map[string]any{"lines": []any{map[string]any{"qty": g}, map[string]any{"qty": i}}},
				}
				got, err := p.Eval(context.Background(), vars)
				want := fmt.Sprintf("g%d:%s:03-%02d", g, exprTrimFloat(float64(g+i)*0.5), 2+i%10)
				if err != nil || got != want {
					errs <- fmt.Errorf("goroutine %d, run %d: got %v, %v; want %s", g, i, got, err, want)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func exprTrimFloat(f float64) string {
	return strings.TrimSuffix(strings.TrimSuffix(fmt.Sprintf("%.1f", f), "0"), ".")
}

func TestExprRound(t *testing.T) {
	tests := []struct {
		x      float64
		digits int
		want   float64
	}{
		{2.675, 2, 2.68},
		{1.005, 2, 1.01},
		{-2.5, 0, -3},
		{2.5, 0, 3},
		{2.4, 0, 2},
		{9.995, 2, 10},
		{1234.5, -2, 1200},
		{1250, -2, 1300},
		{5, -1, 10},
		{0.004, 2, 0},
		{0.1 + 0.2, 2, 0.3},
		{123.456, 5, 123.456},
	}
	for _, tt := range tests {
		if got := exprRound(tt.x, tt.digits); got != tt.want {
			t.Errorf("round(%v, %d) = %v, want %v", tt.x, tt.digits, got, tt.want)
		}
	}
}

func TestExprFormatTime(t *testing.T) {
	ts := time.Date(2024, 7, 5, 14, 3, 9, 123456789, time.UTC)
	tests := []struct {
		layout string
		want   string
	}{
		{"yyyy-MM-dd HH:mm:ss", "2024-07-05 14:03:09"},
		{"yy/M/d H:m:s", "24/7/5 14:3:9"},
		{"hh:mm a", "02:03 PM"},
		{"HH:mm:ss.SSS", "14:03:09.123"},
		{"EEEE, MMMM d", "Friday, July 5"},
		{"EEE MMM", "Fri Jul"},
		{"yyyy年MM月dd日", "2024年07月05日"},
		{"'Q3' yyyy 'o''clock'", "Q3 2024 o'clock"},
		{"yyyyMMdd'T'HHmm", "20240705T1403"},
	}
	for _, tt := range tests {
		got, err := exprFormatTime(ts, tt.layout)
		if err != nil || got != tt.want {
			t.Errorf("format(%q) = %q, %v; want %q", tt.layout, got, err, tt.want)
		}
	}
	if _, err := exprFormatTime(ts, "yyyy 'open"); err == nil {
		t.Error("unterminated quote accepted")
	}
}

func ExampleExprs_Compile() {
	exprs := NewExprs(WithClock(func() time.Time {
		return time.Date(2024, 3, 1, 9, 0, 0, 0, time.UTC)
	}))
	env := ExprEnv{
		"qty":   {Kind: ExprInt},
		"price": {Kind: ExprNumber},
		"due":   {Kind: ExprTime},
	}

	cond, err := exprs.Compile(`qty * price > 100 && daysBetween(today(), due) <= 7`, env, ExprBool)
	if err != nil {
		fmt.Println(err)
		return
	}
	ok, err := cond.EvalBool(context.Background(), map[string]any{
		"qty":   12,
		"price": 9.5,
		"due":   time.Date(2024, 3, 5, 0, 0, 0, 0, time.UTC),
	})
	fmt.Println(ok, err)

	_, err = exprs.Compile("qty * prize", env, ExprNumber)
	fmt.Println(err)
	// Output:
	// true <nil>
	// line 1, column 7: unknown name prize
	//  | qty * prize
	//  | ......^
}
