package printing

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"io"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/printing/printingtest"
)

// Tests of the fourth review of the printing engine (issue 11): one per finding.

// TestPrintingReview4_1: no value reaches a label printer as a command. A QR value with a line
// break is refused for TSPL (which ends a command at a line break) naming the element, and
// hex-escaped for ZPL (golden qr_newline.zpl); TSPL's escape "\[" is refused in a code and
// drawn, not sent, in text; a text's line break is a new line, never a new command.
func TestPrintingReview4_1(t *testing.T) {
	ctx := context.Background()
	evil := "https://t.example.cn/01/1\r\nPRINT 999\r\nQRCODE 0,0,M,4,A,0,\"x"
	page := &PageData{Record: map[string]any{"url": evil, "note": "line one\r\nPRINT 999\n^XZ^XA"}}
	qr := &Definition{Page: Page{Width: 40, Height: 30}, Elements: []Element{
		{ID: "qr", Type: ElQR, X: 2, Y: 2, W: 25, H: 25, Value: "{{url}}"},
	}}
	var buf bytes.Buffer
	_, err := WriteLabels(ctx, &buf, LangTSPL, qr, pageSlice([]*PageData{page}), LabelOptions{})
	if !errors.Is(err, ErrLabel) || !strings.Contains(err.Error(), `element "qr"`) || !strings.Contains(err.Error(), "control character") {
		t.Fatalf("a QR value with a line break went to a TSPL printer: %v\n%q", err, buf.String())
	}
	buf.Reset()
	if _, err := WriteLabels(ctx, &buf, LangZPL, qr, pageSlice([]*PageData{page}), LabelOptions{}); err != nil {
		t.Fatal(err)
	}
	compareGolden(t, filepath.Join("testdata", "golden", "qr_newline.zpl"), buf.Bytes())
	if strings.Count(buf.String(), "^XA") != 1 || strings.Count(buf.String(), "^XZ") != 1 || strings.ContainsAny(buf.String(), "\r") {
		t.Fatalf("the ZPL job carries the value as commands:\n%q", buf.String())
	}

	// "\[" in a TSPL code: refused; in text: drawn as a bitmap.
	esc := &PageData{Record: map[string]any{"url": `AB\["]C`}}
	buf.Reset()
	if _, err := WriteLabels(ctx, &buf, LangTSPL, qr, pageSlice([]*PageData{esc}), LabelOptions{}); !errors.Is(err, ErrLabel) || !strings.Contains(err.Error(), `element "qr"`) {
		t.Fatalf(`"\[" in a TSPL QR: %v`, err)
	}
	text := &Definition{Page: Page{Width: 60, Height: 30}, Elements: []Element{
		{ID: "t", Type: ElText, X: 2, Y: 2, W: 56, H: 20, Text: "{{note}} {{url}}", Font: Font{Size: 8, Wrap: true}},
	}}
	both := &PageData{Record: map[string]any{"note": "line one\r\nPRINT 999", "url": "plain"}}
	buf.Reset()
	if _, err := WriteLabels(ctx, &buf, LangTSPL, text, pageSlice([]*PageData{both, esc}), LabelOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if strings.HasPrefix(line, "PRINT 999") {
			t.Fatalf("a text value ran as a TSPL command:\n%q", buf.String())
		}
	}
	for _, line := range strings.Split(buf.String(), "\r\n") {
		if strings.HasPrefix(line, "TEXT") && strings.Contains(line, `\[`) {
			t.Fatalf(`"\[" went to the printer as text: %q`, line)
		}
	}
	if !strings.Contains(buf.String(), `,"PRINT 999 plain"`+"\r\n") {
		t.Fatalf("the second line of the text is not its own TEXT command:\n%q", buf.String())
	}
}

// pngWithSize is a valid 1×1 PNG whose header then declares w×h pixels (checksum fixed): what
// a decompression bomb's header looks like.
func pngWithSize(t *testing.T, w, h uint32) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, 1, 1))); err != nil {
		t.Fatal(err)
	}
	b := buf.Bytes()
	// signature (8), IHDR length (4), "IHDR" (4), width (4), height (4) … CRC after 13 bytes.
	binary.BigEndian.PutUint32(b[16:], w)
	binary.BigEndian.PutUint32(b[20:], h)
	binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
	return b
}

// TestPrintingReview4_2: an image is checked before it is decoded and re-encoded before the
// PDF writer sees it. A file declaring 40,000 × 40,000 pixels is refused at once with an error
// naming the element, on the PDF and on a label printer; a 16-bit PNG with transparency (which
// the PDF writer cannot take as it is) prints, flattened: no soft mask in the PDF.
func TestPrintingReview4_2(t *testing.T) {
	ctx := context.Background()
	bomb := pngWithSize(t, 40000, 40000)
	def := &Definition{Page: Page{Width: 50, Height: 50}, Elements: []Element{
		{ID: "logo", Type: ElImage, X: 5, Y: 5, W: 40, H: 40, Src: "{{photo}}"},
	}}
	d := &PageData{Record: map[string]any{"photo": []string{"f1"}}}
	read := func(string) ([]byte, error) { return bomb, nil }
	var buf bytes.Buffer
	_, err := Render(ctx, &buf, def, pagesOf(d), RenderOptions{Image: read})
	if !errors.Is(err, ErrRender) || !strings.Contains(err.Error(), `element "logo"`) || !strings.Contains(err.Error(), "megapixels") {
		t.Fatalf("a 1.6-gigapixel image on the PDF: %v", err)
	}

	k := newPrinterKernel(t)
	rec := printingtest.NewPrinter(t)
	ps := NewPrinterSet(k, PrinterOptions{TempDir: t.TempDir(), ReadFile: func(context.Context, *engine.Principal, string, string) ([]byte, error) {
		return bomb, nil
	}})
	sys := engine.SystemPrincipal()
	if _, err := ps.Put(ctx, sys, PrinterList{Printers: []Printer{{Name: "p", Host: "127.0.0.1", Port: rec.Port(), Language: LangZPL}}}); err != nil {
		t.Fatal(err)
	}
	_, err = ps.Print(ctx, sys, "food", "p", def, pagesOf(d), PrintOptions{})
	var ce *engine.CodedError
	if !errors.As(err, &ce) || ce.Code != "label_unprintable" || !strings.Contains(ce.Message(engine.LangEN), `element "logo"`) || !strings.Contains(ce.Message(engine.LangEN), "megapixels") {
		t.Fatalf("a 1.6-gigapixel image on a label printer: %v", err)
	}

	// 16 bits per channel, half transparent.
	img := image.NewNRGBA64(image.Rect(0, 0, 8, 4))
	for y := range 4 {
		for x := range 8 {
			img.SetNRGBA64(x, y, color.NRGBA64{R: 0, G: 0, B: 0xffff, A: 0x8000})
		}
	}
	var p16 bytes.Buffer
	if err := png.Encode(&p16, img); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if _, err := Render(ctx, &buf, def, pagesOf(d), RenderOptions{Image: func(string) ([]byte, error) { return p16.Bytes(), nil }}); err != nil {
		t.Fatalf("a 16-bit PNG with alpha: %v", err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("/Subtype /Image")) || bytes.Contains(buf.Bytes(), []byte("/SMask")) {
		t.Fatal("the image is not in the PDF, or is with its transparency")
	}
}

// TestPrintingReview4_3: a printer's timeout bounds each write, not the whole job: a printer
// that keeps reading, slowly, takes a job that lasts several timeouts; one that stops reading
// fails after the timeout, and the sender says how many bytes went out.
func TestPrintingReview4_3(t *testing.T) {
	ctx := context.Background()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var stopAfter atomic.Int64 // bytes after which the printer stops reading (-1: never)
	stopAfter.Store(-1)
	finished := make(chan int64, 1) // what a connection read, once the sender closed it
	held := make(chan net.Conn, 1)  // a connection the printer stopped reading
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			stop, got := stopAfter.Load(), int64(0)
			buf := make([]byte, 256<<10)
			for {
				if stop >= 0 && got >= stop {
					held <- c
					break
				}
				n, err := c.Read(buf)
				got += int64(n)
				if err != nil {
					c.Close()
					finished <- got
					break
				}
				time.Sleep(100 * time.Millisecond) // 2.5 MB/s: a slow printer
			}
		}
	}()
	pr := Printer{Name: "slow", Host: "127.0.0.1", Port: ln.Addr().(*net.TCPAddr).Port, Language: LangZPL, Timeout: 1}
	// 12 MiB at 2.5 MB/s: about five seconds, five times the timeout.
	const size = 12 << 20
	n, err := SendCounted(ctx, pr, io.LimitReader(zeros{}, size))
	if err != nil || n != size {
		t.Fatalf("a printer that keeps reading: %d bytes, %v", n, err)
	}
	if read := <-finished; read != size {
		t.Fatalf("the printer read %d bytes of %d", read, size)
	}
	stopAfter.Store(1 << 20)
	n, err = SendCounted(ctx, pr, io.LimitReader(zeros{}, 64<<20))
	var ce *engine.CodedError
	if !errors.As(err, &ce) || ce.Code != "printer_failed" || n < 1<<20 || n >= 64<<20 {
		t.Fatalf("a printer that stops reading: %d bytes, %v", n, err)
	}
	(<-held).Close()
}

// TestPrintingReview4_7: a page's table continuation labels are numbered on from its own
// number ({{page}} of {{pages}} as the engine counted them), on the PDF and on a label printer.
func TestPrintingReview4_7(t *testing.T) {
	needPoppler(t)
	rows := make([]map[string]any, 10)
	for i := range rows {
		rows[i] = map[string]any{"item": "x"}
	}
	def := &Definition{Page: Page{Width: 60, Height: 40}, Elements: []Element{
		{ID: "no", Type: ElText, X: 2, Y: 2, W: 40, H: 6, Text: "P{{page}}/{{pages}}"},
		{ID: "tbl", Type: ElTable, X: 2, Y: 10, W: 56, H: 24, Table: &Table{Source: "lines", RowHeight: 6, Columns: []Column{
			{Header: engine.Text{ZH: "品名"}, Value: "{{row.item}}"}}}},
	}}
	// 24 mm: a 6 mm header and three rows a label; ten rows are four labels, 5 to 8 of 12.
	d := &PageData{Record: map[string]any{"lines": rows}, Page: 5, Pages: 12}
	if n := labelsOf(def, d); n != 4 {
		t.Fatalf("labelsOf = %d, want 4", n)
	}
	pdf, st := renderPDF(t, def, RenderOptions{}, d)
	text := pdfText(t, pdf)
	for _, want := range []string{"P5/12", "P6/12", "P7/12", "P8/12"} {
		if !strings.Contains(text, want) {
			t.Errorf("PDF lacks %s: %q", want, text)
		}
	}
	if st.Pages != 4 || strings.Count(text, "P5/12") != 1 {
		t.Fatalf("%d pages, text %q", st.Pages, text)
	}
	var buf bytes.Buffer
	if _, err := WriteLabels(context.Background(), &buf, LangZPL, def, pageSlice([]*PageData{d}), LabelOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"^FDP5/12^FS", "^FDP6/12^FS", "^FDP8/12^FS"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("ZPL lacks %s:\n%s", want, buf.String())
		}
	}
	// A preview's page limit cuts a long table short.
	pdf, st = renderPDF(t, def, RenderOptions{MaxPages: 2}, d)
	if st.Pages != 2 {
		t.Fatalf("MaxPages 2: %d pages", st.Pages)
	}
}

// TestPrintingReview4_9: a label job reads and scales an image once, not once per label; the
// engine draws at most Options.Renders (2) prints at a time, and one that cannot start within
// its time fails without drawing.
func TestPrintingReview4_9(t *testing.T) {
	var logo bytes.Buffer
	img := image.NewGray(image.Rect(0, 0, 40, 20))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	if err := png.Encode(&logo, img); err != nil {
		t.Fatal(err)
	}
	reads := 0
	def := &Definition{Page: Page{Width: 50, Height: 30}, Elements: []Element{
		{ID: "logo", Type: ElImage, X: 2, Y: 2, W: 30, H: 15, Src: "f-logo"},
	}}
	pages := make([]*PageData, 50)
	for i := range pages {
		pages[i] = &PageData{}
	}
	var buf bytes.Buffer
	opt := LabelOptions{Images: func(context.Context, string) (image.Image, error) {
		reads++
		m, _, err := decodeImage(logo.Bytes())
		return m, err
	}}
	if _, err := WriteLabels(context.Background(), &buf, LangTSPL, def, pageSlice(pages), opt); err != nil {
		t.Fatal(err)
	}
	if reads != 1 || strings.Count(buf.String(), "BITMAP ") != 50 {
		t.Fatalf("the image was read %d times for 50 labels (%d bitmaps)", reads, strings.Count(buf.String(), "BITMAP "))
	}

	k := newPrinterKernel(t)
	e, err := New(k, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if cap(e.renders) != 2 {
		t.Fatalf("renders at once: %d, want 2", cap(e.renders))
	}
	for range 2 {
		if _, err := e.acquireRender(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	drawn := false
	never := func(yield func(*PageData, error) bool) { drawn = true }
	err = e.renderPDF(ctx, io.Discard, nil, "food", def, "", 0, never)
	if !errors.Is(err, context.DeadlineExceeded) || drawn {
		t.Fatalf("a third render while two draw: %v (drawn %v)", err, drawn)
	}
}
