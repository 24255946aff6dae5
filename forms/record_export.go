package forms

import (
	"context"
	"encoding/csv"
	"encoding/json"
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
)

// Spreadsheet formats of exports and imports.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// MaxExportRows is the most records one export writes; a larger export is refused with
// export_too_large before anything is written (narrow the filter).
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
// More than MaxExportRows matching records is an export_too_large error, found before anything
// is written unless a row condition (an expression scope) must be checked record by record; w
// may then have received part of a CSV, so HTTP callers buffer. It returns the number of rows.
func (s *Service) Export(ctx context.Context, p *engine.Principal, app, form string, q ListQuery, format, lang string, w io.Writer) (int, error) {
	if format != FormatCSV && format != FormatXLSX {
		return 0, engine.Invalid("format", "one_of", map[string]any{"values": FormatCSV + ", " + FormatXLSX})
	}
	c, err := s.Compiled(ctx, app, form, 0)
	if err != nil {
		return 0, err
	}
	acc := s.accessFor(ctx, p, c)
	if err := acc.require(ActRead); err != nil {
		return 0, err
	}
	if err := acc.require(ActExport); err != nil {
		return 0, err
	}
	q.Limit, q.Cursor = 0, ""
	filter, sortKey, err := s.compileQuery(c, acc, &q)
	if err != nil {
		return 0, err
	}
	scope, rowCheck := acc.listFilter()
	if scope != nil {
		filter = append(filter, bson.E{Key: "$and", Value: bson.A{scope}})
	}
	coll := RecordsCollection(app, form)
	tooLarge := engine.Invalid("filters", "export_too_large", map[string]any{"max": MaxExportRows})
	if !rowCheck {
		mc, err := s.st.Collection(ctx, coll)
		if err != nil {
			return 0, err
		}
		n, err := mc.CountDocuments(ctx, filter, options.Count().SetLimit(MaxExportRows+1))
		if err != nil {
			return 0, fmt.Errorf("export %s/%s: count: %w", app, form, err)
		}
		if n > MaxExportRows {
			return 0, tooLarge
		}
	}
	cols := s.exportColumns(c, acc, q.Fields, lang)
	var sw sheetWriter
	if format == FormatCSV {
		sw = newCSVSheet(w)
	} else {
		sw = newXLSXSheet(w, c.Def.Name.In(lang))
	}
	defer sw.discard()
	headers := make([]string, len(cols))
	for i, col := range cols {
		headers[i] = col.header
	}
	if err := sw.header(headers); err != nil {
		return 0, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	dir := 1
	if sortKey.Desc {
		dir = -1
	}
	order := bson.D{{Key: sortKey.store, Value: dir}}
	if sortKey.store != "_id" {
		order = append(order, bson.E{Key: "_id", Value: dir}) // ties in a stable order
	}
	n := 0
	values := make([]any, len(cols))
	err = s.st.Find(ctx, coll, filter, options.Find().SetSort(order), func(raw bson.Raw) error {
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if rowCheck && !acc.allows(ctx, ActRead, &d) {
			return nil
		}
		if n++; n > MaxExportRows {
			return tooLarge
		}
		rec := d.record()
		data := acc.visible(ctx, &d, rec.Data)
		for i, col := range cols {
			if col.field != nil {
				values[i] = s.cellValue(col.field, data[col.field.Key], lang)
			} else {
				values[i] = s.systemValue(c, rec, col.sys, lang)
			}
		}
		return sw.row(values)
	})
	if err != nil {
		if _, ok := engine.AsFieldErrors(err); ok {
			return 0, err
		}
		return 0, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	if err := sw.close(); err != nil {
		return 0, fmt.Errorf("export %s/%s: %w", app, form, err)
	}
	s.audit(ctx, p, "record.export", "form", app+"/"+form, nil, map[string]any{
		"format": format, "filters": q.Filters, "sort": sortKey.SortKey, "deleted": q.Deleted, "count": n,
	})
	return n, nil
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
