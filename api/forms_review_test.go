package api_test

import (
	"context"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/forms"
)

// marginDef has a hidden cost, a formula over it, and a scan field that maps AI 10 into a
// read-only lot.
const marginDef = `{
  "key": "sale",
  "name": {"zh-CN": "销售"},
  "schema": {"type": "object", "properties": {
    "price":  {"x-type": "number", "x-label": {"zh-CN": "价格"}},
    "cost":   {"x-type": "number", "x-label": {"zh-CN": "成本"}},
    "margin": {"x-type": "formula", "x-label": {"zh-CN": "毛利"}, "x-options": {"expr": "price - cost"}},
    "code":   {"x-type": "scan", "x-label": {"zh-CN": "扫码"}, "x-options": {"map": {"10": "lot"}}},
    "lot":    {"x-type": "text", "x-label": {"zh-CN": "批次"}}
  }},
  "permissions": {
    "reader": {"actions": ["read", "update"], "scope": "all", "hidden": ["cost"], "readOnly": ["lot"]},
    "owner":  {"actions": ["create", "read", "update"], "scope": "own"}
  }
}`

// TestHiddenFieldsStayHidden covers the ways a hidden value could leak: a formula over it, a
// second role with a narrower scope, and guessing it through the answer to a write.
func TestHiddenFieldsStayHidden(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, marginDef)
	path := recordsPath(plantApp, "sale")
	rec := create(t, f.admin, path, forms.Values{"price": 10, "cost": 7})
	reader := f.user(t, "reader1", "reader")

	var got forms.Record
	reader.Do("GET", path+"/"+rec.ID, nil, 200, &got)
	if _, ok := got.Data["cost"]; ok {
		t.Fatalf("reader sees cost: %v", got.Data)
	}
	if _, ok := got.Data["margin"]; ok {
		t.Fatalf("reader sees margin = price - cost, which gives cost away: %v", got.Data)
	}
	// A write naming cost gets the same answer whatever value it guesses.
	var answers []string
	for _, guess := range []float64{6, 7} {
		res := reader.Do("PATCH", path+"/"+rec.ID, map[string]any{"rev": rec.Rev, "data": map[string]any{"cost": guess, "zzz": 1}}, 400, nil)
		answers = append(answers, string(res.Body))
	}
	if answers[0] != answers[1] {
		t.Fatalf("answers differ by guess: %s vs %s", answers[0], answers[1])
	}

	// A user who is also "owner" (scope own) sees cost on their own records only.
	ctx := context.Background()
	if _, err := f.s.Kernel.Auth.PutRole(ctx, engine.SystemPrincipal(), engine.Role{Name: "owner", Label: engine.Text{ZH: "owner"},
		Grants: []engine.Grant{{App: plantApp, Actions: []string{"app.read"}}}}); err != nil {
		t.Fatal(err)
	}
	u, err := f.s.Kernel.Auth.GetUser(ctx, "reader1")
	if err != nil {
		t.Fatal(err)
	}
	roles := []string{"reader", "owner"}
	if _, err := f.s.Kernel.Auth.UpdateUser(ctx, engine.SystemPrincipal(), "reader1", engine.UserPatch{Roles: &roles}, u.Rev); err != nil {
		t.Fatal(err)
	}
	both := f.s.Login(t, "reader1", "passw0rd-reader1")
	mine := create(t, both, path, forms.Values{"price": 5, "cost": 2})
	both.Do("GET", path+"/"+mine.ID, nil, 200, &got)
	if got.Data["cost"] != float64(2) {
		t.Fatalf("owner does not see cost on their own record: %v", got.Data)
	}
	var theirs forms.Record
	both.Do("GET", path+"/"+rec.ID, nil, 200, &theirs)
	if _, ok := theirs.Data["cost"]; ok {
		t.Fatalf("owner+reader sees cost on the admin's record: %v", theirs.Data)
	}
	res := list(both, path)
	for _, it := range res.Items {
		if _, ok := it.Data["cost"]; ok && it.ID != mine.ID {
			t.Fatalf("list shows cost on someone else's record: %v", it.Data)
		}
	}

	// A scan cannot fill a field the user may not write.
	var scanned forms.Record
	reader.Do("PATCH", path+"/"+rec.ID, map[string]any{"rev": rec.Rev, "data": map[string]any{"code": "(01)09501101530003(10)FAKE"}}, 200, &scanned)
	if lot, ok := scanned.Data["lot"]; ok && strings.Contains(lot.(string), "FAKE") {
		t.Fatalf("scan wrote the read-only lot: %v", scanned.Data)
	}
}
