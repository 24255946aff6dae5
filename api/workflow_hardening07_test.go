package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"tracecraft/api/apitest"
	"tracecraft/workflow"
)

// Regression tests of issue 7 over HTTP, workflow items 1, 2, 19 and 21.

// setupLab makes app "lab" with form "test" (material, cost, note; role qa reads it with cost
// hidden) and a flow that starts on creation: qa1 approves at a1, where cost is editable, then
// qa2 at a2, which shows material and note. "outsider" is a user with no grant on the app.
func setupLab(t *testing.T, s *apitest.Server) {
	t.Helper()
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "lab", "name": map[string]string{"zh-CN": "化验"}}, 201, nil)
	for _, r := range []string{"qa", "clerk"} {
		admin.Do("PUT", "/api/v1/roles/"+r, map[string]any{"label": map[string]string{"zh-CN": r, "en": r},
			"grants": []map[string]any{{"app": "lab", "actions": []string{"app.read"}}}}, 200, nil)
	}
	for _, u := range []struct{ name, role string }{{"qa1", "qa"}, {"qa2", "qa"}, {"clerk", "clerk"}, {"outsider", ""}} {
		roles := []string{}
		if u.role != "" {
			roles = append(roles, u.role)
		}
		admin.Do("POST", "/api/v1/users", map[string]any{"username": u.name, "displayName": u.name, "password": "passw0rd-" + u.name, "roles": roles}, 201, nil)
	}
	text := func(zh string) map[string]any {
		return map[string]any{"x-type": "text", "x-label": map[string]string{"zh-CN": zh}}
	}
	for _, key := range []string{"test", "plain"} {
		form := map[string]any{
			"key": key, "name": map[string]string{"zh-CN": "化验", "en": "Lab test"},
			"schema": map[string]any{"type": "object", "properties": map[string]any{
				"material": text("物料"),
				"cost":     map[string]any{"x-type": "number", "x-label": map[string]string{"zh-CN": "成本"}},
				"note":     text("备注"),
			}},
			"permissions": map[string]any{
				"clerk": map[string]any{"actions": []string{"create", "read"}},
				"qa":    map[string]any{"actions": []string{"read"}, "hidden": []string{"cost"}},
			},
		}
		admin.Do("POST", "/api/v1/apps/lab/forms", form, 201, nil)
		admin.Do("POST", "/api/v1/apps/lab/forms/"+key+"/publish", nil, 201, nil)
	}
	flow := map[string]any{
		"key": "check", "name": map[string]string{"zh-CN": "化验审批", "en": "Check"}, "form": "test",
		"trigger": map[string]any{"on": "create"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "a1"},
			{"id": "a1", "type": "approval", "mode": "single", "assignees": []map[string]any{{"kind": "user", "users": []string{"qa1"}}},
				"fields": map[string]any{"visible": []string{"material", "cost", "note"}, "editable": []string{"cost"}}, "next": "a2"},
			{"id": "a2", "type": "approval", "mode": "single", "assignees": []map[string]any{{"kind": "user", "users": []string{"qa2"}}},
				"fields": map[string]any{"visible": []string{"material", "note"}}, "next": "ok"},
			{"id": "ok", "type": "end", "outcome": "approved"},
		},
	}
	admin.Do("POST", "/api/v1/apps/lab/flows", flow, 201, nil)
	admin.Do("POST", "/api/v1/apps/lab/flows/check/publish", nil, 201, nil)
}

// TestHardening07_Item21_CreateSaysFlowsPending: a create on a form a flow starts on answers
// flows: "pending"; on a form without one, no flows hint.
func TestHardening07_Item21_CreateSaysFlowsPending(t *testing.T) {
	s := apitest.Start(t)
	setupLab(t, s)
	clerk := s.Login(t, "clerk", "passw0rd-clerk")
	var got map[string]any
	clerk.Do("POST", "/api/v1/apps/lab/forms/test/records", map[string]any{"data": map[string]any{"material": "flour"}}, 201, &got)
	if got["flows"] != "pending" || got["id"] == nil {
		t.Fatalf("create answer %v, want flows pending", got)
	}
	got = nil
	clerk.Do("POST", "/api/v1/apps/lab/forms/plain/records", map[string]any{"data": map[string]any{"material": "flour"}}, 201, &got)
	if _, ok := got["flows"]; ok || got["id"] == nil {
		t.Fatalf("create answer %v, want no flows hint", got)
	}
}

// TestHardening07_Item1_HiddenEditNotServed: qa1's edit of cost (hidden from qa) is not in
// /instances/{id}, the record's flows or the task page for qa2; qa1's finished task shows no
// record (item 2); transfer to a non-member is a 400 naming the user (item 2); batch errors are
// coded and in the caller's language (item 19).
func TestHardening07_Item1_HiddenEditNotServed(t *testing.T) {
	s := apitest.Start(t)
	setupLab(t, s)
	clerk := s.Login(t, "clerk", "passw0rd-clerk")
	qa1, qa2 := s.Login(t, "qa1", "passw0rd-qa1"), s.Login(t, "qa2", "passw0rd-qa2")
	var rec struct {
		ID string `json:"id"`
	}
	clerk.Do("POST", "/api/v1/apps/lab/forms/test/records", map[string]any{"data": map[string]any{"material": "flour", "note": "n"}}, 201, &rec)
	first := waitTodo(t, s, qa1, 1)[0]
	qa1.Do("POST", "/api/v1/tasks/"+first.Task.ID+"/actions", map[string]any{"action": "approve", "data": map[string]any{"cost": 4242}}, 200, nil)
	second := waitTodo(t, s, qa2, 1)[0]

	for _, path := range []string{"/api/v1/instances/" + second.Instance, "/api/v1/apps/lab/forms/test/records/" + rec.ID + "/flows",
		"/api/v1/tasks/" + second.Task.ID} {
		res := qa2.Do("GET", path, nil, 200, nil)
		if strings.Contains(string(res.Body), "cost") || strings.Contains(string(res.Body), "4242") {
			t.Errorf("GET %s shows the hidden cost to qa2: %s", path, res.Body)
		}
	}
	// The clerk may read cost: the record's flows show the edit to them.
	if res := clerk.Do("GET", "/api/v1/apps/lab/forms/test/records/"+rec.ID+"/flows", nil, 200, nil); !strings.Contains(string(res.Body), "4242") {
		t.Errorf("the clerk does not see the edit: %s", res.Body)
	}
	var view workflow.TaskView
	qa1.Do("GET", "/api/v1/tasks/"+first.Task.ID, nil, 200, &view)
	if view.Record != nil {
		t.Errorf("qa1's finished task still shows the record: %v", view.Record)
	}
	qa2.Do("GET", "/api/v1/tasks/"+second.Task.ID, nil, 200, &view)
	if view.Record["note"] != "n" || view.Record["material"] != "flour" {
		t.Errorf("qa2's pending task shows %v", view.Record)
	}

	res := qa2.Do("POST", "/api/v1/tasks/"+second.Task.ID+"/actions", map[string]any{"action": "transfer", "toUser": "outsider"}, 400, nil)
	e := res.Error(t)
	if !apitest.ErrorFields(e.Fields).HasField("toUser", "flowrun.not_member") || !strings.Contains(e.Fields[0].Message, "outsider") {
		t.Errorf("transfer to a non-member: %+v", e)
	}

	qa2.Header.Set("Accept-Language", "en")
	var results []workflow.BatchResult
	qa2.Do("POST", "/api/v1/tasks/batch-approve", map[string]any{"tasks": []string{"nope.1", first.Task.ID}}, 200, &results)
	raw, _ := json.Marshal(results)
	if len(results) != 2 || results[0].Code != "not_found" || results[0].Message != "no such task" || results[1].Code != "forbidden" ||
		strings.Contains(string(raw), "wf_") {
		t.Errorf("batch results %s", raw)
	}
}
