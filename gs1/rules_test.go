package gs1_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"tracecraft/gs1"
)

// The GS1 rules beyond single values: which AIs may be Digital Link data attributes, the
// key-qualifier sequences of the path, symbology identifiers, pairing rules and code lists.
// Cases marked "GS1:" are the test vectors of the GS1 Barcode Syntax Engine (dl.c, ai.c,
// scandata.c) or examples of the Digital Link standard.

const (
	gtin  = "09501101530003"
	sscc  = "006141411234567890"
	gtinA = "12312312312333"
)

func wantError(t *testing.T, err error, want string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %s", want)
	}
	if err.Error() != want {
		t.Errorf("error\n got %s\nwant %s", err, want)
	}
	var e *gs1.Error
	if !errors.As(err, &e) {
		t.Errorf("error is %T, want *gs1.Error", err)
	}
}

func TestDataAttributeFlags(t *testing.T) {
	var not []string
	for _, d := range gs1.Definitions() {
		if !d.DataAttribute {
			not = append(not, d.AI)
		}
	}
	// The AIs of the table without the Syntax Dictionary's "?" flag.
	if want := []string{"21", "22", "235", "254", "8020", "8200"}; !slices.Equal(not, want) {
		t.Errorf("AIs that may not be data attributes: %v, want %v", not, want)
	}
}

func TestDigitalLinkDataAttributes(t *testing.T) {
	good := []struct{ name, uri string }{
		{"lot of an SSCC's content", "https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123"},
		{"GS1: a second key as an attribute", "https://example.com/8004/9520614141234567?01=09520123456788"},
		{"GS1: lot in the query once the path took 235", "https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123"},
		{"dates, weight, internal", "https://a.example/01/" + gtin + "?17=261231&3103=000500&99=X"},
	}
	for _, tt := range good {
		if _, err := gs1.ParseDigitalLink(tt.uri); err != nil {
			t.Errorf("%s: %v", tt.name, err)
		}
	}
	bad := []struct{ name, uri, want string }{
		{"serial of an SSCC", "https://a.example/00/" + sscc + "?21=S1",
			"gs1: AI (21) at position 40: is a key qualifier of (01) or (8006), not a Digital Link data attribute: it goes in the path after its key"},
		{"variant of an SSCC", "https://a.example/00/" + sscc + "?22=V",
			"gs1: AI (22) at position 40: is a key qualifier of (01) or (8006), not a Digital Link data attribute: it goes in the path after its key"},
		{"GLN extension after a GTIN", "https://a.example/01/" + gtin + "?254=X",
			"gs1: AI (254) at position 36: is a key qualifier of (414), not a Digital Link data attribute: it goes in the path after its key"},
		{"GS1: extended packaging URL", "https://a.example/01/" + gtin + "?8200=X",
			"gs1: AI (8200) at position 36: is not allowed as a Digital Link data attribute"},
		{"third-party serial after 22/10/21 took the path", "https://a.example/01/" + gtin + "/10/L?235=X",
			"gs1: AI (235) at position 41: is a key qualifier of (01), not a Digital Link data attribute: it goes in the path after its key"},
		{"GS1: a qualifier of the key in the query", "https://example.com/01/09520123456788?10=ABC123",
			"gs1: AI (10) at position 38: is a key qualifier of (01) and belongs in the path, not the query string"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.ParseDigitalLink(tt.uri)
			wantError(t, err, tt.want)
		})
	}
	buildBad := []struct {
		name string
		in   gs1.Elements
		want string
	}{
		{"GS1: (8200) is invalid as a data attribute", els("01=12312312312326", "99=000001", "8200=http://example.com", "95=INT"),
			"gs1: AI (8200): is not allowed as a Digital Link data attribute"},
		{"GS1: (235) is the qualifier, so (22) may not be an attribute", els("01=12312312312326", "235=TPX9526064", "99=000001", "22=ABC"),
			"gs1: AI (235): is a key qualifier of (01), not a Digital Link data attribute: it goes in the path after its key"},
		{"a serial without its key", els("00="+sscc, "21=S1"),
			"gs1: AI (21): is a key qualifier of (01) or (8006), not a Digital Link data attribute: it goes in the path after its key"},
		{"a GLN extension without its GLN", els("01="+gtin, "254=A"),
			"gs1: AI (254): is a key qualifier of (414), not a Digital Link data attribute: it goes in the path after its key"},
	}
	for _, tt := range buildBad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.BuildDigitalLink("https://example.com", tt.in)
			wantError(t, err, tt.want)
		})
	}
}

func TestDigitalLinkPathSequences(t *testing.T) {
	tests := []struct {
		name string
		in   gs1.Elements
		want string
	}{
		{"GS1: serial only", els("01=12312312312326", "21=abc123"), "https://example.com/01/12312312312326/21/abc123"},
		{"GS1: 22, 10, 21 and an attribute", els("01=12312312312326", "22=ABC", "10=DEF", "21=GHI", "95=INT"),
			"https://example.com/01/12312312312326/22/ABC/10/DEF/21/GHI?95=INT"},
		{"GS1: qualifiers given before the key", els("21=XYZ", "01=12312312312333", "10=ABC123", "99=XYZ"),
			"https://example.com/01/12312312312333/10/ABC123/21/XYZ?99=XYZ"},
		{"the sequence that leaves a valid query: 235, lot in the query", els("01=12312312312326", "235=ABC", "10=DEF"),
			"https://example.com/01/12312312312326/235/ABC?10=DEF"},
		{"GLN and extension", els("414=9520123456788", "254=32a/b"), "https://example.com/414/9520123456788/254/32a%2Fb"},
		{"ITIP and its qualifiers", els("21=S", "8006=095011015300030102", "10=L"),
			"https://example.com/8006/095011015300030102/10/L/21/S"},
		{"GLN of the invoicing party and its reference", els("415=9520123456788", "8020=REF-1"),
			"https://example.com/415/9520123456788/8020/REF-1"},
		{"GS1: the first key wins, the others are attributes", els("253=9526064000028000001", "99=000001", "8017=795260646688514634"), ""},
		{"GTIN-13, -12 and -8 written with 14 digits", els("01=9520123456788"), "https://example.com/01/09520123456788"},
		{"GTIN-12", els("01=416000336108"), "https://example.com/01/00416000336108"},
		{"GTIN-8", els("01=02345673"), "https://example.com/01/00000002345673"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gs1.BuildDigitalLink("https://example.com", tt.in)
			if tt.want == "" { // an AI the table lacks (253, 8017): refused, not guessed at
				wantError(t, err, "gs1: AI (253): unknown AI")
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v\nwant %s", got, err, tt.want)
			}
			dl, err := gs1.ParseDigitalLink(got)
			if err != nil {
				t.Fatal(err)
			}
			if again, err := dl.URI(); err != nil || again != got {
				t.Errorf("parse → URI gives %s, %v", again, err)
			}
		})
	}
	bad := []struct{ name, uri, want string }{
		{"lot after serial", "https://a.example/01/" + gtin + "/21/1/10/L",
			"gs1: AI (10) at position 41: must come before (21): the qualifiers of (01) go in the order 22, 10, 21"},
		{"GS1: 22 after 10", "https://a.example/01/" + gtin + "/10/L/22/V",
			"gs1: AI (22) at position 41: must come before (10): the qualifiers of (01) go in the order 22, 10, 21"},
		{"GS1: 235 mixed with 22/10/21", "https://a.example/01/" + gtin + "/10/L/235/X",
			"gs1: AI (235) at position 41: cannot be combined with (10) in the path"},
		{"a serial in the path of an SSCC", "https://a.example/00/" + sscc + "/21/S",
			"gs1: AI (21) at position 40: (00) takes no key qualifiers; data attributes go in the query string"},
		{"a GLN extension after a GTIN", "https://a.example/01/" + gtin + "/254/X",
			"gs1: AI (254) at position 36: is not a key qualifier of (01); data attributes go in the query string"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.ParseDigitalLink(tt.uri)
			wantError(t, err, tt.want)
		})
	}
	// A link put together by hand is checked as a parsed one.
	handBad := []struct {
		name string
		dl   gs1.DigitalLink
		want string
	}{
		{"qualifiers out of order", gs1.DigitalLink{Stem: "https://a.example", Key: el("01=" + gtin), Qualifiers: els("21=S", "10=L")},
			"gs1: AI (10): must come before (21): the qualifiers of (01) go in the order 22, 10, 21"},
		{"a qualifier among the attributes", gs1.DigitalLink{Stem: "https://a.example", Key: el("01=" + gtin), Attributes: els("21=S")},
			"gs1: AI (21): is a key qualifier of (01) and belongs in the path, not the query string"},
		{"an attribute that cannot be one", gs1.DigitalLink{Stem: "https://a.example", Key: el("01=" + gtin), Attributes: els("8200=X")},
			"gs1: AI (8200): is not allowed as a Digital Link data attribute"},
		{"a key that is none", gs1.DigitalLink{Stem: "https://a.example", Key: el("10=L")},
			"gs1: AI (10): is not a Digital Link primary key"},
		{"no key", gs1.DigitalLink{Stem: "https://a.example"},
			"gs1: no primary key (such as 01 GTIN, 00 SSCC or 414 GLN) to build a Digital Link on"},
		{"an invalid pair", gs1.DigitalLink{Stem: "https://a.example", Key: el("01=" + gtin), Attributes: els("02=" + gtin)},
			"gs1: AI (02): cannot be combined with (01)"},
	}
	for _, tt := range handBad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.dl.URI()
			wantError(t, err, tt.want)
		})
	}
}

func el(kv string) gs1.Element { return els(kv)[0] }

func TestDigitalLinkURIRoundTrip(t *testing.T) {
	// Canonical URIs come back as they are.
	for _, uri := range []string{
		"https://id.gs1.org/01/09520123456788/10/ABC1/21/12345?17=180426",
		"https://a/01/12312312312333/22/TEST/10/ABC/21/XYZ",
		"https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123",
		"https://id.gs1.org/414/9520123456788/254/32a%2Fb",
		"https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123",
		"https://example.com/8004/9520614141234567?01=09520123456788",
		"https://example.com/01/09520123456788?3103=000195&3922=0299&17=201225",
		"https://t.brand.cn/p/01/09501101530003/10/L%2F2025%2511%26A/21/S%3F1%21%22?17=260520",
		"https://t.brand.cn/01/09501101530003/10/" + strings.Repeat("%2A", 20) + "/21/-._abcXYZ",
		"http://a.example:8080/01/09501101530003?99=ABC&linkType=gs1%3Apip",
	} {
		dl, err := gs1.ParseDigitalLink(uri)
		if err != nil {
			t.Fatalf("parse %s: %v", uri, err)
		}
		if got, err := dl.URI(); err != nil || got != uri {
			t.Errorf("parse → URI\n got %s, %v\nwant %s", got, err, uri)
		}
	}
	// Other forms come back canonical, and the canonical form reads back the same.
	for _, tt := range []struct{ in, want string }{
		{"https://brand.example.com/01/9520123456788", "https://brand.example.com/01/09520123456788"},
		{"https://a/01/416000336108", "https://a/01/00416000336108"},
		{"https://a/01/02345673", "https://a/01/00000002345673"},
		{"https://a/8004/9520614141234567?01=2112345678900", "https://a/8004/9520614141234567?01=02112345678900"},
		{"https://a/gtin/09520123456788/lot/ABC/ser/1?exp=251231", "https://a/01/09520123456788/10/ABC/21/1?17=251231"},
		{"https://a/01/12312312312333/22/ABC%2d123?99=ABC&98=XYZ%2f987", "https://a/01/12312312312333/22/ABC-123?99=ABC&98=XYZ%2F987"},
		{"https://a/01/12312312312333/10/A!B(1)", "https://a/01/12312312312333/10/A%21B%281%29"},
		{"https://a/01/12312312312333/22/test/10/abc/21/xyz#fragment", "https://a/01/12312312312333/22/test/10/abc/21/xyz"},
		{"https://a/stem/00/006141411234567890?", "https://a/stem/00/006141411234567890"},
		{"https://a/01/12312312312333?%39%39=ABC", "https://a/01/12312312312333?99=ABC"},
		{"https://a/01/12312312312333?unknown=666&99=ABC&&98=XYZ", "https://a/01/12312312312333?99=ABC&98=XYZ&unknown=666"},
	} {
		dl, err := gs1.ParseDigitalLink(tt.in)
		if err != nil {
			t.Fatalf("parse %s: %v", tt.in, err)
		}
		got, err := dl.URI()
		if err != nil || got != tt.want {
			t.Errorf("%s\n gives %s, %v\n want %s", tt.in, got, err, tt.want)
			continue
		}
		back, err := gs1.ParseDigitalLink(got)
		if err != nil || !slices.Equal(pairs(back.Elements()), pairs(dl.Elements())) {
			t.Errorf("%s reads back %v, %v; want %v", got, pairs(back.Elements()), err, pairs(dl.Elements()))
		}
	}
}

func TestCheckSymbology(t *testing.T) {
	good := []struct{ id, data string }{
		{"]E0", "2112345678900"},                               // GS1
		{"]E0", "9501101530003"},                               // EAN-13
		{"]E0", "0036000291452"},                               // UPC-A as 13 digits
		{"]E0", "036000291452"},                                // UPC-A as printed
		{"]E4", "02345673"},                                    // GS1
		{"]C1", "011231231231233310ABC123" + gs + "99TESTING"}, // GS1
		{"]C1", "00" + sscc + "02" + gtin + "3724" + gs + "10" + strings.Repeat("L", 5)}, // 48 characters,
		{"]e0", "011231231231233310ABC123" + gs + "99TESTING"},                           // GS1
		{"]d2", "011231231231233310ABC123" + gs + "99TESTING"},                           // GS1
		{"]Q3", "011231231231233310ABC123" + gs + "99TESTING"},                           // GS1
		{"]Q1", "https://example.com/01/12312312312333?99=TEST"},                         // GS1
		{"]d1", "https://example.com/01/12312312312333?99=TEST"},                         // GS1
		{"]A0", "ANY CODE 39"},
	}
	for _, tt := range good {
		if err := gs1.CheckSymbology(tt.id, tt.data); err != nil {
			t.Errorf("%s%q: %v", tt.id, tt.data, err)
		}
	}
	bad := []struct{ name, id, data, want string }{
		{"GS1: EAN-13 short", "]E0", "12345678901",
			"gs1: AI (01) at position 11: ]E0 (EAN-13 / UPC) carries 13 (or the 12 of a UPC-A) digits, got 11"},
		{"UPC-A of 12 digits with a bad check digit", "]E0", "036000291453",
			"gs1: AI (01) at position 11: check digit is 3, should be 2"},
		{"EAN-13 of 8 digits", "]E0", "96385074",
			"gs1: AI (01) at position 8: ]E0 (EAN-13 / UPC) carries 13 (or the 12 of a UPC-A) digits, got 8"},
		{"GS1: EAN-13 long", "]E0", "12345678901234",
			"gs1: AI (01) at position 13: ]E0 (EAN-13 / UPC) carries 13 (or the 12 of a UPC-A) digits, got 14"},
		{"GS1: EAN-13 non-numeric", "]E0", "1234ABC890123",
			`gs1: AI (01) at position 4: ]E0 (EAN-13 / UPC) carries digits only, found 'A'`},
		{"GS1: EAN-13 bad check digit", "]E0", "2112345678901",
			"gs1: AI (01) at position 12: check digit is 1, should be 0"},
		{"GS1: EAN-8 short", "]E4", "1234567", "gs1: AI (01) at position 7: ]E4 (EAN-8) carries 8 digits, got 7"},
		{"GS1: EAN-8 long", "]E4", "123456789", "gs1: AI (01) at position 8: ]E4 (EAN-8) carries 8 digits, got 9"},
		{"GS1: EAN-8 non-numeric", "]E4", "12ABC678", `gs1: AI (01) at position 2: ]E4 (EAN-8) carries digits only, found 'A'`},
		{"GS1: EAN-8 bad check digit", "]E4", "02345674", "gs1: AI (01) at position 7: check digit is 4, should be 3"},
		{"GS1-128 over 48 characters", "]C1", "01" + gtin + "10" + strings.Repeat("L", 20) + gs + "21" + strings.Repeat("S", 8),
			"gs1: at position 48: ]C1 (GS1-128) holds at most 48 data characters, got 49"},
		{"GS1: GS1-128 empty", "]C1", "", "gs1: at position 0: ]C1 (GS1-128) carries no element strings"},
		{"GS1: DataBar empty", "]e0", "", "gs1: at position 0: ]e0 (GS1 DataBar) carries no element strings"},
		{"Digital Link in GS1 QR mode", "]Q3", "https://example.com/01/12312312312333",
			"gs1: at position 0: ]Q3 (GS1 QR Code) carries GS1 element strings; a Digital Link is encoded as plain data (]Q1, ]d1)"},
		{"Digital Link in GS1 DataMatrix mode", "]d2", gs + "HTTPS://example.com/01/12312312312333",
			"gs1: at position 1: ]d2 (GS1 DataMatrix) carries GS1 element strings; a Digital Link is encoded as plain data (]Q1, ]d1)"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, gs1.CheckSymbology(tt.id, tt.data), tt.want)
		})
	}
	// Parse checks the identifier first; offsets are in the scanned text.
	if got, err := gs1.Parse("]E0036000291452", scanNow); err != nil || pairs(got)[0] != "01=00036000291452" {
		t.Errorf("UPC-A after ]E0: %v, %v", got, err)
	}
	_, err := gs1.Parse(" ]E496385075", scanNow)
	wantError(t, err, "gs1: AI (01) at position 11: check digit is 5, should be 4")
	_, err = gs1.Parse("]Q3https://example.com/01/12312312312333", scanNow)
	wantError(t, err, "gs1: at position 3: ]Q3 (GS1 QR Code) carries GS1 element strings; a Digital Link is encoded as plain data (]Q1, ]d1)")
}

func TestInvalidPairs(t *testing.T) {
	tests := []struct {
		name string
		in   gs1.Elements
		want string // the error of CheckPairs
		pos  int    // where ParseElementString reports it in the bracketed form
	}{
		{"GS1: GTIN with the GTIN of contents", els("01=12345678901231", "02=12345678901231"), "gs1: AI (02): cannot be combined with (01)", 19},
		{"GS1: GTIN with a count", els("01=12345678901231", "37=123"), "gs1: AI (37): cannot be combined with (01)", 19},
		{"GS1: serial with a third-party serial", els("01=12345678901231", "21=ABC123", "235=XYZ"), "gs1: AI (235): cannot be combined with (21)", 29},
		{"GS1: two net weights, by the pattern 310n", els("01=12345678901231", "3103=001250", "3102=012500"), "gs1: AI (3102): cannot be combined with (3103)", 31},
		{"GS1: price with price and currency, by 392n/393n", els("01=12345678901231", "30=1", "3922=0299", "3932=1560299"), "gs1: AI (3932): cannot be combined with (3922)", 34},
		{"ITIP with its whole GTIN", els("8006=095011015300030102", "01="+gtin), "gs1: AI (01): cannot be combined with (8006)", 25},
		{"origin with full-process country", els("01="+gtin, "422=156", "426=156"), "gs1: AI (426): cannot be combined with (422)", 27},
		{"postal code with and without country", els("00="+sscc, "420=100000", "421=156100000"), "gs1: AI (421): cannot be combined with (420)", 34},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, gs1.CheckPairs(tt.in), tt.want)
			msg := strings.TrimPrefix(tt.want, "gs1: ")
			_, err := gs1.ParseElementString(tt.in.String())
			at := strings.Replace(msg, "): ", ") at position "+itoa(tt.pos)+": ", 1)
			wantError(t, err, "gs1: "+at)
			_, err = gs1.BuildElementString(tt.in, gs1.Raw)
			wantError(t, err, tt.want)
		})
	}
	// The same rule in a Digital Link, parsed and built.
	_, err := gs1.ParseDigitalLink("https://a.example/01/" + gtin + "?37=24")
	wantError(t, err, "gs1: AI (37) at position 36: cannot be combined with (01)")
	_, err = gs1.BuildDigitalLink("", els("01="+gtin, "21=S", "235=T"))
	wantError(t, err, "gs1: AI (235): cannot be combined with (21)")
	// An AI is not excluded by its own pattern: one 3103 is fine.
	if err := gs1.CheckPairs(els("01="+gtin, "3103=001250")); err != nil {
		t.Error(err)
	}
}

func TestMandatoryPartners(t *testing.T) {
	good := []gs1.Elements{
		els("00=123456789012345675", "02=12345678901231", "37=123"), // GS1
		els("21=ABC123", "01=12345678901231"),                       // GS1
		els("21=ABC123", "8006=123456789012310510"),                 // GS1
		els("01=12345678901231", "21=XYZ999", "250=ABC123"),         // GS1
		els("01=12345678901231", "3925=12599", "30=123"),            // GS1
		els("01=12345678901231", "3925=12599", "3100=654321"),       // GS1
		els("01="+gtin, "10=L1", "21=S1", "17=261231", "11=260101"),
		els("414=9520123456788", "254=A"),
		els("415=9520123456788", "8020=R1", "3912=156100"),
		els("01="+gtin, "422=156", "427=GD"),
		els("00="+sscc, "4307=CN", "403=R1"),
	}
	for _, in := range good {
		if err := gs1.CheckPairs(in); err != nil {
			t.Errorf("%v: %v", pairs(in), err)
		}
	}
	bad := []struct {
		name string
		in   gs1.Elements
		want string
	}{
		{"GS1: content without count", els("02=12345678901231"), "gs1: AI (02): needs (37) with it"},
		{"GS1: content and count without SSCC", els("02=12345678901231", "37=123"), "gs1: AI (37): needs one of (00)+(02), (00)+(8026) with it"},
		{"GS1: serial alone", els("21=ABC123"), "gs1: AI (21): needs one of (01), (03), (8006) with it"},
		{"GS1: secondary serial without serial", els("01=12345678901231", "250=ABC123"), "gs1: AI (250): needs one of (01)+(21), (03)+(21), (8006)+(21) with it"},
		{"GS1: price without a measure", els("01=12345678901231", "3925=12599"), "gs1: AI (3925): needs one of (01)+(30), (01)+(31nn), (01)+(32nn), (01)+(35nn), (01)+(36nn) with it"},
		{"lot alone", els("10=L1"), "gs1: AI (10): needs one of (01), (02), (03), (8006), (8026) with it"},
		{"expiry alone", els("17=261231"), "gs1: AI (17): needs one of (01), (02), (03), (255), (8006), (8026) with it"},
		{"GLN extension alone", els("254=A"), "gs1: AI (254): needs (414) with it"},
		{"subdivision without country of origin", els("01="+gtin, "427=GD"), "gs1: AI (427): needs one of (01)+(422), (02)+(422), (03)+(422) with it"},
		{"ship-to country on a trade item", els("01="+gtin, "4307=CN"), "gs1: AI (4307): needs (00) with it"},
		{"a bad value is reported first", els("01=09501101530008", "10=L"), "gs1: AI (01): check digit is 8, should be 3"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			wantError(t, gs1.CheckPairs(tt.in), tt.want)
		})
	}
	// Parsing does not ask for partners, which may be in the symbol next to it.
	if _, err := gs1.ParseElementString("(02)12345678901231(37)123"); err != nil {
		t.Errorf("ParseElementString checks partners: %v", err)
	}
}

func TestCodeLists(t *testing.T) {
	good := []string{
		"(01)" + gtin + "(30)1(3932)1561234",    // CNY
		"(01)" + gtin + "(30)1(3932)9781234",    // EUR
		"(01)" + gtin + "(30)1(3932)3961234",    // XAD, added to ISO 4217 in 2025
		"(415)9520123456788(8020)R(3912)156100", // 391n
		"(01)" + gtin + "(422)156(424)156",
		"(01)" + gtin + "(423)156410(425)840",
		"(01)" + gtin + "(7030)999ABC", // 999: any country
		"(01)" + gtin + "(7031)156SC123",
		"(00)" + sscc + "(4307)CN",
		"(00)" + sscc + "(421)156100000",
	}
	for _, s := range good {
		if _, err := gs1.ParseElementString(s); err != nil {
			t.Errorf("%s: %v", s, err)
		}
	}
	bad := []struct{ in, want string }{
		{"(3932)0001234", "gs1: AI (3932) at position 6: 000 is not an ISO 4217 currency code"},
		{"(3932)1911234", "gs1: AI (3932) at position 6: 191 is not an ISO 4217 currency code"}, // HRK, withdrawn 2023
		{"(3912)1231234", "gs1: AI (3912) at position 6: 123 is not an ISO 4217 currency code"},
		{"(422)999", "gs1: AI (422) at position 5: 999 is not an ISO 3166 country code"},
		{"(424)000", "gs1: AI (424) at position 5: 000 is not an ISO 3166 country code"},
		{"(423)156900", "gs1: AI (423) at position 8: 900 is not an ISO 3166 country code"},
		{"(421)900100000", "gs1: AI (421) at position 5: 900 is not an ISO 3166 country code"},
		{"(7030)000ABC", "gs1: AI (7030) at position 6: 000 is not an ISO 3166 country code nor 999"},
		{"(4307)cn", `gs1: AI (4307) at position 6: "cn" is not an ISO 3166 alpha-2 country code`},
		{"(4317)XX", `gs1: AI (4317) at position 6: "XX" is not an ISO 3166 alpha-2 country code`},
	}
	for _, tt := range bad {
		_, err := gs1.ParseElementString(tt.in)
		wantError(t, err, tt.want)
	}
	for _, tt := range []struct {
		f          func(string) (string, bool)
		code, want string
	}{
		{gs1.CountryOf, "156", "CN"}, {gs1.CountryOf, "840", "US"}, {gs1.CountryOf, "248", "AX"},
		{gs1.CurrencyOf, "156", "CNY"}, {gs1.CurrencyOf, "978", "EUR"}, {gs1.CurrencyOf, "924", "ZWG"},
	} {
		if got, ok := tt.f(tt.code); !ok || got != tt.want {
			t.Errorf("%s gives %s, %v; want %s", tt.code, got, ok, tt.want)
		}
	}
	if _, ok := gs1.CountryOf("999"); ok {
		t.Error("999 is a country")
	}
	if _, ok := gs1.CurrencyOf("932"); ok {
		t.Error("ZWL, withdrawn in 2024, is a currency")
	}
	// A decimal's unit for 391n is its currency code, as for 393n.
	e, _ := gs1.ParseElementString("(415)9520123456788(8020)R(3912)156100")
	if v, unit, err := e.Decimal("3912"); err != nil || v != 1 || unit != "156" {
		t.Errorf("Decimal(3912) = %v %s %v", v, unit, err)
	}
}

func itoa(n int) string {
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}
