package gs1

import (
	"errors"
	"strconv"
	"strings"
	"time"
)

// ItemLink is what the one-code-per-item (一物一码) QR of a unit label carries:
// https://{domain}/01/{gtin14}/10/{lot}/21/{serial}?17={YYMMDD}.
type ItemLink struct {
	// Stem is scheme, host and any path of the brand's own, "https://t.brand.cn".
	Stem string
	// GTIN is the 14-digit GTIN (AI 01).
	GTIN string
	// Lot is the batch or lot (AI 10), "" when the link has none.
	Lot string
	// Serial is the serial number (AI 21), "" when the link has none.
	Serial string
	// Expiry is the expiry date (AI 17) at midnight UTC, zero when the link has none. The
	// century follows the GS1 rule relative to today; day 00 is the month's last day.
	Expiry time.Time
	// Link is the whole parsed link, with any other attributes (11, 3103…) and parameters.
	Link *DigitalLink
}

// DigitalLinkForItem writes the Digital Link that identifies one item for the QR of its unit
// label: https://{domain}/01/{gtin14}/10/{lot}/21/{serial}?17={YYMMDD}.
//
// domain is a host with an optional port and path ("t.brand.cn", "brand.cn:8443/p"), or a base
// that already has its http:// or https:// scheme. gtin may be a GTIN-8, -12, -13 or -14 and is
// written with 14 digits. lot and serial are GS1 character set 82, at most 20 characters; each
// is left out when "" (a lot-level code has no serial). expiry is written as YYMMDD in its own
// location; a zero expiry is left out, one that a reader would place in another century (more
// than 49 years back or 50 ahead) is an error. Values are checked against their AIs and
// percent-encoded as BuildDigitalLink does; errors are *Error naming the AI (or, for a bad
// domain, with the offset in domain).
func DigitalLinkForItem(domain, gtin, lot, serial string, expiry time.Time) (string, error) {
	base, added := domain, 0
	if !hasPrefixFold(base, "http://") && !hasPrefixFold(base, "https://") {
		if strings.Contains(domain, "://") {
			return "", &Error{Position: 0, Message: "a domain is a host name, or a base starting with http:// or https://"}
		}
		base, added = "https://"+base, len("https://")
	}
	g, err := NormalizeGTIN(gtin)
	if err != nil {
		return "", err
	}
	elems := Elements{{AI: "01", Value: g}}
	if lot != "" {
		elems = append(elems, Element{AI: "10", Value: lot})
	}
	if serial != "" {
		elems = append(elems, Element{AI: "21", Value: serial})
	}
	if !expiry.IsZero() {
		if y := centuryYear(expiry.Year()%100, time.Now().Year()); y != expiry.Year() {
			return "", &Error{AI: "17", Position: -1, Message: "expiry year " + strconv.Itoa(expiry.Year()) + " would read back as " + strconv.Itoa(y)}
		}
		elems = append(elems, Element{AI: "17", Value: expiry.Format("060102")})
	}
	uri, err := BuildDigitalLink(base, elems)
	var e *Error
	if errors.As(err, &e) && e.AI == "" && e.Position >= added {
		e.Position -= added // an offset in domain, not in the base made of it
	}
	return uri, err
}

// ParseItemLink reads the Digital Link of one item, as DigitalLinkForItem writes it, back into
// its GTIN, lot, serial and expiry. The link is read as ParseDigitalLink reads it (so short
// names, a GTIN-13 and other attributes are fine) and checked as a whole with CheckPairs; its
// primary key must be a GTIN (01). A text that is no Digital Link gives an error wrapping
// ErrNotGS1; a broken one an *Error naming the AI.
func ParseItemLink(uri string) (*ItemLink, error) {
	dl, err := ParseDigitalLink(strings.TrimSpace(uri))
	if err != nil {
		return nil, err
	}
	if dl.Key.AI != "01" {
		return nil, &Error{AI: dl.Key.AI, Position: -1, Message: "an item's link has a GTIN (01) as its key"}
	}
	if err := CheckPairs(dl.Elements()); err != nil {
		return nil, err
	}
	e := dl.Elements()
	l := &ItemLink{Stem: dl.Stem, GTIN: dl.Key.Value, Lot: e.Get("10"), Serial: e.Get("21"), Link: dl}
	if v := e.Get("17"); v != "" {
		t, err := DateOf(v, time.Now().UTC())
		if err != nil {
			err.(*Error).AI, err.(*Error).Position = "17", -1
			return nil, err
		}
		l.Expiry = t
	}
	return l, nil
}
