package forms

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"tracecraft/engine"
)

// FieldTypeNumber is the x-type of a number field.
const FieldTypeNumber = "number"

// NumberOptions are the x-options of a number (数字) field.
type NumberOptions struct {
	// Precision is how many decimals a value may have, 0–8 (default 2). A value with more is
	// refused rather than rounded: a weight of 12.345 kg on a two-decimal field is a typo or a
	// scale set up wrong, and rounding would hide it.
	Precision *int `json:"precision,omitempty"`
	// Unit is shown after the value ("kg", "°C", "箱"); at most 20 characters.
	Unit string `json:"unit,omitempty"`
	// Thousands shows the value with thousands separators (1,234.5).
	Thousands bool `json:"thousands,omitempty"`
}

const (
	numberDefaultPrecision = 2
	numberMaxPrecision     = 8
	numberMaxUnitLength    = 20
)

// numberKeywords are the JSON Schema keywords a number or money field takes.
var numberKeywords = []string{"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf"}

// numberState is what Compile leaves in Field.State: the options with defaults filled in.
type numberState struct {
	opts      NumberOptions
	precision int
}

// numberField is a float64. Besides JSON numbers it takes numeric strings, since imports and
// scans give strings: "12.50", "1,234.5", "-3e2", and full-width digits typed with a Chinese
// input method.
type numberField struct{}

func (numberField) ID() string { return FieldTypeNumber }

func (numberField) Label() engine.Text { return engine.Text{ZH: "数字", EN: "Number"} }

func (numberField) Compile(c *CompileContext, f *Field) error {
	st := &numberState{}
	var fe engine.FieldErrors
	if err := addFieldErrors(&fe, decodeFieldOptions(f, &st.opts)); err != nil {
		return err
	}
	st.precision = checkPrecision(&fe, st.opts.Precision, numberDefaultPrecision, numberMaxPrecision)
	if utf8.RuneCountInString(st.opts.Unit) > numberMaxUnitLength {
		fe.Add("x-options.unit", "too_long", map[string]any{"max": numberMaxUnitLength})
	}
	addFieldErrors(&fe, checkFieldKeywords(f, numberKeywords...))
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

func (numberField) Schema(f *Field) map[string]any {
	if st, ok := f.State.(*numberState); ok && st.precision == 0 {
		return map[string]any{"type": "integer"} // a whole float64 such as 3.0 is an integer
	}
	return map[string]any{"type": "number"}
}

func (numberField) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprNumber}
}

func (numberField) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	st, err := fieldState[*numberState](f)
	if err != nil {
		return nil, err
	}
	return prepareDecimal(in, st.precision)
}

// checkPrecision checks a precision option (nil: def) against 0..max and returns the value to
// use.
func checkPrecision(fe *engine.FieldErrors, p *int, def, max int) int {
	switch {
	case p == nil:
		return def
	case *p < 0:
		fe.Add("x-options.precision", "too_small", map[string]any{"min": 0})
	case *p > max:
		fe.Add("x-options.precision", "too_big", map[string]any{"max": max})
	}
	return *p
}

// prepareDecimal parses a number input and refuses values with more than precision decimals.
// An empty string stores nothing.
func prepareDecimal(in any, precision int) (any, error) {
	v, empty, err := parseNumberInput(in)
	if err != nil || empty {
		return nil, err
	}
	if decimalPlaces(v) > precision {
		return nil, engine.Invalid("", "too_precise", map[string]any{"precision": precision})
	}
	return v, nil
}

// numberPattern is a decimal as people write it: optional sign, digits with or without correct
// thousands groups, optional fraction and exponent. strconv.ParseFloat alone would also take
// "NaN", "Inf", hex floats and underscores.
var numberPattern = regexp.MustCompile(`^[+-]?(?:(?:\d+|\d{1,3}(?:,\d{3})+)(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$`)

// numberFullWidth folds what a Chinese input method types into ASCII.
var numberFullWidth = strings.NewReplacer(
	"０", "0", "１", "1", "２", "2", "３", "3", "４", "4", "５", "5", "６", "6", "７", "7", "８", "8", "９", "9",
	"．", ".", "，", ",", "－", "-", "＋", "+", "−", "-",
)

// parseNumberInput turns a number input into a finite float64; empty reports an empty string.
// Errors are FieldErrors for the value itself: wrong_type or invalid_number.
func parseNumberInput(in any) (v float64, empty bool, err error) {
	switch n := in.(type) {
	case float64:
		v = n
	case float32:
		// Through its shortest decimal form, so float32(0.1) is 0.1 and not 0.100000001490116.
		v, _ = strconv.ParseFloat(strconv.FormatFloat(float64(n), 'g', -1, 32), 64)
	case int:
		v = float64(n)
	case int8:
		v = float64(n)
	case int16:
		v = float64(n)
	case int32:
		v = float64(n)
	case int64:
		v = float64(n)
	case uint:
		v = float64(n)
	case uint8:
		v = float64(n)
	case uint16:
		v = float64(n)
	case uint32:
		v = float64(n)
	case uint64:
		v = float64(n)
	case json.Number:
		return parseNumberString(string(n))
	case string:
		return parseNumberString(n)
	default:
		return 0, false, engine.Invalid("", "wrong_type", map[string]any{"want": "number"})
	}
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0, false, engine.Invalid("", "invalid_number", map[string]any{"value": fmt.Sprint(v)})
	}
	return v + 0, false, nil // + 0 turns -0 into 0, which JSON would otherwise write as "-0"
}

func parseNumberString(s string) (float64, bool, error) {
	s = strings.TrimSpace(numberFullWidth.Replace(s))
	if s == "" {
		return 0, true, nil
	}
	bad := engine.Invalid("", "invalid_number", map[string]any{"value": s})
	if !numberPattern.MatchString(s) {
		return 0, false, bad
	}
	v, err := strconv.ParseFloat(strings.ReplaceAll(s, ",", ""), 64)
	if err != nil || math.IsInf(v, 0) { // out of range
		return 0, false, bad
	}
	return v + 0, false, nil
}

// decimalPlaces counts the decimals of v's shortest exact decimal form, so 12.50 has one and
// 0.1+0.2 (0.30000000000000004) has seventeen.
func decimalPlaces(v float64) int {
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if i := strings.IndexByte(s, '.'); i >= 0 {
		return len(s) - i - 1
	}
	return 0
}

func init() { RegisterFieldType(numberField{}) }

var _ FieldType = (*numberField)(nil)
