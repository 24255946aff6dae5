package rules

import (
	"context"
	"errors"
	"fmt"

	"tracecraft/engine"
)

// FlowsSubscriber is the bus subscriber of the flow triggers (a stable name: it keys stored
// state).
const FlowsSubscriber = "rules.flows"

// The flow engine's events the flow triggers answer (package workflow publishes them; rules
// does not import it).
const (
	eventNodeEntered = "flow.node_entered"
	eventTaskOverdue = "flow.task_overdue"
)

// flowEventTriggers maps a flow event to the trigger that answers it.
var flowEventTriggers = map[string]string{
	engine.EventFlowFinished: OnFlowFinished,
	eventNodeEntered:         OnNodeEntered,
	eventTaskOverdue:         OnTaskOverdue,
}

// onFlowEvent evaluates the published flow-trigger rules of the form a flow instance runs on:
// the rule's record is the instance's record, read as it is now (a record deleted since is
// not acted on). Like record events, an action's failure is returned for the bus to retry,
// and actions are keyed by the event.
func (s *Service) onFlowEvent(ctx context.Context, e engine.Event) error {
	on := flowEventTriggers[e.Type]
	form, _ := e.Data["form"].(string)
	id, _ := e.Data["record"].(string)
	if on == "" || e.App == "" || form == "" || id == "" {
		return nil
	}
	active, err := s.activeRules(ctx, e.App, form)
	if err != nil || len(active) == 0 {
		return err
	}
	flow := map[string]any{"key": str(e.Data["flow"]), "instance": e.Target, "outcome": str(e.Data["outcome"]), "node": str(e.Data["node"])}
	var rec *engine.RecordRef
	var errs []error
	for _, a := range active {
		if a.On != on {
			continue
		}
		c, err := s.compiled(ctx, a.App, a.Key, a.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		t := c.Def.Trigger
		if t.Flow != "" && t.Flow != flow["key"] || t.Outcome != "" && t.Outcome != flow["outcome"] || t.Node != "" && t.Node != flow["node"] {
			continue
		}
		if rec == nil {
			rec, err = s.k.Records.GetRecord(ctx, engine.SystemPrincipal(), e.App, form, id)
			if errors.Is(err, engine.ErrNotFound) {
				// Gone: no rule acts on it; earlier rules' failures still go back to the bus.
				return errors.Join(errs...)
			}
			if err != nil {
				return fmt.Errorf("flow event %s: %w", e.ID, err)
			}
		}
		in := &evalInput{trigger: e.Type, event: e.ID, form: form, id: id, data: rec.Data, status: rec.Status, actor: e.Actor,
			depth: engine.EventDepth(e), flow: flow, key: "rule:" + engine.DefinitionVersionID(c.App, c.Key, c.Version) + ":" + e.ID}
		if _, err := s.evaluate(ctx, c, in); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func str(v any) string {
	s, _ := v.(string)
	return s
}
