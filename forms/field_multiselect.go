package forms

import (
	"strconv"
	"strings"

	"tracecraft/engine"
)

// FieldTypeMultiSelect is the x-type of a multiple-choice dropdown.
const FieldTypeMultiSelect = "multiselect"

// MultiSelectOptions are the x-options of a multiselect (下拉复选框) or checkbox (复选框组) field.
type MultiSelectOptions struct {
	// Options are the choices, in the order they are shown; at least one.
	Options []ChoiceOption `json:"options"`
	// MinSelected is the fewest options a filled-in value may have (0 or more, at most the
	// number of options). Whether the field may be left empty is "required"'s business.
	MinSelected *int `json:"minSelected,omitempty"`
	// MaxSelected is the most options a value may have (1 or more, not below MinSelected).
	MaxSelected *int `json:"maxSelected,omitempty"`
}

// multiselectSeparators split a spreadsheet cell such as "花生，大豆、乳" into options.
const multiselectSeparators = ",，、;；\n"

// multiselectField is a set of options, stored as a []string of their values in the order the
// options are defined (so equal selections are equal values). Naming an option twice is a
// duplicate_value error.
// Besides a JSON array it takes one string listing options separated by commas, 、 or
// semicolons, as imports give them.
type multiselectField struct{}

func (multiselectField) ID() string { return FieldTypeMultiSelect }

func (multiselectField) Label() engine.Text {
	return engine.Text{ZH: "下拉复选框", EN: "Multi-select"}
}

func (multiselectField) Compile(c *CompileContext, f *Field) error {
	var opts MultiSelectOptions
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	st := compileChoices(&fe, opts.Options)
	if p := opts.MinSelected; p != nil {
		switch {
		case *p < 0:
			fe.Add("x-options.minSelected", "too_small", map[string]any{"min": 0})
		case len(opts.Options) > 0 && *p > len(opts.Options):
			fe.Add("x-options.minSelected", "too_big", map[string]any{"max": len(opts.Options)})
		default:
			st.minSelected = *p
		}
	}
	if p := opts.MaxSelected; p != nil {
		switch {
		case *p < max(1, st.minSelected):
			fe.Add("x-options.maxSelected", "too_small", map[string]any{"min": max(1, st.minSelected)})
		default:
			st.maxSelected = *p
		}
	}
	addFieldErrors(&fe, checkFieldKeywords(f, "minItems", "maxItems"))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

func (multiselectField) Schema(f *Field) map[string]any {
	items := map[string]any{"type": "string"}
	s := map[string]any{"type": "array", "items": items, "uniqueItems": true}
	if st, ok := f.State.(*choiceState); ok {
		items["enum"] = st.enum()
		if st.minSelected > 0 {
			s["minItems"] = st.minSelected
		}
		if st.maxSelected > 0 {
			s["maxItems"] = st.maxSelected
		}
	}
	return s
}

func (multiselectField) ExprType(f *Field) engine.ExprType {
	return engine.ExprListOf(engine.ExprType{Kind: engine.ExprString})
}

func (multiselectField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	st, err := fieldState[*choiceState](f)
	if err != nil {
		return nil, err
	}
	var items []any
	switch v := in.(type) {
	case []any:
		items = v
	case []string:
		items = make([]any, len(v))
		for i, s := range v {
			items[i] = s
		}
	case string:
		if _, ok := st.resolve(v); ok || strings.TrimSpace(v) == "" {
			items = []any{v} // one option whose value or label holds a separator
			break
		}
		for part := range strings.FieldsFuncSeq(v, func(r rune) bool { return strings.ContainsRune(multiselectSeparators, r) }) {
			items = append(items, part)
		}
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "array"})
	}
	chosen := make([]bool, len(st.options))
	var fe engine.FieldErrors
	for i, item := range items {
		s, ok := item.(string)
		switch {
		case !ok:
			fe.Add(strconv.Itoa(i), "wrong_type", map[string]any{"want": "string"})
		case strings.TrimSpace(s) == "":
			// an empty entry (a trailing comma) chooses nothing
		default:
			j, ok := st.resolve(s)
			switch {
			case !ok:
				fe.Add(strconv.Itoa(i), "not_allowed", map[string]any{"value": s})
			case chosen[j]:
				fe.Add(strconv.Itoa(i), "duplicate_value", map[string]any{"value": s})
			default:
				chosen[j] = true
			}
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var out []string
	for j, ok := range chosen {
		if ok {
			out = append(out, st.options[j].Value)
		}
	}
	switch {
	case len(out) == 0:
		return nil, nil
	case len(out) < st.minSelected:
		return nil, engine.Invalid("", "too_few", map[string]any{"min": st.minSelected})
	case st.maxSelected > 0 && len(out) > st.maxSelected:
		return nil, engine.Invalid("", "too_many", map[string]any{"max": st.maxSelected})
	}
	return out, nil
}

func init() { RegisterFieldType(multiselectField{}) }

var _ FieldType = (*multiselectField)(nil)
