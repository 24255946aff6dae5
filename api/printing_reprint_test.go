package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/makiuchi-d/gozxing"
	zxqr "github.com/makiuchi-d/gozxing/qrcode"

	"tracecraft/api/apitest"
	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/printing"
)

// Issue 11: an operator (a reader of the form, no design right) lists the form's published
// print templates and prints with them; 补打 prints the label of a printed code again.

// reprintLotDef is a lot form: line operators read it, QA reads and updates it (reprints need
// update), "visitor" holds the app but no permission on the form.
const reprintLotDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "titleField": "lot_no",
  "schema": {"type": "object", "properties": {
    "lot_no":  {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "product": {"x-type": "text", "x-label": {"zh-CN": "产品", "en": "Product"}}
  }},
  "permissions": {"op": {"actions": ["read"]}, "qa": {"actions": ["read", "update"]}}
}`

// reprintUnit is a per-code unit label: the serial as text and the Digital Link as a QR.
func reprintUnit(key, name string) map[string]any {
	return map[string]any{
		"key": key, "name": map[string]string{"zh-CN": name}, "form": "lot", "kind": "label", "repeat": "code",
		"page": map[string]any{"width": 60, "height": 40, "margin": map[string]any{"top": 2, "right": 2, "bottom": 2, "left": 2}},
		"elements": []map[string]any{
			{"id": "sn", "type": "text", "x": 2, "y": 2, "w": 56, "h": 5, "text": name + " SN {{code.serial}}"},
			{"id": "qr", "type": "qr", "x": 20, "y": 10, "w": 24, "h": 24, "value": "{{code.url}}"},
		},
	}
}

// TestOperatorListsAndPrintsPublishedTemplates: GET …/forms/{form}/print-templates gives a
// reader of the form the published templates of that form — the published version's name,
// never the draft's, and no template that was never published — while the designers' list
// stays closed to them; a user of the app without the form's read gets 403. The operator's
// print uses the published version.
func TestOperatorListsAndPrintsPublishedTemplates(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, reprintLotDef)
	base := printBase("")
	rec := printLabel("lot_tag")
	rec["name"] = map[string]string{"zh-CN": "批次牌", "en": "Lot tag"}
	rec["elements"] = []map[string]any{{"id": "t", "type": "text", "x": 2, "y": 2, "w": 56, "h": 6, "text": "PUBLISHED {{lot_no}}"}}
	f.admin.Do("POST", base, rec, 201, nil)
	f.admin.Do("POST", base+"/lot_tag/publish", nil, 201, nil)
	// The draft changes after publishing: readers see (and print) the published version.
	var tpl printing.Template
	f.admin.Do("GET", base+"/lot_tag", nil, 200, &tpl)
	rec["name"] = map[string]string{"zh-CN": "草稿名"}
	rec["elements"] = []map[string]any{{"id": "t", "type": "text", "x": 2, "y": 2, "w": 56, "h": 6, "text": "DRAFT {{lot_no}}"}}
	f.admin.Do("PUT", base+"/lot_tag?rev="+fmt.Sprint(tpl.Rev), rec, 200, nil)
	f.admin.Do("POST", base, reprintUnit("unit", "单品码"), 201, nil)
	f.admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	f.admin.Do("POST", base, reprintUnit("never", "未发布"), 201, nil) // a draft only
	// A template of another form is not listed.
	f.publishForm(t, plantApp, printSupplierDef)
	other := printLabel("sup_tag")
	other["form"] = "supplier"
	other["elements"] = []map[string]any{{"id": "t", "type": "text", "x": 2, "y": 2, "w": 56, "h": 6, "text": "{{name}}"}}
	f.admin.Do("POST", base, other, 201, nil)
	f.admin.Do("POST", base+"/sup_tag/publish", nil, 201, nil)

	op := f.user(t, "olga", "op")
	list := "/api/v1/apps/" + plantApp + "/forms/lot/print-templates"
	var got []printing.FormTemplate
	op.Do("GET", list, nil, 200, &got)
	want := []printing.FormTemplate{
		{Key: "lot_tag", Name: engine.Text{ZH: "批次牌", EN: "Lot tag"}, Kind: "label", Repeat: "record", Version: 1, Page: printing.PageSize{Width: 60, Height: 40}},
		{Key: "unit", Name: engine.Text{ZH: "单品码"}, Kind: "label", Repeat: "code", Version: 1, Page: printing.PageSize{Width: 60, Height: 40}},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the operator's templates of lot:\n%+v\nwant\n%+v", got, want)
	}
	op.Do("GET", base, nil, 403, nil) // the designers' list, with drafts
	f.user(t, "vera", "visitor").Do("GET", list, nil, 403, nil)
	f.s.Client(t).Do("GET", list, nil, 401, nil)

	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L77", "product": "奶酪"}}, 201, &lot)
	res := op.Do("POST", base+"/lot_tag/print", printing.PrintInput{Records: []string{lot.ID}}, 200, nil)
	if text := pdfText(t, res.Body); !strings.Contains(text, "PUBLISHED L77") || strings.Contains(text, "DRAFT") {
		t.Fatalf("the operator's print: %q", text)
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/lot_tag/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 || jobs.Items[0].Version != 1 || jobs.Items[0].By != "olga" {
		t.Fatalf("jobs %+v", jobs.Items)
	}
}

// TestReprintPrintsTheLabel: a print naming serials (补打) of printed codes makes their labels
// again — one page per code whose QR reads back as that code's Digital Link — and records each
// as a reprint (audited, the lot's reprinted count), with a required reason and update on the
// lot. A void code, one not printed yet, one of another issuance or another lot is refused
// naming it, and nothing is recorded.
func TestReprintPrintsTheLabel(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, reprintLotDef)
	base := printBase("")
	f.admin.Do("POST", base, reprintUnit("unit", "单品码"), 201, nil)
	f.admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	lots := recordsPath(plantApp, "lot")
	var lot, lot2 struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", lots, map[string]any{"data": map[string]any{"lot_no": "L88", "product": "奶酪"}}, 201, &lot)
	f.admin.Do("POST", lots, map[string]any{"data": map[string]any{"lot_no": "L89", "product": "黄油"}}, 201, &lot2)
	issue := func(id string, n int) (printing.Issuance, []string) {
		var is printing.Issuance
		f.admin.Do("POST", lots+"/"+id+"/codes", printing.IssueInput{Count: n, GTIN: "09501101530003"}, 201, &is)
		var page printing.SerialPage
		f.admin.Do("GET", lots+"/"+id+"/codes/"+is.ID+"/serials", nil, 200, &page)
		var serials []string
		for _, it := range page.Items {
			serials = append(serials, it.Serial)
		}
		return is, serials
	}
	is, serials := issue(lot.ID, 5)
	print := base + "/unit/print"
	f.admin.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Issuance: is.ID}, 200, nil)
	// Printed in full: the issuance prints nothing more.
	if e := f.admin.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Issuance: is.ID}, 409, nil).Error(t); e.Code != "print_codes_printed" {
		t.Fatalf("a printed issuance printed again: %+v", e)
	}

	qa, op := f.user(t, "qiao", "qa"), f.user(t, "olga", "op")
	target := serials[2]
	wantFields(t, qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{target}}, 400, nil), "reason required")
	op.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{target}, Reason: "标签污损"}, 403, nil)

	res := qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{strings.ToLower(target)}, Reason: "标签污损"}, 200, nil)
	if res.Header.Get("Content-Type") != "application/pdf" || pdfPages(t, res.Body) != 1 {
		t.Fatalf("reprint answer %s, %d pages", res.Header.Get("Content-Type"), pdfPages(t, res.Body))
	}
	var detail printing.CodeDetail
	f.admin.Do("GET", "/api/v1/apps/"+plantApp+"/codes/"+target, nil, 200, &detail)
	if got := readQR(t, res.Body); got != detail.URL || !strings.Contains(got, "/21/"+target) {
		t.Fatalf("the reprinted label's QR reads %q, want %q", got, detail.URL)
	}
	if text := pdfText(t, res.Body); !strings.Contains(text, "SN "+target) {
		t.Fatalf("the reprinted label: %q", text)
	}
	if detail.Reprints != 1 {
		t.Fatalf("the code's reprints: %d", detail.Reprints)
	}
	var lc printing.LotCodes
	f.admin.Do("GET", lots+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals.Reprinted != 1 || lc.Totals.Printed != 5 {
		t.Fatalf("lot counts after one reprint: %+v", lc.Totals)
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/unit/jobs", nil, 200, &jobs)
	if j := jobs.Items[0]; !slices.Equal(j.Serials, []string{target}) || j.Reason != "标签污损" || len(j.Codes) != 0 || j.Labels != 1 || j.By != "qiao" {
		t.Fatalf("the reprint's job: %+v", j)
	}
	entries, err := f.s.Kernel.Audit.List(context.Background(), engine.AuditQuery{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	reprints := 0
	for _, en := range entries {
		if en.Action == "codes.reprint" && en.Target == target && en.Actor == "qiao" {
			after, _ := en.After.(map[string]any)
			if after["reason"] != "标签污损" {
				t.Fatalf("reprint entry %+v", en)
			}
			reprints++
		}
	}
	if reprints != 1 {
		t.Fatalf("%d reprint entries of %s", reprints, target)
	}

	// Two codes at once: two pages in the order given.
	res = qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{serials[4], serials[0]}, Reason: "卡纸"}, 200, nil)
	if text := pdfText(t, res.Body); pdfPages(t, res.Body) != 2 || strings.Index(text, serials[4]) > strings.Index(text, serials[0]) {
		t.Fatalf("two reprints: %q", text)
	}

	// Refusals name the code; none records a reprint.
	f.admin.Do("POST", "/api/v1/apps/"+plantApp+"/codes/"+serials[1]+"/void", map[string]any{"reason": "破损"}, 200, nil)
	if e := qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{serials[3], serials[1]}, Reason: "x"}, 409, nil).Error(t); e.Code != "print_code_voided" || !strings.Contains(e.Message, serials[1]) {
		t.Fatalf("a void code reprinted: %+v", e)
	}
	is2, fresh := issue(lot.ID, 3)
	if e := qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{fresh[0]}, Reason: "x"}, 409, nil).Error(t); e.Code != "print_code_unprinted" || !strings.Contains(e.Message, fresh[0]) {
		t.Fatalf("a code never printed 'reprinted': %+v", e)
	}
	f.admin.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Issuance: is2.ID}, 200, nil)
	wantFields(t, qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{serials[3], fresh[0]}, Reason: "x"}, 400, nil), "serials/1 print_serials_issuance")
	_, elsewhere := issue(lot2.ID, 1)
	wantFields(t, qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{elsewhere[0]}, Reason: "x"}, 400, nil), "serials/0 print_serial_elsewhere")
	wantFields(t, qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{serials[3], serials[3]}, Reason: "x"}, 400, nil), "serials/1 duplicate_key")
	wantFields(t, qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: []string{"0000000000000"}, Reason: "x"}, 400, nil), "serials/0 not_found")
	many := make([]string, printing.MaxRecords+1)
	for i := range many {
		many[i] = serials[3]
	}
	wantFields(t, qa.Do("POST", print, printing.PrintInput{Records: []string{lot.ID}, Serials: many, Reason: "x"}, 400, nil), "serials too_many")
	f.admin.Do("GET", lots+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals.Reprinted != 3 {
		t.Fatalf("refused reprints were counted: %+v", lc.Totals)
	}
	// A template printed per record has no codes to reprint.
	tag := printLabel("lot_tag")
	tag["elements"] = []map[string]any{{"id": "t", "type": "text", "x": 2, "y": 2, "w": 56, "h": 6, "text": "{{lot_no}}"}}
	f.admin.Do("POST", base, tag, 201, nil)
	f.admin.Do("POST", base+"/lot_tag/publish", nil, 201, nil)
	wantFields(t, qa.Do("POST", base+"/lot_tag/print", printing.PrintInput{Records: []string{lot.ID}, Serials: []string{serials[3]}, Reason: "x"}, 400, nil), "serials print_serials_not_code")
}

// readQR rasterises the PDF's one page (pdftoppm, 300 dpi) and reads its QR code.
func readQR(t *testing.T, pdf []byte) string {
	t.Helper()
	dir := t.TempDir()
	out, err := exec.Command("pdftoppm", "-r", "300", "-gray", "-png", "-singlefile", writePDF(t, pdf), filepath.Join(dir, "p")).CombinedOutput()
	if err != nil {
		t.Fatalf("pdftoppm: %v: %s", err, out)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "p.png"))
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	return decodeQR(t, img)
}

func decodeQR(t *testing.T, img image.Image) string {
	t.Helper()
	bmp, err := gozxing.NewBinaryBitmapFromImage(img)
	if err != nil {
		t.Fatal(err)
	}
	res, err := zxqr.NewQRCodeReader().Decode(bmp, map[gozxing.DecodeHintType]any{gozxing.DecodeHintType_TRY_HARDER: true})
	if err != nil {
		t.Fatalf("no QR code on the label: %v", err)
	}
	return res.GetText()
}

// BenchmarkReprintCodes: 1,000 printed codes of a lot reprinted in one print (each recorded
// through Codes.Reprint), against printing the same 1,000 codes the first time, in the same
// run: go test -run '^$' -bench ReprintCodes -benchtime 1x ./api/
func BenchmarkReprintCodes(b *testing.B) {
	admin := apitest.Start(b).Admin(b)
	admin.Do("POST", "/api/v1/apps", forms.AppInput{Key: plantApp, Name: engine.Text{ZH: "工厂"}}, 201, nil)
	admin.Do("POST", "/api/v1/apps/"+plantApp+"/forms", json.RawMessage(reprintLotDef), 201, nil)
	admin.Do("POST", "/api/v1/apps/"+plantApp+"/forms/lot/publish", nil, 201, nil)
	base := printBase("")
	admin.Do("POST", base, reprintUnit("unit", "单品码"), 201, nil)
	admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	lots := recordsPath(plantApp, "lot")
	var first, again time.Duration
	for i := 0; i < b.N; i++ {
		var lot struct {
			ID string `json:"id"`
		}
		admin.Do("POST", lots, map[string]any{"data": map[string]any{"lot_no": fmt.Sprint("B", i), "product": "奶酪"}}, 201, &lot)
		var is printing.Issuance
		admin.Do("POST", lots+"/"+lot.ID+"/codes", printing.IssueInput{Count: printing.MaxRecords, GTIN: "09501101530003"}, 201, &is)
		var page printing.SerialPage
		admin.Do("GET", lots+"/"+lot.ID+"/codes/"+is.ID+"/serials?limit=1000", nil, 200, &page)
		serials := make([]string, 0, len(page.Items))
		for _, it := range page.Items {
			serials = append(serials, it.Serial)
		}
		t0 := time.Now()
		admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot.ID}, Issuance: is.ID}, 200, nil)
		t1 := time.Now()
		admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot.ID}, Serials: serials, Reason: "bench"}, 200, nil)
		first, again = first+t1.Sub(t0), again+time.Since(t1)
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "s/print-1000")
	b.ReportMetric(again.Seconds()/float64(b.N), "s/reprint-1000")
	b.ReportMetric(again.Seconds()/first.Seconds(), "reprint/print")
}
