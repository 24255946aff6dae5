package engine

import (
	"context"
	"fmt"
)

// recovery is work an engine registered to run at start-up (OnRecover).
type recovery struct {
	name string
	fn   func(context.Context) error
}

// OnRecover registers fn to run when the kernel starts, before anything else: before the writes
// a previous run left unfinished are settled (their stored writes' events delivered, the others'
// entries voided) and before the bus starts. An engine that takes back writes of its own there —
// the form engine rolls back an import the process was killed in — thus has their entries voided
// by the settling that follows, and their events never delivered. Engines call it when they are
// made; recoveries run in the order they were registered, and an error stops Start.
func (k *Kernel) OnRecover(name string, fn func(context.Context) error) {
	k.recoveries = append(k.recoveries, recovery{name: name, fn: fn})
}

func (k *Kernel) recover(ctx context.Context) error {
	for _, r := range k.recoveries {
		if err := r.fn(ctx); err != nil {
			return fmt.Errorf("start-up recovery %s: %w", r.name, err)
		}
	}
	return nil
}
