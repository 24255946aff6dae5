package printing

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"tracecraft/gs1"
)

// TSPL/TSPL2 (TSC; Gprinter and HPRT label printers speak it too), as the TSPL/TSPL2
// Programming Manual describes the commands used here. Each command ends with CR LF.
//
//	SIZE w mm,h mm     the label size (once, at the start of a job)
//	DIRECTION 0        print direction, REFERENCE 0,0 the origin
//	CLS … PRINT 1,1    clear the image buffer, draw, print one label
//	TEXT x,y,"0",r,xm,ym[,a],"…"   font "0" (scalable CG Triumvirate Bold Condensed): xm and ym
//	                   are the size in points; r the clockwise rotation about (x, y); a the
//	                   alignment about x: 1 left, 2 centre, 3 right
//	BITMAP x,y,wb,h,1,data   wb bytes by h rows of binary data, a 0 bit black, mode 1 (OR)
//	BAR x,y,w,h        a filled rectangle; BOX x1,y1,x2,y2,t an outline t dots thick
//	QRCODE x,y,M,c,A,r,M2,S7,"…"   QR code: level M, cell width c, automatic encoding,
//	                   rotation, model 2, mask 7
//	DMATRIX x,y,w,h,c126,xm,"…"    Data Matrix ECC 200 with ~ (126) as escape character: ~1 is
//	                   FNC1, ~~ a tilde; xm the module size
//	BARCODE x,y,"128M",h,0,r,n,n,"…"  Code 128 with manual subsets: !104 / !105 start B / C,
//	                   !100 / !099 code B / C, !102 FNC1; "128" lets the printer choose
//	BARCODE x,y,"EAN13",h,0,r,n,n,"…" EAN-13 of 12 digits (the printer adds the check digit)
//
// In a quoted expression a double quote is written \["]. A command ends at its line break, so
// no string a command carries may hold a control character (CR, LF, …): a value with one
// would end the command early and what follows it would run as commands of its own. Such
// values are refused (errCommandData), as is "\[", which the printer would read as the start
// of an escape and so could swallow the closing quote.

type tsplCanvas struct {
	w       *bufio.Writer
	started bool
}

func newTSPLCanvas(w *bufio.Writer) labelCanvas { return &tsplCanvas{w: w} }

// printf writes one command and its line break. The command itself is checked once more for
// control characters, whatever string it carries: the last guard against a value that would
// break the line.
func (t *tsplCanvas) printf(format string, args ...any) error {
	cmd := fmt.Sprintf(format, args...)
	if i := strings.IndexFunc(cmd, isCommandControl); i >= 0 {
		return fmt.Errorf("tspl: %q holds control character %U: %w", clip(cmd), []rune(cmd[i:])[0], errCommandData)
	}
	_, err := t.w.WriteString(cmd + "\r\n")
	return err
}

// errCommandData is a value that cannot be written into a label printer's command safely (a
// control character, an escape the printer would misread). The layout names the element.
var errCommandData = errors.New("the value holds a character the printer would read as a command")

// isCommandControl reports whether r is a control character (C0, DEL or C1).
func isCommandControl(r rune) bool { return r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) }

func mmText(mm float64) string { return strconv.FormatFloat(mm, 'f', -1, 64) }

func (t *tsplCanvas) begin(_, _ int, wmm, hmm float64) error {
	if !t.started {
		t.started = true
		// The gap (or black mark) between labels is the printer's own setting, made when its
		// media is calibrated: sending one here could misfeed another roll.
		if err := t.printf("SIZE %s mm,%s mm", mmText(wmm), mmText(hmm)); err != nil {
			return err
		}
		if err := t.printf("DIRECTION 0"); err != nil {
			return err
		}
		if err := t.printf("REFERENCE 0,0"); err != nil {
			return err
		}
	}
	return t.printf("CLS")
}

func (t *tsplCanvas) end() error { return t.printf("PRINT 1,1") }

// tsplQuote quotes s as a TSPL string expression; a control character or "\[" in s is
// refused (errCommandData).
func tsplQuote(s string) (string, error) {
	if i := strings.IndexFunc(s, isCommandControl); i >= 0 {
		return "", fmt.Errorf("control character %U (a line break ends a TSPL command): %w", []rune(s[i:])[0], errCommandData)
	}
	if strings.Contains(s, `\[`) {
		return "", fmt.Errorf(`"\[" (TSPL's escape): %w`, errCommandData)
	}
	return `"` + strings.ReplaceAll(s, `"`, `\["]`) + `"`, nil
}

func (t *tsplCanvas) text(l textLine) error {
	pts := max(int(math.Round(l.Points)), 1)
	h := int(math.Round(l.Size))
	u, align := l.U, ""
	switch l.Align {
	case "center":
		u, align = l.U+l.W/2, "2,"
	case "right":
		u, align = l.U+l.W, "3,"
	}
	x, y := l.F.point(u, l.V+(l.H-h)/2)
	q, err := tsplQuote(l.Text)
	if err != nil {
		return err
	}
	return t.printf(`TEXT %d,%d,"0",%d,%d,%d,%s%s`, x, y, l.F.Rot, pts, pts, align, q)
}

func (t *tsplCanvas) bitmap(x, y int, b *monoBitmap) error {
	if _, err := fmt.Fprintf(t.w, "BITMAP %d,%d,%d,%d,1,", x, y, b.Stride, b.H); err != nil {
		return err
	}
	inv := make([]byte, len(b.Bits))
	for i, c := range b.Bits {
		inv[i] = ^c
	}
	// Bits past the width in the last byte of a row stay white (1).
	if pad := b.Stride*8 - b.W; pad > 0 {
		mask := byte(1<<pad - 1)
		for r := 0; r < b.H; r++ {
			inv[r*b.Stride+b.Stride-1] |= mask
		}
	}
	if _, err := t.w.Write(inv); err != nil {
		return err
	}
	_, err := t.w.WriteString("\r\n")
	return err
}

func (t *tsplCanvas) box(x, y, w, h, th int) error {
	if th >= min(w, h) {
		return t.printf("BAR %d,%d,%d,%d", x, y, max(w, 1), max(h, 1))
	}
	return t.printf("BOX %d,%d,%d,%d,%d", x, y, x+w, y+h, th)
}

// diagonal is drawn as a bitmap: TSPL printers differ in their line commands.
func (t *tsplCanvas) diagonal(x, y, w, h, th int, falling bool) error {
	b := newMonoBitmap(w+th, h+th)
	steps := max(w, h, 1)
	for i := 0; i <= steps; i++ {
		px := i * w / steps
		py := i * h / steps
		if !falling {
			py = h - py
		}
		for dy := 0; dy < th; dy++ {
			for dx := 0; dx < th; dx++ {
				b.set(px+dx, py+dy)
			}
		}
	}
	// Cut to its black dots, as other bitmaps are: the box around a thin line is mostly white.
	c, dx, dy := b.crop()
	if c == nil {
		return nil
	}
	return t.bitmap(x-th/2+dx, y-th/2+dy, c)
}

func (t *tsplCanvas) qr(x, y, module int, data string) error {
	q, err := tsplQuote(data)
	if err != nil {
		return fmt.Errorf("qr: %w", err)
	}
	return t.printf("QRCODE %d,%d,M,%d,A,0,M2,S7,%s", x, y, module, q)
}

func (t *tsplCanvas) dataMatrix(x, y, module, side int, elems gs1.Elements) error {
	var b strings.Builder
	b.WriteString("~1")
	for i, e := range elems {
		b.WriteString(strings.ReplaceAll(e.AI+e.Value, "~", "~~"))
		if def, _ := gs1.Lookup(e.AI); def.FNC1 && i < len(elems)-1 {
			b.WriteString("~1")
		}
	}
	q, err := tsplQuote(b.String())
	if err != nil {
		return fmt.Errorf("gs1 datamatrix: %w", err)
	}
	return t.printf("DMATRIX %d,%d,%d,%d,c126,x%d,%s", x, y, side, side, module, q)
}

// tsplCode128 writes symbols as "128M" data: every start, code switch and FNC1 as its !nnn
// control code. ok is false when the data holds a "!" (which 128M would take for a control code).
func tsplCode128(syms []c128Symbol) (string, bool) {
	var b strings.Builder
	for _, s := range syms {
		if s.Text == "" {
			fmt.Fprintf(&b, "!%03d", s.Value)
			continue
		}
		if s.Text == "!" {
			return "", false
		}
		b.WriteString(s.Text)
	}
	return b.String(), true
}

func (t *tsplCanvas) code128(bb barBox, p c128Plan) error {
	x, y := bb.F.point(bb.U, bb.V)
	data, ok := tsplCode128(p.Symbols)
	kind := "128M"
	if !ok {
		if p.GS1 {
			return fmt.Errorf("gs1-128: %q holds \"!\", which TSPL's Code 128 reads as a control code: %w", p.Text, ErrLabel)
		}
		// Plain Code 128 with "!": the printer's automatic subsets, same data.
		kind, data = "128", p.Text
	}
	q, err := tsplQuote(data)
	if err != nil {
		return fmt.Errorf("code 128: %w", err)
	}
	return t.printf(`BARCODE %d,%d,"%s",%d,0,%d,%d,%d,%s`, x, y, kind, bb.H, bb.F.Rot, bb.Module, bb.Module, q)
}

func (t *tsplCanvas) ean13(bb barBox, data12 string) error {
	x, y := bb.F.point(bb.U, bb.V)
	q, err := tsplQuote(data12)
	if err != nil {
		return fmt.Errorf("ean-13: %w", err)
	}
	return t.printf(`BARCODE %d,%d,"EAN13",%d,0,%d,%d,%d,%s`, x, y, bb.H, bb.F.Rot, bb.Module, bb.Module, q)
}
