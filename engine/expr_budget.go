package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"reflect"
	"regexp"
	"regexp/syntax"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/vm/runtime"
)

// How an evaluation is budgeted. expr's VM cannot be interrupted and knows
// nothing of a context, so the second pass of Compile threads a hidden
// budget variable through the tree and charges it from hidden calls:
//
//   - every iteration of a predicate (all, filter, map, sortBy, ...) costs
//     the number of nodes of its body plus the size of what the body gives;
//   - a range a..b costs its length before it is built, and may not be
//     longer than the memory budget;
//   - a function or operator whose work grows with its operands is charged,
//     before it runs, by the size of each operand (16 bytes of text, or one
//     element of a list or object, cost one step; sort and median add
//     n·log2 n; matches multiplies by the size of the pattern's program),
//     and after it runs by the size of what it made;
//   - uniq, trim with a cutset and matches with a computed pattern are
//     replaced by versions that charge as they go.
//
// Every 256 steps the caller's context and the evaluation's own deadline
// are checked, so no evaluation outlives either by more than a few steps.

// Names the analyst cannot type: the lexer never puts a dot in an identifier.
const (
	exprBudgetVar = "tracecraft.budget"
	exprFnSpend   = "tracecraft.spend"
	exprFnAdd     = "tracecraft.add"
	exprFnCost    = "tracecraft.cost"
	exprFnRange   = "tracecraft.range"
	exprFnUniq    = "tracecraft.uniq"
	exprFnTrim    = "tracecraft.trim"
	exprFnMatches = "tracecraft.matches"
)

// Limits of regular expressions: a pattern is compiled once when it is a
// literal, on every evaluation otherwise.
const (
	exprMaxPatternLen   = 4 << 10
	exprMaxPatternInsts = 5000
	// exprRegexStepsPerInst is what one instruction of a pattern's program
	// costs per 16 bytes of input: Go's matcher runs every instruction at
	// most once per input byte, measured at up to 330 ns per 16 bytes on
	// long inputs. Inputs short enough for the backtracker (a bit per
	// instruction and byte fits in exprRegexBacktrackBits) cost an eighth.
	exprRegexStepsPerInst  = 8
	exprRegexBacktrackBits = 256 << 10
	// exprRegexCompileSteps is what a byte or an instruction of a pattern
	// compiled at run time costs (compiling takes up to 1 µs for each).
	exprRegexCompileSteps = 20
	// exprLoopSteps is what one iteration of a predicate costs on top of
	// the nodes of its body: the VM's loop and the charge itself.
	exprLoopSteps  = 2
	exprBudgetTick = 256
)

// exprBudget is the per-evaluation budget, reachable from the program only
// through the hidden variable exprBudgetVar.
type exprBudget struct {
	ctx       context.Context
	deadline  time.Time // zero when the service sets no cap
	timeout   time.Duration
	left      int
	max       int
	sinceTick int
	lookups   int // lookup() calls made (expr_helpers.go)
}

func (x *Exprs) newBudget(ctx context.Context) *exprBudget {
	b := &exprBudget{ctx: ctx, left: x.stepBudget, max: x.stepBudget}
	if x.evalTimeout > 0 {
		b.timeout = x.evalTimeout
		b.deadline = time.Now().Add(x.evalTimeout)
	}
	return b
}

// spend charges n steps; every exprBudgetTick steps it also checks the
// context and the deadline.
func (b *exprBudget) spend(n int) error {
	if n < 0 { // an overflowed measure
		n = math.MaxInt / 2
	}
	b.left -= n
	if b.left < 0 {
		return exprBudgetError(fmt.Sprintf("step budget exceeded (more than %d steps)", b.max))
	}
	b.sinceTick += n
	if b.sinceTick >= exprBudgetTick {
		b.sinceTick = 0
		if err := b.ctx.Err(); err != nil {
			return err
		}
		if !b.deadline.IsZero() && time.Now().After(b.deadline) {
			return exprBudgetError(fmt.Sprintf("time budget exceeded (evaluation ran longer than %v)", b.timeout))
		}
	}
	return nil
}

// exprMeasure says what of a value a charge counts.
type exprMeasure int

const (
	exprNone exprMeasure = iota
	// exprText counts 16 bytes of a string as one step; other values are free.
	exprText
	// exprShallow counts the elements of a list or object, or the 16-byte
	// pieces of a string, without looking inside them.
	exprShallow
	// exprDeep counts every element and every 16 bytes all the way down.
	exprDeep
	// exprSorted is exprDeep plus n·log2 n comparisons of the top level.
	exprSorted
	// exprLogN is n·log2 n for the elements of a list.
	exprLogN
	// exprRegexInput is the cost of matching a string against a pattern
	// whose program has weight instructions; see exprRegexSteps.
	exprRegexInput
)

func exprMeasureOf(m exprMeasure, v any, limit int) int {
	switch m {
	case exprText:
		if s, ok := v.(string); ok {
			return len(s) / 16
		}
		return 0
	case exprShallow:
		return exprShallowSize(v)
	case exprDeep:
		return exprSize(v, limit)
	case exprSorted:
		n := exprShallowSize(v)
		return exprSize(v, limit) + n*bits.Len(uint(n))
	case exprLogN:
		n := exprShallowSize(v)
		return n * bits.Len(uint(n))
	}
	return 0
}

func exprShallowSize(v any) int {
	switch v := v.(type) {
	case nil:
		return 0
	case string:
		return len(v) / 16
	case []any:
		return len(v)
	case map[string]any:
		return len(v)
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return rv.Len()
	case reflect.String:
		return rv.Len() / 16
	}
	return 0
}

// exprSize counts the elements and string bytes/16 in v, giving up once the
// count passes limit so that a huge shared structure costs no more than the
// budget it would exceed.
func exprSize(v any, limit int) int {
	switch v := v.(type) {
	case nil, bool, int, int64, float64, time.Time, time.Duration:
		return 0
	case string:
		return len(v) / 16
	case []int:
		return len(v)
	case []float64:
		return len(v)
	case []any:
		n := 0
		for _, e := range v {
			n += 1 + exprSize(e, limit-n)
			if n > limit {
				return n
			}
		}
		return n
	case []string:
		n := 0
		for _, e := range v {
			n += 1 + len(e)/16
			if n > limit {
				return n
			}
		}
		return n
	case map[string]any:
		n := 0
		for k, e := range v {
			n += 1 + len(k)/16 + exprSize(e, limit-n)
			if n > limit {
				return n
			}
		}
		return n
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		n := 0
		for i := 0; i < rv.Len() && n <= limit; i++ {
			n += 1 + exprSize(rv.Index(i).Interface(), limit-n)
		}
		return n
	case reflect.Map:
		n := 0
		it := rv.MapRange()
		for it.Next() && n <= limit {
			n += 1 + exprSize(it.Key().Interface(), limit-n) + exprSize(it.Value().Interface(), limit-n)
		}
		return n
	case reflect.String:
		return rv.Len() / 16
	}
	return 0
}

// exprCallCost says how a call of a function is charged: each argument by a
// measure times weight before the call, and the result by a measure after.
type exprCallCost struct {
	args   exprMeasure
	weight int
	result exprMeasure
}

// exprCallCosts lists the functions whose work grows with their operands;
// the others (abs, first, round, addDays, ...) do a fixed amount of work,
// which the size of the enclosing loop body pays for.
var exprCallCosts = map[string]exprCallCost{
	// expr builtins
	"len":         {args: exprText}, // counts runes
	"int":         {args: exprText},
	"float":       {args: exprText},
	"trim":        {args: exprText, result: exprText},
	"trimPrefix":  {args: exprText, result: exprText},
	"trimSuffix":  {args: exprText, result: exprText},
	"upper":       {args: exprText, result: exprText},
	"lower":       {args: exprText, result: exprText},
	"split":       {args: exprText, result: exprShallow},
	"indexOf":     {args: exprText},
	"lastIndexOf": {args: exprText},
	"hasPrefix":   {args: exprText},
	"hasSuffix":   {args: exprText},
	"max":         {args: exprDeep}, // flattens nested lists
	"min":         {args: exprDeep},
	"mean":        {args: exprDeep},
	"median":      {args: exprSorted},
	"duration":    {args: exprText},
	"date":        {args: exprText, weight: 8}, // tries seven layouts without one
	"keys":        {args: exprShallow},
	"values":      {args: exprShallow},
	"reverse":     {args: exprShallow},
	"sort":        {args: exprSorted},
	// ours
	"concat":  {args: exprDeep, result: exprText},
	"string":  {args: exprDeep, result: exprText},
	"join":    {args: exprDeep, result: exprText},
	"replace": {args: exprText, result: exprText},
	"format":  {args: exprText, result: exprText},
}

// exprCostPatch threads the evaluation budget through the tree; it runs in
// the second pass of Compile, after the time zone patch.
type exprCostPatch struct {
	x      *Exprs
	types  map[ast.Node]reflect.Type // static types of the nodes this patch made
	ranges map[ast.Node]ast.Node     // hidden range calls and the a..b they replaced
}

// Visit implements ast.Visitor. Walk visits children first, so the operands
// of a node are already patched when the node is.
func (p *exprCostPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.PredicateNode:
		n.Node = p.spend(n.Node, exprLoopSteps+exprNodeCount(n.Node))
	case *ast.ArrayNode:
		if !exprAllLiteral(n.Nodes) {
			ast.Patch(node, p.spend(n, 1))
		}
	case *ast.MapNode:
		for _, pair := range n.Pairs {
			if pn, ok := pair.(*ast.PairNode); ok && !exprIsLiteral(pn.Value) {
				ast.Patch(node, p.spend(n, 1))
				break
			}
		}
	case *ast.BinaryNode:
		p.binary(node, n)
	case *ast.BuiltinNode:
		p.builtin(node, n)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok && exprFunctionNames[id.Value] {
			if c, ok := exprCallCosts[id.Value]; ok {
				p.call(node, n.Arguments, c)
			}
		}
	}
}

func (p *exprCostPatch) binary(node *ast.Node, n *ast.BinaryNode) {
	switch n.Operator {
	case "+":
		_, ls := n.Left.(*ast.StringNode)
		_, rs := n.Right.(*ast.StringNode)
		if p.maybeString(n.Left) && p.maybeString(n.Right) && !(ls && rs) {
			call := p.hidden(exprFnAdd, n, n.Left, n.Right)
			p.types[call] = n.Type() // so an enclosing + still sees a string
			ast.Patch(node, call)
		}
	case "..":
		call := p.hidden(exprFnRange, n, n.Left, n.Right)
		p.types[call] = n.Type()
		p.ranges[call] = n
		ast.Patch(node, call)
	case "in":
		if orig, ok := p.ranges[n.Right]; ok && p.kindOf(n.Left) == reflect.Int && exprIntRange(orig) {
			n.Right = orig // the optimizer turns x in 1..9 into two comparisons
			break
		}
		n.Left = p.charge(n.Left, exprText, 0, 1)
		if array, ok := n.Right.(*ast.ArrayNode); ok && exprAllLiteral(array.Nodes) {
			break // the optimizer makes a set of it
		}
		if k := p.kindOf(n.Right); k != reflect.Map {
			n.Right = p.charge(n.Right, exprDeep, 0, 1)
		}
	case "==", "!=":
		_, ln := n.Left.(*ast.NilNode)
		_, rn := n.Right.(*ast.NilNode)
		if !ln && !rn {
			n.Left = p.charge(n.Left, exprDeep, 0, 1)
			n.Right = p.charge(n.Right, exprDeep, 0, 1)
		}
	case "<", ">", "<=", ">=", "contains", "startsWith", "endsWith":
		n.Left = p.charge(n.Left, exprText, 0, 1)
		n.Right = p.charge(n.Right, exprText, 0, 1)
	case "matches":
		pattern, ok := n.Right.(*ast.StringNode)
		if !ok {
			call := p.hidden(exprFnMatches, n, n.Left, n.Right)
			p.types[call] = n.Type()
			ast.Patch(node, call)
			break
		}
		insts, err := exprRegexInsts(pattern.Value)
		if err != nil {
			insts = exprMaxPatternInsts // the first pass rejected it already
		}
		n.Left = p.charge(n.Left, exprRegexInput, 0, insts)
	}
}

func (p *exprCostPatch) builtin(node *ast.Node, n *ast.BuiltinNode) {
	switch n.Name {
	case "count", "sum":
		if len(n.Arguments) == 1 { // no predicate: the loop is over the list itself
			n.Arguments[0] = p.charge(n.Arguments[0], exprShallow, 0, 1)
		}
		return
	case "sortBy":
		ast.Patch(node, p.charge(n, exprLogN, 1, 1))
		return
	case "uniq":
		if len(n.Arguments) == 1 {
			call := p.hidden(exprFnUniq, n, n.Arguments[0])
			p.types[call] = n.Type()
			ast.Patch(node, call)
		}
		return
	case "trim":
		if len(n.Arguments) == 2 {
			call := p.hidden(exprFnTrim, n, n.Arguments[0], n.Arguments[1])
			p.types[call] = n.Type()
			ast.Patch(node, call)
			return
		}
	case "date":
		// The time zone patch put the service's zone first; a named zone
		// (checked in the first pass) replaces it, loaded once here.
		if len(n.Arguments) == 4 {
			if name, ok := n.Arguments[3].(*ast.StringNode); ok {
				if zone, err := exprLoadZone(name.Value); err == nil {
					n.Arguments = []ast.Node{&ast.ConstantNode{Value: zone}, n.Arguments[1], n.Arguments[2]}
				}
			}
		}
	}
	if c, ok := exprCallCosts[n.Name]; ok {
		p.call(node, n.Arguments, c)
	}
}

// call charges the arguments of a call before it and its result after it.
func (p *exprCostPatch) call(node *ast.Node, args []ast.Node, c exprCallCost) {
	weight := max(c.weight, 1)
	for i, a := range args {
		args[i] = p.charge(a, c.args, 0, weight)
	}
	if c.result != exprNone {
		ast.Patch(node, p.charge(*node, c.result, 1, 1))
	}
}

// charge wraps node in tracecraft.cost(budget, node, measure, base, weight),
// which charges base + weight × measure(value) and returns the value; nodes
// whose values measure zero are left alone.
func (p *exprCostPatch) charge(node ast.Node, m exprMeasure, base, weight int) ast.Node {
	if m == exprNone || !p.sized(node, m) {
		return node
	}
	call := p.hidden(exprFnCost, node, node,
		exprInt(int(m), node), exprInt(base, node), exprInt(weight, node))
	p.types[call] = p.typeOf(node)
	return call
}

// spend wraps node in tracecraft.spend(budget, node, weight), which charges
// weight plus the value's size and returns it unchanged.
func (p *exprCostPatch) spend(node ast.Node, weight int) ast.Node {
	call := p.hidden(exprFnSpend, node, node, exprInt(weight, node))
	p.types[call] = p.typeOf(node)
	return call
}

// hidden returns a call of a hidden function with the budget as its first
// argument, at the location of at.
func (p *exprCostPatch) hidden(name string, at ast.Node, args ...ast.Node) *ast.CallNode {
	call := &ast.CallNode{
		Callee:    exprIdent(name, at),
		Arguments: append([]ast.Node{exprIdent(exprBudgetVar, at)}, args...),
	}
	call.SetLocation(at.Location())
	return call
}

// sized reports whether the value of node can measure more than zero.
func (p *exprCostPatch) sized(node ast.Node, m exprMeasure) bool {
	switch n := node.(type) {
	case *ast.NilNode, *ast.BoolNode, *ast.IntegerNode, *ast.FloatNode:
		return false
	case *ast.StringNode:
		return len(n.Value) >= 16
	}
	switch p.kindOf(node) {
	case reflect.String, reflect.Interface:
		return true
	case reflect.Slice, reflect.Array, reflect.Map:
		return m != exprText
	}
	return false
}

func (p *exprCostPatch) typeOf(node ast.Node) reflect.Type {
	if t, ok := p.types[node]; ok {
		return t
	}
	return node.Type()
}

func (p *exprCostPatch) kindOf(node ast.Node) reflect.Kind {
	t := p.typeOf(node)
	if t == nil {
		return reflect.Interface
	}
	return t.Kind()
}

func (p *exprCostPatch) maybeString(node ast.Node) bool {
	if _, isNil := node.(*ast.NilNode); isNil {
		return false
	}
	k := p.kindOf(node)
	return k == reflect.String || k == reflect.Interface
}

func exprInt(v int, at ast.Node) *ast.IntegerNode {
	n := &ast.IntegerNode{Value: v}
	n.SetLocation(at.Location())
	return n
}

func exprIntRange(node ast.Node) bool {
	r, ok := node.(*ast.BinaryNode)
	if !ok {
		return false
	}
	_, from := r.Left.(*ast.IntegerNode)
	_, to := r.Right.(*ast.IntegerNode)
	return from && to
}

// exprNodeCount is the number of nodes of a tree: about the number of VM
// instructions one evaluation of it runs, loops aside.
func exprNodeCount(node ast.Node) int {
	var c exprCounter
	ast.Walk(&node, &c)
	return int(c)
}

type exprCounter int

func (c *exprCounter) Visit(*ast.Node) { *c++ }

// exprRegexInsts checks the size of a pattern and returns the number of
// instructions of its program.
func exprRegexInsts(pattern string) (int, error) {
	if len(pattern) > exprMaxPatternLen {
		return 0, exprBudgetError(fmt.Sprintf("pattern is too long (%d bytes, at most %d)", len(pattern), exprMaxPatternLen))
	}
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return 0, fmt.Errorf("invalid pattern: %w", err)
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return 0, fmt.Errorf("invalid pattern: %w", err)
	}
	if len(prog.Inst) > exprMaxPatternInsts {
		return 0, exprBudgetError(fmt.Sprintf("pattern is too complex (%d instructions, at most %d)", len(prog.Inst), exprMaxPatternInsts))
	}
	return len(prog.Inst), nil
}

// exprRegexSteps is the cost of matching n bytes against a program of
// insts instructions.
func exprRegexSteps(n, insts int) int {
	steps := insts * (1 + n/16)
	if n*insts >= exprRegexBacktrackBits {
		steps *= exprRegexStepsPerInst
	}
	return steps
}

func exprLoadZone(name string) (*time.Location, error) {
	if name == "" || name == "Local" { // the host's zone is no plant's zone
		return nil, fmt.Errorf("unknown time zone %q", name)
	}
	return time.LoadLocation(name)
}

// budgetFunctions are the hidden functions the cost patch calls.
func (x *Exprs) budgetFunctions() []expr.Option {
	raw := func(fn *builtin.Function) expr.Option {
		return func(c *conf.Config) { c.Functions[fn.Name] = fn }
	}
	same := func(args []reflect.Type) (reflect.Type, error) { return args[1], nil }
	anyType := reflect.TypeOf((*any)(nil)).Elem()
	uniq := builtin.Builtins[builtin.Index["uniq"]]
	return []expr.Option{
		raw(&builtin.Function{
			Name: exprFnSpend,
			Func: func(args ...any) (any, error) {
				b := args[0].(*exprBudget)
				return args[1], b.spend(args[2].(int) + exprSize(args[1], b.left))
			},
			Validate: same,
		}),
		raw(&builtin.Function{
			Name: exprFnCost,
			Func: func(args ...any) (any, error) {
				b := args[0].(*exprBudget)
				m, base, weight := exprMeasure(args[2].(int)), args[3].(int), args[4].(int)
				if m == exprRegexInput {
					s, _ := args[1].(string)
					return args[1], b.spend(base + exprRegexSteps(len(s), weight))
				}
				n := exprMeasureOf(m, args[1], b.left)
				if n > 0 && weight > (math.MaxInt/2)/n {
					n, weight = math.MaxInt/2, 1
				}
				return args[1], b.spend(base + weight*n)
			},
			Validate: same,
		}),
		raw(&builtin.Function{
			Name: exprFnAdd,
			Func: func(args ...any) (any, error) {
				b := args[0].(*exprBudget)
				sum := runtime.Add(args[1], args[2])
				if s, ok := sum.(string); ok {
					if err := x.checkLen(len(s)); err != nil {
						return nil, err
					}
					return s, b.spend(len(s) / 16)
				}
				return sum, nil
			},
			Validate: func(args []reflect.Type) (reflect.Type, error) {
				if args[1] != nil && args[2] != nil && args[1].Kind() == reflect.String && args[2].Kind() == reflect.String {
					return args[1], nil
				}
				return anyType, nil
			},
		}),
		raw(&builtin.Function{
			Name: exprFnRange,
			Func: func(args ...any) (any, error) {
				return x.makeRange(args[0].(*exprBudget), runtime.ToInt(args[1]), runtime.ToInt(args[2]))
			},
			Validate: func([]reflect.Type) (reflect.Type, error) { return reflect.TypeOf([]int(nil)), nil },
		}),
		raw(&builtin.Function{
			Name: exprFnUniq,
			Func: func(args ...any) (any, error) {
				return exprUniq(args[0].(*exprBudget), args[1])
			},
			Validate: func(args []reflect.Type) (reflect.Type, error) { return uniq.Validate(args[1:]) },
		}),
		raw(&builtin.Function{
			Name: exprFnTrim,
			Func: func(args ...any) (any, error) {
				return exprTrim(args[0].(*exprBudget), args[1], args[2])
			},
			Validate: func([]reflect.Type) (reflect.Type, error) { return reflect.TypeOf(""), nil },
		}),
		raw(&builtin.Function{
			Name: exprFnMatches,
			Func: func(args ...any) (any, error) {
				return exprMatches(args[0].(*exprBudget), args[1], args[2])
			},
			Validate: func([]reflect.Type) (reflect.Type, error) { return reflect.TypeOf(false), nil },
		}),
	}
}

// makeRange builds a..b after charging its length; a range longer than the
// memory budget is refused whatever the step budget.
func (x *Exprs) makeRange(b *exprBudget, from, to int) ([]int, error) {
	if to < from {
		return []int{}, nil
	}
	n := uint64(to) - uint64(from) + 1 // cannot overflow into a wrong small number unless it is the whole int range
	if n == 0 || n > uint64(x.memoryBudget) {
		// The bounds may be data: they are not quoted.
		return nil, exprBudgetError(fmt.Sprintf("range is too long (more than %d elements)", x.memoryBudget))
	}
	if err := b.spend(int(n)); err != nil {
		return nil, err
	}
	return runtime.MakeRange(from, to), nil
}

// exprUniq is expr's uniq (the first of equal values is kept, numbers equal
// across int and float) in linear time: scalars are looked up in a set, and
// only lists and objects are compared one by one, each comparison charged.
func exprUniq(b *exprBudget, v any) (any, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
		return nil, exprFailure("uniq: cannot take " + exprKindOfValue(v))
	}
	// A set lookup of a boxed value costs about four steps.
	if err := b.spend(1 + 4*rv.Len() + exprSize(v, b.left)); err != nil {
		return nil, err
	}
	out := []any{}
	seen := make(map[any]struct{})
	var others []any
	for i := 0; i < rv.Len(); i++ {
		e := rv.Index(i).Interface()
		if k, ok := exprUniqKey(e); ok {
			if _, dup := seen[k]; dup {
				continue
			}
			seen[k] = struct{}{}
		} else {
			dup := false
			for _, o := range others {
				if err := b.spend(1 + exprSize(o, b.left)); err != nil {
					return nil, err
				}
				if runtime.Equal(o, e) {
					dup = true
					break
				}
			}
			if dup {
				continue
			}
			others = append(others, e)
		}
		out = append(out, e)
	}
	return out, nil
}

// Keys of exprUniq's set, one type per kind of value expr's == tells apart.
type (
	exprNilKey  struct{}
	exprNumKey  float64 // ints exactly representable as float64 too
	exprIntKey  int64
	exprUintKey uint64
	exprTimeKey struct {
		sec  int64
		nsec int
	}
	exprDurationKey time.Duration
)

func exprUniqKey(v any) (any, bool) {
	switch v := v.(type) {
	case nil:
		return exprNilKey{}, true
	case string:
		return v, true
	case bool:
		return v, true
	case float64:
		return exprNumKey(v), true
	case float32:
		return exprNumKey(v), true
	case time.Time:
		return exprTimeKey{v.Unix(), v.Nanosecond()}, true
	case time.Duration:
		return exprDurationKey(v), true
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		i := rv.Int()
		if i >= -1<<53 && i <= 1<<53 {
			return exprNumKey(i), true
		}
		return exprIntKey(i), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		u := rv.Uint()
		if u <= 1<<53 {
			return exprNumKey(u), true
		}
		if u <= math.MaxInt64 {
			return exprIntKey(u), true
		}
		return exprUintKey(u), true
	case reflect.Slice, reflect.Map, reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			return exprNilKey{}, true
		}
	}
	return nil, false
}

// exprTrim is trim(s, cutset): with a cutset outside ASCII, Go looks up
// every trimmed rune in the cutset, so the cost is their product.
func exprTrim(b *exprBudget, s, cutset any) (any, error) {
	str, ok1 := s.(string)
	cut, ok2 := cutset.(string)
	if !ok1 || !ok2 {
		return nil, exprFailure("trim: arguments must be strings, got " + exprKindOfValue(s) + " and " + exprKindOfValue(cutset))
	}
	cost := 1 + len(str)/16 + len(cut)/16
	if !exprIsASCII(cut) {
		cost += (1 + len(str)/16) * (1 + len(cut)/16)
	}
	if err := b.spend(cost); err != nil {
		return nil, err
	}
	return strings.Trim(str, cut), nil
}

func exprIsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// exprMatches is s matches pattern for a pattern computed at run time:
// compiled on every evaluation, so its compilation is charged too.
func exprMatches(b *exprBudget, s, pattern any) (any, error) {
	if runtime.IsNil(s) || runtime.IsNil(pattern) {
		return false, nil
	}
	str, ok1 := s.(string)
	pat, ok2 := pattern.(string)
	if !ok1 || !ok2 {
		return nil, exprFailure("matches: operands must be strings, got " + exprKindOfValue(s) + " and " + exprKindOfValue(pattern))
	}
	if len(pat) > exprMaxPatternLen { // a computed pattern is data: its size is not told
		return nil, exprBudgetError(fmt.Sprintf("pattern is too long (at most %d bytes)", exprMaxPatternLen))
	}
	if err := b.spend(exprRegexCompileSteps * len(pat)); err != nil {
		return nil, err
	}
	insts, err := exprRegexInsts(pat)
	if errors.Is(err, ErrExprBudget) {
		return nil, exprBudgetError(fmt.Sprintf("pattern is too complex (at most %d instructions)", exprMaxPatternInsts))
	}
	if err != nil { // the parser's message quotes the pattern
		return nil, exprFailure("matches: the pattern is not a valid regular expression")
	}
	if err := b.spend(exprRegexCompileSteps*insts + exprRegexSteps(len(str), insts)); err != nil {
		return nil, err
	}
	re, err := regexp.Compile(pat)
	if err != nil {
		return nil, exprFailure("matches: the pattern is not a valid regular expression")
	}
	return re.MatchString(str), nil
}
