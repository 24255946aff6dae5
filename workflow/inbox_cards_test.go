package workflow

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
)

// sampleForm has a title field (lot) and fields of several kinds: cost is hidden from qa, lot
// (the title) from auditors; note is long text, which cards never summarise.
const sampleForm = `{
  "key": "sample",
  "name": {"zh-CN": "样品", "en": "Sample"},
  "titleField": "lot",
  "schema": {
    "type": "object",
    "properties": {
      "lot":      {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
      "note":     {"x-type": "textarea", "x-label": {"zh-CN": "备注", "en": "Note"}},
      "cost":     {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
      "supplier": {"x-type": "text", "x-label": {"zh-CN": "供应商", "en": "Supplier"}},
      "qty":      {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
      "grade":    {"x-type": "select", "x-label": {"zh-CN": "等级", "en": "Grade"},
                   "x-options": {"options": [{"value": "a", "label": {"zh-CN": "一级", "en": "Grade A"}}]}}
    }
  },
  "permissions": {
    "clerk":   {"actions": ["create", "read", "update"]},
    "qa":      {"actions": ["read"], "hidden": ["cost"]},
    "auditor": {"actions": ["read"], "hidden": ["lot"]}
  }
}`

// sampleEnv is the lab platform (lena: an app member without form permissions) with the sample
// form, otto (auditor) and a flow where bob (qa), lena and otto all approve at a1, whose node
// shows lot, qty and cost.
func sampleEnv(t *testing.T) *testEnv {
	t.Helper()
	e := labEnv(t)
	sys := engine.SystemPrincipal()
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(sampleForm), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "sample"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: "auditor", Label: engine.Text{ZH: "auditor"},
		Grants: []engine.Grant{{App: testApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "otto", Password: "password123", Roles: []string{"auditor"}}); err != nil {
		t.Fatal(err)
	}
	e.users["otto"] = &engine.Principal{Username: "otto", Roles: []string{"auditor"}}
	a1 := approval("a1", ModeAll, "end", "bob", "lena", "otto")
	a1.Fields = &NodeFields{Visible: []string{"lot", "qty", "cost"}}
	raw, err := json.Marshal(Definition{Key: "sampleflow", Name: engine.Text{ZH: "样品审批", EN: "Sample approval"}, Form: "sample",
		Trigger: Trigger{On: "manual"}, Nodes: []Node{startNode("a1"), a1, endOK()}})
	if err != nil {
		t.Fatal(err)
	}
	e.install(t, raw)
	return e
}

// cardOf finds the item of instance id in who's box and says what its card shows:
// "title | label=value, …" in zh-CN.
func (e *testEnv) cardOf(t *testing.T, who, box, id string) string {
	t.Helper()
	items, err := e.wf.Inbox(e.ctx, e.p(who), box, 20, "")
	if err != nil {
		t.Fatalf("%s's %s box: %v", who, box, err)
	}
	for _, it := range items {
		if it.Instance != id {
			continue
		}
		if it.Title != "样品审批" {
			t.Errorf("%s: the item's title is %q, want the flow's name", who, it.Title)
		}
		var parts []string
		for _, f := range it.Summary {
			parts = append(parts, f.Label.ZH+"="+f.Value.ZH)
		}
		return it.RecordTitle.ZH + " | " + strings.Join(parts, ", ")
	}
	t.Fatalf("%s's %s box has no item of %s", who, box, id)
	return ""
}

// TestInboxCardShowsRecordTitle: an inbox item carries its record's title and up to three
// short fields, each only when its viewer may see it — through the form's field rules, and,
// for someone who may not read the form, through their task's node while they can act on it.
// A viewer from whom the form hides the title field gets no title, and its value appears
// nowhere in their item.
func TestInboxCardShowsRecordTitle(t *testing.T) {
	e := sampleEnv(t)
	r, err := e.fs.Create(e.ctx, e.p("alice"), testApp, "sample", map[string]any{
		"lot": "LOT-7", "note": "long remark", "cost": 12.5, "supplier": "Acme", "qty": 40, "grade": "a"})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "sampleflow", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ who, box, want string }{
		{"alice", BoxInitiated, "LOT-7 | 成本=12.5, 供应商=Acme, 数量=40"}, // clerk: everything; three at most, no long text
		{"bob", BoxTodo, "LOT-7 | 供应商=Acme, 数量=40, 等级=一级"},          // qa: cost hidden
		{"lena", BoxTodo, "LOT-7 | 成本=12.5, 数量=40"},                 // no form rights: the node's fields
		{"otto", BoxTodo, " | 成本=12.5, 供应商=Acme, 数量=40"},            // auditor: the title field is hidden
	} {
		if got := e.cardOf(t, c.who, c.box, inst.ID); got != c.want {
			t.Errorf("%s's %s card: %q, want %q", c.who, c.box, got, c.want)
		}
	}
	items, err := e.wf.Inbox(e.ctx, e.p("otto"), BoxTodo, 20, "")
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := json.Marshal(items); strings.Contains(string(raw), "LOT-7") || strings.Contains(string(raw), "recordTitle") {
		t.Errorf("otto may not see lot, but his inbox says %s", raw)
	}
	var en engine.Text
	for _, it := range e.mustInbox(t, "bob", BoxTodo) {
		if len(it.Summary) == 3 {
			en = engine.Text{ZH: it.Summary[2].Value.ZH, EN: it.Summary[2].Value.EN}
		}
	}
	if en.EN != "Grade A" {
		t.Errorf("a choice shows its label in both languages, got %+v", en)
	}

	// Once lena has acted, her task grants her nothing of the record: no title, no fields.
	e.act(t, inst.ID, "lena", "a1", ActInput{Action: ActApprove})
	if got := e.cardOf(t, "lena", BoxDone, inst.ID); got != " | " {
		t.Errorf("lena's done card after acting: %q, want nothing of the record", got)
	}
	// bob reads the form: his done card keeps what the form shows him.
	e.act(t, inst.ID, "bob", "a1", ActInput{Action: ActApprove})
	if got := e.cardOf(t, "bob", BoxDone, inst.ID); got != "LOT-7 | 供应商=Acme, 数量=40, 等级=一级" {
		t.Errorf("bob's done card: %q", got)
	}
}

// TestInboxCardFollowsRecordEdit: the card is read with the page, so an edit of the record is
// on the next page read, without the instance changing.
func TestInboxCardFollowsRecordEdit(t *testing.T) {
	e := sampleEnv(t)
	r, err := e.fs.Create(e.ctx, e.p("alice"), testApp, "sample", map[string]any{"lot": "LOT-1", "qty": 1})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "sampleflow", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := e.cardOf(t, "bob", BoxTodo, inst.ID); got != "LOT-1 | 数量=1" {
		t.Fatalf("before the edit: %q", got)
	}
	if _, err := e.fs.Update(e.ctx, e.p("alice"), testApp, "sample", r.ID, r.Rev, map[string]any{"lot": "LOT-2", "supplier": "Bolt"}); err != nil {
		t.Fatal(err)
	}
	if got := e.cardOf(t, "bob", BoxTodo, inst.ID); got != "LOT-2 | 供应商=Bolt, 数量=1" {
		t.Errorf("after the edit: %q, want the new title and supplier", got)
	}
	if got := e.cardOf(t, "alice", BoxInitiated, inst.ID); got != "LOT-2 | 供应商=Bolt, 数量=1" {
		t.Errorf("alice's initiated card after the edit: %q", got)
	}
}

func (e *testEnv) mustInbox(t *testing.T, who, box string) []InboxItem {
	t.Helper()
	items, err := e.wf.Inbox(e.ctx, e.p(who), box, 20, "")
	if err != nil {
		t.Fatal(err)
	}
	return items
}

// BenchmarkInboxCards reads bob's todo page of 20 tasks, each on its own record of the sample
// form, with the cards (one RecordCards call for the form) and, in the same run, without them
// (no record service); the second reports the first's time as a multiple of its own as "x-cards-cost".
func BenchmarkInboxCards(b *testing.B) {
	e := newTestEnv(b, "", nil)
	sys := engine.SystemPrincipal()
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(sampleForm), 0); err != nil {
		b.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "sample"); err != nil {
		b.Fatal(err)
	}
	a1 := approval("a1", ModeSingle, "end", "bob")
	raw, _ := json.Marshal(Definition{Key: "sampleflow", Name: engine.Text{ZH: "样品审批"}, Form: "sample",
		Trigger: Trigger{On: "manual"}, Nodes: []Node{startNode("a1"), a1, endOK()}})
	e.install(b, raw)
	for i := range 20 {
		r, err := e.fs.Create(e.ctx, e.p("alice"), testApp, "sample", map[string]any{"lot": "LOT-" + string(rune('A'+i)), "supplier": "Acme", "qty": i, "grade": "a"})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "sampleflow", r.ID); err != nil {
			b.Fatal(err)
		}
	}
	page := func(b *testing.B, titled bool) time.Duration {
		start := time.Now()
		for b.Loop() {
			items, err := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 20, "")
			if err != nil || len(items) != 20 || (items[0].RecordTitle.ZH != "") != titled {
				b.Fatalf("%d items, %v", len(items), err)
			}
		}
		return time.Since(start) / time.Duration(b.N)
	}
	var with time.Duration
	b.Run("with-cards", func(b *testing.B) { with = page(b, true) })
	b.Run("without-cards", func(b *testing.B) {
		records := e.k.Records
		e.k.Records = nil
		defer func() { e.k.Records = records }()
		without := page(b, false)
		if without > 0 {
			b.ReportMetric(float64(with)/float64(without), "x-cards-cost")
		}
	})
}
