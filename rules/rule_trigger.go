package rules

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"tracecraft/engine"
)

// ruleCronParser reads a schedule trigger's cron spec: five fields (minute resolution) or a
// descriptor. Seconds are not offered: the schedule job looks for due firings once a minute.
var ruleCronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// flowTrigger tells whether on is one of the flow triggers.
func flowTrigger(on string) bool {
	return on == OnFlowFinished || on == OnNodeEntered || on == OnTaskOverdue
}

// compileTrigger checks the members of the flow and schedule triggers (and that no other
// trigger names them), parses a schedule's cron spec in its time zone and compiles its match.
func (s *Service) compileTrigger(ctx context.Context, app string, c *Compiled, live bool, fe *engine.FieldErrors) error {
	t := c.Def.Trigger
	if t.Flow != "" && !flowTrigger(t.On) {
		fe.Add("/trigger/flow", "unknown_field", nil)
	}
	if t.Outcome != "" && t.On != OnFlowFinished {
		fe.Add("/trigger/outcome", "unknown_field", nil)
	}
	switch {
	case t.Node != "" && t.On != OnNodeEntered && t.On != OnTaskOverdue:
		fe.Add("/trigger/node", "unknown_field", nil)
	case t.Node == "" && t.On == OnNodeEntered:
		fe.Add("/trigger/node", "required", nil)
	}
	if t.On != OnSchedule {
		for name, set := range map[string]bool{"cron": t.Cron != "", "timezone": t.Timezone != "", "match": len(t.Match) > 0} {
			if set {
				fe.Add("/trigger/"+name, "unknown_field", nil)
			}
		}
		return nil
	}
	loc := s.k.Location()
	if t.Timezone != "" {
		l, err := time.LoadLocation(t.Timezone)
		if err != nil || t.Timezone == "Local" {
			fe.Add("/trigger/timezone", "rule_bad_timezone", map[string]any{"value": t.Timezone})
		} else {
			loc = l
		}
	}
	if t.Cron == "" {
		fe.Add("/trigger/cron", "required", nil)
	} else if sched, err := parseRuleCron(t.Cron, loc); err != nil {
		fe.Add("/trigger/cron", "rule_bad_cron", map[string]any{"detail": err.Error()})
	} else {
		c.schedule = sched
	}
	if len(t.Match) > 0 {
		m, err := s.compileMatch(ctx, app, c.Def.Form, t.Match, live, fe, func(rel string) string { return "/trigger/match" + rel })
		if err != nil {
			return err
		}
		c.match = m
	}
	return nil
}

// parseRuleCron reads a cron spec of five fields or a descriptor, in loc. A time zone is given
// by the trigger's timezone, not in the spec; @every is refused (its firings would depend on
// when each node started).
func parseRuleCron(spec string, loc *time.Location) (cron.Schedule, error) {
	spec = strings.TrimSpace(spec)
	if strings.HasPrefix(spec, "TZ=") || strings.HasPrefix(spec, "CRON_TZ=") {
		return nil, errors.New("give the time zone in timezone, not in the spec")
	}
	if strings.HasPrefix(spec, "@every") {
		return nil, errors.New("@every is not offered: use a cron spec such as */10 * * * *")
	}
	sched, err := ruleCronParser.Parse(spec)
	if err != nil {
		return nil, err
	}
	ss, ok := sched.(*cron.SpecSchedule)
	if !ok {
		return nil, errors.New("not a cron spec")
	}
	ss.Location = loc
	return ss, nil
}
