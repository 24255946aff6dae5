package printing

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"math"
	"runtime"
	"strings"
	"sync"
	"time"
	"unicode"

	"codeberg.org/go-pdf/fpdf"

	"tracecraft/engine"
)

// MaxLabelsPerPDF is how many labels RenderZip puts in one PDF unless told otherwise: the PDF
// writer holds a whole document in memory (~25 MB per 1,000 QR labels), so a large job is
// several files.
const MaxLabelsPerPDF = 10_000

// RenderOptions are the knobs of Render and RenderZip.
type RenderOptions struct {
	// Lang is the language of table headers and of values that have one (switches print 是/否
	// or Yes/No): engine.LangZH (default) or engine.LangEN.
	Lang string
	// Image returns the bytes (PNG, JPEG or GIF) of an image element's file; nil: image
	// elements draw nothing. Each file is asked for once per PDF. Files are decoded within
	// MaxImagePixels and encoded again before the PDF writer sees them.
	Image func(fileID string) ([]byte, error)
	// StaticImage returns the file of an image element whose source is a file id, not a
	// {{field}}: the template's own asset. nil: Image reads those too.
	StaticImage func(fileID string) ([]byte, error)
	// MaxLabels is RenderZip's labels per PDF (MaxLabelsPerPDF when 0). Render ignores it.
	MaxLabels int
	// Workers is how many goroutines expand values and encode codes ahead of the PDF writer
	// (GOMAXPROCS when 0).
	Workers int
	// Name is the stem of RenderZip's file names ("labels" when ""): labels-0001.pdf, ….
	Name string
	// Title is the PDF's title in its document information.
	Title string
	// MaxPages cuts a label's table continuation short so that a PDF has at most this many
	// pages (0: no limit): a preview.
	MaxPages int
}

// Stats says what a render wrote.
type Stats struct {
	Labels int // PageData drawn
	Pages  int // PDF pages: sheets, or labels and their continuation pages
	Files  int // PDF files
	Codes  int // QR, DataMatrix and linear codes drawn
}

// ErrRender is what render errors about a template or a label's data wrap (a value a code
// cannot carry, an image that is neither PNG nor JPEG, an element of unknown type); other
// errors are the caller's (the page iterator's, the writer's, the context's).
var ErrRender = errors.New("render")

// Render writes one PDF of def to w: a page per PageData — or, for a multi-up template
// (Page.Sheet), a label position per PageData, filling sheets row by row — plus the further
// pages (positions) a table that does not fit continues on. pages yields the labels in order;
// its error stops the render and is returned. ctx is checked between labels. The whole PDF is
// built in memory before it is written (a property of the PDF writer): for jobs beyond
// MaxLabelsPerPDF labels use RenderZip.
//
// Codes are encoded and placeholders expanded on opts.Workers goroutines ahead of the writer,
// which pulls pages from pages on a goroutine of its own.
func Render(ctx context.Context, w io.Writer, def *Definition, pages iter.Seq2[*PageData, error], opts RenderOptions) (_ Stats, err error) {
	defer recoverRender(&err)
	r, err := newRenderer(def, opts)
	if err != nil {
		return Stats{}, err
	}
	err = r.run(ctx, pages, 0, func() error {
		return r.finish(w)
	})
	return r.stats, err
}

// RenderZip writes a ZIP archive to w holding the job as PDFs of at most opts.MaxLabels
// labels each (a label's continuation pages stay in its file), named Name-0001.pdf, … in order.
// Each PDF is written to the archive as soon as it is full, so memory stays that of one PDF.
func RenderZip(ctx context.Context, w io.Writer, def *Definition, pages iter.Seq2[*PageData, error], opts RenderOptions) (_ Stats, err error) {
	defer recoverRender(&err)
	r, err := newRenderer(def, opts)
	if err != nil {
		return Stats{}, err
	}
	limit := opts.MaxLabels
	if limit <= 0 {
		limit = MaxLabelsPerPDF
	}
	name := opts.Name
	if name == "" {
		name = "labels"
	}
	zw := zip.NewWriter(w)
	err = r.run(ctx, pages, limit, func() error {
		// PDF streams are compressed already: stored, not deflated again.
		f, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("%s-%04d.pdf", name, r.stats.Files+1), Method: zip.Store, Modified: time.Now()})
		if err != nil {
			return fmt.Errorf("render zip: %w", err)
		}
		return r.finish(f)
	})
	if err != nil {
		return r.stats, err
	}
	if err := zw.Close(); err != nil {
		return r.stats, fmt.Errorf("render zip: %w", err)
	}
	return r.stats, nil
}

// renderer draws labels into the current PDF.
type renderer struct {
	def  *Definition
	opts RenderOptions
	lang string

	// per element: the symbol of a code whose value has no placeholders, its path ops, and
	// whether the value depends on the page number (so it is encoded per page)
	static   []*Symbol
	paged    []bool
	elements []Element

	pdf    *fpdf.Fpdf
	k      float64 // points per mm
	slot   int     // next label position on the current sheet
	labels int     // labels in the current PDF
	images map[string]*fpdf.ImageInfoType

	stats Stats
}

func newRenderer(def *Definition, opts RenderOptions) (*renderer, error) {
	if err := CheckFont(); err != nil {
		return nil, err
	}
	if def == nil || def.Page.Width <= 0 || def.Page.Height <= 0 {
		return nil, fmt.Errorf("%w: the page needs a width and a height", ErrRender)
	}
	if s := def.Page.Sheet; s != nil && (s.Rows < 1 || s.Columns < 1 || s.Width <= 0 || s.Height <= 0) {
		return nil, fmt.Errorf("%w: a sheet needs rows, columns, a width and a height", ErrRender)
	}
	r := &renderer{def: def, opts: opts, lang: opts.Lang, elements: def.Elements}
	if r.lang != engine.LangEN {
		r.lang = engine.LangZH
	}
	r.static = make([]*Symbol, len(def.Elements))
	r.paged = make([]bool, len(def.Elements))
	for i := range def.Elements {
		el := &def.Elements[i]
		switch el.Rotate {
		case 0, 90, 180, 270:
		default:
			return nil, fmt.Errorf("%w: element %q: rotate must be 0, 90, 180 or 270", ErrRender, el.ID)
		}
		switch {
		case IsCode(el.Type):
			phs, err := ParsePlaceholders(el.Value)
			if err != nil {
				return nil, fmt.Errorf("%w: element %q: %w", ErrRender, el.ID, err)
			}
			for _, p := range phs {
				if p.Path == "page" || p.Path == "pages" {
					r.paged[i] = true
				}
			}
			if len(phs) == 0 {
				sym, err := EncodeSymbol(el.Type, el.Value)
				if err != nil {
					return nil, fmt.Errorf("%w: element %q: %w", ErrRender, el.ID, err)
				}
				r.static[i] = sym
			}
		case el.Type == ElTable:
			if el.Table == nil {
				return nil, fmt.Errorf("%w: element %q: a table needs its layout", ErrRender, el.ID)
			}
		case el.Type == ElText, el.Type == ElImage, el.Type == ElLine, el.Type == ElBox:
		default:
			return nil, fmt.Errorf("%w: element %q: unknown type %q", ErrRender, el.ID, el.Type)
		}
	}
	return r, nil
}

// prepared is a label with its codes encoded, made on a worker.
type prepared struct {
	d     *PageData
	syms  []*Symbol // per element; nil where static or page-dependent
	err   error
	ready chan struct{}
}

// prepare encodes the label's codes whose value depends on the label's data.
func (r *renderer) prepare(p *prepared) {
	defer close(p.ready)
	if p.err != nil {
		return
	}
	defer recoverRender(&p.err) // on a worker: a panic here would end the process
	for i := range r.elements {
		el := &r.elements[i]
		if !IsCode(el.Type) || r.static[i] != nil || r.paged[i] {
			continue
		}
		sym, err := r.encode(el, p.d)
		if err != nil {
			p.err = err
			return
		}
		if p.syms == nil {
			p.syms = make([]*Symbol, len(r.elements))
		}
		p.syms[i] = sym
	}
}

func (r *renderer) encode(el *Element, d *PageData) (*Symbol, error) {
	v := Expand(el.Value, d, r.lang)
	sym, err := EncodeSymbol(el.Type, v)
	if err != nil {
		return nil, fmt.Errorf("%w: element %q of record %q: %w", ErrRender, el.ID, d.ID, err)
	}
	return sym, nil
}

// run pulls pages, prepares them on workers and draws them in order; every limit labels (0:
// never) and at the end it calls flush, which writes the current PDF.
func (r *renderer) run(ctx context.Context, pages iter.Seq2[*PageData, error], limit int, flush func() error) error {
	workers := r.opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	work := make(chan *prepared, 4*workers)
	order := make(chan *prepared, 4*workers)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		defer close(work)
		defer close(order)
		for d, err := range pages {
			if err == nil && d == nil {
				err = errors.New("render: nil page")
			}
			// p belongs to the workers once sent: the loop looks at err, not p.err.
			p := &prepared{d: d, err: err, ready: make(chan struct{})}
			select {
			case order <- p:
			case <-stop:
				return
			}
			select {
			case work <- p:
			case <-stop:
				return
			}
			if err != nil {
				return
			}
		}
	})
	for range workers {
		wg.Go(func() {
			for p := range work {
				r.prepare(p)
			}
		})
	}
	defer func() {
		close(stop)
		for range order { // let the puller see stop
		}
		wg.Wait()
	}()

	if err := r.begin(); err != nil {
		return err
	}
	for p := range order {
		select {
		case <-p.ready:
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if p.err != nil {
			return p.err
		}
		if limit > 0 && r.labels == limit {
			if err := flush(); err != nil {
				return err
			}
			if err := r.begin(); err != nil {
				return err
			}
		}
		if err := r.label(p); err != nil {
			return err
		}
	}
	return flush()
}

// begin starts a PDF.
func (r *renderer) begin() error {
	pg := r.def.Page
	size := fpdf.SizeType{Wd: pg.Width, Ht: pg.Height}
	if pg.Sheet != nil {
		size = fpdf.SizeType{Wd: pg.Sheet.Width, Ht: pg.Sheet.Height}
	}
	pdf := fpdf.NewCustom(&fpdf.InitType{OrientationStr: "P", UnitStr: "mm", Size: size})
	pdf.SetAutoPageBreak(false, 0)
	pdf.SetMargins(0, 0, 0)
	pdf.SetCellMargin(0)
	pdf.SetCreator("Tracecraft", false)
	if r.opts.Title != "" {
		pdf.SetTitle(r.opts.Title, true)
	}
	if err := addFont(pdf); err != nil {
		return err
	}
	r.pdf, r.k, r.slot, r.labels = pdf, pdf.GetConversionRatio(), 0, 0
	r.images = map[string]*fpdf.ImageInfoType{}
	return nil
}

// finish writes the current PDF to w and lets it go.
func (r *renderer) finish(w io.Writer) error {
	if r.pdf.PageCount() == 0 {
		// An empty job is still a valid PDF: one blank page.
		r.nextPosition()
	}
	pages := r.pdf.PageCount()
	if err := r.pdf.Output(w); err != nil {
		return fmt.Errorf("render: write pdf: %w", err)
	}
	r.stats.Files++
	r.stats.Pages += pages
	r.pdf = nil
	return nil
}

// nextPosition returns where the next label's top-left corner is, starting a page when
// needed.
func (r *renderer) nextPosition() (x, y float64) {
	pg := r.def.Page
	s := pg.Sheet
	if s == nil {
		r.pdf.AddPageFormat("P", fpdf.SizeType{Wd: pg.Width, Ht: pg.Height})
		return 0, 0
	}
	if r.slot == 0 {
		r.pdf.AddPageFormat("P", fpdf.SizeType{Wd: s.Width, Ht: s.Height})
	}
	row, col := r.slot/s.Columns, r.slot%s.Columns
	r.slot = (r.slot + 1) % (s.Rows * s.Columns)
	return s.Margin.Left + float64(col)*(pg.Width+s.GapX), s.Margin.Top + float64(row)*(pg.Height+s.GapY)
}

// label draws one PageData: one position, more when a table continues.
func (r *renderer) label(p *prepared) error {
	d := p.d
	n := 1
	for i := range r.elements {
		if el := &r.elements[i]; el.Type == ElTable {
			n = max(n, tablePages(el, d))
		}
	}
	if r.opts.MaxPages > 0 {
		n = min(n, max(r.opts.MaxPages-r.stats.Pages-r.pdf.PageCount(), 1))
	}
	for page := range n {
		x, y := r.nextPosition()
		pd := withPage(d, page, n, true)
		for i := range r.elements {
			if err := r.element(&r.elements[i], i, x, y, pd, p, page); err != nil {
				return err
			}
		}
		if err := r.pdf.Error(); err != nil {
			return fmt.Errorf("render: record %q: %w", d.ID, err)
		}
	}
	r.labels++
	r.stats.Labels++
	return nil
}

// withPage is d as its page-th label (of n) prints it: numbered from d.Page when the engine
// numbered the job (a continuation label takes the next number), else within d alone (also
// a single label when single).
func withPage(d *PageData, page, n int, single bool) *PageData {
	unnumbered := d.Page == 0 && d.Pages == 0
	switch {
	case unnumbered && (n > 1 || single):
		c := *d
		c.Page, c.Pages = page+1, n
		return &c
	case unnumbered || page == 0:
		return d
	}
	c := *d
	c.Page = d.Page + page
	return &c
}

// element draws el of a label whose top-left corner is at (ox, oy).
func (r *renderer) element(el *Element, i int, ox, oy float64, d *PageData, p *prepared, page int) error {
	x, y := ox+el.X, oy+el.Y
	if el.Rotate != 0 {
		r.pdf.TransformBegin()
		// fpdf turns counter-clockwise; a template turns clockwise.
		r.pdf.TransformRotate(-float64(el.Rotate), x, y)
		defer r.pdf.TransformEnd()
	}
	switch el.Type {
	case ElText:
		r.text(Expand(el.Text, d, r.lang), x, y, el.W, el.H, el.Font, fontSize(el.Font.Size, 10))
	case ElLine:
		r.pdf.SetLineWidth(stroke(el.Stroke))
		r.pdf.Line(x, y, x+el.W, y+el.H)
	case ElBox:
		r.pdf.SetLineWidth(stroke(el.Stroke))
		style := "D"
		if el.Fill {
			style = "FD"
		}
		r.pdf.Rect(x, y, el.W, el.H, style)
	case ElImage:
		return r.image(el, x, y, d)
	case ElTable:
		r.table(el, x, y, d, page)
	default: // a code
		sym := r.static[i]
		if sym == nil && p.syms != nil {
			sym = p.syms[i]
		}
		if sym == nil {
			var err error
			if sym, err = r.encode(el, d); err != nil {
				return err
			}
		}
		r.symbol(el, sym, x, y)
	}
	return nil
}

func fontSize(size, def float64) float64 {
	if size <= 0 {
		return def
	}
	return size
}

func stroke(w float64) float64 {
	if w <= 0 {
		return 0.2
	}
	return w
}

// ptMM is one point in millimetres.
const ptMM = 25.4 / 72

// minFontSize is how far text is shrunk to fit its box, in points.
const minFontSize = 5

// text sets s in the box (x, y, w, h): lines broken at "\n", and within w when f.Wrap; text
// too wide (or, wrapped, too tall) is shrunk down to minFontSize, and what still does not fit
// is clipped to the box.
func (r *renderer) text(s string, x, y, w, h float64, f Font, size float64) {
	if strings.TrimSpace(s) == "" {
		return
	}
	pdf := r.pdf
	var lines []string
	fits := func() bool {
		pdf.SetFontSize(size)
		if f.Wrap {
			lines = lines[:0]
			for _, para := range strings.Split(s, "\n") {
				if para == "" {
					lines = append(lines, "")
					continue
				}
				lines = append(lines, wrapLine(pdf.GetStringWidth, para, w)...)
			}
			return float64(len(lines))*size*ptMM*1.2 <= h+0.01
		}
		lines = strings.Split(s, "\n")
		for _, l := range lines {
			if pdf.GetStringWidth(l) > w+0.01 {
				return false
			}
		}
		return true
	}
	for !fits() && size > minFontSize {
		size = max(minFontSize, size-0.5)
	}
	em := size * ptMM
	lh := em * 1.2
	total := float64(len(lines)) * lh
	clip := total > h+0.01
	for _, l := range lines {
		if pdf.GetStringWidth(l) > w+0.01 {
			clip = true
		}
	}
	if clip {
		pdf.ClipRect(x, y, w, h, false)
		defer pdf.ClipEnd()
	}
	top := y
	switch f.VAlign {
	case "middle":
		top = y + (h-total)/2
	case "bottom":
		top = y + h - total
	}
	if f.Bold {
		// The font has one weight: bold is the glyphs filled and stroked.
		pdf.RawWriteStr(fmt.Sprintf("q 2 Tr %.3f w", em*0.045*r.k))
		defer pdf.RawWriteStr("Q")
	}
	for i, l := range lines {
		if l == "" {
			continue
		}
		lx := x
		switch f.Align {
		case "center":
			lx = x + (w-pdf.GetStringWidth(l))/2
		case "right":
			lx = x + w - pdf.GetStringWidth(l)
		}
		// The baseline sits so that the glyphs' middle is the line's middle.
		pdf.Text(lx, top+float64(i)*lh+lh/2+0.36*em, l)
	}
}

// dotMM is one dot of a 300-dpi printer in mm. Code modules are whole dots (so whole dots at
// 600 dpi too): every bar and module then prints the same width, where a fractional module is
// rounded differently from one module to the next.
const dotMM = 25.4 / 300

// snapModule rounds a module size down to whole dots (unless under one dot).
func snapModule(m float64) float64 {
	if m < dotMM {
		return m
	}
	return math.Floor(m/dotMM+1e-9) * dotMM
}

// wrapLine breaks one paragraph into lines no wider than w: between words at spaces (which
// are dropped), before and after a CJK character (kept: fpdf's SplitText drops the character
// it breaks at), and inside a word only when the word alone is wider than w.
func wrapLine(width func(string) float64, para string, w float64) []string {
	var lines []string
	var line strings.Builder
	lineW := 0.0
	flush := func() {
		lines = append(lines, strings.TrimRight(line.String(), " "))
		line.Reset()
		lineW = 0
	}
	for _, tok := range wrapTokens(para) {
		tw := width(tok)
		switch {
		case lineW+tw <= w+0.01:
		case tok == " ":
			flush()
			continue
		case lineW > 0:
			flush()
			tok = strings.TrimLeft(tok, " ")
			tw = width(tok)
		}
		if tw > w+0.01 {
			// a word wider than the line: rune by rune
			for _, r := range tok {
				rw := width(string(r))
				if lineW > 0 && lineW+rw > w+0.01 {
					flush()
				}
				line.WriteRune(r)
				lineW += rw
			}
			continue
		}
		line.WriteString(tok)
		lineW += tw
	}
	if line.Len() > 0 || len(lines) == 0 {
		flush()
	}
	return lines
}

// wrapTokens splits text into what a line may break between: runs of spaces, single CJK
// characters, and words.
func wrapTokens(s string) []string {
	var out []string
	start := -1
	for i, r := range s {
		switch {
		case r == ' ' || isWide(r):
			if start >= 0 {
				out = append(out, s[start:i])
				start = -1
			}
			if r == ' ' && len(out) > 0 && out[len(out)-1] == " " {
				continue
			}
			if r == ' ' {
				out = append(out, " ")
			} else {
				out = append(out, string(r))
			}
		case start < 0:
			start = i
		}
	}
	if start >= 0 {
		out = append(out, s[start:])
	}
	return out
}

// isWide reports whether a line may break before and after r (CJK ideographs, kana, hangul,
// full-width forms and CJK punctuation).
func isWide(r rune) bool {
	return unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana, unicode.Hangul) ||
		r >= 0x3000 && r <= 0x303f || r >= 0xff00 && r <= 0xffef
}

// symbol draws a code centred in its box: a 2D code as the largest square of whole-dot
// modules that fits, a linear code's bars as wide as whole-dot modules allow within the box's
// width, from its top, with its text centred under them when HumanReadable (as the label
// printers draw them). Quiet zones are outside the box: keep them clear.
func (r *renderer) symbol(el *Element, sym *Symbol, x, y float64) {
	r.stats.Codes++
	if !sym.Linear() {
		m := snapModule(min(el.W/float64(sym.Cols), el.H/float64(sym.Rows)))
		w, h := m*float64(sym.Cols), m*float64(sym.Rows)
		r.modules(sym, x+(el.W-w)/2, y+(el.H-h)/2, m, m)
		return
	}
	mw := snapModule(el.W / float64(sym.Cols))
	barsW := mw * float64(sym.Cols)
	x += (el.W - barsW) / 2
	barH := el.H
	size := fontSize(el.Font.Size, 8)
	if el.HumanReadable {
		// shrink the text to the width first, so the bars get what it leaves
		r.pdf.SetFontSize(size)
		for r.pdf.GetStringWidth(sym.Text) > barsW && size > minFontSize {
			size = max(minFontSize, size-0.5)
			r.pdf.SetFontSize(size)
		}
		barH = max(el.H*0.3, el.H-size*ptMM*1.2-0.5)
	}
	r.modules(sym, x, y, mw, barH)
	if el.HumanReadable {
		r.text(sym.Text, x, y+barH+0.5, barsW, el.H-barH-0.5, Font{Align: "center"}, size)
	}
}

// modules draws sym's dark modules as one filled path, a module being mw × mh mm, the symbol's
// top-left corner at (x, y).
func (r *renderer) modules(sym *Symbol, x, y, mw, mh float64) {
	_, ph := r.pdf.GetPageSize()
	var b strings.Builder
	b.Grow(16 * sym.Rows * sym.Cols / 4)
	// PDF space is in points with y up; module space has y down, one unit a module.
	fmt.Fprintf(&b, "q 0 g %.5f 0 0 %.5f %.4f %.4f cm\n", mw*r.k, -mh*r.k, x*r.k, (ph-y)*r.k)
	sym.pathOps(&b)
	b.WriteString("f Q")
	r.pdf.RawWriteStr(b.String())
}

// image draws an image element fitted into its box (aspect kept, centred).
func (r *renderer) image(el *Element, x, y float64, d *PageData) error {
	ref := ImageRef(el.Src, d)
	read := r.opts.Image
	// A file id in the template is its own asset; a {{field}} is read as the printer may.
	// Their names differ so that one never stands in for the other.
	name := "img:" + ref
	if !strings.Contains(el.Src, "{{") {
		name = "asset:" + ref
		if r.opts.StaticImage != nil {
			read = r.opts.StaticImage
		}
	}
	if ref == "" || read == nil {
		return nil
	}
	info, ok := r.images[name]
	if !ok {
		data, err := read(ref)
		if err != nil {
			return fmt.Errorf("render: element %q: image %q: %w", el.ID, ref, err)
		}
		clean, typ, err := pdfImage(data)
		if err != nil {
			return fmt.Errorf("%w: element %q: image %q: %w", ErrRender, el.ID, ref, err)
		}
		info = r.pdf.RegisterImageOptionsReader(name, fpdf.ImageOptions{ImageType: typ}, bytes.NewReader(clean))
		if err := r.pdf.Error(); err != nil || info == nil {
			return fmt.Errorf("%w: element %q: image %q: %w", ErrRender, el.ID, ref, err)
		}
		r.images[name] = info
	}
	iw, ih := info.Extent()
	if iw <= 0 || ih <= 0 {
		return nil
	}
	s := min(el.W/iw, el.H/ih)
	w, h := iw*s, ih*s
	r.pdf.ImageOptions(name, x+(el.W-w)/2, y+(el.H-h)/2, w, h, false, fpdf.ImageOptions{}, 0, "")
	return nil
}
