package forms

import (
	"strings"
	"time"

	"tracecraft/engine"
)

// FieldTypeDateTime is the x-type of an instant (date and time).
const FieldTypeDateTime = "datetime"

// DateTimeOptions are the x-options of a datetime (日期时间) field. There are none yet; any
// option given is an unknown_field error.
type DateTimeOptions struct{}

// datetimeLocalLayouts are the wall-clock forms read in the record's time zone: what people
// type and spreadsheets export ("2026-03-01 08:30"), and what an HTML datetime-local input
// sends ("2026-03-01T08:30").
var datetimeLocalLayouts = func() []string {
	var out []string
	for _, d := range []string{"2006-1-2", "2006/1/2"} {
		for _, sep := range []string{" ", "T"} {
			// Parsing takes fractional seconds after :05 even though the layout has none.
			for _, t := range []string{"15:04", "15:04:05"} {
				out = append(out, d+sep+t)
			}
		}
	}
	return out
}()

// datetimeField is an instant (receiving time, CCP check time), stored as a time.Time in UTC
// and a time in expressions; JSON writes it as an RFC 3339 string. It takes RFC 3339 (with an
// offset or Z) and wall-clock times "YYYY-MM-DD HH:MM[:SS]", which are read in the record's time
// zone. Values are cut to whole milliseconds, the precision the store keeps, so a value reads
// back equal to what was saved.
type datetimeField struct{}

func (datetimeField) ID() string { return FieldTypeDateTime }

func (datetimeField) Label() engine.Text { return engine.Text{ZH: "日期时间", EN: "Date and time"} }

func (datetimeField) Compile(c *CompileContext, f *Field) error {
	return compileOptions[DateTimeOptions](f)
}

// Schema describes the value as the API sends it: time.Time marshals to an RFC 3339 string.
func (datetimeField) Schema(f *Field) map[string]any {
	return map[string]any{"type": "string", "format": "date-time"}
}

func (datetimeField) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprTime}
}

func (datetimeField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	var t time.Time
	switch v := in.(type) {
	case time.Time:
		if v.IsZero() {
			return nil, nil
		}
		t = v
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil, nil
		}
		var ok bool
		if t, ok = parseDateTime(s, valueLocation(c)); !ok {
			return nil, engine.Invalid("", "invalid_datetime", map[string]any{"value": s})
		}
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	t = t.UTC().Truncate(time.Millisecond)
	if t.Year() < 1 || t.Year() > 9999 { // JSON cannot write other years
		return nil, engine.Invalid("", "invalid_datetime", map[string]any{"value": t.Format(time.RFC3339)})
	}
	return t, nil
}

// parseDateTime reads RFC 3339, or a wall-clock time in loc.
func parseDateTime(s string, loc *time.Location) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	for _, layout := range datetimeLocalLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

func init() { RegisterFieldType(datetimeField{}) }

var _ FieldType = (*datetimeField)(nil)
