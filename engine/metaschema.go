package engine

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// Schema is a compiled JSON Schema (draft 2020-12): the meta-schema of a definition kind, or the
// data schema of a form. Its errors come back as FieldErrors with the path of each bad value.
type Schema struct {
	s *jsonschema.Schema
}

// PathStyle chooses how a Schema names the location of a bad value.
type PathStyle int

const (
	// PathPointer gives JSON pointers ("/schema/properties/qty/x-type"): for definitions.
	PathPointer PathStyle = iota
	// PathDotted gives dotted paths ("lines.2.qty"): for record data.
	PathDotted
)

// CompileSchema compiles a JSON Schema document. name is its resource name (used in errors).
func CompileSchema(name string, doc []byte) (*Schema, error) {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return CompileSchemaValue(name, v)
}

// CompileSchemaValue compiles a JSON Schema given as decoded JSON (maps, slices, json.Number or
// float64 numbers).
func CompileSchemaValue(name string, v any) (*Schema, error) {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	if err := c.AddResource(name, v); err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	s, err := c.Compile(name)
	if err != nil {
		return nil, fmt.Errorf("schema %s: %w", name, err)
	}
	return &Schema{s: s}, nil
}

// MustSchema compiles a schema that ships with the binary; a broken one is a programmer error.
func MustSchema(name string, doc []byte) *Schema {
	s, err := CompileSchema(name, doc)
	if err != nil {
		panic(err)
	}
	return s
}

// ValidateJSON validates a JSON document.
func (s *Schema) ValidateJSON(doc []byte, style PathStyle) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return Invalid("", "invalid_json", map[string]any{"detail": err.Error()})
	}
	return s.Validate(v, style)
}

// Validate validates decoded JSON and returns FieldErrors (nil when valid), one per bad value,
// sorted by path.
func (s *Schema) Validate(v any, style PathStyle) error {
	err := s.s.Validate(v)
	if err == nil {
		return nil
	}
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		return fmt.Errorf("validate: %w", err)
	}
	var fe FieldErrors
	seen := map[string]bool{}
	collectSchemaErrors(ve, style, &fe, seen)
	sort.SliceStable(fe, func(i, j int) bool { return fe[i].Path < fe[j].Path })
	return fe
}

var schemaPrinter = message.NewPrinter(language.English)

func collectSchemaErrors(ve *jsonschema.ValidationError, style PathStyle, fe *FieldErrors, seen map[string]bool) {
	if len(ve.Causes) > 0 {
		for _, c := range ve.Causes {
			collectSchemaErrors(c, style, fe, seen)
		}
		return
	}
	add := func(loc []string, code string, params map[string]any) {
		p := schemaPath(loc, style)
		k := p + "\x00" + code
		if seen[k] {
			return
		}
		seen[k] = true
		fe.Add(p, code, params)
	}
	loc := ve.InstanceLocation
	with := func(extra string) []string { return append(append([]string(nil), loc...), extra) }
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		for _, m := range k.Missing {
			add(with(m), "required", nil)
		}
	case *kind.AdditionalProperties:
		for _, p := range k.Properties {
			add(with(p), "unknown_field", nil)
		}
	case *kind.Type:
		add(loc, "wrong_type", map[string]any{"want": strings.Join(k.Want, " or ")})
	case *kind.MinLength:
		add(loc, "too_short", map[string]any{"min": k.Want})
	case *kind.MaxLength:
		add(loc, "too_long", map[string]any{"max": k.Want})
	case *kind.Minimum:
		add(loc, "too_small", map[string]any{"min": ratString(k.Want.FloatString(6))})
	case *kind.ExclusiveMinimum:
		add(loc, "too_small_excl", map[string]any{"min": ratString(k.Want.FloatString(6))})
	case *kind.Maximum:
		add(loc, "too_big", map[string]any{"max": ratString(k.Want.FloatString(6))})
	case *kind.ExclusiveMaximum:
		add(loc, "too_big_excl", map[string]any{"max": ratString(k.Want.FloatString(6))})
	case *kind.MinItems:
		add(loc, "too_few", map[string]any{"min": k.Want})
	case *kind.MaxItems:
		add(loc, "too_many", map[string]any{"max": k.Want})
	case *kind.Enum:
		vals := make([]string, len(k.Want))
		for i, w := range k.Want {
			vals[i] = fmt.Sprint(w)
		}
		add(loc, "one_of", map[string]any{"values": strings.Join(vals, ", ")})
	case *kind.Const:
		add(loc, "one_of", map[string]any{"values": fmt.Sprint(k.Want)})
	case *kind.Pattern:
		add(loc, "pattern", map[string]any{"pattern": k.Want})
	case *kind.Format:
		add(loc, "invalid_format", map[string]any{"detail": k.Want})
	case *kind.PropertyNames:
		add(with(k.Property), "invalid_name", nil)
	case *kind.FalseSchema:
		add(loc, "unknown_field", nil)
	default:
		add(loc, "invalid", map[string]any{"detail": ve.ErrorKind.LocalizedString(schemaPrinter)})
	}
}

func schemaPath(loc []string, style PathStyle) string {
	if style == PathDotted {
		return strings.Join(loc, ".")
	}
	if len(loc) == 0 {
		return ""
	}
	var b strings.Builder
	for _, t := range loc {
		b.WriteByte('/')
		b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(t))
	}
	return b.String()
}

// ratString trims a fixed-point decimal's trailing zeros: "5.000000" → "5".
func ratString(s string) string {
	if strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

func init() {
	RegisterMessages(map[string]Text{
		"too_small":      {ZH: "不能小于 {min}", EN: "must be at least {min}"},
		"too_small_excl": {ZH: "必须大于 {min}", EN: "must be greater than {min}"},
		"too_big":        {ZH: "不能大于 {max}", EN: "must be at most {max}"},
		"too_big_excl":   {ZH: "必须小于 {max}", EN: "must be less than {max}"},
		"too_few":        {ZH: "至少需要 {min} 项", EN: "needs at least {min} items"},
		"too_many":       {ZH: "最多 {max} 项", EN: "allows at most {max} items"},
		"one_of":         {ZH: "只能是以下之一：{values}", EN: "must be one of: {values}"},
		"pattern":        {ZH: "格式不符合规则 {pattern}", EN: "does not match the pattern {pattern}"},
		"invalid_name":   {ZH: "名称不合法（小写字母开头，只含小写字母、数字和下划线）", EN: "is not a valid name (lowercase letter first, then lowercase letters, digits, underscores)"},
		"invalid":        {ZH: "无效：{detail}", EN: "is invalid: {detail}"},
	})
}
