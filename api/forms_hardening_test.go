package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/forms"
)

// HTTP regressions of issue 7 (hardening), items 4, 6, 10 and 17: statuses and codes.

// wantError checks an answer's status, error code and that its message is in the language asked.
func wantError(t *testing.T, res apitest.Response, status int, code string, han bool) api.ErrorInfo {
	t.Helper()
	if res.Status != status {
		t.Fatalf("status %d, want %d: %s", res.Status, status, res.Body)
	}
	e := res.Error(t)
	if e.Code != code || hasHan(e.Message) != han || strings.Contains(e.Message, "error.") {
		t.Fatalf("error %+v, want code %s with a message in %s", e, code, map[bool]string{true: "Chinese", false: "English"}[han])
	}
	return e
}

// TestHardening17_CodedConflictsOverHTTP: an unpublished form, restoring a record that is not
// deleted and deleting a role in use answer 409 with their own codes and messages that say what
// to do, in the caller's language.
func TestHardening17_CodedConflictsOverHTTP(t *testing.T) {
	f := newFixture(t)
	f.admin.Do("POST", "/api/v1/apps/"+plantApp+"/forms", json.RawMessage(receiptDef), 201, nil)
	body := api.RecordInput{Data: forms.Values{"supplier": "Acme", "weight": 1}}
	res := f.admin.Do("POST", receipts, body, 409, nil)
	e := wantError(t, res, 409, "form_not_published", true)
	if !strings.Contains(e.Message, "发布") {
		t.Errorf("message %q does not say to publish", e.Message)
	}
	en := f.as(t, f.admin)
	en.Header.Set("Accept-Language", "en")
	e = wantError(t, en.Raw("POST", receipts, "application/json", []byte(`{"data":{"supplier":"Acme","weight":1}}`)), 409, "form_not_published", false)
	if !strings.Contains(e.Message, "publish it first") {
		t.Errorf("message %q", e.Message)
	}

	f.admin.Do("POST", "/api/v1/apps/"+plantApp+"/forms/receipt/publish", nil, 201, nil)
	rec := create(t, f.admin, receipts, body.Data)
	wantError(t, f.admin.Do("POST", receipts+"/"+rec.ID+"/restore", api.RevInput{Rev: rec.Rev}, 409, nil), 409, "record_not_deleted", true)

	f.user(t, "rita", "reader")
	f.user(t, "rick", "reader")
	e = wantError(t, en.Raw("DELETE", "/api/v1/roles/reader", "", nil), 409, "role_in_use", false)
	if !strings.Contains(e.Message, "rita") || !strings.Contains(e.Message, "rick") || !strings.Contains(e.Message, "2") {
		t.Errorf("role_in_use message %q names neither the users nor their number", e.Message)
	}
	wantError(t, en.Raw("DELETE", "/api/v1/roles/admin", "", nil), 409, "role_builtin", false)
	// A plain stale revision keeps the generic conflict.
	wantError(t, f.admin.Do("PATCH", receipts+"/"+rec.ID, api.RecordInput{Rev: 9, Data: forms.Values{"weight": 2}}, 409, nil), 409, "conflict", true)
}

// TestHardening10_UnknownFormsAreNotFound: record reads of an unknown form are 404 and leave no
// collection (SQLite table) behind, whoever asks.
func TestHardening10_UnknownFormsAreNotFound(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	reader := f.user(t, "rita", "reader")
	collections := func() []string {
		t.Helper()
		names, err := f.s.Kernel.Store.Database().ListCollectionNames(context.Background(), bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	before := collections()
	for i, c := range []*apitest.Client{reader, f.admin} {
		for j, form := range []string{"nosuch", "receipt"} {
			id := "madeup" + strconv.Itoa(i) + strconv.Itoa(j)
			path := recordsPath(plantApp, form)
			for _, url := range []string{path + "/" + id, path + "/" + id + "/history", "/api/v1/apps/" + plantApp + "/files/" + id} {
				if res := f.as(t, c).Raw("GET", url, "", nil); res.Status != 404 {
					t.Errorf("GET %s: %d %s", url, res.Status, res.Body)
				}
			}
			if form == "nosuch" {
				if res := f.as(t, c).Raw("GET", path, "", nil); res.Status != 404 {
					t.Errorf("GET %s: %d %s", path, res.Status, res.Body)
				}
			}
			// The flows of a record: none for a record that is not there (an empty list, as for
			// a record whose flows the caller may not see).
			if res := f.as(t, c).Raw("GET", path+"/"+id+"/flows", "", nil); res.Status != 404 && (res.Status != 200 || string(res.Body) != "[]") {
				t.Errorf("GET %s/%s/flows: %d %s", path, id, res.Status, res.Body)
			}
		}
	}
	if after := collections(); !slices.Equal(before, after) {
		t.Fatalf("reads created collections:\nbefore %v\nafter  %v", before, after)
	}
}

// attachDef has an attachment field that readers see.
const attachDef = `{
  "key": "coa",
  "name": {"zh-CN": "检验报告"},
  "schema": {"type": "object", "properties": {
    "supplier": {"x-type": "text", "x-label": {"zh-CN": "供应商"}},
    "doc":      {"x-type": "attachment", "x-label": {"zh-CN": "报告"}}
  }},
  "permissions": {
    "reader": {"actions": ["read"]},
    "clerk":  {"actions": ["create", "read"], "scope": "own"}
  }
}`

// TestHardening04_DownloadsOverHTTP: downloads are 404 to a user who may not read a record that
// shows the file, and whole (several chunks, streamed) to one who may; attaching another's
// upload is a field error.
func TestHardening04_DownloadsOverHTTP(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, attachDef)
	carl := f.user(t, "carl", "clerk")
	cleo := f.user(t, "cleo", "clerk")
	reader := f.user(t, "rita", "reader")
	content := bytes.Repeat([]byte("tracecraft "), (5<<20)/11) // over 1 MiB chunks, under the field's 20 MiB
	fi := upload(t, carl, plantApp, "coa.txt", content, 201)
	url := "/api/v1/apps/" + plantApp + "/files/" + fi.ID
	for _, c := range []*apitest.Client{reader, cleo} {
		if res := f.as(t, c).Raw("GET", url, "", nil); res.Status != 404 {
			t.Fatalf("an unattached upload downloads: %d", res.Status)
		}
		if res := f.as(t, c).Raw("GET", url+"/info", "", nil); res.Status != 404 {
			t.Fatalf("an unattached upload's info: %d", res.Status)
		}
	}
	res := f.as(t, cleo).Do("POST", recordsPath(plantApp, "coa"), api.RecordInput{Data: forms.Values{"doc": []string{fi.ID}}}, 400, nil)
	wantFields(t, res, "doc.0 not_found")
	create(t, carl, recordsPath(plantApp, "coa"), forms.Values{"supplier": "Acme", "doc": []string{fi.ID}})

	got := f.as(t, reader).Raw("GET", url, "", nil)
	if got.Status != 200 || !bytes.Equal(got.Body, content) {
		t.Fatalf("reader's download: %d, %d bytes of %d", got.Status, len(got.Body), len(content))
	}
	if cl := got.Header.Get("Content-Length"); cl != strconv.Itoa(len(content)) {
		t.Errorf("content length %q, want %d", cl, len(content))
	}
	if res := f.as(t, cleo).Raw("GET", url, "", nil); res.Status != 404 {
		t.Fatalf("a clerk who cannot read carl's record downloads its file: %d", res.Status)
	}
}

// scopedDef lets site A's staff create and change only site A's lots.
const scopedDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次"},
  "schema": {"type": "object", "properties": {
    "site": {"x-type": "text", "x-label": {"zh-CN": "厂区"}},
    "note": {"x-type": "text", "x-label": {"zh-CN": "备注"}}
  }},
  "permissions": {
    "site_a": {"actions": ["create", "read", "update"], "scope": "expr", "condition": "site == \"A\""}
  }
}`

// TestHardening06_OutOfScopeWritesAre403: a create outside the create scope and an update that
// would move a record out of the update scope are 403 with codes that say so.
func TestHardening06_OutOfScopeWritesAre403(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, scopedDef)
	ann := f.user(t, "ann", "site_a")
	lots := recordsPath(plantApp, "lot")
	wantError(t, f.as(t, ann).Do("POST", lots, api.RecordInput{Data: forms.Values{"site": "B"}}, 403, nil), 403, "create_out_of_scope", true)
	rec := create(t, ann, lots, forms.Values{"site": "A"})
	wantError(t, f.as(t, ann).Do("PATCH", lots+"/"+rec.ID, api.RecordInput{Rev: rec.Rev, Data: forms.Values{"site": "B"}}, 403, nil), 403, "update_out_of_scope", true)
	f.as(t, ann).Do("PATCH", lots+"/"+rec.ID, api.RecordInput{Rev: rec.Rev, Data: forms.Values{"note": "fine"}}, 200, nil)
}
