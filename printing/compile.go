package printing

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"math"
	"strings"

	"tracecraft/engine"
	"tracecraft/gs1"
)

//go:embed schema/template.schema.json
var templateMetaSchemaJSON []byte

// TemplateMetaSchema is the meta-schema every print template definition must satisfy.
var TemplateMetaSchema = engine.MustSchema("template.schema.json", templateMetaSchemaJSON)

// TemplateMetaSchemaJSON returns the template meta-schema document (served to the designer).
func TemplateMetaSchemaJSON() []byte { return templateMetaSchemaJSON }

// Size limits of a template, in millimetres.
const (
	// A label's short side is at most MaxLabelShort and its long side MaxLabelLong.
	MaxLabelShort = 300.0
	MaxLabelLong  = 1000.0
	// A sheet (a sheet template's page, a multi-up sheet) is at most A3.
	MaxSheetShort = 297.0
	MaxSheetLong  = 420.0
)

// epsilon forgives rounding in millimetre arithmetic (a designer's 0.1 steps).
const epsilon = 0.01

// elementTypes are the element types a template may place.
var elementTypes = map[string]bool{
	ElText: true, ElQR: true, ElDataMatrix: true, ElCode128: true, ElGS1128: true, ElEAN13: true,
	ElImage: true, ElLine: true, ElBox: true, ElTable: true,
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"print_outside":           {ZH: "超出标签范围（{width}×{height} mm）", EN: "lies outside the label ({width}×{height} mm)"},
		"print_size":              {ZH: "须大于 0 且不超过 {max} mm", EN: "must be above 0 and at most {max} mm"},
		"print_sheet_overflow":    {ZH: "{count} 个标签排不下：需要 {need} mm，纸张只有 {have} mm", EN: "{count} labels do not fit: they need {need} mm, the sheet has {have} mm"},
		"print_placeholder":       {ZH: "占位符错误：{detail}", EN: "bad placeholder: {detail}"},
		"print_no_field":          {ZH: "表单「{form}」没有字段「{field}」", EN: "form {form} has no field {field}"},
		"print_not_relation":      {ZH: "「{field}」不是关联字段，不能取「{field}.…」", EN: "{field} is not a relation field: {field}.… cannot be read"},
		"print_not_subtable":      {ZH: "「{field}」不是子表", EN: "{field} is not a sub-table"},
		"print_not_image":         {ZH: "「{field}」不是图片字段", EN: "{field} is not an image field"},
		"print_row_outside":       {ZH: "row.… 只能用在表格列中或“每行一张”的模板里", EN: "row.… is only for table columns and templates printed per row"},
		"print_code_outside":      {ZH: "code.… 只能用在“每码一张”的模板里", EN: "code.… is only for templates printed per item code"},
		"print_gs1":               {ZH: "GS1 数据错误：{detail}", EN: "bad GS1 data: {detail}"},
		"print_ean13":             {ZH: "EAN-13 须为 12 或 13 位数字（校验位正确）", EN: "an EAN-13 is 12 or 13 digits (with a right check digit)"},
		"error.print_unpublished": {ZH: "模板尚未发布：请先发布再打印", EN: "the template is not published: publish it, then print"},
		"error.print_no_codes":    {ZH: "尚未接入一物一码，无法按码打印", EN: "item codes are not available: a template printed per code cannot print"},
		"error.print_no_renderer": {ZH: "PDF 生成不可用", EN: "PDF output is not available"},
		"error.print_too_many":    {ZH: "一次最多打印 {max} 张标签", EN: "one print makes at most {max} labels"},
		"error.print_no_printer":  {ZH: "未配置标签打印机", EN: "no label printer is configured"},
	})
}

// Compiled is a checked template: a draft (Version 0) or a published version.
type Compiled struct {
	App     string
	Version int
	Def     Definition
}

// Compile checks a print template definition of app: the meta-schema, then sizes and limits,
// element types, rotations and boxes inside the label, multi-up geometry on the sheet,
// placeholders against the fields of the form's published version (sub-table columns for
// {{row.…}}, a relation's target one level down), GS1 and EAN-13 static data, and what the
// template repeats per. Mistakes are field errors with JSON pointers into the definition.
func (e *Engine) Compile(ctx context.Context, app string, raw []byte) (*Compiled, error) {
	def, err := engine.DecodeDefinition[Definition](TemplateMetaSchema, raw)
	if err != nil {
		return nil, err
	}
	fields, err := e.k.Records.FormFields(ctx, app, def.Form, 0)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, engine.Invalid("/form", "not_found", map[string]any{"value": def.Form})
	}
	if err != nil {
		return nil, fmt.Errorf("compile template %s: %w", def.Key, err)
	}
	cc := &compileCtx{ctx: ctx, e: e, app: app, def: def, fields: indexFields(fields), targets: map[string]map[string]engine.FieldSpec{}}
	if err := cc.compile(); err != nil {
		return nil, err
	}
	return &Compiled{App: app, Def: *def}, nil
}

func indexFields(fields []engine.FieldSpec) map[string]engine.FieldSpec {
	m := make(map[string]engine.FieldSpec, len(fields))
	for _, f := range fields {
		m[f.Key] = f
	}
	return m
}

type compileCtx struct {
	ctx     context.Context
	e       *Engine
	app     string
	def     *Definition
	fields  map[string]engine.FieldSpec
	targets map[string]map[string]engine.FieldSpec // relation target form → its fields
	fe      engine.FieldErrors
	fault   error
}

func (cc *compileCtx) compile() error {
	d := cc.def
	cc.page()
	var rowCols map[string]engine.FieldSpec
	switch d.Repeat {
	case RepeatRow:
		rowCols = cc.subtable("/repeatField", d.RepeatField, true)
	default:
		if d.RepeatField != "" {
			cc.fe.Add("/repeatField", "not_applicable", nil)
		}
	}
	ids := map[string]bool{}
	for i := range d.Elements {
		cc.element(i, &d.Elements[i], rowCols, ids)
	}
	if cc.fault != nil {
		return fmt.Errorf("compile template %s: %w", d.Key, cc.fault)
	}
	return cc.fe.Err()
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// page checks the label's size and margins and a multi-up sheet's geometry.
func (cc *compileCtx) page() {
	pg := cc.def.Page
	short, long := MaxLabelShort, MaxLabelLong
	if cc.def.Kind == KindSheet {
		short, long = MaxSheetShort, MaxSheetLong
	}
	okW := cc.size("/page/width", pg.Width, long)
	okH := cc.size("/page/height", pg.Height, long)
	if okW && okH && math.Min(pg.Width, pg.Height) > short+epsilon {
		path := "/page/width"
		if pg.Height < pg.Width {
			path = "/page/height"
		}
		cc.fe.Add(path, "print_size", map[string]any{"max": short})
	}
	if okW && pg.Margin.Left+pg.Margin.Right >= pg.Width {
		cc.fe.Add("/page/margin/left", "print_outside", map[string]any{"width": pg.Width, "height": pg.Height})
	}
	if okH && pg.Margin.Top+pg.Margin.Bottom >= pg.Height {
		cc.fe.Add("/page/margin/top", "print_outside", map[string]any{"width": pg.Width, "height": pg.Height})
	}
	s := pg.Sheet
	if s == nil {
		return
	}
	sw := cc.size("/page/sheet/width", s.Width, MaxSheetLong)
	sh := cc.size("/page/sheet/height", s.Height, MaxSheetLong)
	if sw && sh && math.Min(s.Width, s.Height) > MaxSheetShort+epsilon {
		cc.fe.Add("/page/sheet/width", "print_size", map[string]any{"max": MaxSheetShort})
	}
	if !okW || !okH || !sw || !sh {
		return
	}
	if need := s.Margin.Left + float64(s.Columns)*pg.Width + float64(s.Columns-1)*s.GapX; need > s.Width+epsilon {
		cc.fe.Add("/page/sheet/columns", "print_sheet_overflow", map[string]any{"count": s.Columns, "need": round2(need), "have": s.Width})
	}
	if need := s.Margin.Top + float64(s.Rows)*pg.Height + float64(s.Rows-1)*s.GapY; need > s.Height+epsilon {
		cc.fe.Add("/page/sheet/rows", "print_sheet_overflow", map[string]any{"count": s.Rows, "need": round2(need), "have": s.Height})
	}
}

// size checks one length is above 0 and at most max.
func (cc *compileCtx) size(path string, v, max float64) bool {
	if v <= 0 || v > max+epsilon || math.IsNaN(v) {
		cc.fe.Add(path, "print_size", map[string]any{"max": max})
		return false
	}
	return true
}

// element checks one element at /elements/i.
func (cc *compileCtx) element(i int, el *Element, rowCols map[string]engine.FieldSpec, ids map[string]bool) {
	at := func(rel string) string { return fmt.Sprintf("/elements/%d/%s", i, rel) }
	if ids[el.ID] {
		cc.fe.Add(at("id"), "duplicate_key", nil)
	}
	ids[el.ID] = true
	if !elementTypes[el.Type] {
		cc.fe.Add(at("type"), "not_allowed", map[string]any{"value": el.Type})
		return
	}
	switch el.Rotate {
	case 0, 90, 180, 270:
	default:
		cc.fe.Add(at("rotate"), "not_allowed", map[string]any{"value": el.Rotate})
	}
	cc.box(i, el)
	switch el.Type {
	case ElText:
		if strings.TrimSpace(el.Text) == "" {
			cc.fe.Add(at("text"), "required", nil)
		}
		cc.placeholders(at("text"), el.Text, rowCols)
	case ElQR, ElCode128:
		cc.codeValue(at("value"), el.Value, rowCols)
	case ElDataMatrix, ElGS1128:
		if cc.codeValue(at("value"), el.Value, rowCols) {
			cc.gs1Value(at("value"), el.Value)
		}
	case ElEAN13:
		if cc.codeValue(at("value"), el.Value, rowCols) && !strings.Contains(el.Value, "{{") {
			if !validEAN13(el.Value) {
				cc.fe.Add(at("value"), "print_ean13", nil)
			}
		}
	case ElImage:
		cc.image(at("src"), el.Src)
	case ElTable:
		if el.Table == nil {
			cc.fe.Add(at("table"), "required", nil)
			return
		}
		cols := cc.subtable(at("table/source"), el.Table.Source, true)
		if cols == nil {
			return // the source's error says it; its columns cannot be checked
		}
		for j, col := range el.Table.Columns {
			cc.placeholders(at(fmt.Sprintf("table/columns/%d/value", j)), col.Value, cols)
		}
	}
	if el.Table != nil && el.Type != ElTable {
		cc.fe.Add(at("table"), "not_applicable", nil)
	}
}

// box checks the element's box, turned by its rotation about its top-left corner, lies on
// the label. A line's W and H may be negative (it goes up or left).
func (cc *compileCtx) box(i int, el *Element) {
	at := func(rel string) string { return fmt.Sprintf("/elements/%d/%s", i, rel) }
	if el.Type != ElLine {
		okW := el.W > 0
		okH := el.H > 0
		if !okW {
			cc.fe.Add(at("w"), "print_size", map[string]any{"max": MaxLabelLong})
		}
		if !okH {
			cc.fe.Add(at("h"), "print_size", map[string]any{"max": MaxLabelLong})
		}
		if !okW || !okH {
			return
		}
	} else if el.W == 0 && el.H == 0 {
		cc.fe.Add(at("w"), "required", nil)
		return
	}
	// Corners of the box relative to (X, Y), turned clockwise (y grows downwards).
	minX, minY, maxX, maxY := math.Inf(1), math.Inf(1), math.Inf(-1), math.Inf(-1)
	for _, c := range [][2]float64{{0, 0}, {el.W, 0}, {0, el.H}, {el.W, el.H}} {
		dx, dy := c[0], c[1]
		switch el.Rotate {
		case 90:
			dx, dy = -dy, dx
		case 180:
			dx, dy = -dx, -dy
		case 270:
			dx, dy = dy, -dx
		}
		minX, maxX = math.Min(minX, el.X+dx), math.Max(maxX, el.X+dx)
		minY, maxY = math.Min(minY, el.Y+dy), math.Max(maxY, el.Y+dy)
	}
	pg := cc.def.Page
	if pg.Width <= 0 || pg.Height <= 0 {
		return // the page's own error says it
	}
	out := map[string]any{"width": pg.Width, "height": pg.Height}
	// Which member to blame for each side, by rotation: left, right, top, bottom.
	blame := map[int][4]string{0: {"x", "w", "y", "h"}, 90: {"h", "x", "y", "w"}, 180: {"w", "x", "h", "y"}, 270: {"x", "h", "w", "y"}}[el.Rotate]
	switch {
	case minX < -epsilon:
		cc.fe.Add(at(blame[0]), "print_outside", out)
	case maxX > pg.Width+epsilon:
		cc.fe.Add(at(blame[1]), "print_outside", out)
	}
	switch {
	case minY < -epsilon:
		cc.fe.Add(at(blame[2]), "print_outside", out)
	case maxY > pg.Height+epsilon:
		cc.fe.Add(at(blame[3]), "print_outside", out)
	}
}

// codeValue checks a code's value is given and its placeholders; false when it is empty.
func (cc *compileCtx) codeValue(path, v string, rowCols map[string]engine.FieldSpec) bool {
	if strings.TrimSpace(v) == "" {
		cc.fe.Add(path, "required", nil)
		return false
	}
	return cc.placeholders(path, v, rowCols)
}

// placeholders checks each placeholder of s names something the page has. rowCols are the
// columns {{row.…}} may name (nil: none). It reports whether s was readable.
func (cc *compileCtx) placeholders(path, s string, rowCols map[string]engine.FieldSpec) bool {
	phs, err := ParsePlaceholders(s)
	if err != nil {
		cc.fe.Add(path, "print_placeholder", map[string]any{"detail": strings.TrimPrefix(err.Error(), ErrPlaceholder.Error()+" ")})
		return false
	}
	for _, ph := range phs {
		head, tail, dotted := strings.Cut(ph.Path, ".")
		switch {
		case dotted && head == "row":
			if rowCols == nil {
				cc.fe.Add(path, "print_row_outside", nil)
			} else if _, ok := rowCols[tail]; !ok {
				cc.fe.Add(path, "print_no_field", map[string]any{"form": cc.def.Form, "field": ph.Path})
			}
			continue
		case dotted && head == "code":
			if cc.def.Repeat != RepeatCode {
				cc.fe.Add(path, "print_code_outside", nil)
			}
			continue
		}
		relation, field := ph.Field()
		if field == "" {
			continue
		}
		if relation == "" {
			if _, ok := cc.fields[field]; !ok {
				cc.fe.Add(path, "print_no_field", map[string]any{"form": cc.def.Form, "field": field})
			}
			continue
		}
		rf, ok := cc.fields[relation]
		switch {
		case !ok:
			cc.fe.Add(path, "print_no_field", map[string]any{"form": cc.def.Form, "field": relation})
		case rf.Type != "relation" || rf.Target == "":
			cc.fe.Add(path, "print_not_relation", map[string]any{"field": relation})
		default:
			tf, err := cc.targetFields(rf.Target)
			if err != nil {
				cc.fault = err
				return false
			}
			if tf == nil {
				cc.fe.Add(path, "print_no_field", map[string]any{"form": rf.Target, "field": field})
			} else if _, ok := tf[field]; !ok {
				cc.fe.Add(path, "print_no_field", map[string]any{"form": rf.Target, "field": field})
			}
		}
	}
	return true
}

// targetFields are the fields of a relation's target form (nil when it has no published
// version).
func (cc *compileCtx) targetFields(form string) (map[string]engine.FieldSpec, error) {
	if m, ok := cc.targets[form]; ok {
		return m, nil
	}
	fields, err := cc.e.k.Records.FormFields(cc.ctx, cc.app, form, 0)
	if errors.Is(err, engine.ErrNotFound) {
		cc.targets[form] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	m := indexFields(fields)
	cc.targets[form] = m
	return m, nil
}

// subtable checks key names a sub-table of the form and returns its columns.
func (cc *compileCtx) subtable(path, key string, required bool) map[string]engine.FieldSpec {
	if key == "" {
		if required {
			cc.fe.Add(path, "required", nil)
		}
		return nil
	}
	f, ok := cc.fields[key]
	if !ok {
		cc.fe.Add(path, "print_no_field", map[string]any{"form": cc.def.Form, "field": key})
		return nil
	}
	if f.Type != "subtable" {
		cc.fe.Add(path, "print_not_subtable", map[string]any{"field": key})
		return nil
	}
	return indexFields(f.Columns)
}

// image checks an image's source: a file id, or {{field}} of an image field.
func (cc *compileCtx) image(path, src string) {
	if strings.TrimSpace(src) == "" {
		cc.fe.Add(path, "required", nil)
		return
	}
	if !strings.Contains(src, "{{") {
		return
	}
	phs, err := ParsePlaceholders(src)
	if err != nil {
		cc.fe.Add(path, "print_placeholder", map[string]any{"detail": strings.TrimPrefix(err.Error(), ErrPlaceholder.Error()+" ")})
		return
	}
	if len(phs) != 1 || phs[0].Start != 0 || phs[0].End != len(src) || strings.Contains(phs[0].Path, ".") {
		cc.fe.Add(path, "print_placeholder", map[string]any{"detail": "an image is a file id or {{field}} of an image field"})
		return
	}
	f, ok := cc.fields[phs[0].Path]
	switch {
	case !ok:
		cc.fe.Add(path, "print_no_field", map[string]any{"form": cc.def.Form, "field": phs[0].Path})
	case f.Type != "image":
		cc.fe.Add(path, "print_not_image", map[string]any{"field": phs[0].Path})
	}
}

// gs1Value checks the static parts of a GS1 element string with placeholders,
// "(01){{gtin}}(10){{lot}}(17){{expiry|date:YYMMDD}}": it is in bracketed form, each AI is
// known, and each value without placeholders is valid for its AI. A value that is one
// placeholder alone ({{code.url}} is not GS1 data, but a field may hold an element string)
// is left to print time.
func (cc *compileCtx) gs1Value(path, v string) {
	if phs, _ := ParsePlaceholders(v); len(phs) == 1 && phs[0].Start == 0 && phs[0].End == len(v) {
		return
	}
	if !strings.HasPrefix(v, "(") {
		cc.fe.Add(path, "print_gs1", map[string]any{"detail": "write the element string in bracketed form: (01)…(10)…"})
		return
	}
	for rest := v; rest != ""; {
		end := strings.IndexByte(rest, ')')
		if !strings.HasPrefix(rest, "(") || end < 0 {
			cc.fe.Add(path, "print_gs1", map[string]any{"detail": fmt.Sprintf("expected (AI) at %q", clip(rest))})
			return
		}
		ai := rest[1:end]
		rest = rest[end+1:]
		next := nextAI(rest)
		value := rest[:next]
		rest = rest[next:]
		if _, ok := gs1.Lookup(ai); !ok {
			cc.fe.Add(path, "invalid_ai", map[string]any{"value": ai})
			return
		}
		if value == "" {
			cc.fe.Add(path, "print_gs1", map[string]any{"detail": fmt.Sprintf("AI (%s) has no value", ai)})
			return
		}
		if strings.Contains(value, "{{") {
			continue
		}
		if _, err := gs1.ParseElementString("(" + ai + ")" + value); err != nil {
			cc.fe.Add(path, "print_gs1", map[string]any{"detail": strings.TrimPrefix(err.Error(), "gs1: ")})
			return
		}
	}
}

// nextAI is where the next "(" outside a placeholder starts in s (len(s) when none).
func nextAI(s string) int {
	depth := 0
	for i := 0; i < len(s); i++ {
		switch {
		case strings.HasPrefix(s[i:], "{{"):
			depth++
			i++
		case strings.HasPrefix(s[i:], "}}") && depth > 0:
			depth--
			i++
		case s[i] == '(' && depth == 0:
			return i
		}
	}
	return len(s)
}

// validEAN13 accepts 12 digits (the check digit is added) or 13 with a right check digit.
func validEAN13(s string) bool {
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	switch len(s) {
	case 12:
		return true
	case 13:
		return gs1.ValidGTIN(s)
	}
	return false
}
