package forms

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"slices"
	"strconv"
	"time"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"

	"tracecraft/engine"
)

// FieldTypeFormula is the x-type of a value computed from other fields with an expression
// ("qty * price", "addDays(production_date, shelf_life_days)"). Its value is never taken from
// input: the server computes it on every save, before validation.
const FieldTypeFormula = "formula"

// Formula result kinds.
const (
	FormulaNumber = "number"
	FormulaString = "string"
	FormulaBool   = "bool"
	FormulaDate   = "date"
)

const (
	formulaPrecisionDefault = 2
	formulaPrecisionMax     = 10
)

// FormulaOptions are a formula's x-options.
type FormulaOptions struct {
	// Expr is the expression (required). A top-level formula reads the form's fields; a
	// sub-table column's formula reads its row's columns ("qty * price").
	Expr string `json:"expr"`
	// Result is the kind of the value: "number" (default), "string", "bool" or "date" (stored
	// as "YYYY-MM-DD" in the app's time zone).
	Result string `json:"result,omitempty"`
	// Precision is the number of decimals a number is rounded to, half away from zero
	// (default 2, at most 10).
	Precision *int `json:"precision,omitempty"`
}

type formulaState struct {
	FormulaOptions
	precision int
	// Set by Link.
	prog  *engine.Program
	env   engine.ExprEnv
	reads []string // the variables of env the expression reads
	// parentReads are the parent's fields a column's formula reads (parent.tax_rate).
	parentReads []string
	deps        []string // reads without the system values
}

type formulaType struct{}

func (formulaType) ID() string { return FieldTypeFormula }

func (formulaType) Label() engine.Text { return engine.Text{ZH: "公式", EN: "Formula"} }

func (formulaType) Compile(c *CompileContext, f *Field) error {
	var o FormulaOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	if o.Result == "" {
		o.Result = FormulaNumber
	}
	st := &formulaState{FormulaOptions: o, precision: formulaPrecisionDefault}
	if o.Precision != nil {
		st.precision = *o.Precision
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f))
	if o.Expr == "" {
		fe.Add("x-options.expr", "required", nil)
	}
	if _, ok := formulaKinds[o.Result]; !ok {
		fe.Add("x-options.result", "not_allowed", map[string]any{"value": o.Result})
	}
	if st.precision < 0 || st.precision > formulaPrecisionMax {
		fe.Add("x-options.precision", "option_range", map[string]any{"min": 0, "max": formulaPrecisionMax})
	}
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

var formulaKinds = map[string]engine.ExprKind{
	FormulaNumber: engine.ExprNumber,
	FormulaString: engine.ExprString,
	FormulaBool:   engine.ExprBool,
	FormulaDate:   engine.ExprTime,
}

// Link compiles the expression against the form's environment, or its row's for a column.
func (formulaType) Link(c *CompileContext, f *Field) error {
	st, ok := f.State.(*formulaState)
	if !ok {
		return fmt.Errorf("link formula %s: field not compiled", f.Path())
	}
	if c.Exprs == nil {
		return fmt.Errorf("link formula %s: no expression service", f.Path())
	}
	env := c.Env
	if f.Parent != nil {
		env = c.RowEnv
	}
	prog, err := c.Exprs.Compile(st.Expr, env, formulaKinds[st.Result])
	if err != nil {
		var xe *engine.ExprError
		if !errors.As(err, &xe) {
			return engine.Invalid("x-options.expr", "expr", map[string]any{"detail": err.Error()})
		}
		return engine.Invalid("x-options.expr", "expr", map[string]any{"detail": xe.Error()})
	}
	reads := formulaIdentifiers(st.Expr, func(name string) bool { _, ok := env[name]; return ok })
	deps := make([]string, 0, len(reads))
	for _, name := range reads {
		if !ReservedKeys[name] {
			deps = append(deps, name)
		}
	}
	// Link runs once, when the definition is compiled; the state is shared read-only after.
	st.prog, st.env, st.reads, st.deps = prog, env, reads, deps
	if f.Parent != nil {
		st.parentReads = formulaMembers(st.Expr, "parent")
	}
	return nil
}

// Deps lists the fields the expression reads (sibling columns for a column's formula), sorted.
// Before Link it falls back to every variable-like name in the expression.
func (formulaType) Deps(f *Field) []string {
	st, ok := f.State.(*formulaState)
	if ok && st.prog != nil {
		return slices.Clone(st.deps)
	}
	o := formulaOptionsOf(f)
	return formulaIdentifiers(o.Expr, func(name string) bool { return !ReservedKeys[name] })
}

func (formulaType) Schema(f *Field) map[string]any {
	switch formulaOptionsOf(f).Result {
	case FormulaString:
		return map[string]any{"type": "string"}
	case FormulaBool:
		return map[string]any{"type": "boolean"}
	case FormulaDate:
		return map[string]any{"type": "string", "format": "date"}
	}
	return map[string]any{"type": "number"}
}

func (formulaType) ExprType(f *Field) engine.ExprType {
	switch formulaOptionsOf(f).Result {
	case FormulaString, FormulaDate:
		return engine.ExprType{Kind: engine.ExprString}
	case FormulaBool:
		return engine.ExprType{Kind: engine.ExprBool}
	}
	return engine.ExprType{Kind: engine.ExprNumber}
}

// Prepare checks a stored value's type (as imports and reloads pass it); input on save is
// ignored, Generate's value kept.
func (formulaType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	want := "string"
	switch formulaOptionsOf(f).Result {
	case FormulaNumber:
		if _, ok := in.(float64); ok {
			return in, nil
		}
		want = "number"
	case FormulaBool:
		if _, ok := in.(bool); ok {
			return in, nil
		}
		want = "bool"
	default:
		if _, ok := in.(string); ok {
			return in, nil
		}
	}
	return nil, engine.Invalid("", "wrong_type", map[string]any{"want": want})
}

// Phase: formulas run before validation, so their values are checked like input.
func (formulaType) Phase() int { return 0 }

// Generate evaluates the expression over the record (or, for a column, the row being saved).
// When it fails while a field it reads is empty, the value is nil: the formula cannot be
// computed yet. Any other failure is a field error.
func (formulaType) Generate(c *ValueContext, f *Field, rec *Values, onCreate bool) (any, error) {
	st, ok := f.State.(*formulaState)
	if !ok || st.prog == nil {
		return nil, fmt.Errorf("formula %s: field not linked", f.Path())
	}
	var src Values
	if rec != nil {
		src = *rec
	}
	if f.Parent != nil && c.Row != nil {
		src = c.Row
	}
	loc := c.Loc
	if loc == nil {
		loc = c.Now.Location()
	}
	vars := make(map[string]any, len(st.reads))
	empty := false
	for _, name := range st.reads {
		v, present := src[name]
		if !present {
			v = formulaSystemValue(c, rec, name)
		}
		if v == nil && !ReservedKeys[name] {
			empty = true
		}
		vars[name] = formulaValue(st.env[name], v, loc)
	}
	for _, k := range st.parentReads {
		if c.Parent == nil || c.Parent[k] == nil {
			empty = true
		}
	}
	out, err := st.prog.Eval(c.Ctx, vars)
	if err != nil {
		if ctxErr := c.Ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("formula %s: %w", f.Path(), ctxErr)
		}
		if empty {
			return nil, nil
		}
		return nil, engine.Invalid("", "expr", map[string]any{"detail": err.Error()})
	}
	switch v := out.(type) {
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			if empty {
				return nil, nil
			}
			return nil, engine.Invalid("", "expr", map[string]any{"detail": "the result is not a finite number"})
		}
		return roundHalfAway(v, st.precision), nil
	case int:
		return float64(v), nil
	case time.Time:
		return v.In(loc).Format(time.DateOnly), nil
	}
	return out, nil
}

// formulaSystemValue gives the record's system values to an expression that reads them.
func formulaSystemValue(c *ValueContext, rec *Values, name string) any {
	switch name {
	case "id":
		return c.Record
	case "user":
		return c.User
	case "parent":
		return c.Parent
	case "row":
		return c.Row
	case "record":
		if rec != nil {
			return *rec
		}
	}
	return nil
}

// formulaValue brings a stored value to what the program expects where the stored form
// differs: dates are stored as "YYYY-MM-DD" (or a local date-time) and read as times in the
// app's zone. Everything else the program converts itself.
func formulaValue(t engine.ExprType, v any, loc *time.Location) any {
	switch t.Kind {
	case engine.ExprTime:
		s, ok := v.(string)
		if !ok {
			return v
		}
		if tm, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return tm
		}
		for _, layout := range []string{time.DateOnly, "2006-01-02T15:04:05", "2006-01-02T15:04", time.DateTime, "2006-01-02 15:04"} {
			if tm, err := time.ParseInLocation(layout, s, loc); err == nil {
				return tm
			}
		}
	case engine.ExprList:
		if t.Elem == nil {
			return v
		}
		switch list := v.(type) {
		case []any:
			out := make([]any, len(list))
			for i, e := range list {
				out[i] = formulaValue(*t.Elem, e, loc)
			}
			return out
		case []map[string]any:
			out := make([]any, len(list))
			for i, e := range list {
				out[i] = formulaValue(*t.Elem, e, loc)
			}
			return out
		}
	case engine.ExprObject:
		m, ok := v.(map[string]any)
		if !ok || t.Fields == nil {
			return v
		}
		out := make(map[string]any, len(m))
		for k, e := range m {
			if ft, known := t.Fields[k]; known {
				e = formulaValue(ft, e, loc)
			}
			out[k] = e
		}
		return out
	}
	return v
}

// formulaIdentifiers lists, sorted and once each, the variables source reads that keep
// accepts; function names and members (row.qty's qty) are not variables. A source that does
// not parse has none (Link reports it).
func formulaIdentifiers(source string, keep func(string) bool) []string {
	if source == "" {
		return nil
	}
	tree, err := parser.Parse(source)
	if err != nil {
		return nil
	}
	v := &identifierCollector{callees: map[*ast.IdentifierNode]bool{}}
	ast.Walk(&tree.Node, v)
	seen := map[string]bool{}
	var out []string
	for _, id := range v.idents {
		if v.callees[id] || seen[id.Value] || !keep(id.Value) {
			continue
		}
		seen[id.Value] = true
		out = append(out, id.Value)
	}
	slices.Sort(out)
	return out
}

type identifierCollector struct {
	idents  []*ast.IdentifierNode
	callees map[*ast.IdentifierNode]bool
	members map[string][]string // object variable → the members read of it (parent.tax_rate)
}

func (v *identifierCollector) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.MemberNode:
		if id, ok := n.Node.(*ast.IdentifierNode); ok {
			if prop, ok := n.Property.(*ast.StringNode); ok {
				if v.members == nil {
					v.members = map[string][]string{}
				}
				v.members[id.Value] = append(v.members[id.Value], prop.Value)
			}
		}
	case *ast.IdentifierNode:
		v.idents = append(v.idents, n)
	case *ast.CallNode:
		if id, ok := n.Callee.(*ast.IdentifierNode); ok {
			v.callees[id] = true
		}
	}
}

// formulaMembers lists the members the source reads of an object variable ("parent"):
// parent.tax_rate gives tax_rate.
func formulaMembers(source, object string) []string {
	tree, err := parser.Parse(source)
	if err != nil {
		return nil
	}
	v := &identifierCollector{callees: map[*ast.IdentifierNode]bool{}}
	ast.Walk(&tree.Node, v)
	return v.members[object]
}

// parentDeps lists the record's fields a sub-table column's formula reads (parent.tax_rate),
// and whether it reads the record as a whole (parent[key], a function given parent): then
// every field counts. Other fields read nothing of the record.
func parentDeps(f *Field) (keys []string, whole bool) {
	if f.Parent == nil || f.Type != FieldTypeFormula {
		return nil, false
	}
	tree, err := parser.Parse(formulaOptionsOf(f).Expr)
	if err != nil {
		return nil, true // cannot tell what it reads (Link refuses such an expression anyway)
	}
	v := &identifierCollector{callees: map[*ast.IdentifierNode]bool{}}
	ast.Walk(&tree.Node, v)
	uses := 0
	for _, id := range v.idents {
		if id.Value == "parent" {
			uses++
		}
	}
	keys = v.members["parent"]
	// Every parent.x is one use of the identifier; a use beyond them reads parent otherwise.
	return keys, uses > len(keys)
}

// roundHalfAway rounds x to digits decimals, half away from zero, on its shortest decimal
// form: 2.675 rounds to 2.68 as an analyst expects (binary floating point would give 2.67).
func roundHalfAway(x float64, digits int) float64 {
	if math.IsNaN(x) || math.IsInf(x, 0) {
		return x
	}
	r, ok := new(big.Rat).SetString(strconv.FormatFloat(x, 'g', -1, 64))
	if !ok {
		return x
	}
	scale := new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil)
	num := new(big.Int).Mul(new(big.Int).Abs(r.Num()), scale)
	den := r.Denom()
	// q = floor((2·num + den) / (2·den)) = round half up of num/den.
	q := new(big.Int).Add(new(big.Int).Lsh(num, 1), den)
	q.Quo(q, new(big.Int).Lsh(den, 1))
	if r.Sign() < 0 {
		q.Neg(q)
	}
	out, _ := new(big.Rat).SetFrac(q, scale).Float64()
	return out
}

func formulaOptionsOf(f *Field) *FormulaOptions {
	if st, ok := f.State.(*formulaState); ok {
		return &st.FormulaOptions
	}
	var o FormulaOptions
	lenientFieldOptions(f, &o)
	if o.Result == "" {
		o.Result = FormulaNumber
	}
	return &o
}

func init() { RegisterFieldType(formulaType{}) }

var (
	_ FieldType = formulaType{}
	_ Generated = formulaType{}
	_ Linker    = formulaType{}
	_ Dependent = formulaType{}
)
