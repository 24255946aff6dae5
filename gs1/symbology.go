package gs1

import (
	"fmt"
	"strings"
)

// symbology is what a symbology identifier (ISO/IEC 15424, "]" letter digit, sent by a scanner
// before the data) says the data may be.
type symbology struct {
	name string
	// gs1 reports FNC1 mode: the data is GS1 element strings, never a URI.
	gs1 bool
	// digits are the lengths of an EAN/UPC symbol's data, all digits ending in a check digit;
	// nil for the other symbologies.
	digits []int
	// max is the most data characters the symbol holds (GS counted as one), 0 for no limit
	// worth checking.
	max int
}

// symbologies are the identifiers whose content GS1 lays down (GS1 General Specifications, the
// symbology identifiers and the GS1-128 capacity; the GS1 Barcode Syntax Engine's scan data
// rules). Other identifiers (]E3 with an add-on, ]A0 Code 39 …) are read as they come.
var symbologies = map[string]symbology{
	// EAN-13, and UPC-A and UPC-E, which the scanner sends as 13 digits with a leading zero.
	// Scanners set to send UPC-A as printed give its 12 digits; they are read as the 13.
	"]E0": {name: "EAN-13 / UPC", digits: []int{13, 12}},
	"]E4": {name: "EAN-8", digits: []int{8}},
	// GS1-128 holds at most 48 data characters, AIs and separators included.
	"]C1": {name: "GS1-128", gs1: true, max: 48},
	// GS1 DataBar and composites: AI element strings; an expanded symbol's capacity depends on
	// the characters and a composite's on its component, so no length is checked.
	"]e0": {name: "GS1 DataBar", gs1: true},
	"]d2": {name: "GS1 DataMatrix", gs1: true},
	"]Q3": {name: "GS1 QR Code", gs1: true},
	"]J1": {name: "GS1 DotCode", gs1: true},
	// Plain-data modes of the 2D symbols: where a GS1 Digital Link URI is carried.
	"]d1": {name: "Data Matrix"},
	"]Q1": {name: "QR Code"},
	"]J0": {name: "DotCode"},
}

// CheckSymbology checks that data is what a symbol with the symbology identifier id can carry
// under the GS1 rules:
//
//   - ]E0 (EAN-13, UPC-A, UPC-E): 13 digits, or the 12 of a UPC-A, with a right check digit;
//   - ]E4 (EAN-8): 8 digits with a right check digit;
//   - ]C1 (GS1-128): element strings of at most 48 characters, GS separators included;
//   - ]e0 (GS1 DataBar), ]d2 (GS1 DataMatrix), ]Q3 (GS1 QR Code), ]J1 (GS1 DotCode): element
//     strings, so not a Digital Link, which GS1 encodes in plain mode (]Q1, ]d1);
//   - ]Q1, ]d1, ]J0 (plain QR, Data Matrix, DotCode): anything.
//
// It checks the form only; Parse reads the elements (and does this check first). An unknown
// identifier is not an error. Errors are *Error with the offset in data (AI 01 for EAN/UPC).
func CheckSymbology(id, data string) error {
	s, ok := symbologies[id]
	if !ok {
		return nil
	}
	if s.digits != nil {
		for i := 0; i < len(data); i++ {
			if data[i] < '0' || data[i] > '9' {
				return &Error{AI: "01", Position: i, Message: fmt.Sprintf("%s (%s) carries digits only, found %q", id, s.name, runeAt(data, i))}
			}
		}
		if !containsInt(s.digits, len(data)) {
			want := fmt.Sprint(s.digits[0])
			if len(s.digits) > 1 {
				want += " (or the 12 of a UPC-A)"
			}
			return &Error{AI: "01", Position: min(len(data), s.digits[0]), Message: fmt.Sprintf("%s (%s) carries %s digits, got %d", id, s.name, want, len(data))}
		}
		if msg := checkDigitProblem(data); msg != "" {
			return &Error{AI: "01", Position: len(data) - 1, Message: msg}
		}
		return nil
	}
	if !s.gs1 {
		return nil
	}
	body := strings.TrimLeft(data, GS)
	if hasPrefixFold(body, "http://") || hasPrefixFold(body, "https://") {
		return &Error{Position: len(data) - len(body), Message: fmt.Sprintf("%s (%s) carries GS1 element strings; a Digital Link is encoded as plain data (]Q1, ]d1)", id, s.name)}
	}
	if body == "" {
		return &Error{Position: len(data), Message: fmt.Sprintf("%s (%s) carries no element strings", id, s.name)}
	}
	if s.max > 0 && len(body) > s.max {
		return &Error{Position: len(data) - len(body) + s.max, Message: fmt.Sprintf("%s (%s) holds at most %d data characters, got %d", id, s.name, s.max, len(body))}
	}
	return nil
}

func containsInt(list []int, n int) bool {
	for _, x := range list {
		if x == n {
			return true
		}
	}
	return false
}
