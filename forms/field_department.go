package forms

import (
	"fmt"

	"tracecraft/engine"
)

// FieldTypeDepartment is the x-type of a department picker: the value is a department id. Its
// options are PickerOptions.
const FieldTypeDepartment = "department"

type departmentType struct{}

func (departmentType) ID() string { return FieldTypeDepartment }

func (departmentType) Label() engine.Text { return engine.Text{ZH: "部门", EN: "Department"} }

func (departmentType) Compile(c *CompileContext, f *Field) error { return compilePicker(f) }

func (departmentType) Schema(f *Field) map[string]any {
	return refSchema(pickerOptionsOf(f).Multiple)
}

func (departmentType) ExprType(f *Field) engine.ExprType {
	return refExprType(pickerOptionsOf(f).Multiple)
}

func (departmentType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	return prepareRefs(in, pickerOptionsOf(f).Multiple)
}

func (departmentType) Check(c *ValueContext, f *Field, v any) error {
	return checkRefs(v, func(id string) (bool, error) {
		ok, err := c.Lookup.DepartmentExists(c.Ctx, id)
		if err != nil {
			return false, fmt.Errorf("check department %s of %s: %w", id, f.Path(), err)
		}
		return ok, nil
	})
}

func init() { RegisterFieldType(departmentType{}) }

var (
	_ FieldType = departmentType{}
	_ Checked   = departmentType{}
)
