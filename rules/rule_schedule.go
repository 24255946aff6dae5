package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"
	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// ScheduleJob is the job that fires schedule rules (a stable name).
const ScheduleJob = "rules.schedules"

// firingLayout names a schedule firing in keys, claims and the run log (UTC, to the minute).
const firingLayout = "2006-01-02T15:04Z"

// ScheduleResult says what one pass of the schedule job did.
type ScheduleResult struct {
	Rules   int `json:"rules"`   // schedule rules looked at
	Firings int `json:"firings"` // rules with a firing due that was not done yet
	Records int `json:"records"` // records matched (rules with match)
	Fired   int `json:"fired"`   // evaluations whose actions ran
}

// RunSchedules fires the schedule rules due at tick: for each published schedule rule, its
// latest firing time in (tick − Options.ScheduleCatchUp, tick] and after the version was
// published, if any. A rule without match runs once for the firing, on no record; one with
// match once for each record of its form that matches (an indexed query, at most
// Options.MaxRecords records; the run log says when there were more). Each evaluation is
// claimed first by a unique insert keyed by the rule version, the firing time and the record,
// so a firing runs once however often the job comes to it: ticks run twice, two nodes, a
// restart that catches up. The schedule job runs it every minute (Options.ScheduleSpec).
func (s *Service) RunSchedules(ctx context.Context, tick time.Time) (*ScheduleResult, error) {
	res := &ScheduleResult{}
	active, err := s.queryActive(ctx, store.Eq("on", OnSchedule))
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range active {
		c, err := s.compiled(ctx, a.App, a.Key, a.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if c.schedule == nil {
			continue
		}
		res.Rules++
		lo := tick.Add(-s.opts.ScheduleCatchUp)
		if a.Since.After(lo) {
			lo = a.Since
		}
		firing, ok := latestFiring(c.schedule, lo, tick)
		if !ok {
			continue
		}
		if err := s.fire(ctx, c, firing, res); err != nil {
			errs = append(errs, err)
		}
	}
	return res, errors.Join(errs...)
}

// latestFiring is the schedule's last activation in (lo, hi].
func latestFiring(sched cron.Schedule, lo, hi time.Time) (time.Time, bool) {
	var last time.Time
	for f, n := sched.Next(lo), 0; !f.IsZero() && !f.After(hi) && n < 100_000; f, n = sched.Next(f), n+1 {
		last = f
	}
	return last, !last.IsZero()
}

// fire runs one firing of a schedule rule, unless it is done. The firing's marker, a claim
// named after the rule version and the firing time, is done once the firing has run: the
// catch-up that comes back to the firing every minute then reads nothing. A rule without
// match claims the marker itself for its one evaluation; a rule with match claims each record
// (marked with the firing) and sets the marker when a pass ends with no failure and no record
// another run still works on. A pass after a failed or interrupted one skips the records the
// firing ran on before, so Options.MaxRecords' places go to records not yet run (the failed
// ones, and those the earlier pass did not reach).
func (s *Service) fire(ctx context.Context, c *Compiled, firing time.Time, res *ScheduleResult) error {
	at := firing.UTC().Format(firingLayout)
	base := "rule:" + engine.DefinitionVersionID(c.App, c.Key, c.Version) + ":" + at
	if done, err := s.finished(ctx, base); err != nil || done {
		return err
	}
	res.Firings++
	until := firing.Add(48 * time.Hour)
	input := func(id string, data map[string]any, status string) *evalInput {
		key := base
		if id != "" {
			key += ":" + id
		}
		in := &evalInput{trigger: "schedule:" + at, form: c.Def.Form, id: id, data: data, status: status, actor: engine.SystemActor,
			key: key, claim: key, claimFirst: true, until: until}
		if id != "" {
			in.firing = base
		}
		return in
	}
	count := func(run *Run) {
		if run != nil && run.Outcome == OutcomeFired {
			res.Fired++
		}
	}
	if c.match == nil {
		run, err := s.evaluate(ctx, c, input("", map[string]any{}, ""))
		count(run)
		return err
	}
	where, _, err := s.matchWhere(s.withLookup(ctx, c.App, rulePrincipal(c)), c.App, c.match, c.vars(input("", nil, "")))
	if err != nil {
		// A definition mistake: retrying will not help. The run log shows it once a firing,
		// and the firing is done.
		held, cerr := s.take(ctx, base, bson.D{{Key: "rule", Value: c.Key}, {Key: "version", Value: c.Version}, {Key: "until", Value: until.UTC()}})
		if cerr != nil || held != claimTaken {
			return cerr
		}
		s.logRun(ctx, &Run{App: c.App, Rule: c.Key, Version: c.Version, Trigger: "schedule:" + at, Form: c.Def.Form,
			Actor: engine.SystemActor, Outcome: OutcomeFailed, Error: err.Error()})
		return s.settle(ctx, base)
	}
	ran, err := s.firingClaims(ctx, base)
	if err != nil {
		return fmt.Errorf("schedule rule %s at %s: %w", c.Key, at, err)
	}
	recs, capped, err := s.matchingSkip(ctx, c.App, c.Def.Form, where, s.opts.MaxRecords, func(id string) bool { return ran[id] })
	if err != nil {
		return fmt.Errorf("schedule rule %s at %s: %w", c.Key, at, err)
	}
	res.Records += len(recs)
	var reason string
	if capped {
		reason = fmt.Sprintf("more than %d records matched this firing; the cap is %d: the records past it were not run", s.opts.MaxRecords, s.opts.MaxRecords)
		s.k.Log.Warn("schedule rule capped", "app", c.App, "rule", c.Key, "firing", at, "cap", s.opts.MaxRecords)
	}
	var errs []error
	busy := false
	for _, r := range recs {
		in := input(r.ID, r.Data, r.Status)
		in.reason = reason
		run, err := s.evaluate(ctx, c, in)
		count(run)
		if err != nil {
			errs = append(errs, err)
		}
		busy = busy || in.held == claimBusy
	}
	if len(errs) > 0 || busy {
		return errors.Join(errs...)
	}
	err = s.st.Set(ctx, firedCollection, base, bson.D{{Key: "state", Value: claimDone}, {Key: "rule", Value: c.Key},
		{Key: "version", Value: c.Version}, {Key: "at", Value: s.now().UTC()}, {Key: "until", Value: until.UTC()}})
	if err != nil {
		return fmt.Errorf("schedule rule %s at %s: %w", c.Key, at, err)
	}
	return nil
}

// firingClaims are the records a schedule firing ran on, or another run runs on now: its
// claims that are done, or pending and younger than claimLease (an older pending claim is
// taken over, so its record is run again).
func (s *Service) firingClaims(ctx context.Context, firing string) (map[string]bool, error) {
	out := map[string]bool{}
	now := s.now().UTC()
	q := store.Query{Where: store.Eq("firing", firing), Limit: 1000, Fields: []string{"record", "state", "at"}}
	err := s.st.QueryEach(ctx, firedCollection, q, func(raw bson.Raw) error {
		var d struct {
			Record string    `bson:"record"`
			State  string    `bson:"state"`
			At     time.Time `bson:"at"`
		}
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if d.State != claimPending || now.Sub(d.At) < claimLease {
			out[d.Record] = true
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("claims of %s: %w", firing, err)
	}
	return out, nil
}
