package engine

import "context"

// Action is an automatic action that flows (action nodes) and rules run: set fields, create a
// record, print, call a webhook … Engines register theirs on the kernel (Kernel.Actions) under
// namespaced ids ("record.set_fields"), so no engine imports another to use its actions.
type Action struct {
	ID    string
	Label Text
	// Check validates an action's params when the definition that uses it is saved; errors are
	// FieldErrors with paths relative to params.
	Check func(ctx context.Context, app string, params map[string]any) error
	// Run performs the action. It must be idempotent for one (Key): flows and rules may run it
	// again after a crash.
	Run func(ctx context.Context, ac ActionContext) (map[string]any, error)
}

// ActionContext is what an action runs on.
type ActionContext struct {
	// Key identifies this run (e.g. instance/node/visit), for idempotence.
	Key    string
	App    string
	Form   string
	Record string
	Actor  *Principal
	Params map[string]any
}
