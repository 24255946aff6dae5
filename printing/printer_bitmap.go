package printing

import (
	"image"
	"image/color"
	"image/draw"
	"math/bits"
)

// monoBitmap is a 1-bit picture as label printers take it: rows of Stride bytes, the most
// significant bit the leftmost dot, a set bit a black dot (ZPL's ^GF convention; TSPL's BITMAP
// wants the bits inverted, tspl.go does that).
type monoBitmap struct {
	W, H, Stride int
	Bits         []byte
}

func newMonoBitmap(w, h int) *monoBitmap {
	stride := (w + 7) / 8
	return &monoBitmap{W: w, H: h, Stride: stride, Bits: make([]byte, stride*h)}
}

func (b *monoBitmap) set(x, y int) {
	if x < 0 || y < 0 || x >= b.W || y >= b.H {
		return
	}
	b.Bits[y*b.Stride+x/8] |= 0x80 >> (x % 8)
}

func (b *monoBitmap) at(x, y int) bool {
	return b.Bits[y*b.Stride+x/8]&(0x80>>(x%8)) != 0
}

// empty reports whether no dot is black.
func (b *monoBitmap) empty() bool {
	for _, c := range b.Bits {
		if c != 0 {
			return false
		}
	}
	return true
}

// rotate returns b turned clockwise by deg (0, 90, 180, 270).
func (b *monoBitmap) rotate(deg int) *monoBitmap {
	switch deg {
	case 90, 270:
		out := newMonoBitmap(b.H, b.W)
		for y := 0; y < b.H; y++ {
			for x := 0; x < b.W; x++ {
				if !b.at(x, y) {
					continue
				}
				if deg == 90 {
					out.set(b.H-1-y, x)
				} else {
					out.set(y, b.W-1-x)
				}
			}
		}
		return out
	case 180:
		out := newMonoBitmap(b.W, b.H)
		for y := 0; y < b.H; y++ {
			for x := 0; x < b.W; x++ {
				if b.at(x, y) {
					out.set(b.W-1-x, b.H-1-y)
				}
			}
		}
		return out
	}
	return b
}

// threshold is the grey level below which a dot prints black: half way, as the label printers'
// own drivers do for line art (text, logos).
const threshold = 0x80

// monoFromAlpha makes a bitmap of an alpha mask (rasterised text): a dot is black where the
// coverage is at least half.
func monoFromAlpha(a *image.Alpha) *monoBitmap {
	r := a.Bounds()
	out := newMonoBitmap(r.Dx(), r.Dy())
	for y := 0; y < r.Dy(); y++ {
		row := a.Pix[y*a.Stride : y*a.Stride+r.Dx()]
		for x, v := range row {
			if v >= threshold {
				out.set(x, y)
			}
		}
	}
	return out
}

// monoFromImage scales img to w×h dots (area average, so thin lines of a large logo survive)
// on white and thresholds it: transparent parts print white.
func monoFromImage(img image.Image, w, h int) *monoBitmap {
	out := newMonoBitmap(w, h)
	if w <= 0 || h <= 0 {
		return out
	}
	src := image.NewGray(img.Bounds())
	draw.Draw(src, src.Bounds(), image.NewUniform(color.White), image.Point{}, draw.Src)
	draw.Draw(src, src.Bounds(), img, img.Bounds().Min, draw.Over)
	sw, sh := src.Bounds().Dx(), src.Bounds().Dy()
	if sw == 0 || sh == 0 {
		return out
	}
	for y := 0; y < h; y++ {
		y0, y1 := y*sh/h, (y+1)*sh/h
		if y1 <= y0 {
			y1 = y0 + 1
		}
		for x := 0; x < w; x++ {
			x0, x1 := x*sw/w, (x+1)*sw/w
			if x1 <= x0 {
				x1 = x0 + 1
			}
			sum, n := 0, 0
			for yy := y0; yy < y1 && yy < sh; yy++ {
				row := src.Pix[yy*src.Stride:]
				for xx := x0; xx < x1 && xx < sw; xx++ {
					sum += int(row[xx])
					n++
				}
			}
			if n > 0 && sum/n < threshold {
				out.set(x, y)
			}
		}
	}
	return out
}

// crop returns the part of b that holds every black dot — whole rows, and whole bytes of them
// from the left (at most 7 white dots remain there) — and where that part starts in b; nil
// when b is white.
func (b *monoBitmap) crop() (*monoBitmap, int, int) {
	y0, y1, bx0, x1 := -1, -1, b.Stride, -1
	for y := 0; y < b.H; y++ {
		row := b.Bits[y*b.Stride : (y+1)*b.Stride]
		for i, c := range row {
			if c == 0 {
				continue
			}
			if y0 < 0 {
				y0 = y
			}
			y1 = y
			bx0 = min(bx0, i)
			x1 = max(x1, i*8+7-bits.TrailingZeros8(c))
		}
	}
	if y0 < 0 {
		return nil, 0, 0
	}
	out := newMonoBitmap(x1-bx0*8+1, y1-y0+1)
	for y := y0; y <= y1; y++ {
		copy(out.Bits[(y-y0)*out.Stride:(y-y0+1)*out.Stride], b.Bits[y*b.Stride+bx0:])
	}
	return out, bx0 * 8, y0
}
