package browsertest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const releaseFormDef = `{
  "key": "qa_release", "name": {"zh-CN": "放行单", "en": "QA release"}, "titleField": "batch",
  "schema": {"type": "object", "required": ["batch", "qa_sign"], "properties": {
    "batch":   {"x-type": "text", "x-label": {"zh-CN": "批次", "en": "Batch"}},
    "qa_sign": {"x-type": "signature", "x-label": {"zh-CN": "质检签名", "en": "QA signature"}}
  }},
  "permissions": {"staff": {"actions": ["create", "read", "update"]}}
}`

// TestOperatorSigns (issue 9): a signature field of the record form is signed on the pad —
// with the mouse on a desktop, with a finger (touch events) on a 390×844 phone — confirmed
// (uploaded as a PNG), cleared and signed again; saving without a signature names the field;
// the saved record holds one file id (forms/field_signature.go) of a PNG, and the list (a
// thumbnail on a desktop, 已签名 on a phone's card) and the record drawer show it.
func TestOperatorSigns(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "signature")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithStaff(t, releaseFormDef, "qa_release", map[string]string{"qin": "秦质检"})

	pad := `[data-field="qa_sign"] [data-test="signature-canvas"]`
	// loaded: the image sel shows a picture the server gave (a broken image has no natural width).
	loaded := func(sel string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => { const i = document.querySelector(%q); return !!i && i.complete && i.naturalWidth > 0 })()`, sel),
			chromedp.WithPollingInterval(100*time.Millisecond))
	}
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))
			b.signInAs(s.URL, "qin")
			batch := "B-" + vp.name
			b.run("open a new record", chromedp.Navigate(s.URL+"/apps/plant/forms/qa_release/new"), chromedp.WaitVisible(chromedp.CSS(pad)))
			b.run("name the batch", chromedp.SendKeys(chromedp.CSS("#f-batch"), batch))
			b.shot("01-empty-pad")
			if !b.eval(`document.querySelector('[data-test="signature-confirm"]').disabled`) {
				t.Fatal("使用此签名 is enabled before anything is drawn")
			}
			b.run("save unsigned", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
			b.waitText(`[data-field="qa_sign"]`, "必填")
			b.shot("02-required")

			b.sign(pad)
			b.waitText(`[data-field="qa_sign"]`, "签好后请点")
			b.shot("03-drawn")
			b.run("confirm", chromedp.Click(chromedp.CSS(`[data-test="signature-confirm"]`)), loaded(`[data-test="signature-image"]`))
			b.shot("04-confirmed")
			first := b.eval(`!!document.querySelector('[data-test="signature-image"]').src`)
			if !first {
				t.Fatal("no signature image after confirming")
			}
			b.run("remove it", chromedp.Click(chromedp.CSS(`[data-test="signature-remove"]`)), chromedp.WaitVisible(chromedp.CSS(pad)))
			b.sign(pad)
			b.run("confirm again", chromedp.Click(chromedp.CSS(`[data-test="signature-confirm"]`)), loaded(`[data-test="signature-image"]`))
			// 重新签名 keeps the signature until a new one is confirmed; 取消 goes back to it.
			b.run("sign again, then cancel", chromedp.Click(chromedp.CSS(`[data-test="signature-redo"]`)), chromedp.WaitVisible(chromedp.CSS(pad)))
			b.shot("05-redo")
			b.run("cancel", chromedp.Click(chromedp.CSS(`[data-test="signature-cancel"]`)), loaded(`[data-test="signature-image"]`))
			kept := adminEval[string](b, `document.querySelector('[data-test="signature-image"]').getAttribute('src')`)

			b.run("save", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
			var got struct {
				Items []struct {
					ID   string         `json:"id"`
					Data map[string]any `json:"data"`
				} `json:"items"`
			}
			q := map[string]any{"filters": []map[string]any{{"field": "batch", "op": "eq", "value": batch}}}
			for range 100 {
				admin.Do("POST", "/api/v1/apps/plant/forms/qa_release/records/query", q, 200, &got)
				if len(got.Items) > 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(got.Items) != 1 {
				t.Fatalf("saved records of %s: %+v", batch, got.Items)
			}
			id, ok := got.Items[0].Data["qa_sign"].(string)
			if !ok || id == "" || kept != "/api/v1/apps/plant/files/"+id {
				t.Fatalf("saved signature %v, the form showed %s", got.Items[0].Data["qa_sign"], kept)
			}
			var info struct {
				Type string `json:"type"`
				Size int64  `json:"size"`
			}
			admin.Do("GET", "/api/v1/apps/plant/files/"+id+"/info", nil, 200, &info)
			if info.Type != "image/png" || info.Size < 200 {
				t.Fatalf("signature file: %+v", info)
			}

			if vp.mobile {
				card := fmt.Sprintf(`[data-record="%s"]`, got.Items[0].ID)
				b.run("see the card", chromedp.WaitVisible(chromedp.CSS(card)))
				b.waitText(card, "已签名")
				b.shot("06-list")
				b.run("open the record", chromedp.Click(chromedp.CSS(card)))
			} else {
				b.run("see the thumbnail", chromedp.WaitVisible(chromedp.CSS(`[data-test="record-table"]`)), loaded(`[data-test="record-table"] [data-test="signature-thumb"]`))
				b.shot("06-list")
				b.run("open the record", chromedp.Click(chromedp.CSS(`[data-test="record-table"] .el-table__row`)))
			}
			b.run("see the signature in the drawer", loaded(`.el-drawer [data-field="qa_sign"] [data-test="signature-view"]`))
			b.shot("07-drawer")
			b.noPageErrorsBut("400 (Bad Request) " + s.URL + "/api/v1/apps/plant/forms/qa_release/records") // the unsigned save
		})
	}
}
