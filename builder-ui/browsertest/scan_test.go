package browsertest

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/engine"
	"tracecraft/printing"
)

const scanProductDef = `{
  "key": "product", "name": {"zh-CN": "产品"},
  "schema": {"type": "object", "properties": {
    "name":    {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "品名", "en": "Product"}},
    "spec":    {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "规格", "en": "Size"}},
    "maker":   {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "生产企业", "en": "Maker"}},
    "license": {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "生产许可证", "en": "Licence"}},
    "storage": {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "贮存条件", "en": "Storage"}},
    "gtin":    {"x-type": "text", "x-label": {"zh-CN": "商品条码", "en": "GTIN"}}
  }}
}`

const scanLotDef = `{
  "key": "lot", "name": {"zh-CN": "生产批"},
  "schema": {"type": "object", "properties": {
    "lot_no":     {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "product":    {"x-type": "relation", "x-options": {"form": "product"}, "x-label": {"zh-CN": "产品", "en": "Product"}},
    "made_on":    {"x-type": "date", "x-public": true, "x-label": {"zh-CN": "生产日期", "en": "Production date"}},
    "expiry_date": {"x-type": "date", "x-label": {"zh-CN": "到期日", "en": "Expiry"}},
    "inspection": {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "出厂检验", "en": "Release test"}}
  }},
  "status": {"initial": "open", "states": [
    {"key": "open", "label": {"zh-CN": "生产中", "en": "In production"}},
    {"key": "released", "label": {"zh-CN": "检验合格放行", "en": "Released"}},
    {"key": "recalled", "label": {"zh-CN": "已召回", "en": "Recalled"}}], "transitions": []}
}`

// TestScanPageOnPhone (issue 11): a consumer opens an item code's Digital Link on a 390×844
// phone — the genuine page with the product's and lot's facts and the history, the counter on
// a second look, a complaint sent from the page; a recalled lot's red banner; a forged code's
// page; the English page. No script runs and the page reports no errors (its CSP holds).
func TestScanPageOnPhone(t *testing.T) {
	bin := chromium(t)
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "一号工厂"}}, 201, nil)
	for key, def := range map[string]string{"product": scanProductDef, "lot": scanLotDef} {
		if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", []byte(def)); res.Status != 201 {
			t.Fatalf("create form: %d %s", res.Status, res.Body)
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/"+key+"/publish", nil, 201, nil)
	}
	var product, lot struct{ ID string }
	admin.Do("POST", "/api/v1/apps/plant/forms/product/records", map[string]any{"data": map[string]any{
		"name": "纯牛奶 250mL", "spec": "250mL×12盒", "maker": "华北乳业有限公司", "license": "SC10613010200123",
		"storage": "常温避光", "gtin": "6901234567892"}}, 201, &product)
	admin.Do("POST", "/api/v1/apps/plant/forms/lot/records", map[string]any{"data": map[string]any{
		"lot_no": "L2603A", "product": product.ID, "made_on": "2026-03-01", "expiry_date": "2026-09-01", "inspection": "合格"}}, 201, &lot)
	ctx := context.Background()
	if _, err := s.Kernel.Records.SetRecordStatus(ctx, engine.SystemPrincipal(), "plant", "lot", lot.ID, "released"); err != nil {
		t.Fatal(err)
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/lot/records/"+lot.ID+"/codes", printing.IssueInput{Count: 3, GTINField: "product.gtin"}, 201, nil)
	var codes []printing.ItemCode
	if err := s.Codes.EachCode(ctx, engine.SystemPrincipal(), "plant", "lot", lot.ID, "", func(c printing.ItemCode) error {
		codes = append(codes, c)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(codes[0].URL)
	link := s.URL + u.RequestURI()

	dir := screensDir(t, "scan")
	b := newBrowser(t, bin, viewports[1], filepath.Join(dir, "phone"))
	// A phone set to Chinese asks for it (headless Chromium asks for en-US whatever its --lang).
	b.run("speak Chinese", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, emulation.SetUserAgentOverride, emulation.SetUserAgentOverrideParams{
			UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) Mobile", AcceptLanguage: "zh-CN,zh;q=0.9"})
		return err
	}))
	b.run("open the code's link", chromedp.Navigate(link))
	b.waitText("header", "纯牛奶 250mL")
	b.waitText("main", "您是第 1 次查询")
	b.waitText("main", "SC10613010200123")
	b.waitText("main", "检验合格放行")
	b.shot("01-genuine")
	b.run("look again", chromedp.Reload())
	b.waitText("main", "您是第 2 次查询")
	b.shot("02-second-look")
	b.run("open the complaint form", chromedp.Click(chromedp.CSS("details summary")),
		chromedp.SendKeys(chromedp.CSS(`textarea[name="text"]`), "盒子有破损，牛奶漏出"),
		chromedp.SendKeys(chromedp.CSS(`input[name="contact"]`), "13800000000"))
	b.shot("03-complaint")
	b.run("send it", chromedp.Click(chromedp.CSS(`button[type="submit"]`)))
	// The form posts and the browser navigates to the answer: a check that runs while the old
	// document goes away is asked again.
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
		err := chromedp.Do(ctx, chromedp.Poll[chromedp.Void](`location.pathname.endsWith("/complaint") && document.readyState === "complete"`,
			chromedp.WithPollingInterval(100*time.Millisecond)))
		cancel()
		if err == nil {
			break
		}
		if i == 20 || !strings.Contains(err.Error(), "navigated") {
			t.Fatalf("wait for the complaint's answer: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	b.waitText("main", "已收到您的反馈")
	b.shot("04-complaint-sent")

	if _, err := s.Kernel.Records.SetRecordStatus(ctx, engine.SystemPrincipal(), "plant", "lot", lot.ID, printing.RecalledStatus); err != nil {
		t.Fatal(err)
	}
	// The recall shows once its status event reaches the scan page's cache (the bus delivers it
	// a moment later; under CI's load that moment was longer than the next navigation).
	if err := s.Kernel.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	b.run("open a code of the recalled lot", chromedp.Navigate(s.URL+"/t/"+codes[1].Serial))
	b.waitText(".recall", "本产品已召回")
	b.shot("05-recalled")
	b.noPageErrors()
	b.run("open a forged code", chromedp.Navigate(s.URL+"/t/ABCDEFGHJKMN"))
	b.waitText("header", "不是正品码")
	b.shot("06-not-genuine")
	// Its answer is a 404 (the one error the console reports).
	b.mu.Lock()
	if len(b.errors) != 1 || !strings.Contains(b.errors[0], "404") || !strings.Contains(b.errors[0], "/t/ABCDEFGHJKMN") {
		t.Errorf("the forged code's page reported %v", b.errors)
	}
	b.mu.Unlock()

	en := newBrowser(t, bin, viewports[1], filepath.Join(dir, "phone-en"))
	en.run("open the code in English", chromedp.Navigate(s.URL+"/t/"+codes[2].Serial+"?lang=en"))
	en.waitText("main", "Look-up number 1")
	en.waitText(".recall", "recalled")
	en.shot("01-recalled-en")
	en.noPageErrors()

	var list []printing.Complaint
	admin.Do("GET", "/api/v1/apps/plant/code-complaints", nil, 200, &list)
	if len(list) != 1 || list[0].Serial != codes[0].Serial || list[0].Text != "盒子有破损，牛奶漏出" {
		t.Fatalf("complaints = %+v", list)
	}
}
