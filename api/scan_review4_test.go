package api_test

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/printing"
	"tracecraft/printing/printingtest"
)

// Review 4 of item codes and scan pages (issue 11), over HTTP: each test failed before its fix.

var snPattern = regexp.MustCompile(`SN ([0-9A-Z]{12})`)

// TestCodesReview4_2: a print job stopped after 12 of an issuance's 40 codes; a printed label
// is damaged and its code voided; the next print prints exactly codes 12…39 (28 labels, none
// skipped for the void), the totals say 40 printed and 1 voided, and a third print has
// nothing left. A code voided before it was printed is skipped and not made up for by
// printing a later code twice.
func TestCodesReview4_2(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	def := printLabel("unit")
	def["page"] = map[string]any{"width": 60, "height": 20}
	def["repeat"] = "code"
	def["elements"] = []map[string]any{{"id": "sn", "type": "text", "x": 2, "y": 2, "w": 50, "h": 5, "text": "SN {{code.serial}}"}}
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	stub := printingtest.NewPrinter(t)
	f.admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "ok", "host": "127.0.0.1", "port": stub.Port(), "language": "tspl", "dpi": 203},
	}}, 200, nil)
	issue := func(lotNo string, n int) (string, printing.Issuance, []string) {
		t.Helper()
		var lot struct {
			ID string `json:"id"`
		}
		f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": lotNo, "product": "奶"}}, 201, &lot)
		var is printing.Issuance
		f.admin.Do("POST", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", printing.IssueInput{Count: n, GTIN: "09501101530003"}, 201, &is)
		var page printing.SerialPage
		f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes/"+is.ID+"/serials?limit=1000", nil, 200, &page)
		var all []string
		for _, it := range page.Items {
			all = append(all, it.Serial)
		}
		return lot.ID, is, all
	}
	sent := func(job string) []string {
		var out []string
		for _, m := range snPattern.FindAllStringSubmatch(job, -1) {
			out = append(out, m[1])
		}
		return out
	}

	lot, is, all := issue("L-BIG", 40)
	// The first job stopped after 12 labels and recorded them, as the renderer does.
	if err := f.s.Codes.MarkPrinted(t.Context(), engine.SystemPrincipal(), plantApp, is.ID, "job-stopped", 12); err != nil {
		t.Fatal(err)
	}
	f.admin.Do("POST", "/api/v1/apps/plant/codes/"+all[0]+"/void", printing.ActInput{Reason: "标签破损"}, 200, nil)
	var job printing.Job
	f.admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot}, Issuance: is.ID, Output: "printer", Printer: "ok"}, 200, &job)
	got := sent(string(stub.Job(t, 0)))
	if job.Labels != 28 || strings.Join(got, ",") != strings.Join(all[12:], ",") {
		t.Fatalf("the next print: %d labels, %d serials; want codes 12…39 (28): first %v", job.Labels, len(got), got[:min(3, len(got))])
	}
	var lc printing.LotCodes
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot+"/codes", nil, 200, &lc)
	if tt := lc.Totals; tt.Issued != 40 || tt.Printed != 40 || tt.Voided != 1 || lc.Issuances[0].PrintedTo != 40 {
		t.Fatalf("totals %+v, printedTo %d", tt, lc.Issuances[0].PrintedTo)
	}
	res := f.admin.Raw("POST", base+"/unit/print", "application/json", []byte(`{"records":["`+lot+`"],"issuance":"`+is.ID+`"}`))
	if res.Status != 409 || !strings.Contains(string(res.Body), "print_codes_printed") {
		t.Fatalf("a third print: %d %s", res.Status, res.Body)
	}

	// Voided before any print: the job prints the 9 others; nothing is left after it.
	lot2, is2, all2 := issue("L-SMALL", 10)
	f.admin.Do("POST", "/api/v1/apps/plant/codes/"+all2[4]+"/void", printing.ActInput{Reason: "测试"}, 200, nil)
	f.admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot2}, Issuance: is2.ID, Output: "printer", Printer: "ok"}, 200, &job)
	got = sent(string(stub.Job(t, 1)))
	want := append(append([]string{}, all2[:4]...), all2[5:]...)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("printed %v; want all but the void", got)
	}
	res = f.admin.Raw("POST", base+"/unit/print", "application/json", []byte(`{"records":["`+lot2+`"],"issuance":"`+is2.ID+`"}`))
	if res.Status != 409 {
		t.Fatalf("a print after all were printed: %d %s", res.Status, res.Body)
	}
}

// TestCodesReview4_3: a Digital Link whose GTIN, lot or expiry is not its serial's own is
// judged not genuine before the code is counted: it does not count as a look-up of the real
// code.
func TestCodesReview4_3(t *testing.T) {
	f, _, _, codes := scanFixture(t)
	anon := f.s.Client(t)
	s := codes[1].Serial
	for _, p := range []string{
		"/01/09501101530003/21/" + s,
		"/01/06901234567892/10/OTHER/21/" + s,
		"/01/06901234567892/10/L2603A/21/" + s + "?17=260406",
	} {
		if res := anon.Raw("GET", p, "", nil); res.Status != 404 {
			t.Fatalf("GET %s: %d", p, res.Status)
		}
	}
	var pg ScanJSON
	res := anon.Raw("GET", "/t/"+s+"?format=json", "", nil)
	if err := json.Unmarshal(res.Body, &pg); err != nil || pg.Page == nil || pg.Page.Scans != 1 {
		t.Fatalf("the real code after 3 forged links: %s; want its first look-up", res.Body)
	}
}

// ScanJSON is the scan page's JSON answer.
type ScanJSON struct {
	Genuine bool               `json:"genuine"`
	Page    *printing.ScanPage `json:"page"`
}

// TestCodesReview4_5: when the key the codes were issued under is gone (the audit key lost or
// replaced), a scan page is 503 "cannot check codes now" — never "not a genuine code" — and
// issuing is refused with code_key_changed.
func TestCodesReview4_5(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, scanProductDef)
	f.publishForm(t, plantApp, scanLotDef)
	lot := create(t, f.admin, recordsPath(plantApp, "lot"), map[string]any{"lot_no": "L1", "expiry_date": "2026-04-05"})
	// The check value of a key that is not this server's.
	if err := f.s.Kernel.Store.Set(t.Context(), "_secrets", "printing.codes", bson.M{"check": strings.Repeat("0", 64)}); err != nil {
		t.Fatal(err)
	}
	anon := f.s.Client(t)
	res := anon.Raw("GET", "/t/0NFHAXGF271E", "", nil)
	body := string(res.Body)
	if res.Status != 503 || !strings.Contains(body, "暂时无法核验") || strings.Contains(body, "不是正品码") || res.Header.Get("Retry-After") == "" {
		t.Fatalf("scan page with the code key changed: %d %s", res.Status, body)
	}
	res = anon.Raw("GET", "/t/0NFHAXGF271E?format=json", "", nil)
	if res.Status != 503 || !strings.Contains(string(res.Body), "code_key_changed") {
		t.Fatalf("JSON: %d %s", res.Status, res.Body)
	}
	res = f.admin.Raw("POST", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", "application/json", []byte(`{"count":1,"gtin":"06901234567892"}`))
	if res.Status != 503 || !strings.Contains(string(res.Body), "code_key_changed") {
		t.Fatalf("issuing: %d %s", res.Status, res.Body)
	}
}

// TestCodesReview4_8: scan pages vary by Accept and Accept-Language (genuine or not); the
// page's form (no script) gets its refusals as pages: an empty report 400, a code's
// complaints beyond the day's bound 429, too many a minute 429 — HTML, not JSON.
func TestCodesReview4_8(t *testing.T) {
	f, _, _, codes := scanFixture(t)
	anon := f.s.Client(t)
	for _, p := range []string{"/t/" + codes[0].Serial, "/t/ZZZZZZZZZZZZ", "/01/06901234567892/21/" + codes[0].Serial} {
		res := anon.Raw("GET", p, "", nil)
		if v := res.Header.Get("Vary"); !strings.Contains(v, "Accept-Language") || !strings.Contains(v, "Accept") {
			t.Fatalf("GET %s: %d Vary %q", p, res.Status, v)
		}
	}
	post := func(text string) (int, string, string) {
		res := anon.Raw("POST", "/t/"+codes[0].Serial+"/complaint", "application/x-www-form-urlencoded", []byte(url.Values{"text": {text}}.Encode()))
		return res.Status, res.Header.Get("Content-Type"), string(res.Body)
	}
	if st, ct, body := post(""); st != 400 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "问题描述必填") || !strings.Contains(body, `href="/t/`+codes[0].Serial+`"`) {
		t.Fatalf("an empty report from the form: %d %s %s", st, ct, body)
	}
	for i := range printing.MaxComplaintsPerCodeDay {
		if st, _, body := post("瓶盖松动"); st != 201 {
			t.Fatalf("complaint %d: %d %s", i, st, body)
		}
	}
	if st, ct, body := post("又一次"); st != 429 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "已达上限") {
		t.Fatalf("beyond the code's bound: %d %s %s", st, ct, body)
	}
	if st, ct, body := post("又一次"); st != 429 || !strings.HasPrefix(ct, "text/html") || !strings.Contains(body, "操作太频繁") {
		t.Fatalf("beyond the minute's bound: %d %s %s", st, ct, body)
	}
}

// TestCodesReview4_9: an issuance's serials, a page at a time (≤ 1000), for readers of the
// lot; voided codes are marked.
func TestCodesReview4_9(t *testing.T) {
	f, lot, is, codes := scanFixture(t)
	path := recordsPath(plantApp, "lot") + "/" + lot.ID + "/codes/" + is.ID + "/serials"
	f.admin.Do("POST", "/api/v1/apps/plant/codes/"+codes[3].Serial+"/void", printing.ActInput{Reason: "破损"}, 200, nil)
	var got []printing.SerialItem
	pages, after := 0, ""
	for {
		var page printing.SerialPage
		f.admin.Do("GET", path+"?limit=2&after="+after, nil, 200, &page)
		got = append(got, page.Items...)
		pages++
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	if pages != 3 || len(got) != 5 {
		t.Fatalf("%d pages, %d serials", pages, len(got))
	}
	for i, it := range got {
		if it.Serial != codes[i].Serial || it.URL != codes[i].URL || it.Index != int64(i) || it.Void != (i == 3) {
			t.Fatalf("serial %d: %+v; want %+v", i, it, codes[i])
		}
	}
	f.admin.Do("GET", path+"?limit=1001", nil, 400, nil)
	f.admin.Do("GET", path+"?after=ZZZZZZZZZZZZ", nil, 400, nil)
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes/I999999/serials", nil, 404, nil)
	f.s.Client(t).Do("GET", path, nil, 401, nil)
}
