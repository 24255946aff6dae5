package printing

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"tracecraft/engine"
)

// The test label (测试打印): one small label an administrator sends from the printer screen to
// see that a configured printer is reached and prints — its name, language and resolution, the
// time, and a QR code — written by the same label writers and sent the same way as a job.

// Test label size in millimetres: 40 × 30 mm is the smallest stock common in plants, so the
// test fits whatever is loaded (on larger stock it prints in the top-left corner).
const (
	testLabelWidth  = 40
	testLabelHeight = 30
	// testPrintTimeout bounds a test print in all (connecting and sending a label of a few
	// kilobytes): the printer's own timeout when shorter.
	testPrintTimeout = 20 * time.Second
)

// testLabelDef is the test label's template. Its values are placeholders filled from the
// page's record, so a printer's name is printed as text, never read as a placeholder.
var testLabelDef = &Definition{
	Key:  "printer_test",
	Kind: KindLabel,
	Page: Page{Width: testLabelWidth, Height: testLabelHeight, Margin: Margin{Top: 1, Right: 1, Bottom: 1, Left: 1}},
	Elements: []Element{
		{ID: "frame", Type: ElBox, X: 0.5, Y: 0.5, W: 39, H: 29, Stroke: 0.3},
		{ID: "title", Type: ElText, X: 2, Y: 1.5, W: 36, H: 4.5, Text: "测试打印 TEST", Font: Font{Size: 8, Bold: true}},
		{ID: "name", Type: ElText, X: 2, Y: 7, W: 20, H: 5, Text: "{{printer}}", Font: Font{Size: 9, Bold: true}},
		{ID: "spec", Type: ElText, X: 2, Y: 13, W: 20, H: 4, Text: "{{spec}}", Font: Font{Size: 7}},
		{ID: "date", Type: ElText, X: 2, Y: 18.5, W: 20, H: 4, Text: "{{date}}", Font: Font{Size: 7}},
		{ID: "time", Type: ElText, X: 2, Y: 23, W: 20, H: 4, Text: "{{time}}", Font: Font{Size: 7}},
		{ID: "qr", Type: ElQR, X: 23, Y: 7.5, W: 15, H: 15, Value: "{{qr}}"},
	},
}

// testLabelQR is what the test label's QR code carries for printer pr printed at now.
func testLabelQR(pr Printer, now time.Time) string {
	return "TRACECRAFT TEST " + pr.Name + " " + now.Format(time.RFC3339)
}

// WriteTestLabel writes the test label for pr, printed at now, in pr's language and at its
// resolution.
func WriteTestLabel(ctx context.Context, w io.Writer, pr Printer, now time.Time) error {
	pr = pr.withDefaults()
	page := &PageData{Now: now, Record: map[string]any{
		"printer": pr.Name,
		"spec":    strings.ToUpper(pr.Language) + ", " + strconv.Itoa(pr.DPI) + " dpi",
		"date":    now.Format("2006-01-02"),
		"time":    now.Format("15:04:05"),
		"qr":      testLabelQR(pr, now),
	}}
	n, err := WriteLabels(ctx, w, pr.Language, testLabelDef, pageSlice([]*PageData{page}), LabelOptions{DPI: pr.DPI})
	if err != nil {
		return fmt.Errorf("test label for %s: %w", pr.Name, err)
	}
	if n != 1 {
		return fmt.Errorf("test label for %s: %d labels written", pr.Name, n)
	}
	return nil
}

// TestPrintResult is what a test print sent.
type TestPrintResult struct {
	Printer  string    `json:"printer"`
	Addr     string    `json:"addr"`
	Language string    `json:"language"`
	DPI      int       `json:"dpi"`
	Bytes    int       `json:"bytes"`
	At       time.Time `json:"at"`
}

// PrintTestLabel sends the test label to the configured printer named name (any case); p must
// be a system administrator. The act is audited ("printers.test", the printer's address and
// language) before anything is sent. It takes at most the printer's timeout, and no more than
// 20 s; a printer that cannot be reached or does not take the label is a conflict whose message
// names it and says why ("打印机 包装线1 无法连接：connection refused"). An unknown name is
// not found.
func (s *PrinterSet) PrintTestLabel(ctx context.Context, p *engine.Principal, name string) (TestPrintResult, error) {
	if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
		return TestPrintResult{}, fmt.Errorf("test printer %q: %w", name, err)
	}
	l, err := s.read(ctx)
	if err != nil {
		return TestPrintResult{}, err
	}
	var pr Printer
	found := false
	for _, x := range l.Printers {
		if strings.EqualFold(x.Name, strings.TrimSpace(name)) {
			pr, found = x.withDefaults(), true
			break
		}
	}
	if !found {
		return TestPrintResult{}, fmt.Errorf("test printer %q: %w", name, engine.ErrNotFound)
	}
	now := time.Now()
	var job bytes.Buffer
	if err := WriteTestLabel(ctx, &job, pr, now); err != nil {
		return TestPrintResult{}, err
	}
	res := TestPrintResult{Printer: pr.Name, Addr: pr.Addr(), Language: pr.Language, DPI: pr.DPI, Bytes: job.Len(), At: now.UTC()}
	actor, ip := "", ""
	if p != nil {
		actor, ip = p.Username, p.IP
	}
	if _, err := s.k.Audit.Append(ctx, engine.AuditEntry{Actor: actor, IP: ip, Action: "printers.test", Kind: "printers", Target: pr.Name,
		After: map[string]any{"addr": res.Addr, "language": res.Language, "dpi": res.DPI}}); err != nil {
		return TestPrintResult{}, fmt.Errorf("test printer %q: %w", pr.Name, err)
	}
	ctx, cancel := context.WithTimeout(ctx, min(time.Duration(pr.Timeout)*time.Second, testPrintTimeout))
	defer cancel()
	if err := Send(ctx, pr, &job); err != nil {
		return TestPrintResult{}, err
	}
	return res, nil
}
