package gs1

import (
	"fmt"
	"sort"
	"strings"
)

// CanonicalStem is the stem of the canonical GS1 Digital Link URI, used when none is given.
const CanonicalStem = "https://id.gs1.org"

// BuildDigitalLink writes elems as a GS1 Digital Link URI under base (scheme, host and any path
// of the brand's own; "" for CanonicalStem). The first element whose AI is a primary key goes
// first in the path, then the key qualifiers present, in the key's order (for 01: 22, 10, 21 or
// 235); every other element goes in the query string, in AI order. Values are checked against
// their AIs and percent-encoded: only letters, digits and - . _ ~ stay as they are. An element
// repeated with the same value is written once. Errors are *Error with Position -1, or the
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
	// Of the key's qualifier sequences, use the one with most qualifiers present.
	var quals []string
	for _, alt := range key.Qualifiers {
		n := 0
		for _, q := range alt {
			if list.Has(q) {
				n++
			}
		}
		if n > 0 && (quals == nil || n > countPresent(list, quals)) {
			quals = alt
		}
	}
	var b strings.Builder
	b.WriteString(stem)
	inPath := map[string]bool{}
	for _, ai := range append([]string{key.AI}, quals...) {
		if v, ok := list.lookup(ai); ok {
			b.WriteString("/" + ai + "/" + escape(v, false))
			inPath[ai] = true
		}
	}
	var attrs Elements
	for _, el := range list {
		if !inPath[el.AI] {
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

func countPresent(list Elements, ais []string) int {
	n := 0
	for _, ai := range ais {
		if list.Has(ai) {
			n++
		}
	}
	return n
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
