package forms

import (
	"context"
	"encoding/json"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Field is one field of a compiled form: a property of the form's JSON Schema with our x-
// extensions. Sub-tables hold their columns in Fields.
type Field struct {
	Key      string
	Type     string
	Label    engine.Text
	Help     engine.Text
	Required bool
	Public   bool
	// Filterable (x-filterable) asks for an index for the field: lists filter and sort by it
	// without reading every record (record_index.go).
	Filterable bool
	// Options is the raw x-options object; the field type decodes it strictly in Compile.
	Options json.RawMessage
	// Keywords are the property's standard JSON Schema keywords (minimum, maxLength, …).
	Keywords map[string]any
	// Fields are a sub-table's columns.
	Fields []*Field
	// Parent is the sub-table a column belongs to (nil for top-level fields).
	Parent *Field

	impl FieldType
	// State is what the field type's Compile prepared (decoded options, compiled programs).
	State any
}

// Impl is the field's type.
func (f *Field) Impl() FieldType { return f.impl }

// Path is the field's dotted path in the definition's fields ("lines.qty" for a column).
func (f *Field) Path() string {
	if f.Parent != nil {
		return f.Parent.Key + "." + f.Key
	}
	return f.Key
}

// FieldType is one kind of field. Each lives in its own file (field_<type>.go), registers itself
// in init with RegisterFieldType, and ends with an interface guard.
type FieldType interface {
	// ID is the x-type value: "text", "number", "relation", …
	ID() string
	// Label names the type in the designer's palette.
	Label() engine.Text
	// Compile decodes and checks f.Options (strictly: unknown options are errors) and the
	// field's keywords, and stores what later calls need in f.State. Errors are FieldErrors
	// with paths relative to the field ("x-options.pattern").
	Compile(c *CompileContext, f *Field) error
	// Schema is the JSON Schema of a stored value (nil allowed for no constraint); the field's
	// own keywords are merged over it.
	Schema(f *Field) map[string]any
	// ExprType is the value's type in expressions (formulas, conditions).
	ExprType(f *Field) engine.ExprType
	// Prepare turns an input value (decoded JSON: string, float64, bool, []any, map[string]any)
	// into the value to store, or says what is wrong (an error whose FieldErrors paths are
	// relative to the value: "" for the value itself). It is not called for nil.
	Prepare(c *ValueContext, f *Field, in any) (any, error)
}

// Generated is implemented by field types whose value the server makes (auto-number,
// formula): input for them is ignored.
type Generated interface {
	// Generate computes the field's value. onCreate tells a new record from an update.
	Generate(c *ValueContext, f *Field, rec *Values, onCreate bool) (any, error)
	// Phase orders generation: formulas (0) run before validation, numbers (1) after it, so a
	// record that fails validation uses no number.
	Phase() int
}

// Checked is implemented by field types whose values must be checked against the store
// (a relation's record, a user, a department, an uploaded file).
type Checked interface {
	Check(c *ValueContext, f *Field, v any) error
}

// Filler is implemented by field types that fill other fields from their value (a scan field
// fills GTIN, lot and dates from a GS1 code). It returns the values to set, by field key; the
// caller sets only fields the input left empty.
type Filler interface {
	Fill(c *ValueContext, f *Field, v any) (map[string]any, error)
}

// Values are a record's data by field key (a sub-table's value is []map[string]any).
type Values = map[string]any

// Lookup is what field types may ask of the rest of the system while checking values. The
// forms service implements it over the store and the kernel.
type Lookup interface {
	// RecordExists tells whether a record exists (and is not deleted) in app/form.
	RecordExists(ctx context.Context, app, form, id string) (bool, error)
	// FormExists tells whether a form exists in app (the draft counts: forms may point at
	// each other before either is published).
	FormExists(ctx context.Context, app, form string) (bool, error)
	// UserExists and DepartmentExists check pickers' values.
	UserExists(ctx context.Context, username string) (bool, error)
	DepartmentExists(ctx context.Context, id string) (bool, error)
	// File describes an uploaded file, or ErrNotFound.
	File(ctx context.Context, app, id string) (FileInfo, error)
}

// FileInfo describes an uploaded file (attachments, images, signatures).
type FileInfo struct {
	ID         string    `json:"id" bson:"_id"`
	App        string    `json:"app" bson:"app"`
	Name       string    `json:"name" bson:"name"`
	Size       int64     `json:"size" bson:"size"`
	Type       string    `json:"type" bson:"type"`
	UploadedBy string    `json:"uploadedBy" bson:"uploaded_by"`
	UploadedAt time.Time `json:"uploadedAt" bson:"uploaded_at"`
}

// CompileContext is what Compile may use.
type CompileContext struct {
	Ctx    context.Context
	App    string
	Form   string
	Exprs  *engine.Exprs
	Lookup Lookup
	// Fields are the form's top-level fields, for types that refer to other fields (formulas,
	// scan targets, relation quantity fields). For a sub-table column, Siblings are the
	// other columns.
	Fields   []*Field
	Siblings []*Field
	// Env is the expression environment of the form's data (top-level fields); RowEnv of a
	// sub-table's row, when compiling a column.
	Env    engine.ExprEnv
	RowEnv engine.ExprEnv
}

// ValueContext is what Prepare, Generate, Check and Fill may use while a record is saved.
type ValueContext struct {
	Ctx    context.Context
	App    string
	Form   string
	Record string // the record's id
	Now    time.Time
	Loc    *time.Location
	User   string
	Lookup Lookup
	Store  *store.Store
	// Row is set while a sub-table row is handled: its values, and Parent the record's.
	Row    Values
	Parent Values
}

var fieldTypes engine.Set[FieldType]

// RegisterFieldType adds a field type; registering an id twice panics (a programmer error).
func RegisterFieldType(t FieldType) { fieldTypes.Register(t.ID(), t) }

// FieldTypeByID finds a registered field type.
func FieldTypeByID(id string) (FieldType, bool) { return fieldTypes.Get(id) }

// FieldTypeIDs lists the registered field types, sorted.
func FieldTypeIDs() []string { return fieldTypes.IDs() }

// Linker is implemented by field types that refer to other fields or need the form's
// expression environment (formulas, scan targets, relation quantity fields). Link runs after
// every field is compiled, with c.Env (and for columns c.RowEnv) filled in.
type Linker interface {
	Link(c *CompileContext, f *Field) error
}

// Dependent is implemented by generated fields that read other fields (formulas); the form
// computes them in dependency order and rejects cycles.
type Dependent interface {
	Deps(f *Field) []string
}

// ReservedKeys cannot be field keys: expressions use them for the record's system values.
var ReservedKeys = map[string]bool{"id": true, "status": true, "user": true, "record": true, "row": true, "parent": true, "now": true, "today": true}
