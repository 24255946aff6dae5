package rules

import (
	"context"
	"encoding/json"

	"tracecraft/engine"
)

// setStatusParams: {"status": "held"} sets the status of the record the rule fired for
// (kernel action record.set_status of the form engine).
type setStatusParams struct {
	Status string `json:"status"`
}

func init() {
	registerActionKind("set_status", actionKind{kernel: "record.set_status", needsRecord: true,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p setStatusParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if err := cc.checkKernel("record.set_status", map[string]any{"status": p.Status}); err != nil {
				return nil, err
			}
			return func(context.Context, map[string]any) (map[string]any, error) {
				return map[string]any{"status": p.Status}, nil
			}, nil
		}})
}
