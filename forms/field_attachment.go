package forms

import (
	"errors"
	"fmt"
	"mime"
	"strconv"
	"strings"

	"tracecraft/engine"
)

// FieldTypeAttachment is the x-type of uploaded files (a certificate, a COA report): the value
// is a list of file ids. Upload and storage are elsewhere; the field checks that each id names
// a file of this app within the field's limits.
const FieldTypeAttachment = "attachment"

// File field limits.
const (
	fileMaxSizeDefault  = 20 << 20 // 20 MiB
	fileMaxSizeLimit    = 1 << 30  // 1 GiB
	fileMaxFilesDefault = 10
	fileMaxFilesLimit   = 100
)

// FileOptions are the x-options of attachment and image fields.
type FileOptions struct {
	// MaxFiles is the most files the field holds (default 10 for attachments, 9 for images;
	// at most 100).
	MaxFiles int `json:"maxFiles,omitempty"`
	// MaxSize is the largest file in bytes (default 20 MiB, at most 1 GiB).
	MaxSize int64 `json:"maxSize,omitempty"`
	// Accept lists the MIME types allowed: exact ("application/pdf") or a whole kind
	// ("image/*"). Empty allows any type for attachments, PNG, JPEG and WebP for images.
	Accept []string `json:"accept,omitempty"`
}

// fileLimits is what Compile leaves in f.State for every file field type.
type fileLimits struct {
	single   bool // one id string instead of a list (signatures)
	maxFiles int
	maxSize  int64
	accept   []string // lowercase; nil accepts any type
}

// fileField holds what attachment, image and signature fields share: values, schema and the
// store check. Each type embeds it and brings its own id, label and options.
type fileField struct{}

func (fileField) Schema(f *Field) map[string]any {
	if fileLimitsOf(f).single {
		return map[string]any{"type": "string", "minLength": 1}
	}
	id := map[string]any{"type": "string", "minLength": 1}
	return map[string]any{"type": "array", "items": id, "uniqueItems": true, "maxItems": fileLimitsOf(f).maxFiles}
}

func (fileField) ExprType(f *Field) engine.ExprType {
	return refExprType(!fileLimitsOf(f).single)
}

// Prepare takes one id (signatures) or a list of unique ids, at most maxFiles of them.
func (fileField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	l := fileLimitsOf(f)
	v, err := prepareRefs(in, !l.single)
	if err != nil || l.single {
		return v, err
	}
	if ids, _ := v.([]string); len(ids) > l.maxFiles {
		return nil, engine.Invalid("", "too_many_files", map[string]any{"max": l.maxFiles})
	}
	return v, nil
}

// Check looks up each file: it must exist in the app, be at most maxSize and of an accepted
// type.
func (fileField) Check(c *ValueContext, f *Field, v any) error {
	l := fileLimitsOf(f)
	var fe engine.FieldErrors
	for i, id := range refsOf(v) {
		path := strconv.Itoa(i)
		if l.single {
			path = ""
		}
		info, err := c.Lookup.File(c.Ctx, c.App, id)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			fe.Add(path, "not_found", map[string]any{"value": id})
			continue
		case err != nil:
			return fmt.Errorf("check file %s of %s: %w", id, f.Path(), err)
		}
		if info.Size > l.maxSize {
			fe.Add(path, "file_too_large", map[string]any{"max": formatFileSize(l.maxSize)})
		}
		if typ := fileMediaType(info.Type); !acceptsFileType(l.accept, typ) {
			fe.Add(path, "file_type", map[string]any{"type": typ})
		}
	}
	return fe.Err()
}

// compileFileLimits checks the options shared by file fields and fills in the defaults.
func compileFileLimits(fe *engine.FieldErrors, o FileOptions, defFiles int, defAccept []string) *fileLimits {
	l := &fileLimits{maxFiles: o.MaxFiles, maxSize: o.MaxSize, accept: defAccept}
	if l.maxFiles == 0 {
		l.maxFiles = defFiles
	}
	if l.maxSize == 0 {
		l.maxSize = fileMaxSizeDefault
	}
	if l.maxFiles < 1 || l.maxFiles > fileMaxFilesLimit {
		fe.Add("x-options.maxFiles", "option_range", map[string]any{"min": 1, "max": fileMaxFilesLimit})
	}
	if l.maxSize < 1 || l.maxSize > fileMaxSizeLimit {
		fe.Add("x-options.maxSize", "option_range", map[string]any{"min": 1, "max": fileMaxSizeLimit})
	}
	if len(o.Accept) > 0 {
		l.accept = make([]string, len(o.Accept))
		for i, a := range o.Accept {
			a = strings.ToLower(strings.TrimSpace(a))
			if !validAcceptPattern(a) {
				fe.Add("x-options.accept."+strconv.Itoa(i), "invalid_format", map[string]any{"detail": `want a MIME type such as "application/pdf" or "image/*"`})
			}
			l.accept[i] = a
		}
	}
	return l
}

func fileLimitsOf(f *Field) *fileLimits {
	if l, ok := f.State.(*fileLimits); ok {
		return l
	}
	// Not compiled: describe the value by the type's defaults.
	switch f.Type {
	case FieldTypeSignature:
		return &fileLimits{single: true, maxFiles: 1, maxSize: signatureMaxSizeDefault, accept: signatureAccept}
	case FieldTypeImage:
		return &fileLimits{maxFiles: imageMaxFilesDefault, maxSize: fileMaxSizeDefault, accept: imageAcceptDefault}
	}
	return &fileLimits{maxFiles: fileMaxFilesDefault, maxSize: fileMaxSizeDefault}
}

// validAcceptPattern tells whether a is "type/subtype", "type/*" or "*/*".
func validAcceptPattern(a string) bool {
	typ, sub, ok := strings.Cut(a, "/")
	if !ok || typ == "" || sub == "" {
		return false
	}
	if typ == "*" {
		return sub == "*"
	}
	if sub == "*" {
		return mimeToken(typ)
	}
	return mimeToken(typ) && mimeToken(sub)
}

func mimeToken(s string) bool {
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || strings.ContainsRune("!#$&^_.+-", c)) {
			return false
		}
	}
	return s != ""
}

// fileMediaType is a file's MIME type without parameters, lowercase; unknown types are
// application/octet-stream.
func fileMediaType(t string) string {
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		return mt
	}
	if t = strings.ToLower(strings.TrimSpace(t)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func acceptsFileType(accept []string, typ string) bool {
	if len(accept) == 0 {
		return true
	}
	for _, a := range accept {
		switch {
		case a == "*/*" || a == typ:
			return true
		case strings.HasSuffix(a, "/*") && strings.HasPrefix(typ, strings.TrimSuffix(a, "*")):
			return true
		}
	}
	return false
}

// formatFileSize writes a byte count the way people read limits: "20 MiB", "512 KiB".
func formatFileSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return strconv.FormatInt(n>>30, 10) + " GiB"
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.FormatInt(n>>20, 10) + " MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.FormatInt(n>>10, 10) + " KiB"
	}
	return strconv.FormatInt(n, 10) + " bytes"
}

type attachmentType struct{ fileField }

func (attachmentType) ID() string { return FieldTypeAttachment }

func (attachmentType) Label() engine.Text { return engine.Text{ZH: "附件", EN: "Attachment"} }

func (attachmentType) Compile(c *CompileContext, f *Field) error {
	var o FileOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f, "minItems"))
	l := compileFileLimits(&fe, o, fileMaxFilesDefault, nil)
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = l
	return nil
}

func init() { RegisterFieldType(attachmentType{}) }

var (
	_ FieldType = attachmentType{}
	_ Checked   = attachmentType{}
)
