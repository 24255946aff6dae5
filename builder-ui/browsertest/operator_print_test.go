package browsertest

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// operatorLotDef is a lot form line staff may only read (no design right, no update).
const operatorLotDef = `{
  "key": "lot",
  "name": {"zh-CN": "生产批次", "en": "Lot"},
  "titleField": "lot_no",
  "schema": {"type": "object", "properties": {
    "lot_no":  {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "product": {"x-type": "text", "x-label": {"zh-CN": "产品", "en": "Product"}}
  }},
  "permissions": {"staff": {"actions": ["read"]}}
}`

// TestOperatorPrintsALabel (issue 11): an operator who may read the lot form — and neither
// design the app nor change records — opens a lot's drawer, sees 打印 (the form's published
// templates come from GET …/forms/lot/print-templates, not the designers' list), picks the
// published label (a template never published is not offered) and downloads its PDF: one
// 60×40 mm label with the lot's values, drawn from the published version, not the draft the
// designer changed since. On a 390×844 phone the drawer and the dialog fit the screen.
func TestOperatorPrintsALabel(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "operator-print")
	t.Logf("screenshots: %s", screens)
	s, admin := plantWithStaff(t, operatorLotDef, "lot", map[string]string{"lin": "林师傅"})
	tpl := func(key, name, text string) map[string]any {
		return map[string]any{
			"key": key, "name": map[string]string{"zh-CN": name, "en": "Lot tag"}, "form": "lot", "kind": "label",
			"page": map[string]any{"width": 60, "height": 40, "margin": map[string]any{"top": 2, "right": 2, "bottom": 2, "left": 2}},
			"elements": []map[string]any{
				{"id": "t", "type": "text", "x": 2, "y": 2, "w": 56, "h": 8, "text": text, "font": map[string]any{"size": 11, "bold": true}},
				{"id": "qr", "type": "qr", "x": 38, "y": 16, "w": 20, "h": 20, "value": "{{lot_no}}"},
			},
		}
	}
	base := "/api/v1/apps/plant/print-templates"
	admin.Do("POST", base, tpl("lot_tag", "批次牌", "{{product}} 批号 {{lot_no}}"), 201, nil)
	admin.Do("POST", base+"/lot_tag/publish", nil, 201, nil)
	var draft struct {
		Rev int64 `json:"rev"`
	}
	admin.Do("GET", base+"/lot_tag", nil, 200, &draft)
	admin.Do("PUT", base+"/lot_tag?rev="+strconv.FormatInt(draft.Rev, 10), tpl("lot_tag", "草稿名", "DRAFT {{lot_no}}"), 200, nil)
	admin.Do("POST", base, tpl("never", "未发布的模板", "{{lot_no}}"), 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/lot/records", map[string]any{"data": map[string]any{"lot_no": "L-2026-031", "product": "鲜牛奶"}}, 201, &lot)
	admin.Do("POST", "/api/v1/apps/plant/forms/lot/records", map[string]any{"data": map[string]any{"lot_no": "L-2026-032", "product": "酸奶"}}, 201, nil)

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))
			b.signInAs(s.URL, "lin")
			b.run("open the lots", chromedp.Navigate(s.URL+"/apps/plant/forms/lot"), chromedp.WaitVisible(chromedp.CSS(`[data-test="record-table"], [data-test="record-cards"]`)))
			b.waitText(`[data-test="total"]`, "2")
			click := chromedp.Click(chromedp.Search(`//*[@data-test="record-table"]//td[.//text()[contains(., "L-2026-031")]]`))
			if vp.mobile {
				click = chromedp.Click(chromedp.CSS(`[data-test="record-cards"] [data-record="` + lot.ID + `"]`))
			}
			b.run("open the lot", chromedp.Poll[chromedp.Void](`!document.querySelector('.el-loading-mask')`, chromedp.WithPollingInterval(50*time.Millisecond)), settled, click, chromedp.WaitVisible(chromedp.CSS(`[data-test="record-drawer"] [data-test="record-print"]`)), settled)
			if b.eval(`!!document.querySelector('[data-test="record-drawer"] [data-test="edit-record"]')`) {
				t.Fatal("a reader is offered 编辑")
			}
			b.shot("01-drawer")
			downloads := t.TempDir()
			b.run("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
				return err
			}))
			b.run("open 打印", chromedp.Click(chromedp.CSS(`[data-test="record-drawer"] [data-test="record-print"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="print-go"]`)), settled)
			b.waitText(`[data-test="print-dialog"]`, "打印：批次牌")
			b.waitText(`[data-test="print-dialog"]`, "L-2026-031")
			shownItems := `[...document.querySelectorAll('.el-select-dropdown__item')].filter((e) => e.offsetParent)`
			b.run("see the templates", chromedp.Click(chromedp.CSS(`[data-test="print-template"]`)),
				chromedp.Poll[chromedp.Void](shownItems+`.length > 0`, chromedp.WithPollingInterval(100*time.Millisecond)), settled)
			if opts := evalString(b, shownItems+`.map((e) => e.innerText).join('|')`); opts != "批次牌 · 每条记录一张" {
				t.Fatalf("templates offered to the operator: %q", opts)
			}
			b.run("close the list", chromedp.KeyEvent("\x1b"), settled)
			if w := evalString(b, `String(document.documentElement.scrollWidth)`); w != strconv.FormatInt(vp.width, 10) {
				t.Fatalf("the page is %s px wide on a %d px screen", w, vp.width)
			}
			b.shot("02-print-dialog")
			b.run("print", chromedp.Click(chromedp.CSS(`[data-test="print-go"]`)))
			pdf := waitDownload(t, downloads, ".pdf")
			info, err := exec.Command("pdfinfo", pdf).CombinedOutput()
			if err != nil {
				t.Fatalf("pdfinfo %s: %v\n%s", pdf, err, info)
			}
			if !regexp.MustCompile(`(?m)^Pages:\s+1$`).Match(info) || !regexp.MustCompile(`(?m)^Page size:\s+170\.0\d* x 113\.3\d* pts`).Match(info) {
				t.Fatalf("the operator's PDF is not one 60×40 mm label:\n%s", info)
			}
			text, err := exec.Command("pdftotext", "-enc", "UTF-8", pdf, "-").CombinedOutput()
			if err != nil {
				t.Fatalf("pdftotext: %v: %s", err, text)
			}
			if got := strings.Join(strings.Fields(string(text)), " "); !strings.Contains(got, "鲜牛奶 批号 L-2026-031") || strings.Contains(got, "DRAFT") {
				t.Fatalf("the label reads %q", got)
			}
			b.waitText(`.el-message`, "已生成打印文件")
			b.shot("03-printed")
			b.noPageErrors()
		})
	}
}
