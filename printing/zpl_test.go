package printing

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/color"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"

	"tracecraft/engine"
)

// Golden files of the label-printer writers: printing/testdata/golden/<case>.zpl and .tspl,
// compared byte for byte. `go test ./printing -run Golden -update` writes them anew; review
// the diff.

func init() {
	// Other golden tests of the package may define -update too: one flag serves all.
	if flag.Lookup("update") == nil {
		flag.Bool("update", false, "write golden files anew")
	}
}

func updateGolden() bool {
	f := flag.Lookup("update")
	return f != nil && f.Value.String() == "true"
}

// goldenPage is the record every golden label prints.
func goldenPage() *PageData {
	return &PageData{
		Record: map[string]any{
			"name":    "冷鲜猪肉 五花肉 500g",
			"name_en": "Pork belly ^~_ \"cut\" 500g",
			"lot_no":  "L20261205-01",
			"gtin":    "09501101530003",
			"expiry":  "2026-12-31",
			"qty":     12.0,
			"lines": []map[string]any{
				{"item": "猪肉", "qty": 10.0},
				{"item": "包装盒", "qty": 2.0},
			},
		},
		Code: &ItemCode{Serial: "7KQ2M9XB4C", GTIN: "09501101530003", Lot: "L20261205-01", Expiry: "2026-12-31",
			URL: "https://t.example.cn/01/09501101530003/10/L20261205-01/21/7KQ2M9XB4C?17=261231"},
		ID:  "r1",
		Now: time.Date(2026, 12, 5, 8, 30, 0, 0, time.UTC),
	}
}

// goldenCases are the templates of the golden files.
func goldenCases() map[string]*Definition {
	return map[string]*Definition{
		// A 60×40 mm unit label: Latin text, the item's QR, a frame and a rule.
		"text_qr": {Key: "unit", Kind: KindLabel, Page: Page{Width: 60, Height: 40}, Elements: []Element{
			{ID: "frame", Type: ElBox, X: 1, Y: 1, W: 58, H: 38, Stroke: 0.3},
			{ID: "title", Type: ElText, X: 3, Y: 3, W: 32, H: 6, Text: "{{name_en}}", Font: Font{Size: 9, Bold: true}},
			{ID: "lot", Type: ElText, X: 3, Y: 10, W: 32, H: 5, Text: "LOT {{lot_no}}", Font: Font{Size: 8}},
			{ID: "exp", Type: ElText, X: 3, Y: 15, W: 32, H: 5, Text: "EXP {{expiry|date:YYYY-MM-DD}}", Font: Font{Size: 8, Align: "right"}},
			{ID: "rule", Type: ElLine, X: 3, Y: 21, W: 32, H: 0},
			{ID: "qr", Type: ElQR, X: 37, Y: 3, W: 20, H: 20, Value: "{{code.url}}"},
			{ID: "serial", Type: ElText, X: 37, Y: 24, W: 20, H: 4, Text: "{{code.serial}}", Font: Font{Size: 7, Align: "center"}},
		}},
		// A 100×70 mm case label: GS1-128 with FNC1, GS1 DataMatrix, EAN-13, a filled bar.
		"gs1_case": {Key: "case", Kind: KindLabel, Page: Page{Width: 100, Height: 70}, Elements: []Element{
			{ID: "band", Type: ElBox, X: 0, Y: 0, W: 100, H: 6, Fill: true},
			{ID: "gtin", Type: ElText, X: 4, Y: 8, W: 60, H: 6, Text: "GTIN {{gtin}}", Font: Font{Size: 10}},
			{ID: "gs1", Type: ElGS1128, X: 4, Y: 38, W: 92, H: 28, HumanReadable: true,
				Value: "(02){{gtin}}(17){{expiry|date:YYMMDD}}(10){{lot_no}}(37){{qty}}"},
			{ID: "dm", Type: ElDataMatrix, X: 74, Y: 8, W: 22, H: 22, Value: "(01){{gtin}}(10){{lot_no}}(17){{expiry|date:YYMMDD}}"},
			{ID: "ean", Type: ElEAN13, X: 4, Y: 16, W: 40, H: 18, Value: "950110153000", HumanReadable: true},
			{ID: "c128", Type: ElCode128, X: 46, Y: 16, W: 26, H: 10, Value: "AB>12^~"},
		}},
		// Chinese text as bitmaps at 300 dpi: bold centred, wrapped, and a table.
		"chinese": {Key: "cn", Kind: KindLabel, Page: Page{Width: 60, Height: 40, DPI: 300}, Elements: []Element{
			{ID: "name", Type: ElText, X: 2, Y: 2, W: 56, H: 7, Text: "{{name}}", Font: Font{Size: 12, Bold: true, Align: "center"}},
			{ID: "note", Type: ElText, X: 2, Y: 10, W: 56, H: 10, Text: "贮存条件：0–4℃冷藏，开封后请尽快食用。Lot {{lot_no}}", Font: Font{Size: 8, Wrap: true}},
			{ID: "tbl", Type: ElTable, X: 2, Y: 21, W: 56, H: 17, Table: &Table{Source: "lines", RowHeight: 5, Border: true, Columns: []Column{
				{Header: engine.Text{ZH: "品名", EN: "Item"}, Value: "{{row.item}}"},
				{Header: engine.Text{ZH: "数量", EN: "Qty"}, Value: "{{row.qty|number:1}}", Width: 16, Align: "right"},
			}}},
		}},
		// Turned elements: text at 90°, Code 128 at 270°, Chinese at 180°, a diagonal.
		"rotated": {Key: "rot", Kind: KindLabel, Page: Page{Width: 50, Height: 50}, Elements: []Element{
			{ID: "side", Type: ElText, X: 48, Y: 2, W: 46, H: 6, Rotate: 90, Text: "LOT {{lot_no}}", Font: Font{Size: 9, Align: "center"}},
			{ID: "code", Type: ElCode128, X: 2, Y: 48, W: 40, H: 10, Rotate: 270, Value: "{{lot_no}}"},
			{ID: "cn", Type: ElText, X: 40, Y: 46, W: 24, H: 6, Rotate: 180, Text: "冷链", Font: Font{Size: 10}},
			{ID: "diag", Type: ElLine, X: 16, Y: 16, W: 14, H: 10, Stroke: 0.5},
		}},
	}
}

func TestGoldenLabels(t *testing.T) {
	for name, def := range goldenCases() {
		for _, lang := range []string{LangZPL, LangTSPL} {
			t.Run(name+"."+lang, func(t *testing.T) {
				var buf bytes.Buffer
				n, err := WriteLabels(context.Background(), &buf, lang, def, pageSlice([]*PageData{goldenPage()}), LabelOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if n != 1 {
					t.Fatalf("wrote %d labels, want 1", n)
				}
				compareGolden(t, filepath.Join("testdata", "golden", name+"."+lang), buf.Bytes())
			})
		}
	}
}

func compareGolden(t *testing.T, path string, got []byte) {
	t.Helper()
	if updateGolden() {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to write it)", err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < len(got) && i < len(want) && got[i] == want[i] {
			i++
		}
		t.Fatalf("%s differs at byte %d:\n got: %q\nwant: %q", path, i, excerpt(got, i), excerpt(want, i))
	}
}

func excerpt(b []byte, i int) string {
	from, to := max(i-40, 0), min(i+40, len(b))
	return string(b[from:to])
}

func TestZPLTextEscapes(t *testing.T) {
	def := &Definition{Page: Page{Width: 40, Height: 20}, Elements: []Element{
		{ID: "t", Type: ElText, X: 1, Y: 1, W: 38, H: 6, Text: `a^b~c_d\e`, Font: Font{Size: 8}},
	}}
	var buf bytes.Buffer
	if err := WriteZPL(context.Background(), &buf, def, []*PageData{{}}, LabelOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := `^FH_^FDa_5Eb_7Ec_5Fd\\e^FS`; !strings.Contains(buf.String(), want) {
		t.Fatalf("text field not escaped: want %s in\n%s", want, buf.String())
	}
	// The only ^ and ~ are the format's own commands.
	for _, line := range strings.Split(strings.TrimSpace(buf.String()), "\n") {
		if strings.Contains(line, "~") {
			t.Fatalf("a ~ reached the printer: %q", line)
		}
	}
}

func TestTSPLQuotes(t *testing.T) {
	def := &Definition{Page: Page{Width: 40, Height: 20}, Elements: []Element{
		{ID: "t", Type: ElText, X: 1, Y: 1, W: 38, H: 6, Text: `say "hi"`, Font: Font{Size: 8}},
	}}
	var buf bytes.Buffer
	if err := WriteTSPL(context.Background(), &buf, def, []*PageData{{}}, LabelOptions{}); err != nil {
		t.Fatal(err)
	}
	if want := `"say \["]hi\["]"` + "\r\n"; !strings.Contains(buf.String(), want) {
		t.Fatalf("want %q in\n%s", want, buf.String())
	}
}

// TestCode128Shortest checks the subsets chosen against hand counts: the digits of GS1's
// example go in subset C, the lot in B; FNC1 leads and ends a variable-length value not last.
func TestCode128Shortest(t *testing.T) {
	p, err := planGS1128("(01)09501101530003(17)261231(10)ABC123")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := zplCode128(p.Symbols), ">;>8"+"01095011015300031726123110"+">6ABC123"; got != want {
		t.Fatalf("^BC data %q, want %q", got, want)
	}
	if got, want := len(p.Symbols), 1+1+13+1+6; got != want {
		t.Fatalf("%d symbols, want %d", got, want)
	}
	if got, ok := tsplCode128(p.Symbols); !ok || got != "!105!102"+"01095011015300031726123110"+"!100ABC123" {
		t.Fatalf("128M data %q", got)
	}
	if p.Text != "(01)09501101530003(17)261231(10)ABC123" {
		t.Fatalf("text under the bars %q", p.Text)
	}
	p, err = planGS1128("(10)12345(21)ABC")
	if err != nil {
		t.Fatal(err)
	}
	got := zplCode128(p.Symbols)
	if len(p.Symbols) != 13 || strings.Count(got, ">8") != 2 {
		t.Fatalf("(10)12345(21)ABC: %d symbols %q, want 13 with 2 FNC1", len(p.Symbols), got)
	}
	if _, err := planCode128("ab\x01"); err == nil {
		t.Fatal("a control character was encoded")
	}
}

func TestZPLCompress(t *testing.T) {
	b := newMonoBitmap(64, 3) // 8 bytes a row
	for x := 0; x < 48; x++ {
		b.set(x, 0)
		b.set(x, 1)
	}
	// Row 0: FFFFFFFFFFFF0000 → 12 F then white; row 1 the same; row 2 white.
	if got, want := zplCompress(b), "RF,:,"; got != want {
		t.Fatalf("compressed %q, want %q", got, want)
	}
	var sb strings.Builder
	zplRun(&sb, 'A', 421)
	if got := sb.String(); got != "zAgGA" {
		t.Fatalf("run of 421: %q", got)
	}
}

func ExampleWriteZPL() {
	def := &Definition{Page: Page{Width: 50, Height: 25}, Elements: []Element{
		{ID: "lot", Type: ElText, X: 2, Y: 2, W: 46, H: 6, Text: "LOT {{lot_no}}", Font: Font{Size: 10}},
		{ID: "box", Type: ElBox, X: 1, Y: 1, W: 48, H: 23},
	}}
	var buf bytes.Buffer
	_ = WriteZPL(context.Background(), &buf, def, []*PageData{{Record: map[string]any{"lot_no": "A1"}}}, LabelOptions{})
	fmt.Print(buf.String())
	// Output:
	// ^XA
	// ^PW400
	// ^LL200
	// ^LH0,0
	// ^FO16,19^A0N,28,28^FB368,1,0,L^FH_^FDLOT A1^FS
	// ^FO8,8^GB384,184,2,B,0^FS
	// ^XZ
}

// zplDecompress reads ^GFA data in the alternative data compression scheme back into rows,
// as a printer does: the test's own reading of the Programming Guide, not the writer's code.
func zplDecompress(t *testing.T, data string, stride, rows int) []byte {
	t.Helper()
	out := make([]byte, 0, stride*rows)
	var row []byte // hex digits of the current row
	var prev []byte
	count := 0
	endRow := func(fill byte) {
		for len(row) < 2*stride {
			row = append(row, fill)
		}
		prev = append([]byte(nil), row...)
		for i := 0; i < stride; i++ {
			var v byte
			fmt.Sscanf(string(row[2*i:2*i+2]), "%02X", &v)
			out = append(out, v)
		}
		row = row[:0]
	}
	for i := 0; i < len(data); i++ {
		c := data[i]
		switch {
		case c >= 'G' && c <= 'Y':
			count += int(c-'G') + 1
		case c >= 'g' && c <= 'z':
			count += 20 * (int(c-'g') + 1)
		case c == ',':
			endRow('0')
		case c == '!':
			endRow('F')
		case c == ':':
			row = append(row[:0], prev...)
			endRow('0')
		default:
			n := max(count, 1)
			for k := 0; k < n; k++ {
				row = append(row, c)
			}
			count = 0
			if len(row) >= 2*stride {
				endRow('0')
			}
		}
	}
	if len(out) != stride*rows {
		t.Fatalf("decompressed %d bytes, want %d", len(out), stride*rows)
	}
	return out
}

// TestZPLCompressRoundTrip compresses rasterised Chinese and a mixed pattern and reads them
// back as a printer would.
func TestZPLCompressRoundTrip(t *testing.T) {
	tf := newTextFonts()
	b, err := tf.layoutText("冷链 猪肉 Lot 42", Font{Size: 14, Bold: true}, 203, 300, 60)
	if err != nil {
		t.Fatal(err)
	}
	text, err := tf.rasterText(b, 300, 60)
	if err != nil {
		t.Fatal(err)
	}
	if text.empty() {
		t.Fatal("nothing rasterised")
	}
	stripes := newMonoBitmap(1000, 4)
	for x := 0; x < 1000; x += 3 {
		stripes.set(x, 1)
	}
	for x := 0; x < 900; x++ {
		stripes.set(x, 3)
	}
	for _, bm := range []*monoBitmap{text, stripes, text.rotate(90), text.rotate(180), text.rotate(270)} {
		got := zplDecompress(t, zplCompress(bm), bm.Stride, bm.H)
		if !bytes.Equal(got, bm.Bits) {
			t.Fatalf("%dx%d bitmap does not read back", bm.W, bm.H)
		}
	}
}

// TestQRVersion checks the capacity table against an encoder: at each version's capacity the
// version, one byte more the next.
func TestQRVersion(t *testing.T) {
	for v := 1; v <= 40; v++ {
		for _, l := range []int{qrByteCapacity[v], qrByteCapacity[v] + 1} {
			if l > qrByteCapacity[40] {
				continue
			}
			data := strings.Repeat("a", l)
			q, err := qrcode.New(data, qrcode.Medium)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := qrVersion(data); got != q.VersionNumber {
				t.Fatalf("%d bytes: version %d, the encoder says %d", l, got, q.VersionNumber)
			}
		}
	}
	if _, ok := qrVersion(strings.Repeat("a", 2332)); ok {
		t.Fatal("2332 bytes fit")
	}
}

// TestLabelTableContinues: rows that do not fit one label continue on more labels, as the PDF
// continues them on more pages, each with the other elements and {{page}}/{{pages}}.
func TestLabelTableContinues(t *testing.T) {
	rows := []map[string]any{}
	for i := range 5 {
		rows = append(rows, map[string]any{"item": fmt.Sprintf("ITEM-%d", i)})
	}
	def := &Definition{Page: Page{Width: 50, Height: 30}, Elements: []Element{
		{ID: "p", Type: ElText, X: 1, Y: 1, W: 48, H: 5, Text: "{{page}}/{{pages}}", Font: Font{Size: 8}},
		{ID: "tbl", Type: ElTable, X: 1, Y: 8, W: 48, H: 18, Table: &Table{Source: "lines", RowHeight: 6, Columns: []Column{
			{Header: engine.Text{ZH: "品名", EN: "Item"}, Value: "{{row.item}}"}}}},
	}}
	var buf bytes.Buffer
	n, err := WriteLabels(context.Background(), &buf, LangZPL, def, pageSlice([]*PageData{{Record: map[string]any{"lines": rows}}}), LabelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	// 18 mm: a 6 mm header and two 6 mm rows a label: 3 labels for 5 rows.
	if n != 3 || strings.Count(out, "^XA") != 3 {
		t.Fatalf("%d labels:\n%s", n, out)
	}
	for i, want := range []string{"^FD1/3^FS", "^FD2/3^FS", "^FD3/3^FS", "^FDITEM-0^FS", "^FDITEM-4^FS"} {
		if !strings.Contains(out, want) {
			t.Fatalf("%d: no %s in\n%s", i, want, out)
		}
	}
	labels := strings.Split(out, "^XZ")
	if !strings.Contains(labels[2], "ITEM-4") || strings.Contains(labels[2], "ITEM-0") {
		t.Fatalf("the third label does not carry the last row:\n%s", labels[2])
	}
}

// TestLabelImage: an image element is read through the loader, scaled into its box keeping
// its proportions, and sent as a bitmap; without a loader it prints nothing, as on the PDF.
func TestLabelImage(t *testing.T) {
	img := image.NewGray(image.Rect(0, 0, 100, 50))
	for y := range 50 {
		for x := range 100 {
			if x < 50 {
				img.SetGray(x, y, color.Gray{0}) // left half black
			} else {
				img.SetGray(x, y, color.Gray{255})
			}
		}
	}
	def := &Definition{Page: Page{Width: 40, Height: 30}, Elements: []Element{
		{ID: "logo", Type: ElImage, X: 5, Y: 5, W: 20, H: 20, Src: "{{logo}}"},
	}}
	page := &PageData{Record: map[string]any{"logo": []string{"file1"}}}
	var asked string
	opt := LabelOptions{Images: func(_ context.Context, id string) (image.Image, error) {
		asked = id
		return img, nil
	}}
	var buf bytes.Buffer
	if err := WriteTSPL(context.Background(), &buf, def, []*PageData{page}, opt); err != nil {
		t.Fatal(err)
	}
	// 20 mm at 203 dpi is 160 dots; the 2:1 image is 160×80 dots, centred (top at 5 mm + 40
	// dots); its black half is 80 dots wide: 10 bytes a row.
	if asked != "file1" || !strings.Contains(buf.String(), "BITMAP 40,80,10,80,1,") {
		t.Fatalf("asked %q:\n%q", asked, buf.String())
	}
	buf.Reset()
	if err := WriteTSPL(context.Background(), &buf, def, []*PageData{page}, LabelOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "BITMAP") {
		t.Fatal("an image printed without a file reader")
	}
}
