package rules

import (
	"context"
	"encoding/json"

	"tracecraft/engine"
)

// createRecordParams: {"form": "purchase_request", "values": {"material": "record.material",
// "qty": "record.reorder_qty"}} creates a record in a form of the same app, each field's value
// an expression over the rule's variables (kernel action record.create, which claims the run's
// key so a retried run creates the record once).
type createRecordParams struct {
	Form   string            `json:"form"`
	Values map[string]string `json:"values"`
}

func init() {
	registerActionKind("create_record", actionKind{kernel: "record.create",
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p createRecordParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if p.Form == "" {
				return nil, engine.Invalid("/form", "required", nil)
			}
			plain := map[string]any{}
			for k, v := range p.Values {
				plain[k] = v
			}
			if err := cc.checkKernel("record.create", map[string]any{"form": p.Form, "values": plain}); err != nil {
				return nil, err
			}
			values := cc.compileExprMap("/values", p.Values)
			return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
				v, err := values.eval(ctx, vars)
				if err != nil {
					return nil, err
				}
				return map[string]any{"form": p.Form, "values": v}, nil
			}, nil
		}})
}
