package gs1

import (
	"strconv"
	"strings"
	"time"
)

// Element is one AI and its value, as read from a barcode or a Digital Link.
type Element struct {
	AI    string `json:"ai"`
	Value string `json:"value"`
	// Title names the AI for people; parsers fill it, builders ignore it.
	Title Title `json:"title,omitzero"`
}

// Elements is the data of one scan or one label: elements in the order they came.
type Elements []Element

// Get returns the value of the first element with ai, "" when there is none.
func (e Elements) Get(ai string) string {
	v, _ := e.lookup(ai)
	return v
}

// Has reports whether an element with ai is present.
func (e Elements) Has(ai string) bool {
	_, ok := e.lookup(ai)
	return ok
}

func (e Elements) lookup(ai string) (string, bool) {
	for _, el := range e {
		if el.AI == ai {
			return el.Value, true
		}
	}
	return "", false
}

// Date reads the date (and time, for 7003 and 8008) held by ai, placing the two-digit year with
// the GS1 century rule relative to today, in the local time zone. For a harvest date range
// (7007) it gives the first day. See DateAt and DateOf.
func (e Elements) Date(ai string) (time.Time, error) {
	return e.DateAt(ai, time.Now())
}

// DateAt is Date with the century rule applied relative to now, and the result in now's
// location.
func (e Elements) DateAt(ai string, now time.Time) (time.Time, error) {
	d, v, err := e.typed(ai)
	if err != nil {
		return time.Time{}, err
	}
	if !d.Date {
		return time.Time{}, &Error{AI: ai, Position: -1, Message: "value is not a date"}
	}
	t, err := DateOf(dateValue(d, v), now)
	if err != nil {
		err.(*Error).AI, err.(*Error).Position = ai, -1
	}
	return t, err
}

// Decimal reads the quantity or amount held by a decimal AI (310n, 320n, 330n, 392n, 393n…),
// applying the implied decimal point, and returns it with its unit: "kg", "lb", "l" or "m3" for
// measures, the ISO 4217 numeric currency code ("156" for CNY) for 393n, "" for 392n, whose
// currency is the one of the country that issued the GTIN.
func (e Elements) Decimal(ai string) (float64, string, error) {
	d, v, err := e.typed(ai)
	if err != nil {
		return 0, "", err
	}
	if d.Decimals < 0 {
		return 0, "", &Error{AI: ai, Position: -1, Message: "value is not a decimal quantity"}
	}
	unit := d.Unit
	if d.currency {
		unit, v = v[:3], v[3:]
	}
	if len(v) <= d.Decimals {
		v = strings.Repeat("0", d.Decimals-len(v)+1) + v
	}
	// Parsing the decimal text rounds correctly, where dividing by a power of ten may not.
	f, err := strconv.ParseFloat(v[:len(v)-d.Decimals]+"."+v[len(v)-d.Decimals:], 64)
	if err != nil {
		return 0, "", &Error{AI: ai, Position: -1, Message: err.Error()}
	}
	return f, unit, nil
}

// typed finds ai and checks its value, for the typed accessors.
func (e Elements) typed(ai string) (*Definition, string, error) {
	d := table[ai]
	if d == nil {
		return nil, "", &Error{AI: ai, Position: -1, Message: "unknown AI"}
	}
	v, ok := e.lookup(ai)
	if !ok {
		return nil, "", &Error{AI: ai, Position: -1, Message: "not present"}
	}
	if p := d.check(v); p != nil {
		return nil, "", &Error{AI: ai, Position: -1, Message: p.msg}
	}
	return d, v, nil
}

// String gives the elements in bracketed form, "(01)09501101530003(10)ABC", without checking them.
func (e Elements) String() string {
	return bracketed(e)
}

// dateValue is the part of a date AI's value that DateOf reads: the start of a 7007 range.
func dateValue(d *Definition, v string) string {
	if len(d.parts) > 1 && d.parts[1].lint == lintYYMMDD && len(v) > 6 {
		return v[:6]
	}
	return v
}

// withTitle fills the title of an element from the table.
func withTitle(ai, value string) Element {
	el := Element{AI: ai, Value: value}
	if d := table[ai]; d != nil {
		el.Title = d.Title
	}
	return el
}
