package gs1

import (
	"fmt"
	"strings"
	"time"
)

// GS is the ASCII group separator (0x1D) that scanners send for FNC1 between element strings.
const GS = "\x1d"

const whitespace = " \t\r\n"

// gs1Symbologies are the symbology identifiers whose data is GS1 element strings: GS1-128,
// GS1 DataBar, GS1 DataMatrix, GS1 QR Code and GS1 DotCode.
var gs1Symbologies = map[string]bool{"]C1": true, "]e0": true, "]d2": true, "]Q3": true, "]J1": true}

// ParseElementString reads GS1 element strings as a scanner sends them or as a person types
// them, checking each value against its AI:
//
//   - raw: AIs and values run together, FNC1 as GS (0x1D) after each variable-length value
//     that is not last, optionally led by a symbology identifier (]C1, ]e0, ]d2, ]Q3, ]J1)
//     and a GS;
//   - bracketed: "(01)09501101530003(17)250101(10)ABC", spaces between elements allowed; a
//     "(" in a value that would read as the start of an AI is written "\(".
//
// Dates are checked for form only (29 February passes in any year divisible by four); Parse
// checks them against a date. An element repeated with the same value is kept once; with
// another value it is an error. AIs that GS1 forbids together (01 with 02, 21 with 235 …) are
// an error; the partners an AI needs are not checked here (see CheckPairs). Errors are *Error
// with the AI and the byte offset in s.
func ParseElementString(s string) (Elements, error) {
	return parseElementString(s, 0, time.Time{})
}

// parseElementString is ParseElementString for text found at offset base of the input,
// checking dates against now unless now is zero.
func parseElementString(s string, base int, now time.Time) (Elements, error) {
	lead := len(s) - len(strings.TrimLeft(s, whitespace))
	body := strings.TrimRight(s[lead:], whitespace)
	off := base + lead
	if id, rest := splitSymbology(body); id != "" {
		if !gs1Symbologies[id] {
			return nil, &Error{Position: off, Message: fmt.Sprintf("symbology identifier %s does not carry GS1 element strings", id)}
		}
		body, off = rest, off+len(id)
	}
	if body == "" {
		return nil, &Error{Position: off, Message: "no element strings"}
	}
	p := &elementParser{now: now}
	var err error
	if body[0] == '(' {
		err = p.bracketed(body, off)
	} else {
		err = p.raw(body, off)
	}
	if err != nil {
		return nil, err
	}
	if j, msg := invalidPair(p.out); j >= 0 {
		return nil, &Error{AI: p.out[j].AI, Position: p.at[j], Message: msg}
	}
	return p.out, nil
}

// splitSymbology splits a symbology identifier ("]" letter digit) off the front of s.
func splitSymbology(s string) (id, rest string) {
	if len(s) >= 3 && s[0] == ']' && (s[1] >= 'A' && s[1] <= 'Z' || s[1] >= 'a' && s[1] <= 'z') && s[2] >= '0' && s[2] <= '9' {
		return s[:3], s[3:]
	}
	return "", s
}

type elementParser struct {
	now time.Time
	out Elements
	at  []int // offset of each element's AI in the input
}

// raw reads AIs and values run together, separated by GS where a value is of variable length.
func (p *elementParser) raw(s string, off int) error {
	for i := 0; i < len(s); {
		if s[i] == GS[0] {
			i++
			continue
		}
		d := matchAI(s[i:])
		if d == nil {
			return unknownAIError(s[i:], off+i)
		}
		start := i + len(d.AI)
		end := len(s)
		if !d.FNC1 {
			end = min(start+d.MaxLength, len(s))
		} else if j := strings.IndexByte(s[start:], GS[0]); j >= 0 {
			end = start + j
		}
		v := s[start:end]
		if pr := d.check(v); pr != nil {
			if d.FNC1 && len(v) > d.MaxLength {
				pr.msg += "; is a GS separator missing?"
			}
			return &Error{AI: d.AI, Position: off + start + pr.at, Message: pr.msg}
		}
		if err := p.add(d, v, off+i, func(at int) int { return off + start + at }); err != nil {
			return err
		}
		i = end
	}
	if len(p.out) == 0 {
		return &Error{Position: off, Message: "no element strings"}
	}
	return nil
}

// bracketed reads "(AI)value" pairs.
func (p *elementParser) bracketed(s string, off int) error {
	for i := 0; i < len(s); {
		if s[i] == ' ' {
			i++
			continue
		}
		if !startsAI(s[i:]) {
			if s[i] == '(' {
				return &Error{Position: off + i, Message: "expected an AI of 2 to 4 digits in brackets"}
			}
			return &Error{Position: off + i, Message: fmt.Sprintf("expected \"(\" but found %q", runeAt(s, i))}
		}
		closing := i + strings.IndexByte(s[i:], ')')
		ai := s[i+1 : closing]
		d := table[ai]
		if d == nil {
			return &Error{AI: ai, Position: off + i + 1, Message: "unknown AI"}
		}
		// The value runs to the next unescaped bracketed AI; idx maps its bytes back to s.
		var b strings.Builder
		var idx []int
		j := closing + 1
		for j < len(s) && !startsAI(s[j:]) {
			if s[j] == '\\' && j+1 < len(s) && s[j+1] == '(' {
				j++
			}
			b.WriteByte(s[j])
			idx = append(idx, j)
			j++
		}
		v := b.String()
		// Spaces are not in character set 82, so trimming them loses nothing; they come from
		// typing the text printed under a barcode, "(01) 09501101530003 (10) ABC".
		trimmed := strings.TrimLeft(v, " ")
		idx = idx[len(v)-len(trimmed):]
		v = strings.TrimRight(trimmed, " ")
		idx = idx[:len(v)]
		at := func(k int) int {
			if k < len(idx) {
				return off + idx[k]
			}
			return off + j
		}
		if pr := d.check(v); pr != nil {
			return &Error{AI: ai, Position: at(pr.at), Message: pr.msg}
		}
		if err := p.add(d, v, off+i+1, at); err != nil {
			return err
		}
		i = j
	}
	return nil
}

// add appends a checked value, after its exact date check and the duplicate check. aiAt is
// the offset of the AI, at maps an offset in the value to one in the input.
func (p *elementParser) add(d *Definition, v string, aiAt int, at func(int) int) error {
	if pr := checkDate(d, v, p.now); pr != nil {
		return &Error{AI: d.AI, Position: at(pr.at), Message: pr.msg}
	}
	if prev, ok := p.out.lookup(d.AI); ok {
		if prev == v {
			return nil
		}
		return &Error{AI: d.AI, Position: aiAt, Message: fmt.Sprintf("appears twice, with %q and %q", prev, v)}
	}
	p.out = append(p.out, withTitle(d.AI, v))
	p.at = append(p.at, aiAt)
	return nil
}

// checkDate resolves the dates in a value against now, which catches what the form check
// cannot: 29 February of a century year that is not a leap year. A zero now checks nothing.
func checkDate(d *Definition, v string, now time.Time) *problem {
	if !d.Date || now.IsZero() {
		return nil
	}
	first := dateValue(d, v)
	if _, err := DateOf(first, now); err != nil {
		return &problem{err.(*Error).Position, err.(*Error).Message}
	}
	if len(first) < len(v) {
		if _, err := DateOf(v[len(first):], now); err != nil {
			return &problem{len(first) + err.(*Error).Position, err.(*Error).Message}
		}
	}
	return nil
}

func unknownAIError(s string, at int) error {
	ai := unknownAI(s)
	if ai == "" {
		return &Error{Position: at, Message: fmt.Sprintf("expected an AI but found %q", runeAt(s, 0))}
	}
	return &Error{AI: ai, Position: at, Message: "unknown AI"}
}
