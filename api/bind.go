package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// validator is implemented by inputs that check themselves after decoding.
type validator interface{ Validate() error }

// bind decodes the JSON body strictly into v: the content type must be JSON, unknown fields are
// rejected, a wrong type names its field, and nothing may follow the value. Inputs with a
// Validate method are then validated.
func bind(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return fiber.ErrUnsupportedMediaType
	}
	if err := decodeStrict(c.Body(), v); err != nil {
		return err
	}
	if vv, ok := v.(validator); ok {
		return vv.Validate()
	}
	return nil
}

// decodeStrict decodes one JSON value with unknown fields rejected, mapping decoder errors to
// field errors.
func decodeStrict(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return engine.Invalid("", "invalid_json", map[string]any{"detail": "empty body"})
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return engine.Invalid("", "invalid_json", map[string]any{"detail": "unexpected data after the JSON value"})
	}
	return nil
}

func jsonError(err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return engine.Invalid("", "invalid_json", map[string]any{"detail": fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)})
	case errors.As(err, &te):
		return engine.Invalid(te.Field, "wrong_type", map[string]any{"want": jsonTypeName(te.Type.Kind().String())})
	case errors.Is(err, io.ErrUnexpectedEOF):
		return engine.Invalid("", "invalid_json", map[string]any{"detail": "unexpected end of input"})
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return engine.Invalid(name, "unknown_field", nil)
	}
	return engine.Invalid("", "invalid_json", map[string]any{"detail": err.Error()})
}

func jsonTypeName(kind string) string {
	switch kind {
	case "string":
		return "string"
	case "bool":
		return "boolean"
	case "slice", "array":
		return "array"
	case "map", "struct":
		return "object"
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "integer"
	case "float32", "float64":
		return "number"
	}
	return kind
}

// revQuery reads the required ?rev= of a write: the revision the caller read.
func revQuery(c *fiber.Ctx) (int64, error) {
	rev, err := strconv.ParseInt(c.Query("rev"), 10, 64)
	if err != nil || rev < 1 {
		return 0, engine.Invalid("rev", "required", nil)
	}
	return rev, nil
}
