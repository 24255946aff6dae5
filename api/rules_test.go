package api_test

import (
	"encoding/json"
	"strings"
	"testing"

	"tracecraft/rules"
)

const rulesLotDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "schema": {"type": "object", "properties": {
    "lot":         {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "expiry_date": {"x-type": "date", "x-filterable": true, "x-label": {"zh-CN": "到期日", "en": "Expiry"}}
  }},
  "permissions": {"op": {"actions": ["create", "read"]}}
}`

// TestRulesAPI: a designer's rule with a mistake is a 400 naming the field, line and column;
// published, it notifies on a new record; the notification is read and marked read; the run
// log and a dry run show what it did and would do; an app user may not see rules.
func TestRulesAPI(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, rulesLotDef)
	base := "/api/v1/apps/" + plantApp + "/rules"
	bad := `{"key":"new_lot","label":{"zh-CN":"新批次"},"form":"lot","trigger":{"on":"created"},"condition":"record.lot ==",
	  "actions":[{"type":"notify","params":{"to":["admin"],"title":"concat('新批次 ', record.lot)"}}]}`
	res := f.admin.Do("POST", base, json.RawMessage(bad), 400, nil)
	if body := string(res.Body); !strings.Contains(body, `"field":"/condition"`) || !strings.Contains(body, "line 1, column") {
		t.Fatalf("400 body: %s", body)
	}
	good := strings.Replace(bad, `"record.lot =="`, `"record.lot != 'SKIP'"`, 1)
	f.admin.Do("POST", base, json.RawMessage(good), 201, nil)
	var v rules.RuleVersion
	f.admin.Do("POST", base+"/new_lot/publish", nil, 201, &v)
	if v.Number != 1 || v.Definition.Trigger.On != "created" {
		t.Fatalf("version %+v", v)
	}
	// The list names the version published (the draft was saved before it).
	var listed []rules.Rule
	f.admin.Do("GET", base, nil, 200, &listed)
	if len(listed) != 1 || listed[0].Published != 1 {
		t.Fatalf("rules listed after publishing: %+v", listed)
	}
	var rec struct {
		ID string `json:"id"`
	}
	f.admin.Do("POST", recordsPath(plantApp, "lot"), map[string]any{"data": map[string]any{"lot": "A-1", "expiry_date": "2030-01-01"}}, 201, &rec)
	var list rules.NotificationList
	matrixWait(t, func() bool {
		f.admin.Do("GET", "/api/v1/notifications", nil, 200, &list)
		return list.Unread == 1
	})
	if len(list.Items) != 1 || list.Items[0].Title != "新批次 A-1" || list.Items[0].Record != rec.ID {
		t.Fatalf("notifications %+v", list)
	}
	var read struct{ Changed int }
	f.admin.Do("POST", "/api/v1/notifications/read", map[string]any{"ids": []string{list.Items[0].ID}}, 200, &read)
	f.admin.Do("GET", "/api/v1/notifications?unread=true", nil, 200, &list)
	if read.Changed != 1 || list.Unread != 0 || len(list.Items) != 0 {
		t.Fatalf("after read: %d %+v", read.Changed, list)
	}
	var runs rules.RunList
	f.admin.Do("GET", base+"/new_lot/runs", nil, 200, &runs)
	if len(runs.Items) != 1 || runs.Items[0].Outcome != rules.OutcomeFired || runs.Items[0].Record != rec.ID {
		t.Fatalf("runs %+v", runs)
	}
	var dry rules.DryRun
	f.admin.Do("POST", base+"/new_lot/dry-run", map[string]any{"record": rec.ID}, 200, &dry)
	if !dry.Condition || len(dry.Actions) != 1 || dry.Actions[0].Params["title"] != "新批次 A-1" {
		t.Fatalf("dry run %+v", dry)
	}
	op := f.user(t, "oscar", "op")
	op.Do("GET", base, nil, 403, nil)
	op.Do("GET", "/api/v1/admin/webhooks/dead", nil, 403, nil)
	f.admin.Do("GET", "/api/v1/admin/webhooks/dead", nil, 200, nil)
}
