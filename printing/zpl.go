package printing

import (
	"bufio"
	"fmt"
	"math"
	"strings"

	"tracecraft/gs1"
)

// ZPL II (Zebra), as the ZPL II Programming Guide describes the commands used here:
//
//	^XA … ^XZ       a label format
//	^PW, ^LL, ^LH   print width, label length (dots), label home
//	^FO x,y         field origin: the top-left corner of the field, rotated or not
//	^A0o,h,w        the resident scalable font 0 (CG Triumvirate Bold Condensed), orientation
//	                N (0°), R (90° clockwise), I (180°), B (270°)
//	^FB w,l,s,j     field block: width, lines, line spacing, justification L/C/R
//	^FH_ ^FD … ^FS  field data with _hh hexadecimal escapes (for ^, ~ and _ themselves)
//	^GFA,b,c,d,…    graphic field, ASCII hex with the "alternative data compression scheme"
//	                (G–Y, g–z repeat counts; "," rest of row white; ":" row as before)
//	^GB w,h,t       graphic box (t ≥ half the shorter side fills it); ^GD w,h,t,c,o diagonal
//	^BQN,2,m,M      QR code, model 2, magnification m, error correction M; ^FD "MA," +
//	                data (automatic input), or "MM,Bnnnn" + bytes for non-ASCII data
//	^BXo,h,200,,,,_ Data Matrix ECC 200, module h dots, "_" the escape character: _1 is FNC1,
//	                __ an underscore
//	^BY m           module width; ^BCo,h,N,N,N,N Code 128 without interpretation line and
//	                with no mode: the data carries invocation codes >: >; (start B, C),
//	                >5 >6 (code C, B), >8 (FNC1), >0 for ">"
//	^BEo,h,N,N      EAN-13 of 12 digits (the printer adds the check digit)
//
// Lines end with "\n" for people reading a job; the printer ignores line breaks between
// commands.

type zplCanvas struct {
	w *bufio.Writer
}

func newZPLCanvas(w *bufio.Writer) labelCanvas { return &zplCanvas{w: w} }

func (z *zplCanvas) printf(format string, args ...any) error {
	_, err := fmt.Fprintf(z.w, format, args...)
	return err
}

func (z *zplCanvas) begin(w, h int, _, _ float64) error {
	return z.printf("^XA\n^PW%d\n^LL%d\n^LH0,0\n", w, h)
}

func (z *zplCanvas) end() error { return z.printf("^XZ\n") }

// zplOrientation is the field orientation letter of a clockwise rotation.
func zplOrientation(rot int) string {
	switch rot {
	case 90:
		return "R"
	case 180:
		return "I"
	case 270:
		return "B"
	}
	return "N"
}

// zplField escapes text for ^FH_^FD: the format prefix ^, the control prefix ~ and the
// escape character _ itself as _hh.
func zplField(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '^', '~', '_':
			fmt.Fprintf(&b, "_%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func (z *zplCanvas) text(t textLine) error {
	h := max(int(math.Round(t.Size)), 1)
	x, y, _, _ := t.F.rect(t.U, t.V+(t.H-h)/2, t.W, h)
	just := "L"
	switch t.Align {
	case "center":
		just = "C"
	case "right":
		just = "R"
	}
	// In a ^FB block \& breaks the line and \\ prints a backslash.
	data := zplField(strings.ReplaceAll(t.Text, `\`, `\\`))
	return z.printf("^FO%d,%d^A0%s,%d,%d^FB%d,1,0,%s^FH_^FD%s^FS\n", x, y, zplOrientation(t.F.Rot), h, h, t.W, just, data)
}

func (z *zplCanvas) bitmap(x, y int, b *monoBitmap) error {
	total := b.Stride * b.H
	if err := z.printf("^FO%d,%d^GFA,%d,%d,%d,", x, y, total, total, b.Stride); err != nil {
		return err
	}
	if _, err := z.w.WriteString(zplCompress(b)); err != nil {
		return err
	}
	return z.printf("^FS\n")
}

func (z *zplCanvas) box(x, y, w, h, t int) error {
	t = min(t, max(min(w, h), 1))
	return z.printf("^FO%d,%d^GB%d,%d,%d,B,0^FS\n", x, y, max(w, t), max(h, t), t)
}

func (z *zplCanvas) diagonal(x, y, w, h, t int, falling bool) error {
	o := "R" // right-leaning: /
	if falling {
		o = "L" // left-leaning: \
	}
	return z.printf("^FO%d,%d^GD%d,%d,%d,B,%s^FS\n", x, y, max(w, 3), max(h, 3), t, o)
}

func (z *zplCanvas) qr(x, y, module int, data string) error {
	field := "MA," + zplField(data)
	if !printerASCII(data) {
		// Automatic input cannot carry bytes 0x80–0x9F and 0xE0–0xFF (UTF-8 Chinese has them):
		// manual input, 8-bit byte mode, with the byte count.
		field = fmt.Sprintf("MM,B%04d%s", len(data), zplHexAll(data))
	}
	return z.printf("^FO%d,%d^BQN,2,%d,M^FH_^FD%s^FS\n", x, y, module, field)
}

// zplHexAll escapes every byte outside printable ASCII, and ^ ~ _, as _hh.
func zplHexAll(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '^' || c == '~' || c == '_' {
			fmt.Fprintf(&b, "_%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

func (z *zplCanvas) dataMatrix(x, y, module, _ int, elems gs1.Elements) error {
	// No ^FH here: its _ would be read before the symbol's own _ escapes. GS1 values are of
	// the 82-character set, which has no ^ or ~.
	var b strings.Builder
	b.WriteString("_1")
	for i, e := range elems {
		s := e.AI + e.Value
		if strings.ContainsAny(s, "^~") {
			return fmt.Errorf("gs1 datamatrix: (%s) holds ^ or ~: %w", e.AI, ErrLabel)
		}
		b.WriteString(strings.ReplaceAll(s, "_", "__"))
		if def, _ := gs1.Lookup(e.AI); def.FNC1 && i < len(elems)-1 {
			b.WriteString("_1")
		}
	}
	return z.printf("^FO%d,%d^BXN,%d,200,,,,_^FD%s^FS\n", x, y, module, b.String())
}

// zplCode128 writes symbols as ^BC field data in no mode: every start, code switch and FNC1
// as its invocation code, so the printer draws exactly the symbols counted for the width.
func zplCode128(syms []c128Symbol) string {
	var b strings.Builder
	for _, s := range syms {
		switch s.Value {
		case c128StartB:
			if s.Text == "" {
				b.WriteString(">:")
				continue
			}
		case c128StartC:
			if s.Text == "" {
				b.WriteString(">;")
				continue
			}
		case c128CodeC:
			if s.Text == "" {
				b.WriteString(">5")
				continue
			}
		case c128CodeB:
			if s.Text == "" {
				b.WriteString(">6")
				continue
			}
		case c128FNC1:
			if s.Text == "" {
				b.WriteString(">8")
				continue
			}
		}
		if s.Text == ">" {
			b.WriteString(">0")
			continue
		}
		b.WriteString(zplField(s.Text))
	}
	return b.String()
}

func (z *zplCanvas) code128(bb barBox, p c128Plan) error {
	x, y, _, _ := bb.F.rect(bb.U, bb.V, bb.W, bb.H)
	return z.printf("^BY%d^FO%d,%d^BC%s,%d,N,N,N,N^FH_^FD%s^FS\n", bb.Module, x, y, zplOrientation(bb.F.Rot), bb.H, zplCode128(p.Symbols))
}

func (z *zplCanvas) ean13(bb barBox, data12 string) error {
	x, y, _, _ := bb.F.rect(bb.U, bb.V, bb.W, bb.H)
	return z.printf("^BY%d^FO%d,%d^BE%s,%d,N,N^FD%s^FS\n", bb.Module, x, y, zplOrientation(bb.F.Rot), bb.H, data12)
}

// zplCompress writes a bitmap as ^GFA data in the alternative data compression scheme: each
// row as hex digits, runs of one digit as a repeat count (G–Y 1–19, g–z 20–400) before it, a
// row ending in white as ",", a row equal to the one before as ":".
func zplCompress(b *monoBitmap) string {
	var out strings.Builder
	const hexd = "0123456789ABCDEF"
	row := make([]byte, 2*b.Stride)
	var prev string
	for y := 0; y < b.H; y++ {
		line := b.Bits[y*b.Stride : (y+1)*b.Stride]
		for i, c := range line {
			row[2*i], row[2*i+1] = hexd[c>>4], hexd[c&0xf]
		}
		cur := string(row)
		if y > 0 && cur == prev {
			out.WriteByte(':')
			continue
		}
		prev = cur
		// Trailing white: ",".
		end := len(cur)
		for end > 0 && cur[end-1] == '0' {
			end--
		}
		for i := 0; i < end; {
			j := i
			for j < end && cur[j] == cur[i] {
				j++
			}
			zplRun(&out, cur[i], j-i)
			i = j
		}
		if end < len(cur) {
			out.WriteByte(',')
		}
	}
	return out.String()
}

// zplRun writes a run of n hex digits d as a repeat count and the digit (no count for one);
// a run longer than 400 as several.
func zplRun(out *strings.Builder, d byte, n int) {
	for n > 400 {
		out.WriteByte('z')
		out.WriteByte(d)
		n -= 400
	}
	if n >= 20 {
		out.WriteByte(byte('g' + n/20 - 1))
		if n %= 20; n > 0 {
			out.WriteByte(byte('G' + n - 1))
		}
	} else if n > 1 {
		out.WriteByte(byte('G' + n - 1))
	}
	out.WriteByte(d)
}
