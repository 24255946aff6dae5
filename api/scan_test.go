package api_test

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"testing/fstest"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/printing"
)

const scanProductDef = `{
  "key": "product", "name": {"zh-CN": "产品"},
  "schema": {"type": "object", "properties": {
    "name": {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "品名", "en": "Name"}},
    "gtin": {"x-type": "text", "x-label": {"zh-CN": "商品条码", "en": "GTIN"}},
    "cost": {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}}
  }}
}`

const scanLotDef = `{
  "key": "lot", "name": {"zh-CN": "生产批"},
  "schema": {"type": "object", "properties": {
    "lot_no":      {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "product":     {"x-type": "relation", "x-options": {"form": "product"}, "x-label": {"zh-CN": "产品", "en": "Product"}},
    "made_on":     {"x-type": "date", "x-public": true, "x-label": {"zh-CN": "生产日期", "en": "Production date"}},
    "expiry_date": {"x-type": "date", "x-label": {"zh-CN": "到期日", "en": "Expiry"}},
    "note":        {"x-type": "text", "x-label": {"zh-CN": "内部备注", "en": "Note"}}
  }},
  "status": {"initial": "open", "states": [
    {"key": "open", "label": {"zh-CN": "生产中", "en": "In production"}},
    {"key": "recalled", "label": {"zh-CN": "已召回", "en": "Recalled"}}], "transitions": []}
}`

// scanFixture: a plant with a product and a lot of it, 5 codes issued through the API.
func scanFixture(t *testing.T) (*fixture, forms.Record, printing.Issuance, []printing.ItemCode) {
	t.Helper()
	f := newFixture(t)
	f.publishForm(t, plantApp, scanProductDef)
	f.publishForm(t, plantApp, scanLotDef)
	p := create(t, f.admin, recordsPath(plantApp, "product"), forms.Values{"name": `鲜牛奶 <script>alert(1)</script>`, "gtin": "6901234567892", "cost": 987654.25})
	lot := create(t, f.admin, recordsPath(plantApp, "lot"), forms.Values{"lot_no": "L2603A", "product": p.ID, "made_on": "2026-03-01",
		"expiry_date": "2026-04-05", "note": "内部-秘密"})
	var is printing.Issuance
	f.admin.Do("POST", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", printing.IssueInput{Count: 5, GTINField: "product.gtin"}, 201, &is)
	var codes []printing.ItemCode
	err := f.s.Codes.EachCode(t.Context(), engine.SystemPrincipal(), plantApp, "lot", lot.ID, "", func(c printing.ItemCode) error {
		codes = append(codes, c)
		return nil
	})
	if err != nil || len(codes) != 5 {
		t.Fatalf("EachCode: %d codes, %v", len(codes), err)
	}
	return f, lot, is, codes
}

func path(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		panic(err)
	}
	return p.RequestURI()
}

// TestScanPages: a code's public page — no sign-in — shows the public facts only, escaped,
// counts each look-up, and answers by /t/{serial} and the Digital Link paths; a forged code,
// a link whose lot or expiry is not the code's, and a malformed link get the "not a genuine
// code" page with 404; JSON on request; a voided code and a recalled lot show their banners;
// complaints are kept for the app's designers.
func TestScanPages(t *testing.T) {
	f, lot, is, codes := scanFixture(t)
	anon := f.s.Client(t)
	html := func(res apitest.Response) string {
		t.Helper()
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Fatalf("content type %q: %s", ct, res.Body)
		}
		return string(res.Body)
	}
	res := anon.Raw("GET", "/t/"+codes[0].Serial, "", nil)
	page := html(res)
	if res.Status != 200 || res.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("status %d, cache %q", res.Status, res.Header.Get("Cache-Control"))
	}
	for _, want := range []string{"鲜牛奶 &lt;script&gt;alert(1)&lt;/script&gt;", "L2603A", "2026-03-01", "2026-04-05", "您是第 1 次查询", "正品码", codes[0].Serial, `action="/t/` + codes[0].Serial + `/complaint"`} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	for _, hidden := range []string{"<script>alert", "987654", "内部-秘密"} {
		if strings.Contains(page, hidden) {
			t.Errorf("page shows %q", hidden)
		}
	}
	if page := html(anon.Raw("GET", "/t/"+strings.ToLower(codes[0].Serial), "", nil)); !strings.Contains(page, "您是第 2 次查询") {
		t.Errorf("second look-up (lower case) not counted:\n%s", page)
	}
	// The Digital Link the QR carries, and the one without the lot.
	dl := path(codes[1].URL)
	if !strings.HasPrefix(dl, "/01/06901234567892/10/L2603A/21/"+codes[1].Serial+"?17=260405") {
		t.Fatalf("link %s", dl)
	}
	for _, p := range []string{dl, "/01/06901234567892/21/" + codes[1].Serial, "/01/06901234567892/10/L2603A/21/" + codes[1].Serial} {
		if res := anon.Raw("GET", p, "", nil); res.Status != 200 || !strings.Contains(string(res.Body), "L2603A") {
			t.Errorf("GET %s: %d", p, res.Status)
		}
	}
	var j api.ScanPageJSON
	anon.Do("GET", dl+"&format=json", nil, 200, &j)
	if !j.Genuine || j.Page.Serial != codes[1].Serial || j.Page.Scans != 4 || len(j.Page.Facts) != 2 || j.Page.Product[0].Facts[0].Key != "name" {
		t.Fatalf("JSON page = %+v", j.Page)
	}
	// Not genuine: forged, foreign lot or expiry, malformed, unknown AI.
	bad := []string{
		"/t/ZZZZZZZZZZZZ", "/t/" + codes[0].Serial[:11], "/t/%3Cb%3E",
		"/01/06901234567892/10/OTHER/21/" + codes[1].Serial,
		"/01/06901234567892/10/L2603A/21/" + codes[1].Serial + "?17=260406",
		"/01/06901234567892/10/L2603A/21/" + codes[1].Serial + "?17=261399",
		"/01/06901234567892/10/L2603A/21/" + codes[1].Serial + "?999=1",
		"/01/06901234567891/21/" + codes[1].Serial,
		"/01/09501101530003/21/" + codes[1].Serial,
	}
	for _, p := range bad {
		res := anon.Raw("GET", p, "", nil)
		page := string(res.Body)
		if res.Status != 404 || !strings.Contains(page, "不是正品码") || strings.Contains(page, "goroutine") || strings.Contains(page, "<b>") {
			t.Errorf("GET %s: %d %.200s", p, res.Status, page)
		}
	}
	jc := f.s.Client(t)
	jc.Header.Set("Accept", "application/json")
	if e := jc.Do("GET", "/t/ZZZZZZZZZZZZ", nil, 404, nil).Error(t); e.Code != "code_not_genuine" {
		t.Errorf("JSON not genuine: %+v", e)
	}
	en := f.s.Client(t)
	en.Header.Set("Accept-Language", "en-US,en;q=0.9")
	if page := string(en.Raw("GET", "/t/ZZZZZZZZZZZZ", "", nil).Body); !strings.Contains(page, "Not a genuine code") {
		t.Errorf("English not-genuine page: %s", page)
	}
	if page := string(en.Raw("GET", "/t/"+codes[0].Serial, "", nil).Body); !strings.Contains(page, "Look-up number 3") || !strings.Contains(page, "Production date") {
		t.Errorf("English page: %s", page)
	}
	// A code voided for a damaged label, then the lot recalled (codes not looked at yet).
	var d printing.CodeDetail
	f.admin.Do("POST", "/api/v1/apps/plant/codes/"+codes[2].Serial+"/void", printing.ActInput{Reason: "标签破损"}, 200, &d)
	if page := string(anon.Raw("GET", "/t/"+codes[2].Serial, "", nil).Body); !strings.Contains(page, "此码已作废") || strings.Contains(page, "本产品已召回") {
		t.Errorf("void code page: %s", page)
	}
	if _, err := f.s.Kernel.Records.SetRecordStatus(t.Context(), engine.SystemPrincipal(), plantApp, "lot", lot.ID, printing.RecalledStatus); err != nil {
		t.Fatal(err)
	}
	if err := f.s.Kernel.Bus.Drain(t.Context()); err != nil { // the change delivered: the lot's cached facts are dropped
		t.Fatal(err)
	}
	if page := string(anon.Raw("GET", "/t/"+codes[3].Serial, "", nil).Body); !strings.Contains(page, "本产品已召回") || !strings.Contains(page, "已召回</li>") {
		t.Errorf("recalled lot page: %s", page)
	}
	// Complaints: the page's form and JSON; designers read them.
	form := url.Values{"text": {"瓶盖松动 <i>"}, "contact": {"13800000000"}}
	res = anon.Raw("POST", "/t/"+codes[0].Serial+"/complaint", "application/x-www-form-urlencoded", []byte(form.Encode()))
	if res.Status != 201 || !strings.Contains(string(res.Body), "已收到您的反馈") {
		t.Fatalf("complaint by form: %d %s", res.Status, res.Body)
	}
	anon.Do("POST", "/t/"+codes[1].Serial+"/complaint", printing.ComplaintInput{Text: "味道异常"}, 201, nil)
	anon.Do("POST", "/t/ZZZZZZZZZZZZ/complaint", printing.ComplaintInput{Text: "x"}, 404, nil)
	var list []printing.Complaint
	f.admin.Do("GET", "/api/v1/apps/plant/code-complaints", nil, 200, &list)
	if len(list) != 2 || list[1].Serial != codes[0].Serial || list[1].Text != "瓶盖松动 <i>" || list[0].Record != lot.ID {
		t.Fatalf("complaints = %+v", list)
	}
	// The signed-in side: the code's detail and the lot's counts.
	f.admin.Do("GET", "/api/v1/apps/plant/codes/"+codes[0].Serial, nil, 200, &d)
	if d.Scans != 3 || d.Record != lot.ID || d.Issuance != is.ID {
		t.Fatalf("detail = %+v", d)
	}
	var lc printing.LotCodes
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals != (printing.CodeCounts{Issued: 5, Voided: 1, Scanned: 4}) {
		t.Fatalf("lot counts = %+v", lc.Totals)
	}
	_ = json.Valid
}

// TestScanRateLimitAndAppFallback: scan pages are limited per client address (their own
// budget), and the web app's fallback, which answers every other path with its index.html,
// never takes them.
func TestScanRateLimitAndAppFallback(t *testing.T) {
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) {
		o.ScanRate = 3
		o.UI = fstest.MapFS{"index.html": {Data: []byte("<html>the web app</html>")}}
	}})
	c := s.Client(t)
	for i := range 3 {
		res := c.Raw("GET", "/t/ZZZZZZZZZZZZ", "", nil)
		if res.Status != 404 || strings.Contains(string(res.Body), "the web app") {
			t.Fatalf("request %d: %d %s", i, res.Status, res.Body)
		}
	}
	if res := c.Raw("GET", "/01/06901234567892/21/ZZZZZZZZZZZZ", "", nil); res.Status != 429 {
		t.Fatalf("over the limit: %d", res.Status)
	}
	if res := c.Raw("GET", "/healthz", "", nil); res.Status != 200 {
		t.Fatalf("health check limited too: %d", res.Status)
	}
	if res := c.Raw("GET", "/some/app/page", "", nil); !strings.Contains(string(res.Body), "the web app") {
		t.Fatalf("the web app's fallback: %d %s", res.Status, res.Body)
	}
}
