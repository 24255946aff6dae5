package forms

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
)

// labelCheck is the form of the label tests: a field of each kind of error, a sub-table, a
// field hidden from the clerk who fills it, and a transition with a condition.
const labelCheck = `{
  "key": "check",
  "name": {"zh-CN": "质检单", "en": "QA check"},
  "schema": {
    "type": "object",
    "properties": {
      "qa_sign": {"x-type": "text", "x-label": {"zh-CN": "质检签名", "en": "QA signature"}, "maxLength": 5},
      "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
      "div":     {"x-type": "number", "x-label": {"zh-CN": "份数", "en": "Portions"}},
      "ratio":   {"x-type": "formula", "x-label": {"zh-CN": "每份", "en": "Per portion"}, "x-options": {"expr": "(qty ?? 0) / (div ?? 1)"}},
      "result":  {"x-type": "select", "x-label": {"zh-CN": "结果", "en": "Result"}, "x-options": {"options": [{"value": "pass", "label": {"zh-CN": "合格"}}]}},
      "code":    {"x-type": "scan", "x-label": {"zh-CN": "追溯码", "en": "Trace code"}, "x-options": {"requireGS1": true}},
      "place":   {"x-type": "location", "x-label": {"zh-CN": "地点", "en": "Place"}},
      "note":    {"x-type": "text", "x-label": {"zh-CN": "备注"}},
      "cost":    {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
      "items":   {"x-type": "subtable", "x-label": {"zh-CN": "明细", "en": "Items"}, "items": {"type": "object", "properties": {
                   "qty": {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Qty"}}}, "required": ["qty"]}}
    },
    "required": ["qa_sign"]
  },
  "status": {"initial": "open",
    "states": [{"key": "open", "label": {"zh-CN": "待检"}}, {"key": "done", "label": {"zh-CN": "已检"}}],
    "transitions": [{"key": "finish", "label": {"zh-CN": "完成检验", "en": "Finish"}, "from": ["open"], "to": "done", "when": "(qty ?? 0) > 10"}]},
  "permissions": {
    "clerk": {"actions": ["read", "create", "update"], "hidden": ["cost"]}
  }
}`

func newLabelEnv(t *testing.T) (*Service, context.Context, *engine.Principal) {
	t.Helper()
	s, ctx := newPublishedForm(t, labelCheck, "check")
	return s, ctx, &engine.Principal{Username: "carl", Roles: []string{"clerk"}}
}

// newPublishedForm starts a form engine with app qa and the form def (key form) published.
func newPublishedForm(t *testing.T, def, form string) (*Service, context.Context) {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	enginetest.Start(t, k)
	admin := engine.SystemPrincipal()
	if _, err := s.CreateApp(ctx, admin, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(ctx, admin, "qa", []byte(def), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, admin, "qa", form); err != nil {
		t.Fatal(err)
	}
	return s, ctx
}

// sentences renders err's field errors as "path|label|sentence" in lang.
func sentences(t *testing.T, err error, lang string) []string {
	t.Helper()
	fe, ok := engine.AsFieldErrors(err)
	if !ok {
		t.Fatalf("want field errors, got %v", err)
	}
	var out []string
	for _, e := range fe {
		out = append(out, e.Path+"|"+e.Label.In(lang)+"|"+e.Sentence(lang))
	}
	return out
}

// TestFieldErrorsNameTheLabel: a record's field errors carry the label of their field in both
// languages — required, too long, wrong type, an option not offered, a code that is not GS1, a
// formula that fails, a part of a value, a sub-table's cell — and their sentences name the
// field by it ("质检签名：必填", "QA signature is required"); a field hidden from the writer
// reads as unknown, with no label, as does a field the form does not have; a label in Chinese
// only names the field in English too; the error codes are those of before.
func TestFieldErrorsNameTheLabel(t *testing.T) {
	s, ctx, clerk := newLabelEnv(t)
	_, err := s.Create(ctx, clerk, "qa", "check", Values{
		"qty": 5, "div": 0, "result": "maybe", "code": "hello", "place": map[string]any{"lat": 95, "lng": 1},
		"cost": 3, "nope": 1, "note": strings.Repeat("x", 3),
		"items": []any{map[string]any{"qty": 1}, map[string]any{"qty": 2}, map[string]any{}},
	})
	zh := sentences(t, err, engine.LangZH)
	en := sentences(t, err, engine.LangEN)
	wantZH := []string{
		"code|追溯码|追溯码：须扫描 GS1 条码",
		"cost||未知字段",
		"nope||未知字段",
		"result|结果|结果：不允许的值：maybe",
		"items.2.qty|明细 第 3 行 · 数量|明细 第 3 行 · 数量：必填",
		"place.lat|地点 · lat|地点 · lat：不能大于 90",
		"qa_sign|质检签名|质检签名：必填",
		"ratio|每份|每份：表达式错误：the result is not a finite number",
	}
	wantEN := []string{
		"code|Trace code|Trace code must be a GS1 code",
		"cost||is not a known field",
		"nope||is not a known field",
		"result|Result|Result: value not allowed: maybe",
		"items.2.qty|Items row 3 · Qty|Items row 3 · Qty is required",
		"place.lat|Place · lat|Place · lat must be at most 90",
		"qa_sign|QA signature|QA signature is required",
		"ratio|Per portion|Per portion: expression error: the result is not a finite number",
	}
	if !sameSet(zh, wantZH) || !sameSet(en, wantEN) {
		t.Fatalf("field errors\n got %q\n     %q\nwant %q\n     %q", zh, en, wantZH, wantEN)
	}

	// Too long and the wrong type.
	_, err = s.Create(ctx, clerk, "qa", "check", Values{"qa_sign": "王小明的签名", "qty": "many", "note": 7})
	got := sentences(t, err, engine.LangEN)
	want := []string{
		"qa_sign|QA signature|QA signature must be at most 5 characters",
		"qty|Quantity|Quantity is not a valid number: many",
		"note|备注|备注 has the wrong type; want string",
	}
	if !sameSet(got, want) {
		t.Fatalf("field errors\n got %q\nwant %q", got, want)
	}
	codes := map[string]string{}
	fe, _ := engine.AsFieldErrors(err)
	for _, e := range fe {
		codes[e.Path] = e.Code
	}
	if !reflect.DeepEqual(codes, map[string]string{"qa_sign": "too_long", "qty": "invalid_number", "note": "wrong_type"}) {
		t.Fatalf("codes changed: %v", codes)
	}

	// A transition's condition names the transition.
	rec, err := s.Create(ctx, clerk, "qa", "check", Values{"qa_sign": "王", "qty": 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Transition(ctx, clerk, "qa", "check", rec.ID, rec.Rev, "finish")
	if got := sentences(t, err, engine.LangZH); !reflect.DeepEqual(got, []string{"transition|完成检验|完成检验：不满足条件：(qty ?? 0) > 10"}) {
		t.Fatalf("transition: %q", got)
	}
	// An update's errors are labelled too.
	_, err = s.Update(ctx, clerk, "qa", "check", rec.ID, rec.Rev, Values{"qa_sign": nil})
	if got := sentences(t, err, engine.LangEN); !reflect.DeepEqual(got, []string{"qa_sign|QA signature|QA signature is required"}) {
		t.Fatalf("update: %q", got)
	}
}

// TestImportErrorsNameTheLabel: an import's row errors carry the label of their field in the
// import's language: a cell that cannot be read, a field the save refuses, a sub-table's cell.
func TestImportErrorsNameTheLabel(t *testing.T) {
	s, ctx, clerk := newLabelEnv(t)
	file := "质检签名,数量,明细\n" +
		"王,abc,\n" +
		",1,\"[{\"\"qty\"\":1},{}]\"\n"
	for _, tc := range []struct {
		lang string
		want []string
	}{
		{engine.LangZH, []string{"2|数量|qty|数量", "3|质检签名|qa_sign|质检签名", "3|明细|items.1.qty|明细 第 2 行 · 数量"}},
		{engine.LangEN, []string{"2|数量|qty|Quantity", "3|质检签名|qa_sign|QA signature", "3|明细|items.1.qty|Items row 2 · Qty"}},
	} {
		rep, err := s.Import(ctx, clerk, "qa", "check", FormatCSV, strings.NewReader(file), true, tc.lang)
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, ie := range rep.Errors {
			got = append(got, fmt.Sprintf("%d|%s|%s|%s", ie.Row, ie.Column, ie.Field, ie.Label))
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: import errors\n got %q\nwant %q", tc.lang, got, tc.want)
		}
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, x := range a {
		seen[x]++
	}
	for _, x := range b {
		if seen[x] == 0 {
			return false
		}
		seen[x]--
	}
	return true
}
