package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"tracecraft/engine"
)

// This file is the instance state machine: apply takes an instance and one action and changes
// the instance in memory, returning the side effects (events, inbox projection, timers, action
// node runs, record status) that the caller runs only after the changed instance is stored. It
// writes nothing; the little it reads (assignees, the record for conditions) comes through
// world, so a retry after a lost race re-applies the action to the newer instance.

// Actions of ActInput.Action.
const (
	ActApprove   = "approve"
	ActReject    = "reject"
	ActReturn    = "return"
	ActTransfer  = "transfer"
	ActAddSigner = "add_signer"
	ActSubmit    = "submit"
)

// Timeline step actions besides the user actions above.
const (
	stepStart     = "start"
	stepApprove   = "approve"
	stepReject    = "reject"
	stepReturn    = "return"
	stepTransfer  = "transfer"
	stepAddSigner = "add_signer"
	stepWithdraw  = "withdraw"
	stepComment   = "comment"
	stepFill      = "fill"
	stepEnter     = "enter"
	stepLeave     = "leave"
	stepArrive    = "arrive" // a parallel path reached its join
	stepSkip      = "skip"   // nobody to ask: the node was passed
	stepTimeout   = "timeout"
	stepRemind    = "remind"
	stepEnd       = "end"
	stepError     = "error"
	// stepEditFailed: the record edit of a decision could not be written (Comment says why).
	stepEditFailed = "edit_failed"
)

// Event types of the runtime that workflow.go does not name.
const (
	// EventReminded: a node's reminder timer fired. Data: node, visit, assignees.
	EventReminded = "flow.reminded"
)

// Task kinds.
const (
	kindApproval = "approval"
	kindFill     = "fill"
	kindNotify   = "notify"
)

// OnEmpty policies.
const (
	onEmptySkip  = "skip"
	onEmptyAdmin = "admin"
	onEmptyFail  = "fail"
)

// maxEntries bounds node entries within one action, so a graph whose conditions loop without
// a human node fails the instance instead of spinning.
const maxEntries = 500

// ActInput is what a person does with a task.
type ActInput struct {
	// Action: approve reject return transfer add_signer submit.
	Action      string   `json:"action"`
	Comment     string   `json:"comment,omitempty"`
	Signature   string   `json:"signature,omitempty"`
	Attachments []string `json:"attachments,omitempty"`
	// Data edits the node's editable fields (approve and submit); other fields are read_only.
	Data map[string]any `json:"data,omitempty"`
	// ToNode is where return sends the instance: an earlier node that was visited.
	ToNode string `json:"toNode,omitempty"`
	// ToUser is the new assignee (transfer) or the added signer (add_signer).
	ToUser string `json:"toUser,omitempty"`
	// Position of an added signer: before (they approve first) or after (they approve next).
	Position string `json:"position,omitempty"`
}

// actionKind names what an action does to an instance.
type actionKind int

const (
	evStart actionKind = iota + 1
	evAct
	evWithdraw
	evTimer
	evActionDone
	evEditFailed // a stored decision's record edit could not be written
)

// action is one change asked of an instance.
type action struct {
	kind  actionKind
	actor string
	ip    string
	now   time.Time
	task  string   // evAct
	in    ActInput // evAct, evWithdraw (Comment)
	timer timerDoc // evTimer
	// evActionDone: the action node's visit; evActionDone, evEditFailed: the failure's
	// neutral text and the id its cause is logged under (see stepFailure).
	node  string
	visit int
	err   string
	errID string
	w     *world
}

// auditName is the audit action of a.
func (a action) auditName() string {
	switch a.kind {
	case evStart:
		return "flow.start"
	case evAct:
		return "flow." + a.in.Action
	case evWithdraw:
		return "flow.withdraw"
	case evTimer:
		return "flow." + a.timer.Kind
	}
	return ""
}

// assignment is one person a task goes to; OnBehalf is set when a delegation redirected it.
type assignment struct {
	User     string
	OnBehalf string
}

// world is what apply may read: the record (for conditions and field assignees) and the
// people behind assignee rules. Its functions may do I/O but must not write.
type world struct {
	ctx context.Context
	loc *time.Location
	// record gives the record's data and status.
	record func() (map[string]any, string, error)
	// resolve finds the people of assignee rules for inst (delegation applied, deduplicated).
	resolve func(specs []Assignee, inst *Instance) ([]assignment, error)
	// admins are the people an OnEmpty "admin" node goes to.
	admins func() ([]assignment, error)
	// person checks a user for transfer and add_signer (delegation applied); ok false when
	// there is no such active user.
	person func(name string) (a assignment, ok bool, err error)
	// member reports whether an active user is a member of the instance's app (holds app.read
	// or app.design there): transfer and add_signer go to members only.
	member func(name string) (bool, error)
}

// recordEdit is a decision's record edit, written after the decision is stored.
type recordEdit struct {
	task  string
	actor string
	ip    string
	data  map[string]any
}

// recordEdit is the record edit a carries: the data of an approve or submit.
func (a action) recordEdit() map[string]any {
	if a.kind == evAct && len(a.in.Data) > 0 && (a.in.Action == ActApprove || a.in.Action == ActSubmit) {
		return a.in.Data
	}
	return nil
}

// nodeRun is an action node to run after the instance is stored.
type nodeRun struct {
	Node  string
	Visit int
}

// effects are what apply asks to happen after the changed instance is stored.
type effects struct {
	events  []engine.Event
	timers  []timerDoc
	runs    []nodeRun
	status  string // record status to set (end node)
	audit   *engine.AuditEntry
	edit    *recordEdit // the record edit of a decision
	changed []string    // ids of tasks whose state changed or that are new: the inbox projection
	noop    bool        // nothing changed: nothing to store
	// sync is the id of the sync timer stored before the write (see prepareWrite); runEffects
	// drops it when the effects it guards succeeded. syncFailed: one failed before runEffects.
	sync       string
	syncFailed bool
	// failures are logged with their ids once the change is stored.
	failures []stepFailure
}

// errInvalidTransition is wrapped by every refusal of an action that the instance's state no
// longer allows (a closed task, a finished instance): a 409.
var errInvalidTransition = fmt.Errorf("invalid transition: %w", engine.ErrConflict)

// machine carries one apply.
type machine struct {
	c       *Compiled
	inst    *Instance
	ev      action
	eff     effects
	before  map[string]string // task id → state before the action
	queue   []string          // nodes to enter
	entries int
}

// apply changes inst (the caller's copy) by ev and returns the effects to run once inst is
// stored. An error leaves inst in an undefined state: the caller drops it.
func apply(c *Compiled, inst *Instance, ev action) (effects, error) {
	m := &machine{c: c, inst: inst, ev: ev, before: make(map[string]string, len(inst.Tasks))}
	for _, t := range inst.Tasks {
		m.before[t.ID] = t.State
	}
	steps := len(inst.Timeline)
	var err error
	switch ev.kind {
	case evStart:
		err = m.start()
	case evAct:
		err = m.act()
	case evWithdraw:
		err = m.withdraw()
	case evTimer:
		err = m.fireTimer()
	case evActionDone:
		err = m.actionDone()
	case evEditFailed:
		t := m.task(ev.task)
		if t == nil {
			return effects{}, fmt.Errorf("task %s: %w", ev.task, engine.ErrNotFound)
		}
		m.step(stepEditFailed, t.Node, t.ID, ev.err, "").ErrorID = ev.errID
	default:
		err = fmt.Errorf("apply: unknown action %d", ev.kind)
	}
	if err == nil {
		err = m.drain()
	}
	if err != nil {
		return effects{}, err
	}
	if len(inst.Timeline) == steps && ev.kind != evStart {
		// Nothing changed (a timer of a visit that is over, a recovery run): nothing to store.
		m.eff.noop = true
		m.eff.events, m.eff.timers = nil, nil
		return m.eff, nil
	}
	for _, t := range inst.Tasks {
		old, seen := m.before[t.ID]
		if seen && old == t.State {
			continue
		}
		m.eff.changed = append(m.eff.changed, t.ID)
		if (t.State == TaskPending || t.State == TaskCC) && (!seen || old == TaskWaiting) {
			m.event(EventTaskCreated, map[string]any{"task": t.ID, "node": t.Node, "assignee": t.Assignee,
				"onBehalfOf": t.OnBehalf, "kind": t.Kind, "state": t.State})
		}
	}
	if name := ev.auditName(); name != "" {
		e := engine.AuditEntry{Actor: ev.actor, IP: ev.ip, Action: name, Kind: "flow_instance", Target: inst.ID}
		after := map[string]any{"state": inst.State}
		if ev.task != "" {
			after["task"] = ev.task
		}
		if ev.in.Comment != "" {
			after["comment"] = ev.in.Comment
		}
		e.After = after
		m.eff.audit = &e
	}
	return m.eff, nil
}

// ---- helpers on the instance ----

func (m *machine) step(action, node, task, comment, target string) *Step {
	m.inst.Timeline = append(m.inst.Timeline, Step{At: m.ev.now, Actor: m.ev.actor, Action: action,
		Node: node, Task: task, Comment: comment, Target: target})
	return &m.inst.Timeline[len(m.inst.Timeline)-1]
}

func (m *machine) event(typ string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	data["flow"], data["form"], data["record"] = m.inst.Flow, m.inst.Form, m.inst.Record
	if m.inst.Depth > 0 {
		// Rules that answer flow events stop chains like record events do.
		data[engine.EventChainDepth] = m.inst.Depth
	}
	m.eff.events = append(m.eff.events, engine.Event{Type: typ, App: m.inst.App, Kind: "flow", Target: m.inst.ID,
		Actor: m.ev.actor, At: m.ev.now, Data: data})
}

func (m *machine) running() bool { return m.inst.State == StateRunning }

func (m *machine) task(id string) *Task {
	for i := range m.inst.Tasks {
		if m.inst.Tasks[i].ID == id {
			return &m.inst.Tasks[i]
		}
	}
	return nil
}

func (m *machine) node(id string) (*Node, error) {
	n, ok := m.c.Node(id)
	if !ok {
		return nil, fmt.Errorf("flow %s version %d has no node %q", m.c.Key, m.c.Version, id)
	}
	return n, nil
}

// isOpen: the task still waits for its assignee.
func isOpen(state string) bool { return state == TaskPending || state == TaskWaiting }

// acted reports whether a person (or a timer) has acted on the instance: what Withdraw forbids.
func acted(inst *Instance) bool {
	for _, s := range inst.Timeline {
		switch s.Action {
		case stepApprove, stepReject, stepReturn, stepTransfer, stepAddSigner, stepFill:
			return true
		case stepTimeout:
			if s.Target != "" { // a bare timeout only marked the tasks overdue
				return true
			}
		}
	}
	return false
}

// latestVisit is the visit number of node's latest entry (0: never entered). Visit v is the
// v-th "enter" step of the timeline, since entering numbers a visit and records the step.
func latestVisit(inst *Instance, node string) int {
	v, latest := 0, 0
	for _, s := range inst.Timeline {
		if s.Action == stepEnter {
			v++
			if s.Node == node {
				latest = v
			}
		}
	}
	return latest
}

// stepInVisit reports whether the timeline has a step of action on node since visit began.
func stepInVisit(inst *Instance, node string, visit int, action string) bool {
	v := 0
	for _, s := range inst.Timeline {
		if s.Action == stepEnter {
			v++
		}
		if v >= visit && s.Action == action && s.Node == node {
			return true
		}
	}
	return false
}

func isActive(inst *Instance, node string) bool { return slices.Contains(inst.Active, node) }

func (m *machine) deactivate(node string) {
	if i := slices.Index(m.inst.Active, node); i >= 0 {
		m.inst.Active = slices.Delete(m.inst.Active, i, i+1)
	}
}

func (m *machine) newTask(n *Node, visit int, kind string, a assignment, order int, state string) Task {
	return Task{ID: fmt.Sprintf("%s.%d", m.inst.ID, len(m.inst.Tasks)+1), Node: n.ID, Visit: visit, Kind: kind,
		Assignee: a.User, OnBehalf: a.OnBehalf, Order: order, State: state, Created: m.ev.now}
}

// insertTask puts t into the task list at index i (lanes are ordered by list position).
func (m *machine) insertTask(i int, t Task) {
	m.inst.Tasks = slices.Insert(m.inst.Tasks, i, t)
}

func (m *machine) indexOf(id string) int {
	for i := range m.inst.Tasks {
		if m.inst.Tasks[i].ID == id {
			return i
		}
	}
	return -1
}

// ---- entering and leaving nodes ----

// drain enters the queued nodes, in order, until the queue is empty or the instance ended.
func (m *machine) drain() error {
	for len(m.queue) > 0 && m.running() {
		id := m.queue[0]
		m.queue = m.queue[1:]
		if m.entries++; m.entries > maxEntries {
			m.fail("", fmt.Sprintf("more than %d nodes entered in one step: the flow loops", maxEntries))
			return nil
		}
		if err := m.enter(id); err != nil {
			return err
		}
	}
	m.queue = nil
	return nil
}

func (m *machine) next(id string) {
	if id != "" {
		m.queue = append(m.queue, id)
	}
}

// enterStep numbers a new visit of node n and records it.
func (m *machine) enterStep(n *Node) int {
	m.inst.Visits++
	m.step(stepEnter, n.ID, "", "", "")
	m.event(EventNodeEntered, map[string]any{"node": n.ID, "type": n.Type, "visit": m.inst.Visits})
	return m.inst.Visits
}

func (m *machine) leave(n *Node) {
	m.deactivate(n.ID)
	m.step(stepLeave, n.ID, "", "", "")
	m.event(EventNodeLeft, map[string]any{"node": n.ID, "type": n.Type, "visit": latestVisit(m.inst, n.ID)})
}

func (m *machine) enter(id string) error {
	n, err := m.node(id)
	if err != nil {
		return err
	}
	if n.Type == NodeJoin {
		return m.arrive(n)
	}
	visit := m.enterStep(n)
	switch n.Type {
	case NodeStart:
		m.leave(n)
		m.next(n.Next)
	case NodeApproval, NodeFill:
		return m.enterHuman(n, visit)
	case NodeNotify:
		people, err := m.ev.w.resolve(n.Assignees, m.inst)
		if err != nil {
			return err
		}
		for _, a := range people {
			m.inst.Tasks = append(m.inst.Tasks, m.newTask(n, visit, kindNotify, a, 0, TaskCC))
		}
		m.leave(n)
		m.next(n.Next)
	case NodeCondition:
		next, err := m.branch(n)
		if err != nil {
			// The cause may quote a record value (an expression's operand): logged, not shown.
			m.failOn(n.ID, "flowrun.condition_failed", err)
			return nil
		}
		m.leave(n)
		m.next(next)
	case NodeParallel:
		m.leave(n)
		for _, p := range n.Paths {
			m.next(p)
		}
	case NodeAction:
		// The instance waits here until the action has run (after this change is stored);
		// actionDone moves it on.
		m.inst.Active = append(m.inst.Active, n.ID)
		m.eff.runs = append(m.eff.runs, nodeRun{Node: n.ID, Visit: visit})
		m.eff.timers = append(m.eff.timers, newTimer(m.inst, n.ID, visit, timerAction, m.ev.now.Add(actionRetryAfter)))
	case NodeEnd:
		outcome := n.Outcome
		if outcome == "" {
			outcome = StateApproved
		}
		m.leave(n)
		m.finish(outcome, n.ID)
		if n.SetStatus != "" {
			m.eff.status = n.SetStatus
			m.eff.timers = append(m.eff.timers, newTimer(m.inst, n.ID, visit, timerStatus, m.ev.now.Add(actionRetryAfter)))
		}
	default:
		return fmt.Errorf("node %q: unknown type %q", n.ID, n.Type)
	}
	return nil
}

// enterHuman creates the tasks of an approval or fill node.
func (m *machine) enterHuman(n *Node, visit int) error {
	people, err := m.ev.w.resolve(n.Assignees, m.inst)
	if err != nil {
		return err
	}
	if len(people) == 0 {
		switch n.OnEmpty {
		case onEmptySkip:
			m.step(stepSkip, n.ID, "", "", "")
			m.leave(n)
			m.next(n.Next)
			return nil
		case onEmptyFail:
			m.fail(n.ID, "nobody to assign the node to")
			return nil
		default: // admin
			if people, err = m.ev.w.admins(); err != nil {
				return err
			}
			if len(people) == 0 {
				m.fail(n.ID, "nobody to assign the node to, and no administrator")
				return nil
			}
		}
	}
	mode := modeOf(n)
	if mode == ModeSingle {
		people = people[:1]
	}
	kind := kindApproval
	if n.Type == NodeFill {
		kind = kindFill
	}
	for i, a := range people {
		m.inst.Tasks = append(m.inst.Tasks, m.newTask(n, visit, kind, a, i+1, TaskWaiting))
	}
	m.inst.Active = append(m.inst.Active, n.ID)
	m.normalize(n, visit)
	if n.Timers != nil {
		m.eff.timers = append(m.eff.timers, nodeTimers(m.inst, n, visit, m.ev.now, m.ev.w.loc)...)
	}
	return nil
}

func modeOf(n *Node) string {
	if n.Mode == "" {
		return ModeSingle
	}
	return n.Mode
}

// branch picks the next node of a condition node: the first branch whose condition holds,
// else the default.
func (m *machine) branch(n *Node) (string, error) {
	progs := m.c.branches[n.ID]
	if len(progs) > 0 {
		data, status, err := m.ev.w.record()
		if err != nil {
			return "", fmt.Errorf("condition %s: read record: %w", n.ID, err)
		}
		vars := conditionVars(m.inst, data, status)
		for i, b := range n.Branches {
			if i >= len(progs) || progs[i] == nil {
				continue
			}
			ok, err := progs[i].EvalBool(m.ev.w.ctx, vars)
			if err != nil {
				return "", fmt.Errorf("condition %s branch %d (%s): %w", n.ID, i, b.When, err)
			}
			if ok {
				return b.Next, nil
			}
		}
	}
	if n.Default == "" {
		return "", fmt.Errorf("condition %s: no branch holds and there is no default", n.ID)
	}
	return n.Default, nil
}

// conditionVars are the variables of branch and trigger conditions: the record's fields by
// key, and record, status and initiator.
func conditionVars(inst *Instance, data map[string]any, status string) map[string]any {
	vars := make(map[string]any, len(data)+3)
	for k, v := range data {
		vars[k] = v
	}
	vars["record"], vars["status"], vars["initiator"] = data, status, inst.Initiator
	return vars
}

// arrive is a parallel path reaching its join: the join is entered when every path of its
// parallel node has arrived since that node was last entered.
func (m *machine) arrive(j *Node) error {
	p := parallelOf(m.c, j.ID)
	arrived := 1
	if p != nil {
		for i := len(m.inst.Timeline) - 1; i >= 0; i-- {
			s := m.inst.Timeline[i]
			if s.Action == stepEnter && s.Node == p.ID {
				break
			}
			if s.Action == stepArrive && s.Node == j.ID {
				arrived++
			}
		}
	}
	m.step(stepArrive, j.ID, "", "", "")
	if p != nil && arrived < len(p.Paths) {
		if !isActive(m.inst, j.ID) {
			m.inst.Active = append(m.inst.Active, j.ID)
		}
		return nil
	}
	m.deactivate(j.ID)
	m.enterStep(j)
	m.leave(j)
	m.next(j.Next)
	return nil
}

func parallelOf(c *Compiled, join string) *Node {
	for i := range c.Def.Nodes {
		if n := &c.Def.Nodes[i]; n.Type == NodeParallel && n.Join == join {
			if cn, ok := c.Node(n.ID); ok {
				return cn
			}
			return n
		}
	}
	return nil
}

// finish ends the instance with outcome, closing every open task.
func (m *machine) finish(outcome, node string) {
	for i := range m.inst.Tasks {
		if isOpen(m.inst.Tasks[i].State) {
			m.inst.Tasks[i].State = TaskCancelled
		}
	}
	m.inst.Active = []string{}
	m.inst.State = outcome
	m.inst.Finished = m.ev.now
	if outcome != StateWithdrawn {
		m.step(stepEnd, node, "", "", outcome)
	}
	m.event(EventFinished, map[string]any{"outcome": outcome})
	m.queue = nil
}

func (m *machine) fail(node, why string) {
	m.step(stepError, node, "", why, "")
	m.finish(StateFailed, node)
}

// ---- lanes and decisions ----

// A node visit's tasks form lanes: the tasks with one Order, in list order. A lane is one
// vote: approved when all its tasks are, rejected when one is. Within a lane one task at a
// time is pending (an added signer before the original, after it, a transferee in its place).
// Lanes with a negative Order are escalations: any of them decides the node.

type laneSet struct {
	orders []int
	tasks  map[int][]*Task
}

func (m *machine) lanes(node string, visit int) laneSet {
	ls := laneSet{tasks: map[int][]*Task{}}
	for i := range m.inst.Tasks {
		t := &m.inst.Tasks[i]
		if t.Node != node || t.Visit != visit || t.Kind == kindNotify || t.State == TaskTransferred || t.State == TaskCancelled || t.State == TaskReturned {
			continue
		}
		if _, ok := ls.tasks[t.Order]; !ok {
			ls.orders = append(ls.orders, t.Order)
		}
		ls.tasks[t.Order] = append(ls.tasks[t.Order], t)
	}
	slices.Sort(ls.orders)
	return ls
}

// laneState is approved, rejected or open.
func laneState(ts []*Task) string {
	done := true
	for _, t := range ts {
		switch t.State {
		case TaskRejected:
			return TaskRejected
		case TaskApproved, TaskDone:
		default:
			done = false
		}
	}
	if done {
		return TaskApproved
	}
	return TaskPending
}

// normalize makes the right tasks of a node visit pending: in each lane that may act now the
// first task not yet approved; in sequence mode only the first open lane may act.
func (m *machine) normalize(n *Node, visit int) {
	ls := m.lanes(n.ID, visit)
	mode := modeOf(n)
	turn := 0
	if mode == ModeSequence {
		for _, o := range ls.orders {
			if o > 0 && laneState(ls.tasks[o]) == TaskPending {
				turn = o
				break
			}
		}
	}
	for _, o := range ls.orders {
		may := mode != ModeSequence || o < 0 || o == turn
		first := true
		for _, t := range ls.tasks[o] {
			if !isOpen(t.State) {
				continue
			}
			if may && first {
				t.State = TaskPending
			} else {
				t.State = TaskWaiting
			}
			first = false
		}
	}
}

// decide tells whether a node visit is decided: approved, rejected or "" (not yet).
func (m *machine) decide(n *Node, visit int) string {
	ls := m.lanes(n.ID, visit)
	total, approved, rejected := 0, 0, 0
	for _, o := range ls.orders {
		st := laneState(ls.tasks[o])
		if o < 0 {
			if st != TaskPending {
				return st
			}
			continue
		}
		total++
		switch st {
		case TaskApproved:
			approved++
		case TaskRejected:
			rejected++
		}
	}
	if total == 0 {
		return ""
	}
	switch modeOf(n) {
	case ModeAny:
		if approved > 0 {
			return TaskApproved
		}
		if rejected > 0 {
			return TaskRejected
		}
	case ModePercent:
		pct := min(max(n.Percent, 1), 100)
		if approved*100 >= pct*total {
			return TaskApproved
		}
		if (total-rejected)*100 < pct*total {
			return TaskRejected
		}
	default: // single, all, sequence
		if rejected > 0 {
			return TaskRejected
		}
		if approved == total {
			return TaskApproved
		}
	}
	return ""
}

// closeVisit cancels the open tasks of a node visit.
func (m *machine) closeVisit(node string, visit int) {
	for i := range m.inst.Tasks {
		t := &m.inst.Tasks[i]
		if t.Node == node && t.Visit == visit && isOpen(t.State) {
			t.State = TaskCancelled
		}
	}
}

// settle decides a node visit after a task changed and moves the instance on if it is decided.
func (m *machine) settle(n *Node, visit int) error {
	m.normalize(n, visit)
	switch m.decide(n, visit) {
	case TaskApproved:
		m.closeVisit(n.ID, visit)
		m.leave(n)
		m.next(n.Next)
	case TaskRejected:
		m.closeVisit(n.ID, visit)
		m.leave(n)
		return m.rejected(n)
	}
	return nil
}

// rejected moves the instance after node n was rejected: to RejectTo, or to its end.
func (m *machine) rejected(n *Node) error {
	if to := n.RejectTo; to != "" && to != "end" {
		if t, ok := m.c.Node(to); ok && t.Type == NodeEnd {
			// Compile refuses an end whose outcome is not rejected; a version published before
			// that check falls through to the rejected ending below.
			if t.Outcome == StateRejected {
				m.next(to)
				return nil
			}
		} else if m.validReturn(n.ID, to) == nil {
			m.returnTo(to, "")
			return nil
		}
	}
	// The flow's first end node with outcome rejected, so that its record status applies.
	for _, nd := range m.c.Def.Nodes {
		if nd.Type == NodeEnd && nd.Outcome == StateRejected {
			m.next(nd.ID)
			return nil
		}
	}
	m.finish(StateRejected, n.ID)
	return nil
}

// ---- return ----

// validReturn checks that the instance may go back from node from to node to: to is a start,
// approval or fill node that comes before from, was visited, and lies on from's path (not inside a parallel
// branch that from is outside of, which would leave the join waiting for good).
func (m *machine) validReturn(from, to string) error {
	t, ok := m.c.Node(to)
	if !ok || t.Type != NodeStart && t.Type != NodeApproval && t.Type != NodeFill {
		return engine.Invalid("toNode", "not_allowed", map[string]any{"value": to})
	}
	of, oko := m.c.order[from]
	ot, okt := m.c.order[to]
	if !oko || !okt || ot >= of {
		return engine.Invalid("toNode", "flowrun.not_earlier", map[string]any{"value": to})
	}
	if latestVisit(m.inst, to) == 0 {
		return engine.Invalid("toNode", "flowrun.not_visited", map[string]any{"value": to})
	}
	reg := regionsOf(m.c)
	if !regionWithin(reg[from], reg[to]) {
		return engine.Invalid("toNode", "flowrun.other_branch", map[string]any{"value": to})
	}
	return nil
}

// returnTo closes every active node on the way back to node to (the nodes in to's parallel
// branch or deeper) and enters to again. except is a task that keeps its state.
func (m *machine) returnTo(to, except string) {
	reg := regionsOf(m.c)
	for _, a := range slices.Clone(m.inst.Active) {
		if !regionWithin(reg[a], reg[to]) {
			continue
		}
		visit := latestVisit(m.inst, a)
		for i := range m.inst.Tasks {
			t := &m.inst.Tasks[i]
			if t.Node == a && t.Visit == visit && isOpen(t.State) && t.ID != except {
				t.State = TaskCancelled
			}
		}
		if n, ok := m.c.Node(a); ok {
			m.leave(n)
		} else {
			m.deactivate(a)
		}
	}
	m.next(to)
}

// ---- the actions ----

func (m *machine) start() error {
	m.inst.State = StateRunning
	m.inst.Active = []string{}
	m.step(stepStart, "", "", m.ev.in.Comment, "")
	m.event(EventStarted, map[string]any{"version": m.inst.Version, "initiator": m.inst.Initiator})
	for _, n := range m.c.Def.Nodes {
		if n.Type == NodeStart {
			m.next(n.ID)
			return nil
		}
	}
	return fmt.Errorf("flow %s has no start node", m.c.Key)
}

func (m *machine) act() error {
	in := m.ev.in
	t := m.task(m.ev.task)
	if t == nil {
		return fmt.Errorf("task %s: %w", m.ev.task, engine.ErrNotFound)
	}
	if t.Assignee != m.ev.actor {
		return fmt.Errorf("task %s belongs to %s: %w", t.ID, t.Assignee, engine.ErrForbidden)
	}
	if !m.running() {
		return fmt.Errorf("task %s: the instance is %s: %w", t.ID, m.inst.State, errInvalidTransition)
	}
	if t.State != TaskPending {
		return fmt.Errorf("task %s is %s: %w", t.ID, t.State, errInvalidTransition)
	}
	n, err := m.node(t.Node)
	if err != nil {
		return err
	}
	if !isActive(m.inst, n.ID) || latestVisit(m.inst, n.ID) != t.Visit {
		return fmt.Errorf("task %s: its node was left: %w", t.ID, errInvalidTransition)
	}
	allowed := allowedActions(t.Kind)
	if !slices.Contains(allowed, in.Action) {
		return engine.Invalid("action", "not_allowed", map[string]any{"value": in.Action})
	}
	if len(in.Data) > 0 && in.Action != ActApprove && in.Action != ActSubmit {
		return engine.Invalid("data", "not_allowed", map[string]any{"value": in.Action})
	}
	if err := checkEditable(n, in.Data); err != nil {
		return err
	}
	if err := needSignature(n, in); err != nil {
		return err
	}
	stamp := func(state, stepAction, target string) {
		t.State, t.Acted, t.Comment = state, m.ev.now, in.Comment
		s := m.step(stepAction, n.ID, t.ID, in.Comment, target)
		s.Signature, s.Attachments = in.Signature, in.Attachments
		if data := m.ev.recordEdit(); data != nil {
			s.Data = data
			m.eff.edit = &recordEdit{task: t.ID, actor: m.ev.actor, ip: m.ev.ip, data: data}
		}
	}
	switch in.Action {
	case ActApprove:
		stamp(TaskApproved, stepApprove, "")
		return m.settle(n, t.Visit)
	case ActSubmit:
		stamp(TaskDone, stepFill, "")
		return m.settle(n, t.Visit)
	case ActReject:
		stamp(TaskRejected, stepReject, "")
		return m.settle(n, t.Visit)
	case ActReturn:
		if in.ToNode == "" {
			return engine.Invalid("toNode", "required", nil)
		}
		if err := m.validReturn(n.ID, in.ToNode); err != nil {
			return err
		}
		id := t.ID
		stamp(TaskReturned, stepReturn, in.ToNode)
		m.returnTo(in.ToNode, id)
		return nil
	case ActTransfer, ActAddSigner:
		a, err := m.newPerson(t, in.ToUser)
		if err != nil {
			return err
		}
		i := m.indexOf(t.ID)
		if in.Action == ActTransfer {
			stamp(TaskTransferred, stepTransfer, a.User)
			m.insertTask(i+1, m.newTask(n, t.Visit, t.Kind, a, t.Order, TaskWaiting))
		} else {
			switch in.Position {
			case "before":
				m.insertTask(i, m.newTask(n, t.Visit, t.Kind, a, t.Order, TaskWaiting))
			case "after", "":
				m.insertTask(i+1, m.newTask(n, t.Visit, t.Kind, a, t.Order, TaskWaiting))
			default:
				return engine.Invalid("position", "not_allowed", map[string]any{"value": in.Position})
			}
			s := m.step(stepAddSigner, n.ID, m.ev.task, in.Comment, a.User)
			s.Signature, s.Attachments = in.Signature, in.Attachments
		}
		m.normalize(n, latestVisit(m.inst, n.ID))
		return nil
	}
	return engine.Invalid("action", "not_allowed", map[string]any{"value": in.Action})
}

// allowedActions are the actions a task of kind allows its assignee.
func allowedActions(kind string) []string {
	switch kind {
	case kindApproval:
		return []string{ActApprove, ActReject, ActReturn, ActTransfer, ActAddSigner}
	case kindFill:
		return []string{ActSubmit, ActReturn, ActTransfer}
	}
	return nil
}

// checkEditable refuses edits of fields the node does not let its assignees edit.
func checkEditable(n *Node, data map[string]any) error {
	var fe engine.FieldErrors
	keys := make([]string, 0, len(data))
	for k := range data {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if n.Fields == nil || !slices.Contains(n.Fields.Editable, k) {
			fe.Add("data."+k, "read_only", nil)
		}
	}
	return fe.Err()
}

// newPerson checks the user a task is transferred to or a signer added: an active user who
// is a member of the instance's app and holds no open task on the node visit yet (after
// delegation, which redirects only to members of the app).
func (m *machine) newPerson(t *Task, name string) (assignment, error) {
	name = strings.ToLower(strings.TrimSpace(name))
	if name == "" {
		return assignment{}, engine.Invalid("toUser", "required", nil)
	}
	if name == t.Assignee {
		return assignment{}, engine.Invalid("toUser", "flowrun.same_user", map[string]any{"value": name})
	}
	a, ok, err := m.ev.w.person(name)
	if err != nil {
		return assignment{}, err
	}
	if !ok {
		return assignment{}, engine.Invalid("toUser", "not_found", map[string]any{"value": name})
	}
	if member, err := m.ev.w.member(name); err != nil {
		return assignment{}, err
	} else if !member {
		return assignment{}, engine.Invalid("toUser", "flowrun.not_member", map[string]any{"value": name, "app": m.inst.App})
	}
	for _, o := range m.inst.Tasks {
		if o.Node == t.Node && o.Visit == t.Visit && isOpen(o.State) && o.Assignee == a.User {
			return assignment{}, engine.Invalid("toUser", "flowrun.has_task", map[string]any{"value": a.User})
		}
	}
	return a, nil
}

func (m *machine) withdraw() error {
	if m.ev.actor != m.inst.Initiator {
		return fmt.Errorf("only the initiator may withdraw: %w", engine.ErrForbidden)
	}
	if !m.running() {
		return fmt.Errorf("the instance is %s: %w", m.inst.State, errInvalidTransition)
	}
	if acted(m.inst) {
		return fmt.Errorf("someone has acted on the instance already: %w", errInvalidTransition)
	}
	m.step(stepWithdraw, "", "", m.ev.in.Comment, "")
	m.finish(StateWithdrawn, "")
	return nil
}

// involved: the initiator, or someone with a task (or on whose behalf one was made).
func involved(inst *Instance, user string) bool {
	if user == inst.Initiator {
		return true
	}
	for _, t := range inst.Tasks {
		if t.Assignee == user || t.OnBehalf == user {
			return true
		}
	}
	return false
}

// fireTimer applies a due timer. A timer of a node visit that is over does nothing.
func (m *machine) fireTimer() error {
	td := m.ev.timer
	if !m.running() || !isActive(m.inst, td.Node) || latestVisit(m.inst, td.Node) != td.Visit {
		return nil
	}
	n, err := m.node(td.Node)
	if err != nil {
		return err
	}
	switch td.Kind {
	case timerRemind:
		if stepInVisit(m.inst, n.ID, td.Visit, stepRemind) {
			return nil // reminded already (a claim taken over after its firer died)
		}
		var who []string
		for _, t := range m.inst.Tasks {
			if t.Node == n.ID && t.Visit == td.Visit && t.State == TaskPending {
				who = append(who, t.Assignee)
			}
		}
		m.step(stepRemind, n.ID, "", "", strings.Join(who, ","))
		m.event(EventReminded, map[string]any{"node": n.ID, "visit": td.Visit, "assignees": who})
	case timerTimeout:
		return m.timeout(n, td.Visit)
	case timerAction:
		// Recovery: the run after the store write did not report back; run it again.
		m.eff.runs = append(m.eff.runs, nodeRun{Node: n.ID, Visit: td.Visit})
	}
	return nil
}

func (m *machine) timeout(n *Node, visit int) error {
	act := ""
	if n.Timers != nil {
		act = n.Timers.Action
	}
	if stepInVisit(m.inst, n.ID, visit, stepTimeout) {
		return nil // timed out already (a claim taken over after its firer died)
	}
	var pending []string
	for _, t := range m.inst.Tasks {
		if t.Node == n.ID && t.Visit == visit && t.State == TaskPending {
			pending = append(pending, t.Assignee)
		}
	}
	m.event(EventTaskOverdue, map[string]any{"node": n.ID, "visit": visit, "action": act, "assignees": pending})
	switch act {
	case "approve":
		m.step(stepTimeout, n.ID, "", "", act)
		for range len(m.inst.Tasks) + 1 {
			progressed := false
			for i := range m.inst.Tasks {
				t := &m.inst.Tasks[i]
				if t.Node == n.ID && t.Visit == visit && t.State == TaskPending {
					t.State, t.Acted = TaskApproved, m.ev.now
					if t.Kind == kindFill {
						t.State = TaskDone
					}
					progressed = true
				}
			}
			if !progressed {
				break
			}
			if err := m.settle(n, visit); err != nil {
				return err
			}
			if !isActive(m.inst, n.ID) {
				break
			}
		}
	case "return":
		to := m.previousVisited(n)
		m.step(stepTimeout, n.ID, "", "", act)
		if to != "" {
			m.returnTo(to, "")
		}
	case "escalate":
		for _, t := range m.inst.Tasks {
			if t.Node == n.ID && t.Visit == visit && t.Order < 0 {
				return nil // escalated already
			}
		}
		people, err := m.ev.w.resolve(n.Timers.Escalate, m.inst)
		if err != nil {
			return err
		}
		m.step(stepTimeout, n.ID, "", "", act)
		kind := kindApproval
		if n.Type == NodeFill {
			kind = kindFill
		}
		order := 0
	people:
		for _, a := range people {
			for _, t := range m.inst.Tasks {
				if t.Node == n.ID && t.Visit == visit && isOpen(t.State) && t.Assignee == a.User {
					continue people
				}
			}
			order--
			m.inst.Tasks = append(m.inst.Tasks, m.newTask(n, visit, kind, a, order, TaskPending))
		}
		m.normalize(n, visit)
	default:
		m.step(stepTimeout, n.ID, "", "", act)
	}
	return nil
}

// previousVisited is the node a timed-out node returns to: the latest node entered before
// this visit that people worked on and that a return may reach.
func (m *machine) previousVisited(n *Node) string {
	cur := latestVisit(m.inst, n.ID)
	v := 0
	var seen []string
	for _, s := range m.inst.Timeline {
		if s.Action != stepEnter {
			continue
		}
		if v++; v >= cur {
			break
		}
		seen = append(seen, s.Node)
	}
	for i := len(seen) - 1; i >= 0; i-- {
		p, ok := m.c.Node(seen[i])
		if !ok || (p.Type != NodeApproval && p.Type != NodeFill) {
			continue
		}
		if m.validReturn(n.ID, p.ID) == nil {
			return p.ID
		}
	}
	return ""
}

// actionDone moves the instance on after an action node ran (or fails it).
func (m *machine) actionDone() error {
	if !m.running() || !isActive(m.inst, m.ev.node) || latestVisit(m.inst, m.ev.node) != m.ev.visit {
		return nil
	}
	n, err := m.node(m.ev.node)
	if err != nil {
		return err
	}
	if m.ev.err != "" {
		m.step(stepError, n.ID, "", m.ev.err, "").ErrorID = m.ev.errID
		m.finish(StateFailed, n.ID)
		return nil
	}
	m.leave(n)
	m.next(n.Next)
	return nil
}

// ---- parallel regions ----

// regionsOf maps each node to its parallel region: "" outside any parallel branch, else the
// path of (parallel node, branch index) pairs that lead to it ("p1:0/p2:1"). Computed once per
// compiled version.
func regionsOf(c *Compiled) map[string]string {
	if r, ok := regionCache.Load(c); ok {
		return r.(map[string]string)
	}
	reg := map[string]string{}
	var walk func(id, region, stop string)
	walk = func(id, region, stop string) {
		for id != "" && id != stop {
			if _, seen := reg[id]; seen {
				return
			}
			n, ok := c.Node(id)
			if !ok {
				return
			}
			reg[id] = region
			switch n.Type {
			case NodeCondition:
				for _, b := range n.Branches {
					walk(b.Next, region, stop)
				}
				id = n.Default
			case NodeParallel:
				for i, p := range n.Paths {
					sub := fmt.Sprintf("%s:%d", n.ID, i)
					if region != "" {
						sub = region + "/" + sub
					}
					walk(p, sub, n.Join)
				}
				id = n.Join
			case NodeEnd:
				return
			default:
				id = n.Next
			}
		}
	}
	for _, n := range c.Def.Nodes {
		if n.Type == NodeStart {
			walk(n.ID, "", "")
		}
	}
	regionCache.Store(c, reg)
	return reg
}

// regionCache holds regionsOf's maps by *Compiled (compiled versions are immutable).
var regionCache sync.Map

// regionWithin reports whether region inner lies within region outer (outer is a prefix of it).
func regionWithin(inner, outer string) bool {
	return outer == "" || inner == outer || strings.HasPrefix(inner, outer+"/")
}

// isInvalidTransition reports whether err is a refusal because of the instance's state.
func isInvalidTransition(err error) bool { return errors.Is(err, errInvalidTransition) }

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"flowrun.not_earlier":   {ZH: "只能退回到之前的节点：{value}", EN: "is not an earlier node: {value}"},
		"flowrun.not_visited":   {ZH: "该节点尚未经过：{value}", EN: "has not been visited: {value}"},
		"flowrun.other_branch":  {ZH: "不能退回到其他并行分支中的节点：{value}", EN: "lies in another parallel branch: {value}"},
		"flowrun.same_user":     {ZH: "不能转交或加签给自己：{value}", EN: "cannot be yourself: {value}"},
		"flowrun.has_task":      {ZH: "该成员已有此节点的待办：{value}", EN: "already has a task on this node: {value}"},
		"flowrun.not_member":    {ZH: "{value} 不是应用 {app} 的成员（在该应用中没有任何权限）", EN: "{value} is not a member of app {app} (holds no grant on it)"},
		"flowrun.no_shared_app": {ZH: "{value} 与你没有共同的应用，不能代理你的待办", EN: "{value} shares no app with you, so cannot take your tasks"},
		"flowrun.bad_period":    {ZH: "结束时间须晚于开始时间", EN: "must be after the start"},
		"flowrun.trigger_false": {ZH: "该记录不满足流程 {value} 的发起条件", EN: "the record does not meet the start condition of flow {value}"},
	})
}
