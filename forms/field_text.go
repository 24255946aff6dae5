package forms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"

	"tracecraft/engine"
)

// FieldTypeText is the x-type of a single-line text field.
const FieldTypeText = "text"

// TextOptions are the x-options of a text (单行文本) or textarea (多行文本) field.
type TextOptions struct {
	// Placeholder is the hint shown in the empty input.
	Placeholder engine.Text `json:"placeholder,omitzero"`
}

// textDefaultMaxLength is a text field's limit when its maxLength keyword sets none: long enough
// for names, lot numbers and addresses, short enough for a label and a list column.
const textDefaultMaxLength = 200

// textState is what Compile leaves in Field.State for text and textarea fields.
type textState struct {
	opts TextOptions
	// max is the effective maxLength in characters; ownMax tells that the type chose it (the
	// field's keywords set none), so Schema must state it.
	max    int
	ownMax bool
}

// textLineBreaks turns what cannot be in one line into spaces.
var textLineBreaks = strings.NewReplacer("\r\n", " ", "\r", " ", "\n", " ", "\t", " ")

// textField is a single-line string. Surrounding spaces are trimmed and line breaks (which
// keyboard-wedge scanners and pasted spreadsheet cells add) become spaces.
type textField struct{}

func (textField) ID() string { return FieldTypeText }

func (textField) Label() engine.Text { return engine.Text{ZH: "单行文本", EN: "Text"} }

func (textField) Compile(c *CompileContext, f *Field) error {
	return compileText(f, textDefaultMaxLength, "minLength", "maxLength", "pattern", "format")
}

func (textField) Schema(f *Field) map[string]any { return textSchema(f) }

func (textField) ExprType(f *Field) engine.ExprType { return engine.ExprType{Kind: engine.ExprString} }

func (textField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	st, err := fieldState[*textState](f)
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	return textCheck(strings.TrimSpace(textLineBreaks.Replace(s)), st.max)
}

// compileText decodes TextOptions and works out the effective maxLength.
func compileText(f *Field, defMax int, keywords ...string) error {
	st := &textState{max: defMax, ownMax: true}
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &st.opts)); err != nil {
		return err
	}
	addFieldErrors(&fe, checkFieldKeywords(f, keywords...))
	if n, ok := keywordInt(f, "maxLength"); ok {
		st.max, st.ownMax = n, false
	}
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

func textSchema(f *Field) map[string]any {
	s := map[string]any{"type": "string"}
	if st, ok := f.State.(*textState); ok && st.ownMax {
		s["maxLength"] = st.max
	}
	return s
}

// textCheck stores "" as nothing, so "required" and "is empty" see one kind of empty value,
// and enforces the limit in characters (as JSON Schema's maxLength counts them).
func textCheck(s string, max int) (any, error) {
	if s == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(s) > max {
		return nil, engine.Invalid("", "too_long", map[string]any{"max": max})
	}
	return s, nil
}

// fieldState returns the state Compile left in f; a missing one means Prepare was called on a
// field that was never compiled, which is a programmer error reported as an error.
func fieldState[T any](f *Field) (T, error) {
	st, ok := f.State.(T)
	if !ok {
		var zero T
		return zero, fmt.Errorf("field %q (%s): not compiled", f.Path(), f.Type)
	}
	return st, nil
}

// decodeFieldOptions decodes f.Options strictly into v (a pointer to an options struct whose
// zero value means the defaults). A missing or null x-options leaves v as it is. Errors are
// FieldErrors with paths relative to the field: "x-options.options.0.color".
func decodeFieldOptions(f *Field, v any) error {
	raw := bytes.TrimSpace(f.Options)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return nil
	}
	err := engine.DecodeStrict(raw, v)
	fe, ok := engine.AsFieldErrors(err)
	if !ok {
		return err
	}
	out := make(engine.FieldErrors, len(fe))
	for i, e := range fe {
		e.Path = optionsPath(e.Path)
		out[i] = e
	}
	return out
}

// optionsPath turns a JSON pointer into x-options ("/options/0/label") into the field-relative
// dotted path ("x-options.options.0.label").
func optionsPath(ptr string) string {
	p := "x-options"
	if ptr == "" {
		return p
	}
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		p += "." + strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
	}
	return p
}

// fieldKeywordsAlways are the keywords every field type takes: they describe, not constrain.
var fieldKeywordsAlways = map[string]bool{"title": true, "description": true, "default": true, "$comment": true}

// checkFieldKeywords rejects the field's keywords that do not apply to its type (a maxLength on
// a number would be silently ignored by JSON Schema; definitions are strict documents instead).
func checkFieldKeywords(f *Field, allowed ...string) error {
	var fe engine.FieldErrors
	for _, k := range slices.Sorted(maps.Keys(f.Keywords)) {
		if fieldKeywordsAlways[k] || slices.Contains(allowed, k) {
			continue
		}
		fe.Add(k, "not_applicable", map[string]any{"type": f.Type})
	}
	return fe.Err()
}

// keywordInt reads an integer keyword, whichever way the definition was decoded (float64,
// json.Number or int).
func keywordInt(f *Field, name string) (int, bool) {
	switch v := f.Keywords[name].(type) {
	case int:
		return v, true
	case int64:
		return int(v), true
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<53 {
			return int(v), true
		}
	case json.Number:
		if n, err := v.Int64(); err == nil {
			return int(n), true
		}
	}
	return 0, false
}

// addFieldErrors appends err's field errors to fe, so one Compile reports every mistake at
// once; an error without field errors is returned for the caller to give up with.
func addFieldErrors(fe *engine.FieldErrors, err error) error {
	if err == nil {
		return nil
	}
	more, ok := engine.AsFieldErrors(err)
	if !ok {
		return err
	}
	*fe = append(*fe, more...)
	return nil
}

func init() { RegisterFieldType(textField{}) }

var _ FieldType = (*textField)(nil)

// compileOptions decodes a field's options into a new T, checks its keywords, and keeps the
// options as the field's state: the whole Compile of a type with nothing more to check.
func compileOptions[T any](f *Field) error {
	var opts T
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	addFieldErrors(&fe, checkFieldKeywords(f))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &opts
	return nil
}
