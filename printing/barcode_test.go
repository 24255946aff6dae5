package printing

import (
	"fmt"
	"strings"
	"testing"
)

// TestSymbolPathCoversModules paints the rectangles of each symbol's path and checks they
// cover exactly its dark modules, each once.
func TestSymbolPathCoversModules(t *testing.T) {
	for _, c := range []struct{ typ, value string }{
		{ElQR, "https://t.example.com/01/06901234567892/10/L2603A/21/K0000001X?17=260405"},
		{ElQR, "A"},
		{ElDataMatrix, "(01)06901234567892(10)L2603A(17)260405(21)K0000001X"},
		{ElGS1128, "(00)069012345000000011"},
		{ElCode128, "SN-12345"},
		{ElEAN13, "690123456789"},
	} {
		sym, err := EncodeSymbol(c.typ, c.value)
		if err != nil {
			t.Fatal(err)
		}
		var b strings.Builder
		sym.pathOps(&b)
		painted := make([]int, sym.Rows*sym.Cols)
		rects := 0
		for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
			var x, y, w, h int
			if _, err := fmt.Sscanf(line, "%d %d %d %d re", &x, &y, &w, &h); err != nil {
				t.Fatalf("%s: op %q: %v", c.typ, line, err)
			}
			rects++
			for r := y; r < y+h; r++ {
				for col := x; col < x+w; col++ {
					painted[r*sym.Cols+col]++
				}
			}
		}
		dark := 0
		for r := range sym.Rows {
			for col := range sym.Cols {
				want := 0
				if sym.Dark(r, col) {
					want, dark = 1, dark+1
				}
				if painted[r*sym.Cols+col] != want {
					t.Fatalf("%s %q: module (%d, %d) painted %d times, dark %v", c.typ, c.value, r, col, painted[r*sym.Cols+col], sym.Dark(r, col))
				}
			}
		}
		if rects >= dark && dark > 1 {
			t.Errorf("%s: %d rectangles for %d dark modules: runs not merged", c.typ, rects, dark)
		}
		if sym.Linear() != (c.typ != ElQR && c.typ != ElDataMatrix) {
			t.Errorf("%s: Linear() = %v", c.typ, sym.Linear())
		}
	}
}
