package forms

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"golang.org/x/text/encoding/simplifiedchinese"

	"tracecraft/engine"
)

// Import limits. Callers that receive files (the API) refuse larger bodies before reading.
// Every limit is checked before the part of the file it bounds is parsed, so the memory an
// import takes follows the limits, not the file: a line of ten million commas is refused at its
// 1,025th cell, not split into ten million strings first.
const (
	// MaxImportRows caps the data rows (blank rows are not counted).
	MaxImportRows = 10_000
	// MaxImportColumns caps the filled width of a row (a form has at most 300 fields).
	MaxImportColumns = 400
	// MaxImportCells caps the cells of one line, blank ones included (spreadsheets pad rows
	// with empty cells up to the widest row, so this is looser than MaxImportColumns).
	MaxImportCells = 1024
	// MaxImportCellBytes caps one cell's text (a record's JSON body is at most 1 MiB too).
	MaxImportCellBytes = 1 << 20
	// MaxImportLineBytes caps one CSV record, a quoted cell's line breaks included.
	MaxImportLineBytes = 2 << 20
	// MaxImportLines caps the lines of a CSV file (blank ones included) and the row numbers of a
	// workbook: a spreadsheet has at most 1,048,576 rows.
	MaxImportLines = 1 << 20
	// MaxImportBytes caps the file.
	MaxImportBytes = 10 << 20
	// MaxImports is how many imports one service runs at once, unless Options say otherwise;
	// one more is refused with a retry hint (HTTP 429) rather than queued.
	MaxImports = 2
)

// importRetryAfter is the retry hint, in seconds, of an import refused because others run.
const importRetryAfter = 10

// ImportReport says what an import found and did. Rows counts the data rows (blank rows are
// skipped), Valid those without errors; Imported is how many records were written (0 for a dry
// run and for a refused commit).
type ImportReport struct {
	Rows     int           `json:"rows"`
	Valid    int           `json:"valid"`
	Errors   []ImportError `json:"errors"`
	Imported int           `json:"imported"`
	DryRun   bool          `json:"dryRun"`
	// Preview is a dry run's first rows (ImportPreviewRows).
	Preview []ImportPreview `json:"preview,omitempty"`
}

// Refused tells that a commit was refused because the file has errors: nothing was written.
func (r *ImportReport) Refused() bool { return !r.DryRun && len(r.Errors) > 0 }

// ImportError is one problem of an imported file, placed as people see the sheet: Row 1 is
// the header (unknown columns), data starts at row 2; Column is the header text of the cell
// (the field's label when the file has no column for it, e.g. a required field left out).
type ImportError struct {
	Row    int    `json:"row"`
	Column string `json:"column"`
	Field  string `json:"field,omitempty"`
	// Label names Field as people know it, in the import's language ("数量", a sub-table's
	// cell "明细 第 3 行 · 数量"); empty for errors of the file or its header.
	Label   string `json:"label,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// importColumn is one column of the file: a field, a column to ignore (system values,
// generated fields) or one without a header.
type importColumn struct {
	index   int
	header  string
	field   *Field
	ignored bool
}

// Import reads records from a spreadsheet — format "csv" (UTF-8 with or without a byte-order
// mark; GB18030, as Chinese Excel saves CSV, is recognised too) or "xlsx" (the first sheet) —
// and checks every row with the real save pipeline. The caller needs the create permission.
//
// The first non-blank row is the header: each cell names a field by its key or its label in
// zh-CN or en (case and surrounding spaces do not matter). System columns (id, status,
// createdBy, …) and generated fields (auto-numbers, formulas) are ignored, so an export can be
// imported again; any other header is an unknown_column error on row 1. Cells are read as
// people write them: an empty cell gives no value; options by value or by label in either
// language; several options or references separated by , ， 、 or ;; switches as 是/否, yes/no,
// true/false, 1/0; sub-tables as the JSON of their rows; locations as "lat,lng[ address]";
// xlsx date cells as dates. Every field error becomes an ImportError placed at its row and
// column, with its message in lang.
//
// With dryRun nothing is written, and the report previews the first ImportPreviewRows rows.
// Otherwise Import runs an import job to its end (StartImport runs one in the background): the
// import is all or nothing. When the report has any error the commit is refused — the report
// comes back with Imported 0 and Refused() true, and a nil error, since the file and not the
// call is at fault (the API answers 422). When every row is valid, the records are written in
// batches (writeImport), each drawing its auto-numbers, and made visible together; should a
// write fail midway, or ctx end, the records already written are removed again (their numbers
// stay used) and the error is returned.
//
// Errors that are not about rows — an unreadable file, more than MaxImportRows data rows
// (import_too_large), a file over MaxImportBytes — are FieldErrors on "file".
func (s *Service) Import(ctx context.Context, p *engine.Principal, app, form, format string, r io.Reader, dryRun bool, lang string) (*ImportReport, error) {
	pl, release, err := s.planImport(ctx, p, app, form, format, r, lang)
	if err != nil {
		return nil, err
	}
	defer release()
	if dryRun {
		rep, err := s.checkImport(ctx, pl, nil, ImportPreviewRows)
		if rep != nil {
			rep.DryRun = true
		}
		return rep, err
	}
	run, err := s.newImportRun(ctx, pl)
	if err != nil {
		return nil, err
	}
	return s.runImport(ctx, run, pl, s.st.PutMany)
}

// ImportPreviewRows is how many rows a dry run's report previews.
const ImportPreviewRows = 20

// ImportPreview is a row of a dry run's preview: Data is the record as it would be stored
// (auto-numbers are drawn only on import) when the row is Valid, else the values read from its
// cells.
type ImportPreview struct {
	Row   int    `json:"row"`
	Valid bool   `json:"valid"`
	Data  Values `json:"data"`
}

// importPlan is a file read and matched to a form: what checking and writing its rows needs.
type importPlan struct {
	p          *engine.Principal
	c          *Compiled
	acc        *access
	format     string
	lang       string
	sheet      *sheet
	cols       []importColumn
	colOf      map[string]int // field key → column index
	headerErrs []ImportError
}

// planImport checks the caller may import into the form, takes an import slot (release gives
// it back) and reads the file. The file is read after the slot is taken: a file is held in
// memory only by an import that runs.
func (s *Service) planImport(ctx context.Context, p *engine.Principal, app, form, format string, r io.Reader, lang string) (*importPlan, func(), error) {
	if format != FormatCSV && format != FormatXLSX {
		return nil, nil, engine.Invalid("format", "one_of", map[string]any{"values": FormatCSV + ", " + FormatXLSX})
	}
	c, err := s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, nil, err
	}
	acc := s.accessFor(ctx, p, c)
	if err := acc.require(ActCreate); err != nil {
		return nil, nil, err
	}
	release, err := s.importSlot()
	if err != nil {
		return nil, nil, err
	}
	sheet, err := readSheet(format, r)
	if err != nil {
		release()
		return nil, nil, err
	}
	pl := &importPlan{p: p, c: c, acc: acc, format: format, lang: lang, sheet: sheet, colOf: map[string]int{}}
	pl.cols, pl.headerErrs = s.importColumns(c, acc, sheet.header, lang)
	for _, col := range pl.cols {
		if col.field != nil {
			pl.colOf[col.field.Key] = col.index
		}
	}
	for _, col := range pl.cols {
		if col.field != nil || col.ignored {
			continue
		}
		for _, cells := range sheet.rows {
			if col.index < len(cells) && strings.TrimSpace(cells[col.index]) != "" {
				name, _ := excelize.ColumnNumberToName(col.index + 1)
				pl.headerErrs = append(pl.headerErrs, s.importError(lang, 1, name, "", "unnamed_column", map[string]any{"column": name}))
				break
			}
		}
	}
	return pl, release, nil
}

// checkImport runs every row through the save pipeline without drawing numbers, and reports. checked,
// when set, is told every so often how many rows are checked and which errors were found so far.
// The first preview rows are kept in the report's Preview.
func (s *Service) checkImport(ctx context.Context, pl *importPlan, checked func(n int, errs []ImportError), preview int) (*ImportReport, error) {
	c, p := pl.c, pl.p
	rep := &ImportReport{Errors: []ImportError{}}
	rep.Errors = append(rep.Errors, pl.headerErrs...)
	var rowErrs []ImportError
	for i, cells := range pl.sheet.rows {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("import into %s/%s: %w", c.App, c.Key, err)
		}
		rowNo := pl.sheet.rowNos[i]
		rep.Rows++
		input, faults := rowInput(pl.cols, cells, pl.format)
		bad := map[string]bool{}
		before := len(rowErrs)
		for _, f := range faults {
			bad[f.col.field.Key] = true
			ie := s.importError(pl.lang, rowNo, f.col.header, f.col.field.Key, f.err.Code, f.err.Params)
			ie.Label = labelOrKey(f.col.field, pl.lang)
			rowErrs = append(rowErrs, ie)
		}
		vc := s.valueContext(ctx, p, c, newID(s.now()))
		rules := pl.acc.rulesFor(ctx, newRecordStub(p, input), ActCreate)
		data, err := s.prepareData(vc, c, rules, nil, input, true, false)
		if err != nil {
			fe, ok := engine.AsFieldErrors(err)
			if !ok {
				return nil, fmt.Errorf("import into %s/%s: row %d: %w", c.App, c.Key, rowNo, err)
			}
			for _, e := range fe {
				key, _, _ := strings.Cut(e.Path, ".")
				if bad[key] {
					continue // the cell could not be read; that error says it already
				}
				rowErrs = append(rowErrs, s.placeError(c, rules.hidden, pl.cols, rowNo, e, pl.lang))
			}
		}
		valid := len(rowErrs) == before
		if valid {
			rep.Valid++
		}
		if i < preview {
			row := ImportPreview{Row: rowNo, Valid: valid, Data: input}
			if valid {
				row.Data = pl.acc.visible(ctx, newRecordStub(p, data), plainMap(bson.M(data)))
			}
			rep.Preview = append(rep.Preview, row)
		}
		if checked != nil && (i+1)%importProgressEvery == 0 {
			checked(i+1, rowErrs[before:])
		}
	}
	if checked != nil {
		checked(len(pl.sheet.rows), nil)
	}
	sort.SliceStable(rowErrs, func(i, j int) bool {
		if rowErrs[i].Row != rowErrs[j].Row {
			return rowErrs[i].Row < rowErrs[j].Row
		}
		return columnRank(pl.colOf, rowErrs[i].Field) < columnRank(pl.colOf, rowErrs[j].Field)
	})
	rep.Errors = append(rep.Errors, rowErrs...)
	return rep, nil
}

// rows yields the sheet's data rows as input values, made again rather than kept from checkImport:
// a sheet's cells take far less memory than ten thousand maps of values.
func (pl *importPlan) rows(yield func(row int, input Values) bool) {
	for i, cells := range pl.sheet.rows {
		input, _ := rowInput(pl.cols, cells, pl.format)
		if !yield(pl.sheet.rowNos[i], input) {
			return
		}
	}
}

// importSlot takes one of the service's import slots; release gives it back. With every slot
// taken it fails at once with a retry hint: an import holds a whole file in memory, so imports
// wait at the client, not in the server.
func (s *Service) importSlot() (release func(), err error) {
	select {
	case s.imports <- struct{}{}:
		return func() { <-s.imports }, nil
	default:
		return nil, engine.Coded(&engine.ThrottledError{RetryAfter: importRetryAfter}, "import_busy",
			map[string]any{"max": cap(s.imports), "seconds": importRetryAfter})
	}
}

// cellFault is a cell that could not be read as its field's input.
type cellFault struct {
	col importColumn
	err *engine.FieldError
}

// rowInput turns a row's cells into the input values of the fields they fill.
func rowInput(cols []importColumn, cells []string, format string) (Values, []cellFault) {
	input := Values{}
	var faults []cellFault
	for _, col := range cols {
		if col.ignored || col.field == nil {
			continue
		}
		cell := ""
		if col.index < len(cells) {
			cell = cells[col.index]
		}
		if format == FormatCSV {
			cell = csvUnquote(cell)
		}
		v, given, ferr := cellInput(col.field, cell, format == FormatXLSX)
		if ferr != nil {
			faults = append(faults, cellFault{col: col, err: ferr})
			continue
		}
		if given {
			input[col.field.Key] = v
		}
	}
	return input, faults
}

// importColumns matches the header to the form: fields the caller may see by key or label,
// then system columns; the rest are errors on row 1.
func (s *Service) importColumns(c *Compiled, acc *access, header []string, lang string) ([]importColumn, []ImportError) {
	var cols []importColumn
	var errs []ImportError
	used := map[string]bool{}
	for i, raw := range header {
		h := strings.TrimSpace(raw)
		col := importColumn{index: i, header: h}
		if h == "" {
			cols = append(cols, col)
			continue
		}
		f := matchField(c, acc, h, used)
		switch {
		case f != nil:
			used[f.Key] = true
			col.field = f
			_, col.ignored = f.impl.(Generated)
		case isSystemColumn(h):
			col.ignored = true
		default:
			col.ignored = true
			if matchField(c, acc, h, nil) != nil {
				errs = append(errs, s.importError(lang, 1, h, "", "duplicate_column", map[string]any{"column": h}))
			} else {
				errs = append(errs, s.importError(lang, 1, h, "", "unknown_column", map[string]any{"column": h}))
			}
		}
		cols = append(cols, col)
	}
	return cols, errs
}

// matchField finds the visible field a header names, by key first, then by label; fields in
// used are taken already.
func matchField(c *Compiled, acc *access, h string, used map[string]bool) *Field {
	for _, f := range c.Fields {
		if !acc.hidden[f.Key] && !used[f.Key] && strings.EqualFold(f.Key, h) {
			return f
		}
	}
	for _, f := range c.Fields {
		if acc.hidden[f.Key] || used[f.Key] {
			continue
		}
		if f.Label.ZH != "" && strings.EqualFold(strings.TrimSpace(f.Label.ZH), h) || f.Label.EN != "" && strings.EqualFold(strings.TrimSpace(f.Label.EN), h) {
			return f
		}
	}
	return nil
}

func isSystemColumn(h string) bool {
	for _, sc := range systemColumns {
		if strings.EqualFold(h, sc.key) || strings.EqualFold(h, sc.label.ZH) || strings.EqualFold(h, sc.label.EN) {
			return true
		}
	}
	return false
}

// placeError turns a field error of the save pipeline into an ImportError at the field's column.
// An error of a field or column hidden from the importer (hidden) is placed as one of an
// unknown field: its path and code, no column, no label — the importer may not learn what the
// form calls it.
func (s *Service) placeError(c *Compiled, hidden map[string]bool, cols []importColumn, row int, e engine.FieldError, lang string) ImportError {
	parts := strings.Split(e.Path, ".")
	f, ok := c.Field(parts[0])
	if !ok || hiddenAt(hidden, e.Path) {
		return s.importError(lang, row, "", e.Path, e.Code, e.Params)
	}
	column := fieldHeader(f, lang)
	for _, col := range cols {
		if col.field == f {
			column = col.header
		}
	}
	ie := s.importError(lang, row, column, e.Path, e.Code, e.Params)
	ie.Label = e.Label.In(lang)
	if ie.Label == "" {
		ie.Label = labelOrKey(f, lang)
	}
	if len(parts) == 1 {
		return ie
	}
	// A sub-table's cell ("lines.2.qty") or a part of a value ("place.lat"): say which.
	if n, err := strconv.Atoi(parts[1]); err == nil && f.Type == FieldTypeSubtable {
		params := map[string]any{"row": n + 1, "message": ie.Message}
		code := "import_subtable_row"
		if len(parts) > 2 {
			code, params["column"] = "import_subtable_cell", parts[2]
			for _, sub := range f.Fields {
				if sub.Key == parts[2] {
					params["column"] = fieldHeader(sub, lang)
				}
			}
		}
		ie.Message = engine.Message(lang, code, params)
		return ie
	}
	ie.Message = strings.Join(parts[1:], ".") + ": " + ie.Message
	return ie
}

func (s *Service) importError(lang string, row int, column, field, code string, params map[string]any) ImportError {
	return ImportError{Row: row, Column: column, Field: field, Code: code, Message: engine.Message(lang, code, params)}
}

// columnRank orders a row's errors by the column of their field; fields without a column last.
func columnRank(colOf map[string]int, path string) int {
	key, _, _ := strings.Cut(path, ".")
	if i, ok := colOf[key]; ok {
		return i
	}
	return math.MaxInt
}

// sheet is a file's header and its non-blank data rows with their row numbers in the sheet.
type sheet struct {
	header []string
	rows   [][]string
	rowNos []int
}

// add takes one row of the file: the first non-blank one is the header.
func (sh *sheet) add(rowNo int, cells []string) error {
	if blankRow(cells) {
		return nil
	}
	// Keep what is filled in: a workbook row pads to its last cell, and one cell in column
	// XFD would otherwise hold 16,384 strings for every row.
	last := len(cells)
	for last > 0 && strings.TrimSpace(cells[last-1]) == "" {
		last--
	}
	if last > MaxImportColumns {
		return engine.Invalid("file", "import_too_wide", map[string]any{"max": MaxImportColumns, "row": rowNo})
	}
	cells = append([]string(nil), cells[:last]...)
	if sh.header == nil {
		sh.header = cells
		return nil
	}
	if len(sh.rows) == MaxImportRows {
		return engine.Invalid("file", "import_too_large", map[string]any{"max": MaxImportRows})
	}
	sh.rows = append(sh.rows, cells)
	sh.rowNos = append(sh.rowNos, rowNo)
	return nil
}

func blankRow(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// readSheet reads a CSV file or the first sheet of a workbook.
func readSheet(format string, r io.Reader) (*sheet, error) {
	data, err := readImportFile(r)
	if err != nil {
		return nil, err
	}
	sh := &sheet{}
	if format == FormatXLSX {
		err = readXLSX(data, sh)
	} else {
		err = readCSV(data, sh)
	}
	if err != nil {
		return nil, err
	}
	if sh.header == nil {
		return nil, engine.Invalid("file", "import_empty", nil)
	}
	return sh, nil
}

// readImportFile reads at most MaxImportBytes. A reader that knows its length (the API's
// bytes.Reader, an uploaded file) is refused before reading when it is longer, and read into a
// buffer of its size rather than one grown by doubling.
func readImportFile(r io.Reader) ([]byte, error) {
	tooLarge := engine.Invalid("file", "file_too_large", map[string]any{"max": "10 MiB"})
	size := int64(-1)
	switch x := r.(type) {
	case interface{ Len() int }:
		size = int64(x.Len())
	case interface{ Size() int64 }:
		size = x.Size()
	}
	if size > MaxImportBytes {
		return nil, tooLarge
	}
	var buf bytes.Buffer
	if size >= 0 {
		buf.Grow(int(size) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r, MaxImportBytes+1)); err != nil {
		return nil, fmt.Errorf("read import file: %w", err)
	}
	if buf.Len() > MaxImportBytes {
		return nil, tooLarge
	}
	return buf.Bytes(), nil
}

// readCSV reads comma-separated UTF-8 (a byte-order mark is dropped) or, when the bytes are not
// UTF-8, GB18030. Row numbers are those a spreadsheet shows: blank lines count, a quoted cell
// running over several lines does not. checkCSV bounds the file's shape before it is parsed.
func readCSV(data []byte, sh *sheet) error {
	data = bytes.TrimPrefix(data, []byte("\ufeff"))
	if !utf8.Valid(data) {
		decoded, err := simplifiedchinese.GB18030.NewDecoder().Bytes(data)
		if err != nil || !utf8.Valid(decoded) {
			return engine.Invalid("file", "invalid_format", map[string]any{"detail": "not UTF-8 or GB18030 text"})
		}
		data = decoded
	}
	if err := checkCSV(data); err != nil {
		return err
	}
	cr := csv.NewReader(bytes.NewReader(data))
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true // sheet.add copies what it keeps
	rowNo, lastLine := 0, 0
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return engine.Invalid("file", "invalid_format", map[string]any{"detail": err.Error()})
		}
		line, _ := cr.FieldPos(0)
		rowNo += line - lastLine // blank lines the reader skipped are rows too
		last := len(rec) - 1
		end, _ := cr.FieldPos(last)
		lastLine = end + strings.Count(rec[last], "\n")
		if err := sh.add(rowNo, rec); err != nil {
			return err
		}
	}
}

// checkCSV walks the raw bytes as encoding/csv will split them — records end at a line break
// outside quotes, a cell that starts with a quote runs to its closing quote ("" inside is one
// quote) — and refuses a file with more than MaxImportLines lines, a record longer than
// MaxImportLineBytes, more than MaxImportCells cells in a record or a cell longer than
// MaxImportCellBytes. It allocates nothing, so the parser that follows only ever meets
// records of a bounded size and width. Bytes encoding/csv refuses (a stray quote) are not judged
// here: the parser names them.
func checkCSV(data []byte) error {
	row, cells, lineBytes, cellBytes := 1, 1, 0, 0
	quoted, cellStart := false, true
	for i := 0; i < len(data); i++ {
		b := data[i]
		if lineBytes++; lineBytes > MaxImportLineBytes {
			return engine.Invalid("file", "import_line_too_long", map[string]any{"row": row, "max": "2 MiB"})
		}
		switch {
		case quoted && b == '"' && i+1 < len(data) && data[i+1] == '"':
			i++
			lineBytes++
			cellBytes++
		case quoted && b == '"':
			quoted = false
		case quoted:
			cellBytes++
		case b == ',':
			if cells++; cells > MaxImportCells {
				return engine.Invalid("file", "import_too_many_cells", map[string]any{"row": row, "max": MaxImportCells})
			}
			cellBytes, cellStart = 0, true
			continue
		case b == '\n':
			if row++; row > MaxImportLines {
				return engine.Invalid("file", "import_too_many_lines", map[string]any{"max": MaxImportLines})
			}
			cells, lineBytes, cellBytes, cellStart = 1, 0, 0, true
			continue
		case b == '"' && cellStart:
			quoted = true
		default:
			cellBytes++
		}
		cellStart = false
		if cellBytes > MaxImportCellBytes {
			return engine.Invalid("file", "import_cell_too_long", map[string]any{"row": row, "max": "1 MiB"})
		}
	}
	return nil
}

// csvUnquote removes the apostrophe that exports put before text that looks like a formula.
func csvUnquote(cell string) string {
	if len(cell) > 1 && cell[0] == '\'' && strings.ContainsRune(csvFormulaStarts, rune(cell[1])) {
		return cell[1:]
	}
	return cell
}

// listSeparators split a cell holding several options or references.
const listSeparators = ",，、;；\n"

var (
	xlsxNumber = regexp.MustCompile(`^-?\d+(\.\d+)?([eE][+-]?\d+)?$`)
	xlsxSerial = regexp.MustCompile(`^\d+(\.\d+)?$`)
)

// excelMaxSerial is 9999-12-31, the last day a spreadsheet date can be.
const excelMaxSerial = 2958465

// cellInput turns a cell into the input value of its field, as a person wrote it; given is
// false for an empty cell. A cell that cannot be read is a field error for the cell.
func cellInput(f *Field, cell string, fromXLSX bool) (any, bool, *engine.FieldError) {
	s := strings.TrimSpace(cell)
	if s == "" {
		return nil, false, nil
	}
	switch f.Type {
	case FieldTypeNumber, FieldTypeMoney:
		if fromXLSX && xlsxNumber.MatchString(s) {
			// Workbooks store the shortest-but-17-digit form (0.29999999999999999 for 0.3).
			if v, err := strconv.ParseFloat(s, 64); err == nil {
				return strconv.FormatFloat(v, 'f', -1, 64), true, nil
			}
		}
	case FieldTypeDate, FieldTypeDateTime, FieldTypeTime:
		if fromXLSX && xlsxSerial.MatchString(s) {
			if v, err := strconv.ParseFloat(s, 64); err == nil && v <= excelMaxSerial {
				return excelSerial(f.Type, v), true, nil
			}
		}
	case FieldTypeSelect, FieldTypeRadio:
		if st, ok := f.State.(*choiceState); ok {
			return choiceInput(st, s), true, nil
		}
	case FieldTypeMultiSelect, FieldTypeCheckbox:
		if st, ok := f.State.(*choiceState); ok {
			if v := choiceInput(st, s); isChoice(st, v) {
				return []any{v}, true, nil // one option whose label holds a separator
			}
			var out []any
			for _, part := range splitList(s) {
				out = append(out, choiceInput(st, part))
			}
			return out, true, nil
		}
	case FieldTypeSwitch:
		switch strings.ToLower(s) {
		case "yes", "y":
			return true, true, nil
		case "no", "n":
			return false, true, nil
		}
	case FieldTypeSubtable:
		var rows any
		if err := json.Unmarshal([]byte(s), &rows); err != nil {
			return nil, false, &engine.FieldError{Path: f.Key, Code: "invalid_json", Params: map[string]any{"detail": err.Error()}}
		}
		return rows, true, nil
	case FieldTypeLocation:
		return locationInput(f, s)
	}
	if t := fieldTypeOf(f); t != nil && t.Schema(f)["type"] == "array" {
		parts := splitList(s)
		out := make([]any, len(parts))
		for i, p := range parts {
			out[i] = p
		}
		return out, true, nil
	}
	return s, true, nil
}

// excelSerial turns a spreadsheet date serial into the text the field type reads.
func excelSerial(typ string, v float64) string {
	if typ == FieldTypeTime {
		secs := int(math.Round((v - math.Floor(v)) * 86400))
		h, m, sec := secs/3600%24, secs/60%60, secs%60
		if sec == 0 {
			return fmt.Sprintf("%02d:%02d", h, m)
		}
		return fmt.Sprintf("%02d:%02d:%02d", h, m, sec)
	}
	t, err := excelize.ExcelDateToTime(v, false)
	if err != nil {
		return strconv.FormatFloat(v, 'f', -1, 64)
	}
	if typ == FieldTypeDate {
		return t.Format(dateLayout)
	}
	return t.Round(time.Second).Format(sheetTimeLayout)
}

// choiceInput maps what a cell says to an option value: the value or label as the field type
// reads them, else one option whose value or label matches without regard to case. Anything
// else is passed on for the field type to refuse.
func choiceInput(st *choiceState, s string) string {
	if i, ok := st.resolve(s); ok {
		return st.options[i].Value
	}
	s = strings.TrimSpace(s)
	found := -1
	for i, o := range st.options {
		if strings.EqualFold(o.Value, s) || o.Label.ZH != "" && strings.EqualFold(o.Label.ZH, s) || o.Label.EN != "" && strings.EqualFold(o.Label.EN, s) {
			if found >= 0 {
				return s // two options answer to it: let the field type refuse it
			}
			found = i
		}
	}
	if found >= 0 {
		return st.options[found].Value
	}
	return s
}

func isChoice(st *choiceState, v string) bool {
	_, ok := st.byValue[v]
	return ok
}

func splitList(s string) []string {
	var out []string
	for part := range strings.FieldsFuncSeq(s, func(r rune) bool { return strings.ContainsRune(listSeparators, r) }) {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// locationInput reads "lat,lng" with an optional address after a space.
func locationInput(f *Field, s string) (any, bool, *engine.FieldError) {
	lat, rest, ok := strings.Cut(strings.ReplaceAll(s, "，", ","), ",")
	if !ok {
		return nil, false, &engine.FieldError{Path: f.Key, Code: "invalid_format", Params: map[string]any{"detail": "lat,lng address"}}
	}
	rest = strings.TrimSpace(rest)
	lng, address := rest, ""
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		lng, address = rest[:i], strings.TrimSpace(rest[i:])
	}
	return map[string]any{"lat": strings.TrimSpace(lat), "lng": lng, "address": address}, true, nil
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"unknown_column":   {ZH: "无法识别的列“{column}”：列名须为字段名称或字段标识", EN: "unknown column “{column}”: a header must be a field's label or key"},
		"duplicate_column": {ZH: "列“{column}”重复出现", EN: "column “{column}” appears twice"},
		"unnamed_column":   {ZH: "第 {column} 列有数据但没有列名", EN: "column {column} holds data but has no header"},
		"import_too_large": {ZH: "一次最多导入 {max} 行数据", EN: "an import may hold at most {max} rows"},
		"import_too_wide":  {ZH: "第 {row} 行超过 {max} 列", EN: "row {row} has more than {max} columns"},
		"import_too_many_cells": {ZH: "第 {row} 行超过 {max} 个单元格（含空单元格），请删除多余的列后再导入",
			EN: "row {row} has more than {max} cells, blank ones included; delete the extra columns and import again"},
		"import_cell_too_long":      {ZH: "第 {row} 行有单元格超过 {max}", EN: "row {row} has a cell longer than {max}"},
		"import_line_too_long":      {ZH: "第 {row} 行超过 {max}", EN: "row {row} is longer than {max}"},
		"import_too_many_lines":     {ZH: "文件超过 {max} 行（含空行）", EN: "the file has more than {max} lines, blank ones included"},
		"import_unzipped_too_large": {ZH: "工作簿解压后超过 {max}", EN: "the workbook unpacks to more than {max}"},
		"error.import_busy":         {ZH: "已有 {max} 个导入正在进行，请 {seconds} 秒后再试", EN: "{max} imports are already running; try again in {seconds} s"},
		"import_empty":              {ZH: "文件中没有表头和数据", EN: "the file has no header and no data"},
		"import_subtable_row":       {ZH: "第 {row} 行：{message}", EN: "row {row}: {message}"},
		"import_subtable_cell":      {ZH: "第 {row} 行“{column}”{message}", EN: "row {row}, {column}: {message}"},
	})
}
