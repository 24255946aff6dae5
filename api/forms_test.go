package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"maps"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"unicode"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/engine"
	"tracecraft/forms"
)

// These tests speak HTTP to a real server over a fresh embedded store: apps and forms, form
// versions, records (create, update, delete, restore, history, transitions), concurrency, lists,
// the permission matrix of form roles, and files.

const plantApp = "plant"

// receiptDef is a goods-receipt form: an auto-number, text, numbers, a choice, a date, a status
// model with a transition only QA may take, and the permissions of the roles the matrix tests.
const receiptDef = `{
  "key": "receipt",
  "name": {"zh-CN": "原料验收", "en": "Goods receipt"},
  "titleField": "lot_no",
  "schema": {
    "type": "object",
    "properties": {
      "lot_no":      {"x-type": "autonumber", "x-label": {"zh-CN": "批号", "en": "Lot"}, "x-options": {"pattern": "RM{seq:4}"}},
      "supplier":    {"x-type": "text", "x-label": {"zh-CN": "供应商", "en": "Supplier"}, "maxLength": 40},
      "weight":      {"x-type": "number", "x-label": {"zh-CN": "重量", "en": "Weight"}, "minimum": 0, "x-options": {"unit": "kg"}},
      "cost":        {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
      "grade":       {"x-type": "select", "x-label": {"zh-CN": "等级", "en": "Grade"}, "x-options": {"options": [
                        {"value": "a", "label": {"zh-CN": "甲", "en": "A"}},
                        {"value": "b", "label": {"zh-CN": "乙", "en": "B"}},
                        {"value": "c", "label": {"zh-CN": "丙", "en": "C"}}]}},
      "received_on": {"x-type": "date", "x-label": {"zh-CN": "到货日期", "en": "Received on"}},
      "note":        {"x-type": "text", "x-label": {"zh-CN": "备注", "en": "Note"}}
    },
    "required": ["supplier", "weight"]
  },
  "status": {
    "initial": "draft",
    "states": [
      {"key": "draft", "label": {"zh-CN": "草稿"}},
      {"key": "submitted", "label": {"zh-CN": "已提交"}},
      {"key": "approved", "label": {"zh-CN": "已批准"}, "color": "green"}
    ],
    "transitions": [
      {"key": "submit", "label": {"zh-CN": "提交"}, "from": ["draft"], "to": "submitted"},
      {"key": "approve", "label": {"zh-CN": "批准"}, "from": ["submitted"], "to": "approved", "roles": ["qa"]}
    ]
  },
  "permissions": {
    "reader":  {"actions": ["read", "export"], "scope": "all", "hidden": ["cost"]},
    "clerk":   {"actions": ["create", "read", "update"], "scope": "own", "readOnly": ["grade"]},
    "qa":      {"actions": ["read", "update"]}
  }
}`

// fixture is a running server with an app, signed in as the admin.
type fixture struct {
	s     *apitest.Server
	admin *apitest.Client
	roles map[string]bool
}

func newFixture(t *testing.T, apps ...string) *fixture {
	t.Helper()
	s := apitest.Start(t)
	f := &fixture{s: s, admin: s.Admin(t), roles: map[string]bool{}}
	for _, app := range append([]string{plantApp}, apps...) {
		f.admin.Do("POST", "/api/v1/apps", forms.AppInput{Key: app, Name: engine.Text{ZH: "工厂 " + app}}, 201, nil)
	}
	return f
}

// publishForm creates a form in app from its definition and publishes it as version 1.
func (f *fixture) publishForm(t *testing.T, app, def string) forms.Version {
	t.Helper()
	f.admin.Do("POST", "/api/v1/apps/"+app+"/forms", json.RawMessage(def), 201, nil)
	var key struct {
		Key string `json:"key"`
	}
	if err := json.Unmarshal([]byte(def), &key); err != nil {
		t.Fatal(err)
	}
	var v forms.Version
	f.admin.Do("POST", "/api/v1/apps/"+app+"/forms/"+key.Key+"/publish", nil, 201, &v)
	return v
}

// user creates a role with the app grant every form role needs to see the app, a user holding
// it, and signs the user in.
func (f *fixture) user(t *testing.T, username, role string) *apitest.Client {
	t.Helper()
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	auth := f.s.Kernel.Auth
	if !f.roles[role] {
		if _, err := auth.PutRole(ctx, sys, engine.Role{Name: role, Label: engine.Text{ZH: role, EN: role},
			Grants: []engine.Grant{{App: plantApp, Actions: []string{"app.read"}}}}); err != nil {
			t.Fatalf("put role %s: %v", role, err)
		}
		f.roles[role] = true
	}
	pw := "passw0rd-" + username
	if _, err := auth.CreateUser(ctx, sys, engine.UserInput{Username: username, DisplayName: username, Roles: []string{role}, Password: pw}); err != nil {
		t.Fatalf("create user %s: %v", username, err)
	}
	return f.s.Login(t, username, pw)
}

// as gives c's session to a client that reports to t (a subtest must not fail its parent).
func (f *fixture) as(t *testing.T, c *apitest.Client) *apitest.Client {
	nc := f.s.Client(t)
	nc.Token = c.Token
	for k, v := range c.Header {
		nc.Header[k] = v
	}
	return nc
}

func recordsPath(app, form string) string {
	return "/api/v1/apps/" + app + "/forms/" + form + "/records"
}

var receipts = recordsPath(plantApp, "receipt")

func create(t *testing.T, c *apitest.Client, path string, data forms.Values) forms.Record {
	t.Helper()
	var r forms.Record
	c.Do("POST", path, api.RecordInput{Data: data}, 201, &r)
	return r
}

// wantFields checks an error answer names exactly these field/code pairs.
func wantFields(t *testing.T, res apitest.Response, want ...string) api.ErrorInfo {
	t.Helper()
	e := res.Error(t)
	var got []string
	for _, f := range e.Fields {
		got = append(got, f.Field+" "+f.Code)
	}
	sort.Strings(got)
	sort.Strings(want)
	if !slices.Equal(got, want) {
		t.Fatalf("error fields %q, want %q: %s", got, want, res.Body)
	}
	return e
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

// scenario is one HTTP call and what it must answer, in the manner of PocketBase's API tests.
type scenario struct {
	name   string
	client *apitest.Client // the admin when nil
	method string
	url    string
	body   any
	status int
	// fields are the "field code" pairs an error must name (exactly); contains are strings the
	// body must hold, absent strings it must not.
	fields   []string
	contains []string
	absent   []string
}

func (sc scenario) run(t *testing.T, f *fixture) apitest.Response {
	t.Helper()
	c := sc.client
	if c == nil {
		c = f.admin
	}
	c = f.as(t, c)
	var raw []byte
	ct := ""
	switch b := sc.body.(type) {
	case nil:
	case string:
		raw, ct = []byte(b), "application/json"
	default:
		var err error
		if raw, err = json.Marshal(b); err != nil {
			t.Fatal(err)
		}
		ct = "application/json"
	}
	res := c.Raw(sc.method, sc.url, ct, raw)
	if res.Status != sc.status {
		t.Fatalf("%s %s: status %d, want %d: %s", sc.method, sc.url, res.Status, sc.status, res.Body)
	}
	if sc.fields != nil {
		wantFields(t, res, sc.fields...)
	}
	for _, s := range sc.contains {
		if !bytes.Contains(res.Body, []byte(s)) {
			t.Errorf("body does not contain %q: %s", s, res.Body)
		}
	}
	for _, s := range sc.absent {
		if bytes.Contains(res.Body, []byte(s)) {
			t.Errorf("body contains %q: %s", s, res.Body)
		}
	}
	return res
}

func runScenarios(t *testing.T, f *fixture, scs []scenario) {
	t.Helper()
	for _, sc := range scs {
		t.Run(sc.name, func(t *testing.T) { sc.run(t, f) })
	}
}

// withDef changes a definition: fn edits it as decoded JSON.
func withDef(t *testing.T, def string, fn func(d map[string]any)) string {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal([]byte(def), &d); err != nil {
		t.Fatal(err)
	}
	fn(d)
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func schemaOf(d map[string]any) (props map[string]any, setRequired func(...string)) {
	s := d["schema"].(map[string]any)
	return s["properties"].(map[string]any), func(keys ...string) {
		req, _ := s["required"].([]any)
		for _, k := range keys {
			req = append(req, k)
		}
		s["required"] = req
	}
}

func TestAppsAndForms(t *testing.T) {
	f := newFixture(t)
	badType := withDef(t, receiptDef, func(d map[string]any) {
		props, _ := schemaOf(d)
		props["weight"].(map[string]any)["x-type"] = "numbr"
	})
	badExpr := withDef(t, receiptDef, func(d map[string]any) {
		d["key"] = "bad_expr"
		st := d["status"].(map[string]any)
		st["transitions"].([]any)[0].(map[string]any)["when"] = "weight >"
	})
	badHidden := withDef(t, receiptDef, func(d map[string]any) {
		d["key"] = "bad_hidden"
		d["permissions"].(map[string]any)["reader"].(map[string]any)["hidden"] = []any{"price"}
	})
	badRequired := withDef(t, receiptDef, func(d map[string]any) {
		d["key"] = "bad_required"
		_, req := schemaOf(d)
		req("origin")
	})
	unknownKey := withDef(t, receiptDef, func(d map[string]any) {
		d["key"] = "unknown_key"
		d["colour"] = "red"
	})
	runScenarios(t, f, []scenario{
		{name: "create app", method: "POST", url: "/api/v1/apps", body: forms.AppInput{Key: "farm", Name: engine.Text{ZH: "农场"}}, status: 201, contains: []string{`"key":"farm"`, `"rev":1`}},
		{name: "duplicate app key", method: "POST", url: "/api/v1/apps", body: forms.AppInput{Key: "farm", Name: engine.Text{ZH: "农场"}}, status: 400, fields: []string{"key exists"}},
		{name: "bad app key", method: "POST", url: "/api/v1/apps", body: forms.AppInput{Key: "Farm 2", Name: engine.Text{ZH: "农场"}}, status: 400, fields: []string{"key invalid_name"}},
		{name: "app without name", method: "POST", url: "/api/v1/apps", body: forms.AppInput{Key: "farm2"}, status: 400, fields: []string{"name required"}},
		{name: "list apps", method: "GET", url: "/api/v1/apps", status: 200, contains: []string{`"key":"farm"`, `"key":"plant"`}},
		{name: "get app", method: "GET", url: "/api/v1/apps/farm", status: 200, contains: []string{`"key":"farm"`}},
		{name: "missing app", method: "GET", url: "/api/v1/apps/nope", status: 404},
		{name: "unknown field type", method: "POST", url: "/api/v1/apps/plant/forms", body: badType, status: 400, fields: []string{"/schema/properties/weight/x-type unknown_field_type"}},
		{name: "bad transition condition", method: "POST", url: "/api/v1/apps/plant/forms", body: badExpr, status: 400, fields: []string{"/status/transitions/0/when expr"}},
		{name: "hidden field that does not exist", method: "POST", url: "/api/v1/apps/plant/forms", body: badHidden, status: 400, fields: []string{"/permissions/reader/hidden/0 not_found"}},
		{name: "required field that does not exist", method: "POST", url: "/api/v1/apps/plant/forms", body: badRequired, status: 400, fields: []string{"/schema/required not_found"}},
		{name: "unknown definition key", method: "POST", url: "/api/v1/apps/plant/forms", body: unknownKey, status: 400, fields: []string{"/colour unknown_field"}},
		{name: "form in a missing app", method: "POST", url: "/api/v1/apps/nope/forms", body: receiptDef, status: 404},
		{name: "create form", method: "POST", url: "/api/v1/apps/plant/forms", body: receiptDef, status: 201, contains: []string{`"key":"receipt"`, `"published":0`, `"rev":1`}},
		{name: "create form twice", method: "POST", url: "/api/v1/apps/plant/forms", body: receiptDef, status: 409},
		{name: "records before publishing", method: "POST", url: receipts, body: api.RecordInput{Data: forms.Values{"supplier": "x", "weight": 1}}, status: 409},
		{name: "list forms", method: "GET", url: "/api/v1/apps/plant/forms", status: 200, contains: []string{`"key":"receipt"`}},
		{name: "save draft without rev", method: "PUT", url: "/api/v1/apps/plant/forms/receipt", body: receiptDef, status: 400, fields: []string{"rev required"}},
		{name: "save draft under another key", method: "PUT", url: "/api/v1/apps/plant/forms/other?rev=1", body: receiptDef, status: 400, fields: []string{"/key not_allowed"}},
		{name: "save draft", method: "PUT", url: "/api/v1/apps/plant/forms/receipt?rev=1", body: receiptDef, status: 200, contains: []string{`"rev":2`}},
		{name: "save draft with a stale rev", method: "PUT", url: "/api/v1/apps/plant/forms/receipt?rev=1", body: receiptDef, status: 409, contains: []string{`"code":"conflict"`}},
		{name: "save a bad draft", method: "PUT", url: "/api/v1/apps/plant/forms/receipt?rev=2", body: badType, status: 400, fields: []string{"/schema/properties/weight/x-type unknown_field_type"}},
		{name: "no versions yet", method: "GET", url: "/api/v1/apps/plant/forms/receipt/versions", status: 200, contains: []string{`[]`}},
		{name: "publish", method: "POST", url: "/api/v1/apps/plant/forms/receipt/publish", status: 201, contains: []string{`"version":1`, `"id":"plant/receipt@1"`}},
		{name: "form shows its version", method: "GET", url: "/api/v1/apps/plant/forms/receipt", status: 200, contains: []string{`"published":1`}},
	})
}

// TestFormsVersions: a second version adds a required field; records of version 1 keep their
// version, still read and update under it, and version 1 is never changed in place.
func TestFormsVersions(t *testing.T) {
	f := newFixture(t)
	v1 := f.publishForm(t, plantApp, receiptDef)
	if v1.Number != 1 {
		t.Fatalf("first publish: version %d", v1.Number)
	}
	old := create(t, f.admin, receipts, forms.Values{"supplier": "Acme", "weight": 10})

	var form forms.Form
	f.admin.Do("GET", "/api/v1/apps/plant/forms/receipt", nil, 200, &form)
	v2def := withDef(t, receiptDef, func(d map[string]any) {
		props, req := schemaOf(d)
		props["origin"] = map[string]any{"x-type": "text", "x-label": map[string]any{"zh-CN": "产地"}}
		req("origin")
	})
	f.admin.Do("PUT", fmt.Sprintf("/api/v1/apps/plant/forms/receipt?rev=%d", form.Rev), json.RawMessage(v2def), 200, nil)
	var v2 forms.Version
	f.admin.Do("POST", "/api/v1/apps/plant/forms/receipt/publish", nil, 201, &v2)
	if v2.Number != 2 {
		t.Fatalf("second publish: version %d", v2.Number)
	}

	// The old record reads fine and stays on version 1, even through an update.
	var got, updated forms.Record
	f.admin.Do("GET", receipts+"/"+old.ID, nil, 200, &got)
	if got.Version != 1 || got.Data["supplier"] != "Acme" {
		t.Fatalf("old record after v2: %+v", got)
	}
	f.admin.Do("PATCH", receipts+"/"+old.ID, api.RecordInput{Rev: got.Rev, Data: forms.Values{"note": "checked"}}, 200, &updated)
	if updated.Version != 1 || updated.Rev != 2 || updated.Data["note"] != "checked" {
		t.Fatalf("old record updated: %+v, want version 1 rev 2", updated)
	}
	// New records follow version 2 and its new required field.
	res := f.admin.Do("POST", receipts, api.RecordInput{Data: forms.Values{"supplier": "Acme", "weight": 10}}, 400, nil)
	wantFields(t, res, "origin required")
	rec := create(t, f.admin, receipts, forms.Values{"supplier": "Acme", "weight": 10, "origin": "云南"})
	if rec.Version != 2 {
		t.Fatalf("new record: version %d, want 2", rec.Version)
	}

	all := list(f.admin, receipts)
	if len(all.Items) != 2 || all.Items[0].Version != 2 || all.Items[1].Version != 1 || all.Items[1].Data["note"] != "checked" {
		t.Fatalf("list across versions: %+v", all.Items)
	}

	var vs []forms.Version
	f.admin.Do("GET", "/api/v1/apps/plant/forms/receipt/versions", nil, 200, &vs)
	if len(vs) != 2 || vs[0].Number != 1 || vs[1].Number != 2 {
		t.Fatalf("versions %+v", vs)
	}
	before, _ := json.Marshal(v1.Definition)
	after, _ := json.Marshal(vs[0].Definition)
	if string(before) != string(after) {
		t.Fatalf("version 1 changed in place:\nbefore %s\nafter  %s", before, after)
	}
	if _, ok := vs[0].Definition.Permissions["reader"]; !ok || strings.Contains(string(after), "origin") {
		t.Fatalf("version 1 definition: %s", after)
	}
	if !strings.Contains(string(vs[1].Definition.Schema), "origin") {
		t.Fatalf("version 2 lacks origin: %s", vs[1].Definition.Schema)
	}
}

func TestRecordsCreateGetUpdate(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	r1 := create(t, f.admin, receipts, forms.Values{"supplier": " Acme ", "weight": 12.5, "cost": 300, "grade": "a", "received_on": "2026-03-01"})
	if r1.Data["lot_no"] != "RM0001" || r1.Rev != 1 || r1.Version != 1 || r1.Status != "draft" || r1.CreatedBy != "admin" || r1.ID == "" {
		t.Fatalf("created %+v", r1)
	}
	if r1.Data["supplier"] != "Acme" || r1.Data["weight"] != 12.5 || r1.Data["received_on"] != "2026-03-01" {
		t.Fatalf("prepared data %v", r1.Data)
	}
	r2 := create(t, f.admin, receipts, forms.Values{"supplier": "Bolt", "weight": 1})
	if r2.Data["lot_no"] != "RM0002" {
		t.Fatalf("second number %v", r2.Data["lot_no"])
	}

	var got forms.Record
	f.admin.Do("GET", receipts+"/"+r1.ID, nil, 200, &got)
	if got.ID != r1.ID || got.Rev != 1 || got.Data["lot_no"] != "RM0001" || got.Data["grade"] != "a" {
		t.Fatalf("get %+v", got)
	}

	var up forms.Record
	// A client sending the auto-number back (changed) cannot change it.
	f.admin.Do("PATCH", receipts+"/"+r1.ID, api.RecordInput{Rev: 1, Data: forms.Values{"weight": 13, "lot_no": "RM9999"}}, 200, &up)
	if up.Rev != 2 || up.Data["weight"] != 13.0 || up.Data["supplier"] != "Acme" || up.Data["lot_no"] != "RM0001" {
		t.Fatalf("updated %+v", up)
	}
	var cleared forms.Record
	f.admin.Do("PATCH", receipts+"/"+r1.ID, api.RecordInput{Rev: 2, Data: forms.Values{"note": nil, "grade": nil}}, 200, &cleared)
	if _, has := cleared.Data["grade"]; has || cleared.Rev != 3 {
		t.Fatalf("null must clear a field: %+v", cleared)
	}

	runScenarios(t, f, []scenario{
		{name: "stale rev", method: "PATCH", url: receipts + "/" + r1.ID, body: api.RecordInput{Rev: 1, Data: forms.Values{"weight": 14}}, status: 409, contains: []string{`"code":"conflict"`}},
		{name: "no rev", method: "PATCH", url: receipts + "/" + r1.ID, body: api.RecordInput{Data: forms.Values{"weight": 14}}, status: 400, fields: []string{"rev required"}},
		{name: "no data", method: "POST", url: receipts, body: `{}`, status: 400, fields: []string{"data required"}},
		{name: "unknown body field", method: "POST", url: receipts, body: `{"data":{},"owner":"x"}`, status: 400, fields: []string{"owner unknown_field"}},
		{name: "missing record", method: "GET", url: receipts + "/0000000000000000000000000000", status: 404},
		{name: "missing form", method: "GET", url: recordsPath(plantApp, "nope"), status: 404},
		{name: "rejected update leaves the record", method: "GET", url: receipts + "/" + r1.ID, status: 200, contains: []string{`"rev":3`, `"weight":13`}},
	})
}

// TestRecordsValidation: every bad field is listed at once, with messages in zh-CN by default
// and in English when asked.
func TestRecordsValidation(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	bad := api.RecordInput{Data: forms.Values{
		// supplier (required) is missing
		"weight":      -1,           // below the minimum
		"cost":        "twelve",     // not a number
		"grade":       "z",          // not an option
		"received_on": "2026-02-30", // no such day
		"note":        strings.Repeat("长", 201),
		"colour":      "red", // no such field
	}}
	want := []string{"supplier required", "weight too_small", "cost invalid_number", "grade not_allowed", "received_on invalid_date", "note too_long", "colour unknown_field"}

	res := f.admin.Do("POST", receipts, bad, 400, nil)
	e := wantFields(t, res, want...)
	if e.Code != "invalid" || !hasHan(e.Message) {
		t.Errorf("zh-CN error %+v", e)
	}
	for _, fi := range e.Fields {
		if !hasHan(fi.Message) || strings.Contains(fi.Message, "{") {
			t.Errorf("%s: message %q is not a finished zh-CN message", fi.Field, fi.Message)
		}
	}

	en := f.s.Login(t, "admin", apitest.AdminPassword)
	en.Header.Set("Accept-Language", "en-US,en;q=0.9")
	res = en.Do("POST", receipts, bad, 400, nil)
	e = wantFields(t, res, want...)
	for _, fi := range e.Fields {
		if hasHan(fi.Message) || fi.Message == "" || strings.Contains(fi.Message, "{") || fi.Message == fi.Code {
			t.Errorf("%s: message %q is not a finished English message", fi.Field, fi.Message)
		}
	}
	if !strings.Contains(e.Message, "invalid input") {
		t.Errorf("English summary %q", e.Message)
	}

	// A failed create draws no number: the next good record is RM0001.
	r := create(t, f.admin, receipts, forms.Values{"supplier": "Acme", "weight": 0})
	if r.Data["lot_no"] != "RM0001" {
		t.Fatalf("number after failed creates: %v", r.Data["lot_no"])
	}
	// Updates are validated too, and a failed one changes nothing.
	res = f.admin.Do("PATCH", receipts+"/"+r.ID, api.RecordInput{Rev: 1, Data: forms.Values{"supplier": nil, "weight": "heavy"}}, 400, nil)
	wantFields(t, res, "supplier required", "weight invalid_number")
	var got forms.Record
	f.admin.Do("GET", receipts+"/"+r.ID, nil, 200, &got)
	if got.Rev != 1 || got.Data["supplier"] != "Acme" {
		t.Fatalf("after a failed update: %+v", got)
	}
}

func TestRecordsDeleteRestoreHistory(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	keep := create(t, f.admin, receipts, forms.Values{"supplier": "Keep", "weight": 1})
	r := create(t, f.admin, receipts, forms.Values{"supplier": "Acme", "weight": 12.5, "grade": "a"})
	rec := receipts + "/" + r.ID
	f.admin.Do("PATCH", rec, api.RecordInput{Rev: 1, Data: forms.Values{"weight": 13}}, 200, nil)
	f.admin.Do("PATCH", rec, api.RecordInput{Rev: 2, Data: forms.Values{"grade": "b", "note": "re-graded"}}, 200, nil)
	f.admin.Do("POST", rec+"/transitions", api.TransitionInput{Transition: "submit", Rev: 3}, 200, nil)

	listIDs := func(query string) []string {
		var l forms.ListResult
		f.admin.Do("GET", receipts+query, nil, 200, &l)
		var ids []string
		for _, it := range l.Items {
			ids = append(ids, it.ID)
		}
		if int(l.Total) != len(ids) {
			t.Errorf("list%s: total %d for %d items", query, l.Total, len(ids))
		}
		return ids
	}

	f.admin.Do("DELETE", rec, nil, 400, nil) // rev required
	f.admin.Do("DELETE", rec+"?rev=1", nil, 409, nil)
	var del forms.Record
	f.admin.Do("DELETE", rec+"?rev=4", nil, 200, &del)
	if del.Deleted == nil || del.Deleted.By != "admin" || del.Rev != 5 {
		t.Fatalf("deleted %+v", del)
	}
	f.admin.Do("GET", rec, nil, 404, nil)
	f.admin.Do("PATCH", rec, api.RecordInput{Rev: 5, Data: forms.Values{"weight": 1}}, 404, nil)
	if ids := listIDs(""); !slices.Equal(ids, []string{keep.ID}) {
		t.Fatalf("list after delete %v, want only %s", ids, keep.ID)
	}
	if ids := listIDs("?deleted=true"); !slices.Equal(ids, []string{r.ID}) {
		t.Fatalf("deleted list %v, want %s", ids, r.ID)
	}
	f.admin.Do("POST", rec+"/restore", api.RevInput{Rev: 4}, 409, nil)
	var back, reread forms.Record
	f.admin.Do("POST", rec+"/restore", api.RevInput{Rev: 5}, 200, &back)
	if back.Deleted != nil || back.Rev != 6 {
		t.Fatalf("restored %+v", back)
	}
	f.admin.Do("POST", rec+"/restore", api.RevInput{Rev: 6}, 409, nil) // not deleted
	f.admin.Do("GET", rec, nil, 200, &reread)
	if reread.Data["note"] != "re-graded" || reread.Status != "submitted" || reread.Deleted != nil || reread.Rev != 6 {
		t.Fatalf("restored record: %+v", reread)
	}
	if ids := listIDs(""); len(ids) != 2 {
		t.Fatalf("list after restore %v", ids)
	}
	if ids := listIDs("?deleted=true"); len(ids) != 0 {
		t.Fatalf("deleted list after restore %v", ids)
	}

	var page forms.HistoryPage
	f.admin.Do("GET", rec+"/history", nil, 200, &page)
	h := page.Items
	changes := func(e forms.HistoryEntry) string {
		var parts []string
		for _, c := range e.Changes {
			parts = append(parts, fmt.Sprintf("%s:%v→%v", c.Field, c.Before, c.After))
		}
		return strings.Join(parts, " ")
	}
	want := []struct {
		rev     int64
		changes string
		deleted bool
	}{
		{1, "grade:<nil>→a lot_no:<nil>→RM0002 supplier:<nil>→Acme weight:<nil>→12.5", false},
		{2, "weight:12.5→13", false},
		{3, "grade:a→b note:<nil>→re-graded", false},
		{4, "status:draft→submitted", false},
		{5, "", true},
		{6, "", false},
	}
	if len(h) != len(want) {
		t.Fatalf("history has %d entries, want %d: %+v", len(h), len(want), h)
	}
	for i, w := range want {
		if h[i].Rev != w.rev || changes(h[i]) != w.changes || h[i].Deleted != w.deleted || h[i].By != "admin" || h[i].At.IsZero() {
			t.Errorf("history[%d] = rev %d deleted %v by %q changes %q; want rev %d deleted %v changes %q",
				i, h[i].Rev, h[i].Deleted, h[i].By, changes(h[i]), w.rev, w.deleted, w.changes)
		}
	}
}

func TestRecordsTransitions(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	clerk := f.user(t, "carl", "clerk")
	qa := f.user(t, "quinn", "qa")
	r := create(t, clerk, receipts, forms.Values{"supplier": "Acme", "weight": 5})
	rec := receipts + "/" + r.ID

	var got forms.Record
	clerk.Do("POST", rec+"/transitions", api.TransitionInput{Transition: "submit", Rev: 1}, 200, &got)
	if got.Status != "submitted" || got.Rev != 2 {
		t.Fatalf("after submit %+v", got)
	}
	runScenarios(t, f, []scenario{
		{name: "illegal from the current status", client: clerk, method: "POST", url: rec + "/transitions", body: api.TransitionInput{Transition: "submit", Rev: 2}, status: 409, contains: []string{`"code":"conflict"`}},
		{name: "unknown transition", client: clerk, method: "POST", url: rec + "/transitions", body: api.TransitionInput{Transition: "ship", Rev: 2}, status: 400, fields: []string{"transition not_found"}},
		{name: "no transition", client: clerk, method: "POST", url: rec + "/transitions", body: api.TransitionInput{Rev: 2}, status: 400, fields: []string{"transition required"}},
		{name: "limited to qa", client: clerk, method: "POST", url: rec + "/transitions", body: api.TransitionInput{Transition: "approve", Rev: 2}, status: 403, contains: []string{`"code":"forbidden"`}},
		{name: "stale rev", client: qa, method: "POST", url: rec + "/transitions", body: api.TransitionInput{Transition: "approve", Rev: 1}, status: 409},
		{name: "qa approves", client: qa, method: "POST", url: rec + "/transitions", body: api.TransitionInput{Transition: "approve", Rev: 2}, status: 200, contains: []string{`"status":"approved"`, `"rev":3`}},
		{name: "nothing leaves approved", method: "POST", url: rec + "/transitions", body: api.TransitionInput{Transition: "approve", Rev: 3}, status: 409},
	})
}

// send is a request for goroutines: it reports instead of failing the test.
func send(s *apitest.Server, c *apitest.Client, method, path string, body any) (int, []byte, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+c.Token)
	res, err := c.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	var buf bytes.Buffer
	_, err = buf.ReadFrom(res.Body)
	return res.StatusCode, buf.Bytes(), err
}

// TestRecordsConcurrentCreate: 16 creates at once on a form with an auto-number all succeed
// with 16 distinct numbers, none skipped.
func TestRecordsConcurrentCreate(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	const n = 16
	type result struct {
		status int
		rec    forms.Record
		body   string
		err    error
	}
	results := make([]result, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st, body, err := send(f.s, f.admin, "POST", receipts, api.RecordInput{Data: forms.Values{"supplier": fmt.Sprint("S", i), "weight": i}})
			results[i] = result{status: st, body: string(body), err: err}
			if err == nil && st == 201 {
				results[i].err = json.Unmarshal(body, &results[i].rec)
			}
		}()
	}
	close(start)
	wg.Wait()
	numbers, ids := map[string]bool{}, map[string]bool{}
	for i, r := range results {
		if r.err != nil || r.status != 201 {
			t.Fatalf("create %d: status %d, err %v: %s", i, r.status, r.err, r.body)
		}
		numbers[fmt.Sprint(r.rec.Data["lot_no"])] = true
		ids[r.rec.ID] = true
	}
	for i := 1; i <= n; i++ {
		if !numbers[fmt.Sprintf("RM%04d", i)] {
			t.Errorf("number RM%04d not given; got %v", i, numbers)
		}
	}
	if len(numbers) != n || len(ids) != n {
		t.Fatalf("%d distinct numbers and %d ids for %d records", len(numbers), len(ids), n)
	}
	var l forms.ListResult
	f.admin.Do("GET", receipts, nil, 200, &l)
	if l.Total != n {
		t.Fatalf("listed %d records, want %d", l.Total, n)
	}
}

// TestRecordsConcurrentPatch: two updates from the same revision at once: exactly one wins.
func TestRecordsConcurrentPatch(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	r := create(t, f.admin, receipts, forms.Values{"supplier": "Acme", "weight": 1})
	rev := r.Rev
	for round := range 5 {
		statuses := make([]int, 2)
		bodies := make([]string, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		var wg sync.WaitGroup
		for i := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				st, body, err := send(f.s, f.admin, "PATCH", receipts+"/"+r.ID, api.RecordInput{Rev: rev, Data: forms.Values{"note": fmt.Sprintf("round %d writer %d", round, i)}})
				statuses[i], bodies[i], errs[i] = st, string(body), err
			}()
		}
		close(start)
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		sorted := slices.Sorted(slices.Values(statuses))
		if !slices.Equal(sorted, []int{200, 409}) {
			t.Fatalf("round %d: statuses %v, want one 200 and one 409: %q", round, statuses, bodies)
		}
		winner := 0
		if statuses[1] == 200 {
			winner = 1
		}
		var got forms.Record
		f.admin.Do("GET", receipts+"/"+r.ID, nil, 200, &got)
		if got.Rev != rev+1 || got.Data["note"] != fmt.Sprintf("round %d writer %d", round, winner) {
			t.Fatalf("round %d: record %+v after the race, want rev %d with the winner's note", round, got, rev+1)
		}
		rev = got.Rev
	}
}

// lotsDef is a form for list tests: text, number, date, choice and an optional note.
const lotsDef = `{
  "key": "lots",
  "name": {"zh-CN": "批次"},
  "schema": {
    "type": "object",
    "properties": {
      "name":    {"x-type": "text", "x-label": {"zh-CN": "名称"}},
      "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量"}},
      "made_on": {"x-type": "date", "x-label": {"zh-CN": "生产日期"}},
      "grade":   {"x-type": "select", "x-label": {"zh-CN": "等级"}, "x-options": {"options": [
                   {"value": "a", "label": {"zh-CN": "甲"}}, {"value": "b", "label": {"zh-CN": "乙"}}, {"value": "c", "label": {"zh-CN": "丙"}}]}},
      "note":    {"x-type": "text", "x-label": {"zh-CN": "备注"}}
    }
  }
}`

type lot struct {
	id, name, madeOn, grade, note string
	qty                           float64
}

var lotSeeds = []lot{
	{name: "Apple lot", qty: 5, madeOn: "2026-01-05", grade: "a"},
	{name: "Banana", qty: 12, madeOn: "2026-01-20", grade: "b", note: "ripe"},
	{name: "apple juice", qty: 7.5, madeOn: "2026-02-01", grade: "a"},
	{name: "Cherry", qty: 30, madeOn: "2026-02-14", grade: "c", note: "frozen"},
	{name: "Date palm", qty: 12, madeOn: "2026-03-01", grade: "b"},
	{name: "Elder", qty: 0, madeOn: "2026-03-15", grade: "c", note: "x"},
	{name: "Fig", qty: 18, madeOn: "2026-04-01", grade: "a"},
	{name: "Grape", qty: 2.25, madeOn: "2026-04-30", grade: "b", note: "sweet"},
	{name: "Honeydew", qty: 45, madeOn: "2026-05-10"},
	{name: "APPLE crate", qty: 12, madeOn: "2026-05-31", grade: "a", note: "box"},
}

var lotsPath = recordsPath(plantApp, "lots")

// seedLots creates the lots and returns them with their ids.
func seedLots(t *testing.T, f *fixture) []lot {
	t.Helper()
	f.publishForm(t, plantApp, lotsDef)
	out := slices.Clone(lotSeeds)
	for i, l := range out {
		data := forms.Values{"name": l.name, "qty": l.qty, "made_on": l.madeOn}
		if l.grade != "" {
			data["grade"] = l.grade
		}
		if l.note != "" {
			data["note"] = l.note
		}
		out[i].id = create(t, f.admin, lotsPath, data).ID
	}
	return out
}

func filterQuery(filters ...forms.Filter) string {
	b, _ := json.Marshal(filters)
	return "filter=" + url.QueryEscape(string(b))
}

// list reads one page into a fresh result (decoding into a used one would keep its old next).
func list(c *apitest.Client, path string) forms.ListResult {
	var l forms.ListResult
	c.Do("GET", path, nil, 200, &l)
	return l
}

func ids(items []*forms.Record) []string {
	out := make([]string, len(items))
	for i, it := range items {
		out[i] = it.ID
	}
	return out
}

func TestListsFilters(t *testing.T) {
	f := newFixture(t)
	lots := seedLots(t, f)
	type fl = forms.Filter
	cases := []struct {
		name    string
		filters []forms.Filter
		want    func(l lot) bool
	}{
		{"text eq", []fl{{Field: "name", Op: "eq", Value: "Fig"}}, func(l lot) bool { return l.name == "Fig" }},
		{"text ne", []fl{{Field: "name", Op: "ne", Value: "Fig"}}, func(l lot) bool { return l.name != "Fig" }},
		{"text contains, any case", []fl{{Field: "name", Op: "contains", Value: "apple"}}, func(l lot) bool { return strings.Contains(strings.ToLower(l.name), "apple") }},
		{"text contains regex characters", []fl{{Field: "name", Op: "contains", Value: "a.e"}}, func(l lot) bool { return strings.Contains(l.name, "a.e") }},
		{"text in", []fl{{Field: "name", Op: "in", Value: []any{"Fig", "Grape", "Kiwi"}}}, func(l lot) bool { return l.name == "Fig" || l.name == "Grape" }},
		{"text lt (binary order: capitals first)", []fl{{Field: "name", Op: "lt", Value: "C"}}, func(l lot) bool { return l.name < "C" }},
		{"text gte", []fl{{Field: "name", Op: "gte", Value: "Fig"}}, func(l lot) bool { return l.name >= "Fig" }},
		{"text empty", []fl{{Field: "note", Op: "empty"}}, func(l lot) bool { return l.note == "" }},
		{"text not empty", []fl{{Field: "note", Op: "notEmpty"}}, func(l lot) bool { return l.note != "" }},
		{"number eq", []fl{{Field: "qty", Op: "eq", Value: 12}}, func(l lot) bool { return l.qty == 12 }},
		{"number ne", []fl{{Field: "qty", Op: "ne", Value: 12}}, func(l lot) bool { return l.qty != 12 }},
		{"number gt", []fl{{Field: "qty", Op: "gt", Value: 12}}, func(l lot) bool { return l.qty > 12 }},
		{"number gte", []fl{{Field: "qty", Op: "gte", Value: 12}}, func(l lot) bool { return l.qty >= 12 }},
		{"number lt", []fl{{Field: "qty", Op: "lt", Value: 5}}, func(l lot) bool { return l.qty < 5 }},
		{"number lte", []fl{{Field: "qty", Op: "lte", Value: 5}}, func(l lot) bool { return l.qty <= 5 }},
		{"number between", []fl{{Field: "qty", Op: "between", Value: []any{5, 12}}}, func(l lot) bool { return l.qty >= 5 && l.qty <= 12 }},
		{"number not empty", []fl{{Field: "qty", Op: "notEmpty"}}, func(lot) bool { return true }},
		{"number in", []fl{{Field: "qty", Op: "in", Value: []any{0, 2.25, 99}}}, func(l lot) bool { return l.qty == 0 || l.qty == 2.25 }},
		{"date eq", []fl{{Field: "made_on", Op: "eq", Value: "2026-03-01"}}, func(l lot) bool { return l.madeOn == "2026-03-01" }},
		{"date gt", []fl{{Field: "made_on", Op: "gt", Value: "2026-04-01"}}, func(l lot) bool { return l.madeOn > "2026-04-01" }},
		{"date gte", []fl{{Field: "made_on", Op: "gte", Value: "2026-04-01"}}, func(l lot) bool { return l.madeOn >= "2026-04-01" }},
		{"date lt", []fl{{Field: "made_on", Op: "lt", Value: "2026-02-01"}}, func(l lot) bool { return l.madeOn < "2026-02-01" }},
		{"date lte", []fl{{Field: "made_on", Op: "lte", Value: "2026-02-01"}}, func(l lot) bool { return l.madeOn <= "2026-02-01" }},
		{"date between", []fl{{Field: "made_on", Op: "between", Value: []any{"2026-02-01", "2026-03-31"}}}, func(l lot) bool { return l.madeOn >= "2026-02-01" && l.madeOn <= "2026-03-31" }},
		{"date in", []fl{{Field: "made_on", Op: "in", Value: []any{"2026-01-05", "2026-05-31", "2026-12-31"}}}, func(l lot) bool { return l.madeOn == "2026-01-05" || l.madeOn == "2026-05-31" }},
		{"date empty", []fl{{Field: "made_on", Op: "empty"}}, func(lot) bool { return false }},
		{"date month", []fl{{Field: "made_on.month", Op: "eq", Value: "2026-02"}}, func(l lot) bool { return strings.HasPrefix(l.madeOn, "2026-02") }},
		{"select eq", []fl{{Field: "grade", Op: "eq", Value: "b"}}, func(l lot) bool { return l.grade == "b" }},
		{"select ne (records without a grade too)", []fl{{Field: "grade", Op: "ne", Value: "b"}}, func(l lot) bool { return l.grade != "b" }},
		{"select in", []fl{{Field: "grade", Op: "in", Value: []any{"a", "c"}}}, func(l lot) bool { return l.grade == "a" || l.grade == "c" }},
		{"select empty", []fl{{Field: "grade", Op: "empty"}}, func(l lot) bool { return l.grade == "" }},
		{"two conditions", []fl{{Field: "grade", Op: "eq", Value: "a"}, {Field: "qty", Op: "gt", Value: 6}}, func(l lot) bool { return l.grade == "a" && l.qty > 6 }},
		{"three conditions", []fl{{Field: "made_on", Op: "gte", Value: "2026-02-01"}, {Field: "qty", Op: "lte", Value: 18}, {Field: "note", Op: "empty"}},
			func(l lot) bool { return l.madeOn >= "2026-02-01" && l.qty <= 18 && l.note == "" }},
		{"system field", []fl{{Field: "createdBy", Op: "eq", Value: "admin"}}, func(lot) bool { return true }},
		{"nothing matches", []fl{{Field: "qty", Op: "gt", Value: 1000}}, func(lot) bool { return false }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var want []string
			for _, l := range lots {
				if tc.want(l) {
					want = append(want, l.id)
				}
			}
			// Default order: newest first.
			slices.Sort(want)
			slices.Reverse(want)
			admin := f.as(t, f.admin)
			var res forms.ListResult
			admin.Do("GET", lotsPath+"?"+filterQuery(tc.filters...), nil, 200, &res)
			if got := ids(res.Items); !slices.Equal(got, want) {
				t.Fatalf("ids %v, want %v", got, want)
			}
			if res.Total != int64(len(want)) || res.TotalEstimated {
				t.Fatalf("total %d (estimated %v), want %d", res.Total, res.TotalEstimated, len(want))
			}
			// The same query in a body.
			var byBody forms.ListResult
			admin.Do("POST", lotsPath+"/query", forms.ListQuery{Filters: tc.filters}, 200, &byBody)
			if got := ids(byBody.Items); !slices.Equal(got, want) {
				t.Fatalf("POST query: ids %v, want %v", got, want)
			}
		})
	}
}

func TestListsSortPagesProjection(t *testing.T) {
	f := newFixture(t)
	lots := seedLots(t, f)
	byQty := slices.Clone(lots)
	sort.Slice(byQty, func(i, j int) bool {
		if byQty[i].qty != byQty[j].qty {
			return byQty[i].qty < byQty[j].qty
		}
		return byQty[i].id < byQty[j].id
	})
	asc := make([]string, len(byQty))
	for i, l := range byQty {
		asc[i] = l.id
	}
	desc := slices.Clone(asc)
	slices.Reverse(desc)
	newest := make([]string, len(lots))
	for i, l := range lots {
		newest[i] = l.id
	}
	slices.Sort(newest)
	slices.Reverse(newest)

	res := list(f.admin, lotsPath+"?sort=qty")
	if got := ids(res.Items); !slices.Equal(got, asc) {
		t.Fatalf("sort=qty: %v, want %v", got, asc)
	}
	res = list(f.admin, lotsPath+"?sort=-qty")
	if got := ids(res.Items); !slices.Equal(got, desc) {
		t.Fatalf("sort=-qty: %v, want %v", got, desc)
	}
	for i := 1; i < len(res.Items); i++ {
		if res.Items[i-1].Data["qty"].(float64) < res.Items[i].Data["qty"].(float64) {
			t.Fatalf("sort=-qty out of order at %d", i)
		}
	}

	// walk reads every page of a query and checks each page's size and total.
	walk := func(t *testing.T, query string, limit int, total int) []string {
		t.Helper()
		var all []string
		cursor := ""
		for page := 0; ; page++ {
			if page > total {
				t.Fatalf("more pages than records")
			}
			q := fmt.Sprintf("%s&limit=%d", query, limit)
			if cursor != "" {
				q += "&cursor=" + url.QueryEscape(cursor)
			}
			var r forms.ListResult
			f.as(t, f.admin).Do("GET", lotsPath+"?"+q, nil, 200, &r)
			if r.Total != int64(total) {
				t.Fatalf("page %d: total %d, want %d", page, r.Total, total)
			}
			if len(r.Items) > limit || len(r.Items) < limit && r.Next != "" {
				t.Fatalf("page %d: %d items with next %q", page, len(r.Items), r.Next)
			}
			all = append(all, ids(r.Items)...)
			if r.Next == "" {
				return all
			}
			cursor = r.Next
		}
	}
	pagings := []struct {
		name, query string
		want        []string
	}{
		{"newest first", "x=1", newest},
		{"qty ascending (ties across pages)", "sort=qty", asc},
		{"qty descending", "sort=-qty", desc},
	}
	for _, p := range pagings {
		t.Run("pages/"+p.name, func(t *testing.T) {
			got := walk(t, p.query, 3, len(lots))
			if !slices.Equal(got, p.want) {
				t.Fatalf("walked %v, want %v", got, p.want)
			}
		})
	}
	t.Run("pages/filtered", func(t *testing.T) {
		var want []string
		for _, id := range asc {
			for _, l := range lots {
				if l.id == id && l.grade != "" && l.qty >= 2 {
					want = append(want, id)
				}
			}
		}
		q := "sort=qty&" + filterQuery(forms.Filter{Field: "grade", Op: "in", Value: []any{"a", "b", "c"}}, forms.Filter{Field: "qty", Op: "gte", Value: 2})
		got := walk(t, q, 2, len(want))
		if !slices.Equal(got, want) {
			t.Fatalf("walked %v, want %v", got, want)
		}
	})

	t.Run("projection", func(t *testing.T) {
		var r forms.ListResult
		f.as(t, f.admin).Do("GET", lotsPath+"?fields=name,qty&limit=50", nil, 200, &r)
		if len(r.Items) != len(lots) {
			t.Fatalf("%d items", len(r.Items))
		}
		for _, it := range r.Items {
			keys := slices.Sorted(maps.Keys(it.Data))
			if !slices.Equal(keys, []string{"name", "qty"}) {
				t.Fatalf("projected data %v", it.Data)
			}
			if it.ID == "" || it.Rev != 1 {
				t.Fatalf("projection dropped system values: %+v", it)
			}
		}
	})
}

func TestListsBadQueries(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, lotsDef)
	q := func(filters ...forms.Filter) string { return lotsPath + "?" + filterQuery(filters...) }
	type fl = forms.Filter
	runScenarios(t, f, []scenario{
		{name: "unknown field", method: "GET", url: q(fl{Field: "weight", Op: "eq", Value: 1}), status: 400, fields: []string{"filters.0.field not_found"}},
		{name: "bad op", method: "GET", url: q(fl{Field: "qty", Op: "like", Value: 1}), status: 400, fields: []string{"filters.0.op one_of"}},
		{name: "text for a number", method: "GET", url: q(fl{Field: "qty", Op: "gt", Value: "ten"}), status: 400, fields: []string{"filters.0.value wrong_type"}},
		{name: "number for a date", method: "GET", url: q(fl{Field: "made_on", Op: "gt", Value: []any{1}}), status: 400, fields: []string{"filters.0.value wrong_type"}},
		{name: "in without a list", method: "GET", url: q(fl{Field: "grade", Op: "in", Value: "a"}), status: 400, fields: []string{"filters.0.value wrong_type"}},
		{name: "between with one value", method: "GET", url: q(fl{Field: "qty", Op: "between", Value: []any{1}}), status: 400, fields: []string{"filters.0.value wrong_type"}},
		{name: "bad part of a date", method: "GET", url: q(fl{Field: "made_on.hour", Op: "eq", Value: "1"}), status: 400, fields: []string{"filters.0.field not_found"}},
		{name: "second filter bad", method: "GET", url: q(fl{Field: "qty", Op: "gt", Value: 1}, fl{Field: "nope", Op: "eq", Value: 1}), status: 400, fields: []string{"filters.1.field not_found"}},
		{name: "every bad filter at once", method: "GET", url: q(fl{Field: "nope", Op: "eq", Value: 1}, fl{Field: "qty", Op: "gt", Value: "x"}), status: 400, fields: []string{"filters.0.field not_found", "filters.1.value wrong_type"}},
		{name: "filter not JSON", method: "GET", url: lotsPath + "?filter=" + url.QueryEscape("[{"), status: 400, fields: []string{"filter invalid_json"}},
		{name: "unknown filter key", method: "GET", url: lotsPath + "?filter=" + url.QueryEscape(`[{"field":"qty","op":"eq","value":1,"x":1}]`), status: 400, fields: []string{"filter.0.x unknown_field"}},
		{name: "unknown sort field", method: "GET", url: lotsPath + "?sort=-weight", status: 400, fields: []string{"sort.field not_found"}},
		{name: "unknown projected field", method: "GET", url: lotsPath + "?fields=name,weight", status: 400, fields: []string{"fields.1 not_found"}},
		{name: "limit too big", method: "GET", url: lotsPath + "?limit=501", status: 400, fields: []string{"limit too_big"}},
		{name: "limit not a number", method: "GET", url: lotsPath + "?limit=many", status: 400, fields: []string{"limit wrong_type"}},
		{name: "bad cursor", method: "GET", url: lotsPath + "?cursor=not-a-cursor", status: 400, fields: []string{"cursor invalid_format"}},
	})
}

// TestPermMatrix: what each form role may see and do, over every route that shows records.
func TestPermMatrix(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	reader := f.user(t, "rita", "reader")
	clerk := f.user(t, "carl", "clerk")
	other := f.user(t, "cleo", "clerk")
	auditor := f.user(t, "audrey", "auditor")

	const secretCost = 987.65
	adminRec := create(t, f.admin, receipts, forms.Values{"supplier": "Acme", "weight": 10, "cost": secretCost, "grade": "a"})
	f.admin.Do("PATCH", receipts+"/"+adminRec.ID, api.RecordInput{Rev: 1, Data: forms.Values{"cost": secretCost + 1, "note": "re-priced"}}, 200, nil)
	own1 := create(t, clerk, receipts, forms.Values{"supplier": "Carl's", "weight": 3, "cost": secretCost})
	own2 := create(t, clerk, receipts, forms.Values{"supplier": "Carl's 2", "weight": 4})
	cleos := create(t, other, receipts, forms.Values{"supplier": "Cleo's", "weight": 5})
	if own1.CreatedBy != "carl" || own1.Data["cost"] != secretCost {
		t.Fatalf("clerk's own record %+v", own1)
	}
	adminPath := receipts + "/" + adminRec.ID
	costFree := []string{`"cost"`, "987.65", "988.65"}

	t.Run("auditor has no access", func(t *testing.T) {
		runScenarios(t, f, []scenario{
			{name: "list", client: auditor, method: "GET", url: receipts, status: 403, contains: []string{`"code":"forbidden"`}},
			{name: "query", client: auditor, method: "POST", url: receipts + "/query", body: forms.ListQuery{}, status: 403},
			{name: "get", client: auditor, method: "GET", url: adminPath, status: 403},
			{name: "history", client: auditor, method: "GET", url: adminPath + "/history", status: 403},
			{name: "create", client: auditor, method: "POST", url: receipts, body: api.RecordInput{Data: forms.Values{"supplier": "x", "weight": 1}}, status: 403},
			{name: "update", client: auditor, method: "PATCH", url: adminPath, body: api.RecordInput{Rev: 2, Data: forms.Values{"weight": 1}}, status: 403},
		})
	})

	t.Run("reader never sees cost", func(t *testing.T) {
		runScenarios(t, f, []scenario{
			{name: "list", client: reader, method: "GET", url: receipts, status: 200, contains: []string{adminRec.ID, own1.ID, cleos.ID, `"supplier"`}, absent: costFree},
			{name: "list projected", client: reader, method: "GET", url: receipts + "?fields=supplier,weight", status: 200, absent: costFree},
			{name: "get", client: reader, method: "GET", url: adminPath, status: 200, contains: []string{`"weight":10`}, absent: costFree},
			{name: "history", client: reader, method: "GET", url: adminPath + "/history", status: 200, contains: []string{`"note"`}, absent: costFree},
			{name: "filter by cost", client: reader, method: "GET", url: receipts + "?" + filterQuery(forms.Filter{Field: "cost", Op: "gt", Value: 900}), status: 400, fields: []string{"filters.0.field not_found"}},
			{name: "sort by cost", client: reader, method: "GET", url: receipts + "?sort=cost", status: 400, fields: []string{"sort.field not_found"}},
			{name: "project cost", client: reader, method: "GET", url: receipts + "?fields=cost", status: 400, fields: []string{"fields.0 not_found"}},
			{name: "deleted records", client: reader, method: "GET", url: receipts + "?deleted=true", status: 403},
			{name: "create", client: reader, method: "POST", url: receipts, body: api.RecordInput{Data: forms.Values{"supplier": "x", "weight": 1}}, status: 403},
			{name: "update", client: reader, method: "PATCH", url: adminPath, body: api.RecordInput{Rev: 2, Data: forms.Values{"weight": 1}}, status: 403},
			{name: "delete", client: reader, method: "DELETE", url: adminPath + "?rev=2", status: 403},
		})
		var page forms.HistoryPage
		f.as(t, reader).Do("GET", adminPath+"/history", nil, 200, &page)
		h := page.Items
		if len(h) != 2 {
			t.Fatalf("history %+v", h)
		}
		for _, e := range h {
			for _, c := range e.Changes {
				if c.Field == "cost" {
					t.Fatalf("rev %d shows a change of cost", e.Rev)
				}
			}
		}
		// rev 2 changed cost and note: the reader sees only the note.
		if len(h[1].Changes) != 1 || h[1].Changes[0].Field != "note" {
			t.Fatalf("rev 2 changes %+v", h[1].Changes)
		}
	})

	t.Run("reader export", func(t *testing.T) {
		res := f.as(t, reader).Raw("GET", receipts+"/export?format=csv", "", nil)
		switch res.Status {
		case 200:
			body := string(res.Body)
			for _, s := range []string{"cost", "Cost", "成本", "987.65", "988.65"} {
				if strings.Contains(body, s) {
					t.Errorf("export shows %q:\n%s", s, body)
				}
			}
			for _, s := range []string{"供应商", "Acme", "Cleo's"} {
				if !strings.Contains(body, s) {
					t.Errorf("export lacks %q:\n%s", s, body)
				}
			}
			// Export is an action of its own: reading is not enough.
			for _, c := range []*apitest.Client{clerk, auditor} {
				if res := f.as(t, c).Raw("GET", receipts+"/export?format=csv", "", nil); res.Status != 403 {
					t.Errorf("export without the export action: %d %s", res.Status, res.Body)
				}
			}
		case 404:
			// Without an export route the path is taken as the record id "export"; make sure
			// no export route exists that this answer shadows.
			for _, r := range f.s.API.Routes() {
				if r.Method == "GET" && strings.HasSuffix(r.Path, "/records/export") {
					t.Fatalf("GET %s is registered but the record route answers it: %s", r.Path, res.Body)
				}
			}
		default:
			t.Fatalf("export: status %d: %s", res.Status, res.Body)
		}
	})

	t.Run("clerk sees and changes only own records", func(t *testing.T) {
		clerk := f.as(t, clerk)
		l := list(clerk, receipts)
		got := ids(l.Items)
		slices.Sort(got)
		want := []string{own1.ID, own2.ID}
		slices.Sort(want)
		if !slices.Equal(got, want) || l.Total != 2 {
			t.Fatalf("clerk lists %v (total %d), want %v", got, l.Total, want)
		}
		// A filter that matches other users' records too must not widen the scope.
		l = list(clerk, receipts+"?"+filterQuery(forms.Filter{Field: "weight", Op: "gte", Value: 0}))
		got = ids(l.Items)
		slices.Sort(got)
		if !slices.Equal(got, want) || l.Total != 2 {
			t.Fatalf("clerk lists with a filter %v (total %d), want %v", got, l.Total, want)
		}
		first := list(clerk, receipts+"?sort=weight&limit=1")
		if len(first.Items) != 1 || first.Items[0].ID != own1.ID || first.Next == "" {
			t.Fatalf("clerk's first page %+v", first)
		}
		for _, limit := range []int{1, 10} {
			l = list(clerk, fmt.Sprintf("%s?sort=weight&limit=%d&cursor=%s", receipts, limit, url.QueryEscape(first.Next)))
			if len(l.Items) != 1 || l.Items[0].ID != own2.ID || l.Next != "" {
				t.Fatalf("clerk's second page of %d: %v next %q", limit, ids(l.Items), l.Next)
			}
		}
		runScenarios(t, f, []scenario{
			{name: "get own", client: clerk, method: "GET", url: receipts + "/" + own1.ID, status: 200, contains: []string{`"cost":987.65`}},
			{name: "get another's", client: clerk, method: "GET", url: adminPath, status: 404},
			{name: "get another clerk's", client: clerk, method: "GET", url: receipts + "/" + cleos.ID, status: 404},
			{name: "history of another's", client: clerk, method: "GET", url: adminPath + "/history", status: 404},
			{name: "update another's", client: clerk, method: "PATCH", url: adminPath, body: api.RecordInput{Rev: 2, Data: forms.Values{"weight": 1}}, status: 404},
			{name: "transition another's", client: clerk, method: "POST", url: adminPath + "/transitions", body: api.TransitionInput{Transition: "submit", Rev: 2}, status: 404},
			{name: "create with grade", client: clerk, method: "POST", url: receipts, body: api.RecordInput{Data: forms.Values{"supplier": "x", "weight": 1, "grade": "a"}}, status: 400, fields: []string{"grade read_only"}},
			{name: "set grade", client: clerk, method: "PATCH", url: receipts + "/" + own1.ID, body: api.RecordInput{Rev: 1, Data: forms.Values{"grade": "b"}}, status: 400, fields: []string{"grade read_only"}},
			{name: "update own", client: clerk, method: "PATCH", url: receipts + "/" + own1.ID, body: api.RecordInput{Rev: 1, Data: forms.Values{"weight": 3.5}}, status: 200, contains: []string{`"rev":2`, `"weight":3.5`}},
			{name: "delete own without the delete action", client: clerk, method: "DELETE", url: receipts + "/" + own2.ID + "?rev=1", status: 403},
			{name: "deleted list without the delete action", client: clerk, method: "GET", url: receipts + "?deleted=true", status: 403},
		})
	})

	t.Run("admin sees everything", func(t *testing.T) {
		var l forms.ListResult
		f.as(t, f.admin).Do("GET", receipts, nil, 200, &l)
		if l.Total != 4 || !strings.Contains(fmt.Sprint(l.Items[len(l.Items)-1].Data), "988.65") {
			t.Fatalf("admin list %d records, oldest %v", l.Total, l.Items[len(l.Items)-1].Data)
		}
	})
}

// inspectionDef has an image field (PNG, JPEG or WebP by default).
const inspectionDef = `{
  "key": "inspection",
  "name": {"zh-CN": "到货检验"},
  "schema": {
    "type": "object",
    "properties": {
      "remark": {"x-type": "text", "x-label": {"zh-CN": "说明"}},
      "photo":  {"x-type": "image", "x-label": {"zh-CN": "照片"}}
    }
  }
}`

func pngBytes(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	img.Set(1, 1, color.RGBA{R: 200, G: 30, B: 30, A: 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func upload(t *testing.T, c *apitest.Client, app, name string, content []byte, status int) forms.FileInfo {
	t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	part, err := w.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	part.Write(content)
	w.Close()
	res := c.Raw("POST", "/api/v1/apps/"+app+"/files", w.FormDataContentType(), body.Bytes())
	if res.Status != status {
		t.Fatalf("upload %s: status %d, want %d: %s", name, res.Status, status, res.Body)
	}
	var fi forms.FileInfo
	if status == 201 {
		if err := json.Unmarshal(res.Body, &fi); err != nil {
			t.Fatal(err)
		}
	}
	return fi
}

func TestFiles(t *testing.T) {
	f := newFixture(t, "farm")
	f.publishForm(t, plantApp, inspectionDef)
	pic := pngBytes(t)
	html := []byte("<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>")

	img := upload(t, f.admin, plantApp, "photo.png", pic, 201)
	if img.Type != "image/png" || img.Size != int64(len(pic)) || img.App != plantApp || img.Name != "photo.png" || img.ID == "" {
		t.Fatalf("png upload %+v", img)
	}
	fake := upload(t, f.admin, plantApp, "x.png", html, 201)
	if fake.Type != "text/plain" {
		t.Fatalf("html named x.png stored as %q, want text/plain", fake.Type)
	}
	elsewhere := upload(t, f.admin, "farm", "farm.png", pic, 201)

	download := func(t *testing.T, id string, want []byte, wantType string) {
		t.Helper()
		res := f.as(t, f.admin).Raw("GET", "/api/v1/apps/plant/files/"+id, "", nil)
		if res.Status != 200 {
			t.Fatalf("download: %d %s", res.Status, res.Body)
		}
		if !bytes.Equal(res.Body, want) {
			t.Fatalf("downloaded %d bytes differ from the %d uploaded", len(res.Body), len(want))
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantType) {
			t.Fatalf("content type %q, want %s", ct, wantType)
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
			t.Fatalf("content disposition %q", cd)
		}
		if res.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("no nosniff header: %v", res.Header)
		}
	}
	t.Run("download png", func(t *testing.T) { download(t, img.ID, pic, "image/png") })
	t.Run("download html as text", func(t *testing.T) { download(t, fake.ID, html, "text/plain") })

	inspections := recordsPath(plantApp, "inspection")
	runScenarios(t, f, []scenario{
		{name: "file info", method: "GET", url: "/api/v1/apps/plant/files/" + img.ID + "/info", status: 200, contains: []string{`"type":"image/png"`, `"name":"photo.png"`}},
		{name: "file of another app by this app", method: "GET", url: "/api/v1/apps/plant/files/" + elsewhere.ID, status: 404},
		{name: "file info of another app", method: "GET", url: "/api/v1/apps/plant/files/" + elsewhere.ID + "/info", status: 404},
		{name: "missing file", method: "GET", url: "/api/v1/apps/plant/files/nope", status: 404},
		{name: "image field takes the png", method: "POST", url: inspections, body: api.RecordInput{Data: forms.Values{"photo": []string{img.ID}}}, status: 201, contains: []string{img.ID}},
		{name: "image field refuses the text file", method: "POST", url: inspections, body: api.RecordInput{Data: forms.Values{"photo": []string{fake.ID}}}, status: 400, fields: []string{"photo.0 file_type"}},
		{name: "image field refuses another app's file", method: "POST", url: inspections, body: api.RecordInput{Data: forms.Values{"photo": []string{img.ID, elsewhere.ID}}}, status: 400, fields: []string{"photo.1 not_found"}},
		{name: "image field refuses an unknown id", method: "POST", url: inspections, body: api.RecordInput{Data: forms.Values{"photo": []string{"nope"}}}, status: 400, fields: []string{"photo.0 not_found"}},
	})

	t.Run("upload without a file", func(t *testing.T) {
		var body bytes.Buffer
		w := multipart.NewWriter(&body)
		w.WriteField("name", "x")
		w.Close()
		res := f.as(t, f.admin).Raw("POST", "/api/v1/apps/plant/files", w.FormDataContentType(), body.Bytes())
		if res.Status != 400 {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
		wantFields(t, res, "file required")
	})
	t.Run("empty file", func(t *testing.T) {
		admin := f.as(t, f.admin)
		res := admin.Raw("POST", "/api/v1/apps/plant/files", "", nil)
		if res.Status != 400 {
			t.Fatalf("status %d: %s", res.Status, res.Body)
		}
		upload(t, admin, plantApp, "empty.png", nil, 400)
	})
	t.Run("user of another app", func(t *testing.T) {
		reader := f.user(t, "rita", "reader") // sees plant only
		upload(t, reader, "farm", "farm.png", pic, 403)
		// No right in the app at all: refused before the file is looked up, whatever the id.
		res := reader.Raw("GET", "/api/v1/apps/farm/files/"+elsewhere.ID, "", nil)
		if res.Status != 403 {
			t.Fatalf("another app's file: %d %s", res.Status, res.Body)
		}
	})
}
