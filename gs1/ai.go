package gs1

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Title is a name in the two languages Tracecraft speaks. Its fields match engine.Text, so a
// Title converts to one directly.
type Title struct {
	ZH string `json:"zh-CN,omitempty"`
	EN string `json:"en,omitempty"`
}

// In gives the title in lang ("zh-CN" or "en"), falling back to the other language.
func (t Title) In(lang string) string {
	if lang == "en" && t.EN != "" || t.ZH == "" {
		return t.EN
	}
	return t.ZH
}

// Definition describes one Application Identifier: how its value is written and checked.
type Definition struct {
	// AI is the identifier, "01" or "3103".
	AI string
	// DataTitle is the GS1 data title printed next to the value on logistic labels ("BATCH/LOT").
	DataTitle string
	// Title names the AI for people, in zh-CN and en.
	Title Title
	// Format is the value format in GS1 notation, one component per word: N digits, X GS1
	// character set 82, "N6" exactly 6, "X..20" up to 20, "[N6]" optional ("N6 [N6]").
	Format string
	// MinLength and MaxLength bound the value length.
	MinLength, MaxLength int
	// Numeric reports that the value is digits only.
	Numeric bool
	// FNC1 reports that the AI is not of predefined length, so in a barcode its value ends with
	// FNC1 (GS in scanner output) unless it is the last one. AIs starting 00–04, 11–20, 31–36
	// and 41 are of predefined length and need none.
	FNC1 bool
	// Decimals is the number of implied decimal places (the n of 310n, 392n), -1 when the AI
	// holds no decimal quantity.
	Decimals int
	// Unit is the unit of a measure ("kg", "lb", "l", "m3"), "" otherwise. For 393n the value
	// itself starts with an ISO 4217 currency code.
	Unit string
	// CheckDigit reports that the value (or its key part) ends with a GS1 mod-10 check digit.
	CheckDigit bool
	// Date reports that the value starts with a YYMMDD date (Elements.Date reads it).
	Date bool
	// PrimaryKey reports that the AI can be the primary key of a GS1 Digital Link URI.
	PrimaryKey bool
	// Qualifiers lists, for a primary key, the alternative sequences of key qualifiers allowed
	// after it in a Digital Link path, each in its fixed order ({{"22","10","21"},{"235"}} for 01).
	Qualifiers [][]string
	// DataAttribute reports that the AI may be a data attribute in the query string of a
	// Digital Link. Key qualifiers that only make sense in the path (21, 22, 235, 254, 8020)
	// and the extended packaging URL (8200) may not.
	DataAttribute bool
	// Requires lists, in the Syntax Dictionary's notation, the partners the AI needs in the same
	// data: one of the groups, all AIs of a group ("01+21"), "n" standing for any digit ("31nn").
	// Nil when the AI needs none. See CheckPairs.
	Requires []string
	// Excludes lists the AIs (or patterns, "310n") that may not appear with this one; the AI
	// itself is never excluded by a pattern it matches. See CheckPairs.
	Excludes []string

	parts    []part
	currency bool // the value starts with an ISO 4217 numeric currency code (393n)
}

// Lookup returns the definition of ai, false when the AI is unknown to this package.
func Lookup(ai string) (Definition, bool) {
	d, ok := table[ai]
	if !ok {
		return Definition{}, false
	}
	return d.clone(), true
}

// Definitions lists every known AI, in AI order.
func Definitions() []Definition {
	out := make([]Definition, len(tableOrder))
	for i, ai := range tableOrder {
		out[i] = table[ai].clone()
	}
	return out
}

// clone copies d so that a caller cannot change the table through its slices.
func (d *Definition) clone() Definition {
	c := *d
	c.Qualifiers = make([][]string, len(d.Qualifiers))
	for i, q := range d.Qualifiers {
		c.Qualifiers[i] = slices.Clone(q)
	}
	c.Requires = slices.Clone(d.Requires)
	c.Excludes = slices.Clone(d.Excludes)
	return c
}

// charset is the character set of a value component: 'N' digits, 'X' GS1 character set 82.
type charset byte

// lint names a content check of a value component, after the Syntax Dictionary's linters.
type lint int

const (
	lintNone          lint = iota
	lintCsum               // ends with a mod-10 check digit
	lintYYMMD0             // date; day 00 means the last day of the month
	lintYYMMDD             // date
	lintHHMM               // hour and minute
	lintYYMMDDHH           // date and hour
	lintMMOptSS            // minutes, optionally seconds
	lintZero               // the digit 0
	lintPieceOfTotal       // piece number and total, 01–99, piece ≤ total
	lintISO3166List        // one or more ISO 3166 numeric country codes
	lintISO4217            // ISO 4217 numeric currency code
	lintISO3166            // ISO 3166 numeric country code
	lintISO3166999         // ISO 3166 numeric country code, or 999
	lintISO3166Alpha2      // ISO 3166 alpha-2 country code
)

var lintNames = map[string]lint{
	"csum": lintCsum, "yymmd0": lintYYMMD0, "yymmdd": lintYYMMDD, "hhmm": lintHHMM,
	"yymmddhh": lintYYMMDDHH, "mmoptss": lintMMOptSS, "zero": lintZero,
	"pieceoftotal": lintPieceOfTotal, "iso3166list": lintISO3166List, "iso4217": lintISO4217,
	"iso3166": lintISO3166, "iso3166999": lintISO3166999, "iso3166alpha2": lintISO3166Alpha2,
}

// part is one component of a value format.
type part struct {
	set      charset
	min, max int
	optional bool
	lint     lint
}

// problem is what is wrong with a value: the byte offset in the value and a message.
type problem struct {
	at  int
	msg string
}

// check reports the first problem of value against d, nil when it conforms.
func (d *Definition) check(value string) *problem {
	n := len(value)
	what := "characters"
	if d.Numeric {
		what = "digits"
	}
	switch {
	case n == 0:
		return &problem{0, "value is empty"}
	case d.MinLength == d.MaxLength && n != d.MaxLength:
		return &problem{min(n, d.MaxLength), fmt.Sprintf("value must be %d %s, got %d", d.MaxLength, what, n)}
	case n > d.MaxLength:
		return &problem{d.MaxLength, fmt.Sprintf("value must be at most %d %s, got %d", d.MaxLength, what, n)}
	case n < d.MinLength:
		return &problem{n, fmt.Sprintf("value must be at least %d %s, got %d", d.MinLength, what, n)}
	}
	pos := 0
	for _, p := range d.parts {
		rest := n - pos
		if rest == 0 && p.optional {
			break
		}
		take := min(p.max, rest)
		if take < p.min {
			return &problem{n, "value must have the form " + d.Format}
		}
		seg := value[pos : pos+take]
		if pr := p.checkChars(seg); pr != nil {
			pr.at += pos
			return pr
		}
		if pr := p.lint.check(seg); pr != nil {
			pr.at += pos
			return pr
		}
		pos += take
	}
	if pos < n {
		return &problem{pos, "value must have the form " + d.Format}
	}
	return nil
}

func (p part) checkChars(s string) *problem {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch p.set {
		case 'N':
			if c < '0' || c > '9' {
				return &problem{i, fmt.Sprintf("character %q is not a digit", runeAt(s, i))}
			}
		default:
			if !isCSet82(c) {
				return &problem{i, fmt.Sprintf("character %q is not allowed (GS1 character set 82)", runeAt(s, i))}
			}
		}
	}
	return nil
}

func (l lint) check(s string) *problem {
	switch l {
	case lintCsum:
		if msg := checkDigitProblem(s); msg != "" {
			return &problem{len(s) - 1, msg}
		}
	case lintYYMMD0, lintYYMMDD, lintYYMMDDHH:
		if pr := checkYYMMDD(s[:6], l == lintYYMMD0); pr != nil {
			return pr
		}
		if l == lintYYMMDDHH {
			if h := num(s[6:8]); h > 23 {
				return &problem{6, fmt.Sprintf("hour %02d is not valid", h)}
			}
		}
	case lintHHMM:
		if h := num(s[:2]); h > 23 {
			return &problem{0, fmt.Sprintf("hour %02d is not valid", h)}
		}
		if m := num(s[2:]); m > 59 {
			return &problem{2, fmt.Sprintf("minute %02d is not valid", m)}
		}
	case lintMMOptSS:
		if len(s) != 2 && len(s) != 4 {
			return &problem{0, "time must be MM or MMSS"}
		}
		if m := num(s[:2]); m > 59 {
			return &problem{0, fmt.Sprintf("minute %02d is not valid", m)}
		}
		if len(s) == 4 && num(s[2:]) > 59 {
			return &problem{2, fmt.Sprintf("second %s is not valid", s[2:])}
		}
	case lintZero:
		if s != "0" {
			return &problem{0, "must be 0"}
		}
	case lintPieceOfTotal:
		piece, total := num(s[:2]), num(s[2:])
		if piece == 0 || total == 0 || piece > total {
			return &problem{0, fmt.Sprintf("piece %02d of %02d is not valid", piece, total)}
		}
	case lintISO3166List:
		if len(s)%3 != 0 {
			return &problem{len(s) - len(s)%3, "must be a list of three-digit country codes"}
		}
		for i := 0; i < len(s); i += 3 {
			if _, ok := iso3166Numeric[s[i:i+3]]; !ok {
				return &problem{i, fmt.Sprintf("%s is not an ISO 3166 country code", s[i:i+3])}
			}
		}
	case lintISO3166:
		if _, ok := iso3166Numeric[s]; !ok {
			return &problem{0, fmt.Sprintf("%s is not an ISO 3166 country code", s)}
		}
	case lintISO3166999:
		if _, ok := iso3166Numeric[s]; !ok && s != "999" {
			return &problem{0, fmt.Sprintf("%s is not an ISO 3166 country code nor 999", s)}
		}
	case lintISO3166Alpha2:
		if !iso3166Alpha2[s] {
			return &problem{0, fmt.Sprintf("%q is not an ISO 3166 alpha-2 country code", s)}
		}
	case lintISO4217:
		if _, ok := iso4217Numeric[s]; !ok {
			return &problem{0, fmt.Sprintf("%s is not an ISO 4217 currency code", s)}
		}
	}
	return nil
}

// checkYYMMDD checks a six-digit date without knowing its century, so 29 February is accepted
// in every year divisible by four; Parse checks the exact date once the century is known.
func checkYYMMDD(s string, day00 bool) *problem {
	yy, mm, dd := num(s[:2]), num(s[2:4]), num(s[4:6])
	if mm < 1 || mm > 12 {
		return &problem{2, fmt.Sprintf("month %02d is not valid", mm)}
	}
	last := daysIn(2000+yy, mm)
	if dd == 0 && day00 {
		return nil
	}
	if dd < 1 || dd > last {
		return &problem{4, fmt.Sprintf("day %02d is not valid in month %02d", dd, mm)}
	}
	return nil
}

// matchAI finds the AI that s starts with. AIs are prefix-free, so at most one matches.
func matchAI(s string) *Definition {
	for n := 2; n <= 4 && n <= len(s); n++ {
		if d, ok := table[s[:n]]; ok {
			return d
		}
	}
	return nil
}

// unknownAI names the AI that s seems to start with, for an error: as many digits as the known
// AIs sharing its first two digits have, else two.
func unknownAI(s string) string {
	n := 2
	if len(s) >= 2 {
		if l, ok := prefixLength[s[:2]]; ok {
			n = l
		}
	}
	i := 0
	for i < n && i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}

// startsAI reports whether s starts with a bracketed AI: "(", two to four digits, ")".
func startsAI(s string) bool {
	if len(s) < 4 || s[0] != '(' {
		return false
	}
	for i := 1; i < len(s) && i <= 5; i++ {
		c := s[i]
		if c == ')' {
			return i >= 3
		}
		if c < '0' || c > '9' {
			return false
		}
	}
	return false
}

// isCSet82 reports whether c is in GS1 character set 82 (GS1 General Specifications Figure
// 7.11-1): digits, letters and !"%&'()*+,-./:;<=>?_
func isCSet82(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	}
	return strings.IndexByte(`!"%&'()*+,-./:;<=>?_`, c) >= 0
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// num reads a short run of digits already checked to be digits.
func num(s string) int {
	n := 0
	for i := 0; i < len(s); i++ {
		n = n*10 + int(s[i]-'0')
	}
	return n
}

// runeAt gives the character starting at byte i of s, for messages about non-ASCII input.
func runeAt(s string, i int) rune {
	r, _ := utf8.DecodeRuneInString(s[i:])
	return r
}

// sortedAIs returns the keys of m in AI order.
func sortedAIs(m map[string]*Definition) []string {
	out := make([]string, 0, len(m))
	for ai := range m {
		out = append(out, ai)
	}
	sort.Strings(out)
	return out
}
