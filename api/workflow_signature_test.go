package api_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"tracecraft/api/apitest"
	"tracecraft/workflow"
)

// TestSignatureRequiredOverHTTP: a QA release node with "requireSignature": ["approve"]. The
// task says which decisions need a signature; approving without one is a 400 naming the field
// signature with a message in the caller's language, and the instance is unchanged; approving
// with the approver's own drawing puts it on the step, where the record's readers download it.
// A batch approval skips the task (signature_required) unless one signature is given for the
// batch. The OpenAPI document describes requireSignature as the meta-schema does.
func TestSignatureRequiredOverHTTP(t *testing.T) {
	s := apitest.Start(t)
	admin := setupApproval(t, s)
	flow := map[string]any{
		"key": "qa_release", "name": map[string]string{"zh-CN": "质量放行"}, "form": "receipt",
		"trigger": map[string]any{"on": "manual"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "sign"},
			{"id": "sign", "type": "approval", "name": map[string]string{"zh-CN": "QA 放行"}, "mode": "single",
				"assignees": []map[string]any{{"kind": "user", "users": []string{"qa1"}}}, "requireSignature": []string{"approve"}, "next": "ok"},
			{"id": "ok", "type": "end", "outcome": "approved"},
		},
	}
	admin.Do("POST", "/api/v1/apps/plant/flows", flow, 201, nil)
	admin.Do("POST", "/api/v1/apps/plant/flows/qa_release/publish", nil, 201, nil)
	// A node type that decides nothing cannot ask for a signature: 400 at the node.
	bad := map[string]any{"key": "bad", "name": map[string]string{"zh-CN": "坏"}, "form": "receipt", "trigger": map[string]any{"on": "manual"},
		"nodes": []map[string]any{
			{"id": "start", "type": "start", "next": "a"},
			{"id": "a", "type": "approval", "assignees": []map[string]any{{"kind": "user", "users": []string{"qa1"}}}, "requireSignature": []string{"submit"}, "next": "ok"},
			{"id": "ok", "type": "end"},
		}}
	if e := admin.Do("POST", "/api/v1/apps/plant/flows", bad, 400, nil).Error(t); !apitest.ErrorFields(e.Fields).HasField("/nodes/1/requireSignature/0", "flow.signature_decision") {
		t.Fatalf("bad requireSignature: %+v", e)
	}

	clerk := s.Login(t, "clerk", "passw0rd-clerk")
	qa1 := s.Login(t, "qa1", "passw0rd-qa1")
	start := func(qty int) workflow.Instance {
		var rec struct {
			ID string `json:"id"`
		}
		clerk.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"qty": qty}}, 201, &rec)
		var inst workflow.Instance
		clerk.Do("POST", "/api/v1/apps/plant/flows/qa_release/start", map[string]any{"record": rec.ID}, 201, &inst)
		return inst
	}
	inst := start(5)
	task := inst.Tasks[0].ID
	var view workflow.TaskView
	qa1.Do("GET", "/api/v1/tasks/"+task, nil, 200, &view)
	if !slices.Equal(view.SignatureFor, []string{"approve"}) {
		t.Fatalf("signatureFor %v", view.SignatureFor)
	}
	for _, c := range []struct{ lang, word string }{{"zh-CN", "手写签名：此步骤必须本人手写签名"}, {"en", "Signature is required for this step"}} {
		qa1.Header.Set("Accept-Language", c.lang)
		e := qa1.Do("POST", "/api/v1/tasks/"+task+"/actions", map[string]any{"action": "approve", "comment": "放行"}, 400, nil).Error(t)
		if len(e.Fields) != 1 || e.Fields[0].Field != "signature" || e.Fields[0].Code != "flowrun.signature_required" || !strings.HasPrefix(e.Fields[0].Message, c.word) || !strings.HasPrefix(e.Message, c.word) {
			t.Fatalf("%s: unsigned approval: %+v", c.lang, e)
		}
	}
	qa1.Header.Del("Accept-Language")
	var now workflow.Instance
	qa1.Do("GET", "/api/v1/instances/"+inst.ID, nil, 200, &now)
	if now.Rev != inst.Rev || len(now.Timeline) != len(inst.Timeline) || now.Tasks[0].State != workflow.TaskPending {
		t.Fatalf("the refused approval changed the instance: %+v", now)
	}
	// Someone else's drawing is not qa1's signature.
	clerks := upload(t, clerk, "plant", "sig.png", pngBytes(t), 201)
	e := qa1.Do("POST", "/api/v1/tasks/"+task+"/actions", map[string]any{"action": "approve", "signature": clerks.ID}, 400, nil).Error(t)
	if !apitest.ErrorFields(e.Fields).HasField("signature", "flowrun.signature_not_own") {
		t.Fatalf("clerk's drawing as qa1's signature: %+v", e)
	}
	sig := upload(t, qa1, "plant", "signature.png", pngBytes(t), 201)
	qa1.Do("POST", "/api/v1/tasks/"+task+"/actions", map[string]any{"action": "approve", "comment": "放行", "signature": sig.ID}, 200, &now)
	i := slices.IndexFunc(now.Timeline, func(s workflow.Step) bool { return s.Action == "approve" })
	if i < 0 || now.Timeline[i].Signature != sig.ID || now.State != workflow.StateApproved {
		t.Fatalf("signed approval: %+v", now)
	}
	// The initiator, a reader of the record, sees the signature on the timeline.
	if res := clerk.Raw("GET", "/api/v1/apps/plant/files/"+sig.ID, "", nil); res.Status != 200 {
		t.Fatalf("the record's reader downloads the signature: %d", res.Status)
	}

	// Batch approval.
	one, two := start(6), start(7)
	tasks := []string{one.Tasks[0].ID, two.Tasks[0].ID}
	var res []workflow.BatchResult
	qa1.Header.Set("Accept-Language", "zh-CN")
	qa1.Do("POST", "/api/v1/tasks/batch-approve", map[string]any{"tasks": tasks}, 200, &res)
	if len(res) != 2 || res[0].OK || res[0].Code != "signature_required" || !strings.Contains(res[0].Message, "使用同一签名批量审批") {
		t.Fatalf("unsigned batch: %+v", res)
	}
	batchSig := upload(t, qa1, "plant", "signature.png", pngBytes(t), 201)
	qa1.Do("POST", "/api/v1/tasks/batch-approve", map[string]any{"tasks": tasks, "signature": batchSig.ID}, 200, &res)
	if len(res) != 2 || !res[0].OK || !res[1].OK {
		t.Fatalf("signed batch: %+v", res)
	}
	qa1.Do("GET", "/api/v1/instances/"+two.ID, nil, 200, &now)
	if i := slices.IndexFunc(now.Timeline, func(s workflow.Step) bool { return s.Action == "approve" }); i < 0 || now.Timeline[i].Signature != batchSig.ID {
		t.Fatalf("batch-signed step: %+v", now.Timeline)
	}

	var doc map[string]any
	admin.Do("GET", "/api/v1/openapi.json", nil, 200, &doc)
	node, _ := json.Marshal(doc["components"].(map[string]any)["schemas"].(map[string]any)["workflow.Node"])
	if !strings.Contains(string(node), `"requireSignature":{"description"`) || !strings.Contains(string(node), `"oneOf"`) {
		t.Errorf("openapi workflow.Node.requireSignature: %s", node)
	}
}
