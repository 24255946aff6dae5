package gs1_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"tracecraft/gs1"
)

const gs = gs1.GS

// pairs renders elements as "AI=value" for comparison, leaving titles aside.
func pairs(e gs1.Elements) []string {
	out := make([]string, len(e))
	for i, el := range e {
		out[i] = el.AI + "=" + el.Value
	}
	return out
}

func els(kv ...string) gs1.Elements {
	var out gs1.Elements
	for _, p := range kv {
		ai, v, _ := strings.Cut(p, "=")
		out = append(out, gs1.Element{AI: ai, Value: v})
	}
	return out
}

func TestParseElementString(t *testing.T) {
	tests := []struct {
		name, in string
		want     []string
	}{
		{"bracketed", "(01)09501101530003(17)250101(10)ABC",
			[]string{"01=09501101530003", "17=250101", "10=ABC"}},
		{"bracketed as printed under the barcode, with spaces", "(01) 09501101530003 (17) 250101 (10) ABC",
			[]string{"01=09501101530003", "17=250101", "10=ABC"}},
		{"raw with GS after the lot", "0109501101530003" + "10ABC" + gs + "21XYZ123",
			[]string{"01=09501101530003", "10=ABC", "21=XYZ123"}},
		{"raw needing no GS: predefined lengths, variable last", "01095011015300031725123110ABC",
			[]string{"01=09501101530003", "17=251231", "10=ABC"}},
		{"raw with a GS after a predefined-length value too", "0109501101530003" + gs + "17251231" + gs + "10ABC",
			[]string{"01=09501101530003", "17=251231", "10=ABC"}},
		{"raw ending in GS", "0109501101530003" + "10ABC" + gs,
			[]string{"01=09501101530003", "10=ABC"}},
		{"GS1-128 symbology identifier", "]C10109501101530003" + "10L1" + gs + "17251231",
			[]string{"01=09501101530003", "10=L1", "17=251231"}},
		{"GS1 DataMatrix identifier and leading FNC1", "]d2" + gs + "0109501101530003" + "21S1",
			[]string{"01=09501101530003", "21=S1"}},
		{"GS1 QR identifier", "]Q30109501101530003" + "10L1",
			[]string{"01=09501101530003", "10=L1"}},
		{"GS1 DataBar identifier", "]e00109501101530003" + "3103001250",
			[]string{"01=09501101530003", "3103=001250"}},
		{"keyboard wedge CR LF", "0109501101530003" + "10L1\r\n",
			[]string{"01=09501101530003", "10=L1"}},
		{"pallet label", "00006141411234567890" + "0209520123456788" + "3724" + gs + "10L2025-11" + gs + "11251120" + "17260520" + "3102012500",
			[]string{"00=006141411234567890", "02=09520123456788", "37=24", "10=L2025-11", "11=251120", "17=260520", "3102=012500"}},
		{"variable measure meat", "(01)99501101530006(3103)001250(3922)2599(10)B1",
			[]string{"01=99501101530006", "3103=001250", "3922=2599", "10=B1"}},
		{"fish: catch area, harvest date range, origin", "(01)09520123456788(7005)27.IV.a(7007)251101251103(422)156",
			[]string{"01=09520123456788", "7005=27.IV.a", "7007=251101251103", "422=156"}},
		{"expiry time, production time, ITIP", "(7003)2512311230(8008)25112008(8006)095011015300030102",
			[]string{"7003=2512311230", "8008=25112008", "8006=095011015300030102"}},
		{"GLNs and order number", "(410)9520123456788(414)9520123456788(400)PO-42",
			[]string{"410=9520123456788", "414=9520123456788", "400=PO-42"}},
		{"day 00 is the end of the month", "(17)250200", []string{"17=250200"}},
		{"escaped bracketed AI inside a value", `(10)A\(10)B(21)1`, []string{"10=A(10)B", "21=1"}},
		{"brackets that are no AI stay in the value", "(10)A(B)(21)(1)", []string{"10=A(B)", "21=(1)"}},
		{"same AI twice with the same value is kept once", "(10)ABC(10)ABC", []string{"10=ABC"}},
		{"internal AIs", "(91)ANY-thing/1(99)X", []string{"91=ANY-thing/1", "99=X"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := gs1.ParseElementString(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(pairs(got), tt.want) {
				t.Errorf("got %v\nwant %v", pairs(got), tt.want)
			}
		})
	}
}

func TestParseElementStringErrors(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"bad check digit", "(01)09501101530008",
			"gs1: AI (01) at position 17: check digit is 8, should be 3"},
		{"bad check digit of a GLN", "(414)9520123456789",
			"gs1: AI (414) at position 17: check digit is 9, should be 8"},
		{"letter in a numeric AI", "(01)0950110153000A",
			"gs1: AI (01) at position 17: character 'A' is not a digit"},
		{"letter in a date", "(17)25O101",
			"gs1: AI (17) at position 6: character 'O' is not a digit"},
		{"lot longer than 20", "(10)ABCDEFGHIJKLMNOPQRSTU",
			"gs1: AI (10) at position 24: value must be at most 20 characters, got 21"},
		{"unknown AI, bracketed", "(01)09501101530003(89)X",
			"gs1: AI (89) at position 19: unknown AI"},
		{"unknown AI, raw", "0109501101530003" + "89ABC",
			"gs1: AI (89) at position 16: unknown AI"},
		{"unknown four-digit AI, raw", "0109501101530003" + "7012X",
			"gs1: AI (7012) at position 16: unknown AI"},
		{"missing GS makes the lot too long", "0109501101530003" + "10ABC" + "21" + "1234567890123456",
			"gs1: AI (10) at position 38: value must be at most 20 characters, got 21; is a GS separator missing?"},
		{"missing GS after a fixed-length AI that needs one", "0109501101530003" + "70032512311230" + "10ABC",
			"gs1: AI (7003) at position 30: value must be 10 digits, got 15; is a GS separator missing?"},
		{"GTIN cut short", "01095011015300",
			"gs1: AI (01) at position 14: value must be 14 digits, got 12"},
		{"month 13", "(11)251301",
			"gs1: AI (11) at position 6: month 13 is not valid"},
		{"31 April", "(17)250431",
			"gs1: AI (17) at position 8: day 31 is not valid in month 04"},
		{"day 00 where the AI wants a real day", "(7006)250400",
			"gs1: AI (7006) at position 10: day 00 is not valid in month 04"},
		{"hour 24", "(7003)2512312400",
			"gs1: AI (7003) at position 12: hour 24 is not valid"},
		{"space inside a lot", "(10)AB C",
			"gs1: AI (10) at position 6: character ' ' is not allowed (GS1 character set 82)"},
		{"Chinese in a lot", "(10)批次1",
			"gs1: AI (10) at position 4: character '批' is not allowed (GS1 character set 82)"},
		{"same AI with two values", "(10)A(10)B",
			`gs1: AI (10) at position 6: appears twice, with "A" and "B"`},
		{"empty value", "(10)(21)X",
			"gs1: AI (10) at position 4: value is empty"},
		{"GS right after an AI", "10" + gs + "21X",
			"gs1: AI (10) at position 2: value is empty"},
		{"piece 3 of 2", "(8006)095011015300030302",
			"gs1: AI (8006) at position 20: piece 03 of 02 is not valid"},
		{"GRAI without its leading zero", "(8003)19520123456788",
			"gs1: AI (8003) at position 6: must be 0"},
		{"country list not in threes", "(423)1560",
			"gs1: AI (423) at position 8: must be a list of three-digit country codes"},
		{"not an AI in brackets", "(1)X",
			"gs1: at position 0: expected an AI of 2 to 4 digits in brackets"},
		{"text before the first AI", "X(01)09501101530003",
			`gs1: at position 0: expected an AI but found 'X'`},
		{"symbology without GS1 data", "]E09501101530003",
			"gs1: at position 0: symbology identifier ]E0 does not carry GS1 element strings"},
		{"nothing", " \r\n",
			"gs1: at position 3: no element strings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.ParseElementString(tt.in)
			if err == nil {
				t.Fatal("no error")
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got %s\nwant %s", err, tt.want)
			}
			var e *gs1.Error
			if !errors.As(err, &e) {
				t.Errorf("error is %T, want *gs1.Error", err)
			}
		})
	}
}

func TestParsedElementsCarryTitles(t *testing.T) {
	e, err := gs1.ParseElementString("(01)09501101530003(10)ABC")
	if err != nil {
		t.Fatal(err)
	}
	if e[1].Title.ZH != "批号" || e[1].Title.In("en") != "Batch or lot number" || e[0].Title.In("zh-CN") != "全球贸易项目代码" {
		t.Errorf("titles: %+v", e)
	}
	if e.Get("10") != "ABC" || !e.Has("01") || e.Has("21") || e.Get("21") != "" {
		t.Errorf("Get/Has on %v", e)
	}
}

func TestBuildElementString(t *testing.T) {
	tests := []struct {
		name       string
		in         gs1.Elements
		raw, human string
	}{
		{"GS after a variable-length lot that is not last",
			els("01=09501101530003", "10=ABC", "17=251231"),
			"0109501101530003" + "10ABC" + gs + "17251231",
			"(01)09501101530003(10)ABC(17)251231"},
		{"no GS when the variable-length value is last",
			els("01=09501101530003", "17=251231", "10=ABC"),
			"01095011015300031725123110ABC",
			"(01)09501101530003(17)251231(10)ABC"},
		{"GS between lot and serial only",
			els("01=09501101530003", "10=L1", "21=S1"),
			"0109501101530003" + "10L1" + gs + "21S1",
			"(01)09501101530003(10)L1(21)S1"},
		{"pallet: GS after the count",
			els("00=006141411234567890", "02=09520123456788", "37=24", "3102=012500"),
			"00006141411234567890" + "0209520123456788" + "3724" + gs + "3102012500",
			"(00)006141411234567890(02)09520123456788(37)24(3102)012500"},
		{"GS after a fixed-length AI outside the predefined table",
			els("7003=2512311230", "10=L1"),
			"70032512311230" + gs + "10L1",
			"(7003)2512311230(10)L1"},
		{"order is kept",
			els("10=ABC", "01=09501101530003"),
			"10ABC" + gs + "0109501101530003",
			"(10)ABC(01)09501101530003"},
		{"a bracketed AI inside a value is escaped",
			els("10=A(10)B", "21=(x)"),
			"10A(10)B" + gs + "21(x)",
			`(10)A\(10)B(21)(x)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw, err := gs1.BuildElementString(tt.in, gs1.Raw)
			if err != nil || raw != tt.raw {
				t.Errorf("raw = %q, %v\n want %q", raw, err, tt.raw)
			}
			human, err := gs1.BuildElementString(tt.in, gs1.Bracketed)
			if err != nil || human != tt.human {
				t.Errorf("bracketed = %q, %v\n want %q", human, err, tt.human)
			}
			for _, s := range []string{raw, human} {
				back, err := gs1.ParseElementString(s)
				if err != nil || !slices.Equal(pairs(back), pairs(tt.in)) {
					t.Errorf("parsing %q back gives %v, %v", s, pairs(back), err)
				}
			}
		})
	}
}

func TestBuildElementStringErrors(t *testing.T) {
	tests := []struct {
		name string
		in   gs1.Elements
		want string
	}{
		{"unknown AI", els("89=X"), "gs1: AI (89): unknown AI"},
		{"bad check digit", els("01=09501101530008"), "gs1: AI (01): check digit is 8, should be 3"},
		{"lot too long", els("10=ABCDEFGHIJKLMNOPQRSTU"), "gs1: AI (10): value must be at most 20 characters, got 21"},
		{"twice", els("10=A", "10=A"), "gs1: AI (10): appears twice"},
		{"nothing", nil, "gs1: no elements to build"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := gs1.BuildElementString(tt.in, gs1.Raw)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error = %v, want %s", err, tt.want)
			}
		})
	}
	if _, err := gs1.BuildElementString(els("10=A"), gs1.Style(9)); err == nil {
		t.Error("unknown style accepted")
	}
}

func TestDefinitions(t *testing.T) {
	// The AIs the forms and printing engines rely on.
	for _, ai := range strings.Fields(`00 01 02 10 11 13 15 16 17 21 22 30 37 240 241 250 251
		3100 3103 3105 3200 3205 3300 3305 3920 3929 3930 3939 400 410 411 412 413 414 415 416 417
		422 423 424 425 426 7003 7007 7023 8003 8004 8006 8008 8020 90 91 99`) {
		d, ok := gs1.Lookup(ai)
		if !ok {
			t.Errorf("AI %s is missing", ai)
			continue
		}
		if d.Title.ZH == "" || d.Title.EN == "" || d.DataTitle == "" || d.Format == "" {
			t.Errorf("AI %s lacks a title or format: %+v", ai, d)
		}
		// GS1 General Specifications: AIs starting 00–04, 11–20, 31–36 and 41 have a
		// predefined length and need no FNC1.
		predefined := false
		for _, p := range strings.Fields("00 01 02 03 04 11 12 13 14 15 16 17 18 19 20 31 32 33 34 35 36 41") {
			predefined = predefined || strings.HasPrefix(ai, p)
		}
		if d.FNC1 == predefined {
			t.Errorf("AI %s: FNC1 = %v", ai, d.FNC1)
		}
	}
	d, _ := gs1.Lookup("3103")
	if d.Decimals != 3 || d.Unit != "kg" || !d.Numeric || d.MinLength != 6 || d.MaxLength != 6 {
		t.Errorf("3103: %+v", d)
	}
	d, _ = gs1.Lookup("10")
	if d.Numeric || d.MaxLength != 20 || d.Decimals != -1 || d.Format != "X..20" {
		t.Errorf("10: %+v", d)
	}
	d, _ = gs1.Lookup("7007")
	if d.Format != "N6 [N6]" || d.MinLength != 6 || d.MaxLength != 12 || !d.Date {
		t.Errorf("7007: %+v", d)
	}
	d, _ = gs1.Lookup("01")
	if !d.PrimaryKey || !d.CheckDigit || !slices.Equal(d.Qualifiers[0], []string{"22", "10", "21"}) {
		t.Errorf("01: %+v", d)
	}
	d.Qualifiers[0][0] = "99"
	if d, _ := gs1.Lookup("01"); d.Qualifiers[0][0] != "22" {
		t.Error("changing a looked-up definition changes the table")
	}
	if _, ok := gs1.Lookup("89"); ok {
		t.Error("89 is known")
	}
	all := gs1.Definitions()
	if !slices.IsSortedFunc(all, func(a, b gs1.Definition) int { return strings.Compare(a.AI, b.AI) }) {
		t.Error("Definitions not in AI order")
	}
}
