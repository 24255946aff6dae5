package workflow

import (
	"testing"

	"tracecraft/engine"
)

// TestTaskViewReturnTargets: the task page names the steps a task may be returned to, nearest
// first, with their node names — the visited earlier steps the engine accepts in a return —
// and none (and no return action) for someone who may not act on the task.
func TestTaskViewReturnTargets(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"),
		approval("a1", ModeSingle, "a2", "bob"), approval("a2", ModeSingle, "a3", "carol"),
		approval("a3", ModeSingle, "end", "dave"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour", "qty": 10})
	first, err := e.wf.TaskView(e.ctx, e.p("bob"), e.taskOf(t, inst.ID, "bob", "a1"))
	if err != nil {
		t.Fatal(err)
	}
	// The first approval may go back only to its initiator (the start node).
	if len(first.ReturnTo) != 1 || first.ReturnTo[0].Node != "start" || first.ReturnTo[0].Type != NodeStart {
		t.Fatalf("a1 returns to %+v", first.ReturnTo)
	}
	e.act(t, inst.ID, "bob", "a1", ActInput{Action: ActApprove})
	e.act(t, inst.ID, "carol", "a2", ActInput{Action: ActApprove})
	task := e.taskOf(t, inst.ID, "dave", "a3")
	v, err := e.wf.TaskView(e.ctx, e.p("dave"), task)
	if err != nil {
		t.Fatal(err)
	}
	want := []ReturnTarget{
		{Node: "a2", Type: NodeApproval, Name: engine.Text{ZH: "审批 a2", EN: "Approve a2"}},
		{Node: "a1", Type: NodeApproval, Name: engine.Text{ZH: "审批 a1", EN: "Approve a1"}},
		{Node: "start", Type: NodeStart},
	}
	if len(v.ReturnTo) != len(want) {
		t.Fatalf("a3 returns to %+v, want %+v", v.ReturnTo, want)
	}
	for i := range want {
		if v.ReturnTo[i] != want[i] {
			t.Fatalf("return target %d: %+v, want %+v", i, v.ReturnTo[i], want[i])
		}
	}
	// Each named step is one the engine takes.
	inst2, err := e.wf.Act(e.ctx, e.p("dave"), task, ActInput{Action: ActReturn, ToNode: v.ReturnTo[1].Node})
	if err != nil {
		t.Fatal(err)
	}
	wantSummary(t, inst2, "a1:bob:approved a2:carol:approved a3:dave:returned a1:bob:pending")
	// Someone else looking at dave's (now closed) task is offered nothing to return to.
	other, err := e.wf.TaskView(e.ctx, e.p("carol"), task)
	if err != nil {
		t.Fatal(err)
	}
	if len(other.ReturnTo) != 0 || other.ReturnTo == nil {
		t.Fatalf("carol sees return targets %#v", other.ReturnTo)
	}
}

// TestInboxWithdrawable: 我发起的 says whether the initiator may still withdraw an instance — it
// runs and nobody has acted — the same judgement Withdraw makes.
func TestInboxWithdrawable(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"),
		approval("a1", ModeSingle, "a2", "bob"), approval("a2", ModeSingle, "end", "carol"), endOK()))
	untouched := e.start(t, "f", nil)
	acted := e.start(t, "f", nil)
	gone := e.start(t, "f", nil)
	e.act(t, acted.ID, "bob", "a1", ActInput{Action: ActApprove})
	if _, err := e.wf.Withdraw(e.ctx, e.p("alice"), gone.ID, ""); err != nil {
		t.Fatal(err)
	}
	items, err := e.wf.Inbox(e.ctx, e.p("alice"), BoxInitiated, 0, "")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, it := range items {
		got[it.Instance] = it.Withdrawable
	}
	want := map[string]bool{untouched.ID: true, acted.ID: false, gone.ID: false}
	for id, w := range want {
		if v, ok := got[id]; !ok || v != w {
			t.Errorf("instance %s withdrawable %v (listed %v), want %v", id, v, ok, w)
		}
	}
	if _, err := e.wf.Withdraw(e.ctx, e.p("alice"), acted.ID, ""); err == nil {
		t.Fatal("an instance someone acted on was withdrawn")
	}
}
