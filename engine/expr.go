package engine

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai must load on hosts without a zoneinfo database
	"unicode"
	"unicode/utf8"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/builtin"
	"github.com/expr-lang/expr/checker"
	"github.com/expr-lang/expr/checker/nature"
	"github.com/expr-lang/expr/conf"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/optimizer"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/patcher"
	"github.com/expr-lang/expr/types"
	"github.com/expr-lang/expr/vm"
)

// ErrExprBudget is wrapped by the error of an evaluation that ran out of its
// memory, step or string budget; check it with errors.Is.
var ErrExprBudget = errors.New("expression budget exceeded")

// ExprKind is the kind of a variable or of an expression result.
type ExprKind int

const (
	// ExprAny is a value of any type, checked at run time; as the result
	// wanted from Compile it means no constraint.
	ExprAny ExprKind = iota
	// ExprString is a string.
	ExprString
	// ExprNumber is a float64; ints are accepted and converted.
	ExprNumber
	// ExprInt is an int; whole float64 values (as decoded JSON has) are accepted.
	ExprInt
	// ExprBool is a bool.
	ExprBool
	// ExprTime is a time.Time; RFC 3339 strings are accepted.
	ExprTime
	// ExprDuration is a time.Duration; strings such as "90m" are accepted.
	ExprDuration
	// ExprList is a []any whose elements have the type ExprType.Elem.
	ExprList
	// ExprObject is a map[string]any with the fields of ExprType.Fields.
	ExprObject
)

var exprKindNames = [...]string{
	ExprAny:      "any",
	ExprString:   "string",
	ExprNumber:   "number",
	ExprInt:      "int",
	ExprBool:     "bool",
	ExprTime:     "time",
	ExprDuration: "duration",
	ExprList:     "list",
	ExprObject:   "object",
}

// String returns the name analysts see in messages: "number", "list", ...
func (k ExprKind) String() string {
	if k < 0 || int(k) >= len(exprKindNames) {
		return fmt.Sprintf("kind(%d)", int(k))
	}
	return exprKindNames[k]
}

// MarshalText encodes the kind by its name, so definitions read "number".
func (k ExprKind) MarshalText() ([]byte, error) {
	if k < 0 || int(k) >= len(exprKindNames) {
		return nil, fmt.Errorf("unknown expression kind %d", int(k))
	}
	return []byte(exprKindNames[k]), nil
}

// UnmarshalText decodes a kind name; an unknown name is an error.
func (k *ExprKind) UnmarshalText(text []byte) error {
	for i, name := range exprKindNames {
		if name == string(text) {
			*k = ExprKind(i)
			return nil
		}
	}
	return fmt.Errorf("unknown expression kind %q", text)
}

// ExprType describes one variable of an expression environment. Elem is the
// element type of an ExprList (nil means list of any); Fields are the known
// fields of an ExprObject (nil means an object whose fields are not checked).
type ExprType struct {
	Kind   ExprKind            `json:"kind"`
	Elem   *ExprType           `json:"elem,omitempty"`
	Fields map[string]ExprType `json:"fields,omitempty"`
}

// ExprListOf returns the type of a list whose elements have type elem.
func ExprListOf(elem ExprType) ExprType {
	return ExprType{Kind: ExprList, Elem: &elem}
}

// ExprObjectOf returns the type of an object with the given known fields;
// reading any other field is a compile error.
func ExprObjectOf(fields map[string]ExprType) ExprType {
	return ExprType{Kind: ExprObject, Fields: fields}
}

// String returns a canonical description such as "list<object{id: string, qty: int}>";
// equal types give equal strings, so it doubles as a cache fingerprint.
func (t ExprType) String() string {
	var b strings.Builder
	t.write(&b)
	return b.String()
}

func (t ExprType) write(b *strings.Builder) {
	b.WriteString(t.Kind.String())
	switch t.Kind {
	case ExprList:
		if t.Elem != nil {
			b.WriteByte('<')
			t.Elem.write(b)
			b.WriteByte('>')
		}
	case ExprObject:
		if t.Fields != nil {
			b.WriteByte('{')
			for i, name := range exprSortedKeys(t.Fields) {
				if i > 0 {
					b.WriteString(", ")
				}
				b.WriteString(strconv.Quote(name))
				b.WriteString(": ")
				t.Fields[name].write(b)
			}
			b.WriteByte('}')
		}
	}
}

// exprType maps the description to the expr type checker's vocabulary.
func (t ExprType) exprType() types.Type {
	switch t.Kind {
	case ExprString:
		return types.String
	case ExprNumber:
		return types.Float64
	case ExprInt:
		return types.Int
	case ExprBool:
		return types.Bool
	case ExprTime:
		return types.TypeOf(time.Time{})
	case ExprDuration:
		return types.TypeOf(time.Duration(0))
	case ExprList:
		if t.Elem == nil {
			return types.TypeOf([]any{})
		}
		return types.Array(t.Elem.exprType())
	case ExprObject:
		if t.Fields == nil {
			return types.TypeOf(map[string]any{})
		}
		m := make(types.Map, len(t.Fields))
		for name, f := range t.Fields {
			m[name] = f.exprType()
		}
		return m
	default:
		return types.Any
	}
}

func (t ExprType) validate(path string) error {
	if t.Kind < ExprAny || t.Kind > ExprObject {
		return fmt.Errorf("%s: unknown kind %d", path, int(t.Kind))
	}
	if t.Elem != nil {
		if t.Kind != ExprList {
			return fmt.Errorf("%s: elem is only for lists", path)
		}
		if err := t.Elem.validate(path + "[]"); err != nil {
			return err
		}
	}
	if t.Fields != nil && t.Kind != ExprObject {
		return fmt.Errorf("%s: fields are only for objects", path)
	}
	for name, f := range t.Fields {
		if name == "" {
			return fmt.Errorf("%s: empty field name", path)
		}
		if err := f.validate(path + "." + name); err != nil {
			return err
		}
	}
	return nil
}

func (t ExprType) clone() ExprType {
	c := ExprType{Kind: t.Kind}
	if t.Elem != nil {
		e := t.Elem.clone()
		c.Elem = &e
	}
	if t.Fields != nil {
		c.Fields = make(map[string]ExprType, len(t.Fields))
		for name, f := range t.Fields {
			c.Fields[name] = f.clone()
		}
	}
	return c
}

// ExprEnv names the variables an expression may read and their types.
type ExprEnv map[string]ExprType

func (e ExprEnv) fingerprint() string {
	var b strings.Builder
	for _, name := range exprSortedKeys(e) {
		b.WriteString(strconv.Quote(name))
		b.WriteByte(':')
		e[name].write(&b)
		b.WriteByte(';')
	}
	return b.String()
}

// ExprError is a compile or run-time error of an expression. Line and Column
// are 1-based and zero when the position is unknown; Snippet shows the source
// line with a caret under the position. The Message of a run-time error names
// the operation and the kinds of its operands, never their values (see
// expr_runtime.go), so it may be shown to anyone who may see the source.
type ExprError struct {
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
	Snippet string `json:"snippet,omitempty"`
	// Err is the cause, such as ErrExprBudget or context.Canceled.
	Err error `json:"-"`
	// detail is the message expr gave for a run-time error, which may quote
	// values: for the server's log only (ExprDetail).
	detail string
}

// Error returns "line L, column C: message" followed by the snippet on its
// own lines, or just the message when the position is unknown.
func (e *ExprError) Error() string {
	if e.Line == 0 {
		return e.Message
	}
	s := fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Message)
	if e.Snippet != "" {
		s += "\n" + e.Snippet
	}
	return s
}

// Unwrap returns the cause of the error.
func (e *ExprError) Unwrap() error { return e.Err }

// exprMaxMessageLen caps the message of an error, which may quote an
// operand as long as the longest string an expression can build.
const exprMaxMessageLen = 1 << 10

func exprErrorFrom(fe *file.Error) *ExprError {
	e := &ExprError{Message: exprTruncate(fe.Message, exprMaxMessageLen), Err: fe.Prev}
	if fe.Line > 0 {
		e.Line = fe.Line
		e.Column = fe.Column + 1 // expr counts columns from zero
		e.Snippet = strings.TrimPrefix(fe.Snippet, "\n")
	}
	if fe.Message == "memory budget exceeded" { // the VM panics with a bare string
		e.Err = ErrExprBudget
	}
	return e
}

// exprTruncate cuts s to at most n bytes on a rune boundary, marking the cut.
func exprTruncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// exprBudgetError is a budget failure with its own message that still
// matches ErrExprBudget.
type exprBudgetError string

func (e exprBudgetError) Error() string { return string(e) }
func (e exprBudgetError) Unwrap() error { return ErrExprBudget }

// ExprOption configures an Exprs service.
type ExprOption func(*Exprs)

// WithClock sets the clock behind now() and today(); tests pass a fixed one.
func WithClock(clock func() time.Time) ExprOption {
	return func(x *Exprs) { x.clock = clock }
}

// WithLocation sets the time zone of now(), today(), daysBetween(), format()
// and of dates parsed by date(); the default is Asia/Shanghai.
func WithLocation(loc *time.Location) ExprOption {
	return func(x *Exprs) { x.loc = loc }
}

// WithMaxNodes limits the size of an expression's syntax tree, checked at
// compile time.
func WithMaxNodes(n uint) ExprOption {
	return func(x *Exprs) { x.maxNodes = n }
}

// WithMemoryBudget sets the memory budget of expr's virtual machine for one
// evaluation, counted in allocated elements; it is also the longest range
// a..b an expression may build.
func WithMemoryBudget(n uint) ExprOption {
	return func(x *Exprs) { x.memoryBudget = n }
}

// WithStepBudget limits the work of one evaluation, counted in steps of
// roughly a VM instruction each: every loop iteration costs the size of its
// body, a range a..b costs its length, and every function or operator whose
// work grows with its operands (text functions, sort, uniq, join, matches,
// contains, ==, in, ...) costs one step per list element or per 16 bytes of
// text it reads and makes, before it runs; see expr_budget.go.
func WithStepBudget(n int) ExprOption {
	return func(x *Exprs) { x.stepBudget = n }
}

// WithEvalTimeout caps the wall-clock time of one evaluation, on top of the
// caller's context; zero means no cap. The step budget is what bounds the
// work; the cap stops an evaluation the step model prices wrong.
func WithEvalTimeout(d time.Duration) ExprOption {
	return func(x *Exprs) { x.evalTimeout = d }
}

// WithMaxStringLen limits the length in bytes of a string built by an
// expression.
func WithMaxStringLen(n int) ExprOption {
	return func(x *Exprs) { x.maxStringLen = n }
}

// Defaults of an Exprs service.
const (
	exprDefaultMaxNodes     = 2000
	exprDefaultStepBudget   = 1_000_000
	exprDefaultMaxStringLen = 1 << 20
	exprDefaultEvalTimeout  = 500 * time.Millisecond
	exprMaxSourceLen        = 64 << 10
	exprCacheMax            = 4096
)

// exprAllowedBuiltins are the expr builtins kept as they are; every other
// builtin is disabled or replaced by one of ours.
var exprAllowedBuiltins = map[string]bool{
	"all": true, "none": true, "any": true, "one": true,
	"filter": true, "map": true, "count": true, "sum": true,
	"find": true, "findIndex": true, "findLast": true, "findLastIndex": true,
	"groupBy": true, "sortBy": true,
	"len": true, "abs": true, "ceil": true, "floor": true, "int": true, "float": true,
	"trim": true, "trimPrefix": true, "trimSuffix": true, "upper": true, "lower": true,
	"split": true, "indexOf": true, "lastIndexOf": true, "hasPrefix": true, "hasSuffix": true,
	"max": true, "min": true, "mean": true, "median": true,
	"duration": true, "date": true,
	"first": true, "last": true, "keys": true, "values": true,
	"reverse": true, "uniq": true, "sort": true,
}

// Exprs compiles and caches the expressions of definitions: formulas,
// workflow conditions and rules. A Program it returns is shared and safe for
// concurrent use.
//
// Expressions have the operators of expr (arithmetic, comparison, and/or/not,
// in, contains, startsWith, endsWith, matches, ?:, ??, let; contains,
// startsWith and endsWith are infix operators, name startsWith "A", so they
// cannot also be functions) and these functions:
//
//   - dates: now() and today() (midnight) in the service's zone, addDays(t, n),
//     daysBetween(a, b) (calendar days from a to b), format(t, "yyyy-MM-dd
//     HH:mm") (nil formats as ""), date(s[, layout[, "Zone/Name"]]) (a
//     zone is a quoted name, loaded at compile time) and duration(s);
//   - numbers: round(x), round(x, digits) (half away from zero), abs, ceil,
//     floor, int, float, max, min, mean, median;
//   - text: concat(a, b, ...) (nil adds nothing), string(x), join(list[, sep]),
//     replace(s, old, new), upper, lower, trim, trimPrefix, trimSuffix, split,
//     indexOf, lastIndexOf, hasPrefix, hasSuffix, len;
//   - lists: all, none, any, one, filter, map, count, sum, find, findIndex,
//     findLast, findLastIndex, groupBy, sortBy, first, last, keys, values,
//     reverse, uniq, sort;
//   - nil: coalesce(a, b, ...) returns the first argument that is not nil;
//   - working days, sub-tables and other records: workdays(a, b), sumOf, countOf, minOf,
//     maxOf (rows, "column") and lookup("form", "field", value) (expr_helpers.go).
//
// Calling any other expr builtin (reduce, repeat, toJSON, get, ...) or
// reading $env is a compile error. Every evaluation runs within a step
// budget charged by the work done and a wall-clock cap (expr_budget.go).
type Exprs struct {
	clock        func() time.Time
	loc          *time.Location
	maxNodes     uint
	memoryBudget uint
	stepBudget   int
	maxStringLen int
	evalTimeout  time.Duration
	maxLookups   int // lookup() calls in one evaluation (expr_helpers.go)
	funcs        []expr.Option

	mu    sync.RWMutex
	cache map[exprCacheKey]*Program
}

type exprCacheKey struct {
	source string
	env    string
	want   ExprKind
}

// NewExprs returns an expression service.
func NewExprs(opts ...ExprOption) *Exprs {
	x := &Exprs{
		clock:        time.Now,
		loc:          exprDefaultLocation(),
		maxNodes:     exprDefaultMaxNodes,
		memoryBudget: conf.DefaultMemoryBudget,
		stepBudget:   exprDefaultStepBudget,
		maxStringLen: exprDefaultMaxStringLen,
		evalTimeout:  exprDefaultEvalTimeout,
		cache:        make(map[exprCacheKey]*Program),
	}
	for _, opt := range opts {
		opt(x)
	}
	if x.clock == nil {
		x.clock = time.Now
	}
	if x.loc == nil {
		x.loc = exprDefaultLocation()
	}
	x.funcs = append(x.functions(), x.helperFunctions()...)
	return x
}

func exprDefaultLocation() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
}

// Compile type-checks source against env and returns its program. When want
// is not ExprAny the result must be of that kind, so a condition is compiled
// with ExprBool. Mistakes are *ExprError values naming line and column.
// Compiling the same source, env and want again returns the same *Program.
func (x *Exprs) Compile(source string, env ExprEnv, want ExprKind) (*Program, error) {
	key := exprCacheKey{source: source, env: env.fingerprint(), want: want}
	x.mu.RLock()
	p := x.cache[key]
	x.mu.RUnlock()
	if p != nil {
		return p, nil
	}

	p, err := x.compile(source, env, want)
	if err != nil {
		return nil, err
	}

	x.mu.Lock()
	defer x.mu.Unlock()
	if prev := x.cache[key]; prev != nil {
		return prev, nil // compiled concurrently: share the first one
	}
	if len(x.cache) >= exprCacheMax {
		for k := range x.cache { // drop an arbitrary entry; definitions recompile cheaply
			delete(x.cache, k)
			break
		}
	}
	x.cache[key] = p
	return p, nil
}

func (x *Exprs) compile(source string, env ExprEnv, want ExprKind) (_ *Program, err error) {
	if want < ExprAny || want > ExprObject {
		return nil, fmt.Errorf("compile expression: unknown result kind %d", int(want))
	}
	if len(source) > exprMaxSourceLen {
		return nil, &ExprError{Message: fmt.Sprintf("expression is too long (%d bytes, at most %d)", len(source), exprMaxSourceLen)}
	}
	if strings.TrimSpace(source) == "" {
		return nil, &ExprError{Message: "expression is empty"}
	}
	envType := make(types.Map, len(env)+1)
	for name, t := range env {
		if err := exprCheckName(name); err != nil {
			return nil, fmt.Errorf("compile expression: %w", err)
		}
		if err := t.validate(name); err != nil {
			return nil, fmt.Errorf("compile expression: variable %w", err)
		}
		envType[name] = t.exprType()
	}
	envType[exprBudgetVar] = types.TypeOf(&exprBudget{})

	base := []expr.Option{
		expr.Env(envType),
		expr.DisableAllBuiltins(),
		expr.MaxNodes(x.maxNodes),
	}
	for name := range exprAllowedBuiltins {
		base = append(base, expr.EnableBuiltin(name))
	}
	base = append(base, x.funcs...)

	defer func() {
		if r := recover(); r != nil { // an expr bug must not take the server down
			err = fmt.Errorf("compile expression: internal error: %v", r)
		}
	}()

	// The first pass parses and checks the expression as the analyst wrote
	// it, without patches: expr's checker keeps the type of a call from its
	// first visit, so with patches a type error inside a call's arguments
	// would go unreported. The second pass compiles it with the budget
	// threaded through.
	config := conf.CreateNew()
	for _, opt := range base {
		opt(config)
	}
	for name := range config.Disabled {
		delete(config.Builtins, name)
	}
	config.Check()
	located := func(err error) error {
		var fe *file.Error
		if !errors.As(err, &fe) {
			return fmt.Errorf("compile expression: %w", err)
		}
		e := exprErrorFrom(fe)
		if strings.Contains(e.Message, "exceeds maximum allowed nodes") {
			e.Message = fmt.Sprintf("expression is too large (more than %d nodes)", x.maxNodes)
			e.Err = ErrExprBudget
		}
		return e
	}
	tree, err := parser.ParseWithConfig(source, config)
	if err != nil {
		return nil, located(err)
	}
	guard := &exprPatch{x: x, env: env, used: make(map[string]bool)}
	ast.Walk(&tree.Node, guard)
	if guard.err != nil { // a forbidden feature outranks type errors
		return nil, exprErrorFrom(guard.err.Bind(file.NewSource(source)))
	}
	lookups := &exprLookupRefs{}
	ast.Walk(&tree.Node, lookups)
	if lookups.err != nil {
		return nil, exprErrorFrom(lookups.err.Bind(file.NewSource(source)))
	}
	got, err := checker.Check(tree, config)
	if err != nil {
		return nil, located(err)
	}
	if err := optimizer.Optimize(&tree.Node, config); err != nil { // folding 1 % 0 fails
		var fe *file.Error
		if errors.As(err, &fe) {
			err = fe.Bind(file.NewSource(source))
		}
		return nil, located(err)
	}
	if want != ExprAny && !exprKindAccepts(want, got) {
		fe := &file.Error{
			Location: file.Location{From: exprFirstRune(source)},
			Message:  fmt.Sprintf("result must be %s, got %s", want, exprKindOf(got)),
		}
		return nil, exprErrorFrom(fe.Bind(file.NewSource(source)))
	}

	costs := &exprCostPatch{x: x, types: make(map[ast.Node]reflect.Type), ranges: make(map[ast.Node]ast.Node)}
	prog, err := expr.Compile(source, append(slices.Clip(base),
		expr.Patch(patcher.WithTimezone{Location: x.loc}),
		expr.Patch(exprLookupPatch{}),
		expr.Patch(costs),
		expr.Patch(exprRecheckCalls{}),
	)...)
	if err != nil { // the first pass accepted it: the budget patch is at fault
		return nil, fmt.Errorf("compile expression: internal error: %w", err)
	}

	used := make(ExprEnv, len(guard.used))
	for name := range guard.used {
		used[name] = env[name].clone()
	}
	return &Program{x: x, source: source, used: used, want: want, prog: prog, lookups: lookups.refs}, nil
}

var exprReserved = map[string]bool{
	"true": true, "false": true, "nil": true, "in": true, "and": true, "or": true,
	"not": true, "let": true, "if": true, "else": true, "matches": true,
	"contains": true, "startsWith": true, "endsWith": true,
}

func exprCheckName(name string) error {
	if name == "" {
		return errors.New("empty variable name")
	}
	for i, r := range name {
		if !(r == '_' || unicode.IsLetter(r) || i > 0 && unicode.IsDigit(r)) {
			return fmt.Errorf("variable %q is not a valid name", name)
		}
	}
	if exprReserved[name] {
		return fmt.Errorf("variable %q is a reserved word", name)
	}
	if exprAllowedBuiltins[name] || exprFunctionNames[name] {
		return fmt.Errorf("variable %q clashes with the function %s()", name, name)
	}
	return nil
}

// exprFirstRune is the rune offset of the first non-space rune, where a
// whole-expression error points.
func exprFirstRune(source string) int {
	n := 0
	for _, r := range source {
		if !unicode.IsSpace(r) {
			return n
		}
		n++
	}
	return 0
}

var (
	exprTimeType     = reflect.TypeOf(time.Time{})
	exprDurationType = reflect.TypeOf(time.Duration(0))
)

// exprKindAccepts reports whether a value of static type t may be the result
// wanted; unknown types are checked again at run time.
func exprKindAccepts(want ExprKind, t reflect.Type) bool {
	if t == nil || t.Kind() == reflect.Interface || want == ExprAny {
		return true
	}
	switch want {
	case ExprString:
		return t.Kind() == reflect.String
	case ExprNumber:
		return exprIsNumberType(t)
	case ExprInt:
		return exprIsIntType(t)
	case ExprBool:
		return t.Kind() == reflect.Bool
	case ExprTime:
		return t == exprTimeType
	case ExprDuration:
		return t == exprDurationType
	case ExprList:
		return t.Kind() == reflect.Slice || t.Kind() == reflect.Array
	case ExprObject:
		return t.Kind() == reflect.Map
	}
	return false
}

func exprIsIntType(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return t != exprDurationType
	}
	return false
}

func exprIsNumberType(t reflect.Type) bool {
	return exprIsIntType(t) || t.Kind() == reflect.Float64 || t.Kind() == reflect.Float32
}

// exprKindOf names a Go type in the analysts' vocabulary.
func exprKindOf(t reflect.Type) string {
	switch {
	case t == nil:
		return "nil"
	case t == exprTimeType:
		return "time"
	case t == exprDurationType:
		return "duration"
	case exprIsIntType(t):
		return "int"
	case exprIsNumberType(t):
		return "number"
	}
	switch t.Kind() {
	case reflect.String:
		return "string"
	case reflect.Bool:
		return "bool"
	case reflect.Slice, reflect.Array:
		return "list"
	case reflect.Map, reflect.Struct:
		return "object"
	case reflect.Interface:
		return "any"
	}
	return t.String()
}

// exprPatch rejects what analysts may not use and notes the variables an
// expression reads. It walks the parsed tree in the first pass of Compile.
type exprPatch struct {
	x    *Exprs
	env  ExprEnv
	used map[string]bool // variables of env the expression reads
	err  *file.Error
}

func (p *exprPatch) fail(node ast.Node, format string, args ...any) {
	loc := node.Location()
	if p.err != nil && p.err.From <= loc.From {
		return // report the first problem in the source
	}
	p.err = &file.Error{Location: loc, Message: fmt.Sprintf(format, args...)}
}

// Visit implements ast.Visitor.
func (p *exprPatch) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "$env" {
			p.fail(n, "$env is not allowed")
		}
		if _, ok := p.env[n.Value]; ok {
			p.used[n.Value] = true
		}
	case *ast.BuiltinNode:
		if !exprAllowedBuiltins[n.Name] { // predicates parse even when disabled
			p.fail(n, "function %s is not allowed", n.Name)
		}
		if n.Name == "date" && len(n.Arguments) == 3 {
			// A zone name is loaded here, once, not on every evaluation.
			zone, ok := n.Arguments[2].(*ast.StringNode)
			if !ok {
				p.fail(n.Arguments[2], "date: the time zone must be a quoted name such as \"Asia/Shanghai\"")
			} else if _, err := exprLoadZone(zone.Value); err != nil {
				p.fail(zone, "date: unknown time zone %q", zone.Value)
			}
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			break
		}
		if _, isBuiltin := builtin.Index[id.Value]; isBuiltin && !exprAllowedBuiltins[id.Value] && !exprFunctionNames[id.Value] {
			p.fail(n, "function %s is not allowed", id.Value)
		}
		if id.Value == "format" && len(n.Arguments) == 2 {
			if layout, ok := n.Arguments[1].(*ast.StringNode); ok {
				if _, err := exprFormatTime(time.Time{}, layout.Value); err != nil {
					p.fail(layout, "%v", err)
				}
			}
		}
	case *ast.BinaryNode:
		if n.Operator == "matches" {
			if pattern, ok := n.Right.(*ast.StringNode); ok {
				// Syntax errors are the checker's to report.
				if _, err := exprRegexInsts(pattern.Value); errors.Is(err, ErrExprBudget) {
					p.fail(pattern, "%v", err)
					if p.err.From == pattern.Location().From {
						p.err.Wrap(err)
					}
				}
			}
		}
	}
}

// exprRecheckCalls runs last and forgets the types of call nodes: the checker
// trusts a call's type from its first pass and would not look again at
// arguments that patches have changed (a date() inside format() would miss
// its time zone's type).
type exprRecheckCalls struct{}

// Visit implements ast.Visitor.
func (exprRecheckCalls) Visit(node *ast.Node) {
	if n, ok := (*node).(*ast.CallNode); ok {
		n.SetNature(nature.Nature{})
	}
}

func exprIdent(name string, at ast.Node) *ast.IdentifierNode {
	id := &ast.IdentifierNode{Value: name}
	id.SetLocation(at.Location())
	return id
}

func exprIsLiteral(node ast.Node) bool {
	switch node.(type) {
	case *ast.StringNode, *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.NilNode:
		return true
	}
	return false
}

func exprAllLiteral(nodes []ast.Node) bool {
	for _, n := range nodes {
		if !exprIsLiteral(n) {
			return false
		}
	}
	return true
}

// Program is a compiled expression, safe for concurrent evaluation.
type Program struct {
	x      *Exprs
	source string
	used   ExprEnv // the variables the expression reads: only they are converted
	want   ExprKind
	prog   *vm.Program
	// lookups are the expression's lookup() calls (Lookups).
	lookups []ExprLookupRef
}

// Source returns the expression the program was compiled from.
func (p *Program) Source() string { return p.source }

// Eval runs the program with vars, which are converted to the types of the
// environment (a JSON number 3 becomes the int 3 for an int variable); a
// variable missing from vars is nil. Loops stop when ctx is done. A failure
// is an *ExprError when its position is known; one that ran out of budget
// matches ErrExprBudget.
func (p *Program) Eval(ctx context.Context, vars map[string]any) (any, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("eval expression: %w", err)
	}
	env := make(map[string]any, len(p.used)+1)
	for name, t := range p.used {
		v, err := exprConvert(t, vars[name])
		if err != nil {
			return nil, fmt.Errorf("eval expression: variable %s: %w", name, err)
		}
		env[name] = v
	}
	env[exprBudgetVar] = p.x.newBudget(ctx)

	machine := vm.VM{MemoryBudget: p.x.memoryBudget}
	out, err := machine.Run(p.prog, env)
	if err != nil {
		var fe *file.Error
		if errors.As(err, &fe) {
			return nil, exprRuntimeError(fe)
		}
		return nil, fmt.Errorf("eval expression: %w", err)
	}
	return p.result(out)
}

// result checks a value whose type was unknown at compile time.
func (p *Program) result(out any) (any, error) {
	if p.want == ExprAny {
		return out, nil
	}
	if out == nil {
		return nil, &ExprError{Message: fmt.Sprintf("result must be %s, got nil", p.want)}
	}
	v, err := exprConvert(ExprType{Kind: p.want}, out)
	if err != nil {
		return nil, &ExprError{Message: "result " + err.Error()}
	}
	return v, nil
}

// EvalBool evaluates a condition; the result must be a bool.
func (p *Program) EvalBool(ctx context.Context, vars map[string]any) (bool, error) {
	out, err := p.Eval(ctx, vars)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, &ExprError{Message: fmt.Sprintf("result must be bool, got %s", exprKindOfValue(out))}
	}
	return b, nil
}

// EvalFloat evaluates a formula; the result must be a number.
func (p *Program) EvalFloat(ctx context.Context, vars map[string]any) (float64, error) {
	out, err := p.Eval(ctx, vars)
	if err != nil {
		return 0, err
	}
	f, ok := exprToFloat(out)
	if !ok {
		return 0, &ExprError{Message: fmt.Sprintf("result must be number, got %s", exprKindOfValue(out))}
	}
	return f, nil
}

func exprKindOfValue(v any) string {
	if v == nil {
		return "nil"
	}
	return exprKindOf(reflect.TypeOf(v))
}

// exprNumberKind describes a value that should have been a whole number: "a fraction" for a
// number with one, else its kind.
func exprNumberKind(v any) string {
	if f, ok := exprToFloat(v); ok && f != math.Trunc(f) {
		return "a fraction"
	}
	return exprKindOfValue(v)
}

// exprConvert brings a value from outside (often decoded JSON) to the Go type
// the program was checked against, copying lists and objects only when an
// element has to change.
func exprConvert(t ExprType, v any) (any, error) {
	if exprConforms(t, v) {
		return v, nil
	}
	mismatch := func() error {
		return fmt.Errorf("must be %s, got %s", t.Kind, exprKindOfValue(v))
	}
	switch t.Kind {
	case ExprString:
		if s, ok := v.(string); ok {
			return s, nil
		}
	case ExprNumber:
		if f, ok := exprToFloat(v); ok {
			return f, nil
		}
	case ExprInt:
		if i, ok := exprToInt(v); ok {
			return i, nil
		}
	case ExprBool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	case ExprTime:
		switch tv := v.(type) {
		case time.Time:
			return tv, nil
		case *time.Time:
			if tv == nil {
				return nil, nil
			}
			return *tv, nil
		case string:
			parsed, err := time.Parse(time.RFC3339Nano, tv)
			if err != nil { // the text is data: it is not quoted
				return nil, errors.New("must be time, got a string that is not an RFC 3339 time")
			}
			return parsed, nil
		}
	case ExprDuration:
		switch d := v.(type) {
		case time.Duration:
			return d, nil
		case string:
			parsed, err := time.ParseDuration(d)
			if err != nil {
				return nil, errors.New("must be duration, got a string that is not a duration such as 90m")
			}
			return parsed, nil
		}
	case ExprList:
		rv := reflect.ValueOf(v)
		if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
			return nil, mismatch()
		}
		elem := ExprType{Kind: ExprAny}
		if t.Elem != nil {
			elem = *t.Elem
		}
		out := make([]any, rv.Len())
		for i := range out {
			e, err := exprConvert(elem, rv.Index(i).Interface())
			if err != nil {
				return nil, fmt.Errorf("[%d] %w", i, err)
			}
			out[i] = e
		}
		return out, nil
	case ExprObject:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, mismatch()
		}
		if t.Fields == nil {
			return m, nil
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			ft, known := t.Fields[k]
			if !known {
				out[k] = e
				continue
			}
			c, err := exprConvert(ft, e)
			if err != nil {
				return nil, fmt.Errorf(".%s %w", k, err)
			}
			out[k] = c
		}
		return out, nil
	}
	return nil, mismatch()
}

// exprConforms reports whether v already has the Go type the program expects.
func exprConforms(t ExprType, v any) bool {
	if v == nil {
		return true
	}
	switch t.Kind {
	case ExprAny:
		return true
	case ExprString:
		_, ok := v.(string)
		return ok
	case ExprNumber:
		_, ok := v.(float64)
		return ok
	case ExprInt:
		_, ok := v.(int)
		return ok
	case ExprBool:
		_, ok := v.(bool)
		return ok
	case ExprTime:
		_, ok := v.(time.Time)
		return ok
	case ExprDuration:
		_, ok := v.(time.Duration)
		return ok
	case ExprList:
		list, ok := v.([]any)
		if !ok {
			return false
		}
		if t.Elem == nil {
			return true
		}
		for _, e := range list {
			if !exprConforms(*t.Elem, e) {
				return false
			}
		}
		return true
	case ExprObject:
		m, ok := v.(map[string]any)
		if !ok {
			return false
		}
		for name, ft := range t.Fields {
			if !exprConforms(ft, m[name]) {
				return false
			}
		}
		return true
	}
	return false
}

func exprToFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}

// exprToInt accepts integers and whole floats (JSON has no integers).
func exprToInt(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int8:
		return int(n), true
	case int16:
		return int(n), true
	case int32:
		return int(n), true
	case int64:
		return int(n), true
	case uint:
		return int(n), true
	case uint8:
		return int(n), true
	case uint16:
		return int(n), true
	case uint32:
		return int(n), true
	case uint64:
		if n <= math.MaxInt64 {
			return int(n), true
		}
	case float32:
		return exprToInt(float64(n))
	case float64:
		if n == math.Trunc(n) && math.Abs(n) < 1<<53 {
			return int(n), true
		}
	}
	return 0, false
}

// exprFunctionNames are the functions Exprs adds or replaces.
var exprFunctionNames = map[string]bool{
	"now": true, "today": true, "addDays": true, "daysBetween": true, "round": true,
	"concat": true, "coalesce": true, "format": true, "string": true, "join": true,
	"replace": true,
}

func (x *Exprs) functions() []expr.Option {
	return append(x.budgetFunctions(), []expr.Option{
		expr.Function("now", func(...any) (any, error) {
			return x.clock().In(x.loc), nil
		}, new(func() time.Time)),
		expr.Function("today", func(...any) (any, error) {
			return exprMidnight(x.clock(), x.loc), nil
		}, new(func() time.Time)),
		expr.Function("addDays", func(args ...any) (any, error) {
			t, ok := args[0].(time.Time)
			if !ok {
				return nil, exprFailure("addDays: first argument must be time, got " + exprKindOfValue(args[0]))
			}
			n, ok := exprToInt(args[1])
			if !ok {
				return nil, exprFailure("addDays: days must be a whole number, got " + exprNumberKind(args[1]))
			}
			return t.AddDate(0, 0, n), nil
		}, new(func(time.Time, int) time.Time), new(func(time.Time, float64) time.Time)),
		expr.Function("daysBetween", func(args ...any) (any, error) {
			a, okA := args[0].(time.Time)
			b, okB := args[1].(time.Time)
			if !okA || !okB {
				return nil, exprFailure("daysBetween: arguments must be times, got " + exprKindOfValue(args[0]) + " and " + exprKindOfValue(args[1]))
			}
			// Count calendar days in the service's zone; UTC dates keep DST out of it.
			da, db := exprMidnight(a, x.loc), exprMidnight(b, x.loc)
			ua := time.Date(da.Year(), da.Month(), da.Day(), 0, 0, 0, 0, time.UTC)
			ub := time.Date(db.Year(), db.Month(), db.Day(), 0, 0, 0, 0, time.UTC)
			return int(ub.Sub(ua).Hours() / 24), nil
		}, new(func(time.Time, time.Time) int)),
		expr.Function("round", func(args ...any) (any, error) {
			f, ok := exprToFloat(args[0])
			if !ok {
				return nil, exprFailure("round: argument must be a number, got " + exprKindOfValue(args[0]))
			}
			digits := 0
			if len(args) == 2 {
				if digits, ok = exprToInt(args[1]); !ok {
					return nil, exprFailure("round: digits must be a whole number, got " + exprNumberKind(args[1]))
				}
			}
			return exprRound(f, digits), nil
		}, new(func(float64) float64), new(func(float64, int) float64)),
		expr.Function("concat", func(args ...any) (any, error) {
			var b strings.Builder
			for _, a := range args {
				if err := x.writeText(&b, a); err != nil {
					return nil, err
				}
			}
			return b.String(), nil
		}, new(func(...any) string)),
		expr.Function("coalesce", func(args ...any) (any, error) {
			for _, a := range args {
				if a != nil {
					return a, nil
				}
			}
			return nil, nil
		}, new(func(...any) any)),
		expr.Function("format", func(args ...any) (any, error) {
			if args[0] == nil {
				return "", nil
			}
			t, ok := args[0].(time.Time)
			if !ok {
				return nil, exprFailure("format: first argument must be time, got " + exprKindOfValue(args[0]))
			}
			layout, _ := args[1].(string)
			s, err := exprFormatTime(t.In(x.loc), layout)
			if err != nil { // a computed layout is data: the message quoting it is not shown
				return nil, exprFailure("format: the layout is not valid (letters yyyy MM dd HH mm ss…, text in single quotes)")
			}
			return s, x.checkLen(len(s))
		}, new(func(time.Time, string) string)),
		expr.Function("string", func(args ...any) (any, error) {
			var b strings.Builder
			if err := x.writeText(&b, args[0]); err != nil {
				return nil, err
			}
			return b.String(), nil
		}, new(func(any) string)),
		expr.Function("join", func(args ...any) (any, error) {
			sep := ""
			if len(args) == 2 {
				sep, _ = args[1].(string)
			}
			rv := reflect.ValueOf(args[0])
			if args[0] == nil {
				return "", nil
			}
			if rv.Kind() != reflect.Slice && rv.Kind() != reflect.Array {
				return nil, exprFailure("join: first argument must be a list, got " + exprKindOfValue(args[0]))
			}
			var b strings.Builder
			for i := 0; i < rv.Len(); i++ {
				if i > 0 {
					b.WriteString(sep)
				}
				if err := x.writeText(&b, rv.Index(i).Interface()); err != nil {
					return nil, err
				}
			}
			return b.String(), nil
		},
			new(func([]any, string) string), new(func([]string, string) string),
			new(func([]any) string), new(func([]string) string)),
		expr.Function("replace", func(args ...any) (any, error) {
			s, _ := args[0].(string)
			old, _ := args[1].(string)
			repl, _ := args[2].(string)
			if grow := len(repl) - len(old); grow > 0 {
				n := strings.Count(s, old)
				if err := x.checkLen(len(s) + n*grow); err != nil {
					return nil, err
				}
			}
			return strings.ReplaceAll(s, old, repl), nil
		}, new(func(string, string, string) string)),
	}...)
}

func (x *Exprs) checkLen(n int) error {
	if n > x.maxStringLen {
		return exprBudgetError(fmt.Sprintf("string budget exceeded (longer than %d bytes)", x.maxStringLen))
	}
	return nil
}

// writeText appends the text form analysts expect: nil is empty, numbers
// have no exponent, times are "yyyy-MM-dd HH:mm:ss" in the service's zone.
func (x *Exprs) writeText(b *strings.Builder, v any) error {
	switch v := v.(type) {
	case nil:
	case string:
		b.WriteString(v)
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case int:
		b.WriteString(strconv.Itoa(v))
	case float64:
		if math.Abs(v) < 1e21 {
			b.WriteString(strconv.FormatFloat(v, 'f', -1, 64))
		} else {
			b.WriteString(strconv.FormatFloat(v, 'g', -1, 64))
		}
	case time.Time:
		b.WriteString(v.In(x.loc).Format("2006-01-02 15:04:05"))
	case time.Duration:
		b.WriteString(v.String())
	default:
		rv := reflect.ValueOf(v)
		switch rv.Kind() {
		case reflect.Slice, reflect.Array:
			b.WriteByte('[')
			for i := 0; i < rv.Len(); i++ {
				if i > 0 {
					b.WriteString(", ")
				}
				if err := x.writeText(b, rv.Index(i).Interface()); err != nil {
					return err
				}
			}
			b.WriteByte(']')
		case reflect.Map:
			keys := rv.MapKeys()
			sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
			b.WriteByte('{')
			for i, k := range keys {
				if i > 0 {
					b.WriteString(", ")
				}
				fmt.Fprintf(b, "%v: ", k.Interface())
				if err := x.writeText(b, rv.MapIndex(k).Interface()); err != nil {
					return err
				}
			}
			b.WriteByte('}')
		default:
			if f, ok := exprToFloat(v); ok {
				return x.writeText(b, f)
			}
			fmt.Fprint(b, v)
		}
	}
	return x.checkLen(b.Len())
}

func exprMidnight(t time.Time, loc *time.Location) time.Time {
	t = t.In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// exprRound rounds half away from zero on the shortest decimal form of x,
// so round(2.675, 2) is 2.68 as an analyst expects, not 2.67 as binary
// floating point would give.
func exprRound(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) || digits > 15 {
		return x
	}
	if digits < -15 {
		return 0
	}
	neg := x < 0
	s := strconv.FormatFloat(math.Abs(x), 'f', -1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	all := []byte(intPart + frac)
	keep := len(intPart) + digits // digits kept before rounding
	if keep >= len(all) {
		return x
	}
	if keep < 0 {
		return 0
	}
	up := all[keep] >= '5'
	kept := all[:keep]
	if up {
		i := len(kept) - 1
		for ; i >= 0; i-- {
			if kept[i] == '9' {
				kept[i] = '0'
				continue
			}
			kept[i]++
			break
		}
		if i < 0 {
			kept = append([]byte{'1'}, kept...)
			keep++
		}
	}
	point := len(intPart) + (keep - (len(intPart) + digits)) // shifts by one on carry
	var num string
	switch {
	case len(kept) >= point:
		num = string(kept[:point]) + "." + string(kept[point:])
	default:
		num = string(kept) + strings.Repeat("0", point-len(kept))
	}
	r, err := strconv.ParseFloat(strings.TrimSuffix(num, "."), 64)
	if err != nil {
		return x
	}
	if neg {
		r = -r
	}
	return r
}

// exprFormatTime formats t with a layout of yyyy-MM-dd HH:mm:ss style
// letters: yyyy yy, M MM MMM MMMM, d dd, H HH (24h), h hh (12h), m mm, s ss,
// S..SSSSSSSSS (fraction), a (AM/PM), E EEEE (weekday), Z (+0800). Text in
// single quotes is copied (two quotes make one), other non-letters are copied.
func exprFormatTime(t time.Time, layout string) (string, error) {
	var b strings.Builder
	pad := func(v, width int) {
		s := strconv.Itoa(v)
		for i := len(s); i < width; i++ {
			b.WriteByte('0')
		}
		b.WriteString(s)
	}
	for i := 0; i < len(layout); {
		c := layout[i]
		if c == '\'' {
			if i+1 < len(layout) && layout[i+1] == '\'' {
				b.WriteByte('\'')
				i += 2
				continue
			}
			for i++; ; i++ { // quoted text, where '' is a quote too
				if i >= len(layout) {
					return "", fmt.Errorf("format: unterminated quote in layout %q", layout)
				}
				if layout[i] == '\'' {
					if i+1 < len(layout) && layout[i+1] == '\'' {
						b.WriteByte('\'')
						i++
						continue
					}
					i++
					break
				}
				b.WriteByte(layout[i])
			}
			continue
		}
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			r, size := utf8.DecodeRuneInString(layout[i:])
			b.WriteRune(r)
			i += size
			continue
		}
		n := 1
		for i+n < len(layout) && layout[i+n] == c {
			n++
		}
		i += n
		switch c {
		case 'y':
			if n == 2 {
				pad(t.Year()%100, 2)
			} else {
				pad(t.Year(), 4)
			}
		case 'M':
			switch {
			case n >= 4:
				b.WriteString(t.Month().String())
			case n == 3:
				b.WriteString(t.Month().String()[:3])
			default:
				pad(int(t.Month()), n)
			}
		case 'd':
			pad(t.Day(), min(n, 2))
		case 'H':
			pad(t.Hour(), min(n, 2))
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			pad(h, min(n, 2))
		case 'm':
			pad(t.Minute(), min(n, 2))
		case 's':
			pad(t.Second(), min(n, 2))
		case 'S':
			if n > 9 {
				return "", fmt.Errorf("format: too many S in layout %q (at most 9)", layout)
			}
			pad(t.Nanosecond()/int(math.Pow10(9-n)), n)
		case 'a':
			if t.Hour() < 12 {
				b.WriteString("AM")
			} else {
				b.WriteString("PM")
			}
		case 'E':
			if n >= 4 {
				b.WriteString(t.Weekday().String())
			} else {
				b.WriteString(t.Weekday().String()[:3])
			}
		case 'Z':
			b.WriteString(t.Format("-0700"))
		default:
			return "", fmt.Errorf("format: unknown letter %q in layout %q (quote literal text with ')", string(c), layout)
		}
	}
	return b.String(), nil
}

func exprSortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
