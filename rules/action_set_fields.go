package rules

import (
	"context"
	"encoding/json"

	"tracecraft/engine"
)

// setFieldsParams: {"values": {"field": "expression"}} changes fields of the record the rule
// fired for (kernel action record.set_fields). A rule that sets fields of its own form writes
// a record event that may fire it again: chains stop at Options.MaxDepth.
type setFieldsParams struct {
	Values map[string]string `json:"values"`
}

func init() {
	registerActionKind("set_fields", actionKind{kernel: "record.set_fields", needsRecord: true,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p setFieldsParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if len(p.Values) == 0 {
				return nil, engine.Invalid("/values", "required", nil)
			}
			for k := range p.Values {
				if _, ok := cc.fields[k]; cc.fields != nil && !ok {
					cc.fe.Add(cc.at("/values/"+k), "not_found", map[string]any{"value": k})
				}
			}
			values := cc.compileExprMap("/values", p.Values)
			return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
				v, err := values.eval(ctx, vars)
				if err != nil {
					return nil, err
				}
				return map[string]any{"values": v}, nil
			}, nil
		}})
}
