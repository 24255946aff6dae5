package workflow

import (
	"context"
	"encoding/json"
	"time"

	"tracecraft/engine"
)

// New makes the workflow engine on the kernel and registers its definition kind. Call it
// before the kernel starts: the runtime subscribes to the bus here, and the bus takes no
// subscribers after Start.
func New(k *engine.Kernel, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TimerSpec == "" {
		opts.TimerSpec = "@every 15s"
	}
	s := &Service{k: k, st: k.Store, now: opts.Now, opts: opts}
	s.defs = engine.NewDefinitions(k, DefinitionKind, flowsCollection, versionsCollection)
	s.defs.Now = opts.Now
	declareIndexes(k)
	k.Grants = s // approvers' open tasks show them fields (and their files) of records
	_ = k.Registry.RegisterKind(engine.DefinitionKind{
		ID:     DefinitionKind,
		Label:  engine.Text{ZH: "流程", EN: "Flow"},
		Schema: json.RawMessage(flowMetaSchemaJSON),
		// The hook checks what a definition is without knowing its app: the meta-schema and a
		// strict decode. References to the form, roles, users and actions are checked by
		// Compile when the definition is saved into an app.
		Validate: func(ctx context.Context, raw json.RawMessage) (any, error) {
			def, err := engine.DecodeDefinition[Definition](FlowMetaSchema, raw)
			if err != nil {
				return nil, err
			}
			return def, nil
		},
	})
	// The runtime (instance_*.go, timer*.go) subscribes to the bus and adds the timer job.
	s.startRuntime()
	s.registerStartAction()
	return s
}
