package forms

import (
	"context"
	"encoding/json"
	"maps"
	"math"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"
	_ "time/tzdata"

	"tracecraft/engine"
)

// faChoices are the options of the choice fields in these tests.
const (
	faInspection = `{"options":[
		{"value":"pass","label":{"zh-CN":"合格","en":"Passed"},"color":"green"},
		{"value":"fail","label":{"zh-CN":"不合格"},"color":"red"},
		{"value":"hold","label":{"zh-CN":"待检"},"color":"amber"}]}`
	faAllergens = `{"options":[
		{"value":"peanut","label":{"zh-CN":"花生","en":"Peanut"}},
		{"value":"soy","label":{"zh-CN":"大豆"}},
		{"value":"milk","label":{"zh-CN":"乳"}}]`
)

// faPlaceholder finds a message parameter left unfilled.
var faPlaceholder = regexp.MustCompile(`\{[a-z][a-z_]*\}`)

// faField builds a field of type typ with raw x-options (may be "") and keywords (may be nil).
func faField(typ, options string, keywords map[string]any) *Field {
	f := &Field{Key: "f", Type: typ, Label: engine.Text{ZH: "字段"}, Keywords: keywords}
	if options != "" {
		f.Options = json.RawMessage(options)
	}
	return f
}

func faType(t *testing.T, typ string) FieldType {
	t.Helper()
	ft, ok := FieldTypeByID(typ)
	if !ok {
		t.Fatalf("field type %q is not registered", typ)
	}
	return ft
}

func faCompile(t *testing.T, f *Field) error {
	t.Helper()
	return faType(t, f.Type).Compile(&CompileContext{Ctx: context.Background()}, f)
}

func faValueContext(t *testing.T) *ValueContext {
	t.Helper()
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	return &ValueContext{Ctx: context.Background(), Now: time.Date(2026, 3, 1, 10, 0, 0, 0, loc), Loc: loc}
}

// faHasError tells whether err carries a field error with path and code.
func faHasError(t *testing.T, err error, path, code string) {
	t.Helper()
	fe, ok := engine.AsFieldErrors(err)
	if !ok {
		t.Fatalf("error = %v, want field errors with %s at %q", err, code, path)
	}
	for _, e := range fe {
		if e.Path == path && e.Code == code {
			if msg := engine.Message("zh-CN", e.Code, e.Params); msg == e.Code || faPlaceholder.MatchString(msg) {
				t.Errorf("code %s has no zh-CN message or a parameter is missing: %q", e.Code, msg)
			}
			return
		}
	}
	t.Fatalf("error = %v (%+v), want %s at %q", err, fe, code, path)
}

// faValidate checks that the stored value, as JSON sends it, fits the field's schema with the
// field's keywords merged over it (as the form does).
func faValidate(t *testing.T, f *Field, stored any) {
	t.Helper()
	s := faType(t, f.Type).Schema(f)
	merged := maps.Clone(s)
	maps.Copy(merged, f.Keywords)
	schema, err := engine.CompileSchemaValue("field.json", merged)
	if err != nil {
		t.Fatalf("schema %v does not compile: %v", merged, err)
	}
	doc, err := json.Marshal(stored)
	if err != nil {
		t.Fatalf("stored value %#v does not marshal: %v", stored, err)
	}
	if err := schema.ValidateJSON(doc, engine.PathDotted); err != nil {
		t.Errorf("stored value %s does not fit schema %v: %v", doc, merged, err)
	}
}

func TestFieldARegistered(t *testing.T) {
	for _, id := range []string{"text", "textarea", "number", "money", "date", "datetime", "time",
		"select", "radio", "multiselect", "checkbox", "switch", "location", "richtext"} {
		ft := faType(t, id)
		if ft.ID() != id {
			t.Errorf("%s: ID() = %q", id, ft.ID())
		}
		if l := ft.Label(); l.ZH == "" || l.EN == "" {
			t.Errorf("%s: label %+v needs zh-CN and en", id, l)
		}
	}
}

func TestFieldAOptions(t *testing.T) {
	long := `"` + strings.Repeat("k", 21) + `"`
	tests := []struct {
		name     string
		typ      string
		options  string
		keywords map[string]any
		path     string // "" with code "": compiles
		code     string
	}{
		{"text none", "text", "", nil, "", ""},
		{"text null", "text", "null", nil, "", ""},
		{"text placeholder", "text", `{"placeholder":{"zh-CN":"请输入批号","en":"Lot number"}}`, map[string]any{"maxLength": 40.0, "pattern": "^[A-Z0-9]+$"}, "", ""},
		{"text unknown option", "text", `{"rows":3}`, nil, "x-options.rows", "unknown_field"},
		{"text placeholder not text", "text", `{"placeholder":"x"}`, nil, "x-options.placeholder", "wrong_type"},
		{"text options not object", "text", `[1]`, nil, "x-options", "wrong_type"},
		{"text keyword of numbers", "text", "", map[string]any{"minimum": 1.0}, "minimum", "not_applicable"},
		{"textarea format", "textarea", "", map[string]any{"format": "email"}, "format", "not_applicable"},
		{"textarea title and default", "textarea", "", map[string]any{"title": "备注", "default": "无"}, "", ""},

		{"number defaults", "number", `{}`, nil, "", ""},
		{"number all", "number", `{"precision":0,"unit":"kg","thousands":true}`, map[string]any{"minimum": 0.0, "maximum": 1000.0}, "", ""},
		{"number precision 8", "number", `{"precision":8}`, nil, "", ""},
		{"number precision 9", "number", `{"precision":9}`, nil, "x-options.precision", "too_big"},
		{"number precision -1", "number", `{"precision":-1}`, nil, "x-options.precision", "too_small"},
		{"number precision string", "number", `{"precision":"2"}`, nil, "x-options.precision", "wrong_type"},
		{"number precision fraction", "number", `{"precision":1.5}`, nil, "x-options.precision", "wrong_type"},
		{"number unit too long", "number", `{"unit":` + long + `}`, nil, "x-options.unit", "too_long"},
		{"number maxLength", "number", "", map[string]any{"maxLength": 3.0}, "maxLength", "not_applicable"},

		{"money defaults", "money", "", nil, "", ""},
		{"money USD 4", "money", `{"currency":"USD","precision":4}`, map[string]any{"exclusiveMinimum": 0.0}, "", ""},
		{"money lowercase currency", "money", `{"currency":"cny"}`, nil, "x-options.currency", "pattern"},
		{"money precision 5", "money", `{"precision":5}`, nil, "x-options.precision", "too_big"},
		{"money unit", "money", `{"unit":"元"}`, nil, "x-options.unit", "unknown_field"},

		{"date none", "date", "", nil, "", ""},
		{"date option", "date", `{"format":"yyyy/MM/dd"}`, nil, "x-options.format", "unknown_field"},
		{"date minimum", "date", "", map[string]any{"minimum": 1.0}, "minimum", "not_applicable"},
		{"datetime option", "datetime", `{"zone":"UTC"}`, nil, "x-options.zone", "unknown_field"},
		{"time seconds", "time", `{"seconds":true}`, nil, "", ""},
		{"time seconds number", "time", `{"seconds":1}`, nil, "x-options.seconds", "wrong_type"},

		{"select good", "select", faInspection, nil, "", ""},
		{"select no options", "select", "", nil, "x-options.options", "required"},
		{"select empty options", "select", `{"options":[]}`, nil, "x-options.options", "too_few"},
		{"select duplicate", "select", `{"options":[{"value":"a","label":{"zh-CN":"甲"}},{"value":"a","label":{"zh-CN":"乙"}}]}`, nil, "x-options.options.1.value", "duplicate_value"},
		{"select empty value", "select", `{"options":[{"value":"","label":{"zh-CN":"甲"}}]}`, nil, "x-options.options.0.value", "required"},
		{"select long value", "select", `{"options":[{"value":"` + strings.Repeat("v", 101) + `","label":{"zh-CN":"甲"}}]}`, nil, "x-options.options.0.value", "too_long"},
		{"select label without zh", "select", `{"options":[{"value":"a","label":{"en":"A"}}]}`, nil, "x-options.options.0.label.zh-CN", "required"},
		{"select bad color", "select", `{"options":[{"value":"a","label":{"zh-CN":"甲"},"color":"purple"}]}`, nil, "x-options.options.0.color", "one_of"},
		{"select unknown option key", "select", `{"options":[{"value":"a","label":{"zh-CN":"甲"},"icon":"x"}]}`, nil, "x-options.options.0.icon", "unknown_field"},
		{"select minSelected", "select", `{"options":[{"value":"a","label":{"zh-CN":"甲"}}],"minSelected":1}`, nil, "x-options.minSelected", "unknown_field"},
		{"radio bad color", "radio", `{"options":[{"value":"a","label":{"zh-CN":"甲"},"color":"pink"}]}`, nil, "x-options.options.0.color", "one_of"},

		{"multiselect good", "multiselect", faAllergens + `,"minSelected":1,"maxSelected":2}`, map[string]any{"maxItems": 3.0}, "", ""},
		{"multiselect minSelected -1", "multiselect", faAllergens + `,"minSelected":-1}`, nil, "x-options.minSelected", "too_small"},
		{"multiselect minSelected 4", "multiselect", faAllergens + `,"minSelected":4}`, nil, "x-options.minSelected", "too_big"},
		{"multiselect maxSelected 0", "multiselect", faAllergens + `,"maxSelected":0}`, nil, "x-options.maxSelected", "too_small"},
		{"multiselect max below min", "multiselect", faAllergens + `,"minSelected":2,"maxSelected":1}`, nil, "x-options.maxSelected", "too_small"},
		{"checkbox no options", "checkbox", `{"minSelected":1}`, nil, "x-options.options", "required"},

		{"switch labels", "switch", `{"onLabel":{"zh-CN":"合格"},"offLabel":{"zh-CN":"不合格"}}`, nil, "", ""},
		{"switch same labels", "switch", `{"onLabel":{"zh-CN":"是"},"offLabel":{"zh-CN":"是"}}`, nil, "x-options.offLabel", "duplicate_value"},
		{"switch pattern", "switch", "", map[string]any{"pattern": "x"}, "pattern", "not_applicable"},

		{"location default", "location", "", nil, "", ""},
		{"location gcj02", "location", `{"coordinateSystem":"gcj02"}`, nil, "", ""},
		{"location mars", "location", `{"coordinateSystem":"mars"}`, nil, "x-options.coordinateSystem", "one_of"},

		{"richtext default", "richtext", "", nil, "", ""},
		{"richtext 0", "richtext", `{"maxLength":0}`, nil, "x-options.maxLength", "too_small"},
		{"richtext huge", "richtext", `{"maxLength":2000000}`, nil, "x-options.maxLength", "too_big"},
		{"richtext keyword", "richtext", "", map[string]any{"maxLength": 10.0}, "maxLength", "not_applicable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := faField(tt.typ, tt.options, tt.keywords)
			err := faCompile(t, f)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("Compile: %v", err)
				}
				if f.State == nil {
					t.Fatal("Compile left no state")
				}
				// The schema compiles, with the keywords merged over it.
				merged := maps.Clone(faType(t, tt.typ).Schema(f))
				maps.Copy(merged, f.Keywords)
				if _, err := engine.CompileSchemaValue("field.json", merged); err != nil {
					t.Fatalf("schema: %v", err)
				}
				return
			}
			faHasError(t, err, tt.path, tt.code)
		})
	}
}

func TestFieldAValues(t *testing.T) {
	utc := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return v.UTC()
	}
	shanghai, _ := time.LoadLocation("Asia/Shanghai")
	tests := []struct {
		name     string
		typ      string
		options  string
		keywords map[string]any
		in       any
		want     any    // the stored value, when code is ""
		path     string // the error's path relative to the value
		code     string
	}{
		{"text trimmed", "text", "", nil, "  批次 A01  ", "批次 A01", "", ""},
		{"text one line", "text", "", nil, "A01\r\nB02\tC03\n", "A01 B02 C03", "", ""},
		{"text blank", "text", "", nil, "   ", nil, "", ""},
		{"text 200", "text", "", nil, strings.Repeat("字", 200), strings.Repeat("字", 200), "", ""},
		{"text 201", "text", "", nil, strings.Repeat("字", 201), nil, "", "too_long"},
		{"text keyword max ok", "text", "", map[string]any{"maxLength": 5.0}, "12345", "12345", "", ""},
		{"text keyword max", "text", "", map[string]any{"maxLength": json.Number("5")}, "123456", nil, "", "too_long"},
		{"text keyword raises max", "text", "", map[string]any{"maxLength": 300.0}, strings.Repeat("a", 250), strings.Repeat("a", 250), "", ""},
		{"text number", "text", "", nil, 12.0, nil, "", "wrong_type"},
		{"textarea newlines", "textarea", "", nil, "\n 第一行\r\n  第二行\r\n\n", "第一行\n  第二行", "", ""},
		{"textarea 5000", "textarea", "", nil, strings.Repeat("a", 5000), strings.Repeat("a", 5000), "", ""},
		{"textarea 5001", "textarea", "", nil, strings.Repeat("a", 5001), nil, "", "too_long"},
		{"textarea bool", "textarea", "", nil, true, nil, "", "wrong_type"},

		{"number float", "number", "", nil, 12.5, 12.5, "", ""},
		{"number json.Number", "number", "", nil, json.Number("12.50"), 12.5, "", ""},
		{"number string", "number", "", nil, " 12.50 ", 12.5, "", ""},
		{"number thousands", "number", "", nil, "1,234.5", 1234.5, "", ""},
		{"number millions", "number", "", nil, "-1,234,567", -1234567.0, "", ""},
		{"number full width", "number", "", nil, "１２．５", 12.5, "", ""},
		{"number exponent", "number", "", nil, "1.5e3", 1500.0, "", ""},
		{"number int", "number", "", nil, 3, 3.0, "", ""},
		{"number int64", "number", "", nil, int64(-7), -7.0, "", ""},
		{"number uint8", "number", "", nil, uint8(200), 200.0, "", ""},
		{"number float32", "number", "", nil, float32(0.1), 0.1, "", ""},
		{"number minus zero", "number", "", nil, "-0", 0.0, "", ""},
		{"number empty string", "number", "", nil, "", nil, "", ""},
		{"number precision 0", "number", `{"precision":0}`, nil, 3.0, 3.0, "", ""},
		{"number precision 8", "number", `{"precision":8}`, nil, "0.12345678", 0.12345678, "", ""},
		{"number too precise", "number", "", nil, 12.345, nil, "", "too_precise"},
		{"number too precise string", "number", "", nil, "0.125", nil, "", "too_precise"},
		{"number too precise 0", "number", `{"precision":0}`, nil, "3.5", nil, "", "too_precise"},
		{"number float noise", "number", "", nil, 0.30000000000000004 /* 0.1 + 0.2 at run time */, nil, "", "too_precise"},
		{"number bad groups", "number", "", nil, "12,34", nil, "", "invalid_number"},
		{"number words", "number", "", nil, "twelve", nil, "", "invalid_number"},
		{"number NaN string", "number", "", nil, "NaN", nil, "", "invalid_number"},
		{"number Inf string", "number", "", nil, "Inf", nil, "", "invalid_number"},
		{"number hex", "number", "", nil, "0x10", nil, "", "invalid_number"},
		{"number overflow", "number", "", nil, "1e999", nil, "", "invalid_number"},
		{"number NaN", "number", "", nil, math.NaN(), nil, "", "invalid_number"},
		{"number Inf", "number", "", nil, math.Inf(-1), nil, "", "invalid_number"},
		{"number bool", "number", "", nil, true, nil, "", "wrong_type"},

		{"money string", "money", "", nil, "1,234.50", 1234.5, "", ""},
		{"money 3 decimals", "money", "", nil, 0.125, nil, "", "too_precise"},
		{"money precision 4", "money", `{"precision":4,"currency":"USD"}`, nil, 0.125, 0.125, "", ""},
		{"money list", "money", "", nil, []any{1.0}, nil, "", "wrong_type"},

		{"date", "date", "", nil, "2026-03-01", "2026-03-01", "", ""},
		{"date slashes", "date", "", nil, "2026/3/1", "2026-03-01", "", ""},
		{"date short parts", "date", "", nil, "2026-3-1", "2026-03-01", "", ""},
		{"date chinese", "date", "", nil, "2026年3月1日", "2026-03-01", "", ""},
		{"date from UTC timestamp", "date", "", nil, "2026-02-28T16:30:00Z", "2026-03-01", "", ""},
		{"date from local timestamp", "date", "", nil, "2026-03-01T23:59:59+08:00", "2026-03-01", "", ""},
		{"date from time.Time", "date", "", nil, time.Date(2026, 2, 28, 17, 0, 0, 0, time.UTC), "2026-03-01", "", ""},
		{"date blank", "date", "", nil, " ", nil, "", ""},
		{"date Feb 30", "date", "", nil, "2026-02-30", nil, "", "invalid_date"},
		{"date Feb 29 non-leap", "date", "", nil, "2026-02-29", nil, "", "invalid_date"},
		{"date month 13", "date", "", nil, "2026-13-01", nil, "", "invalid_date"},
		{"date day first", "date", "", nil, "01/03/2026", nil, "", "invalid_date"},
		{"date number", "date", "", nil, 20260301.0, nil, "", "wrong_type"},

		{"datetime RFC 3339", "datetime", "", nil, "2026-03-01T08:30:00+08:00", utc("2026-03-01T00:30:00Z"), "", ""},
		{"datetime local", "datetime", "", nil, "2026-03-01 08:30", utc("2026-03-01T00:30:00Z"), "", ""},
		{"datetime local seconds", "datetime", "", nil, "2026-03-01 08:30:15", utc("2026-03-01T00:30:15Z"), "", ""},
		{"datetime datetime-local input", "datetime", "", nil, "2026-03-01T08:30", utc("2026-03-01T00:30:00Z"), "", ""},
		{"datetime slashes", "datetime", "", nil, "2026/3/1 8:05", utc("2026-03-01T00:05:00Z"), "", ""},
		{"datetime milliseconds", "datetime", "", nil, "2026-03-01T00:30:00.123456789Z", utc("2026-03-01T00:30:00.123Z"), "", ""},
		{"datetime time.Time", "datetime", "", nil, time.Date(2026, 3, 1, 8, 30, 0, 0, shanghai), utc("2026-03-01T00:30:00Z"), "", ""},
		{"datetime Feb 30", "datetime", "", nil, "2026-02-30 08:00", nil, "", "invalid_datetime"},
		{"datetime date only", "datetime", "", nil, "2026-03-01", nil, "", "invalid_datetime"},
		{"datetime time only", "datetime", "", nil, "08:30", nil, "", "invalid_datetime"},
		{"datetime number", "datetime", "", nil, 1772325000.0, nil, "", "wrong_type"},

		{"time", "time", "", nil, "08:30", "08:30", "", ""},
		{"time one-digit hour", "time", "", nil, "8:30", "08:30", "", ""},
		{"time zero seconds", "time", "", nil, "08:30:00", "08:30", "", ""},
		{"time full-width colon", "time", "", nil, "23：59", "23:59", "", ""},
		{"time seconds refused", "time", "", nil, "08:30:15", nil, "", "invalid_time"},
		{"time with seconds", "time", `{"seconds":true}`, nil, "08:30:15", "08:30:15", "", ""},
		{"time seconds added", "time", `{"seconds":true}`, nil, "8:30", "08:30:00", "", ""},
		{"time 24:00", "time", "", nil, "24:00", nil, "", "invalid_time"},
		{"time minute 60", "time", "", nil, "12:60", nil, "", "invalid_time"},
		{"time one-digit minute", "time", "", nil, "8:5", nil, "", "invalid_time"},
		{"time PM", "time", "", nil, "8:30 PM", nil, "", "invalid_time"},
		{"time from time.Time", "time", "", nil, time.Date(2026, 3, 1, 0, 30, 15, 0, time.UTC), "08:30", "", ""},
		{"time number", "time", "", nil, 830.0, nil, "", "wrong_type"},

		{"select value", "select", faInspection, nil, "pass", "pass", "", ""},
		{"select spaces", "select", faInspection, nil, " fail ", "fail", "", ""},
		{"select zh label", "select", faInspection, nil, "待检", "hold", "", ""},
		{"select en label", "select", faInspection, nil, "Passed", "pass", "", ""},
		{"select empty", "select", faInspection, nil, "", nil, "", ""},
		{"select unknown", "select", faInspection, nil, "maybe", nil, "", "not_allowed"},
		{"select number", "select", faInspection, nil, 1.0, nil, "", "wrong_type"},
		{"radio value", "radio", faInspection, nil, "fail", "fail", "", ""},
		{"radio unknown", "radio", faInspection, nil, "PASS", nil, "", "not_allowed"},

		{"multiselect list", "multiselect", faAllergens + "}", nil, []any{"milk", "peanut"}, []string{"peanut", "milk"}, "", ""},
		{"multiselect strings", "multiselect", faAllergens + "}", nil, []string{"soy"}, []string{"soy"}, "", ""},
		{"multiselect labels in a cell", "multiselect", faAllergens + "}", nil, "乳，花生、", []string{"peanut", "milk"}, "", ""},
		{"multiselect one in a cell", "multiselect", faAllergens + "}", nil, "Peanut", []string{"peanut"}, "", ""},
		{"multiselect empty", "multiselect", faAllergens + "}", nil, []any{}, nil, "", ""},
		{"multiselect duplicate", "multiselect", faAllergens + "}", nil, []any{"peanut", "花生"}, nil, "1", "duplicate_value"},
		{"multiselect not string", "multiselect", faAllergens + "}", nil, []any{"peanut", 3.0}, nil, "1", "wrong_type"},
		{"multiselect unknown", "multiselect", faAllergens + "}", nil, []any{"egg"}, nil, "0", "not_allowed"},
		{"multiselect unknown in a cell", "multiselect", faAllergens + "}", nil, "花生,蛋", nil, "1", "not_allowed"},
		{"multiselect object", "multiselect", faAllergens + "}", nil, map[string]any{}, nil, "", "wrong_type"},
		{"multiselect too few", "multiselect", faAllergens + `,"minSelected":2}`, nil, []any{"soy"}, nil, "", "too_few"},
		{"multiselect enough", "multiselect", faAllergens + `,"minSelected":2}`, nil, []any{"soy", "milk"}, []string{"soy", "milk"}, "", ""},
		{"multiselect too many", "multiselect", faAllergens + `,"maxSelected":1}`, nil, []any{"soy", "milk"}, nil, "", "too_many"},
		{"checkbox list", "checkbox", faAllergens + "}", nil, []any{"soy", "milk"}, []string{"soy", "milk"}, "", ""},
		{"checkbox unknown", "checkbox", faAllergens + "}", nil, []any{"soy", "gluten"}, nil, "1", "not_allowed"},

		{"switch true", "switch", "", nil, true, true, "", ""},
		{"switch false", "switch", "", nil, false, false, "", ""},
		{"switch string true", "switch", "", nil, "true", true, "", ""},
		{"switch string FALSE", "switch", "", nil, " FALSE ", false, "", ""},
		{"switch 是", "switch", "", nil, "是", true, "", ""},
		{"switch 否", "switch", "", nil, "否", false, "", ""},
		{"switch 1", "switch", "", nil, "1", true, "", ""},
		{"switch 0", "switch", "", nil, "0", false, "", ""},
		{"switch number 1", "switch", "", nil, 1.0, true, "", ""},
		{"switch empty", "switch", "", nil, "", nil, "", ""},
		{"switch own label", "switch", `{"onLabel":{"zh-CN":"合格","en":"Pass"},"offLabel":{"zh-CN":"不合格"}}`, nil, "不合格", false, "", ""},
		{"switch own en label", "switch", `{"onLabel":{"zh-CN":"合格","en":"Pass"}}`, nil, "pass", true, "", ""},
		{"switch maybe", "switch", "", nil, "maybe", nil, "", "invalid_bool"},
		{"switch number 2", "switch", "", nil, 2.0, nil, "", "invalid_bool"},
		{"switch list", "switch", "", nil, []any{true}, nil, "", "wrong_type"},

		{"location", "location", "", nil, map[string]any{"lat": 31.2304, "lng": 121.4737, "address": " 上海市浦东新区 "},
			map[string]any{"lat": 31.2304, "lng": 121.4737, "address": "上海市浦东新区"}, "", ""},
		{"location no address", "location", `{"coordinateSystem":"gcj02"}`, nil, map[string]any{"lat": json.Number("-33.86"), "lng": "151.21"},
			map[string]any{"lat": -33.86, "lng": 151.21, "address": ""}, "", ""},
		{"location edges", "location", "", nil, map[string]any{"lat": -90.0, "lng": 180.0}, map[string]any{"lat": -90.0, "lng": 180.0, "address": ""}, "", ""},
		{"location string", "location", "", nil, "31.23，121.47", map[string]any{"lat": 31.23, "lng": 121.47, "address": ""}, "", ""},
		{"location empty", "location", "", nil, map[string]any{}, nil, "", ""},
		{"location lat 91", "location", "", nil, map[string]any{"lat": 91.0, "lng": 0.0}, nil, "lat", "too_big"},
		{"location lng -181", "location", "", nil, map[string]any{"lat": 0.0, "lng": -181.0}, nil, "lng", "too_small"},
		{"location no lat", "location", "", nil, map[string]any{"lng": 1.0, "address": "某地"}, nil, "lat", "required"},
		{"location bad lat", "location", "", nil, map[string]any{"lat": "north", "lng": 2.0}, nil, "lat", "invalid_number"},
		{"location lat bool", "location", "", nil, map[string]any{"lat": true, "lng": 2.0}, nil, "lat", "wrong_type"},
		{"location extra key", "location", "", nil, map[string]any{"lat": 1.0, "lng": 2.0, "alt": 3.0}, nil, "alt", "unknown_field"},
		{"location long address", "location", "", nil, map[string]any{"lat": 1.0, "lng": 2.0, "address": strings.Repeat("路", 501)}, nil, "address", "too_long"},
		{"location address number", "location", "", nil, map[string]any{"lat": 1.0, "lng": 2.0, "address": 5.0}, nil, "address", "wrong_type"},
		{"location bad string", "location", "", nil, "上海", nil, "", "invalid_format"},
		{"location number", "location", "", nil, 31.2, nil, "", "wrong_type"},

		{"richtext kept", "richtext", "", nil, `<p><strong>注意</strong>：<a href="https://example.com/sop">SOP</a></p>`,
			`<p><strong>注意</strong>：<a href="https://example.com/sop" rel="nofollow">SOP</a></p>`, "", ""},
		{"richtext empty editor", "richtext", "", nil, "<p><br></p>", nil, "", ""},
		{"richtext only script", "richtext", "", nil, "<script>alert(1)</script>", nil, "", ""},
		{"richtext image only", "richtext", "", nil, `<img src="https://example.com/a.png" alt="">`, `<img src="https://example.com/a.png" alt="">`, "", ""},
		{"richtext max after sanitising", "richtext", `{"maxLength":12}`, nil, `<p onclick="steal()">hello</p>`, "<p>hello</p>", "", ""},
		{"richtext too long", "richtext", `{"maxLength":12}`, nil, "<p>hello world</p>", nil, "", "too_long"},
		{"richtext number", "richtext", "", nil, 1.0, nil, "", "wrong_type"},
	}
	for _, tt := range tests {
		t.Run(tt.typ+"/"+tt.name, func(t *testing.T) {
			f := faField(tt.typ, tt.options, tt.keywords)
			if err := faCompile(t, f); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			got, err := faType(t, tt.typ).Prepare(faValueContext(t), f, tt.in)
			if tt.code != "" {
				faHasError(t, err, tt.path, tt.code)
				if got != nil {
					t.Errorf("Prepare returned %#v with its error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Prepare(%#v): %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Prepare(%#v) = %#v, want %#v", tt.in, got, tt.want)
			}
			if got != nil {
				faValidate(t, f, got)
			}
		})
	}
}

// TestFieldASchemaRejects checks that each schema refuses what Prepare refuses, for the API
// and for values written without Prepare (imports of stored JSON, migrations).
func TestFieldASchemaRejects(t *testing.T) {
	tests := []struct {
		typ, options string
		value        string // JSON
	}{
		{"text", "", `"` + strings.Repeat("x", 201) + `"`},
		{"text", "", `12`},
		{"number", "", `"12"`},
		{"number", `{"precision":0}`, `3.5`},
		{"money", "", `true`},
		{"date", "", `"2026-02-30"`},
		{"date", "", `"2026-03-01T08:00:00Z"`},
		{"datetime", "", `"2026-03-01 08:00"`},
		{"time", "", `"8:30"`},
		{"time", `{"seconds":true}`, `"08:30"`},
		{"select", faInspection, `"maybe"`},
		{"radio", faInspection, `"合格"`},
		{"multiselect", faAllergens + "}", `["soy","soy"]`},
		{"multiselect", faAllergens + "}", `["egg"]`},
		{"checkbox", faAllergens + `,"maxSelected":1}`, `["soy","milk"]`},
		{"switch", "", `"是"`},
		{"location", "", `{"lat":91,"lng":0,"address":""}`},
		{"location", "", `{"lat":1}`},
		{"location", "", `{"lat":1,"lng":2,"alt":3}`},
		{"richtext", `{"maxLength":5}`, `"<p>hello</p>"`},
	}
	for _, tt := range tests {
		t.Run(tt.typ+" "+tt.value, func(t *testing.T) {
			f := faField(tt.typ, tt.options, nil)
			if err := faCompile(t, f); err != nil {
				t.Fatalf("Compile: %v", err)
			}
			schema, err := engine.CompileSchemaValue("field.json", faType(t, tt.typ).Schema(f))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.ValidateJSON([]byte(tt.value), engine.PathDotted); err == nil {
				t.Errorf("schema %v accepts %s", faType(t, tt.typ).Schema(f), tt.value)
			}
		})
	}
}

func TestFieldASchemaIsFresh(t *testing.T) {
	f := faField("select", faInspection, nil)
	if err := faCompile(t, f); err != nil {
		t.Fatal(err)
	}
	s := selectField{}.Schema(f)
	s["enum"].([]any)[0] = "changed" // what merging keywords or a careless caller might do
	s["maxLength"] = 1
	again := selectField{}.Schema(f)
	if again["enum"].([]any)[0] != "pass" || again["maxLength"] != nil {
		t.Fatalf("Schema shares its maps between calls: %v", again)
	}
}

func TestFieldAExprType(t *testing.T) {
	tests := map[string]string{
		"text":        "string",
		"textarea":    "string",
		"select":      "string",
		"radio":       "string",
		"richtext":    "string",
		"number":      "number",
		"money":       "number",
		"date":        "string",
		"datetime":    "time",
		"time":        "string",
		"multiselect": "list<string>",
		"checkbox":    "list<string>",
		"switch":      "bool",
		"location":    `object{"address": string, "lat": number, "lng": number}`,
	}
	for typ, want := range tests {
		if got := faType(t, typ).ExprType(faField(typ, "", nil)).String(); got != want {
			t.Errorf("%s: ExprType = %s, want %s", typ, got, want)
		}
	}
}

func TestFieldARichTextSanitises(t *testing.T) {
	f := faField("richtext", "", nil)
	if err := faCompile(t, f); err != nil {
		t.Fatal(err)
	}
	in := `<p onclick="x()">hi<script>alert(1)</script><a href="javascript:alert(1)">l</a></p>`
	got, err := richtextField{}.Prepare(faValueContext(t), f, in)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := got.(string)
	for _, bad := range []string{"<script", "alert", "onclick", "javascript:"} {
		if strings.Contains(s, bad) {
			t.Errorf("sanitised HTML %q still has %q", s, bad)
		}
	}
	if want := "<p>hil</p>"; s != want {
		t.Errorf("sanitised HTML = %q, want %q", s, want)
	}
	faValidate(t, f, got)
}

// TestFieldANotCompiled checks that Prepare on a field Compile never saw is an error, not a
// panic.
func TestFieldANotCompiled(t *testing.T) {
	for _, typ := range []string{"text", "number", "money", "time", "select", "multiselect", "switch", "richtext"} {
		if _, err := faType(t, typ).Prepare(faValueContext(t), faField(typ, "", nil), "x"); err == nil {
			t.Errorf("%s: Prepare before Compile succeeded", typ)
		} else if _, ok := engine.AsFieldErrors(err); ok {
			t.Errorf("%s: Prepare before Compile is a field error: %v", typ, err)
		}
	}
}

// TestFieldAMessages checks that the codes the basic field types add read in both languages.
func TestFieldAMessages(t *testing.T) {
	for _, code := range []string{"too_precise", "invalid_number", "invalid_date", "invalid_datetime",
		"invalid_time", "invalid_bool", "not_applicable", "duplicate_value"} {
		for _, lang := range []string{engine.LangZH, engine.LangEN} {
			if msg := engine.Message(lang, code, map[string]any{"value": "v", "precision": 2, "type": "text"}); msg == code || faPlaceholder.MatchString(msg) {
				t.Errorf("%s in %s: %q", code, lang, msg)
			}
		}
	}
}
