package rules

import (
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/forms"
)

// orderForm: a sales order with detail rows and a due date.
const orderForm = `{
  "key": "order", "name": {"zh-CN": "订单"},
  "schema": {"type": "object", "properties": {
    "no":    {"x-type": "text", "x-label": {"zh-CN": "单号"}},
    "due":   {"x-type": "date", "x-label": {"zh-CN": "交期"}},
    "items": {"x-type": "subtable", "x-label": {"zh-CN": "明细"}, "items": {"type": "object", "properties": {
      "sku": {"x-type": "text", "x-label": {"zh-CN": "物料"}},
      "qty": {"x-type": "number", "x-label": {"zh-CN": "数量"}}
    }}}
  }},
  "permissions": {"warehouse": {"actions": ["read"]}}
}`

// TestConditionHelpers: a condition with a sub-table aggregate, working days and a lookup of
// another form's record fires for the order it describes; the notification shows what the
// lookup found only as far as its recipient may see; a lookup on a field without an index is
// refused when the rule is saved, and one lookup too many fails the run with a clear error.
func TestConditionHelpers(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.form(t, materialForm)
	e.form(t, orderForm)
	sys := engine.SystemPrincipal()
	if _, err := e.fs.Create(e.ctx, sys, testApp, "material", forms.Values{"code": "M-SUGAR", "name": "白砂糖", "stock": 12, "safety_stock": 5, "price": 6.5}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	// 2026-03-02 is a Monday: Friday the 6th is 4 working days away, Monday the 9th 5.
	e.rule(t, `{"key":"rush","label":{"zh-CN":"急单缺料"},"form":"order","trigger":{"on":"created"},
	  "condition":"sumOf(record.items, 'qty') > lookup('material', 'code', record.items[0].sku).stock && workdays(today(), date(record.due)) <= 4",
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"concat(record.no, ' 缺 ', record.items[0].sku, ' 单价 ', string(lookup('material', 'code', record.items[0].sku).price), ' 行数 ', string(countOf(record.items, 'qty')))"}}]}`)
	order := func(no, due string, qtys ...float64) {
		t.Helper()
		var items []any
		for _, q := range qtys {
			items = append(items, map[string]any{"sku": "M-SUGAR", "qty": q})
		}
		items = append(items, map[string]any{"sku": "M-SUGAR"}) // an empty cell
		if _, err := e.fs.Create(e.ctx, sys, testApp, "order", forms.Values{"no": no, "due": due, "items": items}); err != nil {
			t.Fatal(err)
		}
	}
	order("O1", "2026-03-06", 8, 7) // 15 > 12, 4 working days: fires
	order("O2", "2026-03-09", 8, 7) // 5 working days: no
	order("O3", "2026-03-06", 8, 3) // 11 ≤ 12: no
	e.drain(t)
	l := e.notifications(t, "wang")
	// wang (warehouse) may not see the material's price: the lookup found it for the rule,
	// not for him.
	if len(l.Items) != 1 || l.Items[0].Title != "O1 缺 M-SUGAR 单价  行数 2" {
		t.Fatalf("notifications: %+v", l.Items)
	}
	runs := e.runs(t, "rush")
	fired := 0
	for _, r := range runs {
		if r.Outcome == OutcomeFired {
			fired++
			if title, _ := r.Actions[0].Params["title"].(string); !strings.Contains(title, "单价 6.5") {
				t.Fatalf("the run log renders with every field: %q", title)
			}
		}
	}
	if fired != 1 || len(runs) != 3 {
		t.Fatalf("runs %+v", runs)
	}
	// A lookup by a field without an index is refused when the rule is saved.
	_, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(`{"key":"x","label":{"zh-CN":"x"},"form":"order","trigger":{"on":"created"},
	  "condition":"lookup('material', 'name', '白砂糖') != nil","actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`), 0)
	if err == nil || !strings.Contains(err.Error(), "/condition") || !strings.Contains(err.Error(), "not filterable") {
		t.Fatalf("a lookup without an index: %v", err)
	}
	// More lookups than one evaluation may make: the run fails and says why.
	many := strings.Repeat("lookup('material', 'code', 'M-SUGAR') != nil && ", 5) + "lookup('material', 'code', 'M-SUGAR') != nil"
	e.rule(t, `{"key":"greedy","label":{"zh-CN":"x"},"form":"order","trigger":{"on":"created"},"condition":"`+many+`",
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`)
	order("O4", "2026-03-06", 1)
	e.drain(t)
	g := e.runs(t, "greedy")
	if len(g) != 1 || g[0].Outcome != OutcomeFailed || !strings.Contains(g[0].Error, "more than 5 lookups in one evaluation") {
		t.Fatalf("greedy runs %+v", g)
	}
}
