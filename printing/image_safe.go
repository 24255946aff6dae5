package printing

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/jpeg"
	"image/png"
)

// Image elements print files people upload: a file is distrusted until it is decoded here.
// Its declared size is read first (image.DecodeConfig, a few bytes of header) and a file past
// MaxImagePixels is refused before any pixel is decoded, so a small file that declares a huge
// image (a decompression bomb) costs nothing. The PDF writer is never given the uploaded
// bytes: the decoded image is flattened onto white and encoded again here (JPEG stays JPEG,
// anything else becomes an opaque PNG), so the writer parses only what Go's encoders wrote.

// MaxImagePixels is the most pixels (width × height) an image element's file may have: 25
// megapixels, a 5000 × 5000 photo. Decoded, such an image takes about 100 MB.
const MaxImagePixels = 25_000_000

// errImageTooLarge is an image whose declared size is past MaxImagePixels.
var errImageTooLarge = errors.New("image too large")

// decodeImage decodes a PNG, JPEG or GIF file after checking its declared size.
func decodeImage(data []byte) (img image.Image, format string, err error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("not a PNG, JPEG or GIF image: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 {
		return nil, "", fmt.Errorf("the image declares %d×%d pixels", cfg.Width, cfg.Height)
	}
	if int64(cfg.Width)*int64(cfg.Height) > MaxImagePixels {
		return nil, "", fmt.Errorf("%d×%d pixels, more than the %d megapixels an image may have: %w",
			cfg.Width, cfg.Height, MaxImagePixels/1_000_000, errImageTooLarge)
	}
	defer func() {
		// The standard decoders do not panic on bad input; this is the last line regardless.
		if r := recover(); r != nil {
			img, err = nil, fmt.Errorf("the image could not be decoded: %v", r)
		}
	}()
	img, format, err = image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, "", fmt.Errorf("the image could not be decoded: %w", err)
	}
	if b := img.Bounds(); b.Dx() != cfg.Width || b.Dy() != cfg.Height {
		return nil, "", fmt.Errorf("the image is %d×%d pixels, its header said %d×%d", b.Dx(), b.Dy(), cfg.Width, cfg.Height)
	}
	return img, format, nil
}

// pdfImage decodes an uploaded image within the pixel budget and encodes it again for the PDF
// writer: flattened onto white (transparency prints as the paper), a JPEG as JPEG (quality
// 90), anything else as PNG; typ is fpdf's image type ("JPG" or "PNG").
func pdfImage(data []byte) (out []byte, typ string, err error) {
	img, format, err := decodeImage(data)
	if err != nil {
		return nil, "", err
	}
	var flat draw.Image
	switch img.ColorModel() {
	case color.GrayModel, color.Gray16Model:
		flat = image.NewGray(img.Bounds())
	default:
		flat = image.NewRGBA(img.Bounds())
		draw.Draw(flat, flat.Bounds(), image.White, image.Point{}, draw.Src)
	}
	draw.Draw(flat, flat.Bounds(), img, img.Bounds().Min, draw.Over)
	var buf bytes.Buffer
	if format == "jpeg" {
		err, typ = jpeg.Encode(&buf, flat, &jpeg.Options{Quality: 90}), "JPG"
	} else {
		// Opaque RGBA and Gray are written as 8-bit truecolour or greyscale without alpha.
		err, typ = (&png.Encoder{CompressionLevel: png.BestSpeed}).Encode(&buf, flat), "PNG"
	}
	if err != nil {
		return nil, "", fmt.Errorf("encode the image: %w", err)
	}
	return buf.Bytes(), typ, nil
}

// recoverRender turns a panic of the PDF writer (or of anything it calls) into an error, so a
// malformed input fails its print instead of the server. It is the last resort: inputs are
// checked before they reach the writer.
func recoverRender(err *error) {
	if r := recover(); r != nil {
		*err = fmt.Errorf("%w: the PDF writer failed: %v", ErrRender, r)
	}
}
