package browsertest

import (
	"fmt"
	"io"
	"net"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

// labelPrinter is a label printer on loopback: each connection's bytes are one job.
type labelPrinter struct {
	ln   net.Listener
	jobs chan string
}

func newLabelPrinter(t *testing.T) *labelPrinter {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &labelPrinter{ln: ln, jobs: make(chan string, 8)}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(c)
			c.Close()
			p.jobs <- string(b)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return p
}

// zplEscaped is s as ZPL field data under ^FH_ writes bytes outside printable ASCII.
func zplEscaped(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			fmt.Fprintf(&b, "_%02X", s[i])
			continue
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

func (p *labelPrinter) port() string { return strconv.Itoa(p.ln.Addr().(*net.TCPAddr).Port) }

// job waits for the next job the printer receives.
func (p *labelPrinter) job(t *testing.T) string {
	t.Helper()
	select {
	case j := <-p.jobs:
		return j
	case <-time.After(stepTimeout):
		t.Fatal("the printer received no label")
		return ""
	}
}

// TestAdminConfiguresAPrinter (issue 11): an administrator opens 管理 › 标签打印机, adds a
// printer pointing at a label printer on loopback (started by the test) with a port out of
// range, and sees the server's error under the port field; puts the right port, saves, and the
// printer is listed; presses 测试打印 and the printer receives one label in its language with
// its name in the QR, and the page says it was sent; with the printer switched off, 测试打印
// shows why it failed (无法连接) under the printer's name. The screen in English, then the
// printer deleted after a confirmation. On a desktop (a ZPL printer) and a 390×844 phone (a
// TSPL printer at 300 dpi); a screenshot per step.
func TestAdminConfiguresAPrinter(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "printers")
	t.Logf("screenshots: %s", screens)
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)

	setups := map[string]struct{ name, lang, dpi, want string }{
		"desktop": {"包装线1", "zpl", "203", "^XA\n^PW320\n^LL240\n"},
		"phone":   {"仓库TSC", "tspl", "300", "SIZE 40 mm,30 mm\r\n"},
	}
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			setup := setups[vp.name]
			printer := newLabelPrinter(t)
			dir := filepath.Join(screens, vp.name)
			b := newBrowser(t, bin, vp, dir)
			b.signInAt(s.URL+"/admin/printers", `[data-test="printer-new"]`)
			b.run("the list loaded", adminNoLoadingMask)
			b.shot("01-printers")

			// A port out of range: the server's message shows under the port.
			b.run("add a printer", chromedp.Click(chromedp.CSS(`[data-test="printer-new"]`)), chromedp.WaitVisible(chromedp.CSS("#printer-name")), settled,
				b.typeInto("#printer-name", setup.name), b.typeInto("#printer-host", "127.0.0.1"), b.typeInto("#printer-port", "99999"),
				chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="printer-language-%s"]`, setup.lang))),
				chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="printer-dpi-%s"]`, setup.dpi))),
			)
			b.shot("02-new-printer")
			portError := `(() => { const e = document.querySelector('#printer-port')?.closest('.el-form-item')?.querySelector('.el-form-item__error'); return e ? e.innerText : '' })()`
			b.run("save with a bad port", chromedp.Click(chromedp.CSS(`[data-test="printer-save"]`)),
				chromedp.Poll[chromedp.Void](portError+` !== ''`, chromedp.WithPollingInterval(100*time.Millisecond)))
			if msg := adminEval[string](b, portError); !strings.Contains(msg, "65535") {
				t.Errorf("the port's error says %q, not its limit", msg)
			}
			if n := adminEval[int](b, `document.querySelectorAll('[data-test="printer-dialog"] .el-form-item.is-error').length`); n != 1 {
				t.Errorf("%d fields show an error, want only the port", n)
			}
			b.shot("03-bad-port")

			b.run("save with the printer's port", b.typeInto("#printer-port", printer.port()), chromedp.Click(chromedp.CSS(`[data-test="printer-save"]`)), adminNoOverlay)
			row := fmt.Sprintf(`[data-test="printer-table"] [data-printer=%q]`, setup.name)
			b.run("listed", chromedp.WaitVisible(chromedp.CSS(row)))
			b.waitText(`[data-test="printer-table"]`, "127.0.0.1:"+printer.port())
			b.shot("04-saved")

			// 测试打印: one label in the printer's language, its name in the QR.
			result := fmt.Sprintf(`[data-test="printer-test-result-%s"]`, setup.name)
			b.run("test print", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="printer-test-%s"]`, setup.name))))
			job := printer.job(t)
			qr := "TRACECRAFT TEST " + setup.name + " "
			if setup.lang == "zpl" {
				qr = zplEscaped(qr) // ^FH_ escapes: bytes outside printable ASCII as _hh
			}
			if !strings.HasPrefix(job, setup.want) || !strings.Contains(job, qr) {
				t.Errorf("the printer received no %s test label of %s:\n%.400s", setup.lang, setup.name, job)
			}
			b.waitText(result, "已发送测试标签")
			b.shot("05-test-sent")

			// The printer switched off: the test says why it failed.
			printer.ln.Close()
			b.run("test print again", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="printer-test-%s"]`, setup.name))))
			b.waitText(result, "打印机 "+setup.name+" 无法连接")
			b.waitText(result, "测试失败")
			b.shot("06-test-failed")

			// In English.
			b.run("English", chromedp.Evaluate[chromedp.Void](`localStorage.setItem('tc.lang', 'en')`), chromedp.Reload(),
				chromedp.WaitVisible(chromedp.CSS(row)), adminNoLoadingMask)
			b.waitText(`[data-test="printer-table"]`, "Test print")
			// The chosen section's tab is in view, also on a phone where the tabs scroll sideways.
			b.run("the tab in view", chromedp.Poll[chromedp.Void](`(() => { const r = document.querySelector('[data-test="admin-printers"]').getBoundingClientRect(); return r.left >= 0 && r.right <= innerWidth })()`,
				chromedp.WithPollingInterval(100*time.Millisecond)))
			b.shot("07-english")
			b.run("Chinese", chromedp.Evaluate[chromedp.Void](`localStorage.setItem('tc.lang', 'zh-CN')`), chromedp.Reload(),
				chromedp.WaitVisible(chromedp.CSS(row)), adminNoLoadingMask)

			// Deleted after a confirmation.
			b.run("delete", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="printer-delete-%s"]`, setup.name))),
				chromedp.WaitVisible(chromedp.CSS(".el-message-box")), settled)
			b.waitText(".el-message-box", setup.name)
			b.shot("08-delete-confirm")
			b.run("confirm", chromedp.Click(chromedp.CSS(".el-message-box__btns .el-button--primary")), chromedp.WaitNotPresent(chromedp.CSS(row)))

			var l struct {
				Printers []struct{ Name string } `json:"printers"`
			}
			admin.Do("GET", "/api/v1/admin/printers", nil, 200, &l)
			for _, p := range l.Printers {
				if p.Name == setup.name {
					t.Errorf("%s is still configured", setup.name)
				}
			}
			var tests []struct {
				Target string `json:"target"`
			}
			admin.Do("GET", "/api/v1/audit?action=printers.test&target="+url.QueryEscape(setup.name), nil, 200, &tests)
			if len(tests) != 2 {
				t.Errorf("%d audited tests of %s, want 2", len(tests), setup.name)
			}
			// The refused port (400) and the switched-off printer (409) are answers the page shows.
			b.noPageErrorsBut("400 (Bad Request) "+s.URL+"/api/v1/admin/printers", "409 (Conflict) "+s.URL+"/api/v1/admin/printers/")
		})
	}
}
