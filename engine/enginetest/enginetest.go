// Package enginetest makes kernels for tests: on a fresh embedded store, started after the
// engines under test have subscribed, and stopped when the test ends.
package enginetest

import (
	"context"
	"testing"
	"time"

	"tracecraft/engine"
)

// Start starts k (the bus and the scheduler) and stops both when the test ends. Call it after
// the engines are made: they subscribe to the bus and add jobs before the kernel starts.
func Start(t testing.TB, k *engine.Kernel) {
	t.Helper()
	if err := k.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
}

// DrainAtEnd makes the end of the test, before the kernel stops (call it after Start), wait
// until the bus has delivered every pending event and then close each of closers (an engine's
// own queues, like the rules' webhook queue): nothing is left running into a removed data folder.
func DrainAtEnd(t testing.TB, k *engine.Kernel, closers ...func(context.Context) error) {
	t.Helper()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = k.Bus.Drain(ctx)
		for _, c := range closers {
			_ = c(ctx)
		}
	})
}
