package forms

import (
	"errors"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"tracecraft/engine"
	"tracecraft/gs1"
)

// FieldTypeScan is the x-type of a barcode or QR input: an operator scans a case label and the
// field keeps the scanned text. When the text is GS1 data (an element string such as
// "(01)09501101530003(17)261231(10)LOT-7", a scanner's raw output with GS separators, or a
// Digital Link URI), the fields named in the map are filled from its AIs; other codes (an
// internal lot label) are kept as they are unless requireGS1 is set.
const FieldTypeScan = "scan"

// scanMaxLength is the longest scanned text kept, in characters: a long Digital Link URI fits.
const scanMaxLength = 500

// ScanOptions are a scan field's x-options.
type ScanOptions struct {
	// Map names, by AI, the field a GS1 element fills: {"01": "gtin", "10": "lot_no",
	// "17": "expiry_date", "21": "serial"}. The fields are sibling columns for a sub-table
	// column, else top-level fields; they are filled only where the input left them empty.
	// Dates become "YYYY-MM-DD" (day 00 is the month's last day; a date-time for a datetime
	// field), measures (310n net weight…) numbers, everything else text.
	Map map[string]string `json:"map,omitempty"`
	// RequireGS1 refuses codes that are not GS1 data.
	RequireGS1 bool `json:"requireGS1,omitempty"`
}

type scanState struct {
	ScanOptions
	ais     []string          // the map's AIs, sorted
	targets map[string]string // the mapped fields' types by key, set by Link
}

type scanType struct{}

func (scanType) ID() string { return FieldTypeScan }

func (scanType) Label() engine.Text { return engine.Text{ZH: "扫码输入", EN: "Scan"} }

func (scanType) Compile(c *CompileContext, f *Field) error {
	var o ScanOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f, "minLength", "maxLength", "pattern"))
	st := &scanState{ScanOptions: o}
	for ai, key := range o.Map {
		st.ais = append(st.ais, ai)
		path := "x-options.map." + ai
		if _, ok := gs1.Lookup(ai); !ok {
			fe.Add(path, "invalid_ai", map[string]any{"value": ai})
		}
		if !fieldKeyPattern(key) {
			fe.Add(path, "invalid_format", map[string]any{"detail": "not a field key"})
		}
	}
	slices.Sort(st.ais)
	slices.SortFunc(fe, func(a, b engine.FieldError) int { return strings.Compare(a.Path, b.Path) })
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = st
	return nil
}

// Link checks that each mapped field exists beside the scan field and is one the server does
// not compute.
func (scanType) Link(c *CompileContext, f *Field) error {
	st, ok := f.State.(*scanState)
	if !ok {
		return errors.New("link scan " + f.Path() + ": field not compiled")
	}
	var fe engine.FieldErrors
	targets := make(map[string]string, len(st.Map))
	for _, ai := range st.ais {
		key, path := st.Map[ai], "x-options.map."+ai
		target := neighbourField(c, f, key)
		if target == nil {
			fe.Add(path, "not_found", map[string]any{"value": key})
			continue
		}
		if _, generated := fieldTypeOf(target).(Generated); generated {
			fe.Add(path, "generated_target", map[string]any{"value": key})
			continue
		}
		targets[key] = target.Type
	}
	if err := fe.Err(); err != nil {
		return err
	}
	st.targets = targets
	return nil
}

func (scanType) Schema(f *Field) map[string]any {
	return map[string]any{"type": "string", "maxLength": scanMaxLength}
}

func (scanType) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprString}
}

// Prepare keeps the scanned text without the line break scanners end it with, after checking
// that GS1 data is valid GS1 data.
func (scanType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	s, ok := in.(string)
	if !ok {
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	if utf8.RuneCountInString(s) > scanMaxLength {
		return nil, engine.Invalid("", "too_long", map[string]any{"max": scanMaxLength})
	}
	_, err := gs1.Parse(s, scanNow(c))
	switch {
	case err == nil:
	case errors.Is(err, gs1.ErrNotGS1):
		if scanOptionsOf(f).RequireGS1 {
			return nil, engine.Invalid("", "not_gs1", nil)
		}
	default:
		return nil, engine.Invalid("", "invalid_gs1", map[string]any{"detail": err.Error()})
	}
	return s, nil
}

// Fill gives the mapped fields their values from the scanned GS1 data; a code that is not GS1
// fills nothing.
func (scanType) Fill(c *ValueContext, f *Field, v any) (map[string]any, error) {
	s, ok := v.(string)
	st := scanOptionsOf(f)
	if !ok || s == "" || len(st.Map) == 0 {
		return nil, nil
	}
	now := scanNow(c)
	els, err := gs1.Parse(s, now)
	switch {
	case errors.Is(err, gs1.ErrNotGS1):
		return nil, nil
	case err != nil:
		return nil, engine.Invalid("", "invalid_gs1", map[string]any{"detail": err.Error()})
	}
	out := map[string]any{}
	for _, ai := range st.ais {
		key := st.Map[ai]
		if _, done := out[key]; done || !els.Has(ai) {
			continue // with two AIs for one field, the first present (in AI order) wins
		}
		val, err := scanValue(els, ai, st.targets[key], now)
		if err != nil {
			return nil, engine.Invalid("", "invalid_gs1", map[string]any{"detail": err.Error()})
		}
		out[key] = val
	}
	return out, nil
}

// scanValue converts one element to what the target field takes.
func scanValue(els gs1.Elements, ai, targetType string, now time.Time) (any, error) {
	d, _ := gs1.Lookup(ai)
	switch {
	case d.Date:
		t, err := els.DateAt(ai, now)
		if err != nil {
			return nil, err
		}
		if targetType == "datetime" {
			return t.Format(time.RFC3339), nil
		}
		return t.Format(time.DateOnly), nil
	case d.Decimals >= 0:
		n, _, err := els.Decimal(ai)
		if err != nil {
			return nil, err
		}
		return n, nil
	}
	return els.Get(ai), nil
}

// scanNow is the save's time in the app's zone: two-digit GS1 years are placed relative to it
// and dates are read in that zone.
func scanNow(c *ValueContext) time.Time {
	now := c.Now
	if now.IsZero() {
		now = time.Now()
	}
	if c.Loc != nil {
		now = now.In(c.Loc)
	}
	return now
}

func scanOptionsOf(f *Field) *scanState {
	if st, ok := f.State.(*scanState); ok {
		return st
	}
	st := &scanState{}
	lenientFieldOptions(f, &st.ScanOptions)
	for ai := range st.Map {
		st.ais = append(st.ais, ai)
	}
	slices.Sort(st.ais)
	return st
}

func init() { RegisterFieldType(scanType{}) }

var (
	_ FieldType = scanType{}
	_ Linker    = scanType{}
	_ Filler    = scanType{}
)
