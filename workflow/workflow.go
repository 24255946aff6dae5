package workflow

import (
	"sync"
	"sync/atomic"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Collections of the workflow engine.
const (
	flowsCollection     = "flows"          // drafts: _id app/key, revisioned
	versionsCollection  = "flow_versions"  // published versions: _id app/key@n, immutable
	instancesCollection = "wf_instances"   // instances with their tasks: revisioned
	inboxCollection     = "wf_inbox"       // one document per task, projected from instances, for inbox queries
	timersCollection    = "wf_timers"      // due timers: _id instance/node/visit/kind
	firedCollection     = "wf_timer_fired" // unique markers: a timer fires once
	delegationsColl     = "wf_delegations" // _id username: delegate while away
	bindingsCollection  = "flow_bindings"  // _id app/form: the flows that start on record creation
)

// DefinitionKind is the registry id of flow definitions.
const DefinitionKind = "workflow.flow"

// Options configure the engine.
type Options struct {
	// Now is the clock (time.Now by default); timers and tests use it.
	Now func() time.Time
	// TimerSpec is the scheduler spec of the job that fires due timers; "@every 15s" by default.
	TimerSpec string
	// TimerPage is how many due timers the job reads at a time; 200 by default.
	TimerPage int
}

// Service is the workflow engine.
type Service struct {
	k     *engine.Kernel
	st    *store.Store
	now   func() time.Time
	opts  Options
	cache sync.Map // version id → *Compiled
	defs  *engine.Definitions
	// skipEffects (tests only) stops instance writes before their effects, as a process that
	// stops right after the write would.
	skipEffects atomic.Bool
	// largestTimerPage (tests) is the most due timers one read of FireTimers has loaded.
	largestTimerPage atomic.Int64
}

// Compiled is a checked flow version, ready to run.
type Compiled struct {
	App     string
	Key     string
	Version int
	Def     Definition
	nodes   map[string]*Node
	// branches[nodeID][i] is the compiled condition of branch i of a condition node.
	branches map[string][]*engine.Program
	trigger  *engine.Program // nil: always
	// order is a topological order of the nodes (start first): "earlier" for return-to-node.
	order map[string]int
}

// Node finds a node by id.
func (c *Compiled) Node(id string) (*Node, bool) {
	n, ok := c.nodes[id]
	return n, ok
}
