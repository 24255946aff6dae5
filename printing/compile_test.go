package printing

import (
	"fmt"
	"testing"
)

// TestCompileBoxRotation: an element turned about its top-left corner is checked where it lands,
// and the member blamed is the one that carries it off the label.
func TestCompileBoxRotation(t *testing.T) {
	for _, tc := range []struct {
		rotate     int
		x, y, w, h float64
		want       string // "" when it fits
	}{
		{0, 10, 10, 40, 20, ""},
		{0, 10, 10, 60, 20, "w"},
		{0, 10, 25, 40, 20, "h"},
		{90, 30, 5, 30, 20, ""},   // lands on x 10..30, y 5..35
		{90, 15, 5, 30, 20, "h"},  // x 15-20 < 0
		{90, 30, 15, 30, 20, "w"}, // y 15+30 > 40
		{180, 50, 30, 40, 20, ""}, // x 10..50, y 10..30
		{180, 30, 30, 40, 20, "w"},
		{180, 50, 10, 40, 20, "h"},
		{270, 10, 35, 30, 20, ""}, // x 10..30, y 5..35
		{270, 50, 35, 30, 20, "h"},
		{270, 10, 20, 30, 20, "w"},
	} {
		t.Run(fmt.Sprintf("%d_%v_%v", tc.rotate, tc.x, tc.y), func(t *testing.T) {
			cc := &compileCtx{def: &Definition{Page: Page{Width: 60, Height: 40}}}
			cc.box(0, &Element{ID: "e", Type: ElText, X: tc.x, Y: tc.y, W: tc.w, H: tc.h, Rotate: tc.rotate})
			var got string
			if len(cc.fe) > 0 {
				got = cc.fe[0].Path
			}
			want := ""
			if tc.want != "" {
				want = "/elements/0/" + tc.want
			}
			if got != want || len(cc.fe) > 1 {
				t.Fatalf("errors %v, want %q", cc.fe, want)
			}
		})
	}
}

// TestCompileGS1Value: static parts of GS1 element strings are checked, parts with
// placeholders left to print time.
func TestCompileGS1Value(t *testing.T) {
	for _, tc := range []struct {
		value string
		code  string
	}{
		{"(01)09501101530003(10){{lot_no}}(17){{expiry|date:YYMMDD}}", ""},
		{"(01){{gtin}}(21){{code.serial}}", ""},
		{"{{gs1_data}}", ""},
		{"(01)09501101530004", "print_gs1"}, // check digit
		{"(99)X(10)A", ""},
		{"(02", "print_gs1"},
		{"01)0950", "print_gs1"},
		{"(0)123", "invalid_ai"},
		{"(10)", "print_gs1"},
		{"(17)261399", "print_gs1"}, // month 13
	} {
		cc := &compileCtx{def: &Definition{}}
		cc.gs1Value("/v", tc.value)
		var got string
		if len(cc.fe) > 0 {
			got = cc.fe[0].Code
		}
		if got != tc.code {
			t.Errorf("%s: %v, want %q", tc.value, cc.fe, tc.code)
		}
	}
}
