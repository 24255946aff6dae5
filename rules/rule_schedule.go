package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/robfig/cron/v3"

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
	Firings int `json:"firings"` // rules with a firing due
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
		res.Firings++
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

// fire runs one firing of a schedule rule.
func (s *Service) fire(ctx context.Context, c *Compiled, firing time.Time, res *ScheduleResult) error {
	at := firing.UTC().Format(firingLayout)
	base := "rule:" + engine.DefinitionVersionID(c.App, c.Key, c.Version) + ":" + at
	input := func(id string, data map[string]any, status string) *evalInput {
		key := base
		if id != "" {
			key += ":" + id
		}
		return &evalInput{trigger: "schedule:" + at, form: c.Def.Form, id: id, data: data, status: status, actor: engine.SystemActor,
			key: key, claim: key, claimFirst: true, until: firing.Add(48 * time.Hour)}
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
		// A definition mistake: retrying will not help. The run log shows it once a firing
		// (the catch-up comes back to the firing every minute).
		failed := input("", nil, "")
		failed.claim += ":match"
		if claimed, cerr := s.claim(ctx, c, failed); cerr != nil || !claimed {
			return cerr
		}
		s.logRun(ctx, &Run{App: c.App, Rule: c.Key, Version: c.Version, Trigger: "schedule:" + at, Form: c.Def.Form,
			Actor: engine.SystemActor, Outcome: OutcomeFailed, Error: err.Error()})
		return nil
	}
	recs, capped, err := s.matching(ctx, c.App, c.Def.Form, where, s.opts.MaxRecords)
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
	for _, r := range recs {
		in := input(r.ID, r.Data, r.Status)
		in.reason = reason
		run, err := s.evaluate(ctx, c, in)
		count(run)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
