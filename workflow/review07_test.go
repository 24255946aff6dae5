package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/forms"
)

// Regression tests of the review of issue 7's fixes ("TestHardening07Review_N", finding N),
// the workflow parts. Each runs on a real kernel over a fresh embedded store.

// secretForm hides code and qty from the role op, which may create and read records.
const secretForm = `{
  "key": "secret",
  "name": {"zh-CN": "机密", "en": "Secret"},
  "schema": {
    "type": "object",
    "properties": {
      "title": {"x-type": "text", "x-label": {"zh-CN": "标题", "en": "Title"}},
      "code":  {"x-type": "text", "x-label": {"zh-CN": "代码", "en": "Code"}},
      "qty":   {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}}
    }
  },
  "permissions": {
    "op": {"actions": ["create", "read"], "hidden": ["code", "qty"]}
  }
}`

// secretEnv adds the secret form and the user olga (role op, a member of the app).
func secretEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t, "", nil)
	sys := engine.SystemPrincipal()
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(secretForm), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "secret"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: "op", Label: engine.Text{ZH: "op"},
		Grants: []engine.Grant{{App: testApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "olga", Password: "password123", Roles: []string{"op"}}); err != nil {
		t.Fatal(err)
	}
	e.users["olga"] = &engine.Principal{Username: "olga", Roles: []string{"op"}}
	return e
}

// installOn saves and publishes a manual flow of nodes on form.
func (e *testEnv) installOn(t *testing.T, key, form string, nodes ...Node) {
	t.Helper()
	raw, err := json.Marshal(Definition{Key: key, Name: engine.Text{ZH: key, EN: key}, Form: form,
		Trigger: Trigger{On: "manual"}, Nodes: nodes})
	if err != nil {
		t.Fatal(err)
	}
	e.install(t, raw)
}

// TestHardening07Review_1_FailureStepsQuoteNoValue (finding 1): a flow condition that fails on
// a field the form hides from op (code = "TOPSECRET-42", date(code)) and an approver's edit
// that fails validation (qty = "TOPSECRET-42") put neither value on the timeline op reads: the
// steps say what failed in neutral words and carry an error id, under which the cause is
// logged.
func TestHardening07Review_1_FailureStepsQuoteNoValue(t *testing.T) {
	const secret = "TOPSECRET-42"
	e := secretEnv(t)
	e.installOn(t, "route", "secret", startNode("cond"),
		Node{ID: "cond", Type: NodeCondition, Branches: []Branch{{When: `date(code) < now()`, Next: "end"}}, Default: "end"},
		endOK())
	a1 := approval("a1", ModeSingle, "end", "boss")
	a1.Fields = &NodeFields{Visible: []string{"title", "qty"}, Editable: []string{"qty"}}
	e.installOn(t, "edit", "secret", startNode("a1"), a1, endOK())

	rec, err := e.fs.Create(e.ctx, e.p("olga"), testApp, "secret", map[string]any{"title": "t"})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.fs.Get(e.ctx, e.p("root"), testApp, "secret", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Update(e.ctx, e.p("root"), testApp, "secret", rec.ID, got.Rev, map[string]any{"code": secret}); err != nil {
		t.Fatal(err)
	}

	failed, err := e.wf.Start(e.ctx, e.p("olga"), testApp, "route", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	edited, err := e.wf.Start(e.ctx, e.p("olga"), testApp, "edit", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.act(t, edited.ID, "boss", "a1", ActInput{Action: ActApprove, Data: map[string]any{"qty": secret}})

	for _, c := range []struct {
		id, action string
	}{{failed.ID, stepError}, {edited.ID, stepEditFailed}} {
		inst, err := e.wf.Instance(e.ctx, e.p("olga"), c.id)
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := json.Marshal(inst)
		if strings.Contains(string(raw), secret) {
			t.Errorf("olga reads the hidden value in instance %s: %s", c.id, raw)
		}
		var step *Step
		for i := range inst.Timeline {
			if inst.Timeline[i].Action == c.action {
				step = &inst.Timeline[i]
			}
		}
		if step == nil {
			t.Fatalf("instance %s has no %s step: %s", c.id, c.action, timeline(inst))
		}
		if len(step.ErrorID) != 12 || !strings.Contains(step.Comment, "error id "+step.ErrorID) {
			t.Errorf("%s step: comment %q, error id %q; want a neutral text naming the id", c.action, step.Comment, step.ErrorID)
		}
	}
}

// TestHardening07Review_5_RefusedActionsBindNoFiles (finding 5): an action p may not take (not
// p's task, a task already decided) and a comment refused by the instance's comment limit
// bind none of their files to the record's flow timeline: its readers cannot download them,
// and they stay orphans.
func TestHardening07Review_5_RefusedActionsBindNoFiles(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour"})
	task := e.taskOf(t, inst.ID, "bob", "a1")
	carols := e.uploadFile(t, "carol", "carol.pdf")
	if _, err := e.wf.Act(e.ctx, e.p("carol"), task, ActInput{Action: ActApprove, Attachments: []string{carols}}); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("carol acts on bob's task: %v", err)
	}
	e.act(t, inst.ID, "bob", "a1", ActInput{Action: ActApprove})
	bobs := e.uploadFile(t, "bob", "bob.pdf")
	if _, err := e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Signature: bobs}); !engine.IsConflict(err) {
		t.Fatalf("bob acts on his decided task: %v", err)
	}

	// alice's instance has its fill of comments.
	full := e.start(t, "f", map[string]any{"material": "salt"})
	for n := 1; n <= maxComments; n++ {
		if err := e.wf.st.Put(e.ctx, commentsCollection, commentID(full.ID, n), commentDoc{Instance: full.ID, N: n, At: e.clock.Now(), Actor: "alice", Comment: "c"}); err != nil {
			t.Fatal(err)
		}
	}
	alices := e.uploadFile(t, "alice", "alice.pdf")
	_, err := e.wf.Comment(e.ctx, e.p("alice"), full.ID, ActInput{Comment: "one more", Attachments: []string{alices}})
	wantField(t, err, "comment", "flowrun.comments_full")

	for _, id := range []string{carols, bobs, alices} {
		if _, err := e.fs.Download(e.ctx, e.p("root"), testApp, id, &bytes.Buffer{}); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("a reader of the record downloads %s of a refused action: %v", id, err)
		}
	}
	e.clock.Add(forms.FileOrphanAfter * 2)
	if n, err := e.fs.CollectFiles(e.ctx); err != nil || n != 3 {
		t.Errorf("collected %d orphans, %v; want the 3 files of refused actions", n, err)
	}
}

// TestHardening07Review_9_BatchBounded (finding 9): BatchApprove takes at most MaxBatch tasks
// (a field error on tasks before any is approved) and stops when its context ends.
func TestHardening07Review_9_BatchBounded(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour"})
	open := e.taskOf(t, inst.ID, "bob", "a1")

	tasks := []string{open}
	for i := range MaxBatch {
		tasks = append(tasks, fmt.Sprintf("nope.%d", i))
	}
	res, err := e.wf.BatchApprove(e.ctx, e.p("bob"), tasks, "ok", "", engine.LangEN)
	wantField(t, err, "tasks", "too_many")
	if len(res) != 0 {
		t.Fatalf("results of a refused batch: %d", len(res))
	}

	ctx, cancel := context.WithCancel(e.ctx)
	cancel()
	res, err = e.wf.BatchApprove(ctx, e.p("bob"), []string{open, open}, "ok", "", engine.LangEN)
	if !errors.Is(err, context.Canceled) || len(res) != 0 {
		t.Fatalf("a cancelled batch: %+v, %v", res, err)
	}
	if got := e.reload(t, inst.ID); got.State != StateRunning || got.Tasks[0].State != TaskPending {
		t.Fatalf("the task was approved: %s", summary(got))
	}
}

// docsForm has attachments: sheet and extra for everyone, cost_sheet hidden from the role
// viewer, which may only create records (so cannot read them through the form).
const docsForm = `{
  "key": "docs",
  "name": {"zh-CN": "文件", "en": "Documents"},
  "schema": {
    "type": "object",
    "properties": {
      "title":      {"x-type": "text", "x-label": {"zh-CN": "标题", "en": "Title"}},
      "sheet":      {"x-type": "attachment", "x-label": {"zh-CN": "表单", "en": "Sheet"}},
      "cost_sheet": {"x-type": "attachment", "x-label": {"zh-CN": "成本表", "en": "Cost sheet"}},
      "extra":      {"x-type": "attachment", "x-label": {"zh-CN": "附件", "en": "Extra"}}
    }
  },
  "permissions": {
    "clerk":  {"actions": ["create", "read", "update"]},
    "viewer": {"actions": ["create"], "hidden": ["cost_sheet"]}
  }
}`

// TestHardening07Review_7_ApproverDownloadsTaskFiles (finding 7): an approver who may not read
// the record through its form downloads, while their task is actionable, the files in the
// fields their node shows them (within the form's field rules) and those on the flow's
// timeline — not a field the node leaves out or the form hides from them, and nothing once
// the task is decided.
func TestHardening07Review_7_ApproverDownloadsTaskFiles(t *testing.T) {
	e := newTestEnv(t, "", nil)
	sys := engine.SystemPrincipal()
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(docsForm), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "docs"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: "viewer", Label: engine.Text{ZH: "viewer"},
		Grants: []engine.Grant{{App: testApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "vic", Password: "password123", Roles: []string{"viewer"}}); err != nil {
		t.Fatal(err)
	}
	e.users["vic"] = &engine.Principal{Username: "vic", Roles: []string{"viewer"}}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "nina", Password: "password123", Roles: []string{"nobody"}}); err != nil {
		t.Fatal(err)
	}
	e.users["nina"] = &engine.Principal{Username: "nina", Roles: []string{"nobody"}}
	a1 := approval("a1", ModeAll, "end", "vic", "nina")
	a1.Fields = &NodeFields{Visible: []string{"title", "sheet", "cost_sheet"}}
	e.installOn(t, "review", "docs", startNode("a1"), a1, endOK())

	sheet, cost, extra := e.uploadFile(t, "alice", "sheet.pdf"), e.uploadFile(t, "alice", "cost.pdf"), e.uploadFile(t, "alice", "extra.pdf")
	rec, err := e.fs.Create(e.ctx, e.p("alice"), testApp, "docs", map[string]any{"title": "t", "sheet": []any{sheet}, "cost_sheet": []any{cost}, "extra": []any{extra}})
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "review", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	note := e.uploadFile(t, "alice", "note.pdf")
	if _, err := e.wf.Comment(e.ctx, e.p("alice"), inst.ID, ActInput{Comment: "see", Attachments: []string{note}}); err != nil {
		t.Fatal(err)
	}

	downloads := func(who, id string) bool {
		t.Helper()
		_, err := e.fs.Download(e.ctx, e.p(who), testApp, id, &bytes.Buffer{})
		if err != nil && !errors.Is(err, engine.ErrNotFound) {
			t.Fatalf("%s downloads %s: %v", who, id, err)
		}
		return err == nil
	}
	for _, c := range []struct {
		who, file, name string
		want            bool
	}{
		{"nina", sheet, "sheet", true}, // nina is a member of the app with no permission on the form
		{"nina", cost, "cost_sheet", true},
		{"nina", extra, "extra (not on the node)", false},
		{"nina", note, "the comment's attachment", true},
		{"vic", sheet, "sheet", true},
		{"vic", cost, "cost_sheet (hidden from viewer)", false},
		{"vic", extra, "extra (not on the node)", false},
		{"dave", sheet, "sheet (no task)", false},
	} {
		if got := downloads(c.who, c.file); got != c.want {
			t.Errorf("%s downloads %s: %v, want %v", c.who, c.name, got, c.want)
		}
	}

	e.act(t, inst.ID, "nina", "a1", ActInput{Action: ActApprove})
	if downloads("nina", sheet) || downloads("nina", note) {
		t.Error("nina still downloads the files once her task is decided")
	}
	if !downloads("vic", sheet) {
		t.Error("vic, whose task is still open, no longer downloads the sheet")
	}
}
