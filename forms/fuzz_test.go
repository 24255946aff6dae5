package forms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
)

// Fuzz targets of issue 7: form definitions, record payloads and list queries. Whatever the
// bytes, the engine answers with a result or with field errors (a 400 naming the field), never a
// panic and never an internal error (which the API would answer with a 500). `go test` runs the
// seeds and the committed corpus under testdata/fuzz; `make fuzz` explores for a bounded time.

// fuzzEnv is a form engine on a fresh store with app fz and the published form "mix", which
// has a field of most kinds, a sub-table with a row formula and a role with a hidden field.
type fuzzEnv struct {
	ctx   context.Context
	s     *Service
	admin *engine.Principal
	clerk *engine.Principal
}

const fuzzMixDef = `{
  "key": "mix",
  "name": {"zh-CN": "混合", "en": "Mix"},
  "schema": {"type": "object", "required": ["name"], "properties": {
    "no":     {"x-type": "autonumber", "x-label": {"zh-CN": "编号"}, "x-options": {"pattern": "M{seq:4}"}},
    "name":   {"x-type": "text", "x-label": {"zh-CN": "名称"}, "maxLength": 40},
    "note":   {"x-type": "textarea", "x-label": {"zh-CN": "备注"}},
    "qty":    {"x-type": "number", "x-label": {"zh-CN": "数量"}, "minimum": 0, "x-options": {"precision": 2}},
    "price":  {"x-type": "money", "x-label": {"zh-CN": "单价"}},
    "cost":   {"x-type": "number", "x-label": {"zh-CN": "成本"}},
    "grade":  {"x-type": "select", "x-label": {"zh-CN": "等级"}, "x-options": {"options": [
                {"value": "a", "label": {"zh-CN": "甲"}}, {"value": "b", "label": {"zh-CN": "乙"}}]}},
    "tags":   {"x-type": "multiselect", "x-label": {"zh-CN": "标签"}, "x-options": {"options": [
                {"value": "x", "label": {"zh-CN": "X"}}, {"value": "y", "label": {"zh-CN": "Y"}}]}},
    "day":    {"x-type": "date", "x-label": {"zh-CN": "日期"}},
    "at":     {"x-type": "datetime", "x-label": {"zh-CN": "时间"}},
    "ok":     {"x-type": "switch", "x-label": {"zh-CN": "合格"}},
    "place":  {"x-type": "location", "x-label": {"zh-CN": "位置"}},
    "code":   {"x-type": "scan", "x-label": {"zh-CN": "条码"}, "x-options": {"map": {"10": "name"}}},
    "total":  {"x-type": "formula", "x-label": {"zh-CN": "金额"}, "x-options": {"expr": "(qty ?? 0) * (price ?? 0)"}},
    "lines":  {"x-type": "subtable", "x-label": {"zh-CN": "明细"}, "x-options": {"maxRows": 20}, "items": {
      "type": "object", "properties": {
        "item":   {"x-type": "text", "x-label": {"zh-CN": "品名"}},
        "n":      {"x-type": "number", "x-label": {"zh-CN": "数"}},
        "amount": {"x-type": "formula", "x-label": {"zh-CN": "小计"}, "x-options": {"expr": "(n ?? 0) * (parent.price ?? 0)"}}}}}
  }},
  "permissions": {"clerk": {"actions": ["create", "read", "update"], "scope": "own", "hidden": ["cost"]}}
}`

func newFuzzEnv(t testing.TB) *fuzzEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	enginetest.Start(t, k)
	e := &fuzzEnv{ctx: ctx, s: s, admin: engine.SystemPrincipal(),
		clerk: &engine.Principal{Username: "carl", Roles: []string{"clerk"}}}
	if _, err := s.CreateApp(ctx, e.admin, AppInput{Key: "fz", Name: engine.Text{ZH: "模糊"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(ctx, e.admin, "fz", []byte(fuzzMixDef), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, e.admin, "fz", "mix"); err != nil {
		t.Fatal(err)
	}
	return e
}

// fuzzAnswer fails t unless err is nil or an error the API answers with 4xx.
func fuzzAnswer(t *testing.T, what string, input []byte, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var fe engine.FieldErrors
	switch {
	case errors.As(err, &fe):
		for _, f := range fe {
			if f.Code == "" {
				t.Fatalf("%s: a field error without a code: %v\ninput: %q", what, err, input)
			}
		}
	case errors.Is(err, engine.ErrNotFound), errors.Is(err, engine.ErrForbidden), engine.IsConflict(err):
	default:
		t.Fatalf("%s: an internal error (a 500): %v\ninput: %q", what, err, input)
	}
}

// goldenInputs are the definitions of testdata/golden, as seeds.
func goldenInputs(t testing.TB) [][]byte {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", "*.golden"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	var out [][]byte
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		def, _, _ := bytes.Cut(raw, []byte("\n----------\n"))
		out = append(out, def)
	}
	return out
}

func FuzzFormDefinition(f *testing.F) {
	for _, in := range goldenInputs(f) {
		f.Add(in)
	}
	f.Add([]byte(fuzzMixDef))
	f.Add([]byte(`{"key":"a","name":{"zh-CN":"a"},"schema":{"type":"object","properties":{"x":{"x-type":"formula","x-label":{"zh-CN":"x"},"x-options":{"expr":"x"}}}}}`))
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := Compile(e.ctx, e.s.compileEnv(), "fz", raw)
		fuzzAnswer(t, "compile", raw, err)
	})
}

func FuzzRecordPayload(f *testing.F) {
	for _, seed := range []string{
		`{"name": "面粉", "qty": 12.5, "price": "3.20", "grade": "a", "tags": ["x"], "day": "2026-11-25",
		  "at": "2026-11-25T08:00:00+08:00", "ok": true, "place": {"lat": 31.2, "lng": 121.4},
		  "code": "]C1010950110153000310ABC123\u001d17261231", "lines": [{"item": "袋", "n": 4}]}`,
		`{"name": "x", "qty": 1e400}`,
		`{"name": "x", "qty": -1, "grade": "z", "tags": "x", "day": "2026-02-30", "lines": [{"n": "many"}]}`,
		`{"name": "\u0000", "note": "` + strings.Repeat("长", 300) + `"}`,
		`{"name": "x", "cost": 5, "total": 1, "no": "M9999"}`,
		`{"name": "x", "place": {"lat": 91, "lng": 0}, "lines": [` + strings.Repeat(`{"item": "a"},`, 25) + `{}]}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, raw []byte, asClerk bool) {
		var data Values
		if err := json.Unmarshal(raw, &data); err != nil || data == nil {
			return // the API refuses what is not a JSON object before the engine sees it
		}
		p := e.admin
		if asClerk {
			p = e.clerk
		}
		r, err := e.s.Create(e.ctx, p, "fz", "mix", data)
		fuzzAnswer(t, "create", raw, err)
		if err == nil && asClerk {
			if _, ok := r.Data["cost"]; ok {
				t.Fatalf("the hidden field is in the clerk's answer: %v", r.Data)
			}
		}
	})
}

func FuzzListQuery(f *testing.F) {
	for _, seed := range []string{
		`{"filters": [{"field": "qty", "op": "gt", "value": 3}], "sort": {"field": "day", "desc": true}, "limit": 5}`,
		`{"filters": [{"field": "name", "op": "contains", "value": "面"}, {"field": "grade", "op": "in", "value": ["a", "b"]}]}`,
		`{"filters": [{"field": "day", "op": "between", "value": ["2026-01-01", "2026-12-31"]}]}`,
		`{"filters": [{"field": "cost", "op": "gt", "value": 0}]}`,
		`{"filters": [{"field": "qty", "op": "eq", "value": {"$gt": 1}}], "cursor": "e30"}`,
		`{"fields": ["name", "cost", "lines"], "limit": 100000}`,
	} {
		f.Add([]byte(seed), false)
		f.Add([]byte(seed), true)
	}
	e := newFuzzEnv(f)
	for i := range 3 {
		if _, err := e.s.Create(e.ctx, e.admin, "fz", "mix", Values{"name": "面粉" + string(rune('A'+i)), "qty": i, "cost": 7, "day": "2026-11-2" + string(rune('1'+i))}); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte, asClerk bool) {
		var q ListQuery
		if err := json.Unmarshal(raw, &q); err != nil {
			return
		}
		p := e.admin
		if asClerk {
			p = e.clerk
		}
		res, err := e.s.List(e.ctx, p, "fz", "mix", q)
		fuzzAnswer(t, "list", raw, err)
		if err == nil && asClerk {
			for _, r := range res.Items {
				if _, ok := r.Data["cost"]; ok {
					t.Fatalf("the hidden field is in the clerk's list: %v", r.Data)
				}
			}
		}
	})
}
