package browsertest

import (
	"path/filepath"
	"testing"

	"github.com/chromedp/chromedp"
)

// checkFormDef has a required field and a sub-table whose column is required.
const checkFormDef = `{
  "key": "qa_check", "name": {"zh-CN": "质检单", "en": "QA check"},
  "schema": {"type": "object", "required": ["qa_sign"], "properties": {
    "qa_sign": {"x-type": "text", "x-label": {"zh-CN": "质检签名", "en": "QA signature"}},
    "items":   {"x-type": "subtable", "x-label": {"zh-CN": "明细", "en": "Items"}, "items": {"type": "object", "required": ["qty"], "properties": {
                 "qty":  {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Qty"}},
                 "note": {"x-type": "text", "x-label": {"zh-CN": "说明", "en": "Note"}}}}}
  }},
  "permissions": {"staff": {"actions": ["create", "read", "update"]}}
}`

// TestRecordErrorsNameTheLabel: saving a record with a required field left empty and a
// sub-table row without its required cell says, at the top of the form and under each place,
// which field by its label — "质检签名：必填", "明细 第 1 行 · 数量：必填" — never the key
// (qa_sign); in English "QA signature is required". On a desktop and a 390×844 phone.
func TestRecordErrorsNameTheLabel(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "field-labels")
	t.Logf("screenshots: %s", screens)
	s, _ := plantWithStaff(t, checkFormDef, "qa_check", map[string]string{"qin": "秦质检"})
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))
			b.signInAs(s.URL, "qin")
			for _, lang := range []struct{ name, top, field, cell string }{
				{"zh-CN", "质检签名：必填", "质检签名：必填", "明细 第 1 行 · 数量：必填"},
				{"en", "QA signature is required", "QA signature is required", "Items row 1 · Qty is required"},
			} {
				b.run("language "+lang.name, chromedp.Evaluate[chromedp.Void](`localStorage.setItem('tc.lang', '`+lang.name+`')`))
				b.run("open a new record", chromedp.Navigate(s.URL+"/apps/plant/forms/qa_check/new"),
					chromedp.WaitVisible(chromedp.CSS(`[data-field="items"] [data-test="add-row"]`)))
				b.run("add a row", chromedp.Click(chromedp.CSS(`[data-field="items"] [data-test="add-row"]`)), settled)
				b.run("fill its note only", chromedp.SendKeys(chromedp.CSS(`#f-items-0-note`), "袋"))
				b.run("save", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
				b.waitText(`.rform__alert`, lang.top)
				b.waitText(`[data-field="qa_sign"]`, lang.field)
				b.waitText(`[data-field="items"]`, lang.cell)
				if b.eval(`document.querySelector('.rform__alert').textContent.includes('qa_sign')`) {
					t.Fatal("the form's error names the key qa_sign")
				}
				b.shot("errors-" + lang.name)
			}
		})
	}
}
