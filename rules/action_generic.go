package rules

import (
	"context"
	"encoding/json"
	"maps"
	"slices"

	"tracecraft/engine"
)

// genericActionParams: {"id": "printing.print", "params": {"template": "lot_label"},
// "values": {"copies": "record.qty"}} runs any action registered on the kernel
// (engine.Actions) by its id, on the record the rule fired for: params are passed as they
// are, values are expressions evaluated when the rule fires and merged over them. It is how
// rules use the actions of engines they do not import (printing's print). The kernel action
// checks the params when the rule is saved (expression members are given as their source).
// Actions that have a rule type of their own (notify.inapp, email.send, webhook.call, …) are
// refused here: their rule types render for each recipient and keep secrets out of
// definitions.
type genericActionParams struct {
	ID     string            `json:"id"`
	Params map[string]any    `json:"params,omitempty"`
	Values map[string]string `json:"values,omitempty"`
}

func init() {
	// It works on the rule's record (printing.print prints it): a schedule rule without
	// match, which has none, cannot use it.
	registerActionKind("action", actionKind{needsRecord: true,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p genericActionParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if p.ID == "" {
				return nil, engine.Invalid("/id", "required", nil)
			}
			if _, ok := cc.s.k.Actions.Get(p.ID); !ok {
				return nil, engine.Invalid("/id", "not_found", map[string]any{"value": p.ID})
			}
			for _, k := range actionKinds {
				if k.kernel == p.ID {
					return nil, engine.Invalid("/id", "rule_action_wrapped", map[string]any{"value": p.ID})
				}
			}
			check := maps.Clone(p.Params)
			if check == nil {
				check = map[string]any{}
			}
			for k, v := range p.Values {
				check[k] = v
			}
			if err := cc.checkKernel(p.ID, check); err != nil {
				if fe, ok := engine.AsFieldErrors(err); ok {
					for i := range fe {
						fe[i].Path = "/params/" + fe[i].Path
					}
					return nil, fe
				}
				return nil, err
			}
			values := cc.compileExprMap("/values", p.Values)
			cc.kernel = p.ID
			return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
				v, err := values.eval(ctx, vars)
				if err != nil {
					return nil, err
				}
				out := maps.Clone(p.Params)
				if out == nil {
					out = map[string]any{}
				}
				for _, k := range slices.Sorted(maps.Keys(v)) {
					out[k] = v[k]
				}
				return out, nil
			}, nil
		}})
}
