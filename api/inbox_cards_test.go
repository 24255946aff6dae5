package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"tracecraft/api/apitest"
)

// TestInboxCardsOverHTTP: GET /api/v1/inbox gives each item its record's title (recordTitle,
// the form's titleField value) and summary fields as label and value in both languages; a
// viewer from whom the form hides the title field gets neither the title nor its value.
func TestInboxCardsOverHTTP(t *testing.T) {
	s := apitest.Start(t)
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "lab", "name": map[string]string{"zh-CN": "化验"}}, 201, nil)
	for _, r := range []string{"qa", "blind"} {
		admin.Do("PUT", "/api/v1/roles/"+r, map[string]any{"label": map[string]string{"zh-CN": r},
			"grants": []map[string]any{{"app": "lab", "actions": []string{"app.read"}}}}, 200, nil)
		admin.Do("POST", "/api/v1/users", map[string]any{"username": r + "1", "password": "passw0rd-" + r, "roles": []string{r}}, 201, nil)
	}
	admin.Do("POST", "/api/v1/apps/lab/forms", map[string]any{
		"key": "sample", "name": map[string]string{"zh-CN": "样品"}, "titleField": "lot",
		"schema": map[string]any{"type": "object", "properties": map[string]any{
			"lot": map[string]any{"x-type": "text", "x-label": map[string]string{"zh-CN": "批号", "en": "Lot"}},
			"qty": map[string]any{"x-type": "number", "x-label": map[string]string{"zh-CN": "数量", "en": "Quantity"}},
		}},
		"permissions": map[string]any{
			"qa":    map[string]any{"actions": []string{"read"}},
			"blind": map[string]any{"actions": []string{"read"}, "hidden": []string{"lot"}},
		},
	}, 201, nil)
	admin.Do("POST", "/api/v1/apps/lab/forms/sample/publish", nil, 201, nil)
	admin.Do("POST", "/api/v1/apps/lab/flows", map[string]any{
		"key": "check", "name": map[string]string{"zh-CN": "样品审批"}, "form": "sample", "trigger": map[string]any{"on": "create"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "a1"},
			{"id": "a1", "type": "approval", "name": map[string]string{"zh-CN": "复核"}, "mode": "all",
				"assignees": []map[string]any{{"kind": "user", "users": []string{"qa1", "blind1"}}}, "next": "end"},
			{"id": "end", "type": "end", "outcome": "approved"},
		},
	}, 201, nil)
	admin.Do("POST", "/api/v1/apps/lab/flows/check/publish", nil, 201, nil)
	admin.Do("POST", "/api/v1/apps/lab/forms/sample/records", map[string]any{"data": map[string]any{"lot": "LOT-9", "qty": 3}}, 201, nil)

	type card struct {
		Title       string            `json:"title"`
		RecordTitle map[string]string `json:"recordTitle"`
		Summary     []struct {
			Key   string            `json:"key"`
			Label map[string]string `json:"label"`
			Value map[string]string `json:"value"`
		} `json:"summary"`
	}
	qa := s.Login(t, "qa1", "passw0rd-qa")
	waitTodo(t, s, qa, 1)
	var got []card
	res := qa.Do("GET", "/api/v1/inbox?box=todo", nil, 200, nil)
	if err := json.Unmarshal(res.Body, &got); err != nil || len(got) != 1 {
		t.Fatalf("qa1's inbox: %v %s", err, res.Body)
	}
	c := got[0]
	if c.Title != "样品审批" || c.RecordTitle["zh-CN"] != "LOT-9" || len(c.Summary) != 1 ||
		c.Summary[0].Key != "qty" || c.Summary[0].Label["en"] != "Quantity" || c.Summary[0].Value["zh-CN"] != "3" {
		t.Fatalf("qa1's card: %+v", c)
	}
	blind := s.Login(t, "blind1", "passw0rd-blind")
	res = blind.Do("GET", "/api/v1/inbox?box=todo", nil, 200, nil)
	got = nil
	if err := json.Unmarshal(res.Body, &got); err != nil || len(got) != 1 {
		t.Fatalf("blind1's inbox: %v %s", err, res.Body)
	}
	if strings.Contains(string(res.Body), "LOT-9") || got[0].RecordTitle != nil || len(got[0].Summary) != 1 {
		t.Fatalf("blind1 may not see lot: %s", res.Body)
	}
}
