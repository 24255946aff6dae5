package forms

import (
	"fmt"

	"tracecraft/engine"
)

// FieldTypeUser is the x-type of a member picker: the value is a username.
const FieldTypeUser = "user"

// PickerOptions are the x-options of the user and department pickers.
type PickerOptions struct {
	// Multiple stores a list of unique values instead of one.
	Multiple bool `json:"multiple,omitempty"`
}

type userType struct{}

func (userType) ID() string { return FieldTypeUser }

func (userType) Label() engine.Text { return engine.Text{ZH: "成员", EN: "User"} }

func (userType) Compile(c *CompileContext, f *Field) error { return compilePicker(f) }

func (userType) Schema(f *Field) map[string]any { return refSchema(pickerOptionsOf(f).Multiple) }

func (userType) ExprType(f *Field) engine.ExprType {
	return refExprType(pickerOptionsOf(f).Multiple)
}

func (userType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	return prepareRefs(in, pickerOptionsOf(f).Multiple)
}

func (userType) Check(c *ValueContext, f *Field, v any) error {
	return checkRefs(v, func(name string) (bool, error) {
		ok, err := c.Lookup.UserExists(c.Ctx, name)
		if err != nil {
			return false, fmt.Errorf("check user %s of %s: %w", name, f.Path(), err)
		}
		return ok, nil
	})
}

// compilePicker decodes a picker's options into f.State.
func compilePicker(f *Field) error {
	var o PickerOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	if err := checkFieldKeywords(f, refKeywords(o.Multiple)...); err != nil {
		return err
	}
	f.State = &o
	return nil
}

func pickerOptionsOf(f *Field) *PickerOptions {
	if o, ok := f.State.(*PickerOptions); ok {
		return o
	}
	var o PickerOptions
	lenientFieldOptions(f, &o)
	return &o
}

func init() { RegisterFieldType(userType{}) }

var (
	_ FieldType = userType{}
	_ Checked   = userType{}
)
