package forms

import (
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai must load on hosts without a zoneinfo database

	"tracecraft/engine"
)

// FieldTypeDate is the x-type of a calendar date.
const FieldTypeDate = "date"

// DateOptions are the x-options of a date (日期) field. There are none yet; any option given is
// an unknown_field error.
type DateOptions struct{}

// dateLayout is how a date is stored and how it reads in expressions; strings in this form
// compare in date order.
const dateLayout = "2006-01-02"

// dateInputLayouts are the calendar-date forms people type and spreadsheets export, read
// strictly: time.Parse refuses a day the month does not have (2026-02-30). "1" and "2" take one
// or two digits.
var dateInputLayouts = []string{"2006-1-2", "2006/1/2", "2006.1.2", "2006年1月2日"}

// dateField is a calendar date (production date, expiry date) stored as a "YYYY-MM-DD" string
// and a string in expressions too (date() turns it into a time). A timestamp input (RFC 3339,
// or a time.Time from Go) becomes the date it is in the record's time zone: midnight in
// Shanghai is 16:00 UTC the day before.
type dateField struct{}

func (dateField) ID() string { return FieldTypeDate }

func (dateField) Label() engine.Text { return engine.Text{ZH: "日期", EN: "Date"} }

func (dateField) Compile(c *CompileContext, f *Field) error {
	return compileOptions[DateOptions](f)
}

func (dateField) Schema(f *Field) map[string]any {
	return map[string]any{"type": "string", "format": "date"}
}

func (dateField) ExprType(f *Field) engine.ExprType { return engine.ExprType{Kind: engine.ExprString} }

func (dateField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	var t time.Time
	switch v := in.(type) {
	case time.Time:
		if v.IsZero() {
			return nil, nil
		}
		t = v.In(valueLocation(c))
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil, nil
		}
		var ok bool
		if t, ok = parseDate(s); !ok {
			ts, err := time.Parse(time.RFC3339Nano, s)
			if err != nil {
				return nil, engine.Invalid("", "invalid_date", map[string]any{"value": s})
			}
			t = ts.In(valueLocation(c))
		}
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	if t.Year() < 1 || t.Year() > 9999 {
		return nil, engine.Invalid("", "invalid_date", map[string]any{"value": t.Format(time.RFC3339)})
	}
	return t.Format(dateLayout), nil
}

// parseDate reads a calendar date in one of dateInputLayouts.
func parseDate(s string) (time.Time, bool) {
	for _, layout := range dateInputLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// valueLocation is the time zone dates and local times of a record are read in: the
// context's, or the product's default, Asia/Shanghai.
func valueLocation(c *ValueContext) *time.Location {
	if c != nil && c.Loc != nil {
		return c.Loc
	}
	return valueDefaultLocation()
}

var valueDefaultLocation = sync.OnceValue(func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		return time.FixedZone("CST", 8*60*60)
	}
	return loc
})

func init() { RegisterFieldType(dateField{}) }

var _ FieldType = (*dateField)(nil)
