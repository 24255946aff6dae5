package api_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"tracecraft/api"
	"tracecraft/engine"
	"tracecraft/printing"
)

// The printing engine over HTTP: print templates of a lot form whose cost is hidden from the
// operators' role, a supplier the lot points to, detail lines.

const printSupplierDef = `{
  "key": "supplier",
  "name": {"zh-CN": "供应商", "en": "Supplier"},
  "titleField": "name",
  "schema": {"type": "object", "properties": {
    "name": {"x-type": "text", "x-label": {"zh-CN": "名称", "en": "Name"}},
    "city": {"x-type": "text", "x-label": {"zh-CN": "城市", "en": "City"}}
  }},
  "permissions": {"op": {"actions": ["read"]}}
}`

const printLotDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "titleField": "lot_no",
  "schema": {"type": "object", "properties": {
    "lot_no":   {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "product":  {"x-type": "text", "x-label": {"zh-CN": "产品", "en": "Product"}},
    "qty":      {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
    "cost":     {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
    "grade":    {"x-type": "select", "x-label": {"zh-CN": "等级", "en": "Grade"}, "x-options": {"options": [
                  {"value": "a", "label": {"zh-CN": "甲级", "en": "Grade A"}}, {"value": "b", "label": {"zh-CN": "乙级", "en": "Grade B"}}]}},
    "made_on":  {"x-type": "date", "x-label": {"zh-CN": "生产日期", "en": "Made on"}},
    "supplier": {"x-type": "relation", "x-label": {"zh-CN": "供应商", "en": "Supplier"}, "x-options": {"form": "supplier"}},
    "lines":    {"x-type": "subtable", "x-label": {"zh-CN": "明细", "en": "Lines"}, "items": {"type": "object", "properties": {
                  "item": {"x-type": "text", "x-label": {"zh-CN": "品名", "en": "Item"}},
                  "n":    {"x-type": "number", "x-label": {"zh-CN": "件数", "en": "Count"}}}}}
  }},
  "permissions": {"op": {"actions": ["create", "read"], "hidden": ["cost"]}}
}`

// printLabel is a 60×40 mm lot label: text with fields, the supplier's city through the
// relation, the hidden cost, a GS1-128 of static and field parts, a QR of the lot number.
func printLabel(key string) map[string]any {
	return map[string]any{
		"key": key, "name": map[string]string{"zh-CN": "批次标签"}, "form": "lot", "kind": "label",
		"page": map[string]any{"width": 60, "height": 40, "margin": map[string]any{"top": 2, "right": 2, "bottom": 2, "left": 2}},
		"elements": []map[string]any{
			{"id": "title", "type": "text", "x": 2, "y": 2, "w": 56, "h": 6, "text": "{{product}} {{grade}}", "font": map[string]any{"size": 10, "bold": true}},
			{"id": "lot", "type": "text", "x": 2, "y": 9, "w": 56, "h": 5, "text": "LOT {{lot_no}} QTY {{qty|number:1}}"},
			{"id": "sup", "type": "text", "x": 2, "y": 14, "w": 56, "h": 5, "text": "SUP {{supplier}} {{supplier.city}}"},
			{"id": "cost", "type": "text", "x": 2, "y": 19, "w": 56, "h": 5, "text": "COST {{cost}}"},
			{"id": "qr", "type": "qr", "x": 44, "y": 24, "w": 14, "h": 14, "value": "{{lot_no}}"},
			{"id": "frame", "type": "box", "x": 1, "y": 1, "w": 58, "h": 38},
		},
	}
}

func printBase(key string) string { return "/api/v1/apps/" + plantApp + "/print-templates" + key }

// TestPrintTemplateErrors: a template with mistakes is a 400 naming each mistake's place.
func TestPrintTemplateErrors(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	bad := printLabel("bad")
	bad["page"] = map[string]any{"width": 60, "height": 40, "sheet": map[string]any{"width": 210, "height": 297, "rows": 7, "columns": 4, "gapX": 2, "gapY": 2}}
	bad["elements"] = []map[string]any{
		{"id": "wide", "type": "text", "x": 10, "y": 2, "w": 56, "h": 6, "text": "{{product}}"},
		{"id": "kind", "type": "sticker", "x": 1, "y": 1, "w": 5, "h": 5},
		{"id": "turn", "type": "text", "x": 30, "y": 1, "w": 5, "h": 5, "rotate": 45, "text": "x"},
		{"id": "nofield", "type": "text", "x": 1, "y": 1, "w": 5, "h": 5, "text": "{{weight}}"},
		{"id": "row", "type": "text", "x": 1, "y": 1, "w": 5, "h": 5, "text": "{{row.item}}"},
		{"id": "rel", "type": "text", "x": 1, "y": 1, "w": 5, "h": 5, "text": "{{supplier.phone}}"},
		{"id": "code", "type": "qr", "x": 1, "y": 1, "w": 5, "h": 5, "value": "{{code.url}}"},
		{"id": "gs1", "type": "gs1_128", "x": 1, "y": 20, "w": 50, "h": 10, "value": "(01)12345678901234(10){{lot_no}}"},
		{"id": "fmt", "type": "text", "x": 1, "y": 1, "w": 5, "h": 5, "text": "{{qty|bogus}}"},
		{"id": "turned", "type": "text", "x": 5, "y": 30, "w": 20, "h": 5, "rotate": 90, "text": "x"},
		{"id": "tbl", "type": "table", "x": 1, "y": 1, "w": 50, "h": 20, "table": map[string]any{"source": "product",
			"columns": []map[string]any{{"header": map[string]string{"zh-CN": "品名"}, "value": "{{row.item}}"}}}},
		{"id": "wide", "type": "box", "x": 1, "y": 1, "w": 5, "h": 5},
	}
	res := f.admin.Do("POST", base, bad, 400, nil)
	wantFields(t, res,
		"/page/sheet/columns print_sheet_overflow",
		"/elements/0/w print_outside",
		"/elements/1/type not_allowed",
		"/elements/2/rotate not_allowed",
		"/elements/3/text print_no_field",
		"/elements/4/text print_row_outside",
		"/elements/5/text print_no_field",
		"/elements/6/value print_code_outside",
		"/elements/7/value print_gs1",
		"/elements/8/text print_placeholder",
		"/elements/9/w print_outside",
		"/elements/10/table/source print_not_subtable",
		"/elements/11/id duplicate_key",
	)
	if !strings.Contains(string(res.Body), "12345678901234") && !strings.Contains(string(res.Body), "check digit") {
		t.Errorf("the GS1 error says what is wrong: %s", res.Body)
	}

	// The page itself, and what a template repeats per.
	page := printLabel("page")
	page["page"] = map[string]any{"width": 0, "height": 1200}
	page["repeat"] = "row"
	page["elements"] = []map[string]any{}
	wantFields(t, f.admin.Do("POST", base, page, 400, nil), "/page/width print_size", "/page/height print_size", "/repeatField required")
	sheet := printLabel("sheet")
	sheet["kind"] = "sheet"
	sheet["page"] = map[string]any{"width": 300, "height": 420}
	sheet["elements"] = []map[string]any{}
	wantFields(t, f.admin.Do("POST", base, sheet, 400, nil), "/page/width print_size")

	// The meta-schema first: an unknown member is refused with its place.
	unknown := printLabel("unknown")
	unknown["colour"] = "red"
	res = f.admin.Do("POST", base, unknown, 400, nil)
	if !strings.Contains(string(res.Body), `"field":"/colour"`) && !strings.Contains(string(res.Body), `"field":""`) {
		t.Fatalf("unknown member: %s", res.Body)
	}
	// A form that is not published, and a row template over its sub-table (right).
	other := printLabel("other")
	other["form"] = "nosuch"
	wantFields(t, f.admin.Do("POST", base, other, 400, nil), "/form not_found")
	rows := printLabel("rows")
	rows["repeat"], rows["repeatField"] = "row", "lines"
	rows["elements"] = []map[string]any{{"id": "item", "type": "text", "x": 1, "y": 1, "w": 50, "h": 6, "text": "{{row.item}} × {{row.n}} ({{lot_no}})"}}
	f.admin.Do("POST", base, rows, 201, nil)
}

// TestPrintPreviewAndJob: a preview is a real PDF of one page (of three for a row template's
// sample); an operator prints a lot: the PDF has the lot's values, the supplier's name and city
// through the relation, and never the cost hidden from the operator's role; the job records the
// template's and the form's versions, is in the audit log and in the template's jobs, which
// operators may not list; a user who may not read the lot cannot print it.
func TestPrintPreviewAndJob(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)

	// The draft previews with sample values before it is published.
	res := f.admin.Do("POST", base+"/lot_label/preview", map[string]any{}, 200, nil)
	if pages := pdfPages(t, res.Body); pages != 1 || res.Header.Get("Content-Type") != "application/pdf" {
		t.Fatalf("sample preview: %d pages, %s", pages, res.Header.Get("Content-Type"))
	}
	if text := pdfText(t, res.Body); !strings.Contains(text, "产品") || !strings.Contains(text, "批号") {
		t.Fatalf("sample preview shows the fields' labels: %q", text)
	}
	// An unsaved definition previews too: a row template makes a page per sample row.
	rows := printLabel("lot_label")
	rows["repeat"], rows["repeatField"] = "row", "lines"
	rows["elements"] = []map[string]any{{"id": "item", "type": "text", "x": 1, "y": 1, "w": 50, "h": 6, "text": "{{row.item}}"}}
	res = f.admin.Do("POST", base+"/lot_label/preview", map[string]any{"definition": rows}, 200, nil)
	if pages := pdfPages(t, res.Body); pages != 3 {
		t.Fatalf("row preview: %d pages, want 3", pages)
	}
	// Printing needs a published version.
	var sup, lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "supplier"), map[string]any{"data": map[string]any{"name": "青山农场", "city": "HANGZHOU"}}, 201, &sup)
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{
		"lot_no": "L-2026-001", "product": "鲜奶", "qty": 120, "cost": 987654.25, "grade": "a", "made_on": "2026-03-01",
		"supplier": sup.ID, "lines": []map[string]any{{"item": "瓶", "n": 2}}}}, 201, &lot)
	f.admin.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}}, 409, nil)
	var v printing.TemplateVersion
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, &v)
	if v.Number != 1 {
		t.Fatalf("version %+v", v)
	}
	var listed []printing.Template
	f.admin.Do("GET", base, nil, 200, &listed)
	if len(listed) != 1 || listed[0].Published != 1 {
		t.Fatalf("templates listed after publishing: %+v", listed)
	}

	// The designer's preview of the record shows the cost; the operator's print never does.
	res = f.admin.Do("POST", base+"/lot_label/preview", map[string]any{"record": lot.ID}, 200, nil)
	if text := pdfText(t, res.Body); !strings.Contains(text, "987654") {
		t.Fatalf("the designer sees the cost: %q", text)
	}
	op := f.user(t, "olga", "op")
	res = op.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}}, 200, nil)
	if res.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(res.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("print answer headers: %v", res.Header)
	}
	jobID := res.Header.Get(api.HeaderPrintJob)
	text := pdfText(t, res.Body)
	for _, want := range []string{"鲜奶", "甲级", "L-2026-001", "120.0", "青山农场", "HANGZHOU", "COST"} {
		if !strings.Contains(text, want) {
			t.Errorf("printed label lacks %q: %q", want, text)
		}
	}
	if strings.Contains(text, "987654") {
		t.Fatalf("the cost hidden from the operator's role is on the label: %q", text)
	}
	if pages := pdfPages(t, res.Body); pages != 1 || jobID == "" {
		t.Fatalf("print: %d pages, job %q", pages, jobID)
	}

	// The job: template version, the record's form version, who, how many labels.
	var jobs printing.JobList
	f.admin.Do("GET", base+"/lot_label/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 {
		t.Fatalf("jobs %+v", jobs)
	}
	j := jobs.Items[0]
	if j.ID != jobID || j.Version != 1 || j.By != "olga" || j.Labels != 1 || j.Output != "pdf" ||
		len(j.Records) != 1 || j.Records[0].ID != lot.ID || j.Records[0].Version != 1 || j.SHA256 == "" {
		t.Fatalf("job %+v", j)
	}
	op.Do("GET", base+"/lot_label/jobs", nil, 403, nil)
	entries, err := f.s.Kernel.Audit.List(context.Background(), engine.AuditQuery{Target: plantApp + "/" + jobID})
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Action != "print.job" || entries[0].Actor != "olga" {
		t.Fatalf("audit entries of the job: %+v", entries)
	}

	// Limits and rights: too many records; a user who may not read lots cannot print one.
	many := make([]string, printing.MaxRecords+1)
	for i := range many {
		many[i] = "r" + strconv.Itoa(i)
	}
	wantFields(t, op.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: many}, 400, nil), "records too_many")
	stranger := f.user(t, "sam", "visitor")
	res = stranger.Raw("POST", base+"/lot_label/print", "application/json", []byte(`{"records":["`+lot.ID+`"]}`))
	if res.Status != 403 && res.Status != 404 {
		t.Fatalf("a user who may not read the lot printed it: %d %s", res.Status, res.Body)
	}
	f.admin.Do("GET", base+"/lot_label/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 {
		t.Fatalf("a refused print made a job: %+v", jobs)
	}
}

// TestPrintAction: the kernel action printing.print, as a rule or flow runs it, attaches the
// label's PDF to the record and records one job however often the same run is retried.
func TestPrintAction(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L-7", "product": "酸奶"}}, 201, &lot)
	act, ok := f.s.Kernel.Actions.Get(printing.ActionPrint)
	if !ok {
		t.Fatal("printing.print is not registered")
	}
	ctx := context.Background()
	if err := act.Check(ctx, plantApp, map[string]any{"template": "nosuch"}); err == nil {
		t.Fatal("an unknown template passes the action's check")
	}
	ac := engine.ActionContext{Key: "rule:lot@1:ev1", App: plantApp, Form: "lot", Record: lot.ID, Actor: engine.SystemPrincipal(),
		Params: map[string]any{"template": "lot_label"}}
	first, err := act.Run(ctx, ac)
	if err != nil {
		t.Fatal(err)
	}
	again, err := act.Run(ctx, ac)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := first["output"].(string)
	if !strings.HasPrefix(out, "file:") || again["job"] != first["job"] || again["output"] != out {
		t.Fatalf("action results %v then %v", first, again)
	}
	res := f.admin.Do("GET", "/api/v1/apps/"+plantApp+"/files/"+strings.TrimPrefix(out, "file:"), nil, 200, nil)
	if text := pdfText(t, res.Body); !strings.Contains(text, "酸奶") || !strings.Contains(text, "L-7") {
		t.Fatalf("the attached PDF: %q", text)
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/lot_label/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 || jobs.Items[0].Key != ac.Key {
		t.Fatalf("jobs %+v", jobs)
	}
}

// needPoppler fails where poppler-utils are missing (.ci/run installs them): never a silent skip.
func needPoppler(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"pdfinfo", "pdftotext", "pdftoppm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is missing (apt-get install poppler-utils; .ci/run installs it)", tool)
		}
	}
}

func writePDF(t *testing.T, pdf []byte) string {
	t.Helper()
	if !bytes.HasPrefix(pdf, []byte("%PDF-")) {
		t.Fatalf("not a PDF: %.80q", pdf)
	}
	path := filepath.Join(t.TempDir(), "out.pdf")
	if err := os.WriteFile(path, pdf, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pdfPages is the page count pdfinfo reads.
func pdfPages(t *testing.T, pdf []byte) int {
	t.Helper()
	out, err := exec.Command("pdfinfo", writePDF(t, pdf)).CombinedOutput()
	if err != nil {
		t.Fatalf("pdfinfo: %v: %s", err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "Pages:"); ok {
			n, _ := strconv.Atoi(strings.TrimSpace(rest))
			return n
		}
	}
	t.Fatalf("pdfinfo gives no page count: %s", out)
	return 0
}

// pdfText is the text pdftotext reads, spaces squeezed.
func pdfText(t *testing.T, pdf []byte) string {
	t.Helper()
	out, err := exec.Command("pdftotext", "-enc", "UTF-8", writePDF(t, pdf), "-").CombinedOutput()
	if err != nil {
		t.Fatalf("pdftotext: %v: %s", err, out)
	}
	return strings.Join(strings.Fields(string(out)), " ")
}

// TestPrintPerCode: a template printed per item code makes one label per code issued for the
// lot, each with its own serial and Digital Link; the job counts the codes per issuance and the
// lot's printed count follows.
func TestPrintPerCode(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	def := printLabel("unit")
	def["repeat"] = "code"
	def["elements"] = []map[string]any{
		{"id": "serial", "type": "text", "x": 2, "y": 2, "w": 40, "h": 5, "text": "SN {{code.serial}} {{lot_no}}"},
		{"id": "qr", "type": "qr", "x": 40, "y": 20, "w": 18, "h": 18, "value": "{{code.url}}"},
	}
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L9", "product": "奶酪"}}, 201, &lot)
	var is printing.Issuance
	f.admin.Do("POST", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", printing.IssueInput{Count: 5, GTIN: "09501101530003"}, 201, &is)
	res := f.admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot.ID}}, 200, nil)
	if pages := pdfPages(t, res.Body); pages != 5 {
		t.Fatalf("%d labels, want one per code (5)", pages)
	}
	text := pdfText(t, res.Body)
	// A serial may itself end in "SN": labels are counted as "SN <serial> L9".
	if n := len(regexp.MustCompile(`SN [0-9A-Z]{12} L9`).FindAllString(text, -1)); n != 5 || !strings.Contains(text, is.First) {
		t.Fatalf("labels: %q (first serial %s)", text, is.First)
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/unit/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 || len(jobs.Items[0].Codes) != 1 || jobs.Items[0].Codes[0] != (printing.JobCodes{Issuance: is.ID, N: 5}) || jobs.Items[0].Labels != 5 {
		t.Fatalf("job %+v", jobs.Items)
	}
	var lc printing.LotCodes
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals.Printed != 5 {
		t.Fatalf("lot counts %+v", lc.Totals)
	}
}

// TestPrintZip: past 10,000 labels a print is a ZIP of PDFs of 10,000 labels each.
func TestPrintZip(t *testing.T) {
	if testing.Short() {
		t.Skip("draws 10,002 labels")
	}
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, strings.Replace(printLotDef, `"x-label": {"zh-CN": "明细", "en": "Lines"},`, `"x-label": {"zh-CN": "明细", "en": "Lines"}, "x-options": {"maxRows": 10000},`, 1))
	base := printBase("")
	def := printLabel("line")
	def["repeat"], def["repeatField"] = "row", "lines"
	def["elements"] = []map[string]any{{"id": "item", "type": "text", "x": 2, "y": 2, "w": 50, "h": 6, "text": "{{row.item}} {{row.n}}"}}
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/line/publish", nil, 201, nil)
	var ids []string
	for r := 0; r < 2; r++ {
		lines := make([]map[string]any, 5001)
		for i := range lines {
			lines[i] = map[string]any{"item": "件", "n": i}
		}
		var rec struct {
			ID string `json:"id"`
		}
		f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "Z" + strconv.Itoa(r), "lines": lines}}, 201, &rec)
		ids = append(ids, rec.ID)
	}
	res := f.admin.Do("POST", base+"/line/print", printing.PrintInput{Records: ids}, 200, nil)
	if res.Header.Get("Content-Type") != "application/zip" || res.Header.Get("X-Print-Labels") != "10002" {
		t.Fatalf("headers %v", res.Header)
	}
	zr, err := zip.NewReader(bytes.NewReader(res.Body), int64(len(res.Body)))
	if err != nil {
		t.Fatal(err)
	}
	var pages []int
	for _, zf := range zr.File {
		r, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		pdf, err := io.ReadAll(r)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		pages = append(pages, pdfPages(t, pdf))
	}
	if len(pages) != 2 || pages[0] != 10000 || pages[1] != 2 {
		t.Fatalf("PDFs in the ZIP have %v pages, want [10000 2]", pages)
	}
}
