package workflow

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
)

// Regression tests of issue 7 ("Hardening what exists"), items 1, 2, 13, 19 and 21 (the
// workflow parts). Each runs on a real kernel over a fresh embedded store.

// labForm is a form whose cost the qa role may not see: qa reads lab records with cost hidden.
const labForm = `{
  "key": "lab",
  "name": {"zh-CN": "化验", "en": "Lab test"},
  "schema": {
    "type": "object",
    "properties": {
      "material": {"x-type": "text", "x-label": {"zh-CN": "物料", "en": "Material"}},
      "cost":     {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
      "note":     {"x-type": "text", "x-label": {"zh-CN": "备注", "en": "Note"}}
    }
  },
  "permissions": {
    "clerk": {"actions": ["create", "read", "update"]},
    "qa":    {"actions": ["read"], "hidden": ["cost"]}
  }
}`

// labEnv adds to the test platform the lab form, a role "checker" that is a member of the app
// but has no permission on the form, and its user lena.
func labEnv(t *testing.T) *testEnv {
	t.Helper()
	e := newTestEnv(t, "", nil)
	sys := engine.SystemPrincipal()
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(labForm), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "lab"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: "checker", Label: engine.Text{ZH: "checker"},
		Grants: []engine.Grant{{App: testApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "lena", Password: "password123", Roles: []string{"checker"}}); err != nil {
		t.Fatal(err)
	}
	e.users["lena"] = &engine.Principal{Username: "lena", Roles: []string{"checker"}}
	return e
}

// labFlow: carol (qa) fills in cost and note at a1, where every field is visible; then bob (qa)
// and lena (checker) approve at a2, which shows material and note only.
func labFlow(t *testing.T, e *testEnv) {
	t.Helper()
	a1 := approval("a1", ModeSingle, "a2", "carol")
	a1.Fields = &NodeFields{Visible: []string{"material", "cost", "note"}, Editable: []string{"cost", "note"}}
	a2 := approval("a2", ModeAll, "end", "bob", "lena")
	a2.Fields = &NodeFields{Visible: []string{"material", "note"}}
	def := Definition{Key: "labflow", Name: engine.Text{ZH: "化验审批", EN: "Lab approval"}, Form: "lab",
		Trigger: Trigger{On: "manual"}, Nodes: []Node{startNode("a1"), a1, a2, endOK()}}
	raw, err := json.Marshal(def)
	if err != nil {
		t.Fatal(err)
	}
	e.install(t, raw)
}

// labStart creates a lab record as alice and starts the lab flow on it.
func labStart(t *testing.T, e *testEnv, data map[string]any) *Instance {
	t.Helper()
	r, err := e.fs.Create(e.ctx, e.p("alice"), testApp, "lab", data)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "labflow", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// stepData gathers the record values an instance's timeline shows.
func stepData(inst *Instance) map[string]any {
	out := map[string]any{}
	for _, st := range inst.Timeline {
		for k, v := range st.Data {
			out[k] = v
		}
	}
	return out
}

// TestHardening07_Item1_StepDataFiltered: an approver's edit of a field the form hides from a
// role (cost, hidden from qa) does not show in the instance, the record's flows or the task
// page of a qa user, nor of a member without form permissions once their task is closed; the
// form's readers and designers still see it, and its author sees their own step.
func TestHardening07_Item1_StepDataFiltered(t *testing.T) {
	e := labEnv(t)
	labFlow(t, e)
	inst := labStart(t, e, map[string]any{"material": "flour"})
	e.act(t, inst.ID, "carol", "a1", ActInput{Action: ActApprove, Data: map[string]any{"cost": 42, "note": "checked"}})
	if d := stepData(e.reload(t, inst.ID)); d["cost"] == nil || d["note"] == nil {
		t.Fatalf("the stored step lost the edit: %v", d)
	}

	views := func(who string) map[string]map[string]any {
		t.Helper()
		p := e.p(who)
		got := map[string]map[string]any{}
		one, err := e.wf.Instance(e.ctx, p, inst.ID)
		if err != nil {
			t.Fatalf("%s: instance: %v", who, err)
		}
		got["instance"] = stepData(one)
		list, err := e.wf.InstancesOfRecord(e.ctx, p, testApp, "lab", inst.Record)
		if err != nil || len(list) != 1 {
			t.Fatalf("%s: record's flows %v, %v", who, list, err)
		}
		got["flows"] = stepData(&list[0])
		for _, tk := range e.reload(t, inst.ID).Tasks {
			if tk.Assignee == who {
				v, err := e.wf.TaskView(e.ctx, p, tk.ID)
				if err != nil {
					t.Fatalf("%s: task view: %v", who, err)
				}
				got["task page timeline"] = stepData(v.Instance)
				got["task page record"] = v.Record
			}
		}
		return got
	}
	for who, want := range map[string]string{
		"bob":   "note", // qa reads the record, with cost hidden
		"lena":  "note", // a member without form permissions: her task's node shows note, not cost
		"alice": "cost note",
		"root":  "cost note",
		"carol": "cost note", // her own step, although qa may not see cost
	} {
		for where, d := range views(who) {
			if where == "task page record" {
				if _, ok := d["cost"]; ok && who != "alice" && who != "root" {
					t.Errorf("%s: the %s shows cost: %v", who, where, d)
				}
				continue
			}
			var keys []string
			for k := range d {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			if got := strings.Join(keys, " "); got != want {
				t.Errorf("%s: the %s shows %q, want %q", who, where, got, want)
			}
		}
	}
	// Once lena's task is closed, it grants her nothing of the record any more.
	e.act(t, inst.ID, "lena", "a2", ActInput{Action: ActApprove})
	for where, d := range views("lena") {
		if len(d) != 0 {
			t.Errorf("lena, task closed: the %s shows %v", where, d)
		}
	}
}

// TestHardening07_Item2_TaskPageOnlyWhileActionable: the task page shows the record only while
// the task can be acted on, through the node's visible list and the form's field rules; a
// notify task shows the snapshot made when it was created, not the live record.
func TestHardening07_Item2_TaskPageOnlyWhileActionable(t *testing.T) {
	e := labEnv(t)
	a1 := approval("a1", ModeSingle, "a2", "carol")
	a1.Fields = &NodeFields{Visible: []string{"material", "cost", "note"}, Editable: []string{"note"}}
	def := Definition{Key: "labflow", Name: engine.Text{ZH: "化验审批"}, Form: "lab", Trigger: Trigger{On: "manual"},
		Nodes: []Node{startNode("cc"),
			{ID: "cc", Type: NodeNotify, Next: "a1", Assignees: []Assignee{{Kind: assignUser, Users: []string{"lena"}}},
				Fields: &NodeFields{Visible: []string{"material", "note"}}},
			a1, approval("a2", ModeSingle, "end", "bob"), endOK()}}
	raw, _ := json.Marshal(def)
	e.install(t, raw)
	inst := labStart(t, e, map[string]any{"material": "flour", "cost": 7, "note": "first"})
	task := e.taskOf(t, inst.ID, "carol", "a1")

	v, err := e.wf.TaskView(e.ctx, e.p("carol"), task)
	if err != nil {
		t.Fatal(err)
	}
	if v.Record["material"] != "flour" || v.Record["note"] != "first" {
		t.Fatalf("carol's pending task shows %v", v.Record)
	}
	if _, ok := v.Record["cost"]; ok {
		t.Fatalf("the node shows cost, but the form hides it from qa: %v", v.Record)
	}
	e.act(t, inst.ID, "carol", "a1", ActInput{Action: ActApprove, Data: map[string]any{"note": "second"}})
	v, err = e.wf.TaskView(e.ctx, e.p("carol"), task)
	if err != nil {
		t.Fatal(err)
	}
	if v.Record != nil {
		t.Fatalf("carol's finished task still shows the record: %v", v.Record)
	}
	// lena's notify task shows the record as it was when she was notified.
	var cc string
	for _, tk := range e.reload(t, inst.ID).Tasks {
		if tk.Assignee == "lena" {
			cc = tk.ID
		}
	}
	v, err = e.wf.TaskView(e.ctx, e.p("lena"), cc)
	if err != nil {
		t.Fatal(err)
	}
	if v.Record["note"] != "first" || v.Record["material"] != "flour" || v.Record["cost"] != nil {
		t.Fatalf("lena's notify task shows %v, want the snapshot {material flour, note first}", v.Record)
	}
}

// TestHardening07_Item2_TargetsMustBeMembers: transfer, add-signer and delegation go only to
// members of the app (some grant on it): others are a 400 naming the field and the user.
func TestHardening07_Item2_TargetsMustBeMembers(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "a2", "bob"),
		approval("a2", ModeSingle, "end", "carol"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour"})
	task := e.taskOf(t, inst.ID, "bob", "a1")
	// erin is an active user with no grant on the app.
	for _, in := range []ActInput{{Action: ActTransfer, ToUser: "erin"}, {Action: ActAddSigner, ToUser: "erin", Position: "after"}} {
		_, err := e.wf.Act(e.ctx, e.p("bob"), task, in)
		wantField(t, err, "toUser", "flowrun.not_member")
		fe, _ := engine.AsFieldErrors(err)
		if msg := engine.Message(engine.LangEN, fe[0].Code, fe[0].Params); !strings.Contains(msg, "erin") || !strings.Contains(msg, testApp) {
			t.Fatalf("message %q names neither the user nor the app", msg)
		}
	}
	err := e.wf.SetDelegation(e.ctx, e.p("carol"), Delegation{To: "erin", Until: monday.Add(time.Hour)})
	wantField(t, err, "to", "flowrun.no_shared_app")
	// A delegation stored before this check (or a member who has left the app since) does not
	// hand tasks to a non-member: the task stays with its person.
	if err := e.st.Set(e.ctx, delegationsColl, "carol", Delegation{To: "erin", From: monday.Add(-time.Hour), Until: monday.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	got := e.act(t, inst.ID, "bob", "a1", ActInput{Action: ActApprove})
	wantSummary(t, got, "a1:bob:approved a2:carol:pending")
	// A member may still be given a task.
	got = e.act(t, inst.ID, "carol", "a2", ActInput{Action: ActTransfer, ToUser: "dave"})
	wantSummary(t, got, "a1:bob:approved a2:carol:transferred a2:dave:pending")
}

// TestHardening07_Item13_CommentsStoredApart: a comment is its own document: the instance is
// not rewritten, racing comments all land, each with its own number, and they show in the
// timeline in order.
func TestHardening07_Item13_CommentsStoredApart(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour"})
	rev := e.reload(t, inst.ID).Rev
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			who := []string{"alice", "bob"}[i%2]
			_, errs[i] = e.wf.Comment(e.ctx, e.p(who), inst.ID, ActInput{Comment: fmt.Sprintf("c%d", i)})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("comment %d: %v", i, err)
		}
	}
	if got := e.reload(t, inst.ID); got.Rev != rev || countSteps(got, stepComment, "") != 0 {
		t.Fatalf("comments rewrote the instance: rev %d → %d, %d comment steps in it", rev, got.Rev, countSteps(got, stepComment, ""))
	}
	shown, err := e.wf.Instance(e.ctx, e.p("alice"), inst.ID)
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, st := range shown.Timeline {
		if st.Action == stepComment {
			seen = append(seen, st.Comment)
		}
	}
	slices.Sort(seen)
	if len(slices.Compact(slices.Clone(seen))) != n || len(seen) != n {
		t.Fatalf("comments in the timeline %v, want %d distinct", seen, n)
	}
	if c, err := e.wf.commentCount(e.ctx, inst.ID); err != nil || c != n {
		t.Fatalf("comment count %d, %v", c, err)
	}
}

// TestHardening07_Item13_CommentLimits: a comment's length, its attachments and its signature
// are bounded (on comments and on actions alike), and so is the number of an instance's
// comments.
func TestHardening07_Item13_CommentLimits(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour"})
	many := make([]string, maxAttachments+1)
	for i := range many {
		many[i] = fmt.Sprintf("file%d", i)
	}
	for _, c := range []struct {
		in          ActInput
		field, code string
	}{
		{ActInput{Comment: strings.Repeat("长", maxCommentLen+1)}, "comment", "too_long"},
		{ActInput{Comment: "x", Attachments: many}, "attachments", "too_many"},
		{ActInput{Comment: "x", Attachments: []string{"ok", strings.Repeat("f", maxFileIDLen+1)}}, "attachments.1", "too_long"},
		{ActInput{Comment: "x", Signature: strings.Repeat("s", maxFileIDLen+1)}, "signature", "too_long"},
	} {
		_, err := e.wf.Comment(e.ctx, e.p("alice"), inst.ID, c.in)
		wantField(t, err, c.field, c.code)
		in := c.in
		in.Action = ActApprove
		_, err = e.wf.Act(e.ctx, e.p("bob"), e.taskOf(t, inst.ID, "bob", "a1"), in)
		wantField(t, err, c.field, c.code)
	}
	if _, err := e.wf.Comment(e.ctx, e.p("alice"), inst.ID, ActInput{Comment: strings.Repeat("长", maxCommentLen)}); err != nil {
		t.Fatalf("a comment of the largest size: %v", err)
	}
	// Fill the instance up to its limit directly, then one more is refused.
	for n := 2; n <= maxComments; n++ {
		if err := e.st.Put(e.ctx, commentsCollection, commentID(inst.ID, n), commentDoc{Instance: inst.ID, N: n, At: monday, Actor: "alice", Comment: "x"}); err != nil {
			t.Fatal(err)
		}
	}
	_, err := e.wf.Comment(e.ctx, e.p("alice"), inst.ID, ActInput{Comment: "one too many"})
	wantField(t, err, "comment", "flowrun.comments_full")
}

// TestHardening07_Item13_TimersPaged: due timers are read a page at a time, and every one of a
// backlog larger than a page fires.
func TestHardening07_Item13_TimersPaged(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.wf.opts.TimerPage = 5
	const backlog = 23
	var ts []timerDoc
	for i := range backlog {
		inst := &Instance{ID: fmt.Sprintf("gone%02d", i), App: testApp, Flow: "f"}
		// Instances that no longer exist: firing their timers does nothing but drop them.
		ts = append(ts, newTimer(inst, "a1", 1, timerRemind, monday.Add(-time.Duration(i)*time.Minute)))
	}
	if err := e.wf.putTimers(e.ctx, ts); err != nil {
		t.Fatal(err)
	}
	n, err := e.wf.FireTimers(e.ctx)
	if err != nil || n != backlog {
		t.Fatalf("fired %d (%v), want %d", n, err, backlog)
	}
	if got := e.wf.largestTimerPage.Load(); got > 5 {
		t.Fatalf("one read loaded %d timers, want at most a page of 5", got)
	}
	if left, err := e.st.Count(e.ctx, timersCollection, nil); err != nil || left != 0 {
		t.Fatalf("%d timers left (%v)", left, err)
	}
}

// TestHardening07_Item19_BatchErrors: batch-approve reports each failure with a code and a
// message in the caller's language, and names no collection.
func TestHardening07_Item19_BatchErrors(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeAll, "end", "bob", "carol"), endOK()))
	first := e.start(t, "f", map[string]any{"material": "flour"})
	second := e.start(t, "f", map[string]any{"material": "salt"})
	done := e.taskOf(t, first.ID, "bob", "a1")
	e.act(t, first.ID, "bob", "a1", ActInput{Action: ActApprove})
	open := e.taskOf(t, second.ID, "bob", "a1")
	tasks := []string{"nope.1", second.ID + ".99", done, e.taskOf(t, second.ID, "carol", "a1")}
	wantCodes := []string{"not_found", "not_found", "conflict", "forbidden"}
	for _, lang := range []string{engine.LangZH, engine.LangEN} {
		res, err := e.wf.BatchApprove(e.ctx, e.p("bob"), tasks, "ok", "", lang)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.OK || r.Code != wantCodes[i] || r.Message == "" || strings.Contains(r.Message, "wf_") || strings.Contains(r.Message, "flowrun.") {
				t.Errorf("%s: result %d %+v, want code %s with a message", lang, i, r, wantCodes[i])
			}
			raw, _ := json.Marshal(r)
			if strings.Contains(string(raw), "wf_") || strings.Contains(string(raw), "instances") {
				t.Errorf("%s: result names the store: %s", lang, raw)
			}
		}
		if lang == engine.LangEN && res[0].Message != "no such task" {
			t.Errorf("English message %q", res[0].Message)
		}
		if lang == engine.LangZH && res[0].Message != "待办不存在" {
			t.Errorf("Chinese message %q", res[0].Message)
		}
	}
	res, err := e.wf.BatchApprove(e.ctx, e.p("bob"), []string{open}, strings.Repeat("x", maxCommentLen+1), "", engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	if r := res[0]; r.Code != "invalid" || len(r.Fields) != 1 || r.Fields[0].Field != "comment" || !strings.Contains(r.Message, "at most") {
		t.Fatalf("invalid result %+v", r)
	}
}

// TestHardening07_Item21_StartsOnCreate: whether a record create may start flows (the create
// answer's flows: "pending") follows the published flows that start on creation.
func TestHardening07_Item21_StartsOnCreate(t *testing.T) {
	e := newTestEnv(t, "", nil)
	if ok, err := e.wf.StartsOnCreate(e.ctx, testApp, "receipt"); err != nil || ok {
		t.Fatalf("no flow yet: %v, %v", ok, err)
	}
	e.install(t, flowDef("m", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	if ok, err := e.wf.StartsOnCreate(e.ctx, testApp, "receipt"); err != nil || ok {
		t.Fatalf("a manual flow only: %v, %v", ok, err)
	}
	e.install(t, flowDef("c", "create", "qty > 100", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	if ok, err := e.wf.StartsOnCreate(e.ctx, testApp, "receipt"); err != nil || !ok {
		t.Fatalf("a flow on create: %v, %v", ok, err)
	}
	if ok, err := e.wf.StartsOnCreate(e.ctx, testApp, "lab"); err != nil || ok {
		t.Fatalf("another form: %v, %v", ok, err)
	}
}
