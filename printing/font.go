package printing

import (
	_ "embed"
	"errors"
	"fmt"
	"sync"

	"codeberg.org/go-pdf/fpdf"
)

// cjkFont is WenQuanYi Micro Hei (Apache-2.0, see fonts/README.md): TrueType outlines for
// Chinese, Latin and digits, the one face every PDF is set in (~4.6 MB of the binary).
//
//go:embed fonts/wqy-microhei.ttf
var cjkFont []byte

// fontFamily is the name the font is registered under in each PDF.
const fontFamily = "wqy"

var fontCheck struct {
	once sync.Once
	err  error
}

// CheckFont reports whether the PDF writer can read the embedded font and that it has the
// glyphs labels need (Chinese, Latin, digits). It does the work once per process; Render calls
// it before writing anything, and a server may call it at start-up to fail early.
func CheckFont() error {
	fontCheck.once.Do(func() {
		pdf := fpdf.New("P", "mm", "A4", "")
		fontCheck.err = addFont(pdf)
		if fontCheck.err != nil {
			return
		}
		for _, s := range []string{"中", "文", "A", "g", "0", "9", "（"} {
			if pdf.GetStringWidth(s) <= 0 {
				fontCheck.err = fmt.Errorf("check font: no glyph for %q", s)
				return
			}
		}
	})
	return fontCheck.err
}

// addFont registers the embedded font in pdf and selects it. fpdf reports a font it cannot
// parse by printing, not by an error, so the font is selected to make a failure an error.
// The font's parsed tables belong to one document in fpdf, so each PDF parses it (~15 ms once
// per file of up to thousands of labels, never per label).
func addFont(pdf *fpdf.Fpdf) error {
	pdf.AddUTF8FontFromBytes(fontFamily, "", cjkFont)
	pdf.SetFont(fontFamily, "", 10)
	if err := pdf.Error(); err != nil {
		return fmt.Errorf("load font %s: %w", fontFamily, err)
	}
	if pdf.GetStringWidth("中") <= 0 {
		return errors.New("load font: no metrics")
	}
	return nil
}
