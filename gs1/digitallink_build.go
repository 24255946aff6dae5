package gs1

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// CanonicalStem is the stem of the canonical GS1 Digital Link URI, used when none is given.
const CanonicalStem = "https://id.gs1.org"

// BuildDigitalLink writes elems as a GS1 Digital Link URI under base (scheme, host and any path
// of the brand's own; "" for CanonicalStem). The first element whose AI is a primary key goes
// first in the path, then the key qualifiers present, in the key's order (for 01: 22, 10, 21 or
// 235); every other element goes in the query string, in AI order. Of the key's qualifier
// sequences the one is taken that leaves only AIs allowed as data attributes for the query
// string, and of those the one that puts most AIs in the path, so (01)(235)(10) gives
// /01/…/235/…?10=… (GS1's Syntax Engine refuses it). Values are checked against their AIs and
// percent-encoded: only letters, digits and - . _ ~ stay as they are; a GTIN-8, -12 or -13 in
// AI 01 is padded to 14 digits. An element repeated with the same value is written once.
//
// A key qualifier without its key (21 with only an SSCC), an AI that may not be a data
// attribute (8200) and AIs that GS1 forbids together (01 with 02) are errors naming the AI; the
// partners an AI needs are checked by CheckPairs. Errors are *Error with Position -1, or the
// offset in base for a bad base.
func BuildDigitalLink(base string, elems Elements) (string, error) {
	stem, err := checkStem(base)
	if err != nil {
		return "", err
	}
	var list Elements
	for _, el := range elems {
		d := table[el.AI]
		if d == nil {
			return "", &Error{AI: el.AI, Position: -1, Message: "unknown AI"}
		}
		el.Value = padGTIN(el.AI, el.Value)
		if pr := d.check(el.Value); pr != nil {
			return "", &Error{AI: el.AI, Position: -1, Message: pr.msg}
		}
		if prev, ok := list.lookup(el.AI); ok {
			if prev != el.Value {
				return "", &Error{AI: el.AI, Position: -1, Message: fmt.Sprintf("appears twice, with %q and %q", prev, el.Value)}
			}
			continue
		}
		list = append(list, el)
	}
	if j, msg := invalidPair(list); j >= 0 {
		return "", &Error{AI: list[j].AI, Position: -1, Message: msg}
	}
	var key *Definition
	for _, el := range list {
		if d := table[el.AI]; d.PrimaryKey {
			key = d
			break
		}
	}
	if key == nil {
		return "", &Error{Position: -1, Message: "no primary key (such as 01 GTIN, 00 SSCC or 414 GLN) to build a Digital Link on"}
	}
	path := pathOf(key, list)
	var b strings.Builder
	b.WriteString(stem)
	inPath := map[string]bool{}
	for _, ai := range path {
		v, _ := list.lookup(ai)
		b.WriteString("/" + ai + "/" + escape(v, false))
		inPath[ai] = true
	}
	var attrs Elements
	for _, el := range list {
		if !inPath[el.AI] {
			if d := table[el.AI]; !d.DataAttribute {
				return "", &Error{AI: el.AI, Position: -1, Message: notAttributeMessage(d)}
			}
			attrs = append(attrs, el)
		}
	}
	sort.SliceStable(attrs, func(i, j int) bool { return attrs[i].AI < attrs[j].AI })
	for i, el := range attrs {
		if i == 0 {
			b.WriteByte('?')
		} else {
			b.WriteByte('&')
		}
		b.WriteString(el.AI + "=" + escape(el.Value, true))
	}
	return b.String(), nil
}

// pathOf chooses the Digital Link path for key over list: the key, then the qualifiers of one
// of its sequences that list holds, in the sequence's order. A sequence that leaves no AI
// unfit for the query string wins over one that does, then the one with more AIs present,
// then the first.
func pathOf(key *Definition, list Elements) []string {
	best, bestFits, bestN := []string(nil), false, 0
	for _, alt := range key.Qualifiers {
		var present []string
		for _, q := range alt {
			if list.Has(q) {
				present = append(present, q)
			}
		}
		fits := true
		for _, el := range list {
			if el.AI != key.AI && !slices.Contains(present, el.AI) && !table[el.AI].DataAttribute {
				fits = false
			}
		}
		if best == nil || fits && !bestFits || fits == bestFits && len(present) > bestN {
			best, bestFits, bestN = present, fits, len(present)
		}
	}
	return append([]string{key.AI}, best...)
}

// padGTIN pads a GTIN-8, -12 or -13 given for AI 01 to the 14 digits the AI holds; other
// values are returned as they are.
func padGTIN(ai, v string) string {
	if ai == "01" && isDigits(v) && (len(v) == 8 || len(v) == 12 || len(v) == 13) {
		return strings.Repeat("0", 14-len(v)) + v
	}
	return v
}

// checkStem checks the base of a Digital Link and drops its trailing slashes.
func checkStem(base string) (string, error) {
	if base == "" {
		return CanonicalStem, nil
	}
	var scheme int
	switch {
	case strings.HasPrefix(base, "https://"), strings.HasPrefix(base, "HTTPS://"):
		scheme = len("https://")
	case strings.HasPrefix(base, "http://"), strings.HasPrefix(base, "HTTP://"):
		scheme = len("http://")
	default:
		return "", &Error{Position: 0, Message: "a Digital Link base must start with http:// or https://"}
	}
	stem := strings.TrimRight(base, "/")
	host := stem[min(scheme, len(stem)):]
	if i := strings.IndexByte(host, '/'); i >= 0 {
		host = host[:i]
	}
	if host == "" {
		return "", &Error{Position: scheme, Message: "a Digital Link base needs a host"}
	}
	if i := strings.IndexAny(host, badHostChars); i >= 0 {
		return "", &Error{Position: scheme + i, Message: fmt.Sprintf("character %q is not allowed in a host name", host[i])}
	}
	for i := 0; i < len(stem); i++ {
		if c := stem[i]; !isURIChar(c) || c == '?' || c == '#' {
			return "", &Error{Position: i, Message: fmt.Sprintf("character %q is not allowed in a Digital Link base", runeAt(stem, i))}
		}
	}
	return stem, nil
}

// escape percent-encodes all but the URI unreserved characters; in a query a space becomes "+".
func escape(s string, inQuery bool) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.', c == '_', c == '~':
			b.WriteByte(c)
		case c == ' ' && inQuery:
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// URI writes d back as a GS1 Digital Link URI, keeping what the parse found: the stem, the key
// and its qualifiers in path order, the attributes in the order they came, then the other
// parameters (Params) sorted by name. ParseDigitalLink(u).URI() therefore gives back u itself
// when u is in canonical form: numeric AIs rather than short names, a 14-digit GTIN, values
// percent-encoded as BuildDigitalLink does (only letters, digits and - . _ ~ left as they are,
// upper-case hex), other parameters after the AIs in name order, no fragment. Any other form
// comes back canonical, and reads back to the same elements.
//
// It checks what ParseDigitalLink checks, so a DigitalLink put together by hand with its
// qualifiers out of order, a qualifier in the query string, an AI that may not be a data
// attribute or a pair GS1 forbids gives an *Error naming the AI, with Position -1.
func (d *DigitalLink) URI() (string, error) {
	stem, err := checkStem(d.Stem)
	if err != nil {
		return "", err
	}
	if d.Key.AI == "" {
		return "", &Error{Position: -1, Message: "no primary key (such as 01 GTIN, 00 SSCC or 414 GLN) to build a Digital Link on"}
	}
	key := table[d.Key.AI]
	if key != nil && !key.PrimaryKey {
		return "", &Error{AI: d.Key.AI, Position: -1, Message: "is not a Digital Link primary key"}
	}
	all := make(Elements, 0, 1+len(d.Qualifiers)+len(d.Attributes))
	for _, el := range d.Elements() {
		def := table[el.AI]
		if def == nil {
			return "", &Error{AI: el.AI, Position: -1, Message: "unknown AI"}
		}
		el.Value = padGTIN(el.AI, el.Value)
		if pr := def.check(el.Value); pr != nil {
			return "", &Error{AI: el.AI, Position: -1, Message: pr.msg}
		}
		if all.Has(el.AI) {
			return "", &Error{AI: el.AI, Position: -1, Message: "appears twice"}
		}
		all = append(all, el)
	}
	quals, attrs := all[1:1+len(d.Qualifiers)], all[1+len(d.Qualifiers):]
	if bad, msg := checkQualifiers(key, quals); bad >= 0 {
		return "", &Error{AI: quals[bad].AI, Position: -1, Message: msg}
	}
	fits := compatibleQualifiers(key, quals)
	for _, el := range attrs {
		for _, alt := range fits {
			if slices.Contains(alt, el.AI) {
				return "", &Error{AI: el.AI, Position: -1, Message: fmt.Sprintf("is a key qualifier of (%s) and belongs in the path, not the query string", key.AI)}
			}
		}
		if !table[el.AI].DataAttribute {
			return "", &Error{AI: el.AI, Position: -1, Message: notAttributeMessage(table[el.AI])}
		}
	}
	if j, msg := invalidPair(all); j >= 0 {
		return "", &Error{AI: all[j].AI, Position: -1, Message: msg}
	}
	for name := range d.Params {
		if isDigits(name) || aiOf(name) != "" {
			return "", &Error{Position: -1, Message: fmt.Sprintf("parameter %q is named like an AI: put it in Attributes", name)}
		}
	}
	var b strings.Builder
	b.WriteString(stem)
	for _, el := range all[:1+len(quals)] {
		b.WriteString("/" + el.AI + "/" + escape(el.Value, false))
	}
	sep := byte('?')
	for _, el := range attrs {
		b.WriteByte(sep)
		b.WriteString(el.AI + "=" + escape(el.Value, true))
		sep = '&'
	}
	if len(d.Params) > 0 {
		b.WriteByte(sep)
		b.WriteString(d.Params.Encode())
	}
	return b.String(), nil
}
