package workflow

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

// steppingClock moves on by step each time it is read, as a slow batch sees time pass.
type steppingClock struct {
	mu   sync.Mutex
	t    time.Time
	step time.Duration
}

func (c *steppingClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.t
	c.t = c.t.Add(c.step)
	return now
}

// Item 12 of issue 7: a timer's firing claim is stamped with the time it was made, not the
// start of the batch, so a claim made late in a long batch does not look stale to other nodes
// (which take over claims older than staleClaim) the moment it is made.
func TestHardening12_TimerClaimsCarryTheirOwnTime(t *testing.T) {
	ctx := context.Background()
	base := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	clock := &steppingClock{t: base, step: staleClaim / 2}
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	forms.New(k, forms.Options{Now: clock.Now})
	wf := New(k, Options{Now: clock.Now, TimerSpec: "@yearly"})
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
	// Reminders of instances that are gone: firing one is a claim and nothing else.
	const n = 4
	for i := range n {
		id := fmt.Sprintf("gone-%d", i)
		tm := timerDoc{ID: timerID(id, "approve", 1, timerRemind), Due: base.Add(-time.Hour + time.Duration(i)*time.Second),
			Kind: timerRemind, Instance: id, Node: "approve", Visit: 1, App: "qa", Flow: "f"}
		if err := wf.putTimers(ctx, []timerDoc{tm}); err != nil {
			t.Fatal(err)
		}
	}
	fired, err := wf.FireTimers(ctx)
	if err != nil || fired != n {
		t.Fatalf("FireTimers = %d, %v; want %d", fired, err, n)
	}
	var prev time.Time
	for i := range n {
		var c firedDoc
		if err := wf.st.Get(ctx, firedCollection, timerID(fmt.Sprintf("gone-%d", i), "approve", 1, timerRemind), &c); err != nil {
			t.Fatal(err)
		}
		if i > 0 && !c.At.After(prev) {
			t.Fatalf("claim %d stamped %v, not after claim %d at %v: claims carry the batch's time", i, c.At, i-1, prev)
		}
		prev = c.At
	}
}
