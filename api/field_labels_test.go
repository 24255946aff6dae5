package api_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

// labelForm has a required field and a sub-table whose column is required.
const labelForm = `{
  "key": "check",
  "name": {"zh-CN": "质检单", "en": "QA check"},
  "schema": {
    "type": "object",
    "properties": {
      "qa_sign": {"x-type": "text", "x-label": {"zh-CN": "质检签名", "en": "QA signature"}},
      "items":   {"x-type": "subtable", "x-label": {"zh-CN": "明细", "en": "Items"}, "items": {"type": "object", "properties": {
                   "qty": {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Qty"}}}, "required": ["qty"]}}
    },
    "required": ["qa_sign"]
  }
}`

const labelBase = "/api/v1/apps/qa/forms/check/records"

func startLabels(t *testing.T) *apitest.Client {
	t.Helper()
	s := apitest.Start(t)
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "qa", "name": map[string]string{"zh-CN": "质量"}}, 201, nil)
	if res := admin.Raw("POST", "/api/v1/apps/qa/forms", "application/json", []byte(labelForm)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/qa/forms/check/publish", nil, 201, nil)
	return admin
}

func issues(fields []api.FieldIssue) []string {
	var out []string
	for _, f := range fields {
		out = append(out, f.Field+"|"+f.Code+"|"+f.Label+"|"+f.Message)
	}
	return out
}

// TestFieldErrorsNameTheLabelOverHTTP: a refused record names each bad field by its label in
// the caller's language — the JSON keeps the path in field, adds label, and message (the
// field's and the answer's) reads "质检签名：必填" / "QA signature is required"; a sub-table's
// cell is "明细 第 3 行 · 数量". Errors that have no label (an app without a name) read as
// before.
func TestFieldErrorsNameTheLabelOverHTTP(t *testing.T) {
	admin := startLabels(t)
	for _, tc := range []struct {
		lang    string
		body    map[string]any
		fields  []string
		message string
	}{
		{"zh-CN", map[string]any{}, []string{"qa_sign|required|质检签名|质检签名：必填"}, "质检签名：必填"},
		{"en", map[string]any{}, []string{"qa_sign|required|QA signature|QA signature is required"}, "QA signature is required"},
		{"zh-CN", map[string]any{"qa_sign": "王", "items": []any{map[string]any{"qty": 1}, map[string]any{"qty": 2}, map[string]any{}}},
			[]string{"items.2.qty|required|明细 第 3 行 · 数量|明细 第 3 行 · 数量：必填"}, "明细 第 3 行 · 数量：必填"},
		{"en", map[string]any{"items": []any{map[string]any{}}},
			[]string{"items.0.qty|required|Items row 1 · Qty|Items row 1 · Qty is required", "qa_sign|required|QA signature|QA signature is required"},
			"Items row 1 · Qty is required; QA signature is required"},
	} {
		admin.Header.Set("Accept-Language", tc.lang)
		e := admin.Do("POST", labelBase, map[string]any{"data": tc.body}, 400, nil).Error(t)
		if got := issues(e.Fields); e.Code != "invalid" || !reflect.DeepEqual(got, tc.fields) || e.Message != tc.message {
			t.Errorf("%s %v: %s %q %q, want %q %q", tc.lang, tc.body, e.Code, got, e.Message, tc.fields, tc.message)
		}
	}
	// The label is a field of the JSON, next to the path.
	admin.Header.Set("Accept-Language", "zh-CN")
	res := admin.Raw("POST", labelBase, "application/json", []byte(`{"data":{}}`))
	if !strings.Contains(string(res.Body), `"field":"qa_sign","code":"required","label":"质检签名","message":"质检签名：必填"`) {
		t.Errorf("body %s", res.Body)
	}
	// No label: as before.
	e := admin.Do("POST", "/api/v1/apps", map[string]any{"key": "nameless"}, 400, nil).Error(t)
	if got := issues(e.Fields); !reflect.DeepEqual(got, []string{"name|required||必填"}) || e.Message != "输入有误: name 必填" {
		t.Errorf("unlabelled: %q %q", got, e.Message)
	}
}

// TestImportErrorsNameTheLabelOverHTTP: an import's row errors carry their field's label in
// the caller's language.
func TestImportErrorsNameTheLabelOverHTTP(t *testing.T) {
	admin := startLabels(t)
	file := []byte("质检签名,明细\n,\"[{\"\"qty\"\":1},{}]\"\n")
	for lang, want := range map[string][]string{
		"zh-CN": {"2|qa_sign|质检签名", "2|items.1.qty|明细 第 2 行 · 数量"},
		"en":    {"2|qa_sign|QA signature", "2|items.1.qty|Items row 2 · Qty"},
	} {
		admin.Header.Set("Accept-Language", lang)
		res := admin.Raw("POST", labelBase+"/import?format=csv&dryRun=1", "text/csv", file)
		var rep struct {
			Errors []struct {
				Row          int
				Field, Label string
			}
		}
		if err := json.Unmarshal(res.Body, &rep); err != nil || res.Status != 200 {
			t.Fatalf("%s: %d %s", lang, res.Status, res.Body)
		}
		var got []string
		for _, ie := range rep.Errors {
			got = append(got, fmt.Sprintf("%d|%s|%s", ie.Row, ie.Field, ie.Label))
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: import errors %q, want %q", lang, got, want)
		}
	}
}
