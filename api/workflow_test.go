package api_test

import (
	"sync"
	"testing"

	"tracecraft/api/apitest"
	"tracecraft/workflow"
)

// setupApproval makes app "plant" with form "receipt" (number qty, text note) and a flow that
// starts when a receipt is created: an any-of approval by role qa, then a condition on qty
// (over 1000 goes to the manager), then an end that sets the status to released.
func setupApproval(t *testing.T, s *apitest.Server) *apitest.Client {
	t.Helper()
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "工厂"}}, 201, nil)
	for _, r := range []string{"qa", "manager"} {
		admin.Do("PUT", "/api/v1/roles/"+r, map[string]any{"label": map[string]string{"zh-CN": r, "en": r},
			"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read"}}}}, 200, nil)
	}
	for _, u := range []struct{ name, role string }{{"qa1", "qa"}, {"qa2", "qa"}, {"boss", "manager"}, {"clerk", ""}} {
		roles := []string{}
		if u.role != "" {
			roles = append(roles, u.role)
		}
		admin.Do("POST", "/api/v1/users", map[string]any{"username": u.name, "displayName": u.name, "password": "passw0rd-" + u.name, "roles": roles}, 201, nil)
	}
	admin.Do("PUT", "/api/v1/roles/clerk", map[string]any{"label": map[string]string{"zh-CN": "文员"},
		"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read"}}}}, 200, nil)
	admin.Do("PATCH", "/api/v1/users/clerk", map[string]any{"rev": 1, "roles": []string{"clerk"}}, 200, nil)
	form := map[string]any{
		"key": "receipt", "name": map[string]string{"zh-CN": "收货", "en": "Receipt"},
		"schema": map[string]any{"type": "object", "required": []string{"qty"}, "properties": map[string]any{
			"qty":  map[string]any{"x-type": "number", "x-label": map[string]string{"zh-CN": "数量"}},
			"note": map[string]any{"x-type": "text", "x-label": map[string]string{"zh-CN": "备注"}},
		}},
		"status": map[string]any{"initial": "pending", "states": []map[string]any{
			{"key": "pending", "label": map[string]string{"zh-CN": "待检"}, "color": "amber"},
			{"key": "released", "label": map[string]string{"zh-CN": "合格"}, "color": "green"},
			{"key": "rejected", "label": map[string]string{"zh-CN": "不合格"}, "color": "red"}},
			"transitions": []map[string]any{}},
		"permissions": map[string]any{
			"clerk":   map[string]any{"actions": []string{"create", "read"}},
			"qa":      map[string]any{"actions": []string{"read"}},
			"manager": map[string]any{"actions": []string{"read"}},
		},
	}
	admin.Do("POST", "/api/v1/apps/plant/forms", form, 201, nil)
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/publish", nil, 201, nil)
	flow := map[string]any{
		"key": "release", "name": map[string]string{"zh-CN": "放行审批", "en": "Release"}, "form": "receipt",
		"trigger": map[string]any{"on": "create"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "qa"},
			{"id": "qa", "type": "approval", "name": map[string]string{"zh-CN": "质检"}, "mode": "any",
				"assignees": []map[string]any{{"kind": "role", "role": "qa"}}, "next": "big"},
			{"id": "big", "type": "condition", "branches": []map[string]any{{"when": "qty > 1000", "next": "mgr"}}, "default": "ok"},
			{"id": "mgr", "type": "approval", "name": map[string]string{"zh-CN": "经理"}, "mode": "single",
				"assignees": []map[string]any{{"kind": "role", "role": "manager"}}, "next": "ok"},
			{"id": "ok", "type": "end", "outcome": "approved", "setStatus": "released"},
		},
	}
	admin.Do("POST", "/api/v1/apps/plant/flows", flow, 201, nil)
	admin.Do("POST", "/api/v1/apps/plant/flows/release/publish", nil, 201, nil)
	return admin
}

func todo(t *testing.T, c *apitest.Client) []workflow.InboxItem {
	t.Helper()
	var items []workflow.InboxItem
	c.Do("GET", "/api/v1/inbox?box=todo", nil, 200, &items)
	return items
}

// waitTodo polls the inbox until n tasks are there: instances start from the record.created
// event, which the bus delivers just after the create returns.
func waitTodo(t *testing.T, s *apitest.Server, c *apitest.Client, n int) []workflow.InboxItem {
	t.Helper()
	for range 200 {
		if err := s.Kernel.Bus.Drain(t.Context()); err != nil {
			t.Fatal(err)
		}
		if items := todo(t, c); len(items) >= n {
			return items
		}
	}
	t.Fatalf("inbox never reached %d tasks", n)
	return nil
}

func TestFlowOverHTTP(t *testing.T) {
	s := apitest.Start(t)
	admin := setupApproval(t, s)
	clerk := s.Login(t, "clerk", "passw0rd-clerk")
	qa1, qa2 := s.Login(t, "qa1", "passw0rd-qa1"), s.Login(t, "qa2", "passw0rd-qa2")
	boss := s.Login(t, "boss", "passw0rd-boss")

	var rec struct {
		ID  string `json:"id"`
		Rev int64  `json:"rev"`
	}
	clerk.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"qty": 1500}}, 201, &rec)
	items := waitTodo(t, s, qa1, 1)
	if items[0].Record != rec.ID || items[0].Initiator != "clerk" {
		t.Fatalf("qa1's task: %+v", items[0])
	}
	var counts workflow.InboxCounts
	clerk.Do("GET", "/api/v1/inbox/counts", nil, 200, &counts)
	if counts.Initiated != 1 || counts.Todo != 0 {
		t.Fatalf("clerk's counts %+v", counts)
	}
	var view workflow.TaskView
	qa1.Do("GET", "/api/v1/tasks/"+items[0].Task.ID, nil, 200, &view)
	if view.Record["qty"] != float64(1500) {
		t.Fatalf("task view record %v", view.Record)
	}
	// Another user cannot act on qa1's task.
	boss.Do("POST", "/api/v1/tasks/"+items[0].Task.ID+"/actions", map[string]any{"action": "approve"}, 403, nil)
	// qa1 and qa2 both approve their any-of tasks at once: exactly one decides.
	qa2Items := todo(t, qa2)
	if len(qa2Items) != 1 {
		t.Fatalf("qa2 inbox %v", qa2Items)
	}
	var wg sync.WaitGroup
	statuses := make([]int, 2)
	for i, c := range []*apitest.Client{qa1, qa2} {
		task := items[0].Task.ID
		if i == 1 {
			task = qa2Items[0].Task.ID
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i] = c.Raw("POST", "/api/v1/tasks/"+task+"/actions", "application/json", []byte(`{"action":"approve","comment":"合格"}`)).Status
		}()
	}
	wg.Wait()
	if !(statuses[0] == 200 && statuses[1] == 409 || statuses[0] == 409 && statuses[1] == 200) {
		t.Fatalf("two any-of approvals: %v, want one 200 and one 409", statuses)
	}
	// qty > 1000: the manager's turn.
	bossItems := waitTodo(t, s, boss, 1)
	var inst workflow.Instance
	boss.Do("POST", "/api/v1/tasks/"+bossItems[0].Task.ID+"/actions", map[string]any{"action": "approve"}, 200, &inst)
	if inst.State != workflow.StateApproved {
		t.Fatalf("instance state %q", inst.State)
	}
	// The end node set the record's status; the record shows its flow with a timeline.
	var got struct {
		Status string `json:"status"`
	}
	admin.Do("GET", "/api/v1/apps/plant/forms/receipt/records/"+rec.ID, nil, 200, &got)
	if got.Status != "released" {
		t.Fatalf("record status %q, want released", got.Status)
	}
	var list []workflow.Instance
	clerk.Do("GET", "/api/v1/apps/plant/forms/receipt/records/"+rec.ID+"/flows", nil, 200, &list)
	if len(list) != 1 || len(list[0].Timeline) < 4 {
		t.Fatalf("record flows %+v", list)
	}
	var done []workflow.InboxItem
	boss.Do("GET", "/api/v1/inbox?box=done", nil, 200, &done)
	if len(done) != 1 {
		t.Fatalf("boss done box %v", done)
	}
	// A bad flow definition is a 400 that names the node.
	res := admin.Do("POST", "/api/v1/apps/plant/flows", map[string]any{
		"key": "broken", "name": map[string]string{"zh-CN": "坏"}, "form": "receipt", "trigger": map[string]any{"on": "manual"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "a"},
			{"id": "a", "type": "condition", "branches": []map[string]any{{"when": "qty > 'x'", "next": "end"}}},
			{"id": "end", "type": "end"},
			{"id": "lost", "type": "end"},
		}}, 400, nil)
	fields := apitest.ErrorFields(res.Error(t).Fields)
	if !fields.HasField("/nodes/1/default", "") && !fields.HasField("/nodes/1", "") {
		t.Errorf("missing default not named: %s", res.Body)
	}
	if !fields.HasField("/nodes/1/branches/0/when", "expr") {
		t.Errorf("bad expression not named: %s", res.Body)
	}
	if !fields.HasField("/nodes/3", "unreachable") {
		t.Errorf("unreachable node not named: %s", res.Body)
	}
}

func TestWithdrawOverHTTP(t *testing.T) {
	s := apitest.Start(t)
	setupApproval(t, s)
	clerk := s.Login(t, "clerk", "passw0rd-clerk")
	qa1 := s.Login(t, "qa1", "passw0rd-qa1")
	clerk.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"qty": 10}}, 201, nil)
	items := waitTodo(t, s, qa1, 1)
	qa1.Do("POST", "/api/v1/instances/"+items[0].Instance+"/withdraw", map[string]any{}, 403, nil)
	var inst workflow.Instance
	clerk.Do("POST", "/api/v1/instances/"+items[0].Instance+"/withdraw", map[string]any{"comment": "录错了"}, 200, &inst)
	if inst.State != workflow.StateWithdrawn {
		t.Fatalf("state %q", inst.State)
	}
	if got := todo(t, qa1); len(got) != 0 {
		t.Fatalf("qa1 still has %d tasks after the withdraw", len(got))
	}
	qa1.Do("POST", "/api/v1/tasks/"+items[0].Task.ID+"/actions", map[string]any{"action": "approve"}, 409, nil)
}
