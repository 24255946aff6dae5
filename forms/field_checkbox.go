package forms

import "tracecraft/engine"

// FieldTypeCheckbox is the x-type of a group of check boxes.
const FieldTypeCheckbox = "checkbox"

// checkboxField is a multiselect shown as a group of check boxes: the same MultiSelectOptions,
// value and checks; only the designer's palette and the record form tell them apart.
type checkboxField struct{ multiselectField }

func (checkboxField) ID() string { return FieldTypeCheckbox }

func (checkboxField) Label() engine.Text { return engine.Text{ZH: "复选框组", EN: "Checkboxes"} }

func init() { RegisterFieldType(checkboxField{}) }

var _ FieldType = (*checkboxField)(nil)
