package rules

import (
	"context"
	"encoding/json"
	"fmt"

	"tracecraft/engine"
)

// actionKind is a type of rule action (ActionDef.Type): how its params are checked and
// compiled when the rule is saved, and which kernel action (engine.Actions) runs it. Each kind
// is a file action_<type>.go that registers itself in init.
type actionKind struct {
	kernel string
	// needsRecord: the action works on the record the rule fired for (set_status,
	// set_fields, start_flow), so a schedule rule without match may not use it.
	needsRecord bool
	// run, when set, runs the action in place of calling the kernel action once (the kind
	// calls kernel actions itself: update_records, one record.set_fields per record).
	run runFunc
	// compile decodes and checks params (field errors: pointers relative to params, or added
	// to cc.fe with cc.at) and returns what makes the kernel action's params for one run.
	compile func(cc *compileCtx, params json.RawMessage) (prepared, error)
}

// runFunc runs an action whose kind has its own run, with the params prepared for this run.
type runFunc func(ctx context.Context, s *Service, c *Compiled, ac engine.ActionContext) (map[string]any, error)

// prepared makes a kernel action's params for one run from the rule's variables.
type prepared func(ctx context.Context, vars map[string]any) (map[string]any, error)

var actionKinds = map[string]actionKind{}

func registerActionKind(id string, k actionKind) {
	if _, dup := actionKinds[id]; dup {
		panic("rules: action kind " + id + " registered twice")
	}
	actionKinds[id] = k
}

// checkKernel runs the kernel action's own Check on params (the form engine checks the form of
// record.create, the status of record.set_status).
func (cc *compileCtx) checkKernel(id string, params map[string]any) error {
	a, ok := cc.s.k.Actions.Get(id)
	if !ok || a.Check == nil || cc.fields == nil {
		return nil
	}
	return a.Check(cc.ctx, cc.app, params)
}

// exprMap is a map of field keys to compiled expressions: the values of create_record and
// set_fields, the body of webhook.
type exprMap map[string]*engine.Program

// compileExprMap compiles each value of m (a params member at rel) as an expression.
func (cc *compileCtx) compileExprMap(rel string, m map[string]string) exprMap {
	out := exprMap{}
	for k, src := range m {
		if p := cc.expr(rel+"/"+k, src, engine.ExprAny); p != nil {
			out[k] = p
		}
	}
	return out
}

// eval evaluates every expression of m.
func (m exprMap) eval(ctx context.Context, vars map[string]any) (map[string]any, error) {
	out := make(map[string]any, len(m))
	for k, p := range m {
		v, err := p.Eval(ctx, vars)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}
