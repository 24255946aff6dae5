package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

// These tests run the runtime on a real kernel over a fresh embedded store, with the form
// engine providing records: an app "qa" with a receipt form, users in departments, and flows
// saved and published through the Service like the designer does.

const testApp = "qa"

const receiptForm = `{
  "key": "receipt",
  "name": {"zh-CN": "来料验收", "en": "Goods receipt"},
  "schema": {
    "type": "object",
    "properties": {
      "material":  {"x-type": "text", "x-label": {"zh-CN": "物料", "en": "Material"}},
      "qty":       {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
      "result":    {"x-type": "text", "x-label": {"zh-CN": "结果", "en": "Result"}},
      "inspector": {"x-type": "user", "x-label": {"zh-CN": "检验员", "en": "Inspector"}},
      "note":      {"x-type": "text", "x-label": {"zh-CN": "备注", "en": "Note"}}
    }
  },
  "status": {
    "initial": "draft",
    "states": [
      {"key": "draft", "label": {"zh-CN": "草稿"}},
      {"key": "approved", "label": {"zh-CN": "已批准"}, "color": "green"},
      {"key": "rejected", "label": {"zh-CN": "已驳回"}, "color": "red"}
    ],
    "transitions": [
      {"key": "approve", "label": {"zh-CN": "批准"}, "from": ["draft"], "to": "approved"}
    ]
  },
  "permissions": {
    "clerk": {"actions": ["create", "read", "update"]}
  }
}`

// testClock is the controllable clock of the engines under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// testEnv is one running platform.
type testEnv struct {
	ctx   context.Context
	dir   string
	st    *store.Store
	k     *engine.Kernel
	fs    *forms.Service
	wf    *Service
	clock *testClock
	users map[string]*engine.Principal
}

// testUsers: alice works in qc (head: hank, manager: mona); qc's parent plant has head boss;
// root is an administrator; the others approve.
var testUsers = []engine.UserInput{
	{Username: "root", Roles: []string{engine.RoleAdmin}},
	{Username: "mona"},
	{Username: "hank"},
	{Username: "boss"},
	{Username: "alice", Roles: []string{"clerk"}, Manager: "mona"},
	{Username: "bob", Roles: []string{"qa"}},
	{Username: "carol", Roles: []string{"qa"}},
	{Username: "dave", Roles: []string{"qa"}},
	{Username: "erin"},
}

// monday is a Monday 10:00 in Shanghai, the scheduler's default zone.
var monday = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

// newTestEnv starts a platform on a fresh store, or on the store in dir when it is not empty
// (a restart: users, forms and flows are there already).
func newTestEnv(t testing.TB, dir string, clock *testClock) *testEnv {
	t.Helper()
	fresh := dir == ""
	if fresh {
		dir = storetest.TempDir(t)
	}
	if clock == nil {
		clock = &testClock{t: monday}
	}
	st := storetest.OpenEmbedded(t, dir)
	e := newTestPlatform(t, st, clock)
	e.dir = dir
	if fresh {
		e.seed(t)
	}
	e.loadUsers(t)
	return e
}

// newTestPlatform starts a kernel, the form engine and the workflow engine on st.
func newTestPlatform(t testing.TB, st *store.Store, clock *testClock) *testEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet,
		Auth: engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 64, Time: 1, Threads: 1}},
		Bus:  engine.BusOptions{MinBackoff: 20 * time.Millisecond}})
	fs := forms.New(k, forms.Options{Now: clock.Now})
	// The timer job is run by hand (RunDue, FireTimers): its own schedule never comes round.
	wf := New(k, Options{Now: clock.Now, TimerSpec: "@yearly"})
	enginetest.Start(t, k)
	enginetest.DrainAtEnd(t, k)
	return &testEnv{ctx: ctx, st: st, k: k, fs: fs, wf: wf, clock: clock, users: map[string]*engine.Principal{}}
}

func (e *testEnv) seed(t testing.TB) {
	t.Helper()
	sys := engine.SystemPrincipal()
	for _, r := range []string{"clerk", "qa", "nobody"} {
		if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: r, Label: engine.Text{ZH: r},
			Grants: []engine.Grant{{App: testApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range testUsers {
		u.Password = "password123"
		if _, err := e.k.Auth.CreateUser(e.ctx, sys, u); err != nil {
			t.Fatal(err)
		}
	}
	for _, d := range []engine.Department{
		{ID: "plant", Name: engine.Text{ZH: "工厂"}, Head: "boss"},
		{ID: "qc", Name: engine.Text{ZH: "质检"}, Parent: "plant", Head: "hank"},
	} {
		if _, err := e.k.Auth.PutDepartment(e.ctx, sys, d); err != nil {
			t.Fatal(err)
		}
	}
	dept := "qc"
	u, err := e.k.Auth.GetUser(e.ctx, "alice")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.UpdateUser(e.ctx, sys, "alice", engine.UserPatch{Department: &dept}, u.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.CreateApp(e.ctx, sys, forms.AppInput{Key: testApp, Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(receiptForm), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "receipt"); err != nil {
		t.Fatal(err)
	}
}

func (e *testEnv) loadUsers(t testing.TB) {
	t.Helper()
	for _, in := range testUsers {
		u, err := e.k.Auth.GetUser(e.ctx, in.Username)
		if err != nil {
			t.Fatal(err)
		}
		e.users[u.Username] = &engine.Principal{Username: u.Username, DisplayName: u.DisplayName, Roles: u.Roles, Department: u.Department}
	}
}

func (e *testEnv) p(name string) *engine.Principal {
	if p, ok := e.users[name]; ok {
		return p
	}
	return &engine.Principal{Username: name}
}

// flowDef makes a flow definition on the receipt form.
func flowDef(key, on, when string, nodes ...Node) []byte {
	def := Definition{Key: key, Name: engine.Text{ZH: "流程 " + key, EN: "Flow " + key}, Form: "receipt",
		Trigger: Trigger{On: on, When: when}, Nodes: nodes}
	raw, err := json.Marshal(def)
	if err != nil {
		panic(err)
	}
	return raw
}

// install saves and publishes a flow.
func (e *testEnv) install(t testing.TB, raw []byte) {
	t.Helper()
	sys := engine.SystemPrincipal()
	f, err := e.wf.SaveDraft(e.ctx, sys, testApp, raw, 0)
	if err != nil {
		t.Fatalf("save flow: %v", err)
	}
	if _, err := e.wf.Publish(e.ctx, sys, testApp, f.Key); err != nil {
		t.Fatalf("publish flow: %v", err)
	}
}

// record creates a receipt as alice.
func (e *testEnv) record(t testing.TB, data map[string]any) string {
	t.Helper()
	r, err := e.fs.Create(e.ctx, e.p("alice"), testApp, "receipt", data)
	if err != nil {
		t.Fatalf("create record: %v", err)
	}
	return r.ID
}

// start creates a record and starts flow on it as alice.
func (e *testEnv) start(t testing.TB, flow string, data map[string]any) *Instance {
	t.Helper()
	inst, err := e.wf.Start(e.ctx, e.p("alice"), testApp, flow, e.record(t, data))
	if err != nil {
		t.Fatalf("start %s: %v", flow, err)
	}
	return inst
}

func (e *testEnv) reload(t testing.TB, id string) *Instance {
	t.Helper()
	inst, err := e.wf.load(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

// taskOf finds user's pending task on node (its latest visit) in instance id.
func (e *testEnv) taskOf(t testing.TB, id, user, node string) string {
	t.Helper()
	inst := e.reload(t, id)
	v := latestVisit(inst, node)
	for _, tk := range inst.Tasks {
		if tk.Node == node && tk.Visit == v && tk.Assignee == user && tk.State == TaskPending {
			return tk.ID
		}
	}
	t.Fatalf("%s has no pending task on %s: %s", user, node, summary(inst))
	return ""
}

// act does in with user's pending task on node and fails the test on an error.
func (e *testEnv) act(t testing.TB, id, user, node string, in ActInput) *Instance {
	t.Helper()
	inst, err := e.wf.Act(e.ctx, e.p(user), e.taskOf(t, id, user, node), in)
	if err != nil {
		t.Fatalf("%s %s on %s: %v", user, in.Action, node, err)
	}
	return inst
}

// summary lists an instance's tasks as node:assignee:state, in task order.
func summary(inst *Instance) string {
	parts := make([]string, 0, len(inst.Tasks))
	for _, t := range inst.Tasks {
		s := t.Node + ":" + t.Assignee + ":" + t.State
		if t.OnBehalf != "" {
			s += "(for " + t.OnBehalf + ")"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

// timeline lists an instance's steps as action[@node][>target].
func timeline(inst *Instance) string {
	parts := make([]string, 0, len(inst.Timeline))
	for _, s := range inst.Timeline {
		p := s.Action
		if s.Node != "" {
			p += "@" + s.Node
		}
		if s.Target != "" {
			p += ">" + s.Target
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, " ")
}

func countSteps(inst *Instance, action, node string) int {
	n := 0
	for _, s := range inst.Timeline {
		if s.Action == action && s.Node == node {
			n++
		}
	}
	return n
}

func wantState(t testing.TB, inst *Instance, state string) {
	t.Helper()
	if inst.State != state {
		t.Fatalf("state %s, want %s; tasks %s; timeline %s", inst.State, state, summary(inst), timeline(inst))
	}
}

func wantSummary(t testing.TB, inst *Instance, want string) {
	t.Helper()
	if got := summary(inst); got != want {
		t.Fatalf("tasks\n got %s\nwant %s\ntimeline %s", got, want, timeline(inst))
	}
}

func wantConflict(t testing.TB, err error) {
	t.Helper()
	if !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("got %v, want a conflict", err)
	}
}

func wantField(t testing.TB, err error, path, code string) {
	t.Helper()
	fe, ok := engine.AsFieldErrors(err)
	if !ok || !slices.ContainsFunc(fe, func(f engine.FieldError) bool { return f.Path == path && f.Code == code }) {
		t.Fatalf("got %v, want field error %s %s", err, path, code)
	}
}

// Common nodes.
func startNode(next string) Node { return Node{ID: "start", Type: NodeStart, Next: next} }

func endNode(id, outcome, status string) Node {
	return Node{ID: id, Type: NodeEnd, Outcome: outcome, SetStatus: status}
}

func approval(id, mode, next string, users ...string) Node {
	return Node{ID: id, Type: NodeApproval, Name: engine.Text{ZH: "审批 " + id, EN: "Approve " + id}, Mode: mode, Next: next,
		Assignees: []Assignee{{Kind: assignUser, Users: users}}}
}

// TestConcurrentAnyOf: twenty approvers of one any-of node act at once. Exactly one decision
// is recorded, the nineteen others get a conflict, and the instance advances exactly once.
func TestConcurrentAnyOf(t *testing.T) {
	e := newTestEnv(t, "", nil)
	sys := engine.SystemPrincipal()
	var names []string
	for i := range 20 {
		name := fmt.Sprintf("appr%02d", i)
		names = append(names, name)
		if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: name, Password: "password123"}); err != nil {
			t.Fatal(err)
		}
	}
	e.install(t, flowDef("race", "manual", "",
		startNode("a1"), approval("a1", ModeAny, "a2", names...), approval("a2", ModeSingle, "end", "bob"),
		endNode("end", "", "")))
	inst := e.start(t, "race", map[string]any{"material": "flour"})
	tasks := map[string]string{}
	for _, tk := range inst.Tasks {
		if tk.State != TaskPending {
			t.Fatalf("task %s is %s", tk.ID, tk.State)
		}
		tasks[tk.Assignee] = tk.ID
	}
	if len(tasks) != 20 {
		t.Fatalf("%d tasks, want 20", len(tasks))
	}

	var wg sync.WaitGroup
	errs := make([]error, len(names))
	gate := make(chan struct{})
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			_, errs[i] = e.wf.Act(e.ctx, e.p(name), tasks[name], ActInput{Action: ActApprove, Comment: "ok " + name})
		}()
	}
	close(gate)
	wg.Wait()

	ok := 0
	for i, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, engine.ErrConflict):
		default:
			t.Errorf("%s: unexpected error %v", names[i], err)
		}
	}
	if ok != 1 {
		t.Fatalf("%d approvals succeeded, want exactly 1", ok)
	}
	inst = e.reload(t, inst.ID)
	approved, cancelled := 0, 0
	for _, tk := range inst.Tasks {
		switch {
		case tk.Node != "a1":
		case tk.State == TaskApproved:
			approved++
		case tk.State == TaskCancelled:
			cancelled++
		default:
			t.Errorf("task %s of %s is %s", tk.ID, tk.Assignee, tk.State)
		}
	}
	if approved != 1 || cancelled != 19 {
		t.Fatalf("a1: %d approved, %d cancelled; want 1 and 19", approved, cancelled)
	}
	if n := countSteps(inst, stepApprove, "a1"); n != 1 {
		t.Fatalf("%d approve steps on a1, want 1: %s", n, timeline(inst))
	}
	if n := countSteps(inst, stepLeave, "a1"); n != 1 {
		t.Fatalf("a1 left %d times, want 1: %s", n, timeline(inst))
	}
	if n := countSteps(inst, stepEnter, "a2"); n != 1 {
		t.Fatalf("a2 entered %d times, want 1: %s", n, timeline(inst))
	}
	if !slices.Equal(inst.Active, []string{"a2"}) {
		t.Fatalf("active %v, want [a2]", inst.Active)
	}
	// bob's inbox shows the one task of a2.
	items, err := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 10, "")
	if err != nil || len(items) != 1 || items[0].Task.Node != "a2" {
		t.Fatalf("bob's todo: %+v, %v", items, err)
	}
}

// TestTimerSurvivesRestart: a node times out (approve) while the platform is down. After a
// restart, running the timer job twice, and from two services at once, fires it exactly once.
func TestTimerSurvivesRestart(t *testing.T) {
	clock := &testClock{t: monday}
	e := newTestEnv(t, "", clock)
	a1 := approval("a1", ModeAll, "a2", "bob", "carol")
	a1.Timers = &Timers{TimeoutAfter: "1h", Action: "approve"}
	e.install(t, flowDef("timed", "manual", "", startNode("a1"), a1, approval("a2", ModeSingle, "end", "dave"), endNode("end", "", "approved")))
	inst := e.start(t, "timed", map[string]any{"material": "salt"})
	id, dir := inst.ID, e.dir

	clock.Add(2 * time.Hour)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := e.k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.k.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Two platforms on the reopened store: one store, two kernels and two workflow services.
	st := storetest.OpenEmbedded(t, dir)
	e1 := newTestPlatform(t, st, clock)
	e2 := newTestPlatform(t, st, clock)
	e1.loadUsers(t)

	// Each platform runs the job twice, all four runs at once, each for its own tick (a tick's
	// lease would otherwise let only one run); the scheduler lets no two runs of the job
	// overlap, so each platform also fires timers directly, at the same time, past it.
	tick := clock.Now()
	var wg sync.WaitGroup
	for i, env := range []*testEnv{e1, e2, e1, e2} {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if _, err := env.k.Scheduler.RunDue(env.ctx, TimerJob, tick.Add(time.Duration(i)*time.Second)); err != nil {
				t.Error(err)
			}
		}()
		go func() {
			defer wg.Done()
			if _, err := env.wf.FireTimers(env.ctx); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if n, err := e2.wf.FireTimers(e2.ctx); err != nil || n != 0 {
		t.Fatalf("fired %d more timers (%v), want none", n, err)
	}

	inst = e1.reload(t, id)
	if n := countSteps(inst, stepTimeout, "a1"); n != 1 {
		t.Fatalf("%d timeout steps, want 1: %s", n, timeline(inst))
	}
	if n := countSteps(inst, stepLeave, "a1"); n != 1 {
		t.Fatalf("a1 left %d times: %s", n, timeline(inst))
	}
	if n := countSteps(inst, stepEnter, "a2"); n != 1 {
		t.Fatalf("a2 entered %d times: %s", n, timeline(inst))
	}
	wantSummary(t, inst, "a1:bob:approved a1:carol:approved a2:dave:pending")
	runs, err := e1.k.Scheduler.Runs(e1.ctx, TimerJob, 10)
	if err != nil || len(runs) == 0 || len(runs) > 4 {
		t.Fatalf("job runs %v, %v", runs, err)
	}
}

// TestWorkingHours counts only 09:00–18:00 on weekdays.
func TestWorkingHours(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	at := func(s string) time.Time {
		v, err := time.ParseInLocation("2006-01-02 15:04", s, loc)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, c := range []struct {
		start string
		d     time.Duration
		want  string
	}{
		{"2026-03-02 10:00", 2 * time.Hour, "2026-03-02 12:00"},    // Monday, within the day
		{"2026-03-02 17:00", 2 * time.Hour, "2026-03-03 10:00"},    // over the evening
		{"2026-03-02 07:00", time.Hour, "2026-03-02 10:00"},        // before opening
		{"2026-03-06 17:30", time.Hour, "2026-03-09 09:30"},        // Friday evening to Monday
		{"2026-03-07 12:00", 30 * time.Minute, "2026-03-09 09:30"}, // Saturday
		{"2026-03-02 20:00", 9 * time.Hour, "2026-03-03 18:00"},    // a whole working day
		{"2026-03-02 09:00", 18 * time.Hour, "2026-03-03 18:00"},   // two working days
	} {
		got := addWorkingTime(at(c.start), c.d, loc)
		if !got.Equal(at(c.want)) {
			t.Errorf("%s + %s = %s, want %s", c.start, c.d, got.In(loc).Format("2006-01-02 15:04"), c.want)
		}
	}
}

// TestNodeTimers: a node's timers are due after their durations, in working time when the
// node says so.
func TestNodeTimers(t *testing.T) {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	entered := time.Date(2026, 3, 6, 17, 0, 0, 0, loc) // a Friday, 17:00
	inst := &Instance{ID: "i1", App: testApp, Flow: "f"}
	n := &Node{ID: "a1", Timers: &Timers{RemindAfter: "30m", TimeoutAfter: "2h", Action: "approve", WorkingHours: true}}
	got := nodeTimers(inst, n, 3, entered, loc)
	if len(got) != 2 || got[0].ID != "i1/a1/3/remind" || got[1].ID != "i1/a1/3/timeout" {
		t.Fatalf("timers %+v", got)
	}
	if want := time.Date(2026, 3, 6, 17, 30, 0, 0, loc); !got[0].Due.Equal(want) {
		t.Errorf("remind due %s, want %s", got[0].Due.In(loc), want)
	}
	if want := time.Date(2026, 3, 9, 10, 0, 0, 0, loc); !got[1].Due.Equal(want) {
		t.Errorf("timeout due %s, want %s", got[1].Due.In(loc), want)
	}
	n.Timers.WorkingHours = false
	if got := nodeTimers(inst, n, 3, entered, loc); !got[1].Due.Equal(entered.Add(2 * time.Hour)) {
		t.Errorf("timeout due %s in calendar time", got[1].Due.In(loc))
	}
	// Without an action, the timeout still marks the tasks overdue (flow.task_overdue).
	n.Timers.Action = ""
	if got := nodeTimers(inst, n, 3, entered, loc); len(got) != 2 {
		t.Errorf("timers %+v", got)
	}
}
