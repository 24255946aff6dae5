package printing

import (
	"fmt"
	"image/color"
	"strconv"
	"strings"

	"github.com/boombuler/barcode"
	"github.com/boombuler/barcode/code128"
	"github.com/boombuler/barcode/datamatrix"
	"github.com/boombuler/barcode/ean"
	qrcode "github.com/skip2/go-qrcode"

	"tracecraft/gs1"
)

// Symbol is an encoded barcode as modules: Rows × Cols, dark or light, without quiet zone.
// A linear code has one row (its bars). The PDF renderer draws it as vector paths; the
// label-printer writers may use Data and Text, the data the symbol carries and its
// human-readable line.
type Symbol struct {
	Type string // ElQR, ElDataMatrix, ElCode128, ElGS1128, ElEAN13
	Rows int
	Cols int
	dark []bool // row-major
	// Data is what the symbol encodes: for GS1 symbols the raw element string with GS (0x1D)
	// where an FNC1 separator is, without the leading FNC1.
	Data string
	// Text is the human-readable line: the bracketed element string for GS1 symbols, the
	// digits for EAN-13, the data for Code 128, the content for 2D codes.
	Text string
}

// Dark reports whether the module at row r, column c is dark.
func (s *Symbol) Dark(r, c int) bool { return s.dark[r*s.Cols+c] }

// Linear reports whether s is a linear (one-dimensional) code.
func (s *Symbol) Linear() bool { return s.Rows == 1 && s.Type != ElQR && s.Type != ElDataMatrix }

// IsCode reports whether an element type is a barcode or 2D code.
func IsCode(typ string) bool {
	switch typ {
	case ElQR, ElDataMatrix, ElCode128, ElGS1128, ElEAN13:
		return true
	}
	return false
}

// GS1Data reads a GS1 element string as a template writes it ("(01)09501101530003(10)ABC",
// or raw with GS separators) and returns the data a GS1 symbol carries — AIs and values run
// together, GS where FNC1 separates a variable-length value from the next — and the bracketed
// text printed under it. Values are checked against their AIs (check digits, lengths, dates).
func GS1Data(value string) (data, text string, err error) {
	elems, err := gs1.ParseElementString(value)
	if err != nil {
		return "", "", err
	}
	if data, err = gs1.BuildElementString(elems, gs1.Raw); err != nil {
		return "", "", err
	}
	if text, err = gs1.BuildElementString(elems, gs1.Bracketed); err != nil {
		return "", "", err
	}
	return data, text, nil
}

// EncodeSymbol encodes value as a symbol of type typ (an element type for which IsCode
// holds). QR codes use error correction level M (a GS1 Digital Link is a plain URL QR);
// DataMatrix and GS1-128 read value as a GS1 element string; EAN-13 takes 12 digits (the
// check digit is added) or 13 (the check digit is checked).
func EncodeSymbol(typ, value string) (*Symbol, error) {
	if value == "" {
		return nil, fmt.Errorf("encode %s: no data", typ)
	}
	switch typ {
	case ElQR:
		q, err := qrcode.New(value, qrcode.Medium)
		if err != nil {
			return nil, fmt.Errorf("encode qr: %w", err)
		}
		q.DisableBorder = true
		bm := q.Bitmap()
		s := &Symbol{Type: typ, Rows: len(bm), Cols: len(bm), dark: make([]bool, 0, len(bm)*len(bm)), Data: value, Text: value}
		for _, row := range bm {
			s.dark = append(s.dark, row...)
		}
		return s, nil
	case ElDataMatrix:
		data, text, err := GS1Data(value)
		if err != nil {
			return nil, fmt.Errorf("encode gs1 datamatrix %q: %w", value, err)
		}
		fnc1 := string([]byte{datamatrix.FNC1})
		bc, err := datamatrix.Encode(fnc1 + strings.ReplaceAll(data, gs1.GS, fnc1))
		if err != nil {
			return nil, fmt.Errorf("encode gs1 datamatrix %q: %w", value, err)
		}
		return symbolOf(typ, bc, data, text), nil
	case ElGS1128:
		data, text, err := GS1Data(value)
		if err != nil {
			return nil, fmt.Errorf("encode gs1-128 %q: %w", value, err)
		}
		fnc1 := string(code128.FNC1)
		bc, err := code128.Encode(fnc1 + strings.ReplaceAll(data, gs1.GS, fnc1))
		if err != nil {
			return nil, fmt.Errorf("encode gs1-128 %q: %w", value, err)
		}
		return symbolOf(typ, bc, data, text), nil
	case ElCode128:
		for _, r := range value {
			if r > 126 || r < 32 {
				return nil, fmt.Errorf("encode code 128 %q: %q is not printable ASCII", value, r)
			}
		}
		bc, err := code128.Encode(value)
		if err != nil {
			return nil, fmt.Errorf("encode code 128 %q: %w", value, err)
		}
		return symbolOf(typ, bc, value, value), nil
	case ElEAN13:
		digits := strings.TrimSpace(value)
		if len(digits) != 12 && len(digits) != 13 || strings.Trim(digits, "0123456789") != "" {
			return nil, fmt.Errorf("encode ean-13 %q: want 12 or 13 digits", value)
		}
		cd, err := gs1.CheckDigit(digits[:12])
		if err != nil {
			return nil, fmt.Errorf("encode ean-13 %q: %w", value, err)
		}
		if len(digits) == 13 && digits[12] != cd {
			return nil, fmt.Errorf("encode ean-13 %q: check digit is %c, not %c", value, cd, digits[12])
		}
		digits = digits[:12] + string(cd)
		bc, err := ean.Encode(digits)
		if err != nil {
			return nil, fmt.Errorf("encode ean-13 %q: %w", value, err)
		}
		return symbolOf(typ, bc, digits, digits), nil
	}
	return nil, fmt.Errorf("encode: %q is not a code type", typ)
}

// symbolOf reads a boombuler barcode's modules (one pixel a module).
func symbolOf(typ string, bc barcode.Barcode, data, text string) *Symbol {
	b := bc.Bounds()
	s := &Symbol{Type: typ, Rows: b.Dy(), Cols: b.Dx(), Data: data, Text: text}
	if s.Rows > 1 && bc.Metadata().Dimensions == 1 {
		s.Rows = 1
	}
	s.dark = make([]bool, s.Rows*s.Cols)
	for r := range s.Rows {
		for c := range s.Cols {
			g := color.GrayModel.Convert(bc.At(b.Min.X+c, b.Min.Y+r)).(color.Gray)
			s.dark[r*s.Cols+c] = g.Y < 128
		}
	}
	return s
}

// pathOps writes the symbol's dark modules as one PDF path, in module units with y down
// (the caller sets the matrix that maps a module to millimetres): each dark run of a row is
// one rectangle, and a run repeated on the rows below grows into one taller rectangle. One
// fill of one path leaves no hairline seams between modules (a rectangle per module did, and
// such codes failed to scan).
func (s *Symbol) pathOps(b *strings.Builder) {
	// open[c] is the run starting at column c that reached the previous row (w 0: none); a
	// run is written when the row below does not repeat it, so the order is fixed.
	type run struct{ w, r, h int }
	open := make([]run, s.Cols)
	write := func(c int, o run) {
		b.WriteString(strconv.Itoa(c))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(o.r))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(o.w))
		b.WriteByte(' ')
		b.WriteString(strconv.Itoa(o.h))
		b.WriteString(" re\n")
	}
	for r := range s.Rows {
		row := s.dark[r*s.Cols : (r+1)*s.Cols]
		for c := 0; c < s.Cols; {
			if !row[c] {
				if o := open[c]; o.w > 0 {
					write(c, o)
					open[c] = run{}
				}
				c++
				continue
			}
			w := 1
			for c+w < s.Cols && row[c+w] {
				w++
			}
			switch o := open[c]; {
			case o.w == w:
				open[c].h++
			case o.w > 0:
				write(c, o)
				open[c] = run{w, r, 1}
			default:
				open[c] = run{w, r, 1}
			}
			// runs of the row above that started inside this one end here
			for k := c + 1; k < c+w; k++ {
				if o := open[k]; o.w > 0 {
					write(k, o)
					open[k] = run{}
				}
			}
			c += w
		}
	}
	for c, o := range open {
		if o.w > 0 {
			write(c, o)
		}
	}
}
