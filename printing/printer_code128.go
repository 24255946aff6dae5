package printing

import (
	"fmt"
	"strings"

	"tracecraft/gs1"
)

// Code 128 symbol values (ISO/IEC 15417 table 1) that label-printer languages name by number:
// ZPL's ^BC invocation codes (>5 >6 >8 >: >;) and TSPL's "128M" control codes (!099 …).
const (
	c128CodeC  = 99
	c128CodeB  = 100
	c128FNC1   = 102
	c128StartB = 104
	c128StartC = 105
)

// c128Symbol is one symbol of a Code 128 barcode as label printers are told it: a start or
// code switch, FNC1, a character of subset B or a digit pair of subset C.
type c128Symbol struct {
	Value int    // the symbol value, 0–105
	Text  string // the data it carries: one character (B), two digits (C); "" for functions
}

// c128Plan is a Code 128 barcode: its symbols and, for sizing, its width in modules without
// quiet zones (start, data, check digit: 11 each; stop: 13).
type c128Plan struct {
	Symbols []c128Symbol
	GS1     bool
	// Text is what is printed under the bars: the data, or the bracketed element string.
	Text string
}

func (p c128Plan) modules() int { return 11*(len(p.Symbols)+1) + 13 }

// planCode128 encodes a plain Code 128 value.
func planCode128(value string) (c128Plan, error) {
	syms, err := c128Encode([]c128Token{{Text: value}})
	if err != nil {
		return c128Plan{}, err
	}
	return c128Plan{Symbols: syms, Text: value}, nil
}

// planGS1128 encodes a GS1 element string ("(01)09501101530003(10)ABC", or raw with GS) as
// GS1-128: FNC1 first, and FNC1 after every variable-length value that is not last.
func planGS1128(value string) (c128Plan, error) {
	elems, err := gs1.ParseElementString(value)
	if err != nil {
		return c128Plan{}, err
	}
	toks := []c128Token{{FNC1: true}}
	for i, el := range elems {
		toks = append(toks, c128Token{Text: el.AI + el.Value})
		if def, _ := gs1.Lookup(el.AI); def.FNC1 && i < len(elems)-1 {
			toks = append(toks, c128Token{FNC1: true})
		}
	}
	syms, err := c128Encode(toks)
	if err != nil {
		return c128Plan{}, err
	}
	text, err := gs1.BuildElementString(elems, gs1.Bracketed)
	if err != nil {
		return c128Plan{}, err
	}
	return c128Plan{Symbols: syms, GS1: true, Text: text}, nil
}

// c128Token is a run of data characters or one FNC1.
type c128Token struct {
	Text string
	FNC1 bool
}

// c128Encode returns the fewest symbols (subsets B and C, a shortest path over positions)
// that carry toks, start symbol first.
func c128Encode(toks []c128Token) ([]c128Symbol, error) {
	// Flatten to units: a character, or FNC1 (-1).
	var units []int
	for _, t := range toks {
		if t.FNC1 {
			units = append(units, -1)
			continue
		}
		for i := 0; i < len(t.Text); i++ {
			c := t.Text[i]
			if c < 0x20 || c > 0x7e {
				return nil, fmt.Errorf("code 128: character %q cannot be printed", rune(c))
			}
			units = append(units, int(c))
		}
	}
	if len(units) == 0 {
		return nil, fmt.Errorf("code 128: nothing to encode")
	}
	n := len(units)
	digit := func(i int) bool { return i < n && units[i] >= '0' && units[i] <= '9' }
	const inf = 1 << 30
	// best[i][s]: fewest symbols for units[i:] when subset s (0 = B, 1 = C) is in force.
	// From a state one may take a step (B: any unit; C: a digit pair or FNC1) or switch
	// subsets (one symbol) and then take a step, so a switch is never followed by a switch.
	best := make([][2]int, n+1)
	how := make([][2]int8, n+1) // 0 step here, 1 switch then step
	for i := n - 1; i >= 0; i-- {
		step := [2]int{inf, inf}
		step[0] = 1 + best[i+1][0] // B takes any unit, FNC1 included
		if units[i] == -1 {
			step[1] = 1 + best[i+1][1]
		} else if digit(i) && digit(i+1) {
			step[1] = 1 + best[i+2][1]
		}
		for s := 0; s < 2; s++ {
			best[i][s], how[i][s] = step[s], 0
			if step[1-s] < inf && 1+step[1-s] < best[i][s] {
				best[i][s], how[i][s] = 1+step[1-s], 1
			}
		}
	}
	// Choose the start subset: the start symbol costs one either way.
	s := 0
	if best[0][1] < best[0][0] {
		s = 1
	}
	out := make([]c128Symbol, 0, best[0][s]+1)
	if s == 1 {
		out = append(out, c128Symbol{Value: c128StartC})
	} else {
		out = append(out, c128Symbol{Value: c128StartB})
	}
	for i := 0; i < n; {
		if how[i][s] == 1 {
			s = 1 - s
			if s == 1 {
				out = append(out, c128Symbol{Value: c128CodeC})
			} else {
				out = append(out, c128Symbol{Value: c128CodeB})
			}
		}
		switch {
		case units[i] == -1:
			out = append(out, c128Symbol{Value: c128FNC1})
			i++
		case s == 1:
			pair := string([]byte{byte(units[i]), byte(units[i+1])})
			out = append(out, c128Symbol{Value: int(units[i]-'0')*10 + int(units[i+1]-'0'), Text: pair})
			i += 2
		default:
			out = append(out, c128Symbol{Value: units[i] - 32, Text: string(rune(units[i]))})
			i++
		}
	}
	return out, nil
}

// ean13Digits returns the 12 data digits of an EAN-13 value given with or without its check
// digit (checked when given) and the full 13 digits for the text under the bars.
func ean13Digits(value string) (data, full string, err error) {
	v := strings.ReplaceAll(value, " ", "")
	if len(v) != 12 && len(v) != 13 {
		return "", "", fmt.Errorf("ean-13: %q has %d digits, want 12 or 13", value, len(v))
	}
	cd, err := gs1.CheckDigit(v[:12])
	if err != nil {
		return "", "", fmt.Errorf("ean-13: %w", err)
	}
	if len(v) == 13 && v[12] != cd {
		return "", "", fmt.Errorf("ean-13: %q: check digit %c, want %c", value, v[12], cd)
	}
	return v[:12], v[:12] + string(cd), nil
}
