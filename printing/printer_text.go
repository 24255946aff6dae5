package printing

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/image/font"
	"golang.org/x/image/font/opentype"
	"golang.org/x/image/math/fixed"
)

// Text on label printers: Latin lines go to the printer's own scalable font (ZPL font 0, TSPL
// font "0": CG Triumvirate Bold Condensed), which prints sharper and sends fewer bytes; a line
// with Chinese or any other character the printer's font may lack is drawn here with the same
// embedded TrueType font the PDF renderer uses (golang.org/x/image's vector rasteriser) and
// sent as a 1-bit bitmap. Wrapping and shrink-to-fit measure with that font for both, so a
// label breaks its lines in the same places whichever way its text is printed.

var (
	labelFontOnce sync.Once
	labelFontVal  *opentype.Font
	labelFontErr  error
)

// labelFont is the embedded font, parsed once per process.
func labelFont() (*opentype.Font, error) {
	labelFontOnce.Do(func() {
		labelFontVal, labelFontErr = opentype.Parse(cjkFont)
		if labelFontErr != nil {
			labelFontErr = fmt.Errorf("label font: %w", labelFontErr)
		}
	})
	return labelFontVal, labelFontErr
}

// labelFace is the font at an em of size dots.
func labelFace(size float64) (font.Face, error) {
	f, err := labelFont()
	if err != nil {
		return nil, err
	}
	// DPI 72: Size is then in pixels, which are the printer's dots. No hinting: the same
	// outlines as the PDF, and output that does not depend on a hinter's version.
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
}

// textFonts are one job's faces by size and the glyphs it has rasterised: the same
// characters recur on every label of a job. Not safe for concurrent use (nor are faces).
type textFonts struct {
	faces  map[float64]font.Face
	glyphs map[glyphKey]*glyphMask
}

type glyphKey struct {
	size float64
	r    rune
}

// glyphMask is a glyph drawn with its origin (the pen on the baseline) at a whole dot: its
// coverage and where that lies from the origin.
type glyphMask struct {
	mask *image.Alpha // bounds relative to the origin
	ok   bool
}

func newTextFonts() *textFonts {
	return &textFonts{faces: map[float64]font.Face{}, glyphs: map[glyphKey]*glyphMask{}}
}

func (tf *textFonts) face(size float64) (font.Face, error) {
	if f, ok := tf.faces[size]; ok {
		return f, nil
	}
	f, err := labelFace(size)
	if err != nil {
		return nil, err
	}
	tf.faces[size] = f
	return f, nil
}

func (tf *textFonts) glyph(face font.Face, size float64, r rune) *glyphMask {
	k := glyphKey{size, r}
	if g, ok := tf.glyphs[k]; ok {
		return g
	}
	g := &glyphMask{}
	dr, mask, mp, _, ok := face.Glyph(fixed.Point26_6{}, r)
	if ok && !dr.Empty() {
		a := image.NewAlpha(dr)
		draw.Draw(a, dr, mask, mp, draw.Src)
		g.mask, g.ok = a, true
	}
	tf.glyphs[k] = g
	return g
}

// cleanText makes expanded text printable: line breaks as "\n", other control characters
// dropped (a label printer would take some of them for commands).
func cleanText(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	s = strings.ReplaceAll(s, "\r", "\n")
	return strings.Map(func(r rune) rune {
		if r == '\n' {
			return r
		}
		if r == utf8.RuneError || unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// printerASCII reports whether the printer's resident font can print s: printable ASCII.
func printerASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// textBlock is a text element laid out in dots: its lines, the em size, the line height
// and the offset of the first line from the top of the element's box.
type textBlock struct {
	Lines  []string
	Size   float64 // em in dots
	Points float64 // the size in points after shrinking
	LineH  int
	Top    int
	Align  string
	Bold   bool
}

// minTextPoints is the smallest size shrink-to-fit goes down to (template_model.go).
const minTextPoints = 5

// layoutText breaks text into lines, within w dots when wrapping; text too wide (or, wrapped,
// too tall for h) is shrunk down to 5 pt, as on the PDF, and lines that still do not fit in h
// are dropped. The lines are placed in h by VAlign.
func (tf *textFonts) layoutText(text string, f Font, dpi, w, h int) (textBlock, error) {
	pts := f.Size
	if pts <= 0 {
		pts = 10
	}
	b := textBlock{Align: f.Align, Bold: f.Bold}
	for {
		size := pts * float64(dpi) / 72
		lineH := max(int(math.Round(size*1.2)), 1)
		face, err := tf.face(size)
		if err != nil {
			return textBlock{}, err
		}
		var lines []string
		fits := true
		for _, para := range strings.Split(text, "\n") {
			if f.Wrap {
				// The PDF renderer's line breaking, with this font's widths in dots.
				width := func(s string) float64 { return float64(font.MeasureString(face, s)) / 64 }
				lines = append(lines, wrapLine(width, para, float64(w))...)
				continue
			}
			lines = append(lines, para)
			if measure(face, para) > w {
				fits = false
			}
		}
		if f.Wrap && len(lines) > 1 && len(lines)*lineH > h {
			fits = false
		}
		if !fits && pts > minTextPoints {
			pts = math.Max(minTextPoints, pts-0.5)
			continue
		}
		b.Lines, b.Size, b.Points, b.LineH = lines, size, pts, lineH
		break
	}
	if fit := max(h/b.LineH, 1); len(b.Lines) > fit {
		b.Lines = b.Lines[:fit]
	}
	block := len(b.Lines) * b.LineH
	switch f.VAlign {
	case "middle":
		b.Top = (h - block) / 2
	case "bottom":
		b.Top = h - block
	}
	if b.Top < 0 {
		b.Top = 0
	}
	return b, nil
}

// measure is the advance width of s in dots.
func measure(face font.Face, s string) int {
	return font.MeasureString(face, s).Ceil()
}

// rasterText draws the block's lines into a w×h bitmap (the element's box, unrotated), each
// line aligned in w, each glyph at the whole dot nearest its pen position; bold is drawn
// twice, a dot or so apart (the font has no bold face).
func (tf *textFonts) rasterText(b textBlock, w, h int) (*monoBitmap, error) {
	face, err := tf.face(b.Size)
	if err != nil {
		return nil, err
	}
	if w <= 0 || h <= 0 {
		return newMonoBitmap(0, 0), nil
	}
	dst := image.NewAlpha(image.Rect(0, 0, w, h))
	m := face.Metrics()
	ascent, descent := m.Ascent.Ceil(), m.Descent.Ceil()
	emboss := 0
	if b.Bold {
		emboss = int(math.Max(1, math.Round(b.Size/16)))
	}
	for i, line := range b.Lines {
		adv := measure(face, line) + emboss
		x := 0
		switch b.Align {
		case "center":
			x = (w - adv) / 2
		case "right":
			x = w - adv
		}
		top := b.Top + i*b.LineH
		base := top + (b.LineH-(ascent+descent))/2 + ascent
		pen := fixed.I(x)
		prev := rune(-1)
		for _, r := range line {
			if prev >= 0 {
				pen += face.Kern(prev, r)
			}
			g := tf.glyph(face, b.Size, r)
			if g.ok {
				for dx := 0; dx <= emboss; dx++ {
					blendMax(dst, g.mask, pen.Round()+dx, base)
				}
			}
			a, _ := face.GlyphAdvance(r)
			pen += a
			prev = r
		}
	}
	return monoFromAlpha(dst), nil
}

// blendMax lays mask, whose origin goes to (ox, oy), over dst keeping the larger coverage.
func blendMax(dst, mask *image.Alpha, ox, oy int) {
	r := mask.Bounds().Add(image.Pt(ox, oy)).Intersect(dst.Bounds())
	for y := r.Min.Y; y < r.Max.Y; y++ {
		d := dst.Pix[dst.PixOffset(r.Min.X, y):dst.PixOffset(r.Max.X, y)]
		m := mask.Pix[mask.PixOffset(r.Min.X-ox, y-oy):]
		for i := range d {
			if m[i] > d[i] {
				d[i] = m[i]
			}
		}
	}
}
