package forms

import (
	"html"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/microcosm-cc/bluemonday"

	"tracecraft/engine"
)

// FieldTypeRichText is the x-type of rich text (HTML).
const FieldTypeRichText = "richtext"

// RichTextOptions are the x-options of a richtext (富文本) field.
type RichTextOptions struct {
	// MaxLength is the most characters the sanitised HTML may have, 1–1,000,000 (default
	// 100,000). It counts markup too: that is what is stored and sent.
	MaxLength *int `json:"maxLength,omitempty"`
}

const (
	richtextDefaultMaxLength = 100_000
	richtextMaxMaxLength     = 1_000_000
)

// richtextPolicy is bluemonday's policy for user-generated content: formatting, links, images
// and tables stay; scripts, styles, event handlers (on*) and javascript: URLs go. A policy is
// safe for concurrent use once built.
var richtextPolicy = sync.OnceValue(bluemonday.UGCPolicy)

// richtextTextOnly strips every tag, to tell whether sanitised HTML shows anything.
var richtextTextOnly = sync.OnceValue(bluemonday.StrictPolicy)

// richtextField is an HTML fragment (work instructions, recall notices). Prepare sanitises it
// and stores the sanitised HTML, so nothing unsafe is ever stored or sent back; the length
// limit applies after sanitising. HTML that shows nothing ("<p><br></p>", which editors send
// for an empty document) stores nothing.
type richtextField struct{}

func (richtextField) ID() string { return FieldTypeRichText }

func (richtextField) Label() engine.Text { return engine.Text{ZH: "富文本", EN: "Rich text"} }

func (richtextField) Compile(c *CompileContext, f *Field) error {
	opts := RichTextOptions{}
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &opts)); err != nil {
		return err
	}
	switch p := opts.MaxLength; {
	case p == nil:
		n := richtextDefaultMaxLength
		opts.MaxLength = &n
	case *p < 1:
		fe.Add("x-options.maxLength", "too_small", map[string]any{"min": 1})
	case *p > richtextMaxMaxLength:
		fe.Add("x-options.maxLength", "too_big", map[string]any{"max": richtextMaxMaxLength})
	}
	addFieldErrors(&fe, checkFieldKeywords(f))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &opts
	return nil
}

func (richtextField) Schema(f *Field) map[string]any {
	s := map[string]any{"type": "string"}
	if opts, ok := f.State.(*RichTextOptions); ok && opts.MaxLength != nil {
		s["maxLength"] = *opts.MaxLength
	}
	return s
}

func (richtextField) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprString}
}

func (richtextField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	opts, err := fieldState[*RichTextOptions](f)
	if err != nil {
		return nil, err
	}
	s, ok := in.(string)
	if !ok {
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	clean := strings.TrimSpace(richtextPolicy().Sanitize(s))
	if clean == "" || !strings.Contains(clean, "<img") &&
		strings.TrimSpace(html.UnescapeString(richtextTextOnly().Sanitize(clean))) == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(clean) > *opts.MaxLength {
		return nil, engine.Invalid("", "too_long", map[string]any{"max": *opts.MaxLength})
	}
	return clean, nil
}

func init() { RegisterFieldType(richtextField{}) }

var _ FieldType = (*richtextField)(nil)
