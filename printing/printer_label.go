package printing

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"iter"
	"math"
	"sort"
	"strings"

	"tracecraft/engine"
	"tracecraft/gs1"
)

// Label-printer output: the same template as the PDF, as ZPL (Zebra) or TSPL (TSC, Gprinter,
// HPRT), one label per PageData. Elements are laid out here in printer dots (labelCanvas
// calls); zpl.go and tspl.go write each call in their language. A multi-up sheet (Page.Sheet)
// is a PDF matter: a label printer prints the label itself, one after another.

// Label-printer languages (Printer.Language).
const (
	LangZPL  = "zpl"
	LangTSPL = "tspl"
)

// DefaultDPI is a label printer's resolution when neither printer nor template says (8 dots/mm).
const DefaultDPI = 203

// labelLanguages are the label-printer languages by name: each makes the canvas that writes
// its commands to w.
var labelLanguages = map[string]func(w *bufio.Writer) labelCanvas{
	LangZPL:  newZPLCanvas,
	LangTSPL: newTSPLCanvas,
}

// LabelLanguages lists the label-printer languages, sorted.
func LabelLanguages() []string {
	out := make([]string, 0, len(labelLanguages))
	for k := range labelLanguages {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ImageLoader reads an image element's file (a file id) for a label.
type ImageLoader func(ctx context.Context, fileID string) (image.Image, error)

// LabelOptions configure WriteLabels.
type LabelOptions struct {
	// DPI is the printer's resolution; the template's Page.DPI (else 203) when 0.
	DPI int
	// Lang is the language placeholders print in (zh-CN when "").
	Lang string
	// Images reads image elements' files; without it images print nothing (as on the PDF).
	Images ImageLoader
	// StaticImages reads the files of image elements whose source is a file id (the
	// template's own assets); nil: Images reads them too.
	StaticImages ImageLoader
}

// labelImageCacheSize bounds the images a job keeps decoded and the bitmaps made of them:
// a logo on every label is read and scaled once, a photo per record does not pile up.
const labelImageCacheSize = 16

// imageKey names a decoded image (W, H zero) or its bitmap at W×H dots.
type imageKey struct {
	static bool
	ref    string
	w, h   int
}

// ErrLabel wraps what makes a template impossible to print on a label printer (an element it
// cannot draw, a value a barcode cannot carry): the template's fault, not the printer's.
var ErrLabel = errors.New("label cannot be printed")

// labelError names the element at fault.
func labelError(el *Element, format string, args ...any) error {
	return fmt.Errorf("element %q: %s: %w", el.ID, fmt.Sprintf(format, args...), ErrLabel)
}

// WriteLabels writes def's label for each page to w in language (LangZPL or LangTSPL) and
// returns the number of labels written.
func WriteLabels(ctx context.Context, w io.Writer, language string, def *Definition, pages iter.Seq2[*PageData, error], opt LabelOptions) (int, error) {
	return writeLabels(ctx, w, language, def, pages, opt, nil)
}

// countingWriter counts the bytes written through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	return n, err
}

// writeLabels is WriteLabels that tells page, after each PageData, how many labels it made and
// the offset in w where they end (so a sender knows how far a job went).
func writeLabels(ctx context.Context, w io.Writer, language string, def *Definition, pages iter.Seq2[*PageData, error], opt LabelOptions, page func(labels int, end int64)) (int, error) {
	mk, ok := labelLanguages[language]
	if !ok {
		return 0, fmt.Errorf("label language %q: %w", language, ErrLabel)
	}
	if opt.Lang == "" {
		opt.Lang = engine.LangDefault
	}
	dpi := opt.DPI
	if dpi <= 0 {
		dpi = def.Page.DPI
	}
	if dpi <= 0 {
		dpi = DefaultDPI
	}
	cw := &countingWriter{w: w}
	bw := bufio.NewWriter(cw)
	lw := &labelWriter{def: def, dpi: dpi, opt: opt, c: mk(bw), fonts: newTextFonts()}
	n := 0
	for d, err := range pages {
		if err != nil {
			return n, err
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := lw.label(ctx, d)
		n += k
		if err != nil {
			return n, err
		}
		if page != nil {
			page(k, cw.n+int64(bw.Buffered()))
		}
	}
	if err := bw.Flush(); err != nil {
		return n, fmt.Errorf("write labels: %w", err)
	}
	return n, nil
}

// WriteZPL writes def's labels for pages as ZPL II.
func WriteZPL(ctx context.Context, w io.Writer, def *Definition, pages []*PageData, opt LabelOptions) error {
	_, err := WriteLabels(ctx, w, LangZPL, def, pageSlice(pages), opt)
	return err
}

// WriteTSPL writes def's labels for pages as TSPL.
func WriteTSPL(ctx context.Context, w io.Writer, def *Definition, pages []*PageData, opt LabelOptions) error {
	_, err := WriteLabels(ctx, w, LangTSPL, def, pageSlice(pages), opt)
	return err
}

func pageSlice(pages []*PageData) iter.Seq2[*PageData, error] {
	return func(yield func(*PageData, error) bool) {
		for _, d := range pages {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// frame places an element's own coordinates (dots from its top-left corner, before rotation)
// on the label: the element turns clockwise by Rot about its top-left corner (X, Y).
type frame struct{ X, Y, Rot int }

// point is where the element's point (u, v) lands on the label.
func (f frame) point(u, v int) (int, int) {
	switch f.Rot {
	case 90:
		return f.X - v, f.Y + u
	case 180:
		return f.X - u, f.Y - v
	case 270:
		return f.X + v, f.Y - u
	}
	return f.X + u, f.Y + v
}

// rect is the box on the label that the element's box (u, v, w, h) covers once turned.
func (f frame) rect(u, v, w, h int) (x, y, bw, bh int) {
	x1, y1 := f.point(u, v)
	x2, y2 := f.point(u+w, v+h)
	return min(x1, x2), min(y1, y2), abs(x2 - x1), abs(y2 - y1)
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// textLine is one line of text for the printer's resident font: the line's box in the
// element's coordinates (U, V, W, H), its alignment in that box and its size.
type textLine struct {
	F          frame
	U, V, W, H int
	Text       string
	Size       float64 // em in dots
	Points     float64
	Align      string
}

// barBox is where a linear barcode's bars go in the element's coordinates, and its module
// (narrowest bar) in dots.
type barBox struct {
	F          frame
	U, V, W, H int
	Module     int
}

// labelCanvas is a label-printer language: the layout calls it with positions in dots.
type labelCanvas interface {
	// begin starts a label of w×h dots (wmm×hmm millimetres); end finishes it.
	begin(w, h int, wmm, hmm float64) error
	end() error
	text(t textLine) error
	// bitmap draws b with its top-left corner at (x, y).
	bitmap(x, y int, b *monoBitmap) error
	// box draws a rectangle with lines t dots thick; t ≥ min(w, h) fills it.
	box(x, y, w, h, t int) error
	// diagonal draws a line across the box (x, y, w, h): down to the right when falling.
	diagonal(x, y, w, h, t int, falling bool) error
	// qr draws a QR code (model 2, level M) of module dots at (x, y).
	qr(x, y, module int, data string) error
	// dataMatrix draws a GS1 DataMatrix (ECC 200) of module dots at (x, y), side dots wide at
	// most.
	dataMatrix(x, y, module, side int, elems gs1.Elements) error
	code128(b barBox, p c128Plan) error
	ean13(b barBox, data12 string) error
}

// labelWriter lays out one template's labels on a canvas.
type labelWriter struct {
	def   *Definition
	dpi   int
	opt   LabelOptions
	c     labelCanvas
	fonts *textFonts
	// images and bitmaps cache what image elements read, for the job (labelImageCacheSize).
	images  map[imageKey]image.Image
	bitmaps map[imageKey]*monoBitmap
}

// dots converts millimetres to printer dots.
func (lw *labelWriter) dots(mm float64) int {
	return int(math.Round(mm * float64(lw.dpi) / 25.4))
}

// label writes the labels of one PageData: one, more when a table continues (as on the PDF,
// each further label repeats the other elements and carries the next rows). It returns how
// many labels it wrote.
func (lw *labelWriter) label(ctx context.Context, d *PageData) (int, error) {
	n := 1
	for i := range lw.def.Elements {
		if el := &lw.def.Elements[i]; el.Type == ElTable && el.Table != nil {
			n = max(n, tablePages(el, d))
		}
	}
	pg := lw.def.Page
	for page := range n {
		pd := withPage(d, page, n, false)
		if err := lw.c.begin(lw.dots(pg.Width), lw.dots(pg.Height), pg.Width, pg.Height); err != nil {
			return page, err
		}
		for i := range lw.def.Elements {
			el := &lw.def.Elements[i]
			if err := lw.element(ctx, el, pd, page); err != nil {
				if errors.Is(err, errCommandData) {
					err = labelError(el, "%v", err)
				}
				return page, err
			}
		}
		if err := lw.c.end(); err != nil {
			return page, err
		}
	}
	return n, nil
}

func (lw *labelWriter) element(ctx context.Context, el *Element, d *PageData, page int) error {
	f := frame{X: lw.dots(el.X), Y: lw.dots(el.Y), Rot: el.Rotate}
	w, h := lw.dots(el.W), lw.dots(el.H)
	switch el.Type {
	case ElText:
		return lw.text(f, 0, 0, w, h, Expand(el.Text, d, lw.opt.Lang), el.Font)
	case ElQR:
		return lw.qr(el, f, w, h, Expand(el.Value, d, lw.opt.Lang))
	case ElDataMatrix:
		return lw.dataMatrix(el, f, w, h, Expand(el.Value, d, lw.opt.Lang))
	case ElCode128, ElGS1128:
		value := Expand(el.Value, d, lw.opt.Lang)
		if value == "" {
			return nil
		}
		var p c128Plan
		var err error
		if el.Type == ElGS1128 {
			p, err = planGS1128(value)
		} else {
			p, err = planCode128(value)
		}
		if err != nil {
			return labelError(el, "%v", err)
		}
		b, hr := lw.bars(el, f, w, h, p.modules())
		if err := lw.c.code128(b, p); err != nil {
			return err
		}
		return lw.humanReadable(el, f, hr, p.Text)
	case ElEAN13:
		value := Expand(el.Value, d, lw.opt.Lang)
		if value == "" {
			return nil
		}
		data, full, err := ean13Digits(value)
		if err != nil {
			return labelError(el, "%v", err)
		}
		b, hr := lw.bars(el, f, w, h, 95)
		if err := lw.c.ean13(b, data); err != nil {
			return err
		}
		return lw.humanReadable(el, f, hr, full)
	case ElLine:
		return lw.line(el, f, w, h)
	case ElBox:
		t := lw.stroke(el)
		if el.Fill {
			t = max(min(abs(w), abs(h)), 1)
		}
		x, y, bw, bh := f.rect(min(0, w), min(0, h), abs(w), abs(h))
		return lw.c.box(x, y, bw, bh, t)
	case ElImage:
		return lw.image(ctx, el, f, w, h, d)
	case ElTable:
		return lw.table(el, f, d, page)
	}
	return labelError(el, "unknown element type %q", el.Type)
}

// stroke is a line's width in dots: Stroke mm, 0.2 mm when 0, at least one dot.
func (lw *labelWriter) stroke(el *Element) int {
	s := el.Stroke
	if s <= 0 {
		s = 0.2
	}
	return max(lw.dots(s), 1)
}

// text draws text in the box (u, v, w, h) of frame f: Latin lines in the printer's font, the
// whole block as a bitmap when a line has anything else.
func (lw *labelWriter) text(f frame, u, v, w, h int, s string, font Font) error {
	s = cleanText(s)
	if s == "" || w <= 0 || h <= 0 {
		return nil
	}
	b, err := lw.fonts.layoutText(s, font, lw.dpi, w, h)
	if err != nil {
		return err
	}
	native := true
	for _, line := range b.Lines {
		// "\[" is TSPL's escape: such a line is drawn, not sent as text.
		if !printerASCII(line) || strings.Contains(line, `\[`) {
			native = false
		}
	}
	if native {
		for i, line := range b.Lines {
			if line == "" {
				continue
			}
			t := textLine{F: f, U: u, V: v + b.Top + i*b.LineH, W: w, H: b.LineH, Text: line, Size: b.Size, Points: b.Points, Align: b.Align}
			if err := lw.c.text(t); err != nil {
				return err
			}
		}
		return nil
	}
	bm, err := lw.fonts.rasterText(b, w, h)
	if err != nil {
		return err
	}
	return lw.bitmap(f, u, v, bm)
}

// bitmap turns bm (drawn in the element's box at (u, v)) with the element and places it,
// cut to its black dots: fewer bytes to the printer, the same label.
func (lw *labelWriter) bitmap(f frame, u, v int, bm *monoBitmap) error {
	c, dx, dy := bm.crop()
	if c == nil {
		return nil
	}
	x, y, _, _ := f.rect(u+dx, v+dy, c.W, c.H)
	return lw.c.bitmap(x, y, c.rotate(f.Rot))
}

// qrByteCapacity is how many bytes a QR code of each version (1–40) holds at level M in byte
// mode (ISO/IEC 18004 table 7).
var qrByteCapacity = [41]int{0, 14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450,
	504, 560, 624, 666, 711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722,
	1809, 1911, 1989, 2099, 2213, 2331}

// qrVersion is the version of a QR code of data at level M in byte mode: the printer encodes
// it itself, and packs digits and capitals tighter if it can, so its symbol is never larger.
// (Encoding the symbol here would cost more than the rest of the label.)
func qrVersion(data string) (int, bool) {
	for v := 1; v <= 40; v++ {
		if len(data) <= qrByteCapacity[v] {
			return v, true
		}
	}
	return 0, false
}

func (lw *labelWriter) qr(el *Element, f frame, w, h int, data string) error {
	if data == "" {
		return nil
	}
	v, ok := qrVersion(data)
	if !ok {
		return labelError(el, "qr: %d bytes, a QR code holds at most %d", len(data), qrByteCapacity[40])
	}
	n := 17 + 4*v
	module := min(max(min(w, h)/n, 1), 10) // ^BQ magnification and QRCODE cell width: 1–10
	size := n * module
	x, y, _, _ := f.rect((w-size)/2, (h-size)/2, size, size)
	return lw.c.qr(x, y, module, data)
}

// dmSizes are the square ECC 200 symbols: size in modules and data codewords (ISO/IEC 16022
// table 7).
var dmSizes = [][2]int{{10, 3}, {12, 5}, {14, 8}, {16, 12}, {18, 18}, {20, 22}, {22, 30}, {24, 36},
	{26, 44}, {32, 62}, {36, 86}, {40, 114}, {44, 144}, {48, 174}, {52, 204}, {64, 280}, {72, 368},
	{80, 456}, {88, 576}, {96, 696}, {104, 816}, {120, 1050}, {132, 1304}, {144, 1558}}

func (lw *labelWriter) dataMatrix(el *Element, f frame, w, h int, value string) error {
	if value == "" {
		return nil
	}
	elems, err := gs1.ParseElementString(value)
	if err != nil {
		return labelError(el, "gs1 datamatrix: %v", err)
	}
	// Codewords in ASCII encodation, which every encoder can use: FNC1 1, a digit pair 1,
	// another character 1. A printer that packs tighter draws a smaller symbol, never a larger.
	cw := 1
	for i, e := range elems {
		s := e.AI + e.Value
		for j := 0; j < len(s); j++ {
			if j+1 < len(s) && isDigitByte(s[j]) && isDigitByte(s[j+1]) {
				j++
			}
			cw++
		}
		if def, _ := gs1.Lookup(e.AI); def.FNC1 && i < len(elems)-1 {
			cw++
		}
	}
	size := 0
	for _, s := range dmSizes {
		if s[1] >= cw {
			size = s[0]
			break
		}
	}
	if size == 0 {
		return labelError(el, "gs1 datamatrix: too much data (%d codewords)", cw)
	}
	module := max(min(w, h)/size, 1)
	side := size * module
	x, y, _, _ := f.rect((w-side)/2, (h-side)/2, side, side)
	return lw.c.dataMatrix(x, y, module, side, elems)
}

func isDigitByte(c byte) bool { return c >= '0' && c <= '9' }

// hrPoints is the size of the text under a linear barcode when the element sets none.
const hrPoints = 8

// bars sizes a linear barcode of modules modules in the element's box: the widest whole-dot
// module that fits the width, the bars centred, the text under them (HumanReadable) in the
// element's font size or 8 pt; hr is the text's box height (0: none).
func (lw *labelWriter) bars(el *Element, f frame, w, h, modules int) (barBox, int) {
	hr := 0
	if el.HumanReadable {
		pts := el.Font.Size
		if pts <= 0 {
			pts = hrPoints
		}
		hr = int(math.Round(pts * float64(lw.dpi) / 72 * 1.2))
		if hr >= h {
			hr = h / 3
		}
	}
	module := min(max(w/modules, 1), 10) // ^BY and TSPL's narrow bar: 1–10 dots
	bw := module * modules
	return barBox{F: f, U: max((w-bw)/2, 0), V: 0, W: bw, H: max(h-hr, 1), Module: module}, hr
}

func (lw *labelWriter) humanReadable(el *Element, f frame, hr int, text string) error {
	if hr <= 0 {
		return nil
	}
	w, h := lw.dots(el.W), lw.dots(el.H)
	font := el.Font
	if font.Size <= 0 {
		font.Size = hrPoints
	}
	font.Align, font.VAlign, font.Wrap = "center", "top", false
	return lw.text(f, 0, h-hr, w, hr, text, font)
}

func (lw *labelWriter) line(el *Element, f frame, w, h int) error {
	t := lw.stroke(el)
	switch {
	case h == 0 && w == 0:
		return nil
	case h == 0:
		x, y, bw, bh := f.rect(min(0, w), -t/2, abs(w), t)
		return lw.c.box(x, y, bw, bh, t)
	case w == 0:
		x, y, bw, bh := f.rect(-t/2, min(0, h), t, abs(h))
		return lw.c.box(x, y, bw, bh, t)
	}
	x1, y1 := f.point(0, 0)
	x2, y2 := f.point(w, h)
	falling := (x2-x1)*(y2-y1) > 0
	return lw.c.diagonal(min(x1, x2), min(y1, y2), abs(x2-x1), abs(y2-y1), t, falling)
}

func (lw *labelWriter) image(ctx context.Context, el *Element, f frame, w, h int, d *PageData) error {
	ref := ImageRef(el.Src, d)
	if ref == "" || w <= 0 || h <= 0 {
		return nil
	}
	static := !strings.Contains(el.Src, "{{")
	read := lw.opt.Images
	if static && lw.opt.StaticImages != nil {
		read = lw.opt.StaticImages
	}
	if read == nil {
		return nil // no file reader: images print nothing, as on the PDF
	}
	key := imageKey{static: static, ref: ref}
	img, ok := lw.images[key]
	if !ok {
		var err error
		if img, err = read(ctx, ref); err != nil {
			return fmt.Errorf("element %q: image %s: %w", el.ID, ref, err)
		}
		if lw.images == nil || len(lw.images) >= labelImageCacheSize {
			lw.images = map[imageKey]image.Image{}
		}
		lw.images[key] = img
	}
	// Fit the image in the box, keeping its proportions, centred.
	iw, ih := img.Bounds().Dx(), img.Bounds().Dy()
	if iw == 0 || ih == 0 {
		return nil
	}
	sw, sh := w, ih*w/iw
	if sh > h {
		sw, sh = iw*h/ih, h
	}
	key.w, key.h = sw, sh
	bm, ok := lw.bitmaps[key]
	if !ok {
		bm = monoFromImage(img, sw, sh)
		if lw.bitmaps == nil || len(lw.bitmaps) >= labelImageCacheSize {
			lw.bitmaps = map[imageKey]*monoBitmap{}
		}
		lw.bitmaps[key] = bm
	}
	return lw.bitmap(f, (w-sw)/2, (h-sh)/2, bm)
}

// table draws the page-th slice of a sub-table's rows under its header, as the PDF does.
func (lw *labelWriter) table(el *Element, f frame, d *PageData, page int) error {
	t := el.Table
	if t == nil {
		return nil
	}
	headMM, rowMM, per := tableLayout(el)
	rows := tableRows(t, d)
	from := min(len(rows), page*per)
	to := min(len(rows), from+per)
	widths := columnWidths(t, el.W)
	pad := lw.dots(cellPad)
	stroke := lw.stroke(el)
	size := el.Font.Size
	if size <= 0 {
		size = 10
	}
	cells := func(top, h int, bold bool, text func(c Column) string) error {
		umm := 0.0
		for i, c := range t.Columns {
			u, cw := lw.dots(umm), lw.dots(umm+widths[i])-lw.dots(umm)
			umm += widths[i]
			if t.Border {
				x, y, bw, bh := f.rect(u, top, cw, h)
				if err := lw.c.box(x, y, bw, bh, stroke); err != nil {
					return err
				}
			}
			font := Font{Size: size, Bold: bold, Align: c.Align, VAlign: "middle"}
			if err := lw.text(f, u+pad, top, max(0, cw-2*pad), h, text(c), font); err != nil {
				return err
			}
		}
		return nil
	}
	head := lw.dots(headMM)
	if err := cells(0, head, true, func(c Column) string { return c.Header.In(lw.opt.Lang) }); err != nil {
		return err
	}
	rd := *d
	for i, row := range rows[from:to] {
		rd.Row = row
		top := lw.dots(headMM + float64(i)*rowMM)
		err := cells(top, lw.dots(headMM+float64(i+1)*rowMM)-top, false, func(c Column) string { return Expand(c.Value, &rd, lw.opt.Lang) })
		if err != nil {
			return err
		}
	}
	return nil
}
