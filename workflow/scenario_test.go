package workflow

import (
	"errors"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// scenario is one flow run end to end: the flow's nodes (start is "start", the record is a
// receipt made by alice), what happens, and what must hold after each step.
type scenario struct {
	name  string
	nodes []Node
	data  map[string]any
	run   func(t *testing.T, e *testEnv, id string)
}

func endOK() Node { return endNode("end", "", "approved") }

// TestScenarios runs every node type and approval mode through the engine. Each scenario gets
// a fresh platform.
func TestScenarios(t *testing.T) {
	for _, sc := range scenarios() {
		t.Run(sc.name, func(t *testing.T) {
			e := newTestEnv(t, "", nil)
			e.install(t, flowDef("f", "manual", "", sc.nodes...))
			data := sc.data
			if data == nil {
				data = map[string]any{"material": "flour", "qty": 10}
			}
			inst := e.start(t, "f", data)
			sc.run(t, e, inst.ID)
		})
	}
}

func scenarios() []scenario {
	approve := ActInput{Action: ActApprove}
	reject := ActInput{Action: ActReject, Comment: "no"}
	return []scenario{
		{
			name:  "single approve sets the record status",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "end", "bob", "carol"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				wantSummary(t, e.reload(t, id), "a1:bob:pending")
				sig := e.uploadPNG(t, "bob")
				inst := e.act(t, id, "bob", "a1", ActInput{Action: ActApprove, Comment: "fine", Signature: sig})
				wantState(t, inst, StateApproved)
				if got, want := timeline(inst), "start enter@start leave@start enter@a1 approve@a1 leave@a1 enter@end leave@end end@end>approved"; got != want {
					t.Fatalf("timeline\n got %s\nwant %s", got, want)
				}
				s := inst.Timeline[4]
				if s.Actor != "bob" || s.Comment != "fine" || s.Signature != sig || s.Task == "" || !s.At.Equal(monday) {
					t.Fatalf("approve step %+v", s)
				}
				if inst.Finished.IsZero() || len(inst.Active) != 0 {
					t.Fatalf("finished %v active %v", inst.Finished, inst.Active)
				}
				ref, err := e.k.Records.GetRecord(e.ctx, engine.SystemPrincipal(), testApp, "receipt", inst.Record)
				if err != nil || ref.Status != "approved" {
					t.Fatalf("record status %v, %v", ref, err)
				}
				// The events, as stored in the bus's outbox.
				got := map[string]int{}
				outcome := ""
				err = e.st.Find(e.ctx, "_events", bson.D{{Key: "target", Value: id}}, nil, func(raw bson.Raw) error {
					typ := raw.Lookup("type").StringValue()
					got[typ]++
					if typ == EventFinished {
						outcome = raw.Lookup("data", "outcome").StringValue()
					}
					return nil
				})
				want := map[string]int{EventStarted: 1, EventNodeEntered: 3, EventNodeLeft: 3, EventTaskCreated: 1, EventFinished: 1}
				if err != nil || !maps.Equal(got, want) || outcome != StateApproved {
					t.Fatalf("events %v (outcome %q), want %v; %v", got, outcome, want, err)
				}
				entries, err := e.k.Audit.List(e.ctx, engine.AuditQuery{Target: id})
				if err != nil || len(entries) != 2 || entries[0].Action != "flow.approve" || entries[0].Actor != "bob" || entries[1].Action != "flow.start" {
					t.Fatalf("audit %+v, %v", entries, err)
				}
			},
		},
		{
			name:  "single reject ends rejected",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.act(t, id, "bob", "a1", reject)
				wantState(t, inst, StateRejected)
				wantSummary(t, inst, "a1:bob:rejected")
				ref, _ := e.k.Records.GetRecord(e.ctx, engine.SystemPrincipal(), testApp, "receipt", inst.Record)
				if ref.Status != "draft" {
					t.Fatalf("record status %s: a rejection ends without the approved end's status", ref.Status)
				}
			},
		},
		{
			name:  "any: the first decision closes the others",
			nodes: []Node{startNode("a1"), approval("a1", ModeAny, "end", "bob", "carol", "dave"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				bobTask := e.taskOf(t, id, "bob", "a1")
				inst := e.act(t, id, "carol", "a1", approve)
				wantState(t, inst, StateApproved)
				wantSummary(t, inst, "a1:bob:cancelled a1:carol:approved a1:dave:cancelled")
				_, err := e.wf.Act(e.ctx, e.p("bob"), bobTask, approve)
				wantConflict(t, err)
			},
		},
		{
			name:  "all: everyone approves",
			nodes: []Node{startNode("a1"), approval("a1", ModeAll, "end", "bob", "carol"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.act(t, id, "bob", "a1", approve)
				wantState(t, inst, StateRunning)
				inst = e.act(t, id, "carol", "a1", approve)
				wantState(t, inst, StateApproved)
			},
		},
		{
			name:  "all: one rejection rejects",
			nodes: []Node{startNode("a1"), approval("a1", ModeAll, "end", "bob", "carol", "dave"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				e.act(t, id, "bob", "a1", approve)
				inst := e.act(t, id, "carol", "a1", reject)
				wantState(t, inst, StateRejected)
				wantSummary(t, inst, "a1:bob:approved a1:carol:rejected a1:dave:cancelled")
			},
		},
		{
			name:  "sequence: one after another",
			nodes: []Node{startNode("a1"), approval("a1", ModeSequence, "end", "bob", "carol"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				wantSummary(t, inst, "a1:bob:pending a1:carol:waiting")
				_, err := e.wf.Act(e.ctx, e.p("carol"), inst.Tasks[1].ID, approve)
				wantConflict(t, err)
				inst = e.act(t, id, "bob", "a1", approve)
				wantSummary(t, inst, "a1:bob:approved a1:carol:pending")
				inst = e.act(t, id, "carol", "a1", approve)
				wantState(t, inst, StateApproved)
			},
		},
		{
			name: "percent: approved at the share",
			nodes: []Node{startNode("a1"), func() Node {
				n := approval("a1", ModePercent, "end", "bob", "carol", "dave")
				n.Percent = 60
				return n
			}(), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.act(t, id, "bob", "a1", approve)
				wantState(t, inst, StateRunning)
				inst = e.act(t, id, "dave", "a1", approve)
				wantState(t, inst, StateApproved)
				wantSummary(t, inst, "a1:bob:approved a1:carol:cancelled a1:dave:approved")
			},
		},
		{
			name: "percent: rejected as soon as the share is out of reach",
			nodes: []Node{startNode("a1"), func() Node {
				n := approval("a1", ModePercent, "end", "bob", "carol", "dave")
				n.Percent = 60
				return n
			}(), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.act(t, id, "bob", "a1", reject)
				wantState(t, inst, StateRunning) // 2 of 3 can still approve: 67 % ≥ 60 %
				inst = e.act(t, id, "carol", "a1", reject)
				wantState(t, inst, StateRejected)
				wantSummary(t, inst, "a1:bob:rejected a1:carol:rejected a1:dave:cancelled")
			},
		},
		{
			name:  "condition: first branch",
			nodes: conditionFlow(),
			data:  map[string]any{"material": "beef", "qty": 500, "result": "pass"},
			run: func(t *testing.T, e *testEnv, id string) {
				wantSummary(t, e.reload(t, id), "big:bob:pending")
			},
		},
		{
			name:  "condition: second branch",
			nodes: conditionFlow(),
			data:  map[string]any{"material": "beef", "qty": 5, "result": "fail"},
			run: func(t *testing.T, e *testEnv, id string) {
				wantSummary(t, e.reload(t, id), "failed:dave:pending")
			},
		},
		{
			name:  "condition: default",
			nodes: conditionFlow(),
			data:  map[string]any{"material": "beef", "qty": 5, "result": "pass"},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				wantSummary(t, inst, "small:carol:pending")
				if !strings.Contains(timeline(inst), "enter@route leave@route enter@small") {
					t.Fatalf("timeline %s", timeline(inst))
				}
			},
		},
		{
			name: "parallel: the join waits for every path",
			nodes: []Node{startNode("p"), {ID: "p", Type: NodeParallel, Paths: []string{"pa", "pb"}, Join: "j"},
				approval("pa", ModeSingle, "j", "bob"), approval("pb", ModeSingle, "pb2", "carol"), approval("pb2", ModeSingle, "j", "erin"),
				{ID: "j", Type: NodeJoin, Next: "fin"}, approval("fin", ModeSingle, "end", "dave"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				wantSummary(t, inst, "pa:bob:pending pb:carol:pending")
				inst = e.act(t, id, "bob", "pa", approve)
				if !slices.Contains(inst.Active, "j") || !slices.Contains(inst.Active, "pb") {
					t.Fatalf("active %v", inst.Active)
				}
				inst = e.act(t, id, "carol", "pb", approve)
				wantSummary(t, inst, "pa:bob:approved pb:carol:approved pb2:erin:pending")
				// A return within a path leaves the other path's arrival in place.
				inst = e.act(t, id, "erin", "pb2", ActInput{Action: ActReturn, ToNode: "pb"})
				wantSummary(t, inst, "pa:bob:approved pb:carol:approved pb2:erin:returned pb:carol:pending")
				if !slices.Contains(inst.Active, "j") {
					t.Fatalf("the join forgot path a: %v", inst.Active)
				}
				// Returning from a path to the other path is refused.
				_, err := e.wf.Act(e.ctx, e.p("carol"), e.taskOf(t, id, "carol", "pb"), ActInput{Action: ActReturn, ToNode: "pa"})
				wantField(t, err, "toNode", "flowrun.other_branch")
				e.act(t, id, "carol", "pb", approve)
				inst = e.act(t, id, "erin", "pb2", approve)
				if n := countSteps(inst, stepEnter, "fin"); n != 1 {
					t.Fatalf("fin entered %d times: %s", n, timeline(inst))
				}
				if !slices.Equal(inst.Active, []string{"fin"}) {
					t.Fatalf("active %v", inst.Active)
				}
				inst = e.act(t, id, "dave", "fin", approve)
				wantState(t, inst, StateApproved)
			},
		},
		{
			name: "notify: cc tasks in the cc box, and the flow moves on",
			nodes: []Node{startNode("cc"), {ID: "cc", Type: NodeNotify, Next: "a1", Assignees: []Assignee{{Kind: assignUser, Users: []string{"erin", "dave"}}}},
				approval("a1", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				wantSummary(t, inst, "cc:erin:cc cc:dave:cc a1:bob:pending")
				items, err := e.wf.Inbox(e.ctx, e.p("erin"), BoxCC, 10, "")
				if err != nil || len(items) != 1 || items[0].Instance != id || items[0].Task.State != TaskCC {
					t.Fatalf("erin's cc box: %+v, %v", items, err)
				}
				n, err := e.wf.Counts(e.ctx, e.p("erin"))
				if err != nil || n != (InboxCounts{CC: 1}) {
					t.Fatalf("erin's counts %+v, %v", n, err)
				}
				if _, err := e.wf.Comment(e.ctx, e.p("erin"), id, ActInput{Comment: "seen"}); err != nil {
					t.Fatalf("a cc'd person comments: %v", err)
				}
			},
		},
		{
			name: "fill: edits an editable field; others are read-only",
			nodes: []Node{startNode("f1"), {ID: "f1", Type: NodeFill, Next: "end", Assignees: []Assignee{{Kind: assignUser, Users: []string{"bob"}}},
				Fields: &NodeFields{Visible: []string{"material", "note"}, Editable: []string{"note"}}}, endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				task := e.taskOf(t, id, "bob", "f1")
				v, err := e.wf.TaskView(e.ctx, e.p("bob"), task)
				if err != nil {
					t.Fatal(err)
				}
				if _, ok := v.Record["qty"]; ok || v.Record["material"] != "flour" {
					t.Fatalf("visible record %v", v.Record)
				}
				if !slices.Equal(v.Editable, []string{"note"}) || !slices.Equal(v.Actions, []string{ActSubmit, ActReturn, ActTransfer, "comment"}) {
					t.Fatalf("editable %v actions %v", v.Editable, v.Actions)
				}
				_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActSubmit, Data: map[string]any{"qty": 1}})
				wantField(t, err, "data.qty", "read_only")
				_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove})
				wantField(t, err, "action", "not_allowed")
				inst, err := e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActSubmit, Data: map[string]any{"note": "checked"}})
				if err != nil {
					t.Fatal(err)
				}
				wantState(t, inst, StateApproved)
				wantSummary(t, inst, "f1:bob:done")
				ref, _ := e.k.Records.GetRecord(e.ctx, engine.SystemPrincipal(), testApp, "receipt", inst.Record)
				if ref.Data["note"] != "checked" || ref.Data["qty"] != 10.0 && ref.Data["qty"] != int64(10) && ref.Data["qty"] != int32(10) {
					t.Fatalf("record %v", ref.Data)
				}
			},
		},
		{
			name: "action node changes the record, then the flow goes on",
			nodes: []Node{startNode("set"), {ID: "set", Type: NodeAction, Next: "route", Action: "record.set_fields",
				Params: map[string]any{"values": map[string]any{"result": "auto"}}},
				{ID: "route", Type: NodeCondition, Branches: []Branch{{When: `result == "auto"`, Next: "end"}}, Default: "a1"},
				approval("a1", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				// The condition after the action saw the action's change.
				wantState(t, inst, StateApproved)
				ref, _ := e.k.Records.GetRecord(e.ctx, engine.SystemPrincipal(), testApp, "receipt", inst.Record)
				if ref.Data["result"] != "auto" || ref.Status != "approved" {
					t.Fatalf("record %v status %s", ref.Data, ref.Status)
				}
				if !strings.Contains(timeline(inst), "enter@set leave@set enter@route") {
					t.Fatalf("timeline %s", timeline(inst))
				}
				if n, _ := e.st.Count(e.ctx, timersCollection, nil); n != 0 {
					t.Fatalf("%d recovery timers left", n)
				}
			},
		},
		{
			name: "return to an earlier node makes new tasks there",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "a2", "bob"), approval("a2", ModeSingle, "end", "carol"),
				endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				e.act(t, id, "bob", "a1", approve)
				task := e.taskOf(t, id, "carol", "a2")
				v, err := e.wf.TaskView(e.ctx, e.p("carol"), task)
				if err != nil || !slices.Contains(v.Actions, ActReturn) {
					t.Fatalf("actions %v, %v", v, err)
				}
				_, err = e.wf.Act(e.ctx, e.p("carol"), task, ActInput{Action: ActReturn, ToNode: "a2"})
				wantField(t, err, "toNode", "flowrun.not_earlier")
				_, err = e.wf.Act(e.ctx, e.p("carol"), task, ActInput{Action: ActReturn})
				wantField(t, err, "toNode", "required")
				inst, err := e.wf.Act(e.ctx, e.p("carol"), task, ActInput{Action: ActReturn, ToNode: "a1", Comment: "redo"})
				if err != nil {
					t.Fatal(err)
				}
				wantSummary(t, inst, "a1:bob:approved a2:carol:returned a1:bob:pending")
				if inst.Tasks[2].Visit <= inst.Tasks[0].Visit || !slices.Equal(inst.Active, []string{"a1"}) {
					t.Fatalf("visits %d → %d, active %v", inst.Tasks[0].Visit, inst.Tasks[2].Visit, inst.Active)
				}
				e.act(t, id, "bob", "a1", approve)
				inst = e.act(t, id, "carol", "a2", approve)
				wantState(t, inst, StateApproved)
				if n := countSteps(inst, stepEnter, "a1"); n != 2 {
					t.Fatalf("a1 entered %d times", n)
				}
			},
		},
		{
			name:  "reject to a node",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "a2", "bob"), func() Node { n := approval("a2", ModeSingle, "end", "carol"); n.RejectTo = "a1"; return n }(), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				e.act(t, id, "bob", "a1", approve)
				inst := e.act(t, id, "carol", "a2", reject)
				wantState(t, inst, StateRunning)
				wantSummary(t, inst, "a1:bob:approved a2:carol:rejected a1:bob:pending")
			},
		},
		{
			name:  "withdraw before anyone acted; conflict after",
			nodes: []Node{startNode("a1"), approval("a1", ModeAll, "end", "bob", "carol"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				_, err := e.wf.Withdraw(e.ctx, e.p("bob"), id, "")
				if !errors.Is(err, engine.ErrForbidden) {
					t.Fatalf("bob withdraws: %v", err)
				}
				// A second instance, withdrawn at once.
				other := e.start(t, "f", map[string]any{"material": "salt"})
				inst, err := e.wf.Withdraw(e.ctx, e.p("alice"), other.ID, "by mistake")
				if err != nil {
					t.Fatal(err)
				}
				wantState(t, inst, StateWithdrawn)
				wantSummary(t, inst, "a1:bob:cancelled a1:carol:cancelled")
				items, _ := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 10, "")
				if len(items) != 1 || items[0].Instance != id {
					t.Fatalf("bob's todo after the withdrawal: %+v", items)
				}
				e.act(t, id, "bob", "a1", approve)
				_, err = e.wf.Withdraw(e.ctx, e.p("alice"), id, "")
				wantConflict(t, err)
			},
		},
		{
			name:  "transfer",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				task := e.taskOf(t, id, "bob", "a1")
				_, err := e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActTransfer, ToUser: "bob"})
				wantField(t, err, "toUser", "flowrun.same_user")
				_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActTransfer, ToUser: "ghost"})
				wantField(t, err, "toUser", "not_found")
				_, err = e.wf.Act(e.ctx, e.p("carol"), task, ActInput{Action: ActTransfer, ToUser: "dave"})
				if !errors.Is(err, engine.ErrForbidden) {
					t.Fatalf("carol acts on bob's task: %v", err)
				}
				inst := e.act(t, id, "bob", "a1", ActInput{Action: ActTransfer, ToUser: "carol", Comment: "on leave"})
				wantSummary(t, inst, "a1:bob:transferred a1:carol:pending")
				inst = e.act(t, id, "carol", "a1", approve)
				wantState(t, inst, StateApproved)
				if !strings.Contains(timeline(inst), "transfer@a1>carol") {
					t.Fatalf("timeline %s", timeline(inst))
				}
			},
		},
		{
			name:  "add signer before",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.act(t, id, "bob", "a1", ActInput{Action: ActAddSigner, ToUser: "carol", Position: "before"})
				wantSummary(t, inst, "a1:carol:pending a1:bob:waiting")
				inst = e.act(t, id, "carol", "a1", approve)
				wantSummary(t, inst, "a1:carol:approved a1:bob:pending")
				inst = e.act(t, id, "bob", "a1", approve)
				wantState(t, inst, StateApproved)
			},
		},
		{
			name:  "add signer after",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "a2", "bob"), approval("a2", ModeSingle, "end", "dave"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.act(t, id, "bob", "a1", ActInput{Action: ActAddSigner, ToUser: "carol", Position: "after"})
				wantSummary(t, inst, "a1:bob:pending a1:carol:waiting")
				inst = e.act(t, id, "bob", "a1", approve)
				wantSummary(t, inst, "a1:bob:approved a1:carol:pending")
				inst = e.act(t, id, "carol", "a1", approve)
				wantSummary(t, inst, "a1:bob:approved a1:carol:approved a2:dave:pending")
			},
		},
		{
			name: "assignees: role, department heads, manager, initiator, field",
			nodes: []Node{startNode("a1"), {ID: "a1", Type: NodeApproval, Mode: ModeAll, Next: "end", Assignees: []Assignee{
				{Kind: assignRole, Role: "qa"}, {Kind: assignDeptHead, Levels: 2}, {Kind: assignManager},
				{Kind: assignInitiator}, {Kind: assignField, Field: "inspector"}, {Kind: assignUser, Users: []string{"bob"}},
			}}, endOK()},
			data: map[string]any{"material": "milk", "inspector": "erin"},
			run: func(t *testing.T, e *testEnv, id string) {
				wantSummary(t, e.reload(t, id), "a1:bob:pending a1:carol:pending a1:dave:pending a1:hank:pending a1:boss:pending "+
					"a1:mona:pending a1:alice:pending a1:erin:pending")
			},
		},
		{
			name:  "empty assignees: skip",
			nodes: []Node{startNode("a1"), func() Node { n := roleNode("a1", "a2"); n.OnEmpty = onEmptySkip; return n }(), approval("a2", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				wantSummary(t, inst, "a2:bob:pending")
				if countSteps(inst, stepSkip, "a1") != 1 {
					t.Fatalf("timeline %s", timeline(inst))
				}
			},
		},
		{
			name:  "empty assignees: admin",
			nodes: []Node{startNode("a1"), func() Node { n := roleNode("a1", "end"); n.OnEmpty = onEmptyAdmin; return n }(), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				wantSummary(t, e.reload(t, id), "a1:root:pending")
			},
		},
		{
			name:  "empty assignees: fail",
			nodes: []Node{startNode("a1"), func() Node { n := roleNode("a1", "end"); n.OnEmpty = onEmptyFail; return n }(), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				inst := e.reload(t, id)
				wantState(t, inst, StateFailed)
				if countSteps(inst, stepError, "a1") != 1 {
					t.Fatalf("timeline %s", timeline(inst))
				}
			},
		},
		{
			name:  "timers: remind, then escalate",
			nodes: []Node{startNode("a1"), timedNode("escalate"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				e.clock.Add(45 * time.Minute)
				if n, err := e.wf.FireTimers(e.ctx); err != nil || n != 1 {
					t.Fatalf("fired %d, %v", n, err)
				}
				inst := e.reload(t, id)
				if countSteps(inst, stepRemind, "a1") != 1 {
					t.Fatalf("timeline %s", timeline(inst))
				}
				e.clock.Add(time.Hour)
				if n, err := e.wf.FireTimers(e.ctx); err != nil || n != 1 {
					t.Fatalf("fired %d, %v", n, err)
				}
				inst = e.reload(t, id)
				wantSummary(t, inst, "a1:bob:pending a1:carol:waiting a1:mona:pending")
				// The escalated manager decides the node.
				inst = e.act(t, id, "mona", "a1", approve)
				wantState(t, inst, StateApproved)
			},
		},
		{
			name: "timers: timeout returns to the previous node",
			nodes: []Node{startNode("a0"), approval("a0", ModeSingle, "a1", "dave"), func() Node {
				n := timedNode("return")
				return n
			}(), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				e.act(t, id, "dave", "a0", approve)
				e.clock.Add(3 * time.Hour)
				if _, err := e.wf.FireTimers(e.ctx); err != nil {
					t.Fatal(err)
				}
				inst := e.reload(t, id)
				wantSummary(t, inst, "a0:dave:approved a1:bob:cancelled a1:carol:cancelled a0:dave:pending")
				if !strings.Contains(timeline(inst), "timeout@a1>return") {
					t.Fatalf("timeline %s", timeline(inst))
				}
			},
		},
		{
			name:  "delegation",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "a2", "bob"), approval("a2", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				// Set after the first task was made: only later tasks are delegated.
				d := Delegation{To: "dave", From: monday.Add(-time.Hour), Until: monday.Add(time.Hour)}
				if err := e.wf.SetDelegation(e.ctx, e.p("bob"), Delegation{To: "bob", Until: monday.Add(time.Hour)}); err == nil {
					t.Fatal("delegating to oneself was accepted")
				}
				if err := e.wf.SetDelegation(e.ctx, e.p("bob"), d); err != nil {
					t.Fatal(err)
				}
				got, err := e.wf.GetDelegation(e.ctx, e.p("bob"))
				if err != nil || got == nil || got.To != "dave" || !got.Until.Equal(d.Until) {
					t.Fatalf("delegation %+v, %v", got, err)
				}
				inst := e.act(t, id, "bob", "a1", approve)
				wantSummary(t, inst, "a1:bob:approved a2:dave:pending(for bob)")
				items, _ := e.wf.Inbox(e.ctx, e.p("dave"), BoxTodo, 10, "")
				if len(items) != 1 || items[0].Task.OnBehalf != "bob" {
					t.Fatalf("dave's todo %+v", items)
				}
				inst = e.act(t, id, "dave", "a2", approve)
				wantState(t, inst, StateApproved)
				if err := e.wf.SetDelegation(e.ctx, e.p("bob"), Delegation{}); err != nil {
					t.Fatal(err)
				}
				if got, err := e.wf.GetDelegation(e.ctx, e.p("bob")); got != nil || err != nil {
					t.Fatalf("delegation after removal %+v, %v", got, err)
				}
			},
		},
		{
			name:  "comments and visibility",
			nodes: []Node{startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()},
			run: func(t *testing.T, e *testEnv, id string) {
				if _, err := e.wf.Comment(e.ctx, e.p("erin"), id, ActInput{Comment: "hi"}); !errors.Is(err, engine.ErrForbidden) {
					t.Fatalf("erin comments: %v", err)
				}
				f1 := e.uploadFile(t, "alice", "note.pdf")
				inst, err := e.wf.Comment(e.ctx, e.p("alice"), id, ActInput{Comment: "please hurry", Attachments: []string{f1}})
				if err != nil {
					t.Fatal(err)
				}
				last := inst.Timeline[len(inst.Timeline)-1]
				if last.Action != stepComment || last.Actor != "alice" || !slices.Equal(last.Attachments, []string{f1}) {
					t.Fatalf("comment step %+v", last)
				}
				if _, err := e.wf.Instance(e.ctx, e.p("erin"), id); !errors.Is(err, engine.ErrNotFound) {
					t.Fatalf("erin reads the instance: %v", err)
				}
				for _, who := range []string{"alice", "bob", "root"} {
					if _, err := e.wf.Instance(e.ctx, e.p(who), id); err != nil {
						t.Fatalf("%s reads the instance: %v", who, err)
					}
				}
				list, err := e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", inst.Record)
				if err != nil || len(list) != 1 || list[0].ID != id {
					t.Fatalf("instances of the record %v, %v", list, err)
				}
				// Withdrawing is still allowed: a comment is not a decision.
				if _, err := e.wf.Withdraw(e.ctx, e.p("alice"), id, ""); err != nil {
					t.Fatal(err)
				}
				// Once finished, the flow may start again on the record.
				again, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "f", inst.Record)
				if err != nil {
					t.Fatal(err)
				}
				if _, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "f", inst.Record); !errors.Is(err, engine.ErrConflict) {
					t.Fatalf("second start while running: %v", err)
				}
				list, _ = e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", inst.Record)
				if len(list) != 2 || list[1].ID != again.ID {
					t.Fatalf("instances of the record %v", list)
				}
			},
		},
	}
}

// conditionFlow routes by quantity and result: big (qty > 100) to bob, failed to dave, else
// to carol.
func conditionFlow() []Node {
	return []Node{startNode("route"), {ID: "route", Type: NodeCondition, Branches: []Branch{
		{When: "qty > 100", Next: "big"}, {When: `result == "fail"`, Next: "failed"}}, Default: "small"},
		approval("big", ModeSingle, "end", "bob"), approval("failed", ModeSingle, "end", "dave"),
		approval("small", ModeSingle, "end", "carol"), endOK()}
}

func roleNode(id, next string) Node {
	return Node{ID: id, Type: NodeApproval, Next: next, Assignees: []Assignee{{Kind: assignRole, Role: "nobody"}}}
}

// timedNode is a1: bob then carol in sequence, reminded after 30m, timing out after 1h.
func timedNode(action string) Node {
	n := approval("a1", ModeSequence, "end", "bob", "carol")
	n.Timers = &Timers{RemindAfter: "30m", TimeoutAfter: "1h", Action: action, Escalate: []Assignee{{Kind: assignManager}}}
	if action != "escalate" {
		n.Timers.Escalate = nil
	}
	return n
}

// TestAutostart: a flow with trigger create starts on new records whose When holds, once per
// record even when the event comes again.
func TestAutostart(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("auto", "create", "qty > 10", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	big := e.record(t, map[string]any{"material": "rice", "qty": 50})
	small := e.record(t, map[string]any{"material": "rice", "qty": 5})
	if err := e.k.Bus.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	for rec, want := range map[string]int{big: 1, small: 0} {
		list, err := e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", rec)
		if err != nil || len(list) != want {
			t.Fatalf("record %s: %d instances (%v), want %d", rec, len(list), err, want)
		}
		if want == 1 && (list[0].Initiator != "alice" || list[0].Flow != "auto") {
			t.Fatalf("instance %+v", list[0])
		}
	}
	// The event again, twice at once: still one instance.
	ev := engine.Event{Type: engine.EventRecordCreated, App: testApp, Actor: "alice", Data: map[string]any{"form": "receipt", "id": big}}
	done := make(chan error, 2)
	for range 2 {
		go func() { done <- e.wf.onRecordCreated(e.ctx, ev) }()
	}
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	list, _ := e.wf.InstancesOfRecord(e.ctx, e.p("alice"), testApp, "receipt", big)
	if len(list) != 1 {
		t.Fatalf("%d instances after redelivery", len(list))
	}
	// A manual start of the same flow while it runs is a conflict.
	if _, err := e.wf.Start(e.ctx, e.p("alice"), testApp, "auto", big); !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("manual start: %v", err)
	}
}

// TestInboxBoxes: the four boxes and their counts, newest first, paged, and batch approval.
func TestInboxBoxes(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("cc"),
		Node{ID: "cc", Type: NodeNotify, Next: "a1", Assignees: []Assignee{{Kind: assignUser, Users: []string{"erin"}}}},
		approval("a1", ModeSingle, "end", "bob"), endOK()))
	var ids []string
	for i := range 3 {
		ids = append(ids, e.start(t, "f", map[string]any{"material": "m", "qty": i}).ID)
		e.clock.Add(time.Hour)
	}
	counts := func(who string, want InboxCounts) {
		t.Helper()
		got, err := e.wf.Counts(e.ctx, e.p(who))
		if err != nil || got != want {
			t.Fatalf("%s's counts %+v (%v), want %+v", who, got, err, want)
		}
	}
	counts("bob", InboxCounts{Todo: 3})
	counts("alice", InboxCounts{Initiated: 3})
	counts("erin", InboxCounts{CC: 3})

	todo, err := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 2, "")
	if err != nil || len(todo) != 2 || todo[0].Instance != ids[2] || todo[1].Instance != ids[1] {
		t.Fatalf("bob's first page %+v, %v", todo, err)
	}
	if todo[0].Waiting != "1h" || todo[1].Waiting != "2h" || todo[0].NodeName.EN != "Approve a1" || todo[0].Title == "" || todo[0].Initiator != "alice" {
		t.Fatalf("items %+v", todo)
	}
	page2, err := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 2, todo[1].Task.ID)
	if err != nil || len(page2) != 1 || page2[0].Instance != ids[0] {
		t.Fatalf("bob's second page %+v, %v", page2, err)
	}
	if _, err := e.wf.Inbox(e.ctx, e.p("bob"), "later", 2, ""); err == nil {
		t.Fatal("an unknown box was accepted")
	}

	res, err := e.wf.BatchApprove(e.ctx, e.p("bob"), []string{todo[0].Task.ID, todo[1].Task.ID, "nope.1", todo[0].Task.ID}, "ok", "", engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ok", "ok", "not_found", "conflict"}
	for i, r := range res {
		got := "ok"
		if !r.OK {
			got = r.Code
		}
		if got != want[i] {
			t.Fatalf("batch result %d: %+v, want %s", i, r, want[i])
		}
	}
	counts("bob", InboxCounts{Todo: 1, Done: 2})
	done, _ := e.wf.Inbox(e.ctx, e.p("bob"), BoxDone, 10, "")
	if len(done) != 2 || done[0].Task.State != TaskApproved {
		t.Fatalf("bob's done box %+v", done)
	}
	initiated, _ := e.wf.Inbox(e.ctx, e.p("alice"), BoxInitiated, 10, "")
	if len(initiated) != 3 || initiated[0].Instance != ids[2] || initiated[0].State != StateApproved || initiated[2].State != StateRunning ||
		initiated[2].Task.Assignee != "bob" || initiated[2].Waiting != "3h" {
		t.Fatalf("alice's initiated box %+v", initiated)
	}
	// A projection left stale (a process that stopped between storing an instance and
	// projecting it) is not offered as a todo, and is repaired.
	inst := e.reload(t, ids[0])
	inst.Tasks[1].State = TaskCancelled
	inst.State, inst.Active = StateWithdrawn, []string{}
	if _, err := e.st.Update(e.ctx, instancesCollection, inst.ID, inst.Rev, inst); err != nil {
		t.Fatal(err)
	}
	counts("bob", InboxCounts{Todo: 1, Done: 2})
	if todo, _ := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 10, ""); len(todo) != 0 {
		t.Fatalf("stale todo offered: %+v", todo)
	}
	counts("bob", InboxCounts{Done: 2})
}
