package rules

import (
	"context"
	"encoding/json"

	"tracecraft/engine"
)

// startFlowParams: {"flow": "ncr_review"} starts a flow (a published flow of the rule's form
// whose trigger is manual) on the record the rule fired for, through the kernel action
// workflow.start that the flow engine registers (rules does not import it). The instance's
// initiator is the rule (rule:<key>@<version>); the flow's own trigger condition must hold,
// and a flow already running on the record is left alone (the result says so).
type startFlowParams struct {
	Flow string `json:"flow"`
}

// StartFlowAction is the kernel action start_flow runs.
const StartFlowAction = "workflow.start"

func init() {
	registerActionKind("start_flow", actionKind{kernel: StartFlowAction, needsRecord: true,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p startFlowParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if p.Flow == "" {
				return nil, engine.Invalid("/flow", "required", nil)
			}
			if err := cc.checkKernel(StartFlowAction, map[string]any{"flow": p.Flow, "form": cc.form}); err != nil {
				return nil, err
			}
			return func(context.Context, map[string]any) (map[string]any, error) {
				return map[string]any{"flow": p.Flow}, nil
			}, nil
		}})
}
