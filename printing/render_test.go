package printing

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"iter"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/makiuchi-d/gozxing"
	zxdm "github.com/makiuchi-d/gozxing/datamatrix"
	"github.com/makiuchi-d/gozxing/oned"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"tracecraft/engine"
	"tracecraft/gs1"
)

// needPoppler fails a test that rasterises PDFs when poppler-utils is missing (.ci/run installs
// it; `apt-get install poppler-utils` elsewhere): a missing tool is never a silent skip.
func needPoppler(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pdftoppm", "pdftotext", "pdffonts"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (Debian poppler-utils; .ci/run installs it)", tool)
		}
	}
}

const testDPI = 300

// rasterise returns the PDF's pages as grey images at testDPI.
func rasterise(t *testing.T, pdf []byte) []image.Image {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("pdftoppm", "-r", fmt.Sprint(testDPI), "-gray", "-png", in, filepath.Join(dir, "p")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	names, _ := filepath.Glob(filepath.Join(dir, "p-*.png"))
	sort.Strings(names) // pdftoppm pads page numbers to the same width
	var imgs []image.Image
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		imgs = append(imgs, img)
	}
	return imgs
}

// px is millimetres at testDPI.
func px(mm float64) int { return int(mm / 25.4 * testDPI) }

// crop cuts the box (x, y, w, h mm) grown by pad mm out of img, on white.
func crop(img image.Image, x, y, w, h, pad float64) image.Image {
	r := image.Rect(px(x-pad), px(y-pad), px(x+w+pad), px(y+h+pad))
	out := image.NewGray(image.Rect(0, 0, r.Dx(), r.Dy()))
	for yy := 0; yy < r.Dy(); yy++ {
		for xx := 0; xx < r.Dx(); xx++ {
			p := image.Pt(r.Min.X+xx, r.Min.Y+yy)
			c := color.Gray{Y: 255}
			if p.In(img.Bounds()) {
				c = color.GrayModel.Convert(img.At(p.X, p.Y)).(color.Gray)
			}
			out.SetGray(xx, yy, c)
		}
	}
	return out
}

// decode reads the code of type typ in img; for GS1 symbols the text starts with the
// symbology identifier (]C1, ]d2) and FNC1 separators read as GS.
func decode(t *testing.T, img image.Image, typ string) (string, error) {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		return "", err
	}
	hints := map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true, gozxing.DecodeHintType_ASSUME_GS1: true}
	var rd gozxing.Reader
	switch typ {
	case ElQR:
		rd = zxqr.NewQRCodeReader()
	case ElDataMatrix:
		// gozxing's DataMatrix detector misjudges the symbol's size unless modules are whole
		// pixels from an integral origin (it fails so on perfect bitmaps too); read the symbol
		// as a pure barcode (crop it with ~0.5 mm of white), which samples the modules.
		rd = zxdm.NewDataMatrixReader()
		hints = map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_PURE_BARCODE: true}
	case ElCode128, ElGS1128:
		rd = oned.NewCode128Reader()
	case ElEAN13:
		rd = oned.NewEAN13Reader()
	}
	res, err := rd.Decode(bmp, hints)
	if err != nil {
		return "", err
	}
	text := res.GetText()
	if typ == ElDataMatrix {
		// gozxing reads the leading FNC1 as GS and names the symbology in metadata
		if id, _ := res.GetResultMetadata()[gozxing.ResultMetadataType_SYMBOLOGY_IDENTIFIER].(string); id != "" {
			text = id + strings.TrimPrefix(text, gs1.GS)
		}
	}
	return text, nil
}

// pagesOf yields ds as a job.
func pagesOf(ds ...*PageData) iter.Seq2[*PageData, error] {
	return func(yield func(*PageData, error) bool) {
		for _, d := range ds {
			if !yield(d, nil) {
				return
			}
		}
	}
}

func renderPDF(t *testing.T, def *Definition, opts RenderOptions, ds ...*PageData) ([]byte, Stats) {
	t.Helper()
	var buf bytes.Buffer
	st, err := Render(context.Background(), &buf, def, pagesOf(ds...), opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), st
}

func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	return poppler(t, "pdftotext", pdf, "-layout")
}

func poppler(t *testing.T, tool string, pdf []byte, args ...string) string {
	t.Helper()
	in := filepath.Join(t.TempDir(), "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, in)
	if tool == "pdftotext" {
		args = append(args, "-")
	}
	out, err := exec.Command(tool, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", tool, err, out)
	}
	return string(out)
}

// saveScreens keeps the rasterised pages under /tmp/tracecraft-screens/printing to look at.
func saveScreens(t *testing.T, imgs []image.Image) {
	dir := filepath.Join(os.TempDir(), "tracecraft-screens", "printing")
	if os.MkdirAll(dir, 0o755) != nil {
		return
	}
	for i, img := range imgs {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.png", t.Name(), i+1)))
		if err != nil {
			return
		}
		png.Encode(f, img)
		f.Close()
	}
}

// unitLabel is a 60 × 40 mm unit label: product name in Chinese, the code's Digital Link as
// a QR, a GS1 DataMatrix and a GS1-128 of GTIN, lot and expiry.
func unitLabel() *Definition {
	return &Definition{
		Key: "unit", Kind: KindLabel, Repeat: RepeatCode,
		Page: Page{Width: 60, Height: 40},
		Elements: []Element{
			{ID: "name", Type: ElText, X: 2, Y: 1.5, W: 56, H: 5, Text: "{{product}} 批次{{code.lot}}", Font: Font{Size: 9, Bold: true}},
			{ID: "qr", Type: ElQR, X: 3, Y: 9, W: 22, H: 22, Value: "{{code.url}}"},
			{ID: "dm", Type: ElDataMatrix, X: 35, Y: 9, W: 16, H: 16, Value: "(01){{code.gtin}}(10){{code.lot}}(17){{code.expiry|date:YYMMDD}}(21){{code.serial}}"},
			{ID: "gs1", Type: ElGS1128, X: 6, Y: 32, W: 48, H: 7, Value: "(01){{code.gtin}}(10){{code.lot}}"},
		},
	}
}

func unitPage(i int) *PageData {
	serial := fmt.Sprintf("K%07dX", i)
	return &PageData{
		Record: map[string]any{"product": "冷鲜鸡腿"},
		ID:     fmt.Sprintf("rec%d", i),
		Code: &ItemCode{Serial: serial, GTIN: "06901234567892", Lot: "L2603A", Expiry: "2026-04-05",
			URL: "https://t.example.com/01/06901234567892/10/L2603A/21/" + serial + "?17=260405"},
	}
}

// TestRenderCodesDecode renders unit labels and decodes every QR, DataMatrix and GS1-128 back
// from the rasterised pages.
func TestRenderCodesDecode(t *testing.T) {
	needPoppler(t)
	def := unitLabel()
	const n = 6
	var ds []*PageData
	for i := range n {
		ds = append(ds, unitPage(i))
	}
	pdf, st := renderPDF(t, def, RenderOptions{}, ds...)
	if st.Labels != n || st.Pages != n || st.Files != 1 || st.Codes != 3*n {
		t.Fatalf("stats %+v", st)
	}
	imgs := rasterise(t, pdf)
	saveScreens(t, imgs[:1])
	if len(imgs) != n {
		t.Fatalf("%d pages, want %d", len(imgs), n)
	}
	if b := imgs[0].Bounds(); b.Dx() != px(60)+1 && b.Dx() != px(60) || b.Dy() != px(40)+1 && b.Dy() != px(40) {
		t.Fatalf("page is %v px, want 60 × 40 mm at %d dpi", b, testDPI)
	}
	for i, img := range imgs {
		d := ds[i]
		want := map[string]string{
			"qr":  d.Code.URL,
			"dm":  "]d2" + "0106901234567892" + "10L2603A" + gs1.GS + "17260405" + "21" + d.Code.Serial,
			"gs1": "]C1" + "0106901234567892" + "10L2603A",
		}
		for _, el := range def.Elements {
			if !IsCode(el.Type) {
				continue
			}
			pad := 3.0
			if el.Type == ElDataMatrix {
				pad = 0.5
			}
			got, err := decode(t, crop(img, el.X, el.Y, el.W, el.H, pad), el.Type)
			if err != nil || got != want[el.ID] {
				t.Errorf("label %d %s: decoded %q, %v; want %q", i, el.ID, got, err, want[el.ID])
			}
		}
	}
	// The DataMatrix (22 × 22 modules) is centred in its 16 mm box, each module 8 whole dots
	// at 300 dpi (16 mm would be 8.6 dots a module).
	dm := def.Elements[2]
	ink := inkBounds(imgs[0], image.Rect(px(dm.X)-5, px(dm.Y)-5, px(dm.X+dm.W)+5, px(dm.Y+dm.H)+5))
	box := image.Rect(px(dm.X), px(dm.Y), px(dm.X+dm.W), px(dm.Y+dm.H))
	if ink.Dx() != 22*8 || ink.Dy() != 22*8 {
		t.Errorf("datamatrix is %v px, want 176 × 176", ink.Size())
	}
	if l, r := ink.Min.X-box.Min.X, box.Max.X-ink.Max.X; l-r > 2 || r-l > 2 {
		t.Errorf("datamatrix not centred: %d px left, %d right", l, r)
	}
	text := pdfText(t, pdf)
	if !strings.Contains(text, "冷鲜鸡腿 批次L2603A") {
		t.Errorf("pdftotext lacks the Chinese name:\n%s", text)
	}
}

// TestRenderLinearCodes decodes Code 128 and EAN-13 and checks their human-readable lines.
func TestRenderLinearCodes(t *testing.T) {
	needPoppler(t)
	def := &Definition{Page: Page{Width: 80, Height: 50}, Elements: []Element{
		{ID: "c128", Type: ElCode128, X: 8, Y: 4, W: 60, H: 14, Value: "SN-{{code.serial}}", HumanReadable: true},
		{ID: "ean", Type: ElEAN13, X: 12, Y: 26, W: 40, H: 18, Value: "690123456789", HumanReadable: true},
	}}
	d := unitPage(42)
	pdf, _ := renderPDF(t, def, RenderOptions{}, d)
	img := rasterise(t, pdf)[0]
	saveScreens(t, []image.Image{img})
	for _, c := range []struct {
		el   Element
		want string
	}{{def.Elements[0], "SN-" + d.Code.Serial}, {def.Elements[1], "6901234567892"}} {
		got, err := decode(t, crop(img, c.el.X, c.el.Y, c.el.W, c.el.H, 6), c.el.Type)
		if err != nil || got != c.want {
			t.Errorf("%s: decoded %q, %v; want %q", c.el.ID, got, err, c.want)
		}
	}
	text := pdfText(t, pdf)
	for _, s := range []string{"SN-" + d.Code.Serial, "6901234567892"} {
		if !strings.Contains(text, s) {
			t.Errorf("human-readable %q missing from:\n%s", s, text)
		}
	}
}

func TestEncodeSymbolErrors(t *testing.T) {
	cases := []struct{ typ, value, want string }{
		{ElEAN13, "6901234567890", "check digit is 2, not 0"},
		{ElEAN13, "69012345", "want 12 or 13 digits"},
		{ElGS1128, "(01)06901234567890", "check digit"},
		{ElDataMatrix, "(99", ""},
		{ElCode128, "批次", "not printable ASCII"},
		{ElQR, "", "no data"},
		{ElText, "x", "not a code type"},
	}
	for _, c := range cases {
		_, err := EncodeSymbol(c.typ, c.value)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("EncodeSymbol(%s, %q) = %v, want an error with %q", c.typ, c.value, err, c.want)
		}
	}
	data, text, err := GS1Data("(01)06901234567892(10)L2603A(17)260405")
	if err != nil || data != "0106901234567892"+"10L2603A"+gs1.GS+"17260405" || text != "(01)06901234567892(10)L2603A(17)260405" {
		t.Fatalf("GS1Data = %q, %q, %v", data, text, err)
	}
}

// TestRenderChineseFontEmbedded checks the CJK font is embedded (a subset) and Chinese text
// comes back out of the PDF, in both languages' table headers.
func TestRenderChineseFontEmbedded(t *testing.T) {
	needPoppler(t)
	def := &Definition{Page: Page{Width: 100, Height: 60}, Elements: []Element{
		{ID: "t", Type: ElText, X: 5, Y: 5, W: 90, H: 10, Text: "产地：{{origin}}，检验合格", Font: Font{Size: 14}},
		{ID: "tb", Type: ElTable, X: 5, Y: 20, W: 90, H: 30, Table: &Table{Source: "items", Border: true, Columns: []Column{
			{Header: engine.Text{ZH: "物料", EN: "Material"}, Value: "{{row.name}}"},
			{Header: engine.Text{ZH: "数量", EN: "Qty"}, Value: "{{row.qty|number:2}}", Width: 20, Align: "right"}}}},
	}}
	d := &PageData{Record: map[string]any{"origin": "山东潍坊", "items": []any{map[string]any{"name": "鸡腿", "qty": 3.5}}}}
	for _, lang := range []string{engine.LangZH, engine.LangEN} {
		pdf, _ := renderPDF(t, def, RenderOptions{Lang: lang}, d)
		// embedded, and only the glyphs used: the PDF is far smaller than the 4.6 MB font
		fonts := poppler(t, "pdffonts", pdf)
		if f := strings.Fields(fonts[strings.LastIndex(fonts, "---")+3:]); len(f) < 5 || !strings.Contains(f[0], "wqy") || f[len(f)-5] != "yes" || len(pdf) > 200_000 {
			t.Errorf("%s: font not embedded as a subset (%d bytes):\n%s", lang, len(pdf), fonts)
		}
		text := pdfText(t, pdf)
		header := map[string]string{engine.LangZH: "物料", engine.LangEN: "Material"}[lang]
		for _, s := range []string{"产地：山东潍坊，检验合格", header, "鸡腿", "3.50"} {
			if !strings.Contains(text, s) {
				t.Errorf("%s: %q missing from the PDF's text:\n%s", lang, s, text)
			}
		}
		if lang == engine.LangZH {
			img := rasterise(t, pdf)[0]
			saveScreens(t, []image.Image{img})
			// The Chinese line has ink: glyphs were drawn, not blanks or .notdef boxes only.
			if ink := inkShare(crop(img, 5, 5, 90, 10, 0)); ink < 0.03 {
				t.Errorf("text box has %.3f ink", ink)
			}
		}
	}
}

// inkBounds is the smallest rectangle holding r's dark pixels.
func inkBounds(img image.Image, r image.Rectangle) image.Rectangle {
	var out image.Rectangle
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 {
				out = out.Union(image.Rect(x, y, x+1, y+1))
			}
		}
	}
	return out
}

// inkShare is the share of dark pixels in img.
func inkShare(img image.Image) float64 {
	b := img.Bounds()
	dark := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			if color.GrayModel.Convert(img.At(x, y)).(color.Gray).Y < 128 {
				dark++
			}
		}
	}
	return float64(dark) / float64(b.Dx()*b.Dy())
}

// TestRenderSheetPositions puts 60 × 40 labels 3-up × 2 on a sheet and finds each label's
// QR where the layout says, 7 labels making 2 sheets.
func TestRenderSheetPositions(t *testing.T) {
	needPoppler(t)
	def := &Definition{Page: Page{Width: 60, Height: 40, Sheet: &Sheet{Width: 210, Height: 100, Rows: 2, Columns: 3, GapX: 5, GapY: 4,
		Margin: Margin{Top: 8, Left: 7}}}, Elements: []Element{
		{ID: "qr", Type: ElQR, X: 4, Y: 4, W: 30, H: 30, Value: "{{code.url}}"},
		{ID: "frame", Type: ElBox, X: 0, Y: 0, W: 60, H: 40, Stroke: 0.1},
	}}
	var ds []*PageData
	for i := range 7 {
		ds = append(ds, unitPage(i))
	}
	pdf, st := renderPDF(t, def, RenderOptions{}, ds...)
	if st.Labels != 7 || st.Pages != 2 {
		t.Fatalf("stats %+v", st)
	}
	imgs := rasterise(t, pdf)
	saveScreens(t, imgs)
	if len(imgs) != 2 {
		t.Fatalf("%d sheets", len(imgs))
	}
	for i, d := range ds {
		slot := i % 6
		row, col := slot/3, slot%3
		x := 7 + float64(col)*(60+5) + 4
		y := 8 + float64(row)*(40+4) + 4
		got, err := decode(t, crop(imgs[i/6], x, y, 30, 30, 2), ElQR)
		if err != nil || got != d.Code.URL {
			t.Errorf("label %d at (%.0f, %.0f) mm: decoded %q, %v; want %q", i, x, y, got, err, d.Code.URL)
		}
	}
	// The second sheet has one label: the other positions are blank.
	if ink := inkShare(crop(imgs[1], 7+65, 8, 60, 40, 0)); ink != 0 {
		t.Errorf("position 2 of the last sheet has ink %.3f", ink)
	}
}

// TestRenderTablePaginates prints 23 rows into a table box that holds 10: three pages, the
// header on each, every row once, {{page}}/{{pages}} counting them.
func TestRenderTablePaginates(t *testing.T) {
	needPoppler(t)
	def := &Definition{Kind: KindSheet, Page: Page{Width: 210, Height: 297}, Elements: []Element{
		{ID: "title", Type: ElText, X: 10, Y: 10, W: 190, H: 10, Text: "入库单 {{no}} 第{{page}}/{{pages}}页", Font: Font{Size: 16, Bold: true, Align: "center"}},
		{ID: "rows", Type: ElTable, X: 10, Y: 30, W: 190, H: 77, Table: &Table{Source: "items", RowHeight: 7, Border: true, Columns: []Column{
			{Header: engine.Text{ZH: "序号", EN: "No."}, Value: "{{row.n}}", Width: 20},
			{Header: engine.Text{ZH: "物料", EN: "Item"}, Value: "{{row.name}}"},
			{Header: engine.Text{ZH: "数量", EN: "Qty"}, Value: "{{row.qty|number:1}} kg", Width: 30, Align: "right"}}}},
		{ID: "foot", Type: ElLine, X: 10, Y: 285, W: 190, H: 0},
	}}
	var items []map[string]any
	for i := range 23 {
		items = append(items, map[string]any{"n": float64(i + 1), "name": fmt.Sprintf("原料R%02d", i+1), "qty": float64(i) + 0.25})
	}
	d := &PageData{Record: map[string]any{"no": "RK-001", "items": items}}
	pdf, st := renderPDF(t, def, RenderOptions{}, d)
	if st.Labels != 1 || st.Pages != 3 {
		t.Fatalf("stats %+v, want 1 label on 3 pages", st)
	}
	pages := strings.Split(pdfText(t, pdf), "\f")
	for p := range 3 {
		text := pages[p]
		if !strings.Contains(text, fmt.Sprintf("入库单 RK-001 第%d/3页", p+1)) || !strings.Contains(text, "物料") {
			t.Errorf("page %d lacks its title or header:\n%s", p+1, text)
		}
		for i := range 23 {
			name := fmt.Sprintf("原料R%02d", i+1)
			if on := strings.Contains(text, name); on != (i/10 == p) {
				t.Errorf("page %d: %s present %v", p+1, name, on)
			}
		}
	}
	if !strings.Contains(pages[2], "22.3 kg") {
		t.Errorf("row 23's quantity missing:\n%s", pages[2])
	}
	saveScreens(t, rasterise(t, pdf)[:1])
}

// TestRenderTextAndRotation checks alignment, wrapping, shrinking and rotation by where the
// ink lands.
func TestRenderTextAndRotation(t *testing.T) {
	needPoppler(t)
	def := &Definition{Page: Page{Width: 100, Height: 100}, Elements: []Element{
		// right-aligned short text: ink only in the box's right half
		{ID: "right", Type: ElText, X: 0, Y: 0, W: 60, H: 8, Text: "右对齐", Font: Font{Size: 12, Align: "right"}},
		// a long line that must shrink into 30 mm (no ink past it)
		{ID: "shrink", Type: ElText, X: 0, Y: 10, W: 30, H: 8, Text: "这是一段很长很长的文字需要缩小", Font: Font{Size: 12}},
		// wrapped text: several lines inside 30 × 20 mm
		{ID: "wrap", Type: ElText, X: 0, Y: 20, W: 30, H: 20, Text: "食品安全追溯标签说明文字自动换行到第三行为止", Font: Font{Size: 10, Wrap: true}},
		// rotated 90° clockwise about (90, 10): the 40 × 6 mm box becomes x 84–90, y 10–50
		{ID: "rot", Type: ElText, X: 90, Y: 10, W: 40, H: 6, Text: "竖排旋转文字测试", Font: Font{Size: 12, VAlign: "middle"}, Rotate: 90},
		// a QR turned 180° about (95, 95): drawn at x 70–95, y 70–95
		{ID: "qr", Type: ElQR, X: 95, Y: 95, W: 25, H: 25, Value: "ROTATED-180", Rotate: 180},
	}}
	pdf, _ := renderPDF(t, def, RenderOptions{}, &PageData{})
	img := rasterise(t, pdf)[0]
	saveScreens(t, []image.Image{img})
	if ink := inkShare(crop(img, 0, 0, 30, 8, 0)); ink != 0 {
		t.Errorf("right-aligned text has ink in the left half: %.3f", ink)
	}
	if ink := inkShare(crop(img, 30, 0, 30, 8, 0)); ink == 0 {
		t.Error("right-aligned text not in the right half")
	}
	if ink := inkShare(crop(img, 30.5, 10, 20, 8, 0)); ink != 0 {
		t.Errorf("shrunk text overflows its box: %.3f", ink)
	}
	if ink := inkShare(crop(img, 0, 10, 30, 8, 0)); ink == 0 {
		t.Error("shrunk text missing")
	}
	for line := range 3 {
		if ink := inkShare(crop(img, 0, 20+float64(line)*5, 30, 4, 0)); ink == 0 {
			t.Errorf("wrapped text has no line %d", line+1)
		}
	}
	if ink := inkShare(crop(img, 84, 12, 6, 36, 0)); ink < 0.02 {
		t.Errorf("rotated text not in x 84–90: %.3f", ink)
	}
	if ink := inkShare(crop(img, 90.5, 10, 9, 40, 0)); ink != 0 {
		t.Errorf("rotated text drawn right of its pivot: %.3f", ink)
	}
	got, err := decode(t, crop(img, 70, 70, 25, 25, 3), ElQR)
	if err != nil || got != "ROTATED-180" {
		t.Errorf("rotated QR: %q, %v", got, err)
	}
}

// TestRenderImage draws a PNG and a JPEG given by the image callback and refuses a GIF.
func TestRenderImage(t *testing.T) {
	needPoppler(t)
	var pngBuf bytes.Buffer
	sq := image.NewGray(image.Rect(0, 0, 20, 10))
	for y := range 10 {
		for x := range 20 {
			sq.SetGray(x, y, color.Gray{Y: 0})
		}
	}
	png.Encode(&pngBuf, sq)
	asked := 0
	opts := RenderOptions{Image: func(id string) ([]byte, error) {
		asked++
		switch id {
		case "logo":
			return pngBuf.Bytes(), nil
		case "gif":
			return []byte("GIF89a...."), nil
		}
		return nil, errors.New("no such file")
	}}
	def := &Definition{Page: Page{Width: 50, Height: 50}, Elements: []Element{
		{ID: "img", Type: ElImage, X: 5, Y: 5, W: 40, H: 40, Src: "{{photo}}"},
	}}
	d := &PageData{Record: map[string]any{"photo": []string{"logo", "other"}}}
	pdf, _ := renderPDF(t, def, opts, d, d)
	if asked != 1 {
		t.Errorf("image asked for %d times in one PDF, want 1", asked)
	}
	img := rasterise(t, pdf)[0]
	// 2:1 fitted into 40 × 40: 40 × 20 mm centred, y 15–35
	if ink := inkShare(crop(img, 6, 16, 38, 18, 0)); ink < 0.99 {
		t.Errorf("image area ink %.3f", ink)
	}
	if ink := inkShare(crop(img, 5, 5, 40, 9, 0)); ink != 0 {
		t.Errorf("image drawn above its fitted box: %.3f", ink)
	}
	d.Record["photo"] = []string{"gif"}
	var buf bytes.Buffer
	if _, err := Render(context.Background(), &buf, def, pagesOf(d), opts); !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), "not a PNG, JPEG or GIF image") {
		t.Fatalf("gif: %v", err)
	}
}

// TestRenderErrors: a bad value names the element and record; the iterator's error and a
// cancelled context stop the render.
func TestRenderErrors(t *testing.T) {
	def := &Definition{Page: Page{Width: 50, Height: 30}, Elements: []Element{
		{ID: "ean", Type: ElEAN13, X: 1, Y: 1, W: 40, H: 20, Value: "{{gtin}}"}}}
	var buf bytes.Buffer
	_, err := Render(context.Background(), &buf, def, pagesOf(&PageData{ID: "r9", Record: map[string]any{"gtin": "12"}}), RenderOptions{})
	if !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), `element "ean" of record "r9"`) {
		t.Fatalf("bad value: %v", err)
	}
	boom := errors.New("store went away")
	failing := func(yield func(*PageData, error) bool) {
		if yield(&PageData{Record: map[string]any{"gtin": "690123456789"}}, nil) {
			yield(nil, boom)
		}
	}
	if _, err := Render(context.Background(), &buf, def, failing, RenderOptions{}); !errors.Is(err, boom) {
		t.Fatalf("iterator error: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := 0
	endless := func(yield func(*PageData, error) bool) {
		for {
			n++
			if n == 50 {
				cancel()
			}
			if !yield(&PageData{Record: map[string]any{"gtin": "690123456789"}}, nil) {
				return
			}
		}
	}
	st, err := Render(ctx, &buf, def, endless, RenderOptions{})
	if !errors.Is(err, context.Canceled) || st.Labels >= 50+8*4 {
		t.Fatalf("cancel: %v after %d labels", err, st.Labels)
	}
	if _, err := Render(context.Background(), &buf, &Definition{Page: Page{Width: 10, Height: 10}, Elements: []Element{{ID: "x", Type: "star"}}}, pagesOf(), RenderOptions{}); !errors.Is(err, ErrRender) {
		t.Fatalf("unknown element: %v", err)
	}
}

// TestRenderZip splits a job into PDFs of at most MaxLabels labels.
func TestRenderZip(t *testing.T) {
	needPoppler(t)
	def := unitLabel()
	var ds []*PageData
	for i := range 7 {
		ds = append(ds, unitPage(i))
	}
	var buf bytes.Buffer
	st, err := RenderZip(context.Background(), &buf, def, pagesOf(ds...), RenderOptions{MaxLabels: 3, Name: "lot-L2603A"})
	if err != nil {
		t.Fatal(err)
	}
	if st.Files != 3 || st.Labels != 7 || st.Pages != 7 {
		t.Fatalf("stats %+v", st)
	}
	files := unzip(t, buf.Bytes())
	names := []string{"lot-L2603A-0001.pdf", "lot-L2603A-0002.pdf", "lot-L2603A-0003.pdf"}
	wantPages := []int{3, 3, 1}
	for i, name := range names {
		pdf, ok := files[name]
		if !ok {
			t.Fatalf("%s missing from %v", name, files)
		}
		imgs := rasterise(t, pdf)
		if len(imgs) != wantPages[i] {
			t.Errorf("%s: %d pages, want %d", name, len(imgs), wantPages[i])
		}
		// the file's first label is label 3i
		got, err := decode(t, crop(imgs[0], 3, 9, 22, 22, 3), ElQR)
		if want := ds[3*i].Code.URL; err != nil || got != want {
			t.Errorf("%s: first QR %q, %v; want %q", name, got, err, want)
		}
	}
}

func unzip(t *testing.T, b []byte) map[string][]byte {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]byte{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		out[f.Name] = data
	}
	return out
}

func TestWrapLine(t *testing.T) {
	width := func(s string) float64 { return float64(len([]rune(s))) } // one unit a character
	cases := []struct {
		in   string
		w    float64
		want string
	}{
		{"食品安全追溯标签说明", 4, "食品安全|追溯标签|说明"},
		{"lot number L2603A ok", 10, "lot number|L2603A ok"},
		{"产地 山东潍坊市", 4, "产地 山|东潍坊市"},
		{"产地 山东潍坊市", 3, "产地|山东潍|坊市"},
		{"abcdefghij", 4, "abcd|efgh|ij"},
		{"批次L2603A合格", 6, "批次|L2603A|合格"},
		{"", 4, ""},
	}
	for _, c := range cases {
		if got := strings.Join(wrapLine(width, c.in, c.w), "|"); got != c.want {
			t.Errorf("wrapLine(%q, %v) = %q, want %q", c.in, c.w, got, c.want)
		}
	}
}
