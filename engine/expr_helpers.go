package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
)

// Helpers of rule conditions (and any other expression): working days, sub-table aggregates
// and bounded lookups of other records.
//
//   - workdays(a, b) counts the days Monday to Friday from a's day up to, not including, b's
//     day, in the service's zone (negative when b is before a); public holidays are not known.
//     workdays(friday, monday) is 1, workdays(monday, the next monday) is 5.
//   - sumOf(rows, "field"), countOf(rows[, "field"]), minOf(rows, "field"), maxOf(rows,
//     "field") aggregate a sub-table (a list of objects): a row whose field is empty (nil,
//     missing or "") is left out; a missing sub-table (nil) is no rows; minOf and maxOf of
//     no values are nil; a value that is not a number is an error naming the function.
//     expr's own sum(record.items, .qty) fails on an empty cell (nil + number): sumOf is the
//     short correct way.
//   - lookup("form", "field", value) is the first record of another form of the app whose
//     field equals value, as an object of the fields its reader may see (plus id and
//     status), or nil when none matches. Form and field must be quoted names, so what an
//     expression looks up is known when it is saved (Program.Lookups: the rule engine checks
//     the field is indexed); the record is found by whoever evaluates the expression
//     (WithExprLookup on the context), at most WithMaxLookups times (default 5) in one
//     evaluation: past that the evaluation fails with "lookup: more than N lookups in one
//     evaluation".

// exprFnLookup is the hidden function a lookup call becomes: it takes the budget first.
const exprFnLookup = "tracecraft.lookup"

// exprDefaultMaxLookups is how many lookups one evaluation may make unless WithMaxLookups says.
const exprDefaultMaxLookups = 5

// exprLookupSteps is what one lookup costs of the step budget (it reads the store).
const exprLookupSteps = 1000

func init() {
	for _, name := range []string{"workdays", "sumOf", "countOf", "minOf", "maxOf", "lookup"} {
		exprFunctionNames[name] = true
	}
	for _, name := range []string{"sumOf", "countOf", "minOf", "maxOf"} {
		exprCallCosts[name] = exprCallCost{args: exprShallow}
	}
}

// WithMaxLookups sets how many lookup() calls one evaluation may make (default 5).
func WithMaxLookups(n int) ExprOption {
	return func(x *Exprs) { x.maxLookups = n }
}

// ExprLookupFunc finds the first record of form (in the app the evaluation is for) whose field
// equals value and returns the fields its reader may see, or nil when none matches. Errors
// must name no value: they are shown to designers in run logs.
type ExprLookupFunc func(ctx context.Context, form, field string, value any) (map[string]any, error)

type exprLookupKey struct{}

// WithExprLookup makes lookup() calls of the expressions evaluated with ctx find records with
// fn; without it a lookup fails with "lookup: not available here".
func WithExprLookup(ctx context.Context, fn ExprLookupFunc) context.Context {
	return context.WithValue(ctx, exprLookupKey{}, fn)
}

// ExprLookupRef is a lookup() an expression makes: the form and field it names.
type ExprLookupRef struct {
	Form  string
	Field string
}

// Lookups are the lookup() calls of the expression, in source order.
func (p *Program) Lookups() []ExprLookupRef { return p.lookups }

// exprLookupRefs notes the lookups of a parsed expression and fails one whose form or field is
// not a quoted name.
type exprLookupRefs struct {
	refs []ExprLookupRef
	err  *file.Error
}

// Visit implements ast.Visitor.
func (v *exprLookupRefs) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.CallNode)
	if !ok || v.err != nil {
		return
	}
	if id, ok := n.Callee.(*ast.IdentifierNode); !ok || id.Value != "lookup" || len(n.Arguments) != 3 {
		return
	}
	form, ok1 := n.Arguments[0].(*ast.StringNode)
	field, ok2 := n.Arguments[1].(*ast.StringNode)
	if !ok1 || !ok2 {
		v.err = &file.Error{Location: n.Location(), Message: "lookup: the form and the field must be quoted names, such as lookup(\"material\", \"code\", record.material)"}
		return
	}
	v.refs = append(v.refs, ExprLookupRef{Form: form.Value, Field: field.Value})
}

// exprLookupPatch turns lookup(form, field, value) into the hidden call that gets the budget
// (and through it the evaluation's context).
type exprLookupPatch struct{}

// Visit implements ast.Visitor.
func (exprLookupPatch) Visit(node *ast.Node) {
	n, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	if id, ok := n.Callee.(*ast.IdentifierNode); !ok || id.Value != "lookup" {
		return
	}
	call := &ast.CallNode{Callee: exprIdent(exprFnLookup, n), Arguments: append([]ast.Node{exprIdent(exprBudgetVar, n)}, n.Arguments...)}
	call.SetLocation(n.Location())
	ast.Patch(node, call)
}

var exprObjectType = reflect.TypeOf(map[string]any{})

// helperFunctions are workdays, the sub-table aggregates and lookup.
func (x *Exprs) helperFunctions() []expr.Option {
	rows := func(name string, v any) ([]any, error) {
		switch l := v.(type) {
		case nil:
			return nil, nil
		case []any:
			return l, nil
		case []map[string]any:
			out := make([]any, len(l))
			for i, r := range l {
				out[i] = r
			}
			return out, nil
		}
		return nil, exprFailure(name + ": first argument must be a list of rows, got " + exprKindOfValue(v))
	}
	cell := func(row any, field string) any {
		m, ok := row.(map[string]any)
		if !ok {
			return nil
		}
		v := m[field]
		if s, ok := v.(string); ok && s == "" {
			return nil
		}
		return v
	}
	numbers := func(name string, args []any) ([]float64, error) {
		l, err := rows(name, args[0])
		if err != nil {
			return nil, err
		}
		field, _ := args[1].(string)
		var out []float64
		for _, r := range l {
			v := cell(r, field)
			if v == nil {
				continue
			}
			f, ok := exprToFloat(v)
			if !ok {
				return nil, exprFailure(name + ": a value of the column is " + exprKindOfValue(v) + ", not a number")
			}
			out = append(out, f)
		}
		return out, nil
	}
	extreme := func(name string, less func(a, b float64) bool) func(args ...any) (any, error) {
		return func(args ...any) (any, error) {
			ns, err := numbers(name, args)
			if err != nil || len(ns) == 0 {
				return nil, err
			}
			best := ns[0]
			for _, f := range ns[1:] {
				if less(f, best) {
					best = f
				}
			}
			return best, nil
		}
	}
	raw := func(fn *builtin.Function) expr.Option {
		return func(c *conf.Config) { c.Functions[fn.Name] = fn }
	}
	return []expr.Option{
		expr.Function("workdays", func(args ...any) (any, error) {
			a, okA := args[0].(time.Time)
			b, okB := args[1].(time.Time)
			if !okA || !okB {
				return nil, exprFailure("workdays: arguments must be times, got " + exprKindOfValue(args[0]) + " and " + exprKindOfValue(args[1]))
			}
			return exprWorkdays(exprMidnight(a, x.loc), exprMidnight(b, x.loc)), nil
		}, new(func(time.Time, time.Time) int)),
		expr.Function("sumOf", func(args ...any) (any, error) {
			ns, err := numbers("sumOf", args)
			sum := 0.0
			for _, f := range ns {
				sum += f
			}
			return sum, err
		}, new(func(any, string) float64)),
		expr.Function("countOf", func(args ...any) (any, error) {
			l, err := rows("countOf", args[0])
			if err != nil || len(args) == 1 {
				return len(l), err
			}
			field, _ := args[1].(string)
			n := 0
			for _, r := range l {
				if cell(r, field) != nil {
					n++
				}
			}
			return n, nil
		}, new(func(any) int), new(func(any, string) int)),
		expr.Function("minOf", extreme("minOf", func(a, b float64) bool { return a < b }), new(func(any, string) any)),
		expr.Function("maxOf", extreme("maxOf", func(a, b float64) bool { return a > b }), new(func(any, string) any)),
		// The checker's view of lookup; exprLookupPatch replaces every call before it runs.
		expr.Function("lookup", func(...any) (any, error) {
			return nil, exprFailure("lookup: not available here")
		}, new(func(string, string, any) map[string]any)),
		raw(&builtin.Function{
			Name: exprFnLookup,
			Func: func(args ...any) (any, error) {
				return x.lookup(args[0].(*exprBudget), args[1], args[2], args[3])
			},
			Validate: func([]reflect.Type) (reflect.Type, error) { return exprObjectType, nil },
		}),
	}
}

// lookup runs one lookup() of an evaluation.
func (x *Exprs) lookup(b *exprBudget, form, field, value any) (any, error) {
	limit := x.maxLookups
	if limit <= 0 {
		limit = exprDefaultMaxLookups
	}
	b.lookups++
	if b.lookups > limit {
		return nil, exprFailure("lookup: more than " + strconv.Itoa(limit) + " lookups in one evaluation")
	}
	if err := b.spend(exprLookupSteps); err != nil {
		return nil, err
	}
	fn, _ := b.ctx.Value(exprLookupKey{}).(ExprLookupFunc)
	if fn == nil {
		return nil, exprFailure("lookup: not available here")
	}
	fs, _ := form.(string)
	ks, _ := field.(string)
	m, err := fn(b.ctx, fs, ks, value)
	if err != nil {
		var own exprFailure
		if errors.As(err, &own) {
			return nil, own
		}
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, exprFailure(fmt.Sprintf("lookup: %s.%s could not be read", fs, ks))
	}
	if m == nil {
		return nil, nil
	}
	return m, nil
}

// exprWorkdays counts the days Monday to Friday in [a, b) (both midnights); negative when b is
// before a.
func exprWorkdays(a, b time.Time) int {
	if b.Before(a) {
		return -exprWorkdays(b, a)
	}
	ua := time.Date(a.Year(), a.Month(), a.Day(), 0, 0, 0, 0, time.UTC)
	ub := time.Date(b.Year(), b.Month(), b.Day(), 0, 0, 0, 0, time.UTC)
	days := int(ub.Sub(ua).Hours() / 24)
	n := days / 7 * 5
	wd := int(ua.Weekday())
	for i := 0; i < days%7; i++ {
		if d := (wd + i) % 7; d != int(time.Saturday) && d != int(time.Sunday) {
			n++
		}
	}
	return n
}

// ExprFail is an evaluation failure whose message is shown as it is (an ExprLookupFunc's
// "field x is not filterable"): it must quote no value.
func ExprFail(msg string) error { return exprFailure(msg) }
