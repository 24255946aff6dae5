package forms

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"tracecraft/engine"
)

// FieldTypeAutoNumber is the x-type of a number the server gives a record when it is created:
// an internal lot number "RM2611250001", a work order "WO-2026-0042".
const FieldTypeAutoNumber = "autonumber"

// Auto-number reset periods.
const (
	AutoNumberResetNone  = "none"
	AutoNumberResetDay   = "day"
	AutoNumberResetMonth = "month"
	AutoNumberResetYear  = "year"
)

const (
	autoNumberMaxPattern = 100 // characters
	autoNumberMaxSeq     = 12  // digits
)

// AutoNumberOptions are an auto-number's x-options.
type AutoNumberOptions struct {
	// Pattern is literal text and tokens in braces: {yyyy} {yy} {MM} {dd} and any run of them
	// ({yyMMdd}) for the creation date in the app's time zone, and exactly one {seq:N} for the
	// sequence number zero-padded to N digits (1..12; more digits when it outgrows them).
	// Example: "RM{yyMMdd}{seq:4}" gives RM2611250001. Required.
	Pattern string `json:"pattern"`
	// Reset restarts the sequence at 1 every "day", "month" or "year"; "none" (default) never.
	// The pattern must show the period it resets on, or numbers would repeat.
	Reset string `json:"reset,omitempty"`
}

// autoNumberToken is one piece of a pattern: literal text, a date layout (its parts: "yyyy",
// "yy", "MM", "dd") or the sequence with its width.
type autoNumberToken struct {
	literal string
	date    []string
	seq     int
}

type autoNumberState struct {
	AutoNumberOptions
	tokens []autoNumberToken
}

type autoNumberType struct{}

func (autoNumberType) ID() string { return FieldTypeAutoNumber }

func (autoNumberType) Label() engine.Text { return engine.Text{ZH: "流水号", EN: "Auto number"} }

func (autoNumberType) Compile(c *CompileContext, f *Field) error {
	var o AutoNumberOptions
	if err := decodeFieldOptions(f, &o); err != nil {
		return err
	}
	if o.Reset == "" {
		o.Reset = AutoNumberResetNone
	}
	var fe engine.FieldErrors
	addFieldErrors(&fe, checkFieldKeywords(f))
	var tokens []autoNumberToken
	if o.Pattern == "" {
		fe.Add("x-options.pattern", "required", nil)
	} else {
		var err error
		if tokens, err = parseAutoNumberPattern(o.Pattern); err != nil {
			fe.Add("x-options.pattern", "invalid_pattern", map[string]any{"detail": err.Error()})
		}
	}
	switch o.Reset {
	case AutoNumberResetNone, AutoNumberResetDay, AutoNumberResetMonth, AutoNumberResetYear:
		if tokens != nil {
			if missing := autoNumberMissingParts(tokens, o.Reset); missing != "" {
				fe.Add("x-options.reset", "invalid_pattern", map[string]any{
					"detail": fmt.Sprintf("resetting every %s needs %s in the pattern, or numbers repeat", o.Reset, missing),
				})
			}
		}
	default:
		fe.Add("x-options.reset", "not_allowed", map[string]any{"value": o.Reset})
	}
	if err := fe.Err(); err != nil {
		return err
	}
	f.State = &autoNumberState{AutoNumberOptions: o, tokens: tokens}
	return nil
}

func (autoNumberType) Schema(f *Field) map[string]any {
	return map[string]any{"type": "string"}
}

func (autoNumberType) ExprType(f *Field) engine.ExprType {
	return engine.ExprType{Kind: engine.ExprString}
}

// Prepare accepts a string (a number being imported); on save the input is ignored and
// Generate's value kept.
func (autoNumberType) Prepare(c *ValueContext, f *Field, in any) (any, error) {
	s, ok := in.(string)
	if !ok {
		return nil, engine.Invalid("", "wrong_type", map[string]any{"want": "string"})
	}
	return s, nil
}

// Phase: numbers are drawn after validation, so a record that fails uses none.
func (autoNumberType) Phase() int { return 1 }

// Generate draws the next number of the field's sequence for the current period when a record
// is created; an update keeps the number the record has.
func (autoNumberType) Generate(c *ValueContext, f *Field, rec *Values, onCreate bool) (any, error) {
	if !onCreate {
		if f.Parent != nil && c.Row != nil {
			return c.Row[f.Key], nil
		}
		if rec == nil || *rec == nil {
			return nil, nil
		}
		return (*rec)[f.Key], nil
	}
	st, ok := f.State.(*autoNumberState)
	if !ok {
		return nil, fmt.Errorf("auto number %s: field not compiled", f.Path())
	}
	if c.Store == nil {
		return nil, fmt.Errorf("auto number %s: no store", f.Path())
	}
	now := c.Now
	if c.Loc != nil {
		now = now.In(c.Loc)
	}
	name := AutoNumberSequence(c.App, c.Form, f.Path(), st.Reset, now)
	// Drawn from a block reserved ahead: a number costs no store write of its own. A killed
	// process leaves the rest of its block unused (a gap); numbers are never reused.
	seq, err := c.Store.Draw(c.Ctx, name)
	if err != nil {
		return nil, fmt.Errorf("auto number %s: %w", f.Path(), err)
	}
	return formatAutoNumber(st.tokens, now, seq), nil
}

// AutoNumberSequence names the store sequence an auto-number field draws from at time t (in
// the app's zone): "autonumber/{app}/{form}/{field}/{period}", period being "" (reset none),
// "2026" (year), "202611" (month) or "20261125" (day).
func AutoNumberSequence(app, form, field, reset string, t time.Time) string {
	var period string
	switch reset {
	case AutoNumberResetYear:
		period = t.Format("2006")
	case AutoNumberResetMonth:
		period = t.Format("200601")
	case AutoNumberResetDay:
		period = t.Format("20060102")
	}
	return "autonumber/" + app + "/" + form + "/" + field + "/" + period
}

// FormatAutoNumber renders pattern for date t (already in the app's zone) and sequence number
// seq, as Generate does; previews and tests use it. An invalid pattern renders as itself.
func FormatAutoNumber(pattern string, t time.Time, seq int64) string {
	tokens, err := parseAutoNumberPattern(pattern)
	if err != nil {
		return pattern
	}
	return formatAutoNumber(tokens, t, seq)
}

func formatAutoNumber(tokens []autoNumberToken, t time.Time, seq int64) string {
	var b strings.Builder
	for _, tok := range tokens {
		switch {
		case tok.seq > 0:
			s := strconv.FormatInt(seq, 10)
			for i := len(s); i < tok.seq; i++ {
				b.WriteByte('0')
			}
			b.WriteString(s)
		case tok.date != nil:
			for _, part := range tok.date {
				switch part {
				case "yyyy":
					fmt.Fprintf(&b, "%04d", t.Year())
				case "yy":
					fmt.Fprintf(&b, "%02d", t.Year()%100)
				case "MM":
					fmt.Fprintf(&b, "%02d", int(t.Month()))
				case "dd":
					fmt.Fprintf(&b, "%02d", t.Day())
				}
			}
		default:
			b.WriteString(tok.literal)
		}
	}
	return b.String()
}

// parseAutoNumberPattern splits a pattern into tokens; the error says what is wrong and where.
func parseAutoNumberPattern(pattern string) ([]autoNumberToken, error) {
	if n := utf8.RuneCountInString(pattern); n > autoNumberMaxPattern {
		return nil, fmt.Errorf("longer than %d characters", autoNumberMaxPattern)
	}
	var tokens []autoNumberToken
	seqs := 0
	rest := pattern
	for rest != "" {
		open := strings.IndexAny(rest, "{}")
		if open < 0 {
			tokens = append(tokens, autoNumberToken{literal: rest})
			break
		}
		if open > 0 {
			tokens = append(tokens, autoNumberToken{literal: rest[:open]})
		}
		at := len(pattern) - len(rest) + open + 1 // 1-based position of the brace
		if rest[open] == '}' {
			return nil, fmt.Errorf("unmatched } at position %d", at)
		}
		end := strings.IndexByte(rest[open:], '}')
		if end < 0 {
			return nil, fmt.Errorf("unclosed { at position %d", at)
		}
		body := rest[open+1 : open+end]
		rest = rest[open+end+1:]
		tok, err := parseAutoNumberToken(body)
		if err != nil {
			return nil, fmt.Errorf("{%s} at position %d: %w", body, at, err)
		}
		if tok.seq > 0 {
			seqs++
		}
		tokens = append(tokens, tok)
	}
	if seqs != 1 {
		return nil, fmt.Errorf("needs exactly one {seq:N} token, has %d", seqs)
	}
	return tokens, nil
}

func parseAutoNumberToken(body string) (autoNumberToken, error) {
	if width, ok := strings.CutPrefix(body, "seq"); ok {
		digits, ok := strings.CutPrefix(width, ":")
		if !ok {
			return autoNumberToken{}, errors.New("write the sequence as {seq:N}, N digits from 1 to 12")
		}
		n, err := strconv.Atoi(digits)
		if err != nil || n < 1 || n > autoNumberMaxSeq {
			return autoNumberToken{}, fmt.Errorf("the width must be a number from 1 to %d", autoNumberMaxSeq)
		}
		return autoNumberToken{seq: n}, nil
	}
	if body == "" {
		return autoNumberToken{}, errors.New("empty token")
	}
	var parts []string
	for i := 0; i < len(body); {
		c := body[i]
		if c != 'y' && c != 'M' && c != 'd' {
			return autoNumberToken{}, errors.New("unknown token; use yyyy, yy, MM, dd or seq:N")
		}
		n := 1
		for i+n < len(body) && body[i+n] == c {
			n++
		}
		part := body[i : i+n]
		switch part {
		case "yyyy", "yy", "MM", "dd":
		default:
			return autoNumberToken{}, fmt.Errorf("%q is not a date part; use yyyy, yy, MM or dd", part)
		}
		parts = append(parts, part)
		i += n
	}
	return autoNumberToken{date: parts}, nil
}

// autoNumberMissingParts names the date parts a reset period needs that the pattern lacks.
func autoNumberMissingParts(tokens []autoNumberToken, reset string) string {
	var y, m, d bool
	for _, tok := range tokens {
		for _, p := range tok.date {
			switch p[0] {
			case 'y':
				y = true
			case 'M':
				m = true
			case 'd':
				d = true
			}
		}
	}
	var missing []string
	if reset != AutoNumberResetNone && !y {
		missing = append(missing, "a year ({yy} or {yyyy})")
	}
	if (reset == AutoNumberResetMonth || reset == AutoNumberResetDay) && !m {
		missing = append(missing, "the month ({MM})")
	}
	if reset == AutoNumberResetDay && !d {
		missing = append(missing, "the day ({dd})")
	}
	return strings.Join(missing, " and ")
}

func init() { RegisterFieldType(autoNumberType{}) }

var (
	_ FieldType = autoNumberType{}
	_ Generated = autoNumberType{}
)
