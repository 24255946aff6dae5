package gs1

import (
	"fmt"
	"net/url"
	"strings"
	"time"
)

// DigitalLink is a parsed GS1 Digital Link URI:
// stem "/" primary key "/" value { "/" qualifier "/" value } [ "?" attributes ].
type DigitalLink struct {
	// Stem is everything before the primary key: scheme, host and any path of the brand's own,
	// "https://brand.example/products".
	Stem string
	// Key is the primary key (01 GTIN, 00 SSCC, 414 GLN…). A GTIN-8, -12 or -13 is padded to 14
	// digits.
	Key Element
	// Qualifiers are the key qualifiers from the path, in path order (22, 10, 21 for a GTIN).
	Qualifiers Elements
	// Attributes are the AIs of the query string, in the order they came (17, 3103…).
	Attributes Elements
	// Params holds the query parameters that are not AIs, such as linkType, untouched by checks.
	Params url.Values
}

// Elements gives the key, the qualifiers and the attributes, in that order.
func (d *DigitalLink) Elements() Elements {
	out := make(Elements, 0, 1+len(d.Qualifiers)+len(d.Attributes))
	out = append(out, d.Key)
	out = append(out, d.Qualifiers...)
	return append(out, d.Attributes...)
}

// shortNames are the convenience names the Digital Link standard (1.1, grammar) lets stand for
// AIs. Only the path keys and qualifiers have them, plus exp and expdt in the query.
var shortNames = map[string]string{
	"cpid": "8010", "cpsn": "8011", "cpv": "22", "gcn": "255", "gdti": "253", "giai": "8004",
	"ginc": "401", "gln": "414", "glnx": "254", "gmn": "8013", "grai": "8003", "gsin": "402",
	"gsrn": "8018", "gsrnp": "8017", "gtin": "01", "itip": "8006", "lot": "10", "party": "417",
	"refno": "8020", "ser": "21", "srin": "8019", "sscc": "00", "payTo": "415", "glnProd": "416",
	"shipTo": "410", "billTo": "411", "purchasedFrom": "412", "shipFor": "413",
	"exp": "17", "expdt": "7003",
}

// aiOf gives the AI a path segment or query name stands for: itself, or the AI of a short
// name. It gives "" when the result is not a known AI.
func aiOf(name string) string {
	if ai, ok := shortNames[name]; ok {
		name = ai
	}
	if table[name] == nil {
		return ""
	}
	return name
}

// badHostChars may appear in a URI but not in a host name.
const badHostChars = "_~?#@!$&'()*+,;=%"

// isURIChar reports whether c may appear unencoded in a URI (RFC 3986 unreserved, reserved and
// the percent sign).
func isURIChar(c byte) bool {
	switch {
	case c >= '0' && c <= '9', c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// ParseDigitalLink reads a GS1 Digital Link URI such as
// https://id.example.com/01/09501101530003/10/ABC%2F1/21/12345?17=251231&3103=000500.
//
// The primary key is the rightmost path segment naming a key AI with its value and qualifiers
// after it; what comes before is the stem, so a brand's own path prefix is fine. Short names
// (gtin, lot, ser, exp…) are read as their AIs. Qualifiers must follow the key's order (22, 10,
// 21 after 01); a qualifier belongs in the path, not the query. Query parameters named by
// digits must be known AIs that GS1 allows as data attributes (not 21, 22, 235, 254, 8020 nor
// 8200); other parameters are kept in Params. Values are percent-decoded ("+" is a space in
// the query only) and checked against their AI; a GTIN-8/12/13 (key or attribute) is padded
// to 14 digits. AIs that GS1 forbids together are an error; the partners an AI needs are
// checked by CheckPairs(dl.Elements()). The fragment is ignored. Only the uncompressed form
// is read: a compressed Digital Link has no key in its path and gives ErrNotGS1.
//
// A text that is no Digital Link at all (another scheme, no key in the path) gives an error
// wrapping ErrNotGS1; a broken Digital Link gives an *Error with the byte offset in uri.
func ParseDigitalLink(uri string) (*DigitalLink, error) {
	return parseDigitalLink(uri, 0, time.Time{})
}

type segment struct {
	s  string
	at int // byte offset in the URI
}

func parseDigitalLink(uri string, base int, now time.Time) (*DigitalLink, error) {
	var scheme int
	switch {
	// GS1 accepts a scheme in lower or in upper case, not mixed.
	case strings.HasPrefix(uri, "https://"), strings.HasPrefix(uri, "HTTPS://"):
		scheme = len("https://")
	case strings.HasPrefix(uri, "http://"), strings.HasPrefix(uri, "HTTP://"):
		scheme = len("http://")
	default:
		return nil, fmt.Errorf("gs1: %w: a Digital Link starts with http:// or https://", ErrNotGS1)
	}
	end := len(uri)
	if i := strings.IndexByte(uri, '#'); i >= 0 {
		end = i
	}
	pathEnd, query := end, -1
	if i := strings.IndexByte(uri[:end], '?'); i >= 0 {
		pathEnd, query = i, i+1
	}
	slash := strings.IndexByte(uri[scheme:pathEnd], '/')
	if slash < 0 {
		return nil, fmt.Errorf("gs1: %w: the URI has no path", ErrNotGS1)
	}
	hostEnd := scheme + slash
	var segs []segment
	for at := hostEnd + 1; ; {
		j := strings.IndexByte(uri[at:pathEnd], '/')
		if j < 0 {
			segs = append(segs, segment{uri[at:pathEnd], at})
			break
		}
		segs = append(segs, segment{uri[at : at+j], at})
		at += j + 1
	}
	k := findKey(segs)
	if k < 0 {
		if n := len(segs); n > 1 && segs[n-1].s == "" && findKey(segs[:n-1]) >= 0 {
			return nil, &Error{Position: base + pathEnd - 1, Message: "the URI path must not end with \"/\""}
		}
		return nil, fmt.Errorf("gs1: %w: no GS1 primary key in the URI path", ErrNotGS1)
	}

	// From here on the text is meant as a Digital Link, so every problem is an *Error.
	host := uri[scheme:hostEnd]
	if host == "" {
		return nil, &Error{Position: base + scheme, Message: "the URI has no host"}
	}
	if i := strings.IndexAny(host, badHostChars); i >= 0 {
		return nil, &Error{Position: base + scheme + i, Message: fmt.Sprintf("character %q is not allowed in a host name", host[i])}
	}
	for i := 0; i < len(uri); i++ {
		if !isURIChar(uri[i]) {
			return nil, &Error{Position: base + i, Message: fmt.Sprintf("character %q is not allowed in a URI unless percent-encoded", runeAt(uri, i))}
		}
	}

	dl := &DigitalLink{Stem: uri[:segs[k].at-1]}
	p := &linkParser{uri: uri, base: base, now: now, dl: dl}
	for i := k; i < len(segs); i += 2 {
		el, err := p.value(aiOf(segs[i].s), segs[i].at, segs[i+1].s, segs[i+1].at, false)
		if err != nil {
			return nil, err
		}
		if i == k {
			dl.Key = el
		} else {
			dl.Qualifiers = append(dl.Qualifiers, el)
		}
		p.at = append(p.at, base+segs[i].at)
	}
	key := table[dl.Key.AI]
	if bad, msg := checkQualifiers(key, dl.Qualifiers); bad >= 0 {
		return nil, &Error{AI: dl.Qualifiers[bad].AI, Position: base + segs[k+2+2*bad].at, Message: msg}
	}
	if query >= 0 {
		if err := p.query(query, end); err != nil {
			return nil, err
		}
	}
	if j, msg := invalidPair(dl.Elements()); j >= 0 {
		return nil, &Error{AI: dl.Elements()[j].AI, Position: p.at[j], Message: msg}
	}
	return dl, nil
}

// findKey finds, walking the "/AI/value" pairs back from the end of the path, the first whose
// AI is a primary key; -1 when a segment that is no AI comes first.
func findKey(segs []segment) int {
	for i := len(segs) - 2; i >= 0; i -= 2 {
		ai := aiOf(segs[i].s)
		if ai == "" {
			return -1
		}
		if table[ai].PrimaryKey {
			return i
		}
	}
	return -1
}

type linkParser struct {
	uri  string
	base int
	now  time.Time
	dl   *DigitalLink
	at   []int // offset of each element's AI in the URI, in the order of dl.Elements
}

// value decodes and checks the value of ai found at byte valueAt of the URI.
func (p *linkParser) value(ai string, aiAt int, raw string, valueAt int, inQuery bool) (Element, error) {
	v, idx, pr := unescape(raw, inQuery)
	if pr != nil {
		return Element{}, &Error{AI: ai, Position: p.base + valueAt + pr.at, Message: pr.msg}
	}
	pad := 0
	if ai == "01" && isDigits(v) && (len(v) == 8 || len(v) == 12 || len(v) == 13) {
		pad = 14 - len(v)
		v = strings.Repeat("0", pad) + v
	}
	d := table[ai]
	at := func(k int) int {
		if k -= pad; k < 0 {
			k = 0
		}
		if k < len(idx) {
			return p.base + valueAt + idx[k]
		}
		return p.base + valueAt + len(raw)
	}
	if pr := d.check(v); pr != nil {
		return Element{}, &Error{AI: ai, Position: at(pr.at), Message: pr.msg}
	}
	if pr := checkDate(d, v, p.now); pr != nil {
		return Element{}, &Error{AI: ai, Position: at(pr.at), Message: pr.msg}
	}
	if p.dl.Key.AI != "" && p.dl.Elements().Has(ai) {
		return Element{}, &Error{AI: ai, Position: p.base + aiAt, Message: "appears twice"}
	}
	return withTitle(ai, v), nil
}

// query reads the query string uri[from:to].
func (p *linkParser) query(from, to int) error {
	for at := from; at < to; {
		j := strings.IndexByte(p.uri[at:to], '&')
		if j < 0 {
			j = to - at
		}
		if err := p.param(p.uri[at:at+j], at); err != nil {
			return err
		}
		at += j + 1
	}
	return nil
}

func (p *linkParser) param(param string, at int) error {
	if param == "" {
		return nil
	}
	name, raw, hasValue := strings.Cut(param, "=")
	// A name is read decoded: "%30%31" names AI 01 as "01" does.
	n, err := url.QueryUnescape(name)
	if err != nil {
		n = name
	}
	ai := aiOf(n)
	if ai == "" {
		if isDigits(n) {
			return &Error{AI: n, Position: p.base + at, Message: "unknown AI in the query string"}
		}
		if p.dl.Params == nil {
			p.dl.Params = url.Values{}
		}
		v, err := url.QueryUnescape(raw)
		if err != nil {
			v = raw
		}
		if hasValue || n != "" {
			p.dl.Params.Add(n, v)
		}
		return nil
	}
	el, err := p.value(ai, at, raw, at+len(name)+1, true)
	if err != nil {
		return err
	}
	for _, alt := range compatibleQualifiers(table[p.dl.Key.AI], p.dl.Qualifiers) {
		for _, q := range alt {
			if q == ai {
				return &Error{AI: ai, Position: p.base + at, Message: fmt.Sprintf("is a key qualifier of (%s) and belongs in the path, not the query string", p.dl.Key.AI)}
			}
		}
	}
	if d := table[ai]; !d.DataAttribute {
		return &Error{AI: ai, Position: p.base + at, Message: notAttributeMessage(d)}
	}
	p.dl.Attributes = append(p.dl.Attributes, el)
	p.at = append(p.at, p.base+at)
	return nil
}

// notAttributeMessage says why an AI may not be a data attribute of a Digital Link.
func notAttributeMessage(d *Definition) string {
	keys := qualifierOf[d.AI]
	if len(keys) == 0 {
		return "is not allowed as a Digital Link data attribute"
	}
	return "is a key qualifier of (" + strings.Join(keys, ") or (") + "), not a Digital Link data attribute: it goes in the path after its key"
}

// checkQualifiers checks that quals follow one of the key's qualifier sequences, in its order.
// It returns the index of the first offending qualifier and why, or -1.
func checkQualifiers(key *Definition, quals []Element) (int, string) {
	if len(quals) == 0 {
		return -1, ""
	}
	var alt []string
	for _, a := range key.Qualifiers {
		if indexOf(a, quals[0].AI) >= 0 {
			alt = a
			break
		}
	}
	notQualifier := func(ai string) string {
		if len(key.Qualifiers) == 0 {
			return fmt.Sprintf("(%s) takes no key qualifiers; data attributes go in the query string", key.AI)
		}
		return fmt.Sprintf("is not a key qualifier of (%s); data attributes go in the query string", key.AI)
	}
	if alt == nil {
		return 0, notQualifier(quals[0].AI)
	}
	last := indexOf(alt, quals[0].AI)
	for i := 1; i < len(quals); i++ {
		q := quals[i].AI
		k := indexOf(alt, q)
		switch {
		case k < 0:
			for _, a := range key.Qualifiers {
				if indexOf(a, q) >= 0 {
					return i, fmt.Sprintf("cannot be combined with (%s) in the path", quals[0].AI)
				}
			}
			return i, notQualifier(q)
		case k == last:
			return i, "appears twice"
		case k < last:
			return i, fmt.Sprintf("must come before (%s): the qualifiers of (%s) go in the order %s", quals[i-1].AI, key.AI, strings.Join(alt, ", "))
		}
		last = k
	}
	return -1, ""
}

// compatibleQualifiers gives the qualifier sequences of key that the path qualifiers fit.
func compatibleQualifiers(key *Definition, quals []Element) [][]string {
	var out [][]string
	for _, a := range key.Qualifiers {
		fits := true
		for _, q := range quals {
			fits = fits && indexOf(a, q.AI) >= 0
		}
		if fits {
			out = append(out, a)
		}
	}
	return out
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// unescape reverses percent-encoding, and in a query "+" for space. idx maps each byte of the
// result to its offset in s.
func unescape(s string, inQuery bool) (string, []int, *problem) {
	var b strings.Builder
	idx := make([]int, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", nil, &problem{i, "\"%\" must start a percent-encoded byte such as %2F"}
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			if c == 0 {
				return "", nil, &problem{i, "%00 is not allowed"}
			}
			idx = append(idx, i)
			i += 2
		case c == '+' && inQuery:
			c = ' '
			idx = append(idx, i)
		default:
			idx = append(idx, i)
		}
		b.WriteByte(c)
	}
	return b.String(), idx, nil
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c >= 'a':
		return c - 'a' + 10
	case c >= 'A':
		return c - 'A' + 10
	}
	return c - '0'
}
