package forms

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store/storetest"
)

// fakeLookupB stands for the services behind Lookup (records, forms, users, departments,
// uploaded files); it counts record lookups to prove they go one id at a time.
type fakeLookupB struct {
	mu      sync.Mutex
	records map[string]bool // "form/id"
	forms   map[string]bool
	users   map[string]bool
	depts   map[string]bool
	files   map[string]FileInfo
	calls   []string
}

func (l *fakeLookupB) RecordExists(_ context.Context, app, form, id string) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls = append(l.calls, form+"/"+id)
	return l.records[form+"/"+id], nil
}

func (l *fakeLookupB) FormExists(_ context.Context, app, form string) (bool, error) {
	return l.forms[form], nil
}

func (l *fakeLookupB) UserExists(_ context.Context, username string) (bool, error) {
	return l.users[username], nil
}

func (l *fakeLookupB) DepartmentExists(_ context.Context, id string) (bool, error) {
	return l.depts[id], nil
}

func (l *fakeLookupB) File(_ context.Context, app, id string) (FileInfo, error) {
	fi, ok := l.files[id]
	if !ok || fi.App != app {
		return FileInfo{}, fmt.Errorf("file %s: %w", id, engine.ErrNotFound)
	}
	return fi, nil
}

func newFakeLookupB() *fakeLookupB {
	return &fakeLookupB{
		records: map[string]bool{"raw_lots/r1": true, "raw_lots/r2": true},
		forms:   map[string]bool{"raw_lots": true, "products": true},
		users:   map[string]bool{"zhang.san": true, "li.si": true},
		depts:   map[string]bool{"qa": true},
		files: map[string]FileInfo{
			"f-pdf":   {ID: "f-pdf", App: "food", Name: "coa.pdf", Size: 300 << 10, Type: "application/pdf"},
			"f-png":   {ID: "f-png", App: "food", Name: "cut.png", Size: 80 << 10, Type: "image/png"},
			"f-jpg":   {ID: "f-jpg", App: "food", Name: "truck.jpg", Size: 2 << 20, Type: "image/jpeg; charset=binary"},
			"f-huge":  {ID: "f-huge", App: "food", Name: "video.mp4", Size: 50 << 20, Type: "video/mp4"},
			"f-other": {ID: "f-other", App: "other", Name: "x.pdf", Size: 10, Type: "application/pdf"},
		},
	}
}

var shanghaiB = func() *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		panic(err)
	}
	return loc
}()

// fieldB makes a field of a registered type with options given as JSON.
func fieldB(t testing.TB, typ, key, options string, cols ...*Field) *Field {
	t.Helper()
	impl, ok := FieldTypeByID(typ)
	if !ok {
		t.Fatalf("field type %q is not registered", typ)
	}
	f := &Field{Key: key, Type: typ, impl: impl, Fields: cols}
	if options != "" {
		f.Options = json.RawMessage(options)
	}
	for _, col := range cols {
		col.Parent = f
	}
	return f
}

// plainFieldB is a field of another engineer's type, used only as a reference target.
func plainFieldB(typ, key string) *Field { return &Field{Key: key, Type: typ} }

func compileCtxB(fields ...*Field) *CompileContext {
	return &CompileContext{
		Ctx: context.Background(), App: "food", Form: "production_orders",
		Exprs: engine.NewExprs(engine.WithLocation(shanghaiB)), Lookup: newFakeLookupB(), Fields: fields,
	}
}

func valueCtxB(l Lookup) *ValueContext {
	return &ValueContext{
		Ctx: context.Background(), App: "food", Form: "production_orders", Record: "rec-1",
		Now: time.Date(2026, 11, 25, 9, 30, 0, 0, shanghaiB), Loc: shanghaiB, User: "zhang.san", Lookup: l,
	}
}

// mustCompileB compiles f (and links it when its type links) or fails the test.
func mustCompileB(t testing.TB, c *CompileContext, f *Field) {
	t.Helper()
	if err := f.impl.Compile(c, f); err != nil {
		t.Fatalf("compile %s: %v", f.Path(), err)
	}
	if l, ok := f.impl.(Linker); ok {
		if err := l.Link(c, f); err != nil {
			t.Fatalf("link %s: %v", f.Path(), err)
		}
	}
}

// wantFieldErrorB checks that err is FieldErrors holding path with code, and returns it.
func wantFieldErrorB(t testing.TB, err error, path, code string) engine.FieldError {
	t.Helper()
	fe, ok := engine.AsFieldErrors(err)
	if !ok {
		t.Fatalf("error %v: want field errors with %s at %q", err, code, path)
	}
	for _, e := range fe {
		if e.Path == path && e.Code == code {
			return e
		}
	}
	t.Fatalf("field errors %v: want %s at %q", fe, code, path)
	return engine.FieldError{}
}

func TestFieldBOptionErrors(t *testing.T) {
	tests := []struct {
		name, typ, options string
		cols               []*Field
		keywords           map[string]any
		path, code         string
	}{
		{name: "relation needs form", typ: "relation", options: `{}`, path: "x-options.form", code: "required"},
		{name: "relation unknown form", typ: "relation", options: `{"form":"nope"}`, path: "x-options.form", code: "not_found"},
		{name: "relation bad lineage", typ: "relation", options: `{"form":"raw_lots","lineage":"both"}`, path: "x-options.lineage", code: "not_allowed"},
		{name: "relation unknown option", typ: "relation", options: `{"form":"raw_lots","lineag":"input"}`, path: "x-options.lineag", code: "unknown_field"},
		{name: "relation keyword", typ: "relation", options: `{"form":"raw_lots"}`, keywords: map[string]any{"maxLength": 3.0}, path: "maxLength", code: "not_applicable"},
		{name: "user multiple type", typ: "user", options: `{"multiple":"yes"}`, path: "x-options.multiple", code: "wrong_type"},
		{name: "department unknown option", typ: "department", options: `{"root":"qa"}`, path: "x-options.root", code: "unknown_field"},
		{name: "autonumber needs pattern", typ: "autonumber", options: `{}`, path: "x-options.pattern", code: "required"},
		{name: "autonumber seq without width", typ: "autonumber", options: `{"pattern":"RM{seq}"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber without seq", typ: "autonumber", options: `{"pattern":"RM{yyMMdd}"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber two seqs", typ: "autonumber", options: `{"pattern":"{seq:2}{seq:4}"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber seq too wide", typ: "autonumber", options: `{"pattern":"{seq:13}"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber bad date part", typ: "autonumber", options: `{"pattern":"{yyy}{seq:3}"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber unknown token", typ: "autonumber", options: `{"pattern":"{line}{seq:3}"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber unclosed brace", typ: "autonumber", options: `{"pattern":"RM{seq:3"}`, path: "x-options.pattern", code: "invalid_pattern"},
		{name: "autonumber daily reset without day", typ: "autonumber", options: `{"pattern":"RM{yyMM}{seq:4}","reset":"day"}`, path: "x-options.reset", code: "invalid_pattern"},
		{name: "autonumber unknown reset", typ: "autonumber", options: `{"pattern":"RM{seq:4}","reset":"week"}`, path: "x-options.reset", code: "not_allowed"},
		{name: "formula needs expr", typ: "formula", options: `{}`, path: "x-options.expr", code: "required"},
		{name: "formula bad result", typ: "formula", options: `{"expr":"1","result":"money"}`, path: "x-options.result", code: "not_allowed"},
		{name: "formula precision", typ: "formula", options: `{"expr":"1","precision":11}`, path: "x-options.precision", code: "option_range"},
		{name: "subtable without columns", typ: "subtable", options: ``, path: "items.properties", code: "required"},
		{name: "subtable nested", typ: "subtable", cols: []*Field{{Key: "inner", Type: "subtable"}}, path: "items.properties.inner", code: "nested_subtable"},
		{name: "subtable rows", typ: "subtable", options: `{"minRows":5,"maxRows":2}`, cols: []*Field{{Key: "qty", Type: "number"}}, path: "x-options.minRows", code: "option_range"},
		{name: "subtable maxRows", typ: "subtable", options: `{"maxRows":20000}`, cols: []*Field{{Key: "qty", Type: "number"}}, path: "x-options.maxRows", code: "option_range"},
		{name: "attachment accept", typ: "attachment", options: `{"accept":["application/pdf","pdf"]}`, path: "x-options.accept.1", code: "invalid_format"},
		{name: "attachment maxFiles", typ: "attachment", options: `{"maxFiles":1000}`, path: "x-options.maxFiles", code: "option_range"},
		{name: "image maxSize", typ: "image", options: `{"maxSize":-1}`, path: "x-options.maxSize", code: "option_range"},
		{name: "signature accept is fixed", typ: "signature", options: `{"accept":["image/*"]}`, path: "x-options.accept", code: "unknown_field"},
		{name: "scan unknown AI", typ: "scan", options: `{"map":{"01":"gtin","999":"x"}}`, path: "x-options.map.999", code: "invalid_ai"},
		{name: "scan bad key", typ: "scan", options: `{"map":{"10":"Lot No"}}`, path: "x-options.map.10", code: "invalid_format"},
		{name: "scan requireGS1 type", typ: "scan", options: `{"requireGS1":1}`, path: "x-options.requireGS1", code: "wrong_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := fieldB(t, tt.typ, "f", tt.options, tt.cols...)
			f.Keywords = tt.keywords
			err := f.impl.Compile(compileCtxB(), f)
			wantFieldErrorB(t, err, tt.path, tt.code)
		})
	}
}

func TestFieldBAutoNumberFormat(t *testing.T) {
	at := time.Date(2026, 11, 5, 23, 0, 0, 0, shanghaiB)
	tests := []struct {
		pattern string
		seq     int64
		want    string
	}{
		{"RM{yyMMdd}{seq:4}", 1, "RM2611050001"},
		{"WO-{yyyy}-{seq:4}", 42, "WO-2026-0042"},
		{"{yyyy}{MM}{dd}-{seq:3}", 12345, "20261105-12345"}, // outgrows its width
		{"LOT{seq:1}", 7, "LOT7"},
		{"批次{yy}/{MM}/{seq:2}", 5, "批次26/11/05"},
		{"{seq:12}", 1, "000000000001"},
		{"{ddMMyy}{seq:2}", 3, "05112603"},
		{"X{seq}", 1, "X{seq}"}, // invalid: rendered as is
	}
	for _, tt := range tests {
		if got := FormatAutoNumber(tt.pattern, at, tt.seq); got != tt.want {
			t.Errorf("FormatAutoNumber(%q, %d) = %q, want %q", tt.pattern, tt.seq, got, tt.want)
		}
	}
}

func TestFieldBAutoNumberGenerate(t *testing.T) {
	st := storetest.New(t)
	f := fieldB(t, "autonumber", "lot_no", `{"pattern":"RM{yyMMdd}{seq:4}","reset":"day"}`)
	mustCompileB(t, compileCtxB(f), f)
	gen := f.impl.(Generated)
	if gen.Phase() != 1 {
		t.Fatalf("phase %d, want 1", gen.Phase())
	}

	// 16 records created at once on 2026-11-25 (Shanghai) get 16 distinct numbers, 1..16.
	vc := valueCtxB(newFakeLookupB())
	vc.Store = st
	var mu sync.Mutex
	var got []string
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := *vc
			rec := Values{}
			v, err := gen.Generate(&c, f, &rec, true)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			got = append(got, v.(string))
			mu.Unlock()
		}()
	}
	wg.Wait()
	slices.Sort(got)
	var want []string
	for i := 1; i <= 16; i++ {
		want = append(want, fmt.Sprintf("RM261125%04d", i))
	}
	if !slices.Equal(got, want) {
		t.Fatalf("numbers %v, want %v", got, want)
	}

	// The next day (17:00 UTC is already the 26th in Shanghai) starts again at 1.
	next := *vc
	next.Now = time.Date(2026, 11, 25, 17, 0, 0, 0, time.UTC)
	v, err := gen.Generate(&next, f, &Values{}, true)
	if err != nil || v != "RM2611260001" {
		t.Fatalf("next day: %v, %v; want RM2611260001", v, err)
	}
	day1 := AutoNumberSequence("food", "production_orders", "lot_no", "day", vc.Now)
	day2 := AutoNumberSequence("food", "production_orders", "lot_no", "day", next.Now.In(shanghaiB))
	if day1 != "autonumber/food/production_orders/lot_no/20261125" || day2 == day1 {
		t.Fatalf("sequence names %q and %q", day1, day2)
	}
	if n := AutoNumberSequence("a", "f", "no", "none", vc.Now); n != "autonumber/a/f/no/" {
		t.Fatalf("sequence without reset: %q", n)
	}

	// An update keeps the number the record has.
	rec := Values{"lot_no": "RM2611010007"}
	if v, err := gen.Generate(vc, f, &rec, false); err != nil || v != "RM2611010007" {
		t.Fatalf("update: %v, %v", v, err)
	}
}

func TestFieldBFormula(t *testing.T) {
	numberT := engine.ExprType{Kind: engine.ExprNumber}
	env := engine.ExprEnv{"qty": numberT, "price": numberT, "made": {Kind: engine.ExprString},
		"lines": engine.ExprListOf(engine.ExprObjectOf(map[string]engine.ExprType{"qty": numberT, "price": numberT}))}

	t.Run("compile errors name line and column", func(t *testing.T) {
		for _, tt := range []struct{ expr, want string }{
			{`qty * `, "line 1, column"},
			{"qty * price +\n  nosuch", "line 2, column 3"},
			{`qty + "kg"`, "line 1, column"},
		} {
			f := fieldB(t, "formula", "total", fmt.Sprintf(`{"expr":%q}`, tt.expr))
			c := compileCtxB()
			c.Env = env
			if err := f.impl.Compile(c, f); err != nil {
				t.Fatal(err)
			}
			err := f.impl.(Linker).Link(c, f)
			e := wantFieldErrorB(t, err, "x-options.expr", "expr")
			if d, _ := e.Params["detail"].(string); !strings.Contains(d, tt.want) {
				t.Errorf("%q: detail %q, want it to contain %q", tt.expr, d, tt.want)
			}
			if !strings.Contains(err.Error(), "expression error: line") {
				t.Errorf("%q: message %q", tt.expr, err.Error())
			}
		}
	})

	t.Run("row-level formula", func(t *testing.T) {
		amount := fieldB(t, "formula", "amount", `{"expr":"qty * price"}`)
		lines := fieldB(t, "subtable", "lines", ``, plainFieldB("number", "qty"), plainFieldB("number", "price"), amount)
		c := compileCtxB(lines)
		c.Siblings = lines.Fields
		c.Env = env
		c.RowEnv = engine.ExprEnv{"qty": numberT, "price": numberT, "amount": numberT, "parent": engine.ExprObjectOf(env)}
		mustCompileB(t, c, amount)
		if deps := amount.impl.(Dependent).Deps(amount); !slices.Equal(deps, []string{"price", "qty"}) {
			t.Fatalf("deps %v", deps)
		}
		gen := amount.impl.(Generated)
		if gen.Phase() != 0 {
			t.Fatalf("phase %d", gen.Phase())
		}
		vc := valueCtxB(nil)
		parent := Values{"lines": []any{}}
		for _, tt := range []struct {
			row  Values
			want any
		}{
			{Values{"qty": 3.0, "price": 2.5}, 7.5},
			{Values{"qty": 3.0, "price": 0.3333}, 1.0},
			{Values{"qty": 1.0, "price": 2.675}, 2.68}, // half away from zero on the decimal form
			{Values{"price": 2.5}, nil},                // qty not filled in yet
		} {
			vc.Row, vc.Parent = tt.row, parent
			got, err := gen.Generate(vc, amount, &tt.row, true)
			if err != nil || got != tt.want {
				t.Errorf("row %v: %v, %v; want %v", tt.row, got, err, tt.want)
			}
		}
	})

	t.Run("record formulas", func(t *testing.T) {
		c := compileCtxB()
		c.Env = env
		vc := valueCtxB(nil)
		rec := Values{"qty": 4.0, "made": "2026-11-25", "lines": []any{
			map[string]any{"qty": 2.0, "price": 1.5}, map[string]any{"qty": 1.0, "price": 10.0},
		}}
		for _, tt := range []struct {
			options string
			deps    []string
			want    any
		}{
			{`{"expr":"sum(map(lines, .qty * .price))"}`, []string{"lines"}, 13.0},
			{`{"expr":"10 / qty","precision":3}`, []string{"qty"}, 2.5},
			{`{"expr":"10 / 3","precision":0}`, []string{}, 3.0},
			{`{"expr":"addDays(date(made), 30)","result":"date"}`, []string{"made"}, "2026-12-25"},
			{`{"expr":"qty > 3","result":"bool"}`, []string{"qty"}, true},
			{`{"expr":"concat(made, \"-\", string(qty))","result":"string"}`, []string{"made", "qty"}, "2026-11-25-4"},
		} {
			f := fieldB(t, "formula", "out", tt.options)
			mustCompileB(t, c, f)
			if deps := f.impl.(Dependent).Deps(f); !slices.Equal(deps, tt.deps) {
				t.Errorf("%s: deps %v, want %v", tt.options, deps, tt.deps)
			}
			got, err := f.impl.(Generated).Generate(vc, f, &rec, false)
			if err != nil || got != tt.want {
				t.Errorf("%s: %v (%T), %v; want %v", tt.options, got, got, err, tt.want)
			}
		}
		if got := fieldB(t, "formula", "d", `{"expr":"1","result":"date"}`); !reflect.DeepEqual(got.impl.ExprType(got), engine.ExprType{Kind: engine.ExprString}) {
			t.Errorf("a date formula reads as a string in expressions")
		}
	})
}

func TestFieldBRelation(t *testing.T) {
	l := newFakeLookupB()
	qty := plainFieldB("number", "qty")
	note := plainFieldB("text", "note")
	consumed := fieldB(t, "relation", "lots", `{"form":"raw_lots","multiple":true,"lineage":"input","quantityField":"qty","displayField":"lot_no"}`)
	c := compileCtxB(consumed, qty, note)
	c.Lookup = l
	mustCompileB(t, c, consumed)
	if role, q := LineageOf(consumed); role != "input" || q != "qty" {
		t.Fatalf("LineageOf = %q, %q", role, q)
	}
	if role, q := LineageOf(qty); role != "" || q != "" {
		t.Fatalf("LineageOf(number) = %q, %q", role, q)
	}

	t.Run("links", func(t *testing.T) {
		self := fieldB(t, "relation", "made_from", `{"form":"production_orders"}`) // its own form
		mustCompileB(t, c, self)
		for _, tt := range []struct{ options, code string }{
			{`{"form":"raw_lots","quantityField":"note"}`, "not_number_field"},
			{`{"form":"raw_lots","quantityField":"weight"}`, "not_found"},
		} {
			f := fieldB(t, "relation", "r", tt.options)
			if err := f.impl.Compile(c, f); err != nil {
				t.Fatal(err)
			}
			wantFieldErrorB(t, f.impl.(Linker).Link(c, f), "x-options.quantityField", tt.code)
		}
		// In a sub-table the quantity is a sibling column, not a top-level field.
		col := fieldB(t, "relation", "lot", `{"form":"raw_lots","lineage":"input","quantityField":"used_qty"}`)
		lines := fieldB(t, "subtable", "materials", ``, col, plainFieldB("number", "used_qty"))
		rc := compileCtxB(lines)
		rc.Siblings = lines.Fields
		mustCompileB(t, rc, col)
		if role, q := LineageOf(col); role != "input" || q != "used_qty" {
			t.Fatalf("column LineageOf = %q, %q", role, q)
		}
	})

	t.Run("values", func(t *testing.T) {
		vc := valueCtxB(l)
		if _, err := consumed.impl.Prepare(vc, consumed, "r1"); err == nil {
			t.Fatal("multiple relation took a string")
		}
		_, err := consumed.impl.Prepare(vc, consumed, []any{"r1", "r2", "r1"})
		wantFieldErrorB(t, err, "2", "duplicate_value")
		v, err := consumed.impl.Prepare(vc, consumed, []any{"r1", "r9", "r2"})
		if err != nil || !reflect.DeepEqual(v, []string{"r1", "r9", "r2"}) {
			t.Fatalf("prepare: %v, %v", v, err)
		}
		l.calls = nil
		err = consumed.impl.(Checked).Check(vc, consumed, v)
		e := wantFieldErrorB(t, err, "1", "not_found")
		if e.Params["value"] != "r9" {
			t.Errorf("params %v", e.Params)
		}
		if want := []string{"raw_lots/r1", "raw_lots/r9", "raw_lots/r2"}; !slices.Equal(l.calls, want) {
			t.Errorf("lookups %v, want one per id %v", l.calls, want)
		}

		single := fieldB(t, "relation", "product", `{"form":"products"}`)
		mustCompileB(t, c, single)
		wantFieldErrorB(t, single.impl.(Checked).Check(vc, single, "p404"), "", "not_found")
		if s := single.impl.Schema(single); s["type"] != "string" {
			t.Errorf("schema %v", s)
		}
		if s := consumed.impl.Schema(consumed); s["type"] != "array" || s["uniqueItems"] != true {
			t.Errorf("schema %v", s)
		}
		if got := consumed.impl.ExprType(consumed).String(); got != "list<string>" {
			t.Errorf("expr type %s", got)
		}
	})
}

func TestFieldBPickers(t *testing.T) {
	l := newFakeLookupB()
	vc := valueCtxB(l)
	c := compileCtxB()
	users := fieldB(t, "user", "inspectors", `{"multiple":true}`)
	dept := fieldB(t, "department", "dept", ``)
	mustCompileB(t, c, users)
	mustCompileB(t, c, dept)

	v, err := users.impl.Prepare(vc, users, []any{"zhang.san", "wang.wu"})
	if err != nil {
		t.Fatal(err)
	}
	e := wantFieldErrorB(t, users.impl.(Checked).Check(vc, users, v), "1", "not_found")
	if e.Params["value"] != "wang.wu" {
		t.Errorf("params %v", e.Params)
	}
	if err := users.impl.(Checked).Check(vc, users, []string{"li.si"}); err != nil {
		t.Error(err)
	}
	wantFieldErrorB(t, dept.impl.(Checked).Check(vc, dept, "sales"), "", "not_found")
	if err := dept.impl.(Checked).Check(vc, dept, "qa"); err != nil {
		t.Error(err)
	}
	if v, err := dept.impl.Prepare(vc, dept, ""); v != nil || err != nil {
		t.Errorf("empty department: %v, %v", v, err)
	}
	wantFieldErrorB(t, func() error { _, err := dept.impl.Prepare(vc, dept, 7.0); return err }(), "", "wrong_type")
	if got := dept.impl.ExprType(dept).String(); got != "string" {
		t.Errorf("expr type %s", got)
	}
}

func TestFieldBSubtable(t *testing.T) {
	lot := fieldB(t, "relation", "lot", `{"form":"raw_lots","lineage":"input","quantityField":"qty"}`)
	lot.Required = true
	lot.Keywords = map[string]any{"description": "consumed lot"}
	no := fieldB(t, "autonumber", "line_no", `{"pattern":"L{seq:3}"}`)
	no.Required = true // generated: never required of the input
	code := fieldB(t, "scan", "code", `{}`)
	qty := fieldB(t, "formula", "qty", `{"expr":"1"}`)
	lines := fieldB(t, "subtable", "materials", `{"minRows":1,"maxRows":3}`, lot, no, code, qty)
	c := compileCtxB(lines)
	c.Siblings = lines.Fields
	c.RowEnv = engine.ExprEnv{}
	for _, f := range append([]*Field{lines}, lines.Fields...) {
		mustCompileB(t, c, f)
	}

	got := lines.impl.Schema(lines)
	want := map[string]any{
		"type": "array", "minItems": 1, "maxItems": 3,
		"items": map[string]any{
			"type": "object", "additionalProperties": false, "required": []string{"lot"},
			"properties": map[string]any{
				"lot":     map[string]any{"type": "string", "minLength": 1, "description": "consumed lot"},
				"line_no": map[string]any{"type": "string"},
				"code":    map[string]any{"type": "string", "maxLength": 500},
				"qty":     map[string]any{"type": "number"},
			},
		},
	}
	if !reflect.DeepEqual(got, want) {
		gj, _ := json.Marshal(got)
		wj, _ := json.Marshal(want)
		t.Fatalf("schema\n got %s\nwant %s", gj, wj)
	}
	if s := lines.impl.ExprType(lines).String(); s != `list<object{"code": string, "line_no": string, "lot": string, "qty": number}>` {
		t.Errorf("expr type %s", s)
	}

	vc := valueCtxB(nil)
	rows, err := lines.impl.Prepare(vc, lines, []any{map[string]any{"lot": "r1"}})
	if err != nil || !reflect.DeepEqual(rows, []map[string]any{{"lot": "r1"}}) {
		t.Fatalf("prepare: %v, %v", rows, err)
	}
	for _, tt := range []struct {
		in         any
		path, code string
	}{
		{"r1", "", "wrong_type"},
		{[]any{map[string]any{}, "r1"}, "1", "wrong_type"},
		{[]any{}, "", "too_few_rows"},
		{[]any{map[string]any{}, map[string]any{}, map[string]any{}, map[string]any{}}, "", "too_many_rows"},
	} {
		_, err := lines.impl.Prepare(vc, lines, tt.in)
		wantFieldErrorB(t, err, tt.path, tt.code)
	}
}

func TestFieldBScan(t *testing.T) {
	gtin, lotNo, expiry := plainFieldB("text", "gtin"), plainFieldB("text", "lot_no"), plainFieldB("date", "expiry_date")
	made, weight := plainFieldB("datetime", "made_at"), plainFieldB("number", "net_weight")
	scan := fieldB(t, "scan", "code", `{"map":{"01":"gtin","10":"lot_no","17":"expiry_date","8008":"made_at","3103":"net_weight"}}`)
	strict := fieldB(t, "scan", "strict", `{"map":{"10":"lot_no"},"requireGS1":true}`)
	c := compileCtxB(scan, strict, gtin, lotNo, expiry, made, weight)
	mustCompileB(t, c, scan)
	mustCompileB(t, c, strict)
	vc := valueCtxB(nil)

	t.Run("GS1 fills the mapped fields", func(t *testing.T) {
		for _, tt := range []struct {
			in   string
			want map[string]any
		}{
			{"(01)09501101530003(17)261231(10)LOT-7\r\n", map[string]any{"gtin": "09501101530003", "expiry_date": "2026-12-31", "lot_no": "LOT-7"}},
			{"(01)09501101530003(17)270200(3103)001250", map[string]any{"gtin": "09501101530003", "expiry_date": "2027-02-28", "net_weight": 1.25}},
			{"(8008)26112508(10)B1", map[string]any{"lot_no": "B1", "made_at": "2026-11-25T08:00:00+08:00"}},
		} {
			v, err := scan.impl.Prepare(vc, scan, tt.in)
			if err != nil || v != strings.TrimSpace(tt.in) {
				t.Fatalf("prepare %q: %v, %v", tt.in, v, err)
			}
			got, err := scan.impl.(Filler).Fill(vc, scan, v)
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("fill %q: %v, %v; want %v", tt.in, got, err, tt.want)
			}
		}
	})

	t.Run("plain codes pass unless GS1 is required", func(t *testing.T) {
		v, err := scan.impl.Prepare(vc, scan, "RM2611250001")
		if err != nil || v != "RM2611250001" {
			t.Fatalf("prepare: %v, %v", v, err)
		}
		if got, err := scan.impl.(Filler).Fill(vc, scan, v); err != nil || len(got) != 0 {
			t.Errorf("fill: %v, %v", got, err)
		}
		_, err = strict.impl.Prepare(vc, strict, "RM2611250001")
		wantFieldErrorB(t, err, "", "not_gs1")
	})

	t.Run("broken GS1", func(t *testing.T) {
		_, err := scan.impl.Prepare(vc, scan, "(01)09501101530004(10)LOT-7") // wrong check digit
		e := wantFieldErrorB(t, err, "", "invalid_gs1")
		if d, _ := e.Params["detail"].(string); !strings.Contains(d, "01") {
			t.Errorf("detail %q", d)
		}
		_, err = scan.impl.Prepare(vc, scan, strings.Repeat("A", 501))
		wantFieldErrorB(t, err, "", "too_long")
	})

	t.Run("links", func(t *testing.T) {
		total := fieldB(t, "formula", "total", `{"expr":"1"}`)
		for _, tt := range []struct{ options, path, code string }{
			{`{"map":{"10":"batch"}}`, "x-options.map.10", "not_found"},
			{`{"map":{"10":"total"}}`, "x-options.map.10", "generated_target"},
		} {
			f := fieldB(t, "scan", "s", tt.options)
			lc := compileCtxB(f, total, lotNo)
			if err := f.impl.Compile(lc, f); err != nil {
				t.Fatal(err)
			}
			wantFieldErrorB(t, f.impl.(Linker).Link(lc, f), tt.path, tt.code)
		}
		// A column's targets are its sibling columns.
		col := fieldB(t, "scan", "code", `{"map":{"10":"lot_no"}}`)
		fieldB(t, "subtable", "items", ``, col, plainFieldB("text", "lot_no"))
		mustCompileB(t, compileCtxB(), col)
	})
}

func TestFieldBFiles(t *testing.T) {
	l := newFakeLookupB()
	vc := valueCtxB(l)
	c := compileCtxB()
	att := fieldB(t, "attachment", "docs", `{"maxFiles":3,"accept":["application/pdf","image/*"]}`)
	img := fieldB(t, "image", "photos", ``)
	sig := fieldB(t, "signature", "qa_sign", ``)
	anyFile := fieldB(t, "attachment", "any", `{"maxSize":1048576}`)
	for _, f := range []*Field{att, img, sig, anyFile} {
		mustCompileB(t, c, f)
	}

	if err := att.impl.(Checked).Check(vc, att, []string{"f-pdf", "f-png", "f-jpg"}); err != nil {
		t.Errorf("good files: %v", err)
	}
	for _, tt := range []struct {
		f          *Field
		v          any
		path, code string
		params     map[string]any
	}{
		{att, []string{"f-pdf", "f-huge"}, "1", "file_too_large", map[string]any{"max": "20 MiB"}},
		{att, []string{"f-huge"}, "0", "file_type", map[string]any{"type": "video/mp4"}},
		{att, []string{"f-nope"}, "0", "not_found", map[string]any{"value": "f-nope"}},
		{att, []string{"f-other"}, "0", "not_found", map[string]any{"value": "f-other"}}, // another app's file
		{img, []string{"f-png", "f-pdf"}, "1", "file_type", map[string]any{"type": "application/pdf"}},
		{anyFile, []string{"f-jpg"}, "0", "file_too_large", map[string]any{"max": "1 MiB"}},
		{sig, "f-jpg", "", "file_type", map[string]any{"type": "image/jpeg"}},
	} {
		e := wantFieldErrorB(t, tt.f.impl.(Checked).Check(vc, tt.f, tt.v), tt.path, tt.code)
		if !reflect.DeepEqual(e.Params, tt.params) {
			t.Errorf("%s %v: params %v, want %v", tt.f.Key, tt.v, e.Params, tt.params)
		}
	}
	if err := sig.impl.(Checked).Check(vc, sig, "f-png"); err != nil {
		t.Errorf("signature: %v", err)
	}

	_, err := att.impl.Prepare(vc, att, []any{"a", "b", "c", "d"})
	wantFieldErrorB(t, err, "", "too_many_files")
	_, err = sig.impl.Prepare(vc, sig, []any{"f-png"})
	wantFieldErrorB(t, err, "", "wrong_type")
	if s := sig.impl.Schema(sig); s["type"] != "string" {
		t.Errorf("signature schema %v", s)
	}
	if s := img.impl.Schema(img); s["type"] != "array" || s["maxItems"] != 9 {
		t.Errorf("image schema %v", s)
	}
	if got := img.impl.ExprType(img).String(); got != "list<string>" {
		t.Errorf("image expr type %s", got)
	}
	if got := sig.impl.ExprType(sig).String(); got != "string" {
		t.Errorf("signature expr type %s", got)
	}
}
