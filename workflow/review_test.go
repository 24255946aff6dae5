package workflow

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// Regression tests of the review: each runs on a real kernel and a fresh embedded store.

// TestReviewTaskViewOwnTaskOnly: the record filtered by a task's node goes only to that
// task's person; the initiator or a CC'd person asking for someone else's task id gets none.
func TestReviewTaskViewOwnTaskOnly(t *testing.T) {
	e := newTestEnv(t, "", nil)
	a1 := approval("a1", ModeSingle, "end", "bob")
	a1.Fields = &NodeFields{Visible: []string{"material", "note"}}
	e.install(t, flowDef("f", "manual", "", startNode("cc"),
		Node{ID: "cc", Type: NodeNotify, Next: "a1", Assignees: []Assignee{{Kind: assignUser, Users: []string{"erin"}}},
			Fields: &NodeFields{Visible: []string{"material"}}},
		a1, endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour", "qty": 10, "note": "secret"})
	bobTask := e.taskOf(t, inst.ID, "bob", "a1")
	for _, who := range []string{"alice", "erin"} {
		v, err := e.wf.TaskView(e.ctx, e.p(who), bobTask)
		if err != nil {
			t.Fatalf("%s: %v", who, err)
		}
		if v.Record != nil || len(v.Editable) != 0 {
			t.Fatalf("%s sees bob's task record %v, editable %v", who, v.Record, v.Editable)
		}
	}
	v, err := e.wf.TaskView(e.ctx, e.p("bob"), bobTask)
	if err != nil || v.Record["note"] != "secret" || v.Record["material"] != "flour" || v.Record["qty"] != nil {
		t.Fatalf("bob's own view %v, %v", v, err)
	}
	var ccTask string
	for _, tk := range e.reload(t, inst.ID).Tasks {
		if tk.Assignee == "erin" {
			ccTask = tk.ID
		}
	}
	v, err = e.wf.TaskView(e.ctx, e.p("erin"), ccTask)
	if err != nil || v.Record["material"] != "flour" || v.Record["note"] != nil {
		t.Fatalf("erin's own view %v, %v", v, err)
	}
}

// TestReviewRejectToApprovedEnd: a rejection may not go to an end whose outcome is approved,
// set or by default.
func TestReviewRejectToApprovedEnd(t *testing.T) {
	e := newTestEnv(t, "", nil)
	a1 := approval("a1", ModeSingle, "a2", "bob")
	a1.RejectTo = "end"
	a2 := approval("a2", ModeSingle, "end", "carol")
	a2.RejectTo = "done"
	raw := flowDef("f", "manual", "", startNode("a1"), a1, a2, endNode("end", "", ""), endNode("done", StateApproved, ""),
		endNode("no", StateRejected, ""))
	_, err := e.wf.SaveDraft(e.ctx, engine.SystemPrincipal(), testApp, raw, 0)
	wantField(t, err, "/nodes/2/rejectTo", "reject_to_approved")
	// rejectTo "end" is the keyword, not the node "end": it stays allowed.
	if fe, _ := engine.AsFieldErrors(err); len(fe) != 1 {
		t.Fatalf("errors %v, want only a2's rejectTo", err)
	}
	if msg := engine.Message(engine.LangEN, "reject_to_approved", nil); msg == "" || msg == "reject_to_approved" {
		t.Fatalf("no message for reject_to_approved: %q", msg)
	}
	a2.RejectTo = "no"
	e.install(t, flowDef("f", "manual", "", startNode("a1"), a1, a2, endNode("end", "", ""), endNode("no", StateRejected, "")))
	inst := e.start(t, "f", nil)
	e.act(t, inst.ID, "bob", "a1", ActInput{Action: ActApprove})
	inst = e.act(t, inst.ID, "carol", "a2", ActInput{Action: ActReject})
	wantState(t, inst, StateRejected)
}

// TestReviewStartChecks: a manual start needs a manual trigger whose When holds, and the
// record's author or a designer.
func TestReviewStartChecks(t *testing.T) {
	e := newTestEnv(t, "", nil)
	if _, err := e.k.Auth.CreateUser(e.ctx, engine.SystemPrincipal(), engine.UserInput{Username: "carl", Roles: []string{"clerk"},
		Password: "password123"}); err != nil {
		t.Fatal(err)
	}
	e.loadUsers(t)
	e.users["carl"] = &engine.Principal{Username: "carl", Roles: []string{"clerk"}}
	e.install(t, flowDef("auto", "create", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	e.install(t, flowDef("big", "manual", "qty > 100", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	small := e.record(t, map[string]any{"material": "m", "qty": 5})
	large := e.record(t, map[string]any{"material": "m", "qty": 500})
	if err := e.k.Bus.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	// The create flow started on its own; by hand it never does.
	if _, err := e.wf.Start(e.ctx, e.p("root"), testApp, "auto", small); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("manual start of a create flow: %v", err)
	}
	_, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "big", small)
	wantField(t, err, "flow", "flowrun.trigger_false")
	// carl may read alice's record (same role) but did not write it.
	if _, err := e.k.Records.GetRecord(e.ctx, e.p("carl"), testApp, "receipt", large); err != nil {
		t.Fatalf("carl cannot read the record: %v", err)
	}
	if _, err := e.wf.Start(e.ctx, e.p("carl"), testApp, "big", large); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("start by someone who did not write the record: %v", err)
	}
	if _, err := e.wf.Start(e.ctx, e.p("root"), testApp, "big", large); err != nil {
		t.Fatalf("start by a designer: %v", err)
	}
	if _, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "big", large); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("start while running: %v", err)
	}
}

// TestReviewStartOrphan: a start that stopped after creating its instance (not listed on the
// record, not projected) is repaired by the next start, not reported as someone else's.
func TestReviewStartOrphan(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	rec := e.record(t, map[string]any{"material": "m", "qty": 1})
	e.wf.skipEffects.Store(true)
	orphan, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "f", rec)
	e.wf.skipEffects.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	if list, _ := e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", rec); len(list) != 0 {
		t.Fatalf("the crash left the instance listed: %v", list)
	}
	inst, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "f", rec)
	if err != nil || inst.ID != orphan.ID {
		t.Fatalf("start again: %v, %v (orphan %s)", inst, err, orphan.ID)
	}
	list, err := e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", rec)
	if err != nil || len(list) != 1 || list[0].ID != orphan.ID {
		t.Fatalf("record's instances %v, %v", list, err)
	}
	if todo, _ := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 10, ""); len(todo) != 1 || todo[0].Instance != orphan.ID {
		t.Fatalf("bob's todo %+v", todo)
	}
	// Listed now: a further start is a plain conflict, and once it finished, a new instance.
	if _, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "f", rec); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("start while running: %v", err)
	}
	e.act(t, orphan.ID, "bob", "a1", ActInput{Action: ActApprove})
	again, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "f", rec)
	if err != nil || again.ID == orphan.ID {
		t.Fatalf("start after the end: %v, %v", again, err)
	}
}

func countTimers(t *testing.T, e *testEnv, kind string) int {
	t.Helper()
	n, err := e.st.Count(e.ctx, timersCollection, bson.D{{Key: "kind", Value: kind}})
	if err != nil {
		t.Fatal(err)
	}
	return int(n)
}

// TestReviewSyncTimer: a change stored without its effects (a process that stopped right
// after the write) has its timers already, and its sync timer projects it a minute later.
func TestReviewSyncTimer(t *testing.T) {
	e := newTestEnv(t, "", nil)
	a2 := approval("a2", ModeSingle, "end", "carol")
	a2.Timers = &Timers{RemindAfter: "30m"}
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "a2", "bob"), a2, endOK()))
	inst := e.start(t, "f", nil)
	if n := countTimers(t, e, timerSync); n != 0 {
		t.Fatalf("%d sync timers after a start whose effects ran", n)
	}
	e.wf.skipEffects.Store(true)
	_, err := e.wf.Act(e.ctx, e.p("bob"), e.taskOf(t, inst.ID, "bob", "a1"), ActInput{Action: ActApprove})
	e.wf.skipEffects.Store(false)
	if err != nil {
		t.Fatal(err)
	}
	if n := countTimers(t, e, timerRemind); n != 1 {
		t.Fatalf("%d remind timers: they must be stored before the write", n)
	}
	if n := countTimers(t, e, timerSync); n != 1 {
		t.Fatalf("%d sync timers", n)
	}
	if c, _ := e.wf.Counts(e.ctx, e.p("carol")); c.Todo != 0 {
		t.Fatalf("carol's counts %+v before the sync: the test's crash did not happen", c)
	}
	e.clock.Add(time.Minute)
	if _, err := e.wf.FireTimers(e.ctx); err != nil {
		t.Fatal(err)
	}
	if c, _ := e.wf.Counts(e.ctx, e.p("carol")); c.Todo != 1 {
		t.Fatalf("carol's counts %+v after the sync", c)
	}
	if c, _ := e.wf.Counts(e.ctx, e.p("bob")); c.Todo != 0 || c.Done != 1 {
		t.Fatalf("bob's counts %+v after the sync", c)
	}
	if n := countTimers(t, e, timerSync); n != 0 {
		t.Fatalf("%d sync timers left", n)
	}
	// The remind timer still fires at its time.
	e.clock.Add(30 * time.Minute)
	if _, err := e.wf.FireTimers(e.ctx); err != nil {
		t.Fatal(err)
	}
	if n := countSteps(e.reload(t, inst.ID), stepRemind, "a2"); n != 1 {
		t.Fatalf("%d reminders", n)
	}
}

// TestReviewEditAfterDecision: racing approvers with record edits: only the one whose decision
// is stored writes the record, as themselves, and the condition after the node sees the edit.
func TestReviewEditAfterDecision(t *testing.T) {
	e := newTestEnv(t, "", nil)
	users := []string{"bob", "carol", "dave", "erin", "hank"}
	a1 := approval("a1", ModeAny, "route", users...)
	a1.Fields = &NodeFields{Editable: []string{"note"}}
	e.install(t, flowDef("f", "manual", "", startNode("a1"), a1,
		Node{ID: "route", Type: NodeCondition, Branches: []Branch{{When: `note == "ok"`, Next: "end"}}, Default: "a2"},
		approval("a2", ModeSingle, "end", "mona"), endOK()))
	for round := range 3 {
		inst := e.start(t, "f", nil)
		var wg sync.WaitGroup
		errs := make([]error, len(users))
		// Every task first: the first approval cancels the others' tasks.
		tasks := make([]string, len(users))
		for i, u := range users {
			tasks[i] = e.taskOf(t, inst.ID, u, "a1")
		}
		for i, u := range users {
			task := tasks[i]
			note := "ok"
			if round == 1 {
				note = "hold by " + u
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = e.wf.Act(e.ctx, e.p(u), task, ActInput{Action: ActApprove, Data: map[string]any{"note": note}})
			}()
		}
		wg.Wait()
		winner := ""
		for i, err := range errs {
			switch {
			case err == nil:
				if winner != "" {
					t.Fatalf("two winners: %s and %s", winner, users[i])
				}
				winner = users[i]
			case !errors.Is(err, engine.ErrConflict):
				t.Fatalf("%s: %v", users[i], err)
			}
		}
		if winner == "" {
			t.Fatal("no winner")
		}
		got := e.reload(t, inst.ID)
		ref, err := e.k.Records.GetRecord(e.ctx, engine.SystemPrincipal(), testApp, "receipt", got.Record)
		if err != nil {
			t.Fatal(err)
		}
		if round == 1 {
			if ref.Data["note"] != "hold by "+winner {
				t.Fatalf("note %v, winner %s", ref.Data["note"], winner)
			}
			wantSummary(t, got, strings.TrimSpace(summaryAfter(users, winner))+" a2:mona:pending")
		} else {
			if ref.Data["note"] != "ok" {
				t.Fatalf("note %v", ref.Data["note"])
			}
			wantState(t, got, StateApproved)
		}
		entries, err := e.k.Audit.List(e.ctx, engine.AuditQuery{Target: testApp + "/receipt/" + got.Record, Action: "record.update"})
		if err != nil || len(entries) != 1 || entries[0].Actor != winner {
			t.Fatalf("record updates %+v (%v), want one by %s", entries, err, winner)
		}
		for _, st := range got.Timeline {
			if st.Action == stepApprove && (st.Actor != winner || st.Data["note"] == nil) {
				t.Fatalf("approve step %+v", st)
			}
		}
	}
}

func summaryAfter(users []string, winner string) string {
	var b strings.Builder
	for _, u := range users {
		state := TaskCancelled
		if u == winner {
			state = TaskApproved
		}
		b.WriteString(" a1:" + u + ":" + state)
	}
	return b.String()
}

// TestReviewBindingOrder: the create binding is added before the version is stored and taken
// away only when the latest version, read after, no longer starts on creation.
func TestReviewBindingOrder(t *testing.T) {
	e := newTestEnv(t, "", nil)
	nodes := []Node{startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()}
	e.install(t, flowDef("f", "manual", "", nodes...))
	binding := func() []string {
		var b flowBinding
		if err := e.st.Get(e.ctx, bindingsCollection, flowID(testApp, "receipt"), &b); err != nil {
			return nil
		}
		return b.Flows
	}
	if got := binding(); len(got) != 0 {
		t.Fatalf("binding of a manual flow %v", got)
	}
	v1, err := e.wf.readFlowVersion(e.ctx, testApp, "f", 1)
	if err != nil {
		t.Fatal(err)
	}
	// A publisher of a create version added its entry and stored version 2; the slow publisher
	// of version 1 (manual) reconciles after it and must leave the entry.
	if err := e.wf.updateBinding(e.ctx, testApp, "receipt", "f", true); err != nil {
		t.Fatal(err)
	}
	v2 := *v1
	v2.ID, v2.Number = flowVersionID(testApp, "f", 2), 2
	v2.Definition.Trigger.On = "create"
	raw, err := json.Marshal(v2.Definition)
	if err != nil {
		t.Fatal(err)
	}
	v2.DefJSON = string(raw)
	if err := e.st.Put(e.ctx, versionsCollection, v2.ID, v2); err != nil {
		t.Fatal(err)
	}
	if err := e.wf.bindOnCreate(e.ctx, nil, v1); err != nil {
		t.Fatal(err)
	}
	if got := binding(); len(got) != 1 || got[0] != "f" {
		t.Fatalf("binding %v after a late reconcile of version 1", got)
	}
	// A new record starts version 2.
	rec := e.record(t, map[string]any{"material": "m", "qty": 1})
	if err := e.k.Bus.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	if list, _ := e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", rec); len(list) != 1 || list[0].Version != 2 {
		t.Fatalf("instances %+v", list)
	}
	// Publishing a manual version 3 removes the entry.
	f, err := e.wf.readFlow(e.ctx, testApp, "f")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.wf.SaveDraft(e.ctx, engine.SystemPrincipal(), testApp, flowDef("f", "manual", "", nodes...), f.Rev); err != nil {
		t.Fatal(err)
	}
	if v, err := e.wf.Publish(e.ctx, engine.SystemPrincipal(), testApp, "f"); err != nil || v.Number != 3 {
		t.Fatalf("publish: %v, %v", v, err)
	}
	if got := binding(); len(got) != 0 {
		t.Fatalf("binding %v after a manual version", got)
	}
}
