package forms

import (
	"bytes"
	"fmt"
	"reflect"
	"strconv"

	"tracecraft/engine"
)

// FieldTypeRelation is the x-type of a field that points at records of another form (or of
// its own form): a production order's consumed lots, a receipt's purchase order.
const FieldTypeRelation = "relation"

// Lineage roles of a relation: what the pointed-at records are to the record that points.
const (
	// LineageInput: the related records (lots) went into this one (a production order's
	// consumed materials) — traced backwards from here.
	LineageInput = "input"
	// LineageOutput: the related records (lots) came out of this one (a production order's
	// produced lots) — traced forwards from here.
	LineageOutput = "output"
)

// RelationOptions are a relation field's x-options.
type RelationOptions struct {
	// Form is the key of the related form in the same app (required); the field's own form is
	// allowed (a lot made from other lots).
	Form string `json:"form"`
	// Multiple stores a list of unique record ids instead of one id.
	Multiple bool `json:"multiple,omitempty"`
	// Lineage is "" (a plain reference), "input" or "output": the role the related records play
	// in traceability. The trace engine follows only relations with a lineage role.
	Lineage string `json:"lineage,omitempty"`
	// QuantityField is the key of a number (or money) field holding the quantity of the link:
	// a sibling column when the relation is a sub-table column, else a top-level field.
	QuantityField string `json:"quantityField,omitempty"`
	// DisplayField is the key of the related form's field shown instead of the record id.
	DisplayField string `json:"displayField,omitempty"`
}

type relationType struct{}

func (relationType) ID() string { return FieldTypeRelation }

func (relationType) Label() engine.Text { return engine.Text{ZH: "关联数据", EN: "Relation"} }

func (relationType) Compile(c *CompileContext, f *Field) error {
	var o RelationOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f, refKeywords(o.Multiple)...))
	switch {
	case o.Form == "":
		fe.Add("x-options.form", "required", nil)
	case !fieldKeyPattern(o.Form):
		fe.Add("x-options.form", "invalid_format", map[string]any{"detail": "not a form key"})
	case o.Form == c.Form:
		// A self-relation: the form is being saved right now.
	case c.Lookup == nil:
		return fmt.Errorf("compile relation %s: no lookup", f.Path())
	default:
		ok, err := c.Lookup.FormExists(c.Ctx, c.App, o.Form)
		if err != nil {
			return fmt.Errorf("compile relation %s: form %q: %w", f.Path(), o.Form, err)
		}
		if !ok {
			fe.Add("x-options.form", "not_found", map[string]any{"value": o.Form})
		}
	}
	switch o.Lineage {
	case "", LineageInput, LineageOutput:
	default:
		fe.Add("x-options.lineage", "not_allowed", map[string]any{"value": o.Lineage})
	}
	if o.QuantityField != "" && !fieldKeyPattern(o.QuantityField) {
		fe.Add("x-options.quantityField", "invalid_format", map[string]any{"detail": "not a field key"})
	}
	if o.DisplayField != "" && !fieldKeyPattern(o.DisplayField) {
		fe.Add("x-options.displayField", "invalid_format", map[string]any{"detail": "not a field key"})
	}
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &o
	return nil
}

// Link checks that the quantity field exists beside the relation and holds a number.
func (relationType) Link(c *CompileContext, f *Field) error {
	o := relationOptionsOf(f)
	if o.QuantityField == "" {
		return nil
	}
	q := neighbourField(c, f, o.QuantityField)
	switch {
	case q == nil:
		return engine.Invalid("x-options.quantityField", "not_found", map[string]any{"value": o.QuantityField})
	case !isNumberField(q):
		return engine.Invalid("x-options.quantityField", "not_number_field", map[string]any{"value": o.QuantityField})
	}
	return nil
}

func (relationType) Schema(f *Field) map[string]any {
	return refSchema(relationOptionsOf(f).Multiple)
}

func (relationType) ExprType(f *Field) engine.ExprType {
	return refExprType(relationOptionsOf(f).Multiple)
}

func (relationType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	return prepareRefs(in, relationOptionsOf(f).Multiple)
}

// Check looks each record up by id, one at a time: the embedded store serves an _id lookup
// from an index but scans the collection for $in.
func (relationType) Check(c *ValueContext, f *Field, v any) error {
	o := relationOptionsOf(f)
	return checkRefs(v, func(id string) (bool, error) {
		ok, err := c.Lookup.RecordExists(c.Ctx, c.App, o.Form, id)
		if err != nil {
			return false, fmt.Errorf("check relation %s: record %s/%s: %w", f.Path(), o.Form, id, err)
		}
		return ok, nil
	})
}

// LineageOf tells the lineage role ("", "input" or "output") of a relation field and the key
// of its quantity field; for any other field it returns "", "".
func LineageOf(f *Field) (role, quantityField string) {
	if f == nil || f.Type != FieldTypeRelation {
		return "", ""
	}
	o := relationOptionsOf(f)
	return o.Lineage, o.QuantityField
}

// relationOptionsOf returns the options Compile stored, or decodes them leniently for a field
// that was not compiled.
func relationOptionsOf(f *Field) *RelationOptions {
	if o, ok := f.State.(*RelationOptions); ok {
		return o
	}
	var o RelationOptions
	lenientFieldOptions(f, &o)
	return &o
}

// lenientFieldOptions decodes what it can of f.Options, for fields read without Compile.
func lenientFieldOptions(f *Field, dst any) {
	raw := bytes.TrimSpace(f.Options)
	if len(raw) > 0 {
		_ = engine.DecodeStrict(raw, dst)
	}
}

// fieldKeyPattern tells whether s has the shape of a form or field key: ^[a-z][a-z0-9_]{0,39}$.
func fieldKeyPattern(s string) bool {
	if len(s) == 0 || len(s) > 40 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// fieldTypeOf is f's type: the one Compile set, else the registered one for f.Type.
func fieldTypeOf(f *Field) FieldType {
	if f.impl != nil {
		return f.impl
	}
	t, _ := FieldTypeByID(f.Type)
	return t
}

// neighbourField finds the field key that f may refer to: a sibling column when f is a
// sub-table column, else a top-level field.
func neighbourField(c *CompileContext, f *Field, key string) *Field {
	fields := c.Fields
	if f.Parent != nil {
		fields = c.Siblings
		if fields == nil {
			fields = f.Parent.Fields
		}
	}
	for _, g := range fields {
		if g.Key == key && g != f {
			return g
		}
	}
	return nil
}

// isNumberField tells whether f holds a number: a number or money field, or a number formula.
func isNumberField(f *Field) bool {
	switch f.Type {
	case "number", "money", "integer":
		return true
	case FieldTypeFormula:
		return formulaOptionsOf(f).Result == "number"
	}
	return false
}

// refKeywords are the JSON Schema keywords a reference field takes: item counts for a list.
func refKeywords(multiple bool) []string {
	if multiple {
		return []string{"minItems", "maxItems"}
	}
	return nil
}

// refSchema is the stored form of an id reference: one id, or a list of unique ids.
func refSchema(multiple bool) map[string]any {
	id := map[string]any{"type": "string", "minLength": 1}
	if !multiple {
		return id
	}
	return map[string]any{"type": "array", "items": id, "uniqueItems": true}
}

func refExprType(multiple bool) engine.ExprType {
	if multiple {
		return engine.ExprListOf(engine.ExprType{Kind: engine.ExprString})
	}
	return engine.ExprType{Kind: engine.ExprString}
}

// prepareRefs takes a reference's input: a non-empty string, or with multiple a list of unique
// non-empty strings (stored as []string). Empty input ("" or []) becomes nil.
func prepareRefs(in any, multiple bool) (any, error) {
	if !multiple {
		s, ok := in.(string)
		if !ok {
			return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
		}
		if s == "" {
			return nil, nil
		}
		return s, nil
	}
	var list []any
	switch v := in.(type) {
	case []any:
		list = v
	case []string:
		list = make([]any, len(v))
		for i, s := range v {
			list[i] = s
		}
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "list of string"})
	}
	if len(list) == 0 {
		return nil, nil
	}
	var fe engine.FieldErrors
	out := make([]string, 0, len(list))
	seen := make(map[string]bool, len(list))
	for i, e := range list {
		s, ok := e.(string)
		switch {
		case !ok || s == "":
			fe.Add(strconv.Itoa(i), "wrong_type", map[string]any{"want": "string"})
		case seen[s]:
			fe.Add(strconv.Itoa(i), "duplicate_value", map[string]any{"value": s})
		default:
			seen[s] = true
			out = append(out, s)
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// refsOf lists the ids of a prepared reference value.
func refsOf(v any) []string {
	switch v := v.(type) {
	case string:
		if v == "" {
			return nil
		}
		return []string{v}
	case []string:
		return v
	case nil:
		return nil
	}
	// A list read back from the store may be []any or a driver's own slice type.
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Slice {
		return nil
	}
	out := make([]string, 0, rv.Len())
	for i := range rv.Len() {
		if s, ok := rv.Index(i).Interface().(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// checkRefs asks exists about each id of v and reports the missing ones as not_found, at ""
// for a single value and at the index for a list.
func checkRefs(v any, exists func(id string) (bool, error)) error {
	_, single := v.(string)
	var fe engine.FieldErrors
	for i, id := range refsOf(v) {
		ok, err := exists(id)
		if err != nil {
			return err
		}
		if !ok {
			path := strconv.Itoa(i)
			if single {
				path = ""
			}
			fe.Add(path, "not_found", map[string]any{"value": id})
		}
	}
	return fe.Err()
}

func init() { RegisterFieldType(relationType{}) }

var (
	_ FieldType = relationType{}
	_ Linker    = relationType{}
	_ Checked   = relationType{}
)
