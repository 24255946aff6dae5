package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// evalInput is one evaluation of a rule on a record: from a record event or the date sweep.
type evalInput struct {
	trigger string // the event type, or "date:<due day>"
	event   string // the event id; "" in the sweep
	form    string
	id      string
	data    map[string]any
	prev    map[string]any
	status  string
	actor   string
	depth   int       // the chain depth of the write that triggered the evaluation
	key     string    // the base of the actions' run keys
	claim   string    // a date or schedule firing's claim in firedCollection; "" for events
	until   time.Time // when the firing's claim may go (Prune deletes it after)
	// legacyClaim is a date firing's claim as it was named before date claims left out the
	// rule version: a firing claimed under it by the same version is not fired again.
	legacyClaim string
	firing      string    // a schedule firing's marker (its claims carry it: rule_schedule.go)
	held        claimHeld // what evaluate found of the claim (claimBusy: another run has it)
	// claimFirst claims before the condition is evaluated (schedule firings): a firing is
	// evaluated, and logged, once however many nodes and runs come to it.
	claimFirst bool
	flow       map[string]any // a flow trigger's flow variable
	reason     string         // a note for the run log (a schedule firing past the cap)
}

// onRecordEvent evaluates the published rules of the record's form whose trigger the event
// matches. It runs on the bus after the write is stored; an action's failure is returned so
// the bus retries the event (actions are keyed by the event, so those that succeeded are not
// repeated), and after the bus's last attempt the delivery is a dead letter an administrator
// sees and can replay.
func (s *Service) onRecordEvent(ctx context.Context, e engine.Event) error {
	form, _ := e.Data["form"].(string)
	id, _ := e.Data["id"].(string)
	if e.App == "" || form == "" || id == "" {
		return nil
	}
	active, err := s.activeRules(ctx, e.App, form)
	if err != nil || len(active) == 0 {
		return err
	}
	status, _ := e.Data["status"].(string)
	depth := engine.EventDepth(e)
	var errs []error
	for _, a := range active {
		c, err := s.compiled(ctx, a.App, a.Key, a.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		in := &evalInput{trigger: e.Type, event: e.ID, form: form, id: id, data: e.After, prev: e.Before, status: status,
			actor: e.Actor, depth: depth, key: "rule:" + engine.DefinitionVersionID(c.App, c.Key, c.Version) + ":" + e.ID}
		if c.Def.Trigger.On == OnDate {
			if e.Type != engine.EventRecordCreated && e.Type != engine.EventRecordUpdated {
				continue
			}
			due, ok := s.dueToday(c, e.After)
			if !ok {
				continue
			}
			s.dateInput(c, in, due)
		} else if !c.matches(e) {
			continue
		}
		if _, err := s.evaluate(ctx, c, in); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// matches tells whether a record event is the rule's trigger.
func (c *Compiled) matches(e engine.Event) bool {
	t := c.Def.Trigger
	switch t.On {
	case OnCreated:
		return e.Type == engine.EventRecordCreated
	case OnUpdated:
		return e.Type == engine.EventRecordUpdated
	case OnDeleted:
		return e.Type == engine.EventRecordDeleted
	case OnStatusChanged:
		if e.Type != engine.EventRecordStatusChanged {
			return false
		}
		return (!c.hasTo || e.Data["status"] == c.to) && (!c.hasFrom || e.Data["previousStatus"] == c.from)
	case OnFieldChanged:
		if e.Type != engine.EventRecordUpdated {
			return false
		}
		before, after := e.Before[t.Field], e.After[t.Field]
		if sameValue(before, after) {
			return false
		}
		return (!c.hasFrom || sameValue(before, c.from)) && (!c.hasTo || sameValue(after, c.to))
	}
	return false
}

// sameValue compares two plain values as JSON: 3 and 3.0 are one number.
func sameValue(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	if err1 != nil || err2 != nil {
		return reflect.DeepEqual(a, b)
	}
	var na, nb any
	_ = json.Unmarshal(ja, &na)
	_ = json.Unmarshal(jb, &nb)
	return reflect.DeepEqual(na, nb)
}

// vars are the variables of a rule's expressions for one evaluation (conditionEnv), and the
// record's app, form and id for action params.
func (c *Compiled) vars(in *evalInput) map[string]any {
	data := in.data
	if data == nil {
		data = map[string]any{}
	}
	var prev any
	if in.prev != nil {
		prev = in.prev
	}
	actor := in.actor
	if actor == "" {
		actor = engine.SystemActor
	}
	flow := in.flow
	if flow == nil {
		flow = map[string]any{"key": "", "instance": "", "outcome": "", "node": ""}
	}
	return map[string]any{
		"record": data, "previous": prev, "status": in.status,
		"user": map[string]any{"username": actor},
		"rule": map[string]any{"key": c.Key, "version": c.Version},
		"flow": flow, "target": nil,
		"app": c.App, "form": in.form, "id": in.id,
	}
}

// evaluate runs one evaluation: the depth cap, the condition, the date claim, the actions, and
// its entry in the run log (none for a date firing claimed before). The error is an action's
// failure, for the caller to retry.
func (s *Service) evaluate(ctx context.Context, c *Compiled, in *evalInput) (*Run, error) {
	run := &Run{App: c.App, Rule: c.Key, Version: c.Version, Trigger: in.trigger, Event: in.event, Form: in.form,
		Record: in.id, Actor: in.actor, Depth: in.depth, Reason: in.reason}
	if in.depth >= s.opts.MaxDepth {
		run.Outcome = OutcomeDepthCapped
		run.Reason = fmt.Sprintf("the record was written by a chain of %d rule actions; the cap is %d: no actions ran", in.depth, s.opts.MaxDepth)
		s.k.Log.Warn("rule chain capped", "app", c.App, "rule", c.Key, "record", in.id, "depth", in.depth)
		s.logRun(ctx, run)
		return run, nil
	}
	claimed := false
	if in.claim != "" && in.claimFirst {
		if err := s.claim(ctx, c, in); err != nil || in.held != claimTaken {
			return nil, err
		}
		claimed = true
	}
	// done ends an evaluation that needs no retry: logged, then its claim (if any) done. A
	// node that stops between the two leaves the claim pending; a later run takes it over and
	// logs the firing again.
	done := func() (*Run, error) {
		s.logRun(ctx, run)
		if claimed {
			if err := s.settle(ctx, in.claim); err != nil {
				return run, err
			}
		}
		return run, nil
	}
	ctx = s.withLookup(ctx, c.App, rulePrincipal(c))
	vars := c.vars(in)
	if c.cond != nil {
		ok, err := c.cond.EvalBool(ctx, vars)
		if err != nil {
			// A definition mistake or data it did not expect: retrying will not help; the
			// run log shows it.
			run.Outcome, run.Error = OutcomeFailed, "condition: "+exprDetail(err)
			return done()
		}
		if !ok {
			run.Outcome = OutcomeConditionFalse
			return done()
		}
	}
	if in.claim != "" && !in.claimFirst {
		if err := s.claim(ctx, c, in); err != nil || in.held != claimTaken {
			return nil, err
		}
		claimed = true
	}
	run.Actions, run.Error = s.runActions(ctx, c, in, vars, false)
	run.Outcome = OutcomeFired
	if run.Error == "" {
		return done()
	}
	run.Outcome = OutcomeFailed
	if claimed {
		// The next sweep (or a run again) tries again; actions that succeeded are keyed and
		// not repeated.
		s.release(ctx, in.claim)
	}
	s.logRun(ctx, run)
	return run, fmt.Errorf("rule %s on %s: %s", c.Key, in.id, run.Error)
}

// claim claims a firing (take: pending, then done by evaluate) and sets in.held. A date
// firing claimed under its legacy name by this version counts as done.
func (s *Service) claim(ctx context.Context, c *Compiled, in *evalInput) error {
	fields := bson.D{{Key: "rule", Value: c.Key}, {Key: "version", Value: c.Version}, {Key: "record", Value: in.id},
		{Key: "until", Value: in.until.UTC()}}
	if in.firing != "" {
		fields = append(fields, bson.E{Key: "firing", Value: in.firing})
	}
	held, err := s.take(ctx, in.claim, fields)
	if err != nil {
		return err
	}
	in.held = held
	if held != claimTaken || in.legacyClaim == "" {
		return nil
	}
	fired, err := s.finished(ctx, in.legacyClaim)
	if err != nil {
		s.release(ctx, in.claim)
		return err
	}
	if fired {
		in.held = claimFinished
		return s.settle(ctx, in.claim)
	}
	return nil
}

// runActions runs the rule's actions in order, or, for a dry run, only works out their params.
// It stops at the first failure, whose message it returns.
func (s *Service) runActions(ctx context.Context, c *Compiled, in *evalInput, vars map[string]any, dry bool) ([]ActionRun, string) {
	out := make([]ActionRun, 0, len(c.actions))
	actx := engine.WithChainDepth(ctx, in.depth+1)
	for i, a := range c.actions {
		ar := ActionRun{Type: a.typ, Action: a.kernel}
		params, err := a.params(ctx, vars)
		if err != nil {
			ar.Error = exprDetail(err)
			return append(out, ar), fmt.Sprintf("action %d (%s): %s", i, a.typ, ar.Error)
		}
		ar.Params = redact(params)
		if dry {
			out = append(out, ar)
			continue
		}
		if sec, _ := params["secret"].(string); sec == secretMask {
			// The action's secret, kept apart from the definition (rule_secret.go).
			u, _ := params["url"].(string)
			real, err := s.actionSecret(ctx, c.App, c.Key, i, u)
			if err != nil {
				ar.Error = "secret unavailable"
				return append(out, ar), fmt.Sprintf("action %d (%s): %s", i, a.typ, ar.Error)
			}
			params = maps.Clone(params)
			params["secret"] = real
		}
		ac := engine.ActionContext{Key: in.key + "#" + strconv.Itoa(i), App: c.App, Form: in.form,
			Record: in.id, Actor: rulePrincipal(c), Params: params}
		var res map[string]any
		if a.run != nil {
			res, err = a.run(actx, s, c, ac)
		} else if act, ok := s.k.Actions.Get(a.kernel); !ok {
			ar.Error = "no such action"
			return append(out, ar), fmt.Sprintf("action %d (%s): %s", i, a.typ, ar.Error)
		} else {
			res, err = act.Run(actx, ac)
		}
		if err != nil {
			ar.Error = err.Error()
			return append(out, ar), fmt.Sprintf("action %d (%s): %s", i, a.typ, ar.Error)
		}
		ar.Result = res
		out = append(out, ar)
	}
	return out, ""
}

// rulePrincipal is the actor of a rule version's actions: the platform's powers (like
// SystemPrincipal), under the name rule:<key>@<version>, so the audit entries and events of
// the records it writes say which rule wrote them.
func rulePrincipal(c *Compiled) *engine.Principal {
	p := engine.SystemPrincipal()
	p.Username = "rule:" + c.Key + "@" + strconv.Itoa(c.Version)
	p.DisplayName = c.Def.Label.ZH
	return p
}

// redact leaves out of what the run log and a dry run show the secrets and the in-memory
// members of params (a notification's renderer, update_records' query and values: names
// starting with _).
func redact(params map[string]any) map[string]any {
	out := make(map[string]any, len(params))
	for k, v := range params {
		if len(k) > 0 && k[0] == '_' {
			continue
		}
		out[k] = v
	}
	if _, secret := params["secret"]; secret {
		out["secret"] = "…"
	}
	return out
}

// DryRun is what a rule would do for a record, without doing it.
type DryRun struct {
	Rule      string      `json:"rule"`
	Record    string      `json:"record"`
	Condition bool        `json:"condition"`
	Due       string      `json:"due,omitempty"` // date rules: the record's due day
	InWindow  *bool       `json:"inWindow,omitempty"`
	Actions   []ActionRun `json:"actions"`
	Error     string      `json:"error,omitempty"`
}

// DryRunInput names the record a dry run evaluates the rule's draft on.
type DryRunInput struct {
	Record string `json:"record"`
}

// DryRun evaluates the draft of rule app/key on a record of its form, as p reads it: the
// condition, and each action's params as they would be — nothing is written, no claim is
// made. It needs app.design.
func (s *Service) DryRun(ctx context.Context, p *engine.Principal, app, key string, in DryRunInput) (*DryRun, error) {
	r, err := s.GetRule(ctx, p, app, key)
	if err != nil {
		return nil, err
	}
	if in.Record == "" {
		return nil, engine.Invalid("record", "required", nil)
	}
	c, err := s.Compile(ctx, app, []byte(r.DraftJSON))
	if err != nil {
		return nil, err
	}
	rec, err := s.k.Records.GetRecord(ctx, p, app, c.Def.Form, in.Record)
	if err != nil {
		return nil, err
	}
	ev := &evalInput{trigger: "dry_run", form: c.Def.Form, id: rec.ID, data: rec.Data, status: rec.Status, actor: p.Username}
	out := &DryRun{Rule: key, Record: rec.ID, Actions: []ActionRun{}}
	if c.Def.Trigger.On == OnDate {
		due, ok := s.dueToday(c, rec.Data)
		if !due.IsZero() {
			out.Due = due.Format(dateLayout)
		}
		out.InWindow = &ok
	}
	ctx = s.withLookup(ctx, app, p)
	vars := c.vars(ev)
	out.Condition = true
	if c.cond != nil {
		if out.Condition, err = c.cond.EvalBool(ctx, vars); err != nil {
			out.Condition, out.Error = false, "condition: "+exprDetail(err)
			return out, nil
		}
	}
	if out.Condition {
		out.Actions, out.Error = s.runActions(ctx, c, ev, vars, true)
	}
	return out, nil
}
