package gs1_test

import (
	"errors"
	"testing"
	"time"

	"tracecraft/gs1"
)

func TestDigitalLinkForItem(t *testing.T) {
	may20 := time.Date(2026, 5, 20, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		name, domain, gtin, lot, serial string
		expiry                          time.Time
		want                            string
	}{
		{"the unit label's QR", "t.brand.cn", "9501101530003", "L20251120", "000123", may20,
			"https://t.brand.cn/01/09501101530003/10/L20251120/21/000123?17=260520"},
		{"lot and serial characters percent-encoded", "t.brand.cn", gtin, "L/25%11&A", `S?1!"`, may20,
			"https://t.brand.cn/01/09501101530003/10/L%2F25%2511%26A/21/S%3F1%21%22?17=260520"},
		{"the date as in the expiry's own zone", "t.brand.cn", gtin, "L1", "7K2M9Q",
			time.Date(2026, 5, 20, 23, 30, 0, 0, time.FixedZone("CST", 8*3600)),
			"https://t.brand.cn/01/09501101530003/10/L1/21/7K2M9Q?17=260520"},
		{"no expiry", "t.brand.cn", gtin, "L1", "S1", time.Time{}, "https://t.brand.cn/01/09501101530003/10/L1/21/S1"},
		{"lot-level code: no serial", "t.brand.cn", gtin, "L1", "", may20, "https://t.brand.cn/01/09501101530003/10/L1?17=260520"},
		{"serial without lot", "t.brand.cn", gtin, "", "S1", time.Time{}, "https://t.brand.cn/01/09501101530003/21/S1"},
		{"a base with scheme, port and path", "http://localhost:8080/t/", "96385074", "L1", "S1", time.Time{},
			"http://localhost:8080/t/01/00000096385074/10/L1/21/S1"},
		{"GTIN-12 of a UPC-A", "t.brand.cn", "036000291452", "L1", "S1", time.Time{},
			"https://t.brand.cn/01/00036000291452/10/L1/21/S1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gs1.DigitalLinkForItem(tt.domain, tt.gtin, tt.lot, tt.serial, tt.expiry)
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v\nwant %s", got, err, tt.want)
			}
			l, err := gs1.ParseItemLink(got)
			if err != nil {
				t.Fatal(err)
			}
			g, _ := gs1.NormalizeGTIN(tt.gtin)
			if l.GTIN != g || l.Lot != tt.lot || l.Serial != tt.serial {
				t.Errorf("reads back %s %q %q", l.GTIN, l.Lot, l.Serial)
			}
			if !tt.expiry.IsZero() && !l.Expiry.Equal(may20) || tt.expiry.IsZero() && !l.Expiry.IsZero() {
				t.Errorf("expiry reads back %v", l.Expiry)
			}
			if again, err := l.Link.URI(); err != nil || again != got {
				t.Errorf("URI() gives %s, %v", again, err)
			}
		})
	}
	bad := []struct {
		name, domain, gtin, lot, serial string
		expiry                          time.Time
		want                            string
	}{
		{"bad check digit", "t.brand.cn", "9501101530008", "L1", "S1", may20, "gs1: AI (01): check digit is 8, should be 3"},
		{"GTIN of 11 digits", "t.brand.cn", "95011015300", "L1", "S1", may20, "gs1: AI (01): a GTIN has 8, 12, 13 or 14 digits, got 11"},
		{"lot too long", "t.brand.cn", gtin, "L123456789012345678901", "S1", may20, "gs1: AI (10): value must be at most 20 characters, got 22"},
		{"space in a serial", "t.brand.cn", gtin, "L1", "S 1", may20, "gs1: AI (21): character ' ' is not allowed (GS1 character set 82)"},
		{"Chinese in a lot", "t.brand.cn", gtin, "批1", "S1", may20, "gs1: AI (10): character '批' is not allowed (GS1 character set 82)"},
		{"an expiry a reader puts in another century", "t.brand.cn", gtin, "L1", "S1", time.Date(1960, 1, 1, 0, 0, 0, 0, time.UTC),
			"gs1: AI (17): expiry year 1960 would read back as 2060"},
		{"no domain", "", gtin, "L1", "S1", may20, "gs1: at position 0: a Digital Link base needs a host"},
		{"space in the domain", "t brand.cn", gtin, "L1", "S1", may20, "gs1: at position 1: character ' ' is not allowed in a Digital Link base"},
		{"another scheme", "ftp://t.brand.cn", gtin, "L1", "S1", may20, "gs1: at position 0: a domain is a host name, or a base starting with http:// or https://"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.DigitalLinkForItem(tt.domain, tt.gtin, tt.lot, tt.serial, tt.expiry)
			wantError(t, err, tt.want)
		})
	}
}

func TestParseItemLink(t *testing.T) {
	l, err := gs1.ParseItemLink("https://t.brand.cn/gtin/9501101530003/lot/L1/ser/S%2F1?exp=270200&11=260101&linkType=gs1%3Apip")
	if err != nil {
		t.Fatal(err)
	}
	if l.Stem != "https://t.brand.cn" || l.GTIN != gtin || l.Lot != "L1" || l.Serial != "S/1" ||
		!l.Expiry.Equal(time.Date(2027, 2, 28, 0, 0, 0, 0, time.UTC)) || l.Link.Attributes.Get("11") != "260101" {
		t.Errorf("got %+v", l)
	}
	bad := []struct{ name, uri, want string }{
		{"an SSCC is no item", "https://t.brand.cn/00/" + sscc, "gs1: AI (00): an item's link has a GTIN (01) as its key"},
		{"month 13", "https://t.brand.cn/01/" + gtin + "/21/S?17=261331", "gs1: AI (17) at position 47: month 13 is not valid"},
		{"serial out of order", "https://t.brand.cn/01/" + gtin + "/21/S/10/L",
			"gs1: AI (10) at position 42: must come before (21): the qualifiers of (01) go in the order 22, 10, 21"},
		{"a pair GS1 forbids", "https://t.brand.cn/01/" + gtin + "?37=5", "gs1: AI (37) at position 37: cannot be combined with (01)"},
		{"a partner missing", "https://t.brand.cn/01/" + gtin + "?250=X", "gs1: AI (250): needs one of (01)+(21), (03)+(21), (8006)+(21) with it"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.ParseItemLink(tt.uri)
			wantError(t, err, tt.want)
		})
	}
	if _, err := gs1.ParseItemLink("https://t.brand.cn/about"); !errors.Is(err, gs1.ErrNotGS1) {
		t.Errorf("a page that is no Digital Link: %v", err)
	}
}

func BenchmarkDigitalLinkForItem(b *testing.B) {
	exp := time.Date(2026, 5, 20, 0, 0, 0, 0, time.UTC)
	for b.Loop() {
		if _, err := gs1.DigitalLinkForItem("t.brand.cn", gtin, "L20251120", "7K2M9Q4X", exp); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseItemLink(b *testing.B) {
	const uri = "https://t.brand.cn/01/09501101530003/10/L20251120/21/7K2M9Q4X?17=260520"
	for b.Loop() {
		if _, err := gs1.ParseItemLink(uri); err != nil {
			b.Fatal(err)
		}
	}
}
