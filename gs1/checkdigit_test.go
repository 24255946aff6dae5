package gs1_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"tracecraft/gs1"
)

// refCheckDigit is an independent GS1 check digit, computed the way the GS1 General
// Specifications tabulate it: the data digits right-aligned in the 17 data positions of an
// 18-digit field, weighted 3,1,3,… from the left, the sum rounded up to a multiple of ten.
func refCheckDigit(data string) byte {
	padded := strings.Repeat("0", 17-len(data)) + data
	sum := 0
	for i, c := range padded {
		w := 1
		if i%2 == 0 {
			w = 3
		}
		sum += int(c-'0') * w
	}
	return byte('0' + (10-sum%10)%10)
}

func TestCheckDigitPublishedExamples(t *testing.T) {
	tests := []struct {
		data string
		want byte
		src  string
	}{
		{"950110153000", '3', "GTIN-13 9501101530003, the GS1 example GTIN"},
		{"0950110153000", '3', "the same GTIN as GTIN-14, 09501101530003"},
		{"952012345678", '8', "GTIN-13 9520123456788 of the Digital Link standard"},
		{"0952012345678", '8', "GTIN-14 09520123456788 of the Digital Link standard"},
		{"629104150021", '3', "GTIN-13 6291041500213"},
		{"03600029145", '2', "UPC-A (GTIN-12) 036000291452"},
		{"9638507", '4', "EAN-8 (GTIN-8) 96385074"},
		{"1231231231233", '3', "GTIN-14 12312312312333 of the GS1 syntax engine tests"},
		{"1231231231232", '6', "GTIN-14 12312312312326 of the GS1 syntax engine tests"},
		{"00614141123456789", '0', "SSCC 006141411234567890"},
		{"95201234567891234", '5', "SSCC 952012345678912345 of the Digital Link standard"},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			if ref := refCheckDigit(tt.data); ref != tt.want {
				t.Fatalf("reference computes %c for %s, the published digit is %c", ref, tt.data, tt.want)
			}
			got, err := gs1.CheckDigit(tt.data)
			if err != nil || got != tt.want {
				t.Fatalf("CheckDigit(%q) = %c, %v; want %c", tt.data, got, err, tt.want)
			}
		})
	}
}

// The 14-digit form of 9501101530003 is 09501101530003: a leading zero does not change the
// check digit, so 09501101530008 is not a GTIN.
func TestCheckDigitOfPaddedFormIsUnchanged(t *testing.T) {
	if gs1.ValidGTIN("09501101530008") {
		t.Error("09501101530008 passes, but its check digit should be 3")
	}
	if !gs1.ValidGTIN("09501101530003") {
		t.Error("09501101530003 fails")
	}
}

func TestCheckDigitAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		n := 1 + r.IntN(17)
		b := make([]byte, n)
		for i := range b {
			b[i] = byte('0' + r.IntN(10))
		}
		got, err := gs1.CheckDigit(string(b))
		if err != nil || got != refCheckDigit(string(b)) {
			t.Fatalf("CheckDigit(%s) = %c, %v; reference says %c", b, got, err, refCheckDigit(string(b)))
		}
	}
}

func TestCheckDigitErrors(t *testing.T) {
	tests := map[string]string{
		"":       "gs1: at position 0: no digits to compute a check digit of",
		"95011a": "gs1: at position 5: character 'a' is not a digit",
	}
	for in, want := range tests {
		_, err := gs1.CheckDigit(in)
		if err == nil || err.Error() != want {
			t.Errorf("CheckDigit(%q) error = %v, want %s", in, err, want)
		}
	}
}

func TestValidGTIN(t *testing.T) {
	tests := map[string]bool{
		"96385074":         true, // GTIN-8
		"036000291452":     true, // GTIN-12
		"9501101530003":    true, // GTIN-13
		"09501101530003":   true, // GTIN-14
		"12312312312333":   true,
		"9501101530004":    false, // check digit
		"950110153000":     false, // 12 digits, check digit wrong
		"0009501101530003": false, // 16 digits
		"9638507":          false, // 7 digits
		"950110153000O":    false, // letter O
		"":                 false,
		"9 501101 530003":  false, // spaces: NormalizeGTIN takes them, ValidGTIN does not
	}
	for in, want := range tests {
		if got := gs1.ValidGTIN(in); got != want {
			t.Errorf("ValidGTIN(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestNormalizeGTIN(t *testing.T) {
	tests := []struct{ in, want, err string }{
		{in: "9501101530003", want: "09501101530003"},
		{in: "09501101530003", want: "09501101530003"},
		{in: "96385074", want: "00000096385074"},
		{in: "036000291452", want: "00036000291452"},
		{in: "9 501101 530003", want: "09501101530003"},
		{in: "9501101530004", err: "gs1: AI (01): check digit is 4, should be 3"},
		{in: "950110153", err: "gs1: AI (01): a GTIN has 8, 12, 13 or 14 digits, got 9"},
		{in: "95011O1530003", err: "gs1: AI (01): character 'O' is not a digit"},
	}
	for _, tt := range tests {
		got, err := gs1.NormalizeGTIN(tt.in)
		if tt.err != "" {
			var e *gs1.Error
			if !errors.As(err, &e) || err.Error() != tt.err {
				t.Errorf("NormalizeGTIN(%q) error = %v, want %s", tt.in, err, tt.err)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("NormalizeGTIN(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestCheckDigitAsASCII(t *testing.T) {
	d, _ := gs1.CheckDigit("950110153000")
	if s := fmt.Sprintf("950110153000%c", d); s != "9501101530003" {
		t.Errorf("appending the digit gives %s", s)
	}
}
