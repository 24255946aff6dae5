package rules

import (
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// Sample data of the safety-stock rule: materials with stock and a safety stock, and purchase
// requests.
const (
	materialForm = `{
  "key": "material", "name": {"zh-CN": "物料", "en": "Material"},
  "schema": {"type": "object", "properties": {
    "code":         {"x-type": "text", "x-filterable": true, "x-label": {"zh-CN": "物料编码"}},
    "name":         {"x-type": "text", "x-label": {"zh-CN": "名称"}},
    "stock":        {"x-type": "number", "x-label": {"zh-CN": "库存"}},
    "safety_stock": {"x-type": "number", "x-label": {"zh-CN": "安全库存"}},
    "reorder_qty":  {"x-type": "number", "x-label": {"zh-CN": "补货量"}},
    "price":        {"x-type": "money", "x-label": {"zh-CN": "单价"}}
  }},
  "permissions": {"warehouse": {"actions": ["read", "update"], "hidden": ["price"]}}
}`
	purchaseRequestForm = `{
  "key": "purchase_request", "name": {"zh-CN": "请购单", "en": "Purchase request"},
  "schema": {"type": "object", "properties": {
    "material": {"x-type": "text", "x-filterable": true, "x-label": {"zh-CN": "物料编码"}},
    "qty":      {"x-type": "number", "x-label": {"zh-CN": "数量"}},
    "reason":   {"x-type": "text", "x-label": {"zh-CN": "原因"}}
  }},
  "permissions": {"warehouse": {"actions": ["read"]}}
}`
	// safetyStockRule: when an update takes a material's stock below its safety stock (it was
	// at or above it before), request its reorder quantity.
	safetyStockRule = `{"key":"safety_stock","label":{"zh-CN":"安全库存请购","en":"Safety-stock purchase request"},"form":"material",
  "trigger":{"on":"updated"},
  "condition":"previous != nil && record.stock < record.safety_stock && previous.stock >= previous.safety_stock",
  "actions":[{"type":"create_record","params":{"form":"purchase_request","values":{
    "material":"record.code","qty":"record.reorder_qty",
    "reason":"concat(record.name, ' 库存 ', string(record.stock), ' 低于安全库存 ', string(record.safety_stock))"}}}]}`
	// autoReceiveRule books a request's quantity into stock at once (a plant that receives on
	// order): a chain material → request → material.
	autoReceiveRule = `{"key":"auto_receive","label":{"zh-CN":"自动入库"},"form":"purchase_request","trigger":{"on":"created"},
  "actions":[{"type":"update_records","params":{"form":"material","match":[{"field":"code","op":"eq","value":"record.material"}],
    "values":{"stock":"target.stock + record.qty"}}}]}`
)

// TestSafetyStockPurchaseRequest: the safety-stock rule end to end on sample data — an update
// that takes stock below the safety stock creates one purchase request with mapped fields; an
// update that stays below, or stays above, creates none; the next crossing creates the next;
// a retried event creates no second request; and a chain the requests start (auto-receive
// writes the material again) stops at the depth cap with the reason in the run log.
func TestSafetyStockPurchaseRequest(t *testing.T) {
	e := newTestEnv(t, Options{MaxDepth: 2})
	e.form(t, materialForm)
	e.form(t, purchaseRequestForm)
	sys := engine.SystemPrincipal()
	sugar, err := e.fs.Create(e.ctx, sys, testApp, "material", forms.Values{"code": "M-SUGAR", "name": "白砂糖", "stock": 100, "safety_stock": 80, "reorder_qty": 500, "price": 6.5})
	if err != nil {
		t.Fatal(err)
	}
	salt, err := e.fs.Create(e.ctx, sys, testApp, "material", forms.Values{"code": "M-SALT", "name": "食盐", "stock": 10, "safety_stock": 20, "reorder_qty": 50})
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	e.rule(t, safetyStockRule)
	requests := func(code string) []*engine.RecordRef {
		return e.records(t, "purchase_request", store.Eq("data.material", code))
	}
	setStock := func(r *forms.Record, stock float64) *forms.Record {
		t.Helper()
		got, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "material", r.ID)
		if err != nil {
			t.Fatal(err)
		}
		out, err := e.fs.Update(e.ctx, sys, testApp, "material", r.ID, got.Rev, forms.Values{"stock": stock})
		if err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		return out
	}
	setStock(sugar, 90)  // above: nothing
	setStock(sugar, 60)  // crosses: one request
	setStock(sugar, 40)  // still below: nothing
	setStock(salt, 5)    // was below already: nothing
	setStock(sugar, 120) // back above: nothing
	got := requests("M-SUGAR")
	if len(got) != 1 || len(requests("M-SALT")) != 0 {
		t.Fatalf("requests after one crossing: sugar %d, salt %d", len(got), len(requests("M-SALT")))
	}
	pr := got[0].Data
	if pr["qty"] != float64(500) || pr["reason"] != "白砂糖 库存 60 低于安全库存 80" || got[0].CreatedBy != "rule:safety_stock@1" {
		t.Fatalf("request %+v by %s", pr, got[0].CreatedBy)
	}
	// The crossing's event delivered again (the bus retrying after a crash): the create is
	// keyed by the event, no second request.
	var crossing Run
	for _, r := range e.runs(t, "safety_stock") {
		if r.Outcome == OutcomeFired {
			crossing = r
		}
	}
	c, err := e.rs.compiled(e.ctx, testApp, "safety_stock", 1)
	if err != nil {
		t.Fatal(err)
	}
	in := &evalInput{trigger: engine.EventRecordUpdated, event: crossing.Event, form: "material", id: sugar.ID,
		data: map[string]any{"code": "M-SUGAR", "name": "白砂糖", "stock": 60.0, "safety_stock": 80.0, "reorder_qty": 500.0},
		prev: map[string]any{"stock": 90.0, "safety_stock": 80.0}, actor: "system",
		key: "rule:" + engine.DefinitionVersionID(testApp, "safety_stock", 1) + ":" + crossing.Event}
	if _, err := e.rs.evaluate(e.ctx, c, in); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n := len(requests("M-SUGAR")); n != 1 {
		t.Fatalf("a redelivered crossing made %d requests", n)
	}
	// The next crossing, now with requests booked into stock at once: the request (depth 1)
	// updates the material (depth 2), where the safety-stock rule is capped and says so.
	e.rule(t, autoReceiveRule)
	setStock(sugar, 30)
	if n := len(requests("M-SUGAR")); n != 2 {
		t.Fatalf("requests after the second crossing: %d", n)
	}
	m, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "material", sugar.ID)
	if err != nil {
		t.Fatal(err)
	}
	if m.Data["stock"] != float64(530) {
		t.Fatalf("stock after auto-receive: %v", m.Data["stock"])
	}
	capped := 0
	for _, r := range e.runs(t, "safety_stock") {
		if r.Outcome == OutcomeDepthCapped {
			capped++
			if r.Depth != 2 || !strings.Contains(r.Reason, "the cap is 2") || r.Actor != "rule:auto_receive@1" {
				t.Fatalf("capped run %+v", r)
			}
		}
	}
	if capped != 1 {
		t.Fatalf("%d capped runs, want 1", capped)
	}
}
