package workflow

import (
	"context"
	"errors"
	"fmt"

	"tracecraft/engine"
)

// Service implements engine.TaskGrants: an approver who may not read a record through its
// form still sees, while their task is actionable, the fields its node shows (within the
// form's field rules), and so may download the files in them.
var _ engine.TaskGrants = (*Service)(nil)

// TaskFields lists the fields of a record that p's actionable tasks on its instances show:
// the visible fields of their nodes that the form's field rules let p see; open tells whether
// p holds such a task at all. The same rules decide what the task page shows (taskRecord).
func (s *Service) TaskFields(ctx context.Context, p *engine.Principal, app, form, record string) ([]string, bool, error) {
	if p == nil {
		return nil, false, nil
	}
	ids, err := s.recordInstanceIDs(ctx, app, form, record)
	if err != nil {
		return nil, false, fmt.Errorf("task fields of %s: %w", record, err)
	}
	var nodes []*Node
	open := false
	for _, id := range ids {
		inst, err := s.load(ctx, id)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("task fields of %s: %w", record, err)
		}
		if inst.App != app || inst.Form != form || inst.Record != record {
			continue
		}
		var c *Compiled
		for i := range inst.Tasks {
			t := &inst.Tasks[i]
			if t.Assignee != p.Username && t.OnBehalf != p.Username || !actionable(inst, t) {
				continue
			}
			if c == nil {
				if c, err = s.Compiled(ctx, inst.App, inst.Flow, inst.Version); err != nil {
					return nil, false, fmt.Errorf("task fields of %s: %w", record, err)
				}
			}
			if n, ok := c.Node(t.Node); ok {
				open = true
				nodes = append(nodes, n)
			}
		}
	}
	if !open {
		return nil, false, nil
	}
	if s.k.Records == nil {
		return nil, true, nil
	}
	fv, err := s.k.Records.VisibleFields(ctx, p, app, form, record)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("task fields of %s: %w", record, err)
	}
	var out []string
	for _, k := range fv.Fields {
		for _, n := range nodes {
			if nodeShows(n, k) {
				out = append(out, k)
				break
			}
		}
	}
	return out, true, nil
}
