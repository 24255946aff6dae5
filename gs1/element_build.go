package gs1

import (
	"fmt"
	"strings"
)

// Style is a way of writing element strings.
type Style int

const (
	// Bracketed is the human-readable form printed under a barcode and typed by people:
	// "(01)09501101530003(10)ABC".
	Bracketed Style = iota
	// Raw is the data a barcode carries, as a scanner sends it: AIs and values run together,
	// with GS (0x1D) standing for FNC1 after each variable-length value that is not last. The
	// leading FNC1 of the symbol is the barcode encoder's business and is not written.
	Raw
)

// BuildElementString writes elems in the order given, after checking every value against its
// AI. GS1 puts the GTIN first by convention; reordering, if wanted, is the caller's choice.
// An AI given twice is an error, and so are AIs that GS1 forbids together (see CheckPairs).
// Errors are *Error with Position -1.
func BuildElementString(elems []Element, style Style) (string, error) {
	if len(elems) == 0 {
		return "", &Error{Position: -1, Message: "no elements to build"}
	}
	seen := make(map[string]bool, len(elems))
	for _, el := range elems {
		d := table[el.AI]
		if d == nil {
			return "", &Error{AI: el.AI, Position: -1, Message: "unknown AI"}
		}
		if pr := d.check(el.Value); pr != nil {
			return "", &Error{AI: el.AI, Position: -1, Message: pr.msg}
		}
		if seen[el.AI] {
			return "", &Error{AI: el.AI, Position: -1, Message: "appears twice"}
		}
		seen[el.AI] = true
	}
	if j, msg := invalidPair(elems); j >= 0 {
		return "", &Error{AI: elems[j].AI, Position: -1, Message: msg}
	}
	switch style {
	case Bracketed:
		return bracketed(elems), nil
	case Raw:
		var b strings.Builder
		for i, el := range elems {
			b.WriteString(el.AI)
			b.WriteString(el.Value)
			if table[el.AI].FNC1 && i < len(elems)-1 {
				b.WriteString(GS)
			}
		}
		return b.String(), nil
	}
	return "", &Error{Position: -1, Message: fmt.Sprintf("unknown style %d", style)}
}

// bracketed writes "(AI)value" pairs, escaping a "(" in a value only where a reader would take
// it for the start of an AI, so the text stays as printed on labels in every real case.
func bracketed(elems []Element) string {
	var b strings.Builder
	for _, el := range elems {
		b.WriteString("(" + el.AI + ")")
		for i := 0; i < len(el.Value); i++ {
			if startsAI(el.Value[i:]) {
				b.WriteByte('\\')
			}
			b.WriteByte(el.Value[i])
		}
	}
	return b.String()
}
