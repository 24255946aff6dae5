package engine

import "context"

// EventChainDepth is the key of Event.Data that holds the chain depth of the write the event
// reports (WithChainDepth): absent for a write a person or a job made, 1 for a write an
// automatic action made in answer to such a write, and so on.
const EventChainDepth = "chainDepth"

type chainDepthKey struct{}

// WithChainDepth marks the writes made with ctx as made by an automatic action at depth n
// (rules: the depth of the event that fired the rule, plus one). Kernel.Commit stamps it on
// the write's event, so the engine that reacts to that event knows how deep the chain is and
// can stop a rule that keeps firing itself.
func WithChainDepth(ctx context.Context, n int) context.Context {
	return context.WithValue(ctx, chainDepthKey{}, n)
}

// ChainDepth is the depth WithChainDepth put on ctx, 0 when none.
func ChainDepth(ctx context.Context) int {
	n, _ := ctx.Value(chainDepthKey{}).(int)
	return n
}

// EventDepth is the chain depth an event carries (EventChainDepth), 0 when none.
func EventDepth(e Event) int {
	switch v := e.Data[EventChainDepth].(type) {
	case int:
		return v
	case int32:
		return int(v)
	case int64:
		return int(v)
	case float64:
		return int(v)
	}
	return 0
}
