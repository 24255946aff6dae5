package forms

import (
	"maps"
	"strconv"

	"tracecraft/engine"
)

// FieldTypeSubtable is the x-type of a sub-table: detail rows (a receipt's lines, a production
// order's consumed lots) whose columns are fields of their own. The record engine walks the
// rows and applies each column's type to its cells; this type owns the rows as a whole.
const FieldTypeSubtable = "subtable"

// Row limits of a sub-table.
const (
	subtableMaxRowsDefault = 500
	subtableMaxRowsLimit   = 10000
)

// SubtableOptions are a sub-table's x-options.
type SubtableOptions struct {
	// MinRows is the least number of rows a saved record has (default 0).
	MinRows int `json:"minRows,omitempty"`
	// MaxRows is the most rows a saved record may have (default 500, at most 10000).
	MaxRows int `json:"maxRows,omitempty"`
	// DefaultRows is how many empty rows a new record's form starts with (default 0, at most
	// MaxRows).
	DefaultRows int `json:"defaultRows,omitempty"`
}

type subtableType struct{}

func (subtableType) ID() string { return FieldTypeSubtable }

func (subtableType) Label() engine.Text { return engine.Text{ZH: "子表", EN: "Sub-table"} }

func (subtableType) Compile(c *CompileContext, f *Field) error {
	var o SubtableOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	var fe engine.FieldErrors
	// Row counts are options (minRows, maxRows), not minItems/maxItems: one way to say it.
	addFieldErrors(&fe, checkFieldKeywords(f))
	if o.MaxRows == 0 {
		o.MaxRows = subtableMaxRowsDefault
	}
	if o.MaxRows < 1 || o.MaxRows > subtableMaxRowsLimit {
		fe.Add("x-options.maxRows", "option_range", map[string]any{"min": 1, "max": subtableMaxRowsLimit})
	} else {
		if o.MinRows < 0 || o.MinRows > o.MaxRows {
			fe.Add("x-options.minRows", "option_range", map[string]any{"min": 0, "max": o.MaxRows})
		}
		if o.DefaultRows < 0 || o.DefaultRows > o.MaxRows {
			fe.Add("x-options.defaultRows", "option_range", map[string]any{"min": 0, "max": o.MaxRows})
		}
	}
	if len(f.Fields) == 0 {
		fe.Add("items.properties", "required", nil)
	}
	for _, col := range f.Fields {
		if col.Type == FieldTypeSubtable {
			fe.Add("items.properties."+col.Key, "nested_subtable", nil)
		}
	}
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &o
	return nil
}

func (subtableType) Schema(f *Field) map[string]any {
	o := subtableOptionsOf(f)
	s := map[string]any{"type": "array", "items": ObjectSchema(f.Fields), "maxItems": o.MaxRows}
	if o.MinRows > 0 {
		s["minItems"] = o.MinRows
	}
	return s
}

func (subtableType) ExprType(f *Field) engine.ExprType {
	cols := make(map[string]engine.ExprType, len(f.Fields))
	for _, col := range f.Fields {
		if t := fieldTypeOf(col); t != nil {
			cols[col.Key] = t.ExprType(col)
		} else {
			cols[col.Key] = engine.ExprType{Kind: engine.ExprAny}
		}
	}
	return engine.ExprListOf(engine.ExprObjectOf(cols))
}

// Prepare checks the shape and the number of rows; the record engine then prepares each cell
// with its column's type. The value is a []map[string]any.
func (subtableType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	var rows []any
	switch v := in.(type) {
	case []any:
		rows = v
	case []map[string]any:
		out := make([]map[string]any, len(v))
		copy(out, v)
		return out, checkRowCount(f, len(out))
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "list of object"})
	}
	var fe engine.FieldErrors
	out := make([]map[string]any, 0, len(rows))
	for i, r := range rows {
		m, ok := r.(map[string]any)
		if !ok {
			fe.Add(strconv.Itoa(i), "wrong_type", map[string]any{"want": "object"})
			continue
		}
		out = append(out, m)
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return out, checkRowCount(f, len(out))
}

func checkRowCount(f *Field, n int) error {
	o := subtableOptionsOf(f)
	switch {
	case n < o.MinRows:
		return engine.Invalid("", "too_few_rows", map[string]any{"min": o.MinRows})
	case n > o.MaxRows:
		return engine.Invalid("", "too_many_rows", map[string]any{"max": o.MaxRows})
	}
	return nil
}

func subtableOptionsOf(f *Field) *SubtableOptions {
	if o, ok := f.State.(*SubtableOptions); ok {
		return o
	}
	var o SubtableOptions
	lenientFieldOptions(f, &o)
	if o.MaxRows <= 0 {
		o.MaxRows = subtableMaxRowsDefault
	}
	return &o
}

// ObjectSchema is the JSON Schema of an object holding fields' values: each property is the
// field type's Schema with the field's own keywords merged over it; additional properties are
// refused; required lists the required fields except generated ones (the server fills those
// after the input is checked). It serves a sub-table's rows and a form's data alike.
func ObjectSchema(fields []*Field) map[string]any {
	props := make(map[string]any, len(fields))
	required := []string{}
	for _, f := range fields {
		props[f.Key] = fieldSchema(f)
		if !f.Required {
			continue
		}
		if _, generated := fieldTypeOf(f).(Generated); generated {
			continue
		}
		required = append(required, f.Key)
	}
	s := map[string]any{"type": "object", "properties": props, "additionalProperties": false}
	if len(required) > 0 {
		s["required"] = required
	}
	return s
}

// fieldSchema merges f's keywords over its type's schema of a stored value.
func fieldSchema(f *Field) map[string]any {
	s := map[string]any{}
	if t := fieldTypeOf(f); t != nil {
		maps.Copy(s, t.Schema(f))
	}
	for k, v := range f.Keywords {
		if k == "items" && len(f.Fields) > 0 {
			continue // a sub-table's columns are in Fields; its items schema is built from them
		}
		s[k] = v
	}
	return s
}

func init() { RegisterFieldType(subtableType{}) }

var _ FieldType = subtableType{}
