package workflow

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Timer kinds. remind and timeout come from a node's Timers; action and status are the
// runtime's own: they make an action node's run and an end node's record status durable, so a
// process that stops between storing the instance and running them leaves a timer that runs
// them later.
const (
	timerRemind  = "remind"
	timerTimeout = "timeout"
	timerAction  = "action"
	timerStatus  = "status"
)

// TimerJob is the scheduler job that fires due timers.
const TimerJob = "workflow.timers"

const (
	// actionRetryAfter is when the recovery timer of an action node or a record status fires
	// if the run right after the store write did not finish.
	actionRetryAfter = time.Minute
	// staleClaim is how old a firing claim must be before another node takes the timer over:
	// the firer died between its claim and its work (applying a timer twice is harmless, as
	// fireTimer checks the instance's state).
	staleClaim = 5 * time.Minute
	// defaultTimerPage is how many due timers FireTimers reads at a time.
	defaultTimerPage = 200
)

// timerDoc is a due timer: _id instance/node/visit/kind.
type timerDoc struct {
	ID       string    `bson:"_id"`
	Due      time.Time `bson:"due"`
	Kind     string    `bson:"kind"`
	Instance string    `bson:"instance"`
	Node     string    `bson:"node"`
	Visit    int       `bson:"visit"`
	App      string    `bson:"app"`
	Flow     string    `bson:"flow"`
}

// firedDoc claims a timer: the unique insert that makes one node fire it.
type firedDoc struct {
	At       time.Time `bson:"at"`
	Instance string    `bson:"instance"`
}

func timerID(inst string, node string, visit int, kind string) string {
	return inst + "/" + node + "/" + strconv.Itoa(visit) + "/" + kind
}

func newTimer(inst *Instance, node string, visit int, kind string, due time.Time) timerDoc {
	return timerDoc{ID: timerID(inst.ID, node, visit, kind), Due: due.UTC().Truncate(time.Millisecond), Kind: kind,
		Instance: inst.ID, Node: node, Visit: visit, App: inst.App, Flow: inst.Flow}
}

// nodeTimers are the remind and timeout timers of a visit of node n entered at now.
func nodeTimers(inst *Instance, n *Node, visit int, now time.Time, loc *time.Location) []timerDoc {
	var out []timerDoc
	add := func(spec, kind string) {
		d, err := parseDuration(spec)
		if spec == "" || err != nil || d <= 0 {
			return
		}
		due := now.Add(d)
		if n.Timers.WorkingHours {
			due = addWorkingTime(now, d, loc)
		}
		out = append(out, newTimer(inst, n.ID, visit, kind, due))
	}
	add(n.Timers.RemindAfter, timerRemind)
	// Without an action the timeout only marks the node's tasks overdue (EventTaskOverdue,
	// which rules answer).
	add(n.Timers.TimeoutAfter, timerTimeout)
	return out
}

// parseDuration reads a Go duration, with "d" for days of 24 hours as well ("2d", "1d12h").
func parseDuration(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if i := strings.Index(s, "d"); i > 0 {
		days, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("duration %q: %w", s, err)
		}
		rest := time.Duration(0)
		if s[i+1:] != "" {
			if rest, err = time.ParseDuration(s[i+1:]); err != nil {
				return 0, err
			}
		}
		return time.Duration(days)*24*time.Hour + rest, nil
	}
	return time.ParseDuration(s)
}

// Working hours: 09:00–18:00, Monday to Friday.
const (
	workStart = 9
	workEnd   = 18
)

// addWorkingTime adds d of working time to start, in loc: time outside 09:00–18:00 and at
// weekends does not count.
func addWorkingTime(start time.Time, d time.Duration, loc *time.Location) time.Time {
	if loc == nil {
		loc = time.UTC
	}
	t := start.In(loc)
	for d > 0 {
		y, mo, day := t.Date()
		open := time.Date(y, mo, day, workStart, 0, 0, 0, loc)
		closing := time.Date(y, mo, day, workEnd, 0, 0, 0, loc)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday || !t.Before(closing) {
			t = time.Date(y, mo, day+1, 0, 0, 0, 0, loc)
			continue
		}
		if t.Before(open) {
			t = open
		}
		left := closing.Sub(t)
		if d <= left {
			return t.Add(d)
		}
		d -= left
		t = time.Date(y, mo, day+1, 0, 0, 0, 0, loc)
	}
	return t
}

// putTimers stores new timers; one already there (the same visit) is left as it is.
func (s *Service) putTimers(ctx context.Context, ts []timerDoc) error {
	var errs []error
	for _, t := range ts {
		if err := s.st.Put(ctx, timersCollection, t.ID, t); err != nil && !errors.Is(err, store.ErrDuplicate) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func (s *Service) dropTimer(ctx context.Context, id string) {
	if err := s.st.Delete(ctx, timersCollection, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.k.Log.Warn("timer not removed", "timer", id, "err", err)
	}
}

// FireTimers fires the timers due by now (the job TimerJob runs it), oldest first (a node's
// reminder before its timeout). It reads them a page at a time (Options.TimerPage), in
// (due, _id) order from where the last page ended, so a backlog of any size is fired in
// bounded memory and a timer that fails stays for the next run without stopping this one.
// Each timer is claimed first by a unique insert of its id, so it fires once across nodes and
// restarts. It returns how many timers this call fired.
func (s *Service) FireTimers(ctx context.Context) (int, error) {
	now := s.now().UTC()
	page := s.opts.TimerPage
	if page <= 0 {
		page = defaultTimerPage
	}
	n := 0
	var errs []error
	after := ""
	for {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		res, err := s.st.Query(ctx, timersCollection, dueTimersQuery(now, page, after))
		if err != nil {
			errs = append(errs, err)
			break
		}
		due := make([]timerDoc, 0, len(res.Docs))
		for _, raw := range res.Docs {
			var t timerDoc
			if err = bson.Unmarshal(raw, &t); err != nil {
				break
			}
			due = append(due, t)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("decode timer: %w", err))
			break
		}
		if int64(len(due)) > s.largestTimerPage.Load() {
			s.largestTimerPage.Store(int64(len(due)))
		}
		for _, t := range due {
			fired, err := s.fire(ctx, t)
			if err != nil {
				errs = append(errs, fmt.Errorf("timer %s: %w", t.ID, err))
			}
			if fired {
				n++
			}
		}
		if res.Next == "" {
			break
		}
		after = res.Next
	}
	if err := errors.Join(errs...); err != nil {
		return n, fmt.Errorf("fire timers: %w", err)
	}
	return n, nil
}

// dueTimersQuery is the query of one page of FireTimers: timers due by now, in (due, _id)
// order, continuing after the cursor after ("": from the oldest). The timers' index by due
// time serves it.
func dueTimersQuery(now time.Time, page int, after string) store.Query {
	return store.Query{Where: store.Lte("due", now), Sort: []store.SortKey{{Path: "due"}},
		Limit: min(page, store.MaxQueryLimit), After: after}
}

// fire claims and applies one due timer. The claim carries its own time, not the batch's:
// late in a long batch, the batch's start would make a fresh claim look stale to other nodes.
func (s *Service) fire(ctx context.Context, t timerDoc) (bool, error) {
	now := s.now().UTC()
	claim := firedDoc{At: now.Truncate(time.Millisecond), Instance: t.Instance}
	if err := s.st.Put(ctx, firedCollection, t.ID, claim); err != nil {
		if !errors.Is(err, store.ErrDuplicate) {
			return false, err
		}
		var prev firedDoc
		if err := s.st.Get(ctx, firedCollection, t.ID, &prev); err != nil {
			return false, err
		}
		if now.Sub(prev.At) < staleClaim {
			return false, nil // another node fires it, or has fired it
		}
		// The firer died after its claim: take the timer over.
		if err := s.st.Set(ctx, firedCollection, t.ID, claim); err != nil {
			return false, err
		}
	}
	var err error
	switch t.Kind {
	case timerStatus:
		err = s.recoverStatus(ctx, t)
	case timerSync:
		err = s.fireSync(ctx, t)
	default:
		_, err = s.mutate(ctx, t.Instance, action{kind: evTimer, actor: engine.SystemActor, timer: t})
		if errors.Is(err, engine.ErrNotFound) {
			err = nil
		}
	}
	if err != nil {
		return true, err
	}
	s.dropTimer(ctx, t.ID)
	return true, nil
}

// recoverStatus sets the record status of a finished instance's end node again.
func (s *Service) recoverStatus(ctx context.Context, t timerDoc) error {
	inst, err := s.load(ctx, t.Instance)
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return err
	}
	n, ok := c.Node(t.Node)
	if !ok || n.SetStatus == "" || !endedAt(inst, t.Node, t.Visit) {
		return nil
	}
	return s.setStatus(ctx, inst, n.SetStatus)
}

// endedAt reports whether inst ended at visit of end node node. Timers are stored before the
// write they belong to, so a status timer may come from a change that lost its race and
// never happened.
func endedAt(inst *Instance, node string, visit int) bool {
	if inst.State == StateRunning || latestVisit(inst, node) != visit {
		return false
	}
	for i := len(inst.Timeline) - 1; i >= 0; i-- {
		if st := inst.Timeline[i]; st.Action == stepEnd {
			return st.Node == node
		}
	}
	return false
}
