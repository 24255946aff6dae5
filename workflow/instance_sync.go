package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"tracecraft/engine"
)

// An instance write and its side effects are not one transaction: a process can stop between
// them, or an effect can fail. Two things make that recoverable. The timers apply computed are
// stored before the write (their ids are deterministic, and a timer of a visit that never
// happened does nothing when it fires), and so is a "sync" timer for the revision being
// written, due a minute later, whose firing repairs what the effects would have done: the
// record's list of instances, the inbox projection, the timers of the active visits and the
// pending action nodes. runEffects drops the sync timer once those effects succeeded. Events
// and audit entries of a change whose effects never ran are not made again.

// timerSync is the kind of the per-revision sync timer.
const timerSync = "sync"

// syncTimer is the sync timer of revision rev of inst.
func syncTimer(inst *Instance, rev int64, due time.Time) timerDoc {
	t := newTimer(inst, "", 0, timerSync, due)
	t.ID = inst.ID + "/sync/" + strconv.FormatInt(rev, 10)
	return t
}

// prepareWrite stores, before revision rev of inst is written, the timers eff asks for and the
// revision's sync timer, and notes the sync timer in eff for runEffects. A failure here
// changes nothing: the caller reports it without writing.
func (s *Service) prepareWrite(ctx context.Context, inst *Instance, rev int64, eff *effects) error {
	st := syncTimer(inst, rev, s.clock().Add(actionRetryAfter))
	if err := s.putTimers(ctx, append([]timerDoc{st}, eff.timers...)); err != nil {
		return fmt.Errorf("instance %s: store timers: %w", inst.ID, err)
	}
	eff.sync = st.ID
	return nil
}

// activeTimers are the timers of inst's active visits, due as they were when each visit began:
// the remind and timeout timers of human nodes and the recovery timers of action nodes.
func activeTimers(c *Compiled, inst *Instance, loc *time.Location) []timerDoc {
	var out []timerDoc
	for _, id := range inst.Active {
		n, ok := c.Node(id)
		if !ok {
			continue
		}
		visit := latestVisit(inst, id)
		began, ok := visitStart(inst, visit)
		if !ok {
			continue
		}
		switch n.Type {
		case NodeApproval, NodeFill:
			if n.Timers != nil {
				out = append(out, nodeTimers(inst, n, visit, began, loc)...)
			}
		case NodeAction:
			out = append(out, newTimer(inst, n.ID, visit, timerAction, began.Add(actionRetryAfter)))
		}
	}
	return out
}

// visitStart is when visit (the visit-th "enter" step) began.
func visitStart(inst *Instance, visit int) (time.Time, bool) {
	v := 0
	for _, st := range inst.Timeline {
		if st.Action == stepEnter {
			if v++; v == visit {
				return st.At, true
			}
		}
	}
	return time.Time{}, false
}

// resync makes again what the effects of inst's latest change would have made: it lists inst
// on its record, stores its notify snapshots, projects it into the inbox, stores the timers of its active visits and runs
// its pending action nodes. Each part is idempotent.
func (s *Service) resync(ctx context.Context, inst *Instance) error {
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return err
	}
	var errs []error
	if _, err := s.addRecordInstance(ctx, inst); err != nil {
		errs = append(errs, fmt.Errorf("list on record: %w", err))
	}
	ids := make([]string, len(inst.Tasks))
	for i, t := range inst.Tasks {
		ids[i] = t.ID
	}
	if err := s.snapshot(ctx, c, inst, ids); err != nil {
		errs = append(errs, fmt.Errorf("notify snapshots: %w", err))
	}
	if err := s.reproject(ctx, inst); err != nil {
		errs = append(errs, fmt.Errorf("inbox: %w", err))
	}
	if err := s.putTimers(ctx, activeTimers(c, inst, s.k.Scheduler.Location())); err != nil {
		errs = append(errs, fmt.Errorf("timers: %w", err))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if inst.State == StateRunning {
		latest := inst
		for _, id := range inst.Active {
			if n, ok := c.Node(id); ok && n.Type == NodeAction {
				latest = s.runNode(ctx, c, latest, nodeRun{Node: id, Visit: latestVisit(inst, id)})
			}
		}
	}
	return nil
}

// fireSync is a sync timer firing: the instance as it is now is synchronised.
func (s *Service) fireSync(ctx context.Context, t timerDoc) error {
	inst, err := s.load(ctx, t.Instance)
	if errors.Is(err, engine.ErrNotFound) {
		return nil // the write it was stored for never happened
	}
	if err != nil {
		return err
	}
	return s.resync(ctx, inst)
}
