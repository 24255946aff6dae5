package api_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"tracecraft/api/apitest"
	"tracecraft/engine"
	"tracecraft/forms"
)

// ioForm has a text, a number with two decimals and minimum 0, a select, a date, an
// auto-number, and a cost that auditors may not see.
const ioForm = `{
  "key": "receipt",
  "name": {"zh-CN": "来料验收", "en": "Goods receipt"},
  "schema": {
    "type": "object",
    "properties": {
      "no":       {"x-type": "autonumber", "x-label": {"zh-CN": "验收单号", "en": "Receipt no."}, "x-options": {"pattern": "RC{seq:4}"}},
      "material": {"x-type": "text", "x-label": {"zh-CN": "物料", "en": "Material"}},
      "qty":      {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}, "x-options": {"precision": 2}, "minimum": 0},
      "result":   {"x-type": "select", "x-label": {"zh-CN": "检验结果", "en": "Result"}, "x-options": {"options": [
                     {"value": "pass", "label": {"zh-CN": "合格", "en": "Passed"}},
                     {"value": "fail", "label": {"zh-CN": "不合格", "en": "Failed"}}]}},
      "received": {"x-type": "date", "x-label": {"zh-CN": "到货日期", "en": "Received on"}},
      "cost":     {"x-type": "number", "x-label": {"zh-CN": "单价", "en": "Unit cost"}}
    },
    "required": ["material"]
  },
  "permissions": {
    "auditor": {"actions": ["read", "export"], "hidden": ["cost"]},
    "clerk":   {"actions": ["read", "create"]}
  }
}`

const (
	ioBase    = "/api/v1/apps/qa/forms/receipt/records"
	ioMIMEXLS = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
)

type ioServer struct {
	s                     *apitest.Server
	admin, auditor, clerk *apitest.Client
}

// startIO starts a server with the app, the published form, an auditor and a clerk.
func startIO(t *testing.T) *ioServer {
	t.Helper()
	s := apitest.Start(t)
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "qa", "name": map[string]string{"zh-CN": "质量"}}, 201, nil)
	res := admin.Raw("POST", "/api/v1/apps/qa/forms", "application/json", []byte(ioForm))
	if res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/qa/forms/receipt/publish", nil, 201, nil)
	for _, u := range []struct{ name, role string }{{"amy", "auditor"}, {"carl", "clerk"}} {
		admin.Do("PUT", "/api/v1/roles/"+u.role, map[string]any{"label": map[string]string{"zh-CN": u.role},
			"grants": []map[string]any{{"app": "qa", "actions": []string{"app.read"}}}}, 200, nil)
		admin.Do("POST", "/api/v1/users", map[string]any{"username": u.name, "displayName": u.name, "password": "passw0rd-" + u.name, "roles": []string{u.role}}, 201, nil)
	}
	return &ioServer{s: s, admin: admin, auditor: s.Login(t, "amy", "passw0rd-amy"), clerk: s.Login(t, "carl", "passw0rd-carl")}
}

func (e *ioServer) create(t *testing.T, data map[string]any) forms.Record {
	t.Helper()
	var r forms.Record
	e.admin.Do("POST", ioBase, map[string]any{"data": data}, 201, &r)
	return r
}

// seed creates three records, numbered RC0001 to RC0003.
func (e *ioServer) seed(t *testing.T) []forms.Record {
	t.Helper()
	return []forms.Record{
		e.create(t, map[string]any{"material": "高筋面粉", "qty": 12.5, "result": "pass", "received": "2026-11-25", "cost": 3.75}),
		e.create(t, map[string]any{"material": "白砂糖", "qty": 1000, "result": "fail", "received": "2026-11-26", "cost": 4.2}),
		e.create(t, map[string]any{"material": "食盐"}),
	}
}

// records lists the form's records by number.
func (e *ioServer) records(t *testing.T) []*forms.Record {
	t.Helper()
	var res forms.ListResult
	e.admin.Do("GET", ioBase+"?sort=no&limit=500", nil, 200, &res)
	return res.Items
}

func ioShanghaiTime(t time.Time) string {
	loc, _ := time.LoadLocation("Asia/Shanghai")
	return t.In(loc).Format("2006-01-02 15:04:05")
}

func ioReadCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\ufeff")) {
		t.Fatalf("CSV without a byte-order mark: %.40q", b)
	}
	rows, err := csv.NewReader(bytes.NewReader(bytes.TrimPrefix(b, []byte("\ufeff")))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestExportCSVOverHTTP(t *testing.T) {
	e := startIO(t)
	recs := e.seed(t)
	res := e.admin.Do("GET", ioBase+"/export?format=csv&sort=no", nil, 200, nil)
	if ct := res.Header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Fatalf("content type %q", ct)
	}
	day := time.Now().In(time.FixedZone("CST", 8*3600)).Format("20060102")
	wantCD := `attachment; filename="receipt-` + day + `.csv"; filename*=UTF-8''%E6%9D%A5%E6%96%99%E9%AA%8C%E6%94%B6-` + day + `.csv`
	if cd := res.Header.Get("Content-Disposition"); cd != wantCD {
		t.Fatalf("content disposition\n got %s\nwant %s", cd, wantCD)
	}
	if n := res.Header.Get("X-Export-Rows"); n != "3" {
		t.Fatalf("X-Export-Rows %q", n)
	}
	got := ioReadCSV(t, res.Body)
	sys := func(r forms.Record) []string {
		return []string{r.ID, "admin", ioShanghaiTime(r.CreatedAt), ioShanghaiTime(r.UpdatedAt)}
	}
	want := [][]string{
		{"验收单号", "物料", "数量", "检验结果", "到货日期", "单价", "记录ID", "创建人", "创建时间", "更新时间"},
		append([]string{"RC0001", "高筋面粉", "12.5", "合格", "2026-11-25", "3.75"}, sys(recs[0])...),
		append([]string{"RC0002", "白砂糖", "1000", "不合格", "2026-11-26", "4.2"}, sys(recs[1])...),
		append([]string{"RC0003", "食盐", "", "", "", ""}, sys(recs[2])...),
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("export\n got %q\nwant %q", got, want)
	}
	// The list's filters apply.
	filter := url.QueryEscape(`[{"field":"result","op":"eq","value":"fail"}]`)
	res = e.admin.Do("GET", ioBase+"/export?format=csv&filter="+filter, nil, 200, nil)
	if rows := ioReadCSV(t, res.Body); len(rows) != 2 || rows[1][1] != "白砂糖" {
		t.Fatalf("filtered export %q", rows)
	}
	bad := e.admin.Do("GET", ioBase+"/export?format=pdf", nil, 400, nil)
	if !apitest.ErrorFields(bad.Error(t).Fields).HasField("format", "one_of") {
		t.Fatalf("pdf: %s", bad.Body)
	}
}

func TestExportXLSXOverHTTP(t *testing.T) {
	e := startIO(t)
	recs := e.seed(t)
	e.admin.Header.Set("Accept-Language", "en-US,en;q=0.9")
	res := e.admin.Do("GET", ioBase+"/export?sort=-no", nil, 200, nil) // xlsx by default
	if ct := res.Header.Get("Content-Type"); ct != ioMIMEXLS {
		t.Fatalf("content type %q", ct)
	}
	if cd := res.Header.Get("Content-Disposition"); !regexp.MustCompile(`^attachment; filename="receipt-\d{8}\.xlsx"; filename\*=UTF-8''Goods%20receipt-\d{8}\.xlsx$`).MatchString(cd) {
		t.Fatalf("content disposition %s", cd)
	}
	x, err := excelize.OpenReader(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	rows, err := x.GetRows("Goods receipt")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Receipt no.", "Material", "Quantity", "Result", "Received on", "Unit cost", "Record ID", "Created by", "Created at", "Updated at"},
		{"RC0003", "食盐", "", "", "", "", recs[2].ID, "admin", ioShanghaiTime(recs[2].CreatedAt), ioShanghaiTime(recs[2].UpdatedAt)},
		{"RC0002", "白砂糖", "1000", "Failed", "2026-11-26", "4.2", recs[1].ID, "admin", ioShanghaiTime(recs[1].CreatedAt), ioShanghaiTime(recs[1].UpdatedAt)},
		{"RC0001", "高筋面粉", "12.5", "Passed", "2026-11-25", "3.75", recs[0].ID, "admin", ioShanghaiTime(recs[0].CreatedAt), ioShanghaiTime(recs[0].UpdatedAt)},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("xlsx\n got %q\nwant %q", rows, want)
	}
	// Quantities are numbers, not text.
	if typ, _ := x.GetCellType("Goods receipt", "C3"); typ == excelize.CellTypeInlineString || typ == excelize.CellTypeSharedString {
		t.Fatalf("quantity is text (%v)", typ)
	}
}

func TestExportHiddenFieldOverHTTP(t *testing.T) {
	e := startIO(t)
	e.seed(t)
	res := e.auditor.Do("GET", ioBase+"/export?format=csv&sort=no", nil, 200, nil)
	rows := ioReadCSV(t, res.Body)
	wantHeader := []string{"验收单号", "物料", "数量", "检验结果", "到货日期", "记录ID", "创建人", "创建时间", "更新时间"}
	if len(rows) != 4 || !reflect.DeepEqual(rows[0], wantHeader) {
		t.Fatalf("auditor's export %q", rows)
	}
	if bytes.Contains(res.Body, []byte("3.75")) || bytes.Contains(res.Body, []byte("4.2")) || bytes.Contains(res.Body, []byte("单价")) {
		t.Fatalf("the hidden cost leaks: %s", res.Body)
	}
	res = e.auditor.Do("GET", ioBase+"/export?format=xlsx&lang=en", nil, 200, nil)
	x, err := excelize.OpenReader(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	xrows, _ := x.GetRows("Goods receipt")
	for _, row := range xrows {
		for _, cell := range row {
			if cell == "Unit cost" || cell == "3.75" || cell == "4.2" {
				t.Fatalf("the hidden cost leaks: %q", row)
			}
		}
	}
}

func TestExportForbiddenOverHTTP(t *testing.T) {
	e := startIO(t)
	res := e.clerk.Do("GET", ioBase+"/export?format=csv", nil, 403, nil)
	if res.Error(t).Code != "forbidden" {
		t.Fatalf("%s", res.Body)
	}
}

// upload posts a file as the multipart field "file".
func ioUpload(t *testing.T, c *apitest.Client, query, name string, content []byte) apitest.Response {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(content)
	mw.Close()
	return c.Raw("POST", ioBase+"/import"+query, mw.FormDataContentType(), body.Bytes())
}

func ioReport(t *testing.T, res apitest.Response, status int) forms.ImportReport {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	var rep forms.ImportReport
	if err := json.Unmarshal(res.Body, &rep); err != nil {
		t.Fatalf("report: %v: %s", err, res.Body)
	}
	return rep
}

// ioMixedFile has good rows 2, 4 and 6 and bad rows 3 (a negative quantity) and 5 (an option
// the form does not have).
const ioMixedFile = "物料,数量,检验结果,到货日期\n" +
	"面粉,10,合格,2026-11-25\n" +
	"白糖,-1,合格,2026-11-25\n" +
	"食盐,2.5,Failed,2026-11-26\n" +
	"酵母,1,优秀,2026-11-27\n" +
	"黄油,3,pass,\n"

func TestImportCSVOverHTTP(t *testing.T) {
	e := startIO(t)
	// Dry run: exactly the two bad rows, at their rows and columns.
	rep := ioReport(t, ioUpload(t, e.clerk, "?dryRun=true", "收货.csv", []byte(ioMixedFile)), 200)
	type place struct {
		Row           int
		Column, Field string
		Code          string
	}
	var got []place
	for _, ie := range rep.Errors {
		got = append(got, place{ie.Row, ie.Column, ie.Field, ie.Code})
		if ie.Message == "" {
			t.Errorf("no message: %+v", ie)
		}
	}
	want := []place{{3, "数量", "qty", "too_small"}, {5, "检验结果", "result", "not_allowed"}}
	if !reflect.DeepEqual(got, want) || rep.Rows != 5 || rep.Valid != 3 || !rep.DryRun || rep.Imported != 0 {
		t.Fatalf("dry run %+v", rep)
	}
	// Commit of the same file: refused with the report, nothing written.
	rep = ioReport(t, ioUpload(t, e.clerk, "?wait=1", "收货.csv", []byte(ioMixedFile)), 422)
	if len(rep.Errors) != 2 || rep.Imported != 0 || rep.DryRun {
		t.Fatalf("refused commit %+v", rep)
	}
	if n := len(e.records(t)); n != 0 {
		t.Fatalf("%d records after a refused commit", n)
	}
	// Only the good rows: all created, numbers drawn.
	lines := strings.Split(ioMixedFile, "\n")
	good := strings.Join([]string{lines[0], lines[1], lines[3], lines[5]}, "\n") + "\n"
	rep = ioReport(t, ioUpload(t, e.clerk, "?wait=1", "收货.csv", []byte(good)), 200)
	if rep.Imported != 3 || rep.Rows != 3 || rep.Valid != 3 || len(rep.Errors) != 0 {
		t.Fatalf("import %+v", rep)
	}
	recs := e.records(t)
	var summary []string
	for _, r := range recs {
		summary = append(summary, fmt.Sprintf("%v %v %v %v %v %s", r.Data["no"], r.Data["material"], r.Data["qty"], r.Data["result"], r.Data["received"], r.CreatedBy))
	}
	wantSummary := []string{
		"RC0001 面粉 10 pass 2026-11-25 carl",
		"RC0002 食盐 2.5 fail 2026-11-26 carl",
		"RC0003 黄油 3 pass <nil> carl",
	}
	if !reflect.DeepEqual(summary, wantSummary) {
		t.Fatalf("records\n got %q\nwant %q", summary, wantSummary)
	}
}

func TestImportUnknownColumnOverHTTP(t *testing.T) {
	e := startIO(t)
	e.admin.Header.Set("Accept-Language", "en")
	file := []byte("Material,Colour,Quantity\nflour,white,1\n")
	res := e.admin.Raw("POST", ioBase+"/import?wait=1", "text/csv; charset=utf-8", file)
	rep := ioReport(t, res, 422)
	if len(rep.Errors) != 1 || rep.Errors[0].Row != 1 || rep.Errors[0].Column != "Colour" || rep.Errors[0].Code != "unknown_column" || rep.Valid != 1 {
		t.Fatalf("report %+v", rep)
	}
	if !strings.Contains(rep.Errors[0].Message, "unknown column") {
		t.Fatalf("message %q", rep.Errors[0].Message)
	}
	if n := len(e.records(t)); n != 0 {
		t.Fatalf("%d records written", n)
	}
}

func TestImportXLSXOverHTTP(t *testing.T) {
	e := startIO(t)
	x := excelize.NewFile()
	defer x.Close()
	rows := [][]any{
		{"Material", "Quantity", "Result", "Received on", "Receipt no."},
		{"面粉", 10.25, "Passed", "2026-11-25", "ignored"},
		{"白糖", 3, "不合格", time.Date(2026, 11, 26, 0, 0, 0, 0, time.UTC), ""},
	}
	for i, row := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := x.SetSheetRow("Sheet1", cell, &row); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	rep := ioReport(t, e.admin.Raw("POST", ioBase+"/import?wait=1", ioMIMEXLS, buf.Bytes()), 200)
	if rep.Imported != 2 {
		t.Fatalf("report %+v", rep)
	}
	recs := e.records(t)
	if len(recs) != 2 || recs[0].Data["no"] != "RC0001" || recs[0].Data["qty"] != 10.25 || recs[0].Data["result"] != "pass" ||
		recs[1].Data["received"] != "2026-11-26" || recs[1].Data["result"] != "fail" {
		t.Fatalf("records %+v", recs)
	}
	// The same workbook as a multipart upload, checked only.
	rep = ioReport(t, ioUpload(t, e.admin, "?dryRun=1", "book.xlsx", buf.Bytes()), 200)
	if rep.Rows != 2 || rep.Valid != 2 || rep.Imported != 0 {
		t.Fatalf("dry run %+v", rep)
	}
}

func TestImportRefusedOverHTTP(t *testing.T) {
	e := startIO(t)
	// Export, but no create: 403.
	res := ioUpload(t, e.auditor, "", "a.csv", []byte("物料\n面粉\n"))
	if res.Status != 403 {
		t.Fatalf("auditor import: %d %s", res.Status, res.Body)
	}
	// Over 10 MiB: 413 naming the import limit.
	big := append([]byte("物料\n"), bytes.Repeat([]byte("面粉面粉面粉面粉\n"), (forms.MaxImportBytes/25)+1)...)
	for _, r := range []apitest.Response{
		ioUpload(t, e.admin, "", "big.csv", big),
		e.admin.Raw("POST", ioBase+"/import", "text/csv", big),
	} {
		if r.Status != 413 || r.Error(t).Code != "too_large" || !strings.Contains(r.Error(t).Message, "10 MiB") {
			t.Fatalf("big file: %d %s", r.Status, r.Body)
		}
	}
	// No file, or a format we do not read: 400.
	res = e.admin.Raw("POST", ioBase+"/import", "text/csv", nil)
	if res.Status != 400 || !apitest.ErrorFields(res.Error(t).Fields).HasField("file", "required") {
		t.Fatalf("no file: %d %s", res.Status, res.Body)
	}
	res = ioUpload(t, e.admin, "", "old.xls", []byte("x"))
	if res.Status != 400 || !apitest.ErrorFields(res.Error(t).Fields).HasField("format", "one_of") {
		t.Fatalf("xls: %d %s", res.Status, res.Body)
	}
	res = e.admin.Raw("POST", ioBase+"/import?format=csv", "text/csv", []byte("物料\n"+strings.Repeat("x\n", forms.MaxImportRows+1)))
	if res.Status != 400 || !apitest.ErrorFields(res.Error(t).Fields).HasField("file", "import_too_large") {
		t.Fatalf("too many rows: %d %s", res.Status, res.Body)
	}
}

// TestHardening09_ImportBusyOverHTTP (item 9): with every import slot taken, one more import is
// answered 429 with Retry-After and a message that says why, instead of holding another file.
func TestHardening09_ImportBusyOverHTTP(t *testing.T) {
	e := startIO(t)
	started := make(chan struct{}, forms.MaxImports)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range forms.MaxImports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &ioBlockingReader{started: started, release: release, rest: strings.NewReader("物料\n面粉\n")}
			if _, err := e.s.Forms.Import(context.Background(), engine.SystemPrincipal(), "qa", "receipt", forms.FormatCSV, r, true, "en"); err != nil {
				t.Error(err)
			}
		}()
	}
	for range forms.MaxImports {
		<-started
	}
	res := e.admin.Raw("POST", ioBase+"/import?format=csv&dryRun=1", "text/csv", []byte("物料\n面粉\n"))
	close(release)
	wg.Wait()
	if res.Status != 429 || res.Header.Get("Retry-After") != "10" {
		t.Fatalf("busy import: %d %v %s", res.Status, res.Header, res.Body)
	}
	if info := res.Error(t); info.Code != "import_busy" || info.Message != "已有 2 个导入正在进行，请 10 秒后再试" {
		t.Fatalf("busy import: %+v", info)
	}
	ioReport(t, e.admin.Raw("POST", ioBase+"/import?format=csv&dryRun=1", "text/csv", []byte("物料\n面粉\n")), 200)
}

// ioBlockingReader tells when it is first read and then waits for release.
type ioBlockingReader struct {
	started chan<- struct{}
	release <-chan struct{}
	rest    io.Reader
	once    sync.Once
}

func (r *ioBlockingReader) Read(p []byte) (int, error) {
	r.once.Do(func() {
		r.started <- struct{}{}
		<-r.release
	})
	return r.rest.Read(p)
}

// TestHardening13_ExportStreamsOverHTTP (item 13): the export was built whole in memory and
// sent with a Content-Length. It is sent as it is written now (chunked), after every check has
// had its chance to answer as JSON; X-Export-Rows says how many rows matched.
func TestHardening13_ExportStreamsOverHTTP(t *testing.T) {
	e := startIO(t)
	e.seed(t)
	for _, format := range []string{"csv", "xlsx"} {
		req, err := http.NewRequest("GET", e.s.URL+ioBase+"/export?sort=no&format="+format, nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+e.admin.Token)
		res, err := e.admin.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("%s: %d %v", format, res.StatusCode, err)
		}
		if res.ContentLength != -1 || !reflect.DeepEqual(res.TransferEncoding, []string{"chunked"}) || res.Header.Get("X-Export-Rows") != "3" {
			t.Fatalf("%s: length %d, transfer %v, header %v", format, res.ContentLength, res.TransferEncoding, res.Header)
		}
		if format == "csv" {
			if rows := ioReadCSV(t, body); len(rows) != 4 || rows[3][1] != "食盐" {
				t.Fatalf("csv %q", rows)
			}
		} else if x, err := excelize.OpenReader(bytes.NewReader(body)); err != nil {
			t.Fatalf("xlsx: %v", err)
		} else {
			x.Close()
		}
	}
	// Refusals are still JSON errors.
	res := e.admin.Do("GET", ioBase+"/export?format=csv&sort=nope", nil, 400, nil)
	if res.Error(t).Code != "invalid" {
		t.Fatalf("bad sort: %s", res.Body)
	}
}

// TestHardening13_HistoryPagedOverHTTP (item 13): GET …/history answers a page, with the
// cursor of the next one while more follow; limit and cursor are checked.
func TestHardening13_HistoryPagedOverHTTP(t *testing.T) {
	e := startIO(t)
	r := e.create(t, map[string]any{"material": "v1"})
	for i := 2; i <= 5; i++ {
		var up forms.Record
		e.admin.Do("PATCH", ioBase+"/"+r.ID, map[string]any{"rev": r.Rev, "data": map[string]any{"material": fmt.Sprintf("v%d", i)}}, 200, &up)
		r = up
	}
	var revs []int64
	next := ""
	for pages := 0; ; pages++ {
		var page forms.HistoryPage
		url := ioBase + "/" + r.ID + "/history?limit=2"
		if next != "" {
			url += "&cursor=" + next
		}
		e.admin.Do("GET", url, nil, 200, &page)
		for _, h := range page.Items {
			revs = append(revs, h.Rev)
		}
		if next = page.Next; next == "" || pages > 5 {
			break
		}
	}
	if !reflect.DeepEqual(revs, []int64{1, 2, 3, 4, 5}) {
		t.Fatalf("revisions %v", revs)
	}
	for _, q := range []string{"limit=0", "limit=201", "limit=x", "cursor=abc"} {
		res := e.admin.Do("GET", ioBase+"/"+r.ID+"/history?"+q, nil, 400, nil)
		if f := res.Error(t).Fields; len(f) != 1 || !strings.HasPrefix(q, f[0].Field+"=") {
			t.Fatalf("%s: %s", q, res.Body)
		}
	}
}
