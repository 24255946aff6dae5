package gs1_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"tracecraft/gs1"
)

// FuzzDigitalLink feeds ParseDigitalLink arbitrary URIs. It must never panic; what it accepts
// must write back with URI to a canonical URI that is its own fixed point and reads back the
// same elements, and must build with BuildDigitalLink to a link with the same elements.
func FuzzDigitalLink(f *testing.F) {
	for _, seed := range []string{
		"https://id.gs1.org/01/09520123456788/10/ABC1/21/12345?17=180426",
		"https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123",
		"https://a/gtin/9520123456788/lot/A%2fB/ser/1?exp=251200&linkType=gs1%3Apip#f",
		"https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123",
		"https://id.gs1.org/414/9520123456788/254/32a%2Fb",
		"https://example.com/8004/9520614141234567?01=2112345678900",
		"https://example.com/8006/095011015300030102/22/V/10/L/21/S?3103=000500",
		"https://example.com/415/9520123456788/8020/R1?3912=156100",
		"https://a/01/12312312312333?&&99=A&x&y=1&98=%41",
		"https://a/01/12312312312333?21=S", "https://a/00/006141411234567890?8200=x",
		"https://a/01/12312312312333/10/L?37=1", "https://a/01/12312312312333/21/S/10/L",
		"HTTPS://A/01/12312312312333/22/ABC+1", "https://a/01/1231231231233%2", "https://a/x/",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		dl, err := gs1.ParseDigitalLink(uri)
		_, _ = gs1.ParseItemLink(uri)
		if err != nil {
			var ge *gs1.Error
			if !errors.Is(err, gs1.ErrNotGS1) && !errors.As(err, &ge) {
				t.Fatalf("ParseDigitalLink(%q): error of type %T: %v", uri, err, err)
			}
			return
		}
		_ = gs1.CheckPairs(dl.Elements())
		canon, err := dl.URI()
		if err != nil {
			t.Fatalf("ParseDigitalLink(%q) does not write back: %v", uri, err)
		}
		back, err := gs1.ParseDigitalLink(canon)
		if err != nil {
			t.Fatalf("%q writes back as %q, which does not parse: %v", uri, canon, err)
		}
		if !slices.Equal(pairs(back.Elements()), pairs(dl.Elements())) {
			t.Fatalf("%q reads %v; written back as %q it reads %v", uri, pairs(dl.Elements()), canon, pairs(back.Elements()))
		}
		if again, err := back.URI(); err != nil || again != canon {
			t.Fatalf("%q is no fixed point: %q, %v", canon, again, err)
		}
		built, err := gs1.BuildDigitalLink(dl.Stem, dl.Elements())
		if err != nil {
			t.Fatalf("%q reads %v, which does not build: %v", uri, pairs(dl.Elements()), err)
		}
		rebuilt, err := gs1.ParseDigitalLink(built)
		if err != nil {
			t.Fatalf("%q builds as %q, which does not parse: %v", uri, built, err)
		}
		got, want := pairs(rebuilt.Elements()), pairs(dl.Elements())
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Fatalf("%q reads %v; built as %q it reads %v", uri, want, built, got)
		}
	})
}

// FuzzItemLink feeds DigitalLinkForItem arbitrary parts. It must never panic, and a link it
// writes must read back with ParseItemLink to the same GTIN, lot, serial and expiry.
func FuzzItemLink(f *testing.F) {
	f.Add("t.brand.cn", "9501101530003", "L20251120", "000123", 20593)
	f.Add("http://localhost:8080/t/", "96385074", "L/25%11&A", `S?1!"`, 0)
	f.Add("t brand", "9501101530008", "批", "S 1", -9000)
	f.Add("", "036000291452", "", "", 40000)
	f.Fuzz(func(t *testing.T, domain, gtin, lot, serial string, days int) {
		var exp time.Time
		if days != 0 {
			exp = time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, days%100000)
		}
		uri, err := gs1.DigitalLinkForItem(domain, gtin, lot, serial, exp)
		if err != nil {
			var ge *gs1.Error
			if !errors.As(err, &ge) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		l, err := gs1.ParseItemLink(uri)
		if err != nil {
			t.Fatalf("DigitalLinkForItem(%q, %q, %q, %q, %v) = %q, which does not read back: %v", domain, gtin, lot, serial, exp, uri, err)
		}
		g, _ := gs1.NormalizeGTIN(gtin)
		if l.GTIN != g || l.Lot != lot || l.Serial != serial || !l.Expiry.Equal(exp) {
			t.Fatalf("%q reads back %s %q %q %v; want %s %q %q %v", uri, l.GTIN, l.Lot, l.Serial, l.Expiry, g, lot, serial, exp)
		}
	})
}
