package printing

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	"io"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// BenchmarkLabelWriters writes 10,000 unit labels (Latin text, Chinese text as a bitmap, a
// unique Digital Link QR, a frame) as ZPL and as TSPL, and in the same run encodes the same
// 10,000 QRs and nothing else (what a PDF needs before it draws). It reports each language's
// rate as a share of that bare rate and the bytes a label takes. Run without -race:
//
//	go test -run '^$' -bench LabelWriters -benchtime 1x ./printing/
func BenchmarkLabelWriters(b *testing.B) {
	const n = 10_000
	def := &Definition{Key: "unit", Kind: KindLabel, Repeat: RepeatCode, Page: Page{Width: 60, Height: 40}, Elements: []Element{
		{ID: "name", Type: ElText, X: 2, Y: 1.5, W: 56, H: 5, Text: "冷鲜猪肉 批次 {{code.lot}}", Font: Font{Size: 9, Bold: true}},
		{ID: "qr", Type: ElQR, X: 3, Y: 8, W: 28, H: 28, Value: "{{code.url}}"},
		{ID: "serial", Type: ElText, X: 33, Y: 10, W: 25, H: 5, Text: "SN {{code.serial}}", Font: Font{Size: 8}},
		{ID: "exp", Type: ElText, X: 33, Y: 16, W: 25, H: 5, Text: "EXP {{code.expiry}}", Font: Font{Size: 7}},
		{ID: "frame", Type: ElBox, X: 0.5, Y: 0.5, W: 59, H: 39, Stroke: 0.2},
	}}
	pages := make([]*PageData, n)
	for i := range pages {
		serial := fmt.Sprintf("7KQ2M%07d", i)
		pages[i] = &PageData{Code: &ItemCode{Serial: serial, GTIN: "09501101530003", Lot: "L20261205-01", Expiry: "2026-12-31",
			URL: "https://t.example.cn/01/09501101530003/10/L20261205-01/21/" + serial + "?17=261231"}}
	}
	for b.Loop() {
		start := time.Now()
		for _, d := range pages {
			q, err := qrcode.New(d.Code.URL, qrcode.Medium)
			if err != nil {
				b.Fatal(err)
			}
			q.DisableBorder = true
			_ = q.Bitmap()
		}
		bare := time.Since(start)
		for _, lang := range []string{LangZPL, LangTSPL} {
			var cw labelByteCounter
			start := time.Now()
			got, err := WriteLabels(context.Background(), &cw, lang, def, pageSlice(pages), LabelOptions{})
			if err != nil || got != n {
				b.Fatal(got, err)
			}
			took := time.Since(start)
			b.ReportMetric(took.Seconds(), lang+"-s")
			b.ReportMetric(bare.Seconds()/took.Seconds(), lang+"-vs-bare-qr")
			b.ReportMetric(float64(cw.n)/n, lang+"-bytes/label")
		}
		b.ReportMetric(bare.Seconds(), "bare-qr-s")
	}
}

type labelByteCounter struct{ n int64 }

func (c *labelByteCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return len(p), nil
}

var _ io.Writer = (*labelByteCounter)(nil)

// BenchmarkLabelImage writes 2,000 TSPL labels with a logo (a 600 × 300 PNG scaled into 40 ×
// 20 mm) and the same labels without it, in the same run, and reports the ratio: the logo is
// read, decoded and scaled once per job (it was once per label), so it costs the bytes of its
// bitmap, not a decode per label.
//
//	go test -run '^$' -bench LabelImage -benchtime 1x ./printing/
func BenchmarkLabelImage(b *testing.B) {
	const n = 2_000
	img := image.NewGray(image.Rect(0, 0, 600, 300))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 13)
	}
	var logo bytes.Buffer
	if err := png.Encode(&logo, img); err != nil {
		b.Fatal(err)
	}
	text := Element{ID: "sn", Type: ElText, X: 2, Y: 30, W: 50, H: 5, Text: "SN {{record.id}}", Font: Font{Size: 8}}
	with := &Definition{Page: Page{Width: 60, Height: 40}, Elements: []Element{
		{ID: "logo", Type: ElImage, X: 10, Y: 2, W: 40, H: 20, Src: "f-logo"}, text}}
	without := &Definition{Page: Page{Width: 60, Height: 40}, Elements: []Element{text}}
	pages := make([]*PageData, n)
	for i := range pages {
		pages[i] = &PageData{ID: fmt.Sprintf("r%05d", i)}
	}
	reads := 0
	opt := LabelOptions{Images: func(context.Context, string) (image.Image, error) {
		reads++
		m, _, err := decodeImage(logo.Bytes())
		return m, err
	}}
	for b.Loop() {
		run := func(def *Definition) time.Duration {
			start := time.Now()
			if _, err := WriteLabels(context.Background(), io.Discard, LangTSPL, def, pageSlice(pages), opt); err != nil {
				b.Fatal(err)
			}
			return time.Since(start)
		}
		plain, logoRun := run(without), run(with)
		b.ReportMetric(logoRun.Seconds(), "s-with-logo")
		b.ReportMetric(plain.Seconds(), "s-without")
		b.ReportMetric(logoRun.Seconds()/plain.Seconds(), "with/without")
		b.ReportMetric(float64(reads), "image-reads")
		reads = 0
	}
}
