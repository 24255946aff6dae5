package forms

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"tracecraft/engine"
)

// FieldTypeTime is the x-type of a time of day.
const FieldTypeTime = "time"

// TimeOptions are the x-options of a time (时间) field.
type TimeOptions struct {
	// Seconds stores "HH:MM:SS" ("HH:MM" input gets ":00"); without it the field stores "HH:MM"
	// and takes seconds only when they are ":00". One stored form per field keeps values
	// comparable as strings.
	Seconds bool `json:"seconds,omitempty"`
}

// timeInputPattern is a 24-hour time with an optional seconds part; the hour may have one digit.
var timeInputPattern = regexp.MustCompile(`^(\d{1,2})[:：](\d{2})(?:[:：](\d{2}))?$`)

// timeField is a time of day ("HH:MM" or "HH:MM:SS", 24-hour), stored as a zero-padded string
// so that values compare in time order; a string in expressions too.
type timeField struct{}

func (timeField) ID() string { return FieldTypeTime }

func (timeField) Label() engine.Text { return engine.Text{ZH: "时间", EN: "Time"} }

func (timeField) Compile(c *CompileContext, f *Field) error {
	return compileOptions[TimeOptions](f)
}

func (timeField) Schema(f *Field) map[string]any {
	pattern := `^([01][0-9]|2[0-3]):[0-5][0-9]$`
	if opts, ok := f.State.(*TimeOptions); ok && opts.Seconds {
		pattern = `^([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]$`
	}
	return map[string]any{"type": "string", "pattern": pattern}
}

func (timeField) ExprType(f *Field) engine.ExprType { return engine.ExprType{Kind: engine.ExprString} }

func (timeField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	opts, err := fieldState[*TimeOptions](f)
	if err != nil {
		return nil, err
	}
	var h, m, sec int
	switch v := in.(type) {
	case time.Time:
		if v.IsZero() {
			return nil, nil
		}
		v = v.In(valueLocation(c))
		h, m, sec = v.Clock()
		if !opts.Seconds {
			sec = 0 // a timestamp's seconds are not a typo to refuse
		}
	case string:
		s := strings.TrimSpace(v)
		if s == "" {
			return nil, nil
		}
		bad := engine.Invalid("", "invalid_time", map[string]any{"value": s})
		p := timeInputPattern.FindStringSubmatch(s)
		if p == nil {
			return nil, bad
		}
		h, _ = strconv.Atoi(p[1])
		m, _ = strconv.Atoi(p[2])
		if p[3] != "" {
			sec, _ = strconv.Atoi(p[3])
		}
		if h > 23 || m > 59 || sec > 59 || sec != 0 && !opts.Seconds {
			return nil, bad
		}
	default:
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	if opts.Seconds {
		return fmt.Sprintf("%02d:%02d:%02d", h, m, sec), nil
	}
	return fmt.Sprintf("%02d:%02d", h, m), nil
}

func init() { RegisterFieldType(timeField{}) }

var _ FieldType = (*timeField)(nil)
