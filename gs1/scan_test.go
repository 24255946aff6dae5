package gs1_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"tracecraft/gs1"
)

var scanNow = time.Date(2026, 11, 25, 9, 30, 0, 0, time.UTC)

func TestParse(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"Digital Link from the consumer QR",
			"https://t.brand.cn/01/09501101530003/10/L20251120/21/000123?11=251120&17=260520",
			[]string{"01=09501101530003", "10=L20251120", "21=000123", "11=251120", "17=260520"}},
		{"Digital Link after the plain QR symbology identifier",
			"]Q1https://id.gs1.org/01/09520123456788?3103=000195",
			[]string{"01=09520123456788", "3103=000195"}},
		{"typed bracketed text", "(01)09501101530003(17)260520(10)L1",
			[]string{"01=09501101530003", "17=260520", "10=L1"}},
		{"GS1-128 of a trade item", "]C10109501101530003" + "10L1" + gs + "11251120" + "17260520",
			[]string{"01=09501101530003", "10=L1", "11=251120", "17=260520"}},
		// (37) counts the trade items of (02) on a logistic unit; with (01) GS1 forbids it.
		{"GS1-128 of a pallet: SSCC, content and count", "]C1" + "00006141411234567890" + "0209501101530003" + "3724",
			[]string{"00=006141411234567890", "02=09501101530003", "37=24"}},
		{"GS1 DataMatrix without symbology identifier", "0109501101530003" + "21S1" + gs + "17260520",
			[]string{"01=09501101530003", "21=S1", "17=260520"}},
		{"keyboard wedge: no identifier, no GS needed", "01095011015300031726052010L1",
			[]string{"01=09501101530003", "17=260520", "10=L1"}},
		{"SSCC alone", "00006141411234567890", []string{"00=006141411234567890"}},
		{"GTIN alone as an element string", "0109501101530003", []string{"01=09501101530003"}},
		{"EAN-13", "9501101530003", []string{"01=09501101530003"}},
		{"EAN-13 with symbology identifier", "]E09501101530003", []string{"01=09501101530003"}},
		{"EAN-8", "96385074", []string{"01=00000096385074"}},
		{"UPC-A", "036000291452", []string{"01=00036000291452"}},
		{"GTIN-14", "99501101530006", []string{"01=99501101530006"}},
		{"surrounding whitespace", "  9501101530003\r\n", []string{"01=09501101530003"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gs1.Parse(tt.in, scanNow)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pairs(got), tt.want) {
				t.Errorf("got %v\nwant %v", pairs(got), tt.want)
			}
		})
	}
}

func TestParseNotGS1(t *testing.T) {
	for _, in := range []string{
		"", "   ", "\r\n",
		"LOT-2025-001",     // an internal lot code
		"20251120001",      // a numeric internal code
		"9501101530004",    // 13 digits, wrong check digit: not a GTIN
		"1234567890123456", // 16 digits not starting with a GS1 key
		"0112345678901234", // starts with 01, but the GTIN's check digit is wrong
		"A1(01)",           // brackets inside text
		"https://example.com/about",
		"https://mp.weixin.qq.com/s/AbC",
		"]Q1hello",
		"WX:123456",
		"00000000", "0000000000000", // check digit 0, but no GTIN
	} {
		if _, err := gs1.Parse(in, scanNow); !errors.Is(err, gs1.ErrNotGS1) {
			t.Errorf("Parse(%q) error = %v, want ErrNotGS1", in, err)
		}
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"positions count from the start of the scan", "  ]C10109501101530003" + "10ABC" + "21" + "1234567890123456",
			"gs1: AI (10) at position 43: value must be at most 20 characters, got 21; is a GS separator missing?"},
		{"bad check digit with a GS1 identifier", "]d20109501101530008",
			"gs1: AI (01) at position 18: check digit is 8, should be 3"},
		{"EAN-13 identifier with a bad check digit", "]E09501101530004",
			"gs1: AI (01) at position 15: check digit is 4, should be 3"},
		{"broken Digital Link", "https://t.brand.cn/01/09501101530003/21/1/10/L1",
			"gs1: AI (10) at position 42: must come before (21): the qualifiers of (01) go in the order 22, 10, 21"},
		{"29 February 2100", "(11)000229(01)09501101530003",
			"gs1: AI (11) at position 8: day 29 is not valid in 2100-02"},
	}
	now := map[string]time.Time{"29 February 2100": time.Date(2060, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, ok := now[tt.name]
			if !ok {
				n = scanNow
			}
			_, err := gs1.Parse(tt.in, n)
			if err == nil || err.Error() != tt.want {
				t.Fatalf("error\n got %v\nwant %s", err, tt.want)
			}
			var e *gs1.Error
			if !errors.As(err, &e) || errors.Is(err, gs1.ErrNotGS1) {
				t.Errorf("error is %T", err)
			}
		})
	}
	// Without a date to judge by, the form check lets 29 February of year 00 through.
	if _, err := gs1.ParseElementString("(11)000229"); err != nil {
		t.Errorf("ParseElementString: %v", err)
	}
}

// FuzzParse feeds Parse arbitrary scans. It must never panic, and what it accepts must survive
// being written back out and read again.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"(01)09501101530003(17)250101(10)ABC",
		"(01) 09501101530003 (10) ABC",
		`(10)A\(10)B(21)(1)`,
		"]C10109501101530003" + "10ABC" + gs + "21XYZ",
		"]d2" + gs + "0109501101530003" + "17250100" + "10L1",
		"]Q30109501101530003" + "3103001250",
		"]e00109501101530003",
		"00006141411234567890" + "0209520123456788" + "3724" + gs + "10L2025-11",
		"01095011015300031725010110ABC",
		"0109501101530003" + "10ABC21123456789012345678",
		"(7003)2512311230(7007)251101251103(8008)25112008(8006)095011015300030102",
		"(8003)09520123456788ABC(3932)1562599(423)156410",
		"https://id.example.com/01/09501101530003/10/ABC%2F1/21/12345?17=251231&3103=000500",
		"https://brand.example/products/gtin/9501101530003/lot/L1?exp=251200&linkType=gs1%3Apip#x",
		"https://id.gs1.org/414/9520123456788/254/32a%2Fb",
		"https://id.gs1.org/00/952012345678912345?02=09520123456788&37=25&10=ABC123",
		"https://a/01/09501101530003/21/1/10/A",
		"HTTPS://A/01/9501101530003?99=A+B&&x",
		"https://a/01/0950110153000%",
		"9501101530003", "]E09501101530003", "96385074", "036000291452",
		"LOT-2025-001", "", "(", "(01", "(01)", "]", "]C1", "\x1d", "%", "https://",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		e, err := gs1.Parse(s, scanNow)
		if err != nil {
			var ge *gs1.Error
			if !errors.Is(err, gs1.ErrNotGS1) && !errors.As(err, &ge) {
				t.Fatalf("Parse(%q): error of type %T: %v", s, err, err)
			}
			return
		}
		if len(e) == 0 {
			t.Fatalf("Parse(%q) gave no elements and no error", s)
		}
		for _, style := range []gs1.Style{gs1.Raw, gs1.Bracketed} {
			out, err := gs1.BuildElementString(e, style)
			if err != nil {
				t.Fatalf("Parse(%q) = %v, which does not build: %v", s, e, err)
			}
			if style == gs1.Raw {
				out = "]d2" + out // as a GS1 DataMatrix scanner sends it
			}
			back, err := gs1.Parse(out, scanNow)
			if err != nil || !slices.Equal(pairs(back), pairs(e)) {
				t.Fatalf("Parse(%q) = %v; built as %q it reads %v, %v", s, pairs(e), out, pairs(back), err)
			}
		}
		_, _ = gs1.BuildDigitalLink("https://id.example.com", e)
		for _, el := range e {
			_, _ = e.DateAt(el.AI, scanNow)
			_, _, _ = e.Decimal(el.AI)
		}
	})
}
