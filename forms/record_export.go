package forms

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/xuri/excelize/v2"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Spreadsheet formats of exports and imports.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// MaxExportRows is the most records one export writes; a larger export is refused with
// export_too_large before anything is written (narrow the filter). An export is written as its
// rows are read, so its memory does not grow with its rows.
const MaxExportRows = 100_000

// systemColumn is a record value every export carries after the form's fields. Imports
// recognise these headers (by key or label, either language) and ignore their cells.
type systemColumn struct {
	key   string
	label engine.Text
}

// systemColumns are id, status (only for forms with a status model), createdBy, createdAt and
// updatedAt, in the order exports write them.
var systemColumns = []systemColumn{
	{"id", engine.Text{ZH: "记录ID", EN: "Record ID"}},
	{"status", engine.Text{ZH: "状态", EN: "Status"}},
	{"createdBy", engine.Text{ZH: "创建人", EN: "Created by"}},
	{"createdAt", engine.Text{ZH: "创建时间", EN: "Created at"}},
	{"updatedBy", engine.Text{ZH: "更新人", EN: "Updated by"}},
	{"updatedAt", engine.Text{ZH: "更新时间", EN: "Updated at"}},
	{"version", engine.Text{ZH: "表单版本", EN: "Form version"}},
}

// exportedSystemColumns are the system columns an export writes.
var exportedSystemColumns = map[string]bool{"id": true, "status": true, "createdBy": true, "createdAt": true, "updatedAt": true}

// Layouts of times in spreadsheets: wall-clock time in the service's zone (Asia/Shanghai).
const sheetTimeLayout = "2006-01-02 15:04:05"

// exportColumn is one column of an export: a field, or a system value (sys).
type exportColumn struct {
	header string
	field  *Field
	sys    string
}

// sheetWriter writes the rows of one export; values are strings and float64 (numbers).
type sheetWriter interface {
	header(cols []string) error
	row(values []any) error
	// close finishes the file; discard releases what the writer holds (also after close).
	close() error
	discard()
}

// Export writes every record matching q's filters and sort that the caller may read, as a
// spreadsheet for people: format "csv" (UTF-8 with a byte-order mark, so Excel reads Chinese
// right) or "xlsx" (first sheet named after the form). It needs the read and export
// permissions. q's Limit and Cursor are ignored; q.Fields, when given, chooses the field
// columns. Columns are the visible fields in form order — hidden fields appear nowhere — then
// the system columns id, status (forms with statuses only), createdBy, createdAt and updatedAt.
// Headers are labels in lang, which Import reads back.
//
// Values are written as people read them: numbers as numbers (numeric cells in xlsx), dates
// YYYY-MM-DD, date-times as wall-clock time in the service's zone, options by their label in
// lang, several options joined with 、 (zh-CN) or ", " (en), other lists with ", ", booleans
// 是/否 or yes/no, locations "lat,lng address", sub-tables as the JSON of their rows. In CSV a
// text starting with = + - @ is prefixed with ' so that Excel does not run it as a formula
// (Import strips the quote again).
//
// Export is PrepareExport and Write in one; it returns the number of rows written.
func (s *Service) Export(ctx context.Context, p *engine.Principal, app, form string, q ListQuery, format, lang string, w io.Writer) (int, error) {
	e, err := s.PrepareExport(ctx, p, app, form, q, format, lang)
	if err != nil {
		return 0, err
	}
	return e.Write(ctx, w)
}

// PreparedExport is an export whose checks are done and whose rows are found but not yet
// written: its errors (permissions, filters, too many rows) come before the first byte of the
// file, so a caller can still answer them as errors and then stream the file.
type PreparedExport struct {
	s        *Service
	p        *engine.Principal
	c        *Compiled
	acc      *access
	q        ListQuery
	lq       *listQuery
	filter   bson.D
	sortKey  sortSpec
	rowCheck bool // rows are checked one by one (acc.allows)
	cols     []exportColumn
	format   string
	lang     string
	// keys are the rows in the export's order (the embedded store, which does not sort
	// without loading every match: see Write).
	keys []exportKey
	// Rows is how many records matched when the export was prepared: rows deleted or moved out
	// of the caller's reach before Write gets to them are left out.
	Rows int
}

// exportKeyChunk is how many ids of an export's rows findKeys reads at a time.
const exportKeyChunk = 16

// exportKey is a row of an export on the embedded store: its id.
type exportKey struct {
	id string
}

// PrepareExport checks an export (see Export) and finds its rows: more than MaxExportRows is
// an export_too_large error. On the embedded store it reads the matching records' ids in the
// list's order through the store's query (findKeys; FerretDB would hold every matching record
// in memory to sort them); elsewhere it counts the matches (st.QueryCount) and MongoDB sorts as
// Write reads.
func (s *Service) PrepareExport(ctx context.Context, p *engine.Principal, app, form string, q ListQuery, format, lang string) (*PreparedExport, error) {
	if format != FormatCSV && format != FormatXLSX {
		return nil, engine.Invalid("format", "one_of", map[string]any{"values": FormatCSV + ", " + FormatXLSX})
	}
	c, err := s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, err
	}
	acc := s.accessFor(ctx, p, c)
	if err := acc.require(ActRead); err != nil {
		return nil, err
	}
	if err := acc.require(ActExport); err != nil {
		return nil, err
	}
	q.Limit, q.Cursor = 0, ""
	lq, err := s.compileQuery(c, acc, &q)
	if err != nil {
		return nil, err
	}
	// The list's condition as the store compiles it for MongoDB (FerretDB evaluates it alike).
	filter := bson.D{{Key: "_id", Value: bson.D{{Key: "$exists", Value: false}}}}
	if !lq.none {
		if filter, err = store.MongoFilter(lq.where); err != nil {
			return nil, listError(err)
		}
	}
	sortKey, rowCheck := lq.sort, lq.rowCheck
	e := &PreparedExport{s: s, p: p, c: c, acc: acc, q: q, lq: lq, filter: filter, sortKey: sortKey, rowCheck: rowCheck,
		cols: s.exportColumns(c, acc, q.Fields, lang), format: format, lang: lang}
	coll := RecordsCollection(app, form)
	switch {
	case s.st.Kind() == store.KindEmbedded:
		err = e.findKeys(ctx)
	case lq.none:
	case !rowCheck:
		var n store.Count
		if n, err = s.st.QueryCount(ctx, coll, lq.where, MaxExportRows+1); err == nil {
			e.Rows = int(n.N)
		}
	default:
		// Rows checked one by one are counted the same way before anything is written.
		err = s.st.Find(ctx, coll, filter, nil, func(raw bson.Raw) error {
			var d recordDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return err
			}
			if acc.allows(ctx, ActRead, &d) {
				if e.Rows++; e.Rows > MaxExportRows {
					return errStop
				}
			}
			return nil
		})
		if errors.Is(err, errStop) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	if e.Rows > MaxExportRows {
		return nil, tooLargeExport()
	}
	return e, nil
}

func tooLargeExport() error {
	return engine.Invalid("filters", "export_too_large", map[string]any{"max": MaxExportRows})
}

// findKeys reads the ids of the matching records the caller may read, in the list's order,
// through the store's query (the list's indexes and keyset cursor, a chunk at a time; only the
// ids cross unless rows are checked one by one).
func (e *PreparedExport) findKeys(ctx context.Context) error {
	e.keys = []exportKey{}
	if e.lq.none {
		return nil
	}
	coll := RecordsCollection(e.c.App, e.c.Key)
	// Small chunks: a page of the store's SQL query reads each matching document whole even
	// when it keeps only _id, and the heap grows with the chunk (64 records of 100 kB in one
	// chunk: 9 MiB); a chunk costs one seek in the list's index.
	sq := e.lq.query(exportKeyChunk, "")
	if !e.rowCheck {
		sq.Fields = []string{"_id"}
	}
	for {
		page, err := e.s.st.Query(ctx, coll, sq)
		if err != nil {
			return listError(err)
		}
		for _, raw := range page.Docs {
			if e.rowCheck {
				var d recordDoc
				if err := bson.Unmarshal(raw, &d); err != nil {
					return err
				}
				if !e.acc.allows(ctx, ActRead, &d) {
					continue
				}
			}
			if len(e.keys) == MaxExportRows {
				e.Rows = MaxExportRows + 1
				return nil
			}
			id, _ := raw.Lookup("_id").StringValueOK()
			e.keys = append(e.keys, exportKey{id: id})
		}
		if page.Next == "" {
			break
		}
		sq.After = page.Next
	}
	e.Rows = len(e.keys)
	return nil
}

// Name is the form's name in the export's language (for the file's name).
func (e *PreparedExport) Name() string { return e.c.Def.Name.In(e.lang) }

// Write writes the export's file to w as its rows are read: CSV row by row, XLSX through
// excelize's stream writer (which keeps at most 16 MiB of rows in memory, the rest in a
// temporary file) and then as the zip is made. On the embedded store each row is read by its
// id, in the order PrepareExport found, and checked again: a row deleted, restored or moved out
// of the caller's row scope in between is left out, one changed is written as it is now. A
// cancelled ctx stops the export with ctx's error; w then holds part of a file. It returns
// the number of rows written. Every export is audited, one cut short too (the reader left,
// the store failed): with the rows handed to w and whether the file was finished.
func (e *PreparedExport) Write(ctx context.Context, w io.Writer) (int, error) {
	app, form := e.c.App, e.c.Key
	n, complete := 0, false
	defer func() {
		// The request's context may be over (that may be why the export stopped): the entry
		// is written all the same.
		e.s.audit(context.WithoutCancel(ctx), e.p, "record.export", "form", app+"/"+form, nil, map[string]any{
			"format": e.format, "filters": e.q.Filters, "sort": e.sortKey.SortKey, "deleted": e.q.Deleted,
			"count": n, "complete": complete,
		})
	}()
	var sw sheetWriter
	if e.format == FormatCSV {
		sw = newCSVSheet(w)
	} else {
		sw = newXLSXSheet(w, e.Name())
	}
	defer sw.discard()
	headers := make([]string, len(e.cols))
	for i, col := range e.cols {
		headers[i] = col.header
	}
	if err := sw.header(headers); err != nil {
		return 0, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	values := make([]any, len(e.cols))
	row := func(d *recordDoc) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if n >= MaxExportRows {
			return tooLargeExport() // more rows than were counted: written since
		}
		rec := d.record()
		data := e.acc.visible(ctx, d, rec.Data)
		for i, col := range e.cols {
			if col.field != nil {
				values[i] = e.s.cellValue(col.field, data[col.field.Key], e.lang)
			} else {
				values[i] = e.s.systemValue(e.c, rec, col.sys, e.lang)
			}
		}
		if err := sw.row(values); err != nil {
			return err
		}
		n++
		return nil
	}
	var err error
	if e.keys != nil || e.s.st.Kind() == store.KindEmbedded {
		err = e.writeKeys(ctx, row)
	} else {
		err = e.writeSorted(ctx, row)
	}
	if err != nil {
		if _, ok := engine.AsFieldErrors(err); ok {
			return 0, err
		}
		return 0, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	if err := sw.close(); err != nil {
		return 0, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	complete = true
	return n, nil
}

// writeKeys reads the rows one by one by id (an indexed lookup on the embedded store).
func (e *PreparedExport) writeKeys(ctx context.Context, row func(*recordDoc) error) error {
	coll := RecordsCollection(e.c.App, e.c.Key)
	for _, k := range e.keys {
		var raw bson.Raw
		if err := e.s.st.Get(ctx, coll, k.id, &raw); err != nil {
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			return err
		}
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if (d.Deleted != nil) != e.q.Deleted || e.s.importHidden(d.ImportBatch) || !e.acc.allows(ctx, ActRead, &d) {
			continue
		}
		if err := row(&d); err != nil {
			return err
		}
	}
	return nil
}

// writeSorted streams the matches in the store's order (MongoDB sorts, with an index or on
// disk).
func (e *PreparedExport) writeSorted(ctx context.Context, row func(*recordDoc) error) error {
	dir := 1
	if e.sortKey.Desc {
		dir = -1
	}
	order := bson.D{{Key: e.sortKey.store, Value: dir}}
	if e.sortKey.store != "_id" {
		order = append(order, bson.E{Key: "_id", Value: dir}) // ties in a stable order
	}
	opts := options.Find().SetSort(order).SetAllowDiskUse(true)
	return e.s.st.Find(ctx, RecordsCollection(e.c.App, e.c.Key), e.filter, opts, func(raw bson.Raw) error {
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		// The filter hides the imports being written when the export began; one begun since
		// is hidden row by row.
		if e.s.importHidden(d.ImportBatch) || e.rowCheck && !e.acc.allows(ctx, ActRead, &d) {
			return nil
		}
		return row(&d)
	})
}

// exportColumns are the visible fields in form order (only the chosen ones when fields names
// some) and the system columns.
func (s *Service) exportColumns(c *Compiled, acc *access, fields []string, lang string) []exportColumn {
	chosen := map[string]bool{}
	for _, f := range fields {
		chosen[f] = true
	}
	var cols []exportColumn
	for _, f := range c.Fields {
		if acc.hidden[f.Key] || len(chosen) > 0 && !chosen[f.Key] {
			continue
		}
		cols = append(cols, exportColumn{header: fieldHeader(f, lang), field: f})
	}
	for _, sc := range systemColumns {
		if !exportedSystemColumns[sc.key] || sc.key == "status" && c.Def.Status == nil {
			continue
		}
		cols = append(cols, exportColumn{header: sc.label.In(lang), sys: sc.key})
	}
	return cols
}

// fieldHeader is a field's column header: its label in lang, else its key.
func fieldHeader(f *Field, lang string) string {
	if h := strings.TrimSpace(f.Label.In(lang)); h != "" {
		return h
	}
	return f.Key
}

// systemValue renders a record's system value.
func (s *Service) systemValue(c *Compiled, rec *Record, key, lang string) any {
	switch key {
	case "id":
		return rec.ID
	case "status":
		if c.Def.Status != nil {
			for _, st := range c.Def.Status.States {
				if st.Key == rec.Status {
					return st.Label.In(lang)
				}
			}
		}
		return rec.Status
	case "createdBy":
		return rec.CreatedBy
	case "createdAt":
		return rec.CreatedAt.In(s.loc).Format(sheetTimeLayout)
	case "updatedAt":
		return rec.UpdatedAt.In(s.loc).Format(sheetTimeLayout)
	}
	return ""
}

// cellValue renders a stored value for people: a float64 for numbers, else a string.
func (s *Service) cellValue(f *Field, v any, lang string) any {
	if v == nil {
		return ""
	}
	switch f.Type {
	case FieldTypeSelect, FieldTypeRadio:
		if str, ok := v.(string); ok {
			return choiceLabel(f, str, lang)
		}
	case FieldTypeMultiSelect, FieldTypeCheckbox:
		if list, ok := v.([]any); ok {
			labels := make([]string, len(list))
			for i, e := range list {
				labels[i] = choiceLabel(f, fmt.Sprint(e), lang)
			}
			sep := "、"
			if lang == engine.LangEN {
				sep = ", "
			}
			return strings.Join(labels, sep)
		}
	case FieldTypeLocation:
		if m, ok := v.(map[string]any); ok {
			out := formatNumber(m["lat"]) + "," + formatNumber(m["lng"])
			if a, _ := m["address"].(string); strings.TrimSpace(a) != "" {
				out += " " + strings.TrimSpace(a)
			}
			return out
		}
	case FieldTypeSubtable:
		return jsonText(v)
	}
	switch x := v.(type) {
	case float64:
		return x
	case bool:
		return yesNo(x, lang)
	case time.Time:
		return x.In(s.loc).Format(sheetTimeLayout)
	case string:
		return x
	case []any:
		parts := make([]string, len(x))
		for i, e := range x {
			if str, ok := e.(string); ok {
				parts[i] = str
			} else {
				parts[i] = jsonText(e)
			}
		}
		return strings.Join(parts, ", ")
	}
	return jsonText(v)
}

// choiceLabel is the label in lang of a choice field's option value (the value itself when
// the option is gone from the form).
func choiceLabel(f *Field, value, lang string) string {
	if st, ok := f.State.(*choiceState); ok {
		if i, ok := st.byValue[value]; ok {
			if l := st.options[i].Label.In(lang); l != "" {
				return l
			}
		}
	}
	return value
}

func yesNo(b bool, lang string) string {
	switch {
	case lang == engine.LangEN && b:
		return "yes"
	case lang == engine.LangEN:
		return "no"
	case b:
		return "是"
	}
	return "否"
}

func formatNumber(v any) string {
	if f, ok := v.(float64); ok {
		return strconv.FormatFloat(f, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func jsonText(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// csvSheet writes CSV with a UTF-8 byte-order mark.
type csvSheet struct {
	w   io.Writer
	cw  *csv.Writer
	buf []string
}

func newCSVSheet(w io.Writer) *csvSheet { return &csvSheet{w: w, cw: csv.NewWriter(w)} }

func (cs *csvSheet) header(cols []string) error {
	if _, err := io.WriteString(cs.w, "\ufeff"); err != nil {
		return err
	}
	return cs.cw.Write(cols)
}

func (cs *csvSheet) row(values []any) error {
	cs.buf = cs.buf[:0]
	for _, v := range values {
		switch x := v.(type) {
		case float64:
			cs.buf = append(cs.buf, strconv.FormatFloat(x, 'f', -1, 64))
		case string:
			cs.buf = append(cs.buf, csvSafe(x))
		default:
			cs.buf = append(cs.buf, csvSafe(fmt.Sprint(x)))
		}
	}
	return cs.cw.Write(cs.buf)
}

func (cs *csvSheet) discard() {}

func (cs *csvSheet) close() error {
	cs.cw.Flush()
	return cs.cw.Error()
}

// csvFormulaStarts are the first characters that make Excel read a CSV cell as a formula.
const csvFormulaStarts = "=+-@\t\r"

// csvSafe keeps a text cell from running as a formula when the CSV is opened in a
// spreadsheet: it gets a leading apostrophe, which Import removes.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune(csvFormulaStarts, rune(s[0])) {
		return "'" + s
	}
	return s
}

// xlsxSheet writes one worksheet with a bold, frozen header row.
type xlsxSheet struct {
	w     io.Writer
	f     *excelize.File
	sw    *excelize.StreamWriter
	rowNo int
	err   error
}

func newXLSXSheet(w io.Writer, name string) *xlsxSheet {
	x := &xlsxSheet{w: w, f: excelize.NewFile()}
	sheet := sheetName(name)
	if sheet != "Sheet1" {
		x.err = x.f.SetSheetName("Sheet1", sheet)
	}
	if x.err == nil {
		x.sw, x.err = x.f.NewStreamWriter(sheet)
	}
	return x
}

func (x *xlsxSheet) header(cols []string) error {
	if x.err != nil {
		return x.err
	}
	style, err := x.f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}})
	if err != nil {
		return err
	}
	if len(cols) > 0 {
		if err := x.sw.SetColWidth(1, len(cols), 16); err != nil {
			return err
		}
	}
	if err := x.sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	cells := make([]any, len(cols))
	for i, h := range cols {
		cells[i] = excelize.Cell{StyleID: style, Value: h}
	}
	x.rowNo = 1
	return x.sw.SetRow("A1", cells)
}

func (x *xlsxSheet) row(values []any) error {
	x.rowNo++
	cell, err := excelize.CoordinatesToCellName(1, x.rowNo)
	if err != nil {
		return err
	}
	return x.sw.SetRow(cell, values)
}

func (x *xlsxSheet) discard() { _ = x.f.Close() }

func (x *xlsxSheet) close() error {
	if x.err != nil {
		return x.err
	}
	if err := x.sw.Flush(); err != nil {
		return err
	}
	return x.f.Write(x.w)
}

// sheetName makes a worksheet name of a form name: at most 31 characters, none of []:*?/\.
func sheetName(name string) string {
	name = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return ' '
		}
		return r
	}, name)
	name = strings.Trim(strings.TrimSpace(name), "'")
	if utf8.RuneCountInString(name) > 31 {
		name = string([]rune(name)[:31])
	}
	if name == "" {
		return "Sheet1"
	}
	return name
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"export_too_large": {ZH: "导出的记录不能超过 {max} 条，请缩小筛选范围", EN: "an export may hold at most {max} records; narrow the filter"},
	})
}
