package gs1

import (
	"errors"
	"strconv"
	"strings"
)

// ErrNotGS1 reports that a scanned text is not GS1 data at all: not a Digital Link, not an
// element string, not a GTIN. Plain internal codes are legitimate, so a caller that gets it
// (check with errors.Is) keeps the text as it is.
var ErrNotGS1 = errors.New("not GS1 data")

// Error says what is wrong with GS1 data and where.
type Error struct {
	// AI is the Application Identifier concerned, "" when the problem belongs to none.
	AI string
	// Position is the byte offset in the input text where the problem starts, or -1 when the
	// input was not text (building from elements, an element already split out).
	Position int
	// Message says what is wrong, in English, lowercase.
	Message string
}

// Error renders "gs1: AI (10) at position 18: value must be at most 20 characters, got 23".
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("gs1: ")
	if e.AI != "" {
		b.WriteString("AI (" + e.AI + ")")
	}
	if e.Position >= 0 {
		if e.AI != "" {
			b.WriteByte(' ')
		}
		b.WriteString("at position " + strconv.Itoa(e.Position))
	}
	if e.AI != "" || e.Position >= 0 {
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	return b.String()
}
