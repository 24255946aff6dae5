package browsertest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// dragBy drags the element matching sel by (dx, dy) CSS pixels with real mouse events (the
// page sees pointer events), from a point inside it (fx, fy: fractions of its box).
func (b *browser) dragBy(sel string, fx, fy, dx, dy float64) {
	b.t.Helper()
	b.run("drag "+sel, chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		p, err := chromedp.Evaluate[[]float64](fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.left + r.width * %g, r.top + r.height * %g] })()`, sel, fx, fy))(ctx, t)
		if err != nil {
			return err
		}
		mouse := func(typ input.DispatchMouseEventType, x, y float64, opts ...chromedp.MouseOption) error {
			_, err := chromedp.MouseEvent(typ, x, y, append([]chromedp.MouseOption{chromedp.ButtonLeft}, opts...)...)(ctx, t)
			return err
		}
		if err := mouse(chromedp.MouseMoved, p[0], p[1], chromedp.ButtonNone); err != nil {
			return err
		}
		if err := mouse(chromedp.MousePressed, p[0], p[1], chromedp.ClickCount(1)); err != nil {
			return err
		}
		const steps = 8
		for i := 1; i <= steps; i++ {
			x, y := p[0]+dx*float64(i)/steps, p[1]+dy*float64(i)/steps
			if err := mouse(chromedp.MouseMoved, x, y, func(p *input.DispatchMouseEventParams) { p.Buttons = 1 }); err != nil {
				return err
			}
			time.Sleep(20 * time.Millisecond)
		}
		return mouse(chromedp.MouseReleased, p[0]+dx, p[1]+dy, chromedp.ClickCount(1))
	}))
}

// clickOnlyShown clicks the one element matching sel that is showing (menus keep hidden copies).
func (b *browser) clickOnlyShown(sel string) {
	b.t.Helper()
	b.run("click "+sel, settled, chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
		const shown = [...document.querySelectorAll(%q)].filter((e) => e.offsetParent);
		if (shown.length !== 1) return false;
		shown[0].click();
		return true;
	})()`, sel), chromedp.WithPollingInterval(100*time.Millisecond)))
}

// field is the native input or textarea of the Element Plus input marked data-test=name
// (ElInput hands its attributes to the native element, ElInputNumber keeps them on its box).
func field(name string) string {
	return fmt.Sprintf(`input[data-test=%[1]q], textarea[data-test=%[1]q], [data-test=%[1]q] input, [data-test=%[1]q] textarea`, name)
}

// setNumber types v into the Element Plus number input marked data-test=sel and leaves it (its change).
func (b *browser) setNumber(sel, v string) {
	b.t.Helper()
	b.run("set "+sel+" to "+v, b.typeInto(field(sel), v), chromedp.KeyEvent("\t"))
	b.run("see "+sel+" hold "+v, chromedp.Poll[chromedp.Void](fmt.Sprintf(`Number(document.querySelector(%q).value) === %s`, field(sel), v), chromedp.WithPollingInterval(100*time.Millisecond)))
}

// TestAnalystDesignsALabel (issue 11 item 7): on a 60×40 mm label an analyst places a field
// (drags it with the pointer, nudges it with an arrow key), a QR code of {{code.url}} and a
// GS1-128 barcode; an EAN-13 the server refuses is shown refused on that element, removed, the
// removal undone and redone; the draft is saved, previewed as the server's real PDF, and
// published. For a lot record 100 item codes are issued and printed: the download is a PDF of
// 100 labels of 60×40 mm and the lot counts 100 printed; ten more go to a ZPL printer (a TCP
// listener) through the same dialog; a serial is reprinted and another voided with reasons. On a 390×844 phone one code's
// consumer page opens, the designer says designing is for larger screens, and the lot's codes
// page is usable.
func TestAnalystDesignsALabel(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "label-designer")
	t.Logf("screenshots: %s", screens)
	s, admin := plantWithReceipt(t)

	var lot struct {
		ID   string         `json:"id"`
		Data map[string]any `json:"data"`
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{
		"material": "鲜牛奶", "qty": 1000, "gtin": "09501101530003", "expiry": "2027-06-30", "supplier_lot": "S-88",
	}}, 201, &lot)
	lotNo := fmt.Sprint(lot.Data["lot_no"])

	t.Run("desktop", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[0], filepath.Join(screens, "desktop"))
		b.signInAt(s.URL+"/apps/plant/labels/new/design?form=receipt", `[data-test="label-canvas"]`)
		b.waitText(`[data-test="label-status"]`, "新模板")
		b.pickOption(`[data-test="tpl-repeat"]`, "每个物品码一张")
		b.shot("01-new-label")

		// A field: 字段 → 物料, a text of {{material}}; dragged right and down by the pointer
		// (its corner lands on the 1 mm grid), then nudged 1 mm right with the arrow key.
		b.run("open the fields", chromedp.Click(chromedp.CSS(`[data-test="pal-field"]`)))
		b.clickOnlyShown(`[data-field="material"]`)
		b.run("see the field", chromedp.WaitVisible(chromedp.CSS(`[data-test="el-text_1"]`)))
		if v := b.value(field("prop-text")); v != "{{material}}" {
			t.Fatalf("the field's text is %q", v)
		}
		x0 := b.value(field("prop-x"))
		b.dragBy(`[data-test="el-text_1"] .lc__box`, 0.5, 0.5, 60, 24)
		x1 := b.value(field("prop-x"))
		if x1 == x0 || !regexp.MustCompile(`^\d+\.00$`).MatchString(x1) {
			t.Fatalf("dragging moved x from %s to %s (want a whole millimetre elsewhere)", x0, x1)
		}
		b.run("nudge right", chromedp.KeyEvent(kb.ArrowRight))
		b.shot("02-field-dragged")
		// Where it goes for the print: top left.
		b.setNumber("prop-x", "2")
		b.setNumber("prop-y", "2")
		b.setNumber("prop-w", "34")

		// A QR code: its content is the item code's link, drawn by bwip-js in the canvas.
		b.run("add a QR", chromedp.Click(chromedp.CSS(`[data-test="pal-qr"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="el-qr_1"] [data-code-drawn]`)))
		if v := b.value(field("prop-value")); v != "{{code.url}}" {
			t.Fatalf("the QR's content is %q", v)
		}
		b.setNumber("prop-x", "40")
		b.setNumber("prop-y", "2")
		b.setNumber("prop-w", "18")

		// A GS1-128 barcode of the code's GTIN, lot and serial, with its human-readable line.
		b.run("add a barcode", chromedp.Click(chromedp.CSS(`[data-test="pal-barcode"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="el-code128_1"]`)))
		b.pickOption(`[data-test="prop-code-type"]`, "GS1-128")
		b.run("its content", b.typeInto(field("prop-value"), "(01){{code.gtin}}(10){{code.lot}}(21){{code.serial}}"))
		b.setNumber("prop-x", "2")
		b.setNumber("prop-y", "22")
		b.setNumber("prop-w", "56")
		b.setNumber("prop-h", "16")
		b.run("see it drawn", chromedp.WaitVisible(chromedp.CSS(`[data-test="el-code128_1"] [data-code-drawn]`)))
		b.shot("03-three-elements")

		// An EAN-13 of letters: the server refuses it and the refusal shows on that element.
		b.run("click the empty canvas", chromedp.Click(chromedp.CSS(`[data-test="label-canvas"]`)))
		b.run("add another barcode", chromedp.Click(chromedp.CSS(`[data-test="pal-barcode"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="el-code128_2"]`)))
		b.pickOption(`[data-test="prop-code-type"]`, "EAN-13")
		b.run("a bad EAN", b.typeInto(field("prop-value"), "ABC"))
		b.run("save", chromedp.Click(chromedp.CSS(`[data-test="label-save"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="el-code128_2"].has-problem`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="props-code128_2"] .el-form-item__error`)))
		b.shot("04-refused-on-element")
		b.run("remove it", chromedp.Click(chromedp.CSS(`[data-test="remove-element"]`)), chromedp.WaitNotPresent(chromedp.CSS(`[data-test="el-code128_2"]`)))
		b.run("undo", chromedp.Click(chromedp.CSS(`[data-test="label-undo"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="el-code128_2"]`)))
		b.run("redo", chromedp.Click(chromedp.CSS(`[data-test="label-redo"]`)), chromedp.WaitNotPresent(chromedp.CSS(`[data-test="el-code128_2"]`)))
		b.run("save again", chromedp.Click(chromedp.CSS(`[data-test="label-save"]`)))
		b.waitURL("/apps/plant/labels/receipt_label/design")
		b.waitText(`[data-test="label-status"]`, "草稿")
		b.run("no problem left", chromedp.WaitNotPresent(chromedp.CSS(`.has-problem`)))
		b.noPageErrorsBut("400")

		// 预览: the server's PDF of the draft.
		b.run("preview", chromedp.Click(chromedp.CSS(`[data-test="label-preview"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="preview-ready"]`)))
		// The dialog shows what the server answered only once it is a PDF (it checks "%PDF-").
		if typ := evalString(b, `document.querySelector('[data-test="preview-ready"]').dataset.type`); typ != "application/pdf" {
			t.Fatalf("the preview's type is %q", typ)
		}
		// The same preview for the lot record, asked directly: a PDF of 60×40 mm pages.
		res := admin.Raw("POST", "/api/v1/apps/plant/print-templates/receipt_label/preview", "application/json", []byte(`{"record":"`+lot.ID+`"}`))
		if res.Status != 200 || !strings.HasPrefix(string(res.Body), "%PDF-") || res.Header.Get("Content-Type") != "application/pdf" {
			t.Fatalf("preview for the lot: %d %s %.60q", res.Status, res.Header.Get("Content-Type"), res.Body)
		}
		b.shot("05-preview")
		b.closeDialog(`[data-test="preview-dialog"] .el-dialog__headerbtn`)
		b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="label-publish"]`)))
		b.waitText(`[data-test="label-status"]`, "已发布第 1 版")
		b.shot("06-published")

		var versions []struct {
			Version    int `json:"version"`
			Definition struct {
				Page     struct{ Width, Height float64 } `json:"page"`
				Repeat   string                          `json:"repeat"`
				Elements []struct {
					Type, Text, Value string
					X, Y, W, H        float64
				} `json:"elements"`
			} `json:"definition"`
		}
		admin.Do("GET", "/api/v1/apps/plant/print-templates/receipt_label/versions", nil, 200, &versions)
		if len(versions) != 1 {
			t.Fatalf("versions: %+v", versions)
		}
		d := versions[0].Definition
		got := []string{}
		for _, e := range d.Elements {
			got = append(got, e.Type+":"+e.Text+e.Value)
		}
		want := "text:{{material}} qr:{{code.url}} gs1_128:(01){{code.gtin}}(10){{code.lot}}(21){{code.serial}}"
		if d.Page.Width != 60 || d.Page.Height != 40 || d.Repeat != "code" || strings.Join(got, " ") != want {
			t.Fatalf("published: %v×%v %q %q", d.Page.Width, d.Page.Height, d.Repeat, got)
		}

		// 一物一码: the lot's drawer offers 打印 and 一物一码 now that the form has a per-code
		// template; 100 codes are issued from the lot's codes page, then printed as one PDF.
		// The list opens the lot's drawer from its address (?open=, as the inbox links do): a click
		// on a row the table is still laying out may land on nothing under CI's load.
		b.run("open the lot", chromedp.Navigate(s.URL+"/apps/plant/forms/receipt?open="+lot.ID), chromedp.WaitVisible(chromedp.CSS(`[data-test="record-table"] .el-table__row`)))
		b.waitText(`[data-test="record-table"]`, "鲜牛奶")
		b.run("see its drawer", chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-test="record-print"]`)))
		b.shot("07a-record-drawer")
		b.run("open the lot's codes", chromedp.Click(chromedp.CSS(`[data-test="record-codes"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="codes-issue"]`)))
		b.waitURL("/apps/plant/forms/receipt/records/" + lot.ID + "/codes")
		b.waitText(`[data-test="codes-title"]`, lotNo)
		b.setNumber("codes-count", "100")
		b.run("issue", chromedp.Click(chromedp.CSS(`[data-test="codes-issue"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-message-box__btns .el-button--primary`)), settled)
		b.shot("07-issue-confirm")
		b.run("confirm", chromedp.Click(chromedp.CSS(`.el-message-box__btns .el-button--primary`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="codes-table"]`)))
		b.waitText(`[data-test="codes-totals"]`, "已发 100")
		b.shot("08-issued")

		downloads := t.TempDir()
		b.run("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
			return err
		}))
		b.run("open the print dialog", chromedp.Click(chromedp.CSS(`[data-test^="codes-print-"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="print-go"]`)), settled)
		b.run("see the issue picked", chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-test="print-issuance"] .el-select__selected-item:not(.is-hidden)')?.innerText.includes('100')`, chromedp.WithPollingInterval(100*time.Millisecond)))
		b.shot("09-print-dialog")
		b.run("print", chromedp.Click(chromedp.CSS(`[data-test="print-go"]`)))
		pdf := waitDownload(t, downloads, ".pdf")
		info, err := exec.Command("pdfinfo", pdf).CombinedOutput()
		if err != nil {
			t.Fatalf("pdfinfo %s: %v\n%s", pdf, err, info)
		}
		if !regexp.MustCompile(`(?m)^Pages:\s+100$`).Match(info) || !regexp.MustCompile(`(?m)^Page size:\s+170\.0\d* x 113\.3\d* pts`).Match(info) {
			t.Fatalf("the printed PDF is not 100 labels of 60×40 mm:\n%s", info)
		}
		b.waitText(`[data-test="codes-totals"]`, "已打印 100")
		b.shot("10-printed")

		// Ten more codes to a ZPL label printer (a listener standing in for it): the dialog
		// offers the configured printer and the printer gets 10 labels.
		zpl := listenPrinter(t)
		admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 0, "printers": []map[string]any{
			{"name": "包装线", "host": "127.0.0.1", "port": zpl.port, "language": "zpl", "dpi": 203},
		}}, 200, nil)
		var ten struct {
			ID string `json:"id"`
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records/"+lot.ID+"/codes", map[string]any{"count": 10}, 201, &ten)
		b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-test="codes-print-`+ten.ID+`"]`)))
		b.run("open the print dialog", chromedp.Click(chromedp.CSS(`[data-test="codes-print-`+ten.ID+`"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="print-go"]`)), settled)
		b.run("to the printer", chromedp.Click(chromedp.CSS(`[data-test="output-printer"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="print-printer"]`)))
		b.waitText(`[data-test="print-printer"]`, "包装线 · ZPL · 203 dpi")
		b.shot("10b-print-to-printer")
		b.run("print", chromedp.Click(chromedp.CSS(`[data-test="print-go"]`)))
		b.waitText(`.el-message`, "已发送到打印机")
		if n := zpl.labels("^XZ", 10); n != 10 {
			t.Fatalf("the printer got %d ZPL labels, want 10", n)
		}
		b.waitText(`[data-test="codes-totals"]`, "已打印 110")

		// 补打 prints a serial's label again — the print dialog asks the reason and downloads a
		// PDF of that one label — and the reprint is counted; 作废 voids one (a code issued apart).
		var first, spare struct {
			FirstSerial string `json:"firstSerial"`
		}
		var lotCodes struct {
			Issuances []struct {
				FirstSerial string `json:"firstSerial"`
			} `json:"issuances"`
		}
		admin.Do("GET", "/api/v1/apps/plant/forms/receipt/records/"+lot.ID+"/codes", nil, 200, &lotCodes)
		first.FirstSerial = lotCodes.Issuances[0].FirstSerial
		admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records/"+lot.ID+"/codes", map[string]any{"count": 1}, 201, &spare)
		b.run("reload", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`[data-test="codes-table"]`)))
		b.waitText(`[data-test="codes-totals"]`, "已发 111")
		b.run("reprint the first", b.typeInto(field("codes-serial"), first.FirstSerial), b.typeInto(field("codes-reason"), "标签污损"),
			chromedp.Click(chromedp.CSS(`[data-test="codes-reprint"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="print-serials"]`)), settled)
		b.waitText(`[data-test="print-serials"]`, first.FirstSerial)
		if v := b.value(field("print-reason")); v != "标签污损" {
			t.Fatalf("the reprint's reason is %q", v)
		}
		b.shot("11a-reprint-dialog")
		reprints := t.TempDir()
		b.run("reprint to a PDF", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: reprints})
			return err
		}), chromedp.Click(chromedp.CSS(`[data-test="print-go"]`)))
		reprinted := waitDownload(t, reprints, ".pdf")
		if info, err := exec.Command("pdfinfo", reprinted).CombinedOutput(); err != nil || !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(info) {
			t.Fatalf("the reprint's PDF is not one label: %v\n%s", err, info)
		}
		b.waitText(`[data-test="codes-totals"]`, "补打 1")
		b.run("the dialog closes", noOverlay)
		b.run("void the spare", b.typeInto(field("codes-serial"), spare.FirstSerial), b.typeInto(field("codes-reason"), "多发"),
			chromedp.Click(chromedp.CSS(`[data-test="codes-void"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-message-box__btns .el-button--primary`)), settled,
			chromedp.Click(chromedp.CSS(`.el-message-box__btns .el-button--primary`)))
		b.waitText(`[data-test="codes-totals"]`, "已作废 1")
		b.shot("11-reprint-void")
		b.noPageErrorsBut("400")
	})

	var codes struct {
		Issuances []struct {
			FirstSerial string `json:"firstSerial"`
			Counts      struct{ Issued, Printed int }
		} `json:"issuances"`
	}
	admin.Do("GET", "/api/v1/apps/plant/forms/receipt/records/"+lot.ID+"/codes", nil, 200, &codes)
	if len(codes.Issuances) != 3 || codes.Issuances[0].Counts.Issued != 100 || codes.Issuances[0].Counts.Printed != 100 {
		t.Fatalf("the lot's codes: %+v", codes)
	}

	t.Run("phone", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[1], filepath.Join(screens, "phone"))
		// A consumer's phone set to Chinese scans one code: its page opens without signing in
		// (headless Chromium asks for en-US whatever its --lang).
		b.run("speak Chinese", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
				UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile", AcceptLanguage: "zh-CN,zh;q=0.9"})
			return err
		}))
		b.run("scan a code", chromedp.Navigate(s.URL+"/t/"+codes.Issuances[0].FirstSerial), chromedp.WaitVisible(chromedp.CSS("h1")))
		b.waitText("body", "您是第 1 次查询")
		if w := evalString(b, `String(document.documentElement.scrollWidth)`); w != "390" {
			t.Fatalf("the consumer page is %s px wide on a 390 px phone", w)
		}
		b.shot("01-consumer-page")

		b.signInAt(s.URL+"/apps/plant/labels/receipt_label/design", `[data-test="label-phone-notice"]`)
		b.waitText(`[data-test="label-status"]`, "已发布第 1 版")
		b.run("see the label", chromedp.WaitVisible(chromedp.CSS(`[data-test="el-qr_1"] [data-code-drawn]`)))
		b.shot("02-designer-notice")
		b.run("open the lot's codes", chromedp.Navigate(s.URL+"/apps/plant/forms/receipt/records/"+lot.ID+"/codes"), chromedp.WaitVisible(chromedp.CSS(`[data-test="codes-issue"]`)))
		b.waitText(`[data-test="codes-totals"]`, "已打印 110")
		if w := evalString(b, `String(document.documentElement.scrollWidth)`); w != "390" {
			t.Fatalf("the codes page is %s px wide on a 390 px phone", w)
		}
		b.shot("03-codes")
		b.run("open the templates", chromedp.Navigate(s.URL+"/apps/plant/labels"), chromedp.WaitVisible(chromedp.CSS(`[data-label="receipt_label"]`)))
		b.waitText(`[data-label="receipt_label"]`, "已发布第 1 版")
		b.shot("04-templates")
		english := chromedp.Search(`//li[contains(@class, "el-select-dropdown__item")][normalize-space()="English"]`)
		b.run("open the languages", chromedp.Click(chromedp.CSS(`[data-test="language"]`)), chromedp.WaitVisible(english), settled)
		b.run("switch to English", chromedp.Click(english))
		b.waitText(`[data-label="receipt_label"]`, "Version 1 published")
		b.waitText(`[data-test="label-list"]`, "Print templates")
		b.shot("05-templates-english")
		b.noPageErrors()
	})
}

// evalString evaluates js (an expression or a promise) in the page and answers its string.
func evalString(b *browser, js string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// printerListener is a TCP listener standing in for a label printer: it keeps what it is sent.
type printerListener struct {
	port int
	mu   sync.Mutex
	got  bytes.Buffer
}

func listenPrinter(t *testing.T) *printerListener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	pl := &printerListener{port: ln.Addr().(*net.TCPAddr).Port}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 32<<10)
				for {
					n, err := c.Read(buf)
					pl.mu.Lock()
					pl.got.Write(buf[:n])
					pl.mu.Unlock()
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return pl
}

// labels counts the labels received (each ends with end), waiting a while for want of them.
func (pl *printerListener) labels(end string, want int) int {
	n := 0
	for range 300 {
		pl.mu.Lock()
		n = strings.Count(pl.got.String(), end)
		pl.mu.Unlock()
		if n >= want {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	return n
}
