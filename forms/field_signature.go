package forms

import "tracecraft/engine"

// FieldTypeSignature is the x-type of a handwritten signature (a QA release, a delivery
// receipt): the id of one uploaded PNG image.
const FieldTypeSignature = "signature"

const signatureMaxSizeDefault = 2 << 20 // 2 MiB: a signature pad's PNG is a few dozen KiB

var signatureAccept = []string{"image/png"}

// SignatureOptions are a signature's x-options.
type SignatureOptions struct {
	// MaxSize is the largest image in bytes (default 2 MiB, at most 1 GiB).
	MaxSize int64 `json:"maxSize,omitempty"`
}

type signatureType struct{ fileField }

func (signatureType) ID() string { return FieldTypeSignature }

func (signatureType) Label() engine.Text { return engine.Text{ZH: "手写签名", EN: "Signature"} }

func (signatureType) Compile(c *CompileContext, f *Field) error {
	var o SignatureOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	if o.MaxSize == 0 {
		o.MaxSize = signatureMaxSizeDefault
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f))
	l := compileFileLimits(&fe, FileOptions{MaxFiles: 1, MaxSize: o.MaxSize}, 1, signatureAccept)
	if err := fe.Err(); err != nil {
		return err
	}
	l.single = true
	f.State = l
	return nil
}

func init() { RegisterFieldType(signatureType{}) }

var (
	_ FieldType = signatureType{}
	_ Checked   = signatureType{}
)
