package forms

import (
	"archive/zip"
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/xuri/excelize/v2"

	"tracecraft/engine"
)

// A workbook whose rows each have one cell far to the right must be refused, not padded into
// millions of strings.
func TestImportRefusesWideRows(t *testing.T) {
	f := excelize.NewFile()
	for r := 1; r <= 50; r++ {
		if err := f.SetCellValue("Sheet1", fmt.Sprintf("XFD%d", r), "x"); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	_, err := readSheet("xlsx", &buf)
	fe, ok := engine.AsFieldErrors(err)
	if !ok || fe[0].Code != "import_too_wide" {
		t.Fatalf("wide rows: %v", err)
	}
	// Trailing blank cells are dropped, so a normal row keeps only what is filled in.
	sh := &sheet{}
	if err := sh.add(1, []string{"a", "b", "", " "}); err != nil || len(sh.header) != 2 {
		t.Fatalf("header %q, %v", sh.header, err)
	}
}

// importAlloc runs a dry-run import of data and returns its error and the bytes it allocated
// (TotalAlloc counts every allocation, freed or not: a parser that splits ten million cells
// shows here even if the garbage collector has already taken them back).
func importAlloc(t *testing.T, e *ioEnv, format string, data []byte) (error, uint64) {
	t.Helper()
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", format, bytes.NewReader(data), true, engine.LangEN)
	runtime.ReadMemStats(&after)
	return err, after.TotalAlloc - before.TotalAlloc
}

// fileError is the code and parameters of an import's error on "file".
func fileError(err error) (string, map[string]any) {
	fe, ok := engine.AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Path != "file" {
		return fmt.Sprint(err), nil
	}
	return fe[0].Code, fe[0].Params
}

// TestHardening09_CSVShapeBoundedBeforeParsing (item 9): a 10 MiB CSV of commas grew to
// ~830 MiB of heap before the column limit applied, since the parser split it into ten million
// empty strings first. Each shape limit is now checked on the raw bytes, so a hostile file is
// refused with a clear error after a bounded amount of allocation.
func TestHardening09_CSVShapeBoundedBeforeParsing(t *testing.T) {
	e := newIOEnv(t)
	bigCell := strings.Repeat("x", MaxImportCellBytes+1)
	cases := []struct {
		name   string
		data   []byte
		code   string
		params map[string]any
	}{
		{"commas", bytes.Repeat([]byte(","), MaxImportBytes), "import_too_many_cells", map[string]any{"row": 1, "max": MaxImportCells}},
		{"commas after a header", append([]byte("物料\n面粉\n"), bytes.Repeat([]byte(","), MaxImportBytes-20)...), "import_too_many_cells", map[string]any{"row": 3, "max": MaxImportCells}},
		{"blank lines", bytes.Repeat([]byte(",\n"), MaxImportBytes/2), "import_too_many_lines", map[string]any{"max": MaxImportLines}},
		{"a long cell", []byte("物料\n" + bigCell + "\n"), "import_cell_too_long", map[string]any{"row": 2, "max": "1 MiB"}},
		// A quoted cell's line breaks do not end its row, so the row is still 2.
		{"a long quoted cell", []byte("物料\n\"" + strings.Repeat("x\n", MaxImportCellBytes/2+1) + "\"\n"), "import_cell_too_long", map[string]any{"row": 2, "max": "1 MiB"}},
		{"a long line", []byte("物料\n" + strings.Repeat(strings.Repeat("y", MaxImportCellBytes/2)+",", 5) + "\n"), "import_line_too_long", map[string]any{"row": 2, "max": "2 MiB"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err, alloc := importAlloc(t, e, FormatCSV, tc.data)
			t.Logf("allocated %d KiB", alloc>>10)
			code, params := fileError(err)
			if code != tc.code || !reflect.DeepEqual(params, tc.params) {
				t.Fatalf("error %s %v, want %s %v", code, params, tc.code, tc.params)
			}
			if alloc > 64<<20 {
				t.Fatalf("refusing the file allocated %d MiB", alloc>>20)
			}
		})
	}
	// The message says what is wrong, in both languages.
	_, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, bytes.NewReader(cases[0].data), true, engine.LangEN)
	fe, _ := engine.AsFieldErrors(err)
	if msg := engine.Message(engine.LangZH, fe[0].Code, fe[0].Params); !strings.Contains(msg, "第 1 行超过 1024 个单元格") {
		t.Fatalf("message %q", msg)
	}
	if msg := engine.Message(engine.LangEN, fe[0].Code, fe[0].Params); !strings.Contains(msg, "row 1 has more than 1024 cells") {
		t.Fatalf("message %q", msg)
	}
}

// TestHardening09_CSVGuardKeepsValidFiles (item 9): the raw-byte guard splits records as the
// CSV parser does — quoted commas, line breaks and doubled quotes stay in their cell — so files
// at the limits are read, one cell past them is not.
func TestHardening09_CSVGuardKeepsValidFiles(t *testing.T) {
	wide := "a" + strings.Repeat(",", MaxImportCells-1) + "\n" // exactly MaxImportCells cells, all but one blank
	quoted := "物料,数量\n\"面粉, \"\"高筋\"\"\n第二行\",1\n" + wide + "白糖,2\n"
	sh, err := readSheet(FormatCSV, strings.NewReader(quoted))
	if err != nil {
		t.Fatal(err)
	}
	if want := [][]string{{"面粉, \"高筋\"\n第二行", "1"}, {"a"}, {"白糖", "2"}}; !reflect.DeepEqual(sh.rows, want) || !reflect.DeepEqual(sh.rowNos, []int{2, 3, 4}) {
		t.Fatalf("rows %q at %v", sh.rows, sh.rowNos)
	}
	_, err = readSheet(FormatCSV, strings.NewReader("物料\n"+strings.Repeat(",", MaxImportCells)+"\n"))
	if code, params := fileError(err); code != "import_too_many_cells" || params["row"] != 2 {
		t.Fatalf("one cell too many: %s %v", code, params)
	}
	// A comma inside quotes is no separator.
	if _, err := readSheet(FormatCSV, strings.NewReader("物料\n\""+strings.Repeat(",", 5000)+"\"\n")); err != nil {
		t.Fatalf("quoted commas: %v", err)
	}
	// A cell of exactly the limit is read.
	if _, err := readSheet(FormatCSV, strings.NewReader("物料\n"+strings.Repeat("z", MaxImportCellBytes)+"\n")); err != nil {
		t.Fatalf("a cell at the limit: %v", err)
	}
}

// TestHardening09_ImportSlots (item 9): at most MaxImports imports run at once; one more is
// refused at once with a retry hint instead of holding another file in memory.
func TestHardening09_ImportSlots(t *testing.T) {
	e := newIOEnv(t)
	started := make(chan struct{}, MaxImports)
	release := make(chan struct{})
	var wg sync.WaitGroup
	for range MaxImports {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := &blockingReader{started: started, release: release, rest: strings.NewReader("物料\n面粉\n")}
			if _, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, r, true, engine.LangEN); err != nil {
				t.Error(err)
			}
		}()
	}
	for range MaxImports {
		<-started // both hold a slot and are reading their file
	}
	_, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader("物料\n面粉\n"), true, engine.LangZH)
	var te *engine.ThrottledError
	var ce *engine.CodedError
	if !errors.Is(err, engine.ErrThrottled) || !errors.As(err, &te) || te.RetryAfter != importRetryAfter || !errors.As(err, &ce) || ce.Code != "import_busy" {
		t.Fatalf("third import: %v", err)
	}
	if msg := ce.Message(engine.LangZH); msg != "已有 2 个导入正在进行，请 10 秒后再试" {
		t.Fatalf("message %q", msg)
	}
	close(release)
	wg.Wait()
	// The slots are given back, also by an import that fails.
	for range MaxImports + 1 {
		if _, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader(""), true, engine.LangZH); err == nil || errors.Is(err, engine.ErrThrottled) {
			t.Fatalf("empty file: %v", err)
		}
	}
	if _, err := e.s.Import(e.ctx, e.admin, "qa", "receipt", FormatCSV, strings.NewReader("物料\n面粉\n"), true, engine.LangZH); err != nil {
		t.Fatalf("after the others: %v", err)
	}
}

// blockingReader tells when it is first read and then waits for release.
type blockingReader struct {
	started chan<- struct{}
	release <-chan struct{}
	rest    io.Reader
	once    sync.Once
}

func (r *blockingReader) Read(p []byte) (int, error) {
	r.once.Do(func() {
		r.started <- struct{}{}
		<-r.release
	})
	return r.rest.Read(p)
}

// xlsxOf builds a workbook from its parts (name → XML), deflated.
func xlsxOf(t *testing.T, parts map[string]io.Reader, extra ...func(*zip.Writer)) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	zw.RegisterCompressor(zip.Deflate, func(w io.Writer) (io.WriteCloser, error) { return flate.NewWriter(w, flate.BestSpeed) })
	for name, body := range parts {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(w, body); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range extra {
		f(zw)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// minimalXLSX is a workbook with one sheet whose sheetData is given, and shared strings.
func minimalXLSX(t *testing.T, sheetData, sst string, extra ...func(*zip.Writer)) []byte {
	t.Helper()
	return streamedXLSX(t, strings.NewReader(sheetData), sst, extra...)
}

// streamedXLSX is minimalXLSX with the sheet data read from r.
func streamedXLSX(t *testing.T, sheetData io.Reader, sst string, extra ...func(*zip.Writer)) []byte {
	t.Helper()
	const ns = `xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"`
	const rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
	parts := map[string]io.Reader{
		"[Content_Types].xml": strings.NewReader(`<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>`),
		"_rels/.rels":         strings.NewReader(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="` + rel + `officeDocument" Target="xl/workbook.xml"/></Relationships>`),
		"xl/workbook.xml":     strings.NewReader(`<workbook ` + ns + `><sheets><sheet name="Data" sheetId="7" r:id="rId3"/><sheet name="Other" sheetId="1" r:id="rId1"/></sheets></workbook>`),
		"xl/_rels/workbook.xml.rels": strings.NewReader(`<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">` +
			`<Relationship Id="rId1" Type="` + rel + `worksheet" Target="worksheets/sheet1.xml"/>` +
			`<Relationship Id="rId3" Type="` + rel + `worksheet" Target="/xl/worksheets/data.xml"/>` +
			`<Relationship Id="rId9" Type="` + rel + `sharedStrings" Target="strings.xml"/></Relationships>`),
		"xl/worksheets/sheet1.xml": strings.NewReader(`<worksheet ` + ns + `><sheetData><row r="1"><c r="A1" t="inlineStr"><is><t>wrong sheet</t></is></c></row></sheetData></worksheet>`),
		"xl/worksheets/data.xml":   io.MultiReader(strings.NewReader(`<worksheet `+ns+`><sheetData>`), sheetData, strings.NewReader(`</sheetData></worksheet>`)),
		"xl/strings.xml":           strings.NewReader(`<sst ` + ns + `>` + sst + `</sst>`),
	}
	return xlsxOf(t, parts, extra...)
}

// TestHardening09_XLSXReader (item 9): the workbook reader follows the package's
// relationships to the first sheet in the workbook's order, and reads shared strings (with rich
// text, without phonetic runs), inline strings, numbers, booleans, formulas' results and
// escapes as excelize's raw values.
func TestHardening09_XLSXReader(t *testing.T) {
	data := minimalXLSX(t,
		`<row r="2"><c r="A2" t="s"><v>0</v></c><c r="C2" t="s"><v>1</v></c></row>`+
			`<row r="4" spans="1:5"><c r="A4" t="inlineStr"><is><r><t>高筋</t></r><r><t xml:space="preserve"> 面粉</t></r></is></c>`+
			`<c r="B4"><v>0.29999999999999999</v></c><c r="C4" t="b"><v>1</v></c><c r="D4" t="str"><f>A4&amp;"x"</f><v>计算</v></c>`+
			`<c r="E4" t="s"><v>2</v></c></row>`+
			`<row><c t="e"><v>#DIV/0!</v></c><c/><c><v>5</v></c></row>`,
		`<si><t>物料</t></si><si><r><t>数</t></r><r><t>量</t></r><rPh><t>すう</t></rPh></si><si><t>a_x000D_b_x005F_x0041_</t></si>`)
	sh, err := readSheet(FormatXLSX, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"物料", "", "数量"}; !reflect.DeepEqual(sh.header, want) {
		t.Fatalf("header %q", sh.header)
	}
	want := [][]string{{"高筋 面粉", "0.29999999999999999", "1", "计算", "a\rb_x0041_"}, {"#DIV/0!", "", "5"}}
	if !reflect.DeepEqual(sh.rows, want) || !reflect.DeepEqual(sh.rowNos, []int{4, 5}) {
		t.Fatalf("rows %q at %v", sh.rows, sh.rowNos)
	}
}

// TestHardening09_XLSXMatchesExcelize (item 9): on a workbook excelize writes, the reader
// gives what excelize's own raw reading gives.
func TestHardening09_XLSXMatchesExcelize(t *testing.T) {
	x := excelize.NewFile()
	defer x.Close()
	if _, err := x.NewSheet("Second"); err != nil {
		t.Fatal(err)
	}
	values := map[string]any{
		"A1": "物料", "B1": "数量", "C1": "日期", "D1": "是否", "F1": "公式",
		"A2": "面粉", "B2": 12.5, "C2": time.Date(2026, 11, 25, 8, 30, 0, 0, time.UTC), "D2": true, "E2": " ",
		"A4": "_x0041_ 与 <&>", "B4": -3, "D4": false, "AB4": "远",
	}
	for cell, v := range values {
		if err := x.SetCellValue("Sheet1", cell, v); err != nil {
			t.Fatal(err)
		}
	}
	if err := x.SetCellFormula("Sheet1", "F2", "B2*2"); err != nil {
		t.Fatal(err)
	}
	if err := x.SetCellRichText("Sheet1", "A5", []excelize.RichTextRun{{Text: "粗"}, {Text: "体", Font: &excelize.Font{Bold: true}}}); err != nil {
		t.Fatal(err)
	}
	if err := x.SetCellValue("Second", "A1", "not this one"); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := x.Write(&buf); err != nil {
		t.Fatal(err)
	}
	sh, err := readSheet(FormatXLSX, bytes.NewReader(buf.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	ref := &sheet{}
	rows, err := x.Rows("Sheet1")
	if err != nil {
		t.Fatal(err)
	}
	for rowNo := 1; rows.Next(); rowNo++ {
		cells, err := rows.Columns(excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		if err := ref.add(rowNo, cells); err != nil {
			t.Fatal(err)
		}
	}
	if !reflect.DeepEqual(sh, ref) {
		t.Fatalf("reader\n got %q %q %v\nwant %q %q %v", sh.header, sh.rows, sh.rowNos, ref.header, ref.rows, ref.rowNos)
	}
}

// TestHardening09_XLSXBoundedBeforeParsing (item 9): a workbook is read as streams, part by
// part, with the unpacked bytes, each piece of XML, the nesting, the shared strings and the rows
// bounded; parts an import does not need are never unpacked.
func TestHardening09_XLSXBoundedBeforeParsing(t *testing.T) {
	e := newIOEnv(t)
	header := `<row r="1"><c r="A1" t="inlineStr"><is><t>物料</t></is></c></row>`
	// junk adds a part of n zero bytes that nothing refers to (a zip bomb excelize unpacked).
	junk := func(n int) func(*zip.Writer) {
		return func(zw *zip.Writer) {
			w, err := zw.Create("xl/media/junk.bin")
			if err != nil {
				t.Fatal(err)
			}
			chunk := make([]byte, 1<<20)
			for range n >> 20 {
				if _, err := w.Write(chunk); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	// The budget of unpacked bytes and the count of shared strings are lowered, so that reaching
	// them is cheap (these cases check the limits' logic; the real ones only scale it).
	defer func(unzipped int64, strs int) { xlsxMaxUnzipped, xlsxMaxStrings = unzipped, strs }(xlsxMaxUnzipped, xlsxMaxStrings)
	xlsxMaxUnzipped, xlsxMaxStrings = 24<<20, 10_000
	// bomb is a sheet whose XML unpacks past the budget: texts nobody reads, each as long as a
	// piece of XML may be.
	piece := "<x>" + strings.Repeat("a", xlsxMaxToken-10) + "</x>"
	bomb := io.MultiReader(strings.NewReader(header), &repeatReader{s: piece, n: int(xlsxMaxUnzipped)/len(piece) + 1})
	cases := []struct {
		name string
		data []byte
		code string
		// bounded: the allocations are checked (a parser of many small elements allocates a
		// little for each, so the cases that only check a count say nothing about memory).
		bounded bool
	}{
		{"an unread part of 96 MiB", minimalXLSX(t, header+`<row r="2"><c r="A2" t="inlineStr"><is><t>面粉</t></is></c></row>`, "", junk(96<<20)), "", true},
		{"a sheet unpacking past the budget", streamedXLSX(t, bomb, ""), "import_unzipped_too_large", true},
		{"a long text", minimalXLSX(t, header+`<row r="2"><c r="A2" t="inlineStr"><is><t>`+strings.Repeat("长", MaxImportCellBytes)+`</t></is></c></row>`, ""), "import_cell_too_long", true},
		{"a longer text than the decoder may hold", minimalXLSX(t, header+`<row r="2"><c r="A2"><v>`+strings.Repeat("&amp;", xlsxMaxToken/5+1)+`</v></c></row>`, ""), "import_cell_too_long", true},
		{"a huge comment", minimalXLSX(t, header+`<!--`+strings.Repeat("<>", xlsxMaxToken/2)+`-->`, ""), "invalid_format", true},
		{"a huge attribute", minimalXLSX(t, header+`<row r="2" x="`+strings.Repeat(">", xlsxMaxToken)+`"/>`, ""), "invalid_format", true},
		{"deep nesting", minimalXLSX(t, header+strings.Repeat("<x>", 100_000)+strings.Repeat("</x>", 100_000), ""), "invalid_format", true},
		{"a document type", minimalXLSX(t, `<!DOCTYPE x [<!ENTITY a "aaaa">]>`+header, ""), "invalid_format", true},
		{"many shared strings", minimalXLSX(t, header, strings.Repeat("<si/>", xlsxMaxStrings+1)), "invalid_format", false},
		{"row numbers past a sheet's end", minimalXLSX(t, header+`<row r="1048577"><c t="inlineStr"><is><t>x</t></is></c></row>`, ""), "import_too_many_lines", true},
		{"a cell past column XFD", minimalXLSX(t, header+`<row r="2">`+strings.Repeat("<c/>", xlsxMaxColumn+1)+`</row>`, ""), "invalid_format", false},
		{"a missing shared string", minimalXLSX(t, header+`<row r="2"><c r="A2" t="s"><v>7</v></c></row>`, ""), "invalid_format", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if len(tc.data) > MaxImportBytes {
				t.Fatalf("the file is %d bytes", len(tc.data))
			}
			err, alloc := importAlloc(t, e, FormatXLSX, tc.data)
			t.Logf("allocated %d KiB", alloc>>10)
			if code, params := fileError(err); code != tc.code && !(tc.code == "" && err == nil) {
				t.Fatalf("error %v (%s %v), want %q", err, code, params, tc.code)
			}
			if tc.bounded && alloc > 64<<20 {
				t.Fatalf("reading the workbook allocated %d MiB", alloc>>20)
			}
		})
	}
	// Too many parts for the zip directory.
	many := func(zw *zip.Writer) {
		for i := range xlsxMaxParts {
			if _, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("p%d", i), Method: zip.Store}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if code, _ := fileError(func() error {
		_, err := readSheet(FormatXLSX, bytes.NewReader(minimalXLSX(t, header, "", many)))
		return err
	}()); code != "invalid_format" {
		t.Fatalf("many parts: %s", code)
	}
}

// repeatReader reads s n times.
type repeatReader struct {
	s   string
	n   int
	off int
}

func (r *repeatReader) Read(p []byte) (int, error) {
	done := 0
	for done < len(p) {
		if r.off == len(r.s) {
			if r.n--; r.n <= 0 {
				break
			}
			r.off = 0
		}
		c := copy(p[done:], r.s[r.off:])
		r.off += c
		done += c
	}
	if done == 0 {
		return 0, io.EOF
	}
	return done, nil
}
