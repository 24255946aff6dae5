package forms

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/encoding/simplifiedchinese"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// ioReceipt is the form of these tests: every kind of value an export renders, a role that
// may export but not see the cost, and one that may create but not export.
const ioReceipt = `{
  "key": "receipt",
  "name": {"zh-CN": "来料验收", "en": "Goods receipt"},
  "schema": {
    "type": "object",
    "properties": {
      "no":        {"x-type": "autonumber", "x-label": {"zh-CN": "验收单号", "en": "Receipt no."}, "x-options": {"pattern": "RC{seq:4}"}},
      "material":  {"x-type": "text", "x-label": {"zh-CN": "物料", "en": "Material"}},
      "qty":       {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}, "x-options": {"precision": 2}, "minimum": 0},
      "result":    {"x-type": "select", "x-label": {"zh-CN": "检验结果", "en": "Result"}, "x-options": {"options": [
                      {"value": "pass", "label": {"zh-CN": "合格", "en": "Passed"}},
                      {"value": "fail", "label": {"zh-CN": "不合格", "en": "Failed"}}]}},
      "received":  {"x-type": "date", "x-label": {"zh-CN": "到货日期", "en": "Received on"}},
      "arrived":   {"x-type": "datetime", "x-label": {"zh-CN": "到货时间", "en": "Arrived at"}},
      "allergens": {"x-type": "multiselect", "x-label": {"zh-CN": "过敏原", "en": "Allergens"}, "x-options": {"options": [
                      {"value": "peanut", "label": {"zh-CN": "花生", "en": "Peanut"}},
                      {"value": "soy", "label": {"zh-CN": "大豆", "en": "Soy"}}]}},
      "cold":      {"x-type": "switch", "x-label": {"zh-CN": "冷链", "en": "Cold chain"}},
      "place":     {"x-type": "location", "x-label": {"zh-CN": "收货地点", "en": "Place"}},
      "lines":     {"x-type": "subtable", "x-label": {"zh-CN": "明细", "en": "Lines"}, "items": {"type": "object", "properties": {
                      "item": {"x-type": "text", "x-label": {"zh-CN": "包装", "en": "Pack"}},
                      "count": {"x-type": "number", "x-label": {"zh-CN": "件数", "en": "Count"}, "x-options": {"precision": 0}, "minimum": 1}}}},
      "cost":      {"x-type": "number", "x-label": {"zh-CN": "单价", "en": "Unit cost"}}
    },
    "required": ["material"]
  },
  "permissions": {
    "auditor": {"actions": ["read", "export"], "hidden": ["cost"]},
    "clerk":   {"actions": ["read", "create"]}
  }
}`

type ioEnv struct {
	s       *Service
	ctx     context.Context
	admin   *engine.Principal
	auditor *engine.Principal
	clerk   *engine.Principal
}

func newIOEnv(t *testing.T) *ioEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	enginetest.Start(t, k)
	e := &ioEnv{s: s, ctx: ctx, admin: engine.SystemPrincipal(),
		auditor: &engine.Principal{Username: "amy", Roles: []string{"auditor"}},
		clerk:   &engine.Principal{Username: "carl", Roles: []string{"clerk"}}}
	if _, err := s.CreateApp(ctx, e.admin, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(ctx, e.admin, "qa", []byte(ioReceipt), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, e.admin, "qa", "receipt"); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *ioEnv) create(t *testing.T, data Values) *Record {
	t.Helper()
	r, err := e.s.Create(e.ctx, e.admin, "qa", "receipt", data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// seed creates two records: one with every field, one with the required field only.
func (e *ioEnv) seed(t *testing.T) (*Record, *Record) {
	t.Helper()
	full := e.create(t, Values{
		"material": "高筋面粉", "qty": "12.5", "result": "pass", "received": "2026-11-25",
		"arrived": "2026-11-25T00:30:00Z", "allergens": []any{"soy", "peanut"}, "cold": true,
		"place": map[string]any{"lat": 31.23, "lng": 121.47, "address": "上海一号仓"},
		"lines": []any{map[string]any{"item": "袋", "count": 40}}, "cost": 3.75,
	})
	bare := e.create(t, Values{"material": "=SUM(A1)"})
	return full, bare
}

func (e *ioEnv) export(t *testing.T, p *engine.Principal, q ListQuery, format, lang string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := e.s.Export(e.ctx, p, "qa", "receipt", q, format, lang, &buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func (e *ioEnv) count(t *testing.T) int {
	t.Helper()
	// Sorted by number: the list's default order (by id) is not exercised here.
	res, err := e.s.List(e.ctx, e.admin, "qa", "receipt", ListQuery{Limit: 500, Sort: &SortKey{Field: "no"}})
	if err != nil {
		t.Fatal(err)
	}
	return len(res.Items)
}

func ioShanghai(t time.Time) string {
	return t.In(engine.DefaultLocation()).Format("2006-01-02 15:04:05")
}

func ioParseCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\ufeff")) {
		t.Fatalf("no byte-order mark: %q", b[:min(len(b), 20)])
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

func TestExportCSV(t *testing.T) {
	e := newIOEnv(t)
	full, bare := e.seed(t)
	var buf bytes.Buffer
	n, err := e.s.Export(e.ctx, e.admin, "qa", "receipt", ListQuery{Sort: &SortKey{Field: "no"}}, FormatCSV, engine.LangZH, &buf)
	if err != nil || n != 2 {
		t.Fatalf("export: %d rows, %v", n, err)
	}
	got := ioParseCSV(t, buf.Bytes())
	want := [][]string{
		{"验收单号", "物料", "数量", "检验结果", "到货日期", "到货时间", "过敏原", "冷链", "收货地点", "明细", "单价", "记录ID", "创建人", "创建时间", "更新时间"},
		{"RC0001", "高筋面粉", "12.5", "合格", "2026-11-25", "2026-11-25 08:30:00", "花生、大豆", "是", "31.23,121.47 上海一号仓", `[{"count":40,"item":"袋"}]`, "3.75",
			full.ID, engine.SystemActor, ioShanghai(full.CreatedAt), ioShanghai(full.UpdatedAt)},
		// Text that a spreadsheet would run as a formula is quoted.
		{"RC0002", "'=SUM(A1)", "", "", "", "", "", "", "", "", "", bare.ID, engine.SystemActor, ioShanghai(bare.CreatedAt), ioShanghai(bare.UpdatedAt)},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("csv\n got %q\nwant %q", got, want)
	}
	entries, err := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.export"})
	if err != nil || len(entries) != 1 || entries[0].Target != "qa/receipt" {
		t.Fatalf("audit %+v %v", entries, err)
	}
	if after, _ := entries[0].After.(map[string]any); fmt.Sprint(after["count"]) != "2" || after["format"] != "csv" {
		t.Fatalf("audit after %#v", entries[0].After)
	}
}

func TestExportXLSXInEnglish(t *testing.T) {
	e := newIOEnv(t)
	full, _ := e.seed(t)
	q := ListQuery{Filters: []Filter{{Field: "result", Op: "eq", Value: "pass"}}}
	b := e.export(t, e.admin, q, FormatXLSX, engine.LangEN)
	x, err := excelize.OpenReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	if sheets := x.GetSheetList(); !reflect.DeepEqual(sheets, []string{"Goods receipt"}) {
		t.Fatalf("sheets %v", sheets)
	}
	rows, err := x.GetRows("Goods receipt")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"Receipt no.", "Material", "Quantity", "Result", "Received on", "Arrived at", "Allergens", "Cold chain", "Place", "Lines", "Unit cost", "Record ID", "Created by", "Created at", "Updated at"},
		{"RC0001", "高筋面粉", "12.5", "Passed", "2026-11-25", "2026-11-25 08:30:00", "Peanut, Soy", "yes", "31.23,121.47 上海一号仓", `[{"count":40,"item":"袋"}]`, "3.75",
			full.ID, engine.SystemActor, ioShanghai(full.CreatedAt), ioShanghai(full.UpdatedAt)},
	}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("xlsx\n got %q\nwant %q", rows, want)
	}
	// Numbers are numeric cells; dates are text.
	for cell, wantType := range map[string]excelize.CellType{"C2": excelize.CellTypeUnset, "K2": excelize.CellTypeUnset, "E2": excelize.CellTypeInlineString} {
		if typ, _ := x.GetCellType("Goods receipt", cell); typ != wantType {
			t.Errorf("%s: cell type %v, want %v", cell, typ, wantType)
		}
	}
	if v, _ := x.GetCellValue("Goods receipt", "C2", excelize.Options{RawCellValue: true}); v != "12.5" {
		t.Errorf("C2 raw %q", v)
	}
}

func TestExportHidesHiddenFields(t *testing.T) {
	e := newIOEnv(t)
	e.seed(t)
	for _, format := range []string{FormatCSV, FormatXLSX} {
		b := e.export(t, e.auditor, ListQuery{}, format, engine.LangZH)
		var rows [][]string
		if format == FormatCSV {
			rows = ioParseCSV(t, b)
		} else {
			x, err := excelize.OpenReader(bytes.NewReader(b))
			if err != nil {
				t.Fatal(err)
			}
			rows, _ = x.GetRows(x.GetSheetList()[0])
			x.Close()
		}
		if len(rows) != 3 || len(rows[0]) != 14 {
			t.Fatalf("%s: %d rows, header %q", format, len(rows), rows[0])
		}
		for _, row := range rows {
			for _, cell := range row {
				if cell == "单价" || strings.Contains(cell, "3.75") {
					t.Fatalf("%s: the hidden cost shows: %q", format, row)
				}
			}
		}
	}
	// Nor can a filter on it probe its values.
	_, err := e.s.Export(e.ctx, e.auditor, "qa", "receipt", ListQuery{Filters: []Filter{{Field: "cost", Op: "gt", Value: 3.0}}}, FormatCSV, engine.LangZH, &bytes.Buffer{})
	if fe, ok := engine.AsFieldErrors(err); !ok || fe[0].Code != "not_found" {
		t.Fatalf("filter on a hidden field: %v", err)
	}
}

func TestExportNeedsPermission(t *testing.T) {
	e := newIOEnv(t)
	_, err := e.s.Export(e.ctx, e.clerk, "qa", "receipt", ListQuery{}, FormatCSV, engine.LangZH, &bytes.Buffer{})
	if !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("clerk export: %v", err)
	}
	stranger := &engine.Principal{Username: "sam", Roles: []string{"nobody"}}
	if _, err := e.s.Export(e.ctx, stranger, "qa", "receipt", ListQuery{}, FormatCSV, engine.LangZH, &bytes.Buffer{}); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("stranger export: %v", err)
	}
	if _, err := e.s.Export(e.ctx, e.admin, "qa", "receipt", ListQuery{}, "pdf", engine.LangZH, &bytes.Buffer{}); err == nil {
		t.Fatal("pdf export accepted")
	}
}

// ioBadFile has three good rows (2, 4, 6) and two bad ones: a negative quantity (row 3) and an
// option the form does not have (row 5). Headers mix labels in both languages and a key.
const ioBadFile = "物料,Quantity,result,到货日期\n" +
	"面粉,10,合格,2026-11-25\n" +
	"白糖,-1,pass,2026-11-25\n" +
	"食盐,2.5,FAILED,2026/11/26\n" +
	"酵母,1,优秀,2026-11-27\n" +
	"黄油,,,\n"

func TestImportDryRunReportsBadRows(t *testing.T) {
	e := newIOEnv(t)
	rep, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(ioBadFile), true, engine.LangZH)
	if err != nil {
		t.Fatal(err)
	}
	want := &ImportReport{Rows: 5, Valid: 3, DryRun: true, Errors: []ImportError{
		{Row: 3, Column: "Quantity", Field: "qty", Label: "数量", Code: "too_small", Message: "不能小于 0"},
		{Row: 5, Column: "result", Field: "result", Label: "检验结果", Code: "not_allowed", Message: "不允许的值：优秀"},
	}, Preview: []ImportPreview{
		// Valid rows as they would be stored, the others as read from their cells.
		{Row: 2, Valid: true, Data: Values{"material": "面粉", "qty": 10.0, "result": "pass", "received": "2026-11-25"}},
		{Row: 3, Data: Values{"material": "白糖", "qty": "-1", "result": "pass", "received": "2026-11-25"}},
		{Row: 4, Valid: true, Data: Values{"material": "食盐", "qty": 2.5, "result": "fail", "received": "2026-11-26"}},
		{Row: 5, Data: Values{"material": "酵母", "qty": "1", "result": "优秀", "received": "2026-11-27"}},
		{Row: 6, Valid: true, Data: Values{"material": "黄油"}},
	}}
	if !reflect.DeepEqual(rep, want) {
		t.Fatalf("report\n got %+v\nwant %+v", rep, want)
	}
	if rep.Refused() || e.count(t) != 0 {
		t.Fatal("a dry run wrote records")
	}
	// Commit: refused as a whole, nothing written, no number drawn.
	rep, err = e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(ioBadFile), false, engine.LangEN)
	if err != nil || !rep.Refused() || rep.Imported != 0 || len(rep.Errors) != 2 || rep.Errors[0].Message != "must be at least 0" {
		t.Fatalf("commit of a bad file: %+v, %v", rep, err)
	}
	if e.count(t) != 0 {
		t.Fatal("a refused commit wrote records")
	}
	if r := e.create(t, Values{"material": "x"}); r.Data["no"] != "RC0001" {
		t.Fatalf("numbers were drawn by the refused import: %v", r.Data["no"])
	}
}

func TestImportCommitDrawsNumbers(t *testing.T) {
	e := newIOEnv(t)
	good := "物料,Quantity,result,到货日期,过敏原,冷链,收货地点,明细,验收单号,记录ID\n" +
		"面粉,10,合格,2026-11-25,花生、soy,yes,\"31.2,121.5 上海 一号仓\",\"[{\"\"item\"\":\"\"袋\"\",\"\"count\"\":2}]\",X-1,abc\n" +
		"\n" + // a blank line is skipped, and counts as a row of the sheet
		"食盐,\"1,250.5\",Failed,2026/11/26,,否,,,,\n"
	rep, err := e.s.Import(e.ctx, e.clerk, "qa", "receipt", FormatCSV, strings.NewReader(good), false, engine.LangZH)
	if err != nil || rep.Imported != 2 || rep.Rows != 2 || rep.Valid != 2 || len(rep.Errors) != 0 {
		t.Fatalf("import: %+v, %v", rep, err)
	}
	res, err := e.s.List(e.ctx, e.admin, "qa", "receipt", ListQuery{Sort: &SortKey{Field: "no"}})
	if err != nil || len(res.Items) != 2 {
		t.Fatalf("list: %v", err)
	}
	first, second := res.Items[0].Data, res.Items[1].Data
	wantFirst := Values{"no": "RC0001", "material": "面粉", "qty": 10.0, "result": "pass", "received": "2026-11-25",
		"allergens": []any{"peanut", "soy"}, "cold": true, "place": map[string]any{"lat": 31.2, "lng": 121.5, "address": "上海 一号仓"},
		"lines": []any{map[string]any{"item": "袋", "count": 2.0}}}
	if !reflect.DeepEqual(first, wantFirst) {
		t.Fatalf("first record\n got %#v\nwant %#v", first, wantFirst)
	}
	if second["no"] != "RC0002" || second["qty"] != 1250.5 || second["result"] != "fail" || second["received"] != "2026-11-26" || second["cold"] != false {
		t.Fatalf("second record %#v", second)
	}
	if res.Items[0].CreatedBy != "carl" {
		t.Fatalf("created by %q", res.Items[0].CreatedBy)
	}
	entries, _ := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.import"})
	if len(entries) != 1 || entries[0].Actor != "carl" {
		t.Fatalf("audit %+v", entries)
	}
}

func TestImportHeaderProblems(t *testing.T) {
	e := newIOEnv(t)
	file := "material,颜色,物料,,单价\n面粉,白,面粉,多余,1\n"
	rep, err := e.s.Import(e.ctx, e.auditor, "qa", "receipt", FormatCSV, strings.NewReader(file), true, engine.LangEN)
	if !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("auditor may not import: %+v %v", rep, err)
	}
	rep, err = e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(file), false, engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ie := range rep.Errors {
		got = append(got, fmt.Sprintf("%d %s %s", ie.Row, ie.Column, ie.Code))
	}
	want := []string{"1 颜色 unknown_column", "1 物料 duplicate_column", "1 D unnamed_column"}
	if !reflect.DeepEqual(got, want) || !rep.Refused() || rep.Valid != 1 || e.count(t) != 0 {
		t.Fatalf("errors %q (report %+v)", got, rep)
	}
	if rep.Errors[0].Message != "unknown column “颜色”: a header must be a field's label or key" {
		t.Fatalf("message %q", rep.Errors[0].Message)
	}
	for _, bad := range []string{"", "\n\n", "物料\n" + strings.Repeat("x\n", MaxImportRows+1)} {
		_, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(bad), true, engine.LangEN)
		if _, ok := engine.AsFieldErrors(err); !ok {
			t.Fatalf("%.20q: %v", bad, err)
		}
	}
}

func TestImportSubtableErrorsNameTheRow(t *testing.T) {
	e := newIOEnv(t)
	file := "物料,明细,收货地点\n" +
		"面粉,\"[{\"\"item\"\":\"\"袋\"\",\"\"count\"\":0}]\",\n" +
		"面粉,,\"95,1\"\n" +
		"面粉,[oops,\n"
	rep, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(file), true, engine.LangZH)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, ie := range rep.Errors {
		got = append(got, fmt.Sprintf("%d|%s|%s|%s|%s", ie.Row, ie.Column, ie.Field, ie.Code, ie.Message))
	}
	want := []string{
		"2|明细|lines.0.count|too_small|第 1 行“件数”不能小于 1",
		"3|收货地点|place.lat|too_big|lat: 不能大于 90",
		"4|明细|lines|invalid_json|不是有效的 JSON：invalid character 'o' looking for beginning of value",
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("errors\n got %q\nwant %q", got, want)
	}
}

// TestImportRoundTrip imports what an export wrote: headers and values read back as they went
// out, system and generated columns are ignored.
func TestImportRoundTrip(t *testing.T) {
	for _, format := range []string{FormatCSV, FormatXLSX} {
		for _, lang := range []string{engine.LangZH, engine.LangEN} {
			t.Run(format+"-"+lang, func(t *testing.T) {
				e := newIOEnv(t)
				e.seed(t)
				b := e.export(t, e.admin, ListQuery{Sort: &SortKey{Field: "no"}}, format, lang)
				rep, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", format, bytes.NewReader(b), false, lang)
				if err != nil || rep.Imported != 2 {
					t.Fatalf("import: %+v, %v", rep, err)
				}
				res, err := e.s.List(e.ctx, e.admin, "qa", "receipt", ListQuery{Sort: &SortKey{Field: "no"}})
				if err != nil || len(res.Items) != 4 {
					t.Fatalf("list: %v", err)
				}
				for i := range 2 {
					orig, copied := res.Items[i].Data, res.Items[i+2].Data
					if copied["no"] != fmt.Sprintf("RC%04d", i+3) {
						t.Errorf("number %v", copied["no"])
					}
					delete(orig, "no")
					delete(copied, "no")
					if !reflect.DeepEqual(orig, copied) {
						t.Errorf("record %d\n got %#v\nwant %#v", i, copied, orig)
					}
				}
			})
		}
	}
}

func TestImportXLSXCells(t *testing.T) {
	e := newIOEnv(t)
	x := excelize.NewFile()
	defer x.Close()
	set := func(cell string, v any) {
		if err := x.SetCellValue("Sheet1", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	// Row 1 is empty: the header is the first row with something in it.
	set("A2", "Material")
	set("B2", "qty")
	set("C2", "Received on")
	set("D2", "到货时间")
	set("E2", "冷链")
	set("A3", "面粉")
	set("B3", 0.3)
	set("C3", time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)) // a real date cell
	set("D3", time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC))
	set("E3", true)
	set("A5", "白糖") // row 4 left blank
	set("B5", "-2")
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	rep, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatXLSX, bytes.NewReader(buf.Bytes()), false, engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Errors) != 1 || rep.Errors[0].Row != 5 || rep.Errors[0].Column != "qty" || rep.Errors[0].Code != "too_small" {
		t.Fatalf("report %+v", rep)
	}
	if err := x.SetCellValue("Sheet1", "B5", 2); err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	rep, err = e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatXLSX, &buf, false, engine.LangEN)
	if err != nil || rep.Imported != 2 {
		t.Fatalf("report %+v, %v", rep, err)
	}
	res, _ := e.s.List(e.ctx, e.admin, "qa", "receipt", ListQuery{Sort: &SortKey{Field: "no"}})
	got := res.Items[0].Data
	arrived := time.Date(2026, 11, 25, 0, 30, 0, 0, time.UTC) // 08:30 in Shanghai
	if got["qty"] != 0.3 || got["received"] != "2026-11-25" || !arrived.Equal(got["arrived"].(time.Time)) || got["cold"] != true {
		t.Fatalf("record %#v", got)
	}
	if _, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatXLSX, strings.NewReader("not a workbook"), true, engine.LangEN); err == nil {
		t.Fatal("a text file read as xlsx")
	}
}

func TestImportGB18030CSV(t *testing.T) {
	e := newIOEnv(t)
	gbk, err := simplifiedchinese.GB18030.NewEncoder().String("物料,检验结果\n面粉,合格\n")
	if err != nil {
		t.Fatal(err)
	}
	rep, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(gbk), false, engine.LangZH)
	if err != nil || rep.Imported != 1 {
		t.Fatalf("report %+v, %v", rep, err)
	}
}

// TestImportRollback fails the third batch of a commit (one record a batch) and ends the
// import's context: the two records written are taken back with their revisions, their audit
// entries are voided (their record.created events are never delivered), the job says
// rolled_back, and the rollback is audited.
func TestImportRollback(t *testing.T) {
	e := newIOEnv(t)
	e.s.importBatch = 1
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	pl, release, err := e.s.planImport(ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader("物料\na\nb\nc\n"), engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	run, err := e.s.newImportRun(ctx, pl)
	if err != nil {
		t.Fatal(err)
	}
	boom := errors.New("disk full")
	calls := 0
	failing := func(ctx context.Context, coll string, docs []any) (int, error) {
		if calls++; calls == 3 {
			cancel() // the rollback must not depend on the import's context
			return 0, boom
		}
		return e.s.st.PutMany(ctx, coll, docs)
	}
	rep, err := e.s.runImport(ctx, run, pl, failing)
	if !errors.Is(err, boom) || rep != nil || !strings.Contains(err.Error(), "row 4") {
		t.Fatalf("commit: %+v, %v", rep, err)
	}
	coll := RecordsCollection("qa", "receipt")
	for _, name := range []string{coll, store.RevisionsCollection(coll)} {
		if n, err := e.s.st.Count(e.ctx, name, bson.D{}); err != nil || n != 0 {
			t.Fatalf("%s holds %d documents after the rollback (%v)", name, n, err)
		}
	}
	entries, _ := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.import.rollback"})
	if len(entries) != 1 {
		t.Fatalf("rollback audit %+v", entries)
	}
	if after, _ := entries[0].After.(map[string]any); fmt.Sprint(after["removed"]) != "2" || fmt.Sprint(after["written"]) != "2" {
		t.Fatalf("rollback audit %#v", entries[0].After)
	}
	creates, _ := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.create"})
	voids, _ := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "audit.void"})
	if len(creates) != 3 || len(voids) != 3 { // the third batch's entry too: its write failed
		t.Fatalf("the creations' audit entries stay, voided: %d creates, %d voids", len(creates), len(voids))
	}
	job, err := e.s.ImportJobOf(e.ctx, e.admin, "qa", "receipt", run.job.ID)
	if err != nil || job.State != ImportRolledBack || job.Error == nil || job.Error.Code != "import_interrupted" || job.FinishedAt == nil {
		t.Fatalf("job %+v %v", job, err)
	}
	// Numbers drawn by the batch stay used.
	if r := e.create(t, Values{"material": "d"}); !regexp.MustCompile(`^RC000[4-9]$`).MatchString(r.Data["no"].(string)) {
		t.Fatalf("next number %v", r.Data["no"])
	}
}
