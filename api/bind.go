package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strconv"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// validator is implemented by inputs that check themselves after decoding.
type validator interface{ Validate() error }

// bind decodes the JSON body strictly into v: the content type must be JSON, unknown fields are
// rejected, a wrong type names its field, and nothing may follow the value (see checkJSON for
// the rest). Inputs with a Validate method are then validated.
func bind(c *fiber.Ctx, v any) error {
	ct := strings.ToLower(c.Get(fiber.HeaderContentType))
	if !strings.HasPrefix(ct, fiber.MIMEApplicationJSON) {
		return fiber.ErrUnsupportedMediaType
	}
	// The raw body: the route refused compressed ones, and nothing decoded keeps its bytes.
	if err := decodeStrict(c.Request().Body(), v); err != nil {
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
	if err := checkJSON(body, reflect.TypeOf(v)); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(body, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return engine.Invalid("", "invalid_json", map[string]any{"detail": "unexpected data after the JSON value"})
	}
	return nil
}

// decodeDocument checks that body is one JSON value as strictly as decodeStrict, for documents
// that their engine decodes (definitions); errors name fields by JSON pointer.
func decodeDocument(body []byte) error {
	if err := checkDocument(body); err != nil {
		return err
	}
	var v any
	return decodeStrict(body, &v)
}

func jsonError(body []byte, err error) error {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return engine.Invalid("", "invalid_json", map[string]any{"detail": fmt.Sprintf("%s (at byte %d)", se.Error(), se.Offset)})
	case errors.As(err, &te):
		// The decoder names struct fields only ("data" for data.qty, "roles" for roles.1); the
		// offset finds the value itself.
		field := te.Field
		if p, ok := jsonPathAt(body, te.Offset); ok {
			field = p
		}
		return engine.Invalid(field, "wrong_type", map[string]any{"want": jsonTypeName(te.Type.Kind().String())})
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

// intQuery reads the optional integer query parameter name: def when it is absent, else a
// whole number from lo to hi; anything else adds a field error naming the parameter to fe
// ("too_small", "too_big", "wrong_type"). List routes read their limit with it, so "limit=-1",
// "0", "ten" and "1e99" are refused instead of meaning something else.
func intQuery(c *fiber.Ctx, name string, def, lo, hi int, fe *engine.FieldErrors) int {
	v := c.Query(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	switch {
	case errors.Is(err, strconv.ErrRange) && strings.HasPrefix(v, "-"), err == nil && n < lo:
		fe.Add(name, "too_small", map[string]any{"min": lo})
	case errors.Is(err, strconv.ErrRange), err == nil && n > hi:
		fe.Add(name, "too_big", map[string]any{"max": hi})
	case err != nil:
		fe.Add(name, "wrong_type", map[string]any{"want": "integer"})
	default:
		return n
	}
	return def
}
