package forms

import (
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"tracecraft/engine"
)

// FieldTypeSelect is the x-type of a dropdown of options.
const FieldTypeSelect = "select"

// ChoiceOption is one option of a select, radio, multiselect or checkbox field.
type ChoiceOption struct {
	// Value is what is stored: non-empty, unique within the field, at most 100 characters.
	Value string `json:"value"`
	// Label is what people see; zh-CN is required.
	Label engine.Text `json:"label"`
	// Color is one of the product's status colours: amber, green, red, grey, orange, darkred,
	// blue (待检 amber, 合格 green, …). Optional.
	Color string `json:"color,omitempty"`
}

// SelectOptions are the x-options of a select (下拉框) or radio (单选按钮组) field.
type SelectOptions struct {
	// Options are the choices, in the order they are shown; at least one.
	Options []ChoiceOption `json:"options"`
}

// choiceColors are the status colours of UX.md, in its order.
var choiceColors = []string{"amber", "green", "red", "grey", "orange", "darkred", "blue"}

const choiceMaxValueLength = 100

// choiceState is what Compile leaves in Field.State for the four choice types.
type choiceState struct {
	options []ChoiceOption
	byValue map[string]int
	// byLabel finds an option by its zh-CN or en label; -1 marks a label two options share.
	byLabel map[string]int
	// minSelected and maxSelected bound a multiple choice (maxSelected 0: no limit).
	minSelected, maxSelected int
}

// compileChoices checks the options list and indexes it. Errors go to fe with paths under
// "x-options.options".
func compileChoices(fe *engine.FieldErrors, opts []ChoiceOption) *choiceState {
	st := &choiceState{options: opts, byValue: map[string]int{}, byLabel: map[string]int{}}
	switch {
	case opts == nil:
		fe.Add("x-options.options", "required", nil)
	case len(opts) == 0:
		fe.Add("x-options.options", "too_few", map[string]any{"min": 1})
	}
	for i, o := range opts {
		path := "x-options.options." + strconv.Itoa(i)
		switch _, dup := st.byValue[o.Value]; {
		case o.Value == "":
			fe.Add(path+".value", "required", nil)
		case utf8.RuneCountInString(o.Value) > choiceMaxValueLength:
			fe.Add(path+".value", "too_long", map[string]any{"max": choiceMaxValueLength})
		case dup:
			fe.Add(path+".value", "duplicate_value", map[string]any{"value": o.Value})
		default:
			st.byValue[o.Value] = i
		}
		if o.Label.ZH == "" {
			fe.Add(path+".label.zh-CN", "required", nil)
		}
		if o.Color != "" && !slices.Contains(choiceColors, o.Color) {
			fe.Add(path+".color", "one_of", map[string]any{"values": strings.Join(choiceColors, ", ")})
		}
	}
	for i, o := range opts {
		for _, l := range []string{o.Label.ZH, o.Label.EN} {
			if l == "" {
				continue
			}
			if j, seen := st.byLabel[l]; seen && j != i {
				st.byLabel[l] = -1
			} else if !seen {
				st.byLabel[l] = i
			}
		}
	}
	return st
}

// resolve finds the option an input names: its value, else (trimmed) its value, else the one
// option with that label, since spreadsheets and people write labels ("合格" for "pass").
func (st *choiceState) resolve(s string) (int, bool) {
	if i, ok := st.byValue[s]; ok {
		return i, true
	}
	s = strings.TrimSpace(s)
	if i, ok := st.byValue[s]; ok {
		return i, true
	}
	if i, ok := st.byLabel[s]; ok && i >= 0 {
		return i, true
	}
	return 0, false
}

// enum lists the option values for a schema (a new slice each time: callers merge into it).
func (st *choiceState) enum() []any {
	out := make([]any, len(st.options))
	for i, o := range st.options {
		out[i] = o.Value
	}
	return out
}

// selectField is one choice among options, stored as the option's value (a string).
type selectField struct{}

func (selectField) ID() string { return FieldTypeSelect }

func (selectField) Label() engine.Text { return engine.Text{ZH: "下拉框", EN: "Dropdown"} }

func (selectField) Compile(c *CompileContext, f *Field) error {
	var opts SelectOptions
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	st := compileChoices(&fe, opts.Options)
	addFieldErrors(&fe, checkFieldKeywords(f))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

func (selectField) Schema(f *Field) map[string]any {
	s := map[string]any{"type": "string"}
	if st, ok := f.State.(*choiceState); ok {
		s["enum"] = st.enum()
	}
	return s
}

func (selectField) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprString}
}

func (selectField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	st, err := fieldState[*choiceState](f)
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	i, ok := st.resolve(s)
	if !ok {
		return nil, engine.Invalid("", "not_allowed", map[string]any{"value": s})
	}
	return st.options[i].Value, nil
}

func init() { RegisterFieldType(selectField{}) }

var _ FieldType = (*selectField)(nil)
