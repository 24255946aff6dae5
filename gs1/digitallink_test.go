package gs1_test

import (
	"errors"
	"maps"
	"net/url"
	"slices"
	"testing"

	"tracecraft/gs1"
)

func TestParseDigitalLink(t *testing.T) {
	tests := []struct {
		name, uri  string
		stem       string
		key        string
		qualifiers []string
		attributes []string
		params     url.Values
	}{
		{name: "GTIN, lot with an encoded slash, serial, attributes",
			uri:  "https://id.example.com/01/09501101530003/10/ABC%2F1/21/12345?17=251231&3103=000500",
			stem: "https://id.example.com", key: "01=09501101530003",
			qualifiers: []string{"10=ABC/1", "21=12345"}, attributes: []string{"17=251231", "3103=000500"}},
		{name: "brand's own path before the key",
			uri:  "https://brand.example/products/cn/01/09501101530003/10/L1",
			stem: "https://brand.example/products/cn", key: "01=09501101530003", qualifiers: []string{"10=L1"}},
		{name: "GTIN-13 padded to 14",
			uri:  "https://brand.example.com/01/9520123456788",
			stem: "https://brand.example.com", key: "01=09520123456788"},
		{name: "GTIN-8 padded to 14",
			uri:  "https://a.example/01/96385074",
			stem: "https://a.example", key: "01=00000096385074"},
		{name: "all three GTIN qualifiers in order",
			uri:  "https://a.example/01/12312312312333/22/TEST/10/ABC/21/XYZ",
			stem: "https://a.example", key: "01=12312312312333", qualifiers: []string{"22=TEST", "10=ABC", "21=XYZ"}},
		{name: "short names",
			uri:  "https://a.example/gtin/09520123456788/lot/ABC/ser/1?exp=251231&expdt=2512311200",
			stem: "https://a.example", key: "01=09520123456788", qualifiers: []string{"10=ABC", "21=1"},
			attributes: []string{"17=251231", "7003=2512311200"}},
		{name: "SSCC with content, count and lot in the query",
			uri:  "https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123",
			stem: "https://id.gs1.org", key: "00=952012345678912345",
			attributes: []string{"02=09520123456788", "37=25", "10=ABC123"}},
		{name: "GLN with extension",
			uri:  "https://id.gs1.org/414/9520123456788/254/32a%2Fb",
			stem: "https://id.gs1.org", key: "414=9520123456788", qualifiers: []string{"254=32a/b"}},
		{name: "GIAI of a logger with a GTIN attribute",
			uri:  "https://example.com/8004/9520614141234567?01=9520123456788",
			stem: "https://example.com", key: "8004=9520614141234567", attributes: []string{"01=09520123456788"}},
		{name: "ITIP with lot",
			uri:  "https://example.com/8006/095201234567880102/10/L7",
			stem: "https://example.com", key: "8006=095201234567880102", qualifiers: []string{"10=L7"}},
		{name: "GRAI crate",
			uri:  "https://example.com/8003/09520123456788ABC",
			stem: "https://example.com", key: "8003=09520123456788ABC"},
		{name: "third-party serial instead of 22/10/21, lot in the query",
			uri:  "https://id.gs1.org/01/09520123456788/235/XYZ?10=ABC123",
			stem: "https://id.gs1.org", key: "01=09520123456788", qualifiers: []string{"235=XYZ"}, attributes: []string{"10=ABC123"}},
		{name: "other parameters, singletons, stray separators and a fragment",
			uri:  "https://a.example/01/12312312312333?&&linkType=gs1%3Apip&99=ABC&singleton&&98=XYZ#frag",
			stem: "https://a.example", key: "01=12312312312333", attributes: []string{"99=ABC", "98=XYZ"},
			params: url.Values{"linkType": {"gs1:pip"}, "singleton": {""}}},
		{name: "upper-case scheme",
			uri:  "HTTPS://A.EXAMPLE/01/12312312312333",
			stem: "HTTPS://A.EXAMPLE", key: "01=12312312312333"},
		{name: "plus is a plus in the path",
			uri:  "https://a.example/01/12312312312333/22/ABC+123",
			stem: "https://a.example", key: "01=12312312312333", qualifiers: []string{"22=ABC+123"}},
		{name: "an AI-looking pair in the stem: the rightmost key wins",
			uri:  "https://a.example/00/faux/00/006141411234567890",
			stem: "https://a.example/00/faux", key: "00=006141411234567890"},
		{name: "port and query on the canonical host",
			uri:  "http://a.example:8080/01/09501101530003?3922=0299&17=201225",
			stem: "http://a.example:8080", key: "01=09501101530003", attributes: []string{"3922=0299", "17=201225"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl, err := gs1.ParseDigitalLink(tt.uri)
			if err != nil {
				t.Fatal(err)
			}
			if dl.Stem != tt.stem {
				t.Errorf("stem %q, want %q", dl.Stem, tt.stem)
			}
			if got := pairs(gs1.Elements{dl.Key})[0]; got != tt.key {
				t.Errorf("key %s, want %s", got, tt.key)
			}
			if got := pairs(dl.Qualifiers); !slices.Equal(got, tt.qualifiers) && len(got)+len(tt.qualifiers) > 0 {
				t.Errorf("qualifiers %v, want %v", got, tt.qualifiers)
			}
			if got := pairs(dl.Attributes); !slices.Equal(got, tt.attributes) && len(got)+len(tt.attributes) > 0 {
				t.Errorf("attributes %v, want %v", got, tt.attributes)
			}
			if !maps.EqualFunc(dl.Params, tt.params, slices.Equal) {
				t.Errorf("params %v, want %v", dl.Params, tt.params)
			}
			want := append(append([]string{tt.key}, tt.qualifiers...), tt.attributes...)
			if got := pairs(dl.Elements()); !slices.Equal(got, want) {
				t.Errorf("Elements %v, want %v", got, want)
			}
			if dl.Key.Title.ZH == "" {
				t.Error("key has no title")
			}
		})
	}
}

func TestParseDigitalLinkErrors(t *testing.T) {
	const gtin = "https://a.example/01/09501101530003"
	tests := []struct{ name, uri, want string }{
		{"serial before lot", gtin + "/21/1/10/ABC",
			"gs1: AI (10) at position 41: must come before (21): the qualifiers of (01) go in the order 22, 10, 21"},
		{"variant after lot", gtin + "/10/ABC/22/V",
			"gs1: AI (22) at position 43: must come before (10): the qualifiers of (01) go in the order 22, 10, 21"},
		{"lot twice", gtin + "/10/A/10/B",
			"gs1: AI (10) at position 41: appears twice"},
		{"a data attribute in the path", gtin + "/17/251231",
			"gs1: AI (17) at position 36: is not a key qualifier of (01); data attributes go in the query string"},
		{"an SSCC takes no qualifiers", "https://a.example/00/006141411234567890/10/L1",
			"gs1: AI (10) at position 40: (00) takes no key qualifiers; data attributes go in the query string"},
		{"third-party serial with a serial", gtin + "/235/X/21/1",
			"gs1: AI (21) at position 42: cannot be combined with (235) in the path"},
		{"a qualifier in the query", gtin + "?10=ABC",
			"gs1: AI (10) at position 36: is a key qualifier of (01) and belongs in the path, not the query string"},
		{"bad check digit in the path", "https://a.example/01/09501101530008",
			"gs1: AI (01) at position 34: check digit is 8, should be 3"},
		{"bad check digit of a padded GTIN-13", "https://a.example/01/9501101530008",
			"gs1: AI (01) at position 33: check digit is 8, should be 3"},
		{"bad date in the query", gtin + "?17=251301",
			"gs1: AI (17) at position 41: month 13 is not valid"},
		{"lot too long", gtin + "/10/ABCDEFGHIJKLMNOPQRSTU",
			"gs1: AI (10) at position 59: value must be at most 20 characters, got 21"},
		{"unknown numeric AI in the query", gtin + "?99=ABC&999=faux",
			"gs1: AI (999) at position 43: unknown AI in the query string"},
		{"empty value in the query", gtin + "?99=",
			"gs1: AI (99) at position 39: value is empty"},
		{"same AI in path and query", gtin + "/10/A?99=X&01=09501101530003",
			"gs1: AI (01) at position 46: appears twice"},
		{"same attribute twice", gtin + "?99=X&99=X",
			"gs1: AI (99) at position 41: appears twice"},
		{"path ending in a slash", gtin + "/",
			`gs1: at position 35: the URI path must not end with "/"`},
		{"broken percent-encoding", gtin + "/10/AB%2",
			`gs1: AI (10) at position 41: "%" must start a percent-encoded byte such as %2F`},
		{"encoded NUL", gtin + "/10/AB%00",
			"gs1: AI (10) at position 41: %00 is not allowed"},
		{"raw space", gtin + "/10/A B",
			"gs1: at position 40: character ' ' is not allowed in a URI unless percent-encoded"},
		{"encoded space: lots are GS1 character set 82, which has no space", gtin + "/10/A%20B",
			"gs1: AI (10) at position 40: character ' ' is not allowed (GS1 character set 82)"},
		{"plus is a space in the query, and so not allowed", gtin + "?99=A+B",
			"gs1: AI (99) at position 40: character ' ' is not allowed (GS1 character set 82)"},
		{"no host", "https:///01/09501101530003",
			"gs1: at position 8: the URI has no host"},
		{"bad host", "https://a$b/01/09501101530003",
			`gs1: at position 9: character '$' is not allowed in a host name`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.ParseDigitalLink(tt.uri)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			if errors.Is(err, gs1.ErrNotGS1) {
				t.Error("a broken Digital Link is reported as not GS1")
			}
		})
	}
}

func TestParseDigitalLinkNotGS1(t *testing.T) {
	for _, uri := range []string{
		"ftp://a.example/01/09501101530003",
		"https://example.com",
		"https://example.com/",
		"https://example.com/about/us",
		"https://example.com/a/b/c?01=09501101530003",
		"HtTp://a.example/01/09501101530003", // GS1 refuses a mixed-case scheme
		"mailto:qa@example.com",
	} {
		if _, err := gs1.ParseDigitalLink(uri); !errors.Is(err, gs1.ErrNotGS1) {
			t.Errorf("%s: error %v, want ErrNotGS1", uri, err)
		}
	}
}

func TestBuildDigitalLink(t *testing.T) {
	tests := []struct {
		name, base string
		in         gs1.Elements
		want       string
	}{
		{"GTIN, lot, serial, attributes in AI order", "https://id.example.com",
			els("01=09501101530003", "10=ABC/1", "21=12345", "3103=000500", "17=251231"),
			"https://id.example.com/01/09501101530003/10/ABC%2F1/21/12345?17=251231&3103=000500"},
		{"canonical stem", "",
			els("01=12312312312326", "21=abc123"),
			"https://id.gs1.org/01/12312312312326/21/abc123"},
		{"qualifiers put in the key's order", "https://example.com",
			els("21=XYZ", "01=12312312312333", "10=ABC123", "99=XYZ"),
			"https://example.com/01/12312312312333/10/ABC123/21/XYZ?99=XYZ"},
		{"plus encoded in path and query", "https://example.com",
			els("01=12312312312333", "10=ABC+123", "99=XYZ+QWERTY"),
			"https://example.com/01/12312312312333/10/ABC%2B123?99=XYZ%2BQWERTY"},
		{"every character of set 82 that a URI reserves", "https://example.com",
			els("01=12312312312333", `10=!"%&'()*+,-./:;<=>?_`),
			"https://example.com/01/12312312312333/10/%21%22%25%26%27%28%29%2A%2B%2C-.%2F%3A%3B%3C%3D%3E%3F_"},
		{"the label's trace QR under a brand path", "https://t.brand.cn/p/",
			els("01=09501101530003", "10=L20251120", "21=000123", "11=251120", "17=260520"),
			"https://t.brand.cn/p/01/09501101530003/10/L20251120/21/000123?11=251120&17=260520"},
		{"SSCC with its content", "https://example.com",
			els("00=006141411234567890", "37=24", "02=09520123456788", "10=L1"),
			"https://example.com/00/006141411234567890?02=09520123456788&10=L1&37=24"},
		{"GLN with extension", "https://example.com",
			els("414=9520123456788", "254=32a/b"),
			"https://example.com/414/9520123456788/254/32a%2Fb"},
		{"first key wins, the other becomes an attribute", "https://example.com",
			els("00=006141411234567890", "01=09501101530003"),
			"https://example.com/00/006141411234567890?01=09501101530003"},
		{"repeated element written once", "https://example.com",
			els("01=09501101530003", "10=L1", "10=L1"),
			"https://example.com/01/09501101530003/10/L1"},
		{"third-party serial", "https://example.com",
			els("01=09501101530003", "235=TPX1"),
			"https://example.com/01/09501101530003/235/TPX1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gs1.BuildDigitalLink(tt.base, tt.in)
			if err != nil || got != tt.want {
				t.Fatalf("got %s, %v\nwant %s", got, err, tt.want)
			}
		})
	}
}

func TestBuildDigitalLinkErrors(t *testing.T) {
	tests := []struct {
		name, base string
		in         gs1.Elements
		want       string
	}{
		{"no key", "", els("10=L1", "17=251231"),
			"gs1: no primary key (such as 01 GTIN, 00 SSCC or 414 GLN) to build a Digital Link on"},
		{"unknown AI", "", els("01=09501101530003", "89=X"), "gs1: AI (89): unknown AI"},
		{"bad check digit", "", els("01=09501101530008"), "gs1: AI (01): check digit is 8, should be 3"},
		{"space in a lot", "", els("01=09501101530003", "10=L 1"),
			"gs1: AI (10): character ' ' is not allowed (GS1 character set 82)"},
		{"two lots", "", els("01=09501101530003", "10=A", "10=B"), `gs1: AI (10): appears twice, with "A" and "B"`},
		{"not http", "ftp://x", els("01=09501101530003"), "gs1: at position 0: a Digital Link base must start with http:// or https://"},
		{"no host", "https://", els("01=09501101530003"), "gs1: at position 8: a Digital Link base needs a host"},
		{"query in base", "https://a.example/p?x=1", els("01=09501101530003"), "gs1: at position 19: character '?' is not allowed in a Digital Link base"},
		{"space in base", "https://a.example/my p", els("01=09501101530003"), "gs1: at position 20: character ' ' is not allowed in a Digital Link base"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.BuildDigitalLink(tt.base, tt.in)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v\n want %s", err, tt.want)
			}
		})
	}
}

func TestDigitalLinkRoundTrip(t *testing.T) {
	for _, in := range []gs1.Elements{
		els("01=09501101530003", "10=ABC/1", "21=12345", "17=251231", "3103=000500"),
		els("01=09501101530003", "22=V1", "10=L%1&2", "21=S?1", "11=251101", "15=260100", "7007=251101251103", "99=a=b"),
		els("01=09501101530003", `10=!"%&'()*+,-./:;<=`, "21=>?_"),
		els("00=006141411234567890", "02=09520123456788", "37=24", "10=L1", "3300=001200", "410=9520123456788"),
		els("414=9520123456788", "254=A/1"),
		els("8006=095011015300030102", "10=L1", "21=1"),
		els("8004=9520614141234567", "01=09501101530003"),
		els("01=09501101530003", "235=TPX1", "10=L1"),
	} {
		uri, err := gs1.BuildDigitalLink("https://brand.example/products", in)
		if err != nil {
			t.Fatalf("build %v: %v", pairs(in), err)
		}
		dl, err := gs1.ParseDigitalLink(uri)
		if err != nil {
			t.Fatalf("parse %s: %v", uri, err)
		}
		if dl.Stem != "https://brand.example/products" {
			t.Errorf("%s: stem %s", uri, dl.Stem)
		}
		got, want := pairs(dl.Elements()), pairs(in)
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s\n gives %v\n want %v", uri, got, want)
		}
		again, err := gs1.BuildDigitalLink(dl.Stem, dl.Elements())
		if err != nil || again != uri {
			t.Errorf("rebuilding gives %s, %v\n want %s", again, err, uri)
		}
	}
}
