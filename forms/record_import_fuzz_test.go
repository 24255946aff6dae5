package forms

import (
	"archive/zip"
	"bytes"
	"runtime"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
	"golang.org/x/text/encoding/simplifiedchinese"

	"tracecraft/engine"
)

// Fuzz targets of the import (issue 7 items 9 and the fuzzing it asks for): whatever the bytes,
// a dry run of the form "mix" answers with a report or with field errors, never a panic or an
// internal error, and what it allocates stays within importFuzzAlloc of the input's size.

// importFuzzAlloc bounds what one dry run may allocate (freed or not): a fixed allowance for
// the form's checks plus a multiple of the file's size. A workbook's input is its zip, which
// unpacks to at most xlsxMaxUnzipped; fuzzed zips are small, so the same bound holds them.
func importFuzzAlloc(n int) uint64 { return 64<<20 + 64*uint64(n) }

// fuzzImport runs a dry-run import of data and checks its answer and its allocations.
func fuzzImport(t *testing.T, e *fuzzEnv, format string, data []byte) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := e.s.Import(e.ctx, e.admin, "fz", "mix", format, bytes.NewReader(data), true, engine.LangEN)
	runtime.ReadMemStats(&after)
	fuzzAnswer(t, "import "+format, data, err)
	if grown := after.TotalAlloc - before.TotalAlloc; grown > importFuzzAlloc(len(data)) {
		t.Fatalf("import %s of %d bytes allocated %d MiB\ninput: %q", format, len(data), grown>>20, data)
	}
}

// importFuzzCSV are CSV seeds: the form's columns by label and key, every way a cell is written.
var importFuzzCSV = []string{
	"名称,数量,单价,等级,标签,日期,时间,合格,位置,明细\n面粉,12.5,3.20,甲,\"X、Y\",2026-11-25,2026-11-25 08:00:00,是,\"31.2,121.4 一号仓\",\"[{\"\"item\"\":\"\"袋\"\",\"\"n\"\":4}]\"\n",
	"\ufeffname,qty,grade\n\"a, \"\"b\"\"\nc\",-1,z\n,,\n'=SUM(A1),1e400,a\n",
	"名称,编号,金额,记录ID,状态,未知\n螺丝,M0001,5,abc,草稿,x\n",
	"名称,,名称\n a ,b,c\n\n\n",
	"名称\n\"unterminated\n",
	"名称,明细\nx,\"[{\"\"n\"\":\"\"many\"\"}]\"\nx,[\n",
	",,,,,,,,\n,,,\n",
}

func FuzzImportCSV(f *testing.F) {
	for _, seed := range importFuzzCSV {
		f.Add([]byte(seed))
	}
	if gb, err := simplifiedchinese.GB18030.NewEncoder().String(importFuzzCSV[0]); err == nil {
		f.Add([]byte(gb))
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		fuzzImport(t, e, FormatCSV, data)
	})
}

// fuzzWorkbook is a workbook of one sheet whose XML is sheet, stored uncompressed, so that the
// fuzzer's changes reach the XML reader rather than breaking the zip.
func fuzzWorkbook(sheet []byte) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, part := range []struct {
		name string
		body []byte
	}{
		{"_rels/.rels", []byte(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>`)},
		{"xl/workbook.xml", []byte(`<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>`)},
		{"xl/_rels/workbook.xml.rels", []byte(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/></Relationships>`)},
		{"xl/sharedStrings.xml", []byte(`<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>名称</t></si><si><t>数量</t></si><si><r><t>面</t></r><r><t>粉</t></r></si></sst>`)},
		{"xl/worksheets/sheet1.xml", sheet},
	} {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: part.name, Method: zip.Store})
		if err == nil {
			_, err = w.Write(part.body)
		}
		if err != nil {
			panic(err)
		}
	}
	if err := zw.Close(); err != nil {
		panic(err)
	}
	return buf.Bytes()
}

// importFuzzSheets are sheet XML seeds: shared, inline and rich strings, numbers, booleans,
// formulas' results, far columns, odd row numbers.
var importFuzzSheets = []string{
	`<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>` +
		`<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="inlineStr"><is><t>合格</t></is></c><c r="D1" t="inlineStr"><is><t>日期</t></is></c></row>` +
		`<row r="2"><c r="A2" t="s"><v>2</v></c><c r="B2"><v>0.29999999999999999</v></c><c r="C2" t="b"><v>1</v></c><c r="D2"><v>46351</v></c></row>` +
		`<row r="5"><c t="inlineStr"><is><r><t>a_x000D_b</t></r><rPh><t>x</t></rPh></is></c><c t="str"><f>1+1</f><v>2</v></c><c t="e"><v>#N/A</v></c></row>` +
		`</sheetData></worksheet>`,
	`<worksheet><sheetData><row><c r="XFD1" t="inlineStr"><is><t>x</t></is></c></row><row r="3"><c r="$B$3"><v>1</v></c></row></sheetData></worksheet>`,
	`<?xml version="1.0"?><worksheet><sheetData><row r="2"><c r="A2" t="s"><v>9</v></c></row><!-- c --><row r="1"/></sheetData></worksheet>`,
}

func FuzzImportXLSX(f *testing.F) {
	for _, sheet := range importFuzzSheets {
		f.Add([]byte(sheet), true)
		f.Add(fuzzWorkbook([]byte(sheet)), false)
	}
	// A workbook as Excel-compatible writers make it.
	x := excelize.NewFile()
	for cell, v := range map[string]any{"A1": "名称", "B1": "数量", "C1": "日期", "A2": "面粉", "B2": 12.5, "C2": "2026-11-25", "A3": strings.Repeat("长", 50), "B3": -1} {
		if err := x.SetCellValue("Sheet1", cell, v); err != nil {
			f.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		f.Fatal(err)
	}
	x.Close()
	f.Add(buf.Bytes(), false)
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, data []byte, asSheet bool) {
		if asSheet {
			data = fuzzWorkbook(data) // the bytes are the sheet's XML
		}
		fuzzImport(t, e, FormatXLSX, data)
	})
}
