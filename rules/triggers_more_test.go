package rules

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// TestDisabledRule: a published version with disabled set does not run — no notification and
// no run log entry — and publishing one without it switches the rule on again.
func TestDisabledRule(t *testing.T) {
	e := newTestEnv(t, Options{})
	const on = `{"key":"new_lot","label":{"zh-CN":"新批次"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"concat('新批次 ', record.lot)"}}]%s}`
	sys := engine.SystemPrincipal()
	e.rule(t, strings.Replace(on, "%s", "", 1))
	e.lot(t, forms.Values{"lot": "A"})
	e.drain(t)
	r, err := e.rs.GetRule(e.ctx, sys, testApp, "new_lot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(strings.Replace(on, "%s", `,"disabled":true`, 1)), r.Rev); err != nil {
		t.Fatal(err)
	}
	if v, err := e.rs.Publish(e.ctx, sys, testApp, "new_lot"); err != nil || v.Number != 2 || !v.Definition.Disabled {
		t.Fatalf("publish disabled: %+v %v", v, err)
	}
	e.lot(t, forms.Values{"lot": "B"})
	e.drain(t)
	if l := e.notifications(t, "wang"); len(l.Items) != 1 {
		t.Fatalf("a disabled rule notified: %+v", l.Items)
	}
	if runs := e.runs(t, "new_lot"); len(runs) != 1 {
		t.Fatalf("a disabled rule logged runs: %+v", runs)
	}
	r, _ = e.rs.GetRule(e.ctx, sys, testApp, "new_lot")
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(strings.Replace(on, "%s", "", 1)), r.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.Publish(e.ctx, sys, testApp, "new_lot"); err != nil {
		t.Fatal(err)
	}
	e.lot(t, forms.Values{"lot": "C"})
	e.drain(t)
	if l := e.notifications(t, "wang"); len(l.Items) != 2 || l.Items[0].Title != "新批次 C" {
		t.Fatalf("switched on again: %+v", l.Items)
	}
}

// TestStatusChangedFrom: status_changed with from fires only for a change out of that status
// (the forms engine's event names the status left).
func TestStatusChangedFrom(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"released","label":{"zh-CN":"解冻"},"form":"lot","trigger":{"on":"status_changed","from":"held","to":"ok"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"concat('放行 ', record.lot)"}}]}`)
	e.rule(t, `{"key":"expired_from_ok","label":{"zh-CN":"过期"},"form":"lot","trigger":{"on":"status_changed","from":"ok"},
	  "actions":[{"type":"notify","params":{"to":["li"],"title":"concat(record.lot, ' 离开合格')"}}]}`)
	sys := engine.SystemPrincipal()
	r := e.lot(t, forms.Values{"lot": "S1"})
	if _, err := e.k.Records.SetRecordStatus(e.ctx, sys, testApp, "lot", r.ID, "held"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	got, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "lot", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// held → ok by the form's transition.
	if _, err := e.fs.Transition(e.ctx, sys, testApp, "lot", r.ID, got.Rev, "release"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	// ok → expired: from ok, but not to ok from held.
	if _, err := e.k.Records.SetRecordStatus(e.ctx, sys, testApp, "lot", r.ID, "expired"); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if l := e.notifications(t, "wang"); len(l.Items) != 1 || l.Items[0].Title != "放行 S1" {
		t.Fatalf("wang (held → ok): %+v", l.Items)
	}
	if l := e.notifications(t, "li"); len(l.Items) != 2 {
		t.Fatalf("li (out of ok: → held, → expired): %+v", l.Items)
	}
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(`{"key":"x","label":{"zh-CN":"x"},"form":"lot","trigger":{"on":"status_changed","from":1},
	  "actions":[{"type":"notify","params":{"to":["li"],"title":"'x'"}}]}`), 0); err == nil || !strings.Contains(err.Error(), "/trigger/from") {
		t.Fatalf("a number as from: %v", err)
	}
}

// reviewFlow is a manual flow on lots: one QA approval, then an end that approves; its
// approval node is overdue after 2 hours (no timeout action).
const reviewFlow = `{
  "key": "lot_review", "name": {"zh-CN": "批次评审"}, "form": "lot", "trigger": {"on": "manual"},
  "nodes": [
    {"id": "start", "type": "start", "next": "qa"},
    {"id": "qa", "type": "approval", "mode": "any", "assignees": [{"kind": "user", "users": ["zhao"]}], "next": "done",
     "timers": {"timeoutAfter": "2h"}},
    {"id": "done", "type": "end", "outcome": "approved"},
    {"id": "refused", "type": "end", "outcome": "rejected"}
  ]
}`

func (e *fullEnv) flow(t testing.TB, def string) {
	t.Helper()
	sys := engine.SystemPrincipal()
	f, err := e.ws.SaveDraft(e.ctx, sys, testApp, []byte(def), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.ws.Publish(e.ctx, sys, testApp, f.Key); err != nil {
		t.Fatal(err)
	}
}

// act takes user's open task on the flow of record and acts on it.
func (e *fullEnv) act(t testing.TB, user, action string) {
	t.Helper()
	items, err := e.ws.Inbox(e.ctx, e.user(user), workflow.BoxTodo, 10, "")
	if err != nil || len(items) != 1 {
		t.Fatalf("%s's inbox: %+v %v", user, items, err)
	}
	if _, err := e.ws.Act(e.ctx, e.user(user), items[0].Task.ID, workflow.ActInput{Action: action}); err != nil {
		t.Fatal(err)
	}
}

// TestFlowTriggers: rules on a flow entering a node, a task going overdue and the flow
// finishing (with its outcome) act on the flow's record; start_flow starts the flow from a
// rule, once per run.
func TestFlowTriggers(t *testing.T) {
	e := newFullEnv(t, Options{}, nil)
	e.flow(t, reviewFlow)
	e.rule(t, `{"key":"review_big","label":{"zh-CN":"大批次评审"},"form":"lot","trigger":{"on":"created"},"condition":"record.qty >= 100",
	  "actions":[{"type":"start_flow","params":{"flow":"lot_review"}}]}`)
	e.rule(t, `{"key":"at_qa","label":{"zh-CN":"待质检"},"form":"lot","trigger":{"on":"node_entered","flow":"lot_review","node":"qa"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"concat(record.lot, ' 到达 ', flow.node, ' by ', user.username)"}}]}`)
	e.rule(t, `{"key":"overdue","label":{"zh-CN":"超时"},"form":"lot","trigger":{"on":"task_overdue","node":"qa"},
	  "actions":[{"type":"notify","params":{"to":["li"],"title":"concat(record.lot, ' 评审超时')"}}]}`)
	e.rule(t, `{"key":"approved","label":{"zh-CN":"通过"},"form":"lot","trigger":{"on":"flow_finished","flow":"lot_review","outcome":"approved"},
	  "actions":[{"type":"set_status","params":{"status":"held"}}]}`)
	e.rule(t, `{"key":"rejected","label":{"zh-CN":"驳回"},"form":"lot","trigger":{"on":"flow_finished","outcome":"rejected"},
	  "actions":[{"type":"notify","params":{"to":["li"],"title":"concat(record.lot, ' 驳回')"}}]}`)
	sys := engine.SystemPrincipal()
	small := e.lot(t, forms.Values{"lot": "F0", "qty": 1})
	big := e.lot(t, forms.Values{"lot": "F1", "qty": 500})
	e.drain(t)
	if l := e.notifications(t, "wang"); len(l.Items) != 1 || l.Items[0].Title != "F1 到达 qa by rule:review_big@1" || l.Items[0].Record != big.ID {
		t.Fatalf("node entered: %+v", l.Items)
	}
	runs := e.runs(t, "review_big")
	if len(runs) != 2 {
		t.Fatalf("review_big runs: %+v", runs)
	}
	var started Run
	for _, r := range runs {
		if r.Record == big.ID {
			started = r
		}
	}
	if started.Outcome != OutcomeFired || started.Actions[0].Action != "workflow.start" || started.Actions[0].Result["started"] != true {
		t.Fatalf("start_flow run: %+v", started)
	}
	// The action run again (a retried event) finds the instance it started.
	act, _ := e.k.Actions.Get("workflow.start")
	res, err := act.Run(e.ctx, engine.ActionContext{Key: "rule:" + engine.DefinitionVersionID(testApp, "review_big", 1) + ":" + started.Event + "#0",
		App: testApp, Form: "lot", Record: big.ID, Actor: sys, Params: map[string]any{"flow": "lot_review"}})
	if err != nil || res["instance"] != started.Actions[0].Result["instance"] {
		t.Fatalf("run again: %+v %v (first %+v)", res, err, started.Actions[0].Result)
	}
	// Another run while it is running leaves it alone.
	res, err = act.Run(e.ctx, engine.ActionContext{Key: "other", App: testApp, Form: "lot", Record: big.ID, Actor: sys, Params: map[string]any{"flow": "lot_review"}})
	if err != nil || res["started"] != false {
		t.Fatalf("second start: %+v %v", res, err)
	}
	// Overdue after two hours: the timer fires the flow's overdue event.
	e.clock.Add(3 * time.Hour)
	if _, err := e.ws.FireTimers(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if l := e.notifications(t, "li"); len(l.Items) != 1 || l.Items[0].Title != "F1 评审超时" {
		t.Fatalf("overdue: %+v", l.Items)
	}
	// Overdue only marked the task: zhao still approves, and the flow finishes approved.
	e.act(t, "zhao", workflow.ActApprove)
	e.drain(t)
	got, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "lot", big.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != "held" {
		t.Fatalf("after approval: status %s", got.Status)
	}
	fin := e.runs(t, "approved")
	if len(fin) != 1 || fin[0].Trigger != "flow.finished" || fin[0].Record != big.ID {
		t.Fatalf("approved runs: %+v", fin)
	}
	// A rejection answers the other rule only.
	inst, err := e.ws.Start(e.ctx, sys, testApp, "lot_review", small.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	e.act(t, "zhao", workflow.ActReject)
	e.drain(t)
	if l := e.notifications(t, "li"); len(l.Items) != 2 || l.Items[0].Title != "F0 驳回" {
		t.Fatalf("rejected (%s): %+v", inst.ID, l.Items)
	}
	if fin := e.runs(t, "approved"); len(fin) != 1 {
		t.Fatalf("approved fired on a rejection: %+v", fin)
	}
	// An overdue mark is not an act: the initiator may still withdraw, and the flow
	// finishes withdrawn (which the approved rule does not answer).
	late := e.lot(t, forms.Values{"lot": "F2", "qty": 1})
	e.drain(t)
	inst, err = e.ws.Start(e.ctx, sys, testApp, "lot_review", late.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(3 * time.Hour)
	if _, err := e.ws.FireTimers(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if l := e.notifications(t, "li"); len(l.Items) != 3 || l.Items[0].Title != "F2 评审超时" {
		t.Fatalf("second overdue: %+v", l.Items)
	}
	if w, err := e.ws.Withdraw(e.ctx, sys, inst.ID, ""); err != nil || w.State != workflow.StateWithdrawn {
		t.Fatalf("withdraw after an overdue mark: %+v %v", w, err)
	}
	e.drain(t)
	if fin := e.runs(t, "approved"); len(fin) != 1 {
		t.Fatalf("approved fired on a withdrawal: %+v", fin)
	}
	// start_flow names a manual flow of the rule's form.
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(`{"key":"x","label":{"zh-CN":"x"},"form":"ncr","trigger":{"on":"created"},
	  "actions":[{"type":"start_flow","params":{"flow":"lot_review"}}]}`), 0); err == nil || !strings.Contains(err.Error(), "/actions/0/params/flow") {
		t.Fatalf("a flow of another form: %v", err)
	}
}

// scheduleRule notifies the warehouse at 08:00 Berlin time on weekdays.
const scheduleRule = `{"key":"morning","label":{"zh-CN":"早报"},"form":"lot","trigger":{"on":"schedule","cron":"0 8 * * 1-5","timezone":"Europe/Berlin"},
  "actions":[{"type":"notify","params":{"roles":["warehouse"],"title":"concat('早报 ', string(countOf(lookup('lot', 'expiry_date', format(today(), 'yyyy-MM-dd')) == nil ? [] : [1])))"}}]}`

// TestScheduleOncePerFiring: a schedule rule fires at its cron time in its own time zone, once
// per firing — the job run twice for one tick, a later tick within the catch-up, a second
// kernel on the same store and both at once all fire it once — and not for firings before it
// was published.
func TestScheduleOncePerFiring(t *testing.T) {
	e := newFullEnv(t, Options{}, nil)
	// start is Monday 2026-03-02 02:00 UTC = 03:00 in Berlin; the rule is published then.
	e.rule(t, scheduleRule)
	run := func(e *fullEnv, tick time.Time) *ScheduleResult {
		t.Helper()
		res, err := e.rs.RunSchedules(e.ctx, tick)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	if res := run(e, start); res.Rules != 1 || res.Firings != 0 {
		t.Fatalf("03:00 Berlin: %+v", res)
	}
	// 08:00 Berlin is 07:00 UTC in March (CET).
	firing := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	e.clock.Add(5 * time.Hour)
	if res := run(e, firing); res.Firings != 1 || res.Fired != 1 {
		t.Fatalf("08:00 Berlin: %+v", res)
	}
	if res := run(e, firing); res.Fired != 0 {
		t.Fatalf("the same tick again: %+v", res)
	}
	// The firing is done: the catch-up finds it so and does nothing (no firing counted).
	if res := run(e, firing.Add(10*time.Minute)); res.Firings != 0 || res.Fired != 0 {
		t.Fatalf("a later tick catching up: %+v", res)
	}
	// A second node (another kernel on the same store) and both at once the next day.
	second := newFullPlatform(t, e.st, e.clock, Options{}, nil, false)
	if res := run(second, firing); res.Fired != 0 {
		t.Fatalf("the second node, same firing: %+v", res)
	}
	next := firing.Add(24 * time.Hour)
	e.clock.Add(24 * time.Hour)
	var wg sync.WaitGroup
	fired := make([]int, 2)
	for i, node := range []*fullEnv{e, second} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := node.rs.RunSchedules(context.Background(), next)
			if err != nil {
				t.Error(err)
				return
			}
			fired[i] = res.Fired
		}()
	}
	wg.Wait()
	if fired[0]+fired[1] != 1 {
		t.Fatalf("two nodes at once fired %v", fired)
	}
	e.drain(t)
	for _, u := range []string{"wang", "li"} {
		if l := e.notifications(t, u); len(l.Items) != 2 || l.Items[0].Title != "早报 0" {
			t.Fatalf("%s: %+v", u, l.Items)
		}
	}
	runs := e.runs(t, "morning")
	if len(runs) != 2 || runs[0].Trigger != "schedule:2026-03-03T07:00Z" || runs[1].Trigger != "schedule:2026-03-02T07:00Z" {
		t.Fatalf("runs: %+v", runs)
	}
	// Saturday: not a firing day.
	sat := time.Date(2026, 3, 7, 7, 0, 0, 0, time.UTC)
	if res := run(e, sat); res.Firings != 0 {
		t.Fatalf("saturday: %+v", res)
	}
	// Mistakes in the trigger are refused when the rule is saved.
	sys := engine.SystemPrincipal()
	for _, c := range []struct{ trigger, path string }{
		{`{"on":"schedule","cron":"0 8 * *"}`, "/trigger/cron"},
		{`{"on":"schedule","cron":"@every 5s"}`, "/trigger/cron"},
		{`{"on":"schedule","cron":"0 8 * * *","timezone":"Mars/Base"}`, "/trigger/timezone"},
		{`{"on":"created","cron":"0 8 * * *"}`, "/trigger/cron"},
		{`{"on":"node_entered"}`, "/trigger/node"},
		{`{"on":"schedule","cron":"0 8 * * *","match":[{"field":"qty","op":"gt","value":"3"}]}`, "/trigger/match/0/field"},
	} {
		def := `{"key":"bad","label":{"zh-CN":"x"},"form":"lot","trigger":` + c.trigger + `,"actions":[{"type":"notify","params":{"to":["li"],"title":"'x'"}}]}`
		_, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(def), 0)
		if err == nil || !strings.Contains(err.Error(), c.path) {
			t.Errorf("%s: want an error at %s, got %v", c.trigger, c.path, err)
		}
	}
	_, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(`{"key":"bad","label":{"zh-CN":"x"},"form":"lot","trigger":{"on":"schedule","cron":"@daily"},
	  "actions":[{"type":"set_status","params":{"status":"held"}}]}`), 0)
	if err == nil || !strings.Contains(err.Error(), "/actions/0/type") {
		t.Errorf("set_status on a schedule without records: %v", err)
	}
}

// TestScheduleMatch: a schedule rule with match runs once per matching record (found by an
// indexed query), at most MaxRecords a firing, the cap in the run log; each record once per
// firing.
func TestScheduleMatch(t *testing.T) {
	e := newFullEnv(t, Options{MaxRecords: 3}, nil)
	for i, days := range []int{1, 2, 3, 4, 5, 40} {
		e.lot(t, forms.Values{"lot": "M" + string(rune('0'+i)), "expiry_date": e.day(days)})
	}
	e.drain(t)
	e.rule(t, `{"key":"soon","label":{"zh-CN":"近效期"},"form":"lot",
	  "trigger":{"on":"schedule","cron":"0 9 * * *","match":[{"field":"expiry_date","op":"lte","value":"addDays(today(), 7)"}]},
	  "actions":[{"type":"set_status","params":{"status":"held"}}]}`)
	// Published at 10:00 on the 2nd (Shanghai): the first firing is 09:00 on the 3rd.
	firing := time.Date(2026, 3, 3, 9, 0, 0, 0, e.k.Location())
	e.clock.Add(23 * time.Hour)
	res, err := e.rs.RunSchedules(e.ctx, firing)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 3 || res.Fired != 3 {
		t.Fatalf("first firing: %+v", res)
	}
	e.drain(t)
	held := e.records(t, "lot", store.Eq("status", "held"))
	if len(held) != 3 {
		t.Fatalf("held: %d", len(held))
	}
	for _, r := range e.runs(t, "soon") {
		if r.Outcome != OutcomeFired || !strings.Contains(r.Reason, "the cap is 3") || r.Depth != 0 {
			t.Fatalf("run %+v", r)
		}
	}
	if res, err := e.rs.RunSchedules(e.ctx, firing); err != nil || res.Fired != 0 {
		t.Fatalf("again: %+v %v", res, err)
	}
	// A match whose value fails when the rule fires is in the run log once a firing, however
	// often the job comes back to it.
	e.rule(t, `{"key":"broken","label":{"zh-CN":"坏"},"form":"lot",
	  "trigger":{"on":"schedule","cron":"30 9 * * *","match":[{"field":"expiry_date","op":"lte","value":"date(record.missing)"}]},
	  "actions":[{"type":"set_status","params":{"status":"held"}}]}`)
	e.clock.Add(24 * time.Hour)
	next := firing.Add(24*time.Hour + 30*time.Minute)
	for _, tick := range []time.Time{next, next.Add(time.Minute), next.Add(2 * time.Minute)} {
		if _, err := e.rs.RunSchedules(e.ctx, tick); err != nil {
			t.Fatal(err)
		}
	}
	if runs := e.runs(t, "broken"); len(runs) != 1 || runs[0].Outcome != OutcomeFailed || !strings.Contains(runs[0].Error, "match expiry_date") {
		t.Fatalf("broken runs: %+v", runs)
	}
}
