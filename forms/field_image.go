package forms

import "tracecraft/engine"

// FieldTypeImage is the x-type of uploaded pictures (a delivery's condition, a defect): a list
// of file ids, PNG, JPEG or WebP unless the options accept more. Its options are FileOptions.
const FieldTypeImage = "image"

const imageMaxFilesDefault = 9

var imageAcceptDefault = []string{"image/png", "image/jpeg", "image/webp"}

type imageType struct{ fileField }

func (imageType) ID() string { return FieldTypeImage }

func (imageType) Label() engine.Text { return engine.Text{ZH: "图片", EN: "Image"} }

func (imageType) Compile(c *CompileContext, f *Field) error {
	var o FileOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f, "minItems"))
	l := compileFileLimits(&fe, o, imageMaxFilesDefault, imageAcceptDefault)
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = l
	return nil
}

func init() { RegisterFieldType(imageType{}) }

var (
	_ FieldType = imageType{}
	_ Checked   = imageType{}
)
