package workflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// What a person sees of an instance. A step's Data is the record edit an approver made, so it
// holds record values: it is shown to each viewer through the same rules as the record itself.
// A viewer sees a field of the record when the form's field rules let them (engine.Records
// VisibleFields) and either they may read the record through the form, or one of their tasks
// is actionable now on a node whose visible list holds the field. Their own steps they see
// whole (they wrote them). The task page shows the record itself only while the task is
// actionable, or, for a notify (CC) task, the snapshot made when it was created.

// snapshotsCollection keeps what notify tasks show: _id instance/node/visit, written once.
const snapshotsCollection = "wf_snapshots"

// snapshotDoc is the record as a notify node's visit showed it (its visible fields only).
type snapshotDoc struct {
	At   time.Time      `bson:"at"`
	Data map[string]any `bson:"data"`
}

func snapshotID(inst string, node string, visit int) string {
	return timerID(inst, node, visit, "cc")
}

// actionable: the task's assignee can act on it now.
func actionable(inst *Instance, t *Task) bool {
	return t.State == TaskPending && inst.State == StateRunning && isActive(inst, t.Node) && latestVisit(inst, t.Node) == t.Visit
}

// recordView is what one principal may see of one record's fields.
type recordView struct {
	known    bool            // the record could be judged (false: it is gone, or there is no record service)
	readable bool            // p may read the record through the form
	fields   map[string]bool // what the form's field rules show p
}

// recordViewOf judges the record of inst for p.
func (s *Service) recordViewOf(ctx context.Context, p *engine.Principal, app, form, record string) (recordView, error) {
	if s.k.Records == nil {
		return recordView{}, nil
	}
	fv, err := s.k.Records.VisibleFields(ctx, p, app, form, record)
	if errors.Is(err, engine.ErrNotFound) {
		return recordView{}, nil
	}
	if err != nil {
		return recordView{}, fmt.Errorf("fields of record %s: %w", record, err)
	}
	v := recordView{known: true, readable: fv.Readable, fields: make(map[string]bool, len(fv.Fields))}
	for _, f := range fv.Fields {
		v.fields[f] = true
	}
	return v, nil
}

// nodeShows reports whether node n shows field k to its assignees (no visible list: all).
func nodeShows(n *Node, k string) bool {
	return n == nil || n.Fields == nil || n.Fields.Visible == nil || slices.Contains(n.Fields.Visible, k)
}

// allows gives the test of which record fields p may see in inst's timeline.
func (v recordView) allows(c *Compiled, inst *Instance, p *engine.Principal) func(k string) bool {
	if !v.known {
		return func(string) bool { return false }
	}
	if v.readable {
		return func(k string) bool { return v.fields[k] }
	}
	var nodes []*Node
	for i := range inst.Tasks {
		t := &inst.Tasks[i]
		if (t.Assignee == p.Username || t.OnBehalf == p.Username) && actionable(inst, t) {
			if n, ok := c.Node(t.Node); ok {
				nodes = append(nodes, n)
			}
		}
	}
	return func(k string) bool {
		return v.fields[k] && slices.ContainsFunc(nodes, func(n *Node) bool { return nodeShows(n, k) })
	}
}

// present gives inst as p may see it: a copy whose timeline carries the comments and only the
// record values p may see.
func (s *Service) present(ctx context.Context, p *engine.Principal, inst *Instance) (*Instance, error) {
	v, err := s.recordViewOf(ctx, p, inst.App, inst.Form, inst.Record)
	if err != nil {
		return nil, err
	}
	return s.presentWith(ctx, p, inst, v)
}

// presentWith is present with the record already judged (the instances of one record share it).
func (s *Service) presentWith(ctx context.Context, p *engine.Principal, inst *Instance, v recordView) (*Instance, error) {
	out := *inst
	out.Tasks = slices.Clone(inst.Tasks)
	out.Active = slices.Clone(inst.Active)
	comments, err := s.comments(ctx, inst.ID)
	if err != nil {
		return nil, err
	}
	out.Timeline = mergeSteps(inst.Timeline, comments)
	var shows func(string) bool
	for i := range out.Timeline {
		st := &out.Timeline[i]
		if len(st.Data) == 0 || st.Actor == p.Username {
			continue
		}
		if shows == nil {
			c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
			if err != nil {
				return nil, fmt.Errorf("instance %s: %w", inst.ID, err)
			}
			shows = v.allows(c, inst, p)
		}
		data := make(map[string]any, len(st.Data))
		for k, val := range st.Data {
			if shows(k) {
				data[k] = val
			}
		}
		st.Data = data
		if len(data) == 0 {
			st.Data = nil
		}
	}
	return &out, nil
}

// mergeSteps merges comments into an instance's steps by time (a step before a comment of the
// same moment); both are in time order.
func mergeSteps(steps, comments []Step) []Step {
	out := make([]Step, 0, len(steps)+len(comments))
	i := 0
	for _, c := range comments {
		for i < len(steps) && !steps[i].At.After(c.At) {
			out = append(out, steps[i])
			i++
		}
		out = append(out, c)
	}
	return append(out, steps[i:]...)
}

// taskRecord is the record the task page of t shows p: the live record while t is actionable
// (or, for a notify task, the snapshot made when it was created), through the node's visible
// list and the form's field rules for p; nil otherwise.
func (s *Service) taskRecord(ctx context.Context, inst *Instance, n *Node, t *Task, p *engine.Principal, v recordView) (map[string]any, error) {
	if s.k.Records == nil || t.Assignee != p.Username && t.OnBehalf != p.Username {
		return nil, nil
	}
	var data map[string]any
	switch {
	case actionable(inst, t):
		ref, err := s.k.Records.GetRecord(ctx, engine.SystemPrincipal(), inst.App, inst.Form, inst.Record)
		if errors.Is(err, engine.ErrNotFound) {
			return map[string]any{}, nil
		}
		if err != nil {
			return nil, err
		}
		data = ref.Data
	case t.State == TaskCC:
		var snap snapshotDoc
		err := s.st.Get(ctx, snapshotsCollection, snapshotID(inst.ID, t.Node, t.Visit), &snap)
		if errors.Is(err, store.ErrNotFound) {
			return map[string]any{}, nil
		}
		if err != nil {
			return nil, fmt.Errorf("task %s: %w", t.ID, err)
		}
		data = snap.Data
	default:
		return nil, nil
	}
	out := map[string]any{}
	for k, val := range data {
		if v.fields[k] && nodeShows(n, k) {
			out[k] = val
		}
	}
	return out, nil
}

// snapshot stores, once per visit, what the notify nodes among tasks show: the record's
// fields their node lets them see, as they are now. It runs after the instance is stored (and
// again on resync, where an existing snapshot stays).
func (s *Service) snapshot(ctx context.Context, c *Compiled, inst *Instance, tasks []string) error {
	if s.k.Records == nil {
		return nil
	}
	var ref *engine.RecordRef
	done := map[string]bool{}
	for _, id := range tasks {
		i := slices.IndexFunc(inst.Tasks, func(t Task) bool { return t.ID == id })
		if i < 0 || inst.Tasks[i].State != TaskCC {
			continue
		}
		t := inst.Tasks[i]
		key := snapshotID(inst.ID, t.Node, t.Visit)
		if done[key] {
			continue
		}
		done[key] = true
		var have snapshotDoc
		if err := s.st.Get(ctx, snapshotsCollection, key, &have); err == nil {
			continue
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		if ref == nil {
			r, err := s.k.Records.GetRecord(ctx, engine.SystemPrincipal(), inst.App, inst.Form, inst.Record)
			if errors.Is(err, engine.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			ref = r
		}
		n, _ := c.Node(t.Node)
		data := maps.Clone(ref.Data)
		maps.DeleteFunc(data, func(k string, _ any) bool { return !nodeShows(n, k) })
		err := s.st.Put(ctx, snapshotsCollection, key, snapshotDoc{At: s.clock(), Data: data})
		if err != nil && !errors.Is(err, store.ErrDuplicate) {
			return err
		}
	}
	return nil
}
