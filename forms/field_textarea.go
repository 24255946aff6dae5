package forms

import (
	"strings"

	"tracecraft/engine"
)

// FieldTypeTextarea is the x-type of a multi-line text field.
const FieldTypeTextarea = "textarea"

// textareaDefaultMaxLength is a textarea's limit when its maxLength keyword sets none.
const textareaDefaultMaxLength = 5000

// textareaField is a multi-line string (remarks, deviation descriptions). Line breaks are kept,
// written as "\n" whatever the client sent; blank space around the whole text is trimmed. Its
// options are TextOptions.
type textareaField struct{}

func (textareaField) ID() string { return FieldTypeTextarea }

func (textareaField) Label() engine.Text { return engine.Text{ZH: "多行文本", EN: "Paragraph"} }

func (textareaField) Compile(c *CompileContext, f *Field) error {
	return compileText(f, textareaDefaultMaxLength, "minLength", "maxLength", "pattern")
}

func (textareaField) Schema(f *Field) map[string]any { return textSchema(f) }

func (textareaField) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprString}
}

func (textareaField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	st, err := fieldState[*textState](f)
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	s = strings.NewReplacer("\r\n", "\n", "\r", "\n").Replace(s)
	return textCheck(strings.TrimSpace(s), st.max)
}

func init() { RegisterFieldType(textareaField{}) }

var _ FieldType = (*textareaField)(nil)
