package gs1

import (
	"strings"
	"time"
)

// Parse reads a scan field: whatever a scanner (or a person) put in it. It recognises, after
// trimming surrounding whitespace and an optional symbology identifier:
//
//   - a GS1 Digital Link URI (http:// or https:// with a primary key in the path);
//   - GS1 element strings: bracketed, "(01)…"; raw with GS separators; raw after a GS1
//     symbology identifier (]C1, ]e0, ]d2, ]Q3, ]J1); or raw without either when it starts
//     with an SSCC or GTIN (00, 01, 02) whose check digit is right, as keyboard-wedge scanners
//     send it;
//   - a bare GTIN-8, -12, -13 or -14 with a right check digit, returned as AI 01 padded to 14
//     digits.
//
// A symbology identifier that GS1 lays down must fit its data (see CheckSymbology): 13 digits
// after ]E0, 8 after ]E4, element strings and no URI after ]C1, ]e0, ]d2, ]Q3 and ]J1. AIs GS1
// forbids together are an error; the partners an AI needs are not checked (see CheckPairs).
// Dates are checked against now (zero means time.Now()) with the GS1 century rule (see
// DateOf). Anything else gives
// ErrNotGS1 (check with errors.Is), and the caller keeps the text: plain internal codes are
// legitimate. Text that is recognised as GS1 but broken gives an *Error with the byte offset in
// scanned.
func Parse(scanned string, now time.Time) (Elements, error) {
	if now.IsZero() {
		now = time.Now()
	}
	lead := len(scanned) - len(strings.TrimLeft(scanned, whitespace))
	body := strings.TrimRight(scanned[lead:], whitespace)
	off := lead
	id, rest := splitSymbology(body)
	if id != "" {
		body, off = rest, off+len(id)
		if err := CheckSymbology(id, body); err != nil {
			err.(*Error).Position += off
			return nil, err
		}
	}
	if body == "" {
		return nil, ErrNotGS1
	}
	switch {
	case hasPrefixFold(body, "http://") || hasPrefixFold(body, "https://"):
		dl, err := parseDigitalLink(body, off, now)
		if err != nil {
			return nil, err
		}
		return dl.Elements(), nil
	case gs1Symbologies[id] || strings.Contains(body, GS) || startsAI(body):
		return parseElementString(body, off, now)
	case id == "]E0" || id == "]E4":
		// EAN-13, UPC-A and EAN-8 carry nothing but a GTIN; CheckSymbology checked it.
		g, _ := NormalizeGTIN(body)
		return Elements{withTitle("01", g)}, nil
	case isDigits(body) && (len(body) == 8 || len(body) == 12 || len(body) == 13 || len(body) == 14):
		// An all-zero number passes the check digit but is no GTIN.
		if !ValidGTIN(body) || strings.Trim(body, "0") == "" {
			return nil, ErrNotGS1
		}
		g, _ := NormalizeGTIN(body)
		return Elements{withTitle("01", g)}, nil
	case startsWithKey(body):
		return parseElementString(body, off, now)
	}
	return nil, ErrNotGS1
}

// startsWithKey reports whether s starts with an SSCC (00) or a GTIN (01, 02) whose check digit
// is right: the sign of element strings sent without symbology identifier, and perhaps without
// GS. A chance match of a numeric internal code needs both the AI and the check digit.
func startsWithKey(s string) bool {
	if len(s) < 2 {
		return false
	}
	d := table[s[:2]]
	if d == nil || !d.CheckDigit || d.FNC1 {
		return false
	}
	n := 2 + d.MaxLength
	return len(s) >= n && isDigits(s[2:n]) && validCheckDigit(s[2:n])
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}
