package forms

import (
	"encoding/json"
	"fmt"
	"strings"

	"tracecraft/engine"
)

// FieldTypeSwitch is the x-type of a yes/no switch.
const FieldTypeSwitch = "switch"

// SwitchOptions are the x-options of a switch (开关) field.
type SwitchOptions struct {
	// OnLabel and OffLabel are the words shown for true and false ("合格"/"不合格"); without
	// them the form shows 是/否 (Yes/No). An input equal to one of them is read as its value.
	OnLabel  engine.Text `json:"onLabel,omitzero"`
	OffLabel engine.Text `json:"offLabel,omitzero"`
}

// switchWords are the strings every switch reads, compared case-insensitively.
var switchWords = map[string]bool{
	"true": true, "false": false,
	"是": true, "否": false,
	"1": true, "0": false,
}

// switchField is a yes/no value, stored as a bool. Besides JSON booleans it takes the strings
// of switchWords and the field's own labels, as imports give them, and the numbers 1 and 0.
type switchField struct{}

func (switchField) ID() string { return FieldTypeSwitch }

func (switchField) Label() engine.Text { return engine.Text{ZH: "开关", EN: "Switch"} }

func (switchField) Compile(c *CompileContext, f *Field) error {
	var opts SwitchOptions
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	for _, on := range []string{opts.OnLabel.ZH, opts.OnLabel.EN} {
		for _, off := range []string{opts.OffLabel.ZH, opts.OffLabel.EN} {
			if on != "" && strings.EqualFold(on, off) {
				fe.Add("x-options.offLabel", "duplicate_value", map[string]any{"value": off})
			}
		}
	}
	addFieldErrors(&fe, checkFieldKeywords(f))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &opts
	return nil
}

func (switchField) Schema(f *Field) map[string]any { return map[string]any{"type": "boolean"} }

func (switchField) ExprType(f *Field) engine.ExprType { return engine.ExprType{Kind: engine.ExprBool} }

func (switchField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	opts, err := fieldState[*SwitchOptions](f)
	if err != nil {
		return nil, err
	}
	switch v := in.(type) {
	case bool:
		return v, nil
	case float64, int, int64, json.Number:
		s := fmt.Sprint(v)
		if b, ok := switchWords[s]; ok {
			return b, nil
		}
		return nil, engine.Invalid("", "invalid_bool", map[string]any{"value": s})
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil, nil
		}
		if b, ok := switchWords[strings.ToLower(s)]; ok {
			return b, nil
		}
		for _, l := range []string{opts.OnLabel.ZH, opts.OnLabel.EN} {
			if l != "" && strings.EqualFold(s, l) {
				return true, nil
			}
		}
		for _, l := range []string{opts.OffLabel.ZH, opts.OffLabel.EN} {
			if l != "" && strings.EqualFold(s, l) {
				return false, nil
			}
		}
		return nil, engine.Invalid("", "invalid_bool", map[string]any{"value": s})
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "boolean"})
	}
}

func init() { RegisterFieldType(switchField{}) }

var _ FieldType = (*switchField)(nil)
