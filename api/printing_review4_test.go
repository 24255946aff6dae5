package api_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"image"
	"image/png"
	"net"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/printing"
	"tracecraft/printing/printingtest"
)

// Tests of the fourth review of the printing engine (issue 11) that need forms, records, codes
// and HTTP: one per finding, TestPrintingReview4_N.

// logoPNG is a w×h PNG of black and white blocks (noise a printer cannot compress).
func logoPNG(t *testing.T, w, h int) []byte {
	t.Helper()
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := range h {
		for x := range w {
			if (x*7919+y*104729+x*y*31)%3 == 0 {
				img.Pix[y*img.Stride+x] = 255
			}
		}
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// stalledPrinter accepts a connection, reads n bytes of it and then stops reading (holding
// it open until the test ends).
func stalledPrinter(t *testing.T, n int) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var held []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
			buf := make([]byte, 64<<10)
			for got := 0; got < n; {
				k, err := c.Read(buf[:min(len(buf), n-got)])
				got += k
				if err != nil {
					break
				}
			}
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		for _, c := range held {
			c.Close()
		}
	})
	return ln.Addr().(*net.TCPAddr).Port
}

// TestPrintingReview4_3: a label printer that stops taking a large job partway: the print
// fails with how far it went, the job is recorded as failed with the labels and item codes
// that went out, only those codes count as printed, and the next print of the lot prints the
// rest. (Also item 10: with the issuance named, codes printed already are not printed again.)
func TestPrintingReview4_3(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	logo := upload(t, f.admin, plantApp, "noise.png", logoPNG(t, 400, 240), 201)
	base := printBase("")
	def := printLabel("unit")
	def["page"] = map[string]any{"width": 100, "height": 60}
	def["repeat"] = "code"
	def["elements"] = []map[string]any{
		{"id": "noise", "type": "image", "x": 0, "y": 0, "w": 100, "h": 60, "src": logo.ID},
		{"id": "sn", "type": "text", "x": 2, "y": 2, "w": 50, "h": 5, "text": "SN {{code.serial}}"},
	}
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L-BIG", "product": "奶"}}, 201, &lot)
	var is printing.Issuance
	f.admin.Do("POST", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", printing.IssueInput{Count: 40, GTIN: "09501101530003"}, 201, &is)

	// 40 labels of ~400 KB at 600 dpi (16 MB): far more than the socket buffers hold.
	stub := printingtest.NewPrinter(t)
	const admin = "/api/v1/admin/printers"
	f.admin.Do("PUT", admin, map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "stalls", "host": "127.0.0.1", "port": stalledPrinter(t, 1<<20), "language": "tspl", "dpi": 600, "timeout": 1},
		{"name": "ok", "host": "127.0.0.1", "port": stub.Port(), "language": "tspl", "dpi": 600},
	}}, 200, nil)
	e := f.admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot.ID}, Output: "printer", Printer: "stalls"}, 409, nil).Error(t)
	if e.Code != "printer_failed_job" || !strings.Contains(e.Message, "打印机 stalls 未能收完打印任务") {
		t.Fatalf("a printer that stops reading: %+v", e)
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/unit/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 {
		t.Fatalf("jobs %+v", jobs.Items)
	}
	j := jobs.Items[0]
	if j.Status != printing.JobFailed || j.Total != 40 || j.Labels <= 0 || j.Labels >= 40 || j.Error == "" || j.Sent <= 0 || j.Sent >= j.Size ||
		len(j.Codes) != 1 || j.Codes[0].N != j.Labels || !strings.Contains(e.Message, j.ID) {
		t.Fatalf("the failed job: %+v (error %q)", j, e.Message)
	}
	var lc printing.LotCodes
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals.Printed != int64(j.Labels) {
		t.Fatalf("printed %d codes, the printer took %d labels", lc.Totals.Printed, j.Labels)
	}

	// The rest: the codes not yet printed, once.
	var rest printing.Job
	f.admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot.ID}, Issuance: is.ID, Output: "printer", Printer: "ok"}, 200, &rest)
	if rest.Labels != 40-j.Labels || rest.Status != printing.JobDone {
		t.Fatalf("the rest: %d labels (%s), want %d", rest.Labels, rest.Status, 40-j.Labels)
	}
	if got := string(stub.Job(t, 0)); strings.Count(got, "PRINT 1,1") != 40-j.Labels {
		t.Fatalf("the printer received %d labels", strings.Count(got, "PRINT 1,1"))
	}
	e = f.admin.Do("POST", base+"/unit/print", printing.PrintInput{Records: []string{lot.ID}, Issuance: is.ID}, 409, nil).Error(t)
	if e.Code != "print_codes_printed" {
		t.Fatalf("printing a printed issuance again: %+v", e)
	}
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals.Printed != 40 {
		t.Fatalf("printed %d codes, want 40", lc.Totals.Printed)
	}
}

// supplierNoOp is the supplier form without any permission for the operators' role.
var supplierNoOp = strings.Replace(printSupplierDef, `"permissions": {"op": {"actions": ["read"]}}`, `"permissions": {}`, 1)

// TestPrintingReview4_4: a relation prints the related record's title only to whoever may read
// that record: an operator who may not read suppliers prints the supplier's bare id.
func TestPrintingReview4_4(t *testing.T) {
	if !strings.Contains(supplierNoOp, `"permissions": {}`) {
		t.Fatal("the supplier form still grants op")
	}
	f := newFixture(t)
	f.publishForm(t, plantApp, supplierNoOp)
	f.publishForm(t, plantApp, printLotDef)
	stub := printingtest.NewPrinter(t)
	f.admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "zebra", "host": "127.0.0.1", "port": stub.Port(), "language": "zpl"}}}, 200, nil)
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, nil)
	var sup, lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "supplier"), map[string]any{"data": map[string]any{"name": "GREEN HILL FARM", "city": "HANGZHOU"}}, 201, &sup)
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L-4", "product": "P", "supplier": sup.ID}}, 201, &lot)
	op := f.user(t, "olga", "op")
	op.Do("GET", recordsPath(plantApp, "supplier")+"/"+sup.ID, nil, 403, nil)
	op.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}, Output: "printer", Printer: "zebra"}, 200, nil)
	got := string(stub.Job(t, 0))
	if strings.Contains(got, "GREEN HILL") || strings.Contains(got, "HANGZHOU") || !strings.Contains(got, "^FDSUP "+sup.ID) {
		t.Fatalf("the supplier the operator may not read is on the label:\n%s", got)
	}
}

// TestPrintingReview4_5: the print action runs as the system and its PDF is attached for every
// reader of the record: a field hidden from a reading role (the operators' cost) is not on it.
func TestPrintingReview4_5(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	f.user(t, "olga", "op")
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{
		"lot_no": "L-5", "product": "酸奶", "qty": 3, "cost": 987654.25}}, 201, &lot)
	act, _ := f.s.Kernel.Actions.Get(printing.ActionPrint)
	out, err := act.Run(context.Background(), engine.ActionContext{Key: "rule:lot@1:ev5", App: plantApp, Form: "lot", Record: lot.ID,
		Actor: engine.SystemPrincipal(), Params: map[string]any{"template": "lot_label"}})
	if err != nil {
		t.Fatal(err)
	}
	file := strings.TrimPrefix(out["output"].(string), "file:")
	res := f.admin.Do("GET", "/api/v1/apps/"+plantApp+"/files/"+file, nil, 200, nil)
	text := pdfText(t, res.Body)
	if !strings.Contains(text, "L-5") || !strings.Contains(text, "酸奶") {
		t.Fatalf("the attached PDF lacks the lot: %q", text)
	}
	if strings.Contains(text, "987654") {
		t.Fatalf("the cost hidden from the operators is on the PDF every reader may open: %q", text)
	}
}

// actionJobID is the print action's job id for a run key (as the engine makes it).
func actionJobID(app, key string) string {
	sum := sha256.Sum256([]byte(app + "\x00" + key))
	return "a" + hex.EncodeToString(sum[:13])
}

// TestPrintingReview4_6: the print action stores its job as pending before it prints. A run
// that finds its printer job still pending (an earlier run stopped while sending) does not
// send it again but marks it unknown; a run that could not reach the printer leaves no job,
// and a run again prints.
func TestPrintingReview4_6(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	stub := printingtest.NewPrinter(t)
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := dead.Addr().(*net.TCPAddr).Port
	dead.Close()
	f.admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "zebra", "host": "127.0.0.1", "port": stub.Port(), "language": "zpl"},
		{"name": "off", "host": "127.0.0.1", "port": deadPort, "language": "zpl", "timeout": 1}}}, 200, nil)
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L-6", "product": "P"}}, 201, &lot)
	act, _ := f.s.Kernel.Actions.Get(printing.ActionPrint)
	run := func(key, printer string) (map[string]any, error) {
		return act.Run(ctx, engine.ActionContext{Key: key, App: plantApp, Form: "lot", Record: lot.ID, Actor: engine.SystemPrincipal(),
			Params: map[string]any{"template": "lot_label", "output": "printer", "printer": printer}})
	}

	// An earlier run stopped while sending: its job is pending.
	key := "flow:i1/print/1"
	pending := printing.Job{ID: actionJobID(plantApp, key), App: plantApp, Template: "lot_label", Version: 1, Form: "lot",
		Records: []printing.JobRecord{}, Output: "printer:zebra", Status: printing.JobPending, By: "system", Key: key, At: time.Now().UTC()}
	if err := f.s.Kernel.Store.Create(ctx, "print_jobs", pending.ID, pending); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		out, err := run(key, "zebra")
		if err != nil || out["status"] != printing.JobUnknown || out["job"] != pending.ID {
			t.Fatalf("a run finding its job pending: %v %v", out, err)
		}
	}
	time.Sleep(100 * time.Millisecond)
	sent := stub.Count()
	if sent != 0 {
		t.Fatal("a pending printer job was sent again")
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/lot_label/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 || jobs.Items[0].Status != printing.JobUnknown || jobs.Items[0].Error == "" {
		t.Fatalf("jobs %+v", jobs.Items)
	}

	// The printer cannot be reached: no job stays, and the run again prints.
	key2 := "flow:i2/print/1"
	if _, err := run(key2, "off"); err == nil {
		t.Fatal("printing to a printer that is off succeeded")
	}
	var j printing.Job
	if err := f.s.Kernel.Store.Get(ctx, "print_jobs", actionJobID(plantApp, key2), &j); err == nil {
		t.Fatalf("a job that sent nothing stays: %+v", j)
	}
	f.admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 1, "printers": []map[string]any{
		{"name": "off", "host": "127.0.0.1", "port": stub.Port(), "language": "zpl"}}}, 200, nil)
	out, err := run(key2, "off")
	if err != nil || out["status"] != printing.JobDone || out["labels"] != 1 {
		t.Fatalf("the run again: %v %v", out, err)
	}
	if got := string(stub.Job(t, 0)); strings.Count(got, "^XA") != 1 {
		t.Fatalf("the printer received:\n%s", got)
	}
}

// TestPrintingReview4_7: a table's continuation labels are labels of the job: counted in the
// job, numbered, {{pages}} known; a preview draws at most 20 of them.
func TestPrintingReview4_7(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	def := printLabel("sheet")
	def["elements"] = []map[string]any{
		{"id": "no", "type": "text", "x": 2, "y": 2, "w": 40, "h": 5, "text": "PAGE {{page}} OF {{pages}}"},
		{"id": "tbl", "type": "table", "x": 2, "y": 8, "w": 56, "h": 24, "table": map[string]any{"source": "lines", "rowHeight": 6,
			"columns": []map[string]any{{"header": map[string]string{"zh-CN": "品名"}, "value": "{{row.item}}"}}}},
	}
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/sheet/publish", nil, 201, nil)
	mk := func(n int) string {
		lines := make([]map[string]any, n)
		for i := range lines {
			lines[i] = map[string]any{"item": "I", "n": i}
		}
		var rec struct {
			ID string `json:"id"`
		}
		f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L", "lines": lines}}, 201, &rec)
		return rec.ID
	}
	// 10 rows, three a label: four labels a record; two records: eight.
	a, b := mk(10), mk(10)
	res := f.admin.Do("POST", base+"/sheet/print", printing.PrintInput{Records: []string{a, b}}, 200, nil)
	text := pdfText(t, res.Body)
	if n := pdfPages(t, res.Body); n != 8 || !strings.Contains(text, "PAGE 5 OF 8") || !strings.Contains(text, "PAGE 8 OF 8") || strings.Count(text, "PAGE 1 OF 8") != 1 {
		t.Fatalf("%d pages: %q", n, text)
	}
	var jobs printing.JobList
	f.admin.Do("GET", base+"/sheet/jobs", nil, 200, &jobs)
	if len(jobs.Items) != 1 || jobs.Items[0].Labels != 8 {
		t.Fatalf("jobs %+v", jobs.Items)
	}
	// 100 rows are 34 labels: a preview draws 20.
	c := mk(100)
	res = f.admin.Do("POST", base+"/sheet/preview", map[string]any{"record": c}, 200, nil)
	if n := pdfPages(t, res.Body); n != printing.PreviewPages || !strings.Contains(pdfText(t, res.Body), "PAGE 20 OF 34") {
		t.Fatalf("preview: %d pages, want %d of 34", n, printing.PreviewPages)
	}
}

// TestPrintingReview4_8: a template's own image (a logo its designer uploaded) prints for an
// operator who may not download the upload; an image file the designer may not read cannot
// be placed.
func TestPrintingReview4_8(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	logo := upload(t, f.admin, plantApp, "logo.png", logoPNG(t, 60, 30), 201)
	op := f.user(t, "olga", "op")
	op.Do("GET", "/api/v1/apps/"+plantApp+"/files/"+logo.ID, nil, 404, nil)
	base := printBase("")
	def := printLabel("logo")
	def["elements"] = append(def["elements"].([]map[string]any), map[string]any{"id": "logo", "type": "image", "x": 2, "y": 24, "w": 20, "h": 10, "src": logo.ID})
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/logo/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L-8", "product": "P"}}, 201, &lot)
	res := op.Do("POST", base+"/logo/print", printing.PrintInput{Records: []string{lot.ID}}, 200, nil)
	if !bytes.Contains(res.Body, []byte("/Subtype /Image")) {
		t.Fatal("the template's logo is not on the operator's label")
	}
	bad := printLabel("nologo")
	bad["elements"] = append(bad["elements"].([]map[string]any), map[string]any{"id": "logo", "type": "image", "x": 2, "y": 24, "w": 20, "h": 10, "src": "f-nosuchfile"})
	wantFields(t, f.admin.Do("POST", base, bad, 400, nil), "/elements/6/src print_image_access")

	// Another designer, who may not download the administrator's upload, cannot place it.
	if _, err := f.s.Kernel.Auth.PutRole(context.Background(), engine.SystemPrincipal(), engine.Role{Name: "des", Label: engine.Text{ZH: "des"},
		Grants: []engine.Grant{{App: plantApp, Actions: []string{engine.PermAppRead, engine.PermAppDesign}}}}); err != nil {
		t.Fatal(err)
	}
	f.roles["des"] = true
	dora := f.user(t, "dora", "des")
	dora.Do("GET", "/api/v1/apps/"+plantApp+"/files/"+logo.ID, nil, 404, nil)
	theirs := printLabel("theirs")
	theirs["elements"] = def["elements"]
	wantFields(t, dora.Do("POST", base, theirs, 400, nil), "/elements/6/src print_image_access")
}

// TestPrintingReview4_10: printing a named issuance prints only its codes not yet printed; once
// all are printed it is a conflict that points to the audited reprint, and the lot's printed
// count never passes the codes issued.
func TestPrintingReview4_10(t *testing.T) {
	needPoppler(t)
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	base := printBase("")
	def := printLabel("unit")
	def["repeat"] = "code"
	def["elements"] = []map[string]any{{"id": "sn", "type": "text", "x": 2, "y": 2, "w": 50, "h": 5, "text": "SN {{code.serial}}"}}
	f.admin.Do("POST", base, def, 201, nil)
	f.admin.Do("POST", base+"/unit/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L10", "product": "P"}}, 201, &lot)
	var is printing.Issuance
	f.admin.Do("POST", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", printing.IssueInput{Count: 3, GTIN: "09501101530003"}, 201, &is)
	in := printing.PrintInput{Records: []string{lot.ID}, Issuance: is.ID}
	if res := f.admin.Do("POST", base+"/unit/print", in, 200, nil); pdfPages(t, res.Body) != 3 {
		t.Fatal("the first print of the issuance is not its 3 codes")
	}
	e := f.admin.Do("POST", base+"/unit/print", in, 409, nil).Error(t)
	if e.Code != "print_codes_printed" || !strings.Contains(e.Message, "补打") {
		t.Fatalf("printing the issuance again: %+v", e)
	}
	var lc printing.LotCodes
	f.admin.Do("GET", recordsPath(plantApp, "lot")+"/"+lot.ID+"/codes", nil, 200, &lc)
	if lc.Totals.Printed != 3 || lc.Totals.Reprinted != 0 {
		t.Fatalf("counts %+v", lc.Totals)
	}
}

// TestPrintingReview4_11: a label-printer job prints values and table headers in the
// request's language, as the PDF does.
func TestPrintingReview4_11(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, printSupplierDef)
	f.publishForm(t, plantApp, printLotDef)
	stub := printingtest.NewPrinter(t)
	f.admin.Do("PUT", "/api/v1/admin/printers", map[string]any{"rev": 0, "printers": []map[string]any{
		{"name": "zebra", "host": "127.0.0.1", "port": stub.Port(), "language": "zpl"}}}, 200, nil)
	base := printBase("")
	f.admin.Do("POST", base, printLabel("lot_label"), 201, nil)
	f.admin.Do("POST", base+"/lot_label/publish", nil, 201, nil)
	var lot struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot_no": "L-11", "product": "MILK", "grade": "a"}}, 201, &lot)
	f.admin.Do("POST", base+"/lot_label/print", printing.PrintInput{Records: []string{lot.ID}, Output: "printer", Printer: "zebra", Lang: engine.LangEN}, 200, nil)
	if got := string(stub.Job(t, 0)); !strings.Contains(got, "^FDMILK Grade A^FS") {
		t.Fatalf("the English label:\n%s", got)
	}
}
