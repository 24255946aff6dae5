package printing

import (
	"fmt"
	"image"
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

// labelFace is the font at an em of size dots. Faces are not safe for concurrent use: each
// label writer makes its own.
func labelFace(size float64) (font.Face, error) {
	f, err := labelFont()
	if err != nil {
		return nil, err
	}
	// DPI 72: Size is then in pixels, which are the printer's dots. No hinting: the same
	// outlines as the PDF, and output that does not depend on a hinter's version.
	return opentype.NewFace(f, &opentype.FaceOptions{Size: size, DPI: 72, Hinting: font.HintingNone})
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
func layoutText(text string, f Font, dpi, w, h int) (textBlock, error) {
	pts := f.Size
	if pts <= 0 {
		pts = 10
	}
	b := textBlock{Align: f.Align, Bold: f.Bold}
	for {
		size := pts * float64(dpi) / 72
		lineH := max(int(math.Round(size*1.2)), 1)
		face, err := labelFace(size)
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
		face.Close()
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
// line aligned in w; bold is drawn twice, a dot or so apart (the font has no bold face).
func rasterText(b textBlock, w, h int) (*monoBitmap, error) {
	face, err := labelFace(b.Size)
	if err != nil {
		return nil, err
	}
	defer face.Close()
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
		for dx := 0; dx <= emboss; dx++ {
			d := font.Drawer{Dst: dst, Src: image.Opaque, Face: face, Dot: fixed.P(x+dx, base)}
			d.DrawString(line)
		}
	}
	return monoFromAlpha(dst), nil
}
