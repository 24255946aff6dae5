package workflow

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"slices"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Inbox boxes.
const (
	BoxTodo      = "todo"      // 待我处理: pending tasks
	BoxDone      = "done"      // 我已处理: tasks the user acted on
	BoxInitiated = "initiated" // 我发起的: instances the user started
	BoxCC        = "cc"        // 抄送我: notify tasks
)

// InboxItem is one line of an inbox: a task (or, in the initiated box, an instance with its
// first pending task, if any) and what a card shows about its instance.
type InboxItem struct {
	Task     Task   `json:"task"`
	Instance string `json:"instance"`
	App      string `json:"app"`
	Flow     string `json:"flow"`
	Form     string `json:"form"`
	Record   string `json:"record"`
	// Title is the flow's name.
	Title string `json:"title"`
	// RecordTitle is the record's title, the value of its form's titleField, when the viewer
	// may see that field; empty otherwise (a card then names the record by its id).
	RecordTitle engine.Text `json:"recordTitle,omitzero"`
	// Summary is up to three more of the record's fields the viewer may see, in form order
	// (see cards in inbox_cards.go for who sees what).
	Summary   []engine.CardField `json:"summary"`
	Initiator string             `json:"initiator"`
	NodeName  engine.Text        `json:"nodeName"`
	Started   time.Time          `json:"started"`
	// Waiting is how long the task has waited ("45m", "3h", "2d"); for an initiated instance
	// still running, how long since it started.
	Waiting string `json:"waiting,omitempty"`
	// State is the instance's state.
	State string `json:"state"`
	// Withdrawable (initiated box): the initiator may still withdraw the instance — it runs and
	// nobody has acted on it.
	Withdrawable bool `json:"withdrawable,omitempty"`
	// SignatureFor (todo box): the decisions on this task that need a handwritten signature
	// (the node's requireSignature); a batch approval skips the task unless it is signed.
	SignatureFor []string `json:"signatureFor,omitempty"`
}

// InboxCounts are the sizes of the four boxes.
type InboxCounts struct {
	Todo      int `json:"todo"`
	Done      int `json:"done"`
	Initiated int `json:"initiated"`
	CC        int `json:"cc"`
}

// TaskView is what the task page shows: the task, its instance, the record's fields the node
// lets its assignees see, the fields they may edit now, and the actions the viewer may take.
// Record is there only for the task's own person while the task is actionable (for a notify
// task: as it was when the task was made), and null otherwise.
type TaskView struct {
	Task     Task           `json:"task"`
	Instance *Instance      `json:"instance"`
	Record   map[string]any `json:"record"`
	Editable []string       `json:"editable"`
	Actions  []string       `json:"actions"`
	// ReturnTo are the steps the viewer may return the task to (退回), nearest first; empty
	// unless Actions holds return.
	ReturnTo []ReturnTarget `json:"returnTo"`
	// SignatureFor are the decisions of the task that need the viewer's handwritten signature
	// (the node's requireSignature): such an action without one is refused (400, signature).
	SignatureFor []string `json:"signatureFor"`
}

// ReturnTarget is a step a task may be returned to: an earlier node the instance visited.
type ReturnTarget struct {
	Node string      `json:"node"`
	Type string      `json:"type"` // start (back to the initiator), approval or fill
	Name engine.Text `json:"name"`
}

// inboxDoc is the inbox projection of one task (_id the task id) or, in the initiated box, of
// one instance (_id the instance id). It is written after the instance and carries the
// instance revision it was made from, so an older projection never replaces a newer one.
type inboxDoc struct {
	ID        string      `bson:"_id"`
	User      string      `bson:"user"`
	Box       string      `bson:"box"`  // "" when the task is in no box (waiting, cancelled)
	Sort      string      `bson:"sort"` // time key, newest is largest: sort and page by it
	InstRev   int64       `bson:"inst_rev"`
	Task      Task        `bson:"task"`
	Instance  string      `bson:"instance"`
	App       string      `bson:"app"`
	Flow      string      `bson:"flow"`
	Form      string      `bson:"form"`
	Record    string      `bson:"record"`
	Title     string      `bson:"title"`
	Initiator string      `bson:"initiator"`
	NodeName  engine.Text `bson:"node_name"`
	Started   time.Time   `bson:"started"`
	State     string      `bson:"state"`
	// Withdrawable: see InboxItem (initiated box only).
	Withdrawable bool `bson:"withdrawable,omitempty"`
}

// boxOf is the box a task shows in for its assignee.
func boxOf(t *Task) string {
	switch t.State {
	case TaskPending:
		return BoxTodo
	case TaskCC:
		return BoxCC
	case TaskApproved, TaskRejected, TaskReturned, TaskTransferred, TaskDone:
		return BoxDone
	}
	return ""
}

func sortKey(t time.Time, id string) string {
	return t.UTC().Format("20060102150405.000") + "|" + id
}

// projLocks serialise this process's projection writes per instance (check revision, then
// write); see project.
var projLocks [64]sync.Mutex

func projLock(id string) *sync.Mutex {
	h := fnv.New32a()
	h.Write([]byte(id))
	return &projLocks[h.Sum32()%uint32(len(projLocks))]
}

// declareIndexes declares the query indexes of the workflow's collections: an inbox box is
// read by person and box, newest first (Inbox, and Counts by person), due timers by due time
// (FireTimers).
func declareIndexes(k *engine.Kernel) {
	k.DeclareIndexes(inboxCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "user"}, {Path: "box"}, {Path: "sort", Desc: true}}})
	k.DeclareIndexes(timersCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "due"}}})
}

// project writes the inbox documents of the changed tasks of inst and of inst itself.
func (s *Service) project(ctx context.Context, c *Compiled, inst *Instance, changed []string) error {
	mu := projLock(inst.ID)
	mu.Lock()
	defer mu.Unlock()
	var errs []error
	for _, id := range changed {
		for i := range inst.Tasks {
			if t := &inst.Tasks[i]; t.ID == id {
				errs = append(errs, s.putProjection(ctx, s.taskDoc(c, inst, t)))
			}
		}
	}
	errs = append(errs, s.putProjection(ctx, s.instanceDoc(c, inst)))
	return errors.Join(errs...)
}

// reproject rewrites every inbox document of inst (repairs a projection left stale when a
// process stopped between storing an instance and projecting it).
func (s *Service) reproject(ctx context.Context, inst *Instance) error {
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return err
	}
	ids := make([]string, len(inst.Tasks))
	for i, t := range inst.Tasks {
		ids[i] = t.ID
	}
	return s.project(ctx, c, inst, ids)
}

func (s *Service) putProjection(ctx context.Context, d inboxDoc) error {
	var cur struct {
		Rev int64 `bson:"inst_rev"`
	}
	err := s.st.Get(ctx, inboxCollection, d.ID, &cur)
	if err == nil && cur.Rev > d.InstRev {
		return nil
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return s.st.Set(ctx, inboxCollection, d.ID, d)
}

func nodeName(c *Compiled, id string) engine.Text {
	if n, ok := c.Node(id); ok {
		if n.Name != (engine.Text{}) {
			return n.Name
		}
	}
	return engine.Text{ZH: id, EN: id}
}

func baseDoc(inst *Instance) inboxDoc {
	return inboxDoc{InstRev: inst.Rev, Instance: inst.ID, App: inst.App, Flow: inst.Flow, Form: inst.Form, Record: inst.Record,
		Title: inst.Title, Initiator: inst.Initiator, Started: inst.Started, State: inst.State}
}

func (s *Service) taskDoc(c *Compiled, inst *Instance, t *Task) inboxDoc {
	d := baseDoc(inst)
	d.ID, d.User, d.Box, d.Task, d.NodeName = t.ID, t.Assignee, boxOf(t), *t, nodeName(c, t.Node)
	at := t.Created
	if d.Box == BoxDone && !t.Acted.IsZero() {
		at = t.Acted
	}
	d.Sort = sortKey(at, t.ID)
	return d
}

func (s *Service) instanceDoc(c *Compiled, inst *Instance) inboxDoc {
	d := baseDoc(inst)
	d.ID, d.User, d.Box, d.Sort = inst.ID, inst.Initiator, BoxInitiated, sortKey(inst.Started, inst.ID)
	d.Withdrawable = inst.State == StateRunning && !acted(inst)
	for i := range inst.Tasks {
		if t := &inst.Tasks[i]; t.State == TaskPending {
			d.Task, d.NodeName = *t, nodeName(c, t.Node)
			break
		}
	}
	if d.Task.ID == "" && len(inst.Active) > 0 {
		d.NodeName = nodeName(c, inst.Active[0])
	}
	return d
}

// Inbox lists one box of p's inbox, newest first: todo, done, initiated or cc. limit is 20 by
// default and at most 100; before pages on: the Task.ID of the last item seen (its Instance in
// the initiated box). Items of the todo box are checked against their instance, so a task
// closed since its projection was written is not offered (and the projection is repaired).
func (s *Service) Inbox(ctx context.Context, p *engine.Principal, box string, limit int, before string) ([]InboxItem, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	if !slices.Contains([]string{BoxTodo, BoxDone, BoxInitiated, BoxCC}, box) {
		return nil, engine.Invalid("box", "not_allowed", map[string]any{"value": box})
	}
	if limit <= 0 {
		limit = 20
	}
	limit = min(limit, 100)
	var after string
	if before != "" {
		var cur inboxDoc
		err := s.st.Get(ctx, inboxCollection, before, &cur)
		if errors.Is(err, store.ErrNotFound) || err == nil && cur.User != p.Username {
			return nil, engine.Invalid("before", "not_found", map[string]any{"value": before})
		}
		if err != nil {
			return nil, fmt.Errorf("inbox: %w", err)
		}
		after = cur.Sort
	}
	page, err := s.st.Query(ctx, inboxCollection, inboxQuery(p.Username, box, after, limit))
	if err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	docs := make([]inboxDoc, 0, len(page.Docs))
	for _, raw := range page.Docs {
		var d inboxDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("inbox: decode item: %w", err)
		}
		docs = append(docs, d)
	}
	now := s.clock()
	out := make([]InboxItem, 0, len(docs))
	insts := map[string]*Instance{}
	for _, d := range docs {
		var sign []string
		if box == BoxTodo {
			inst, ok := s.stillPending(ctx, d)
			if !ok {
				continue
			}
			insts[d.Instance] = inst
			sign = s.signatureFor(ctx, inst, d.Task.Node)
		}
		it := InboxItem{SignatureFor: sign, Task: d.Task, Instance: d.Instance, App: d.App, Flow: d.Flow, Form: d.Form, Record: d.Record,
			Title: d.Title, Summary: []engine.CardField{}, Initiator: d.Initiator, NodeName: d.NodeName, Started: d.Started.UTC(),
			State: d.State, Withdrawable: d.Withdrawable}
		switch {
		case box == BoxTodo || box == BoxCC:
			it.Waiting = waited(now.Sub(d.Task.Created))
		case box == BoxInitiated && d.State == StateRunning:
			it.Waiting = waited(now.Sub(d.Started))
		}
		out = append(out, it)
	}
	if err := s.cards(ctx, p, out, insts); err != nil {
		return nil, fmt.Errorf("inbox: %w", err)
	}
	return out, nil
}

// inboxQuery is the query of one page of a box: user's items in box, newest first, older than
// the item whose sort key is after ("": from the newest). Sort keys are unique (they end in the
// item's id), so the sort key alone continues the page.
func inboxQuery(user, box, after string, limit int) store.Query {
	where := []store.Cond{store.Eq("user", user), store.Eq("box", box)}
	if after != "" {
		where = append(where, store.Lt("sort", after))
	}
	return store.Query{Where: store.And(where...), Sort: []store.SortKey{{Path: "sort", Desc: true}}, Limit: limit}
}

// stillPending checks a todo item against its instance and repairs a stale projection; it
// gives the instance it read (nil when it could not be read, and the item is kept).
func (s *Service) stillPending(ctx context.Context, d inboxDoc) (*Instance, bool) {
	inst, err := s.load(ctx, d.Instance)
	if err != nil {
		return nil, !errors.Is(err, engine.ErrNotFound)
	}
	for _, t := range inst.Tasks {
		if t.ID == d.ID {
			if t.State == TaskPending && t.Assignee == d.User && inst.State == StateRunning {
				return inst, true
			}
			break
		}
	}
	if err := s.reproject(ctx, inst); err != nil {
		s.k.Log.Warn("inbox repair failed", "instance", inst.ID, "err", err)
	}
	return nil, false
}

// signatureFor lists the decisions on a task of node (of inst's flow version) that need a
// signature; none when the version cannot be read (the action still refuses them unsigned).
func (s *Service) signatureFor(ctx context.Context, inst *Instance, node string) []string {
	if inst == nil {
		return nil
	}
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return nil
	}
	n, ok := c.Node(node)
	if !ok {
		return nil
	}
	if out := n.RequireSignature.For(n.Type); len(out) > 0 {
		return out
	}
	return nil
}

// waited formats a wait the way inbox cards show it: minutes, hours, then days.
func waited(d time.Duration) string {
	switch {
	case d < time.Hour:
		return fmt.Sprintf("%dm", max(int(d/time.Minute), 0))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	}
	return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
}

// Counts counts the items of p's four boxes: one grouping of p's inbox documents by box, read
// from the inbox index (user leads it).
func (s *Service) Counts(ctx context.Context, p *engine.Principal) (InboxCounts, error) {
	if p == nil {
		return InboxCounts{}, engine.ErrUnauthenticated
	}
	res, err := s.st.Aggregate(ctx, inboxCollection, countsAggregation(p.Username))
	if err != nil {
		return InboxCounts{}, fmt.Errorf("inbox counts: %w", err)
	}
	var n InboxCounts
	for _, g := range res.Groups {
		box, _ := g.Keys[0].(string)
		c, _ := g.Values[0].(int64)
		switch box {
		case BoxTodo:
			n.Todo = int(c)
		case BoxDone:
			n.Done = int(c)
		case BoxInitiated:
			n.Initiated = int(c)
		case BoxCC:
			n.CC = int(c)
		}
	}
	return n, nil
}

// countsAggregation counts user's inbox documents by box.
func countsAggregation(user string) store.Aggregation {
	return store.Aggregation{Where: store.Eq("user", user), GroupBy: []store.GroupKey{{Name: "box", Path: "box"}},
		Measures: []store.Measure{{Name: "n", Op: store.AggCount}}}
}

// TaskView gives the task page of taskID to p, who must be able to see its instance. The
// record comes only with p's own task (p its assignee, or the person it was delegated from),
// only while that task is actionable (a notify task shows the snapshot made when it was
// created), and only the fields both the task's node and the form's field rules for p show;
// for a task of someone else, or one that is closed, Record is nil: a task is no lasting grant
// to read the record.
func (s *Service) TaskView(ctx context.Context, p *engine.Principal, taskID string) (*TaskView, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	id := instanceOfTask(taskID)
	if id == "" {
		return nil, fmt.Errorf("task %s: %w", taskID, engine.ErrNotFound)
	}
	inst, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.canSee(ctx, p, inst) {
		return nil, fmt.Errorf("instance %s: %w", id, engine.ErrNotFound)
	}
	var t *Task
	for i := range inst.Tasks {
		if inst.Tasks[i].ID == taskID {
			t = &inst.Tasks[i]
		}
	}
	if t == nil {
		return nil, fmt.Errorf("task %s: %w", taskID, engine.ErrNotFound)
	}
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return nil, err
	}
	n, _ := c.Node(t.Node)
	view, err := s.recordViewOf(ctx, p, inst.App, inst.Form, inst.Record)
	if err != nil {
		return nil, err
	}
	shown, err := s.presentWith(ctx, p, inst, view)
	if err != nil {
		return nil, err
	}
	v := &TaskView{Task: *t, Instance: shown, Editable: []string{}, Actions: []string{}, ReturnTo: []ReturnTarget{}, SignatureFor: []string{}}
	if v.Record, err = s.taskRecord(ctx, inst, n, t, p, view); err != nil {
		return nil, err
	}
	if t.Assignee == p.Username && actionable(inst, t) {
		if n != nil && n.Fields != nil {
			v.Editable = append(v.Editable, n.Fields.Editable...)
		}
		m := &machine{c: c, inst: inst}
		for _, a := range allowedActions(t.Kind) {
			if a == ActReturn {
				for _, id := range m.returnTargets(t.Node) {
					if rn, ok := c.Node(id); ok {
						v.ReturnTo = append(v.ReturnTo, ReturnTarget{Node: id, Type: rn.Type, Name: rn.Name})
					}
				}
				if len(v.ReturnTo) == 0 {
					continue
				}
			}
			v.Actions = append(v.Actions, a)
			if n != nil && n.RequireSignature.Needs(n.Type, a) {
				v.SignatureFor = append(v.SignatureFor, a)
			}
		}
	}
	if involved(inst, p.Username) {
		v.Actions = append(v.Actions, "comment")
	}
	if p.Username == inst.Initiator && inst.State == StateRunning && !acted(inst) {
		v.Actions = append(v.Actions, "withdraw")
	}
	return v, nil
}

// returnTargets are the nodes a task of node may return to, nearest first.
func (m *machine) returnTargets(node string) []string {
	var out []string
	for i := len(m.inst.Timeline) - 1; i >= 0; i-- {
		s := m.inst.Timeline[i]
		if s.Action != stepEnter || s.Node == node || slices.Contains(out, s.Node) {
			continue
		}
		if m.validReturn(node, s.Node) == nil {
			out = append(out, s.Node)
		}
	}
	return out
}
