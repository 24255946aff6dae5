package workflow

import (
	"context"
	"errors"
	"fmt"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// StartAction is the kernel action that starts a flow on a record: params flow (the key of a
// published flow of the app whose trigger is manual) and, when checking, form (the form the
// caller's records belong to, which must be the flow's). Rules run it by id, so they start
// flows without importing this package.
const StartAction = "workflow.start"

// registerStartAction puts workflow.start on the kernel. A run is keyed by its ActionContext
// key (claimed like any start), so a run again finds the instance it started. The flow's
// trigger condition must hold; a flow of the same key already running on the record is left
// alone. Neither is an error — retrying would not change them — the result says why nothing
// started.
func (s *Service) registerStartAction() {
	s.k.Actions.Register(StartAction, engine.Action{
		ID: StartAction, Label: engine.Text{ZH: "发起流程", EN: "Start a flow"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			flow, _ := params["flow"].(string)
			if flow == "" {
				return engine.Invalid("flow", "required", nil)
			}
			c, err := s.Compiled(ctx, app, flow, 0)
			if errors.Is(err, engine.ErrNotFound) {
				return engine.Invalid("flow", "not_found", map[string]any{"value": flow})
			}
			if err != nil {
				return fmt.Errorf("check %s: %w", StartAction, err)
			}
			if form, _ := params["form"].(string); form != "" && form != c.Def.Form {
				return engine.Invalid("flow", "flow_other_form", map[string]any{"value": flow, "form": c.Def.Form})
			}
			if c.Def.Trigger.On != "manual" {
				return engine.Invalid("flow", "flow_not_manual", map[string]any{"value": flow})
			}
			return nil
		},
		Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
			return s.runStartAction(ctx, ac)
		},
	})
}

func (s *Service) runStartAction(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
	flow, _ := ac.Params["flow"].(string)
	c, err := s.Compiled(ctx, ac.App, flow, 0)
	if err != nil {
		return nil, fmt.Errorf("start flow %s: %w", flow, err)
	}
	if ac.Record == "" || c.Def.Form != ac.Form {
		return nil, fmt.Errorf("start flow %s: it runs on records of %s, not %q", flow, c.Def.Form, ac.Form)
	}
	initiator := engine.SystemActor
	if ac.Actor != nil && ac.Actor.Username != "" {
		initiator = ac.Actor.Username
	}
	key := "action:" + ac.Key
	if ac.Key == "" {
		key = startKey(ac.App, flow, ac.Record, 1)
	}
	var claim startClaim
	err = s.st.Get(ctx, startsCollection, key, &claim)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("start flow %s: %w", flow, err)
	}
	if err != nil { // not started by this run yet
		ref, err := s.k.Records.GetRecord(ctx, engine.SystemPrincipal(), ac.App, c.Def.Form, ac.Record)
		if err != nil {
			return nil, fmt.Errorf("start flow %s on %s: %w", flow, ac.Record, err)
		}
		if c.trigger != nil {
			ok, err := c.trigger.EvalBool(ctx, conditionVars(&Instance{Initiator: initiator}, ref.Data, ref.Status))
			if err != nil {
				return nil, fmt.Errorf("start flow %s on %s: trigger condition: %w", flow, ac.Record, err)
			}
			if !ok {
				return map[string]any{"started": false, "reason": "the flow's trigger condition does not hold"}, nil
			}
		}
		ids, err := s.recordInstanceIDs(ctx, ac.App, c.Def.Form, ac.Record)
		if err != nil {
			return nil, fmt.Errorf("start flow %s on %s: %w", flow, ac.Record, err)
		}
		for _, id := range ids {
			inst, err := s.load(ctx, id)
			if err != nil {
				return nil, fmt.Errorf("start flow %s on %s: %w", flow, ac.Record, err)
			}
			if inst.Flow == flow && inst.State == StateRunning {
				return map[string]any{"started": false, "reason": "the flow is running on the record", "instance": inst.ID}, nil
			}
		}
	}
	inst, _, err := s.startInstance(ctx, c, initiator, "", ac.Record, key)
	if err != nil {
		return nil, fmt.Errorf("start flow %s on %s: %w", flow, ac.Record, err)
	}
	return map[string]any{"started": true, "instance": inst.ID, "state": inst.State}, nil
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"flow_not_manual": {ZH: "流程 {value} 不是手动发起的流程，不能由规则发起", EN: "flow {value} does not start by hand, so a rule cannot start it"},
		"flow_other_form": {ZH: "流程 {value} 属于表单 {form}，不是本规则的表单", EN: "flow {value} runs on form {form}, not on this rule's form"},
	})
}
