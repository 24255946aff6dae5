package forms

import "tracecraft/engine"

// FieldTypeRadio is the x-type of radio buttons.
const FieldTypeRadio = "radio"

// radioField is a select shown as a row of radio buttons: the same SelectOptions, value and
// checks; only the designer's palette and the record form tell them apart.
type radioField struct{ selectField }

func (radioField) ID() string { return FieldTypeRadio }

func (radioField) Label() engine.Text { return engine.Text{ZH: "单选按钮组", EN: "Radio buttons"} }

func init() { RegisterFieldType(radioField{}) }

var _ FieldType = (*radioField)(nil)
