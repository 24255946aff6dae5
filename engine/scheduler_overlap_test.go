package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"tracecraft/engine/store/storetest"
)

// Item 12 of issue 7: a tick that fires while the job's previous run is still going is
// skipped, whether that run is on this node or another.

// schedTestSlowJob is a job that counts its runs and blocks until release is closed.
type schedTestSlowJob struct {
	runs    atomic.Int32
	started chan struct{}
	release chan struct{}
}

func newSchedTestSlowJob() *schedTestSlowJob {
	return &schedTestSlowJob{started: make(chan struct{}, 16), release: make(chan struct{})}
}

func (j *schedTestSlowJob) run(ctx context.Context, _ time.Time) error {
	j.runs.Add(1)
	j.started <- struct{}{}
	select {
	case <-j.release:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (j *schedTestSlowJob) waitStarted(t *testing.T) {
	t.Helper()
	select {
	case <-j.started:
	case <-time.After(busTestWait):
		t.Fatal("the job never started")
	}
}

func TestHardening12_OverlappingTicksOfSlowJobRunOnce(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	job := newSchedTestSlowJob()
	a := NewScheduler(st, storetest.Quiet, SchedulerOptions{Node: "node-a", JobLease: 3 * time.Second})
	b := NewScheduler(st, storetest.Quiet, SchedulerOptions{Node: "node-b", JobLease: 3 * time.Second})
	for _, s := range []*Scheduler{a, b} {
		if err := s.Add("workflow.timers", "@every 15s", job.run); err != nil {
			t.Fatal(err)
		}
	}
	t0 := time.Date(2024, 5, 1, 8, 0, 0, 0, time.UTC)
	first := make(chan error, 1)
	go func() {
		ran, err := a.RunDue(ctx, "workflow.timers", t0)
		if err == nil && !ran {
			err = errNotRan
		}
		first <- err
	}()
	job.waitStarted(t)

	// The next tick fires on the same node and on another while the first run goes on.
	for _, s := range []*Scheduler{a, b} {
		if ran, err := s.RunDue(ctx, "workflow.timers", t0.Add(15*time.Second)); ran || err != nil {
			t.Fatalf("overlapping tick on %s: ran %v, %v", s.opts.Node, ran, err)
		}
	}
	// The hold is renewed while the run lasts, so the other node does not take it over.
	var h0 schedLock
	if err := st.Get(ctx, schedLocks, "workflow.timers", &h0); err != nil || h0.Node != "node-a" {
		t.Fatalf("hold = %+v, %v", h0, err)
	}
	busEventually(t, "the hold was renewed", func() bool {
		var h schedLock
		return st.Get(ctx, schedLocks, "workflow.timers", &h) == nil && h.Until.After(h0.Until)
	})
	if ran, err := b.RunDue(ctx, "workflow.timers", t0.Add(30*time.Second)); ran || err != nil {
		t.Fatalf("tick on node-b during a renewed run: ran %v, %v", ran, err)
	}
	close(job.release)
	if err := <-first; err != nil {
		t.Fatal(err)
	}
	if n := job.runs.Load(); n != 1 {
		t.Fatalf("the job ran %d times, want 1", n)
	}
	var h schedLock
	if err := st.Get(ctx, schedLocks, "workflow.timers", &h); err == nil {
		t.Fatalf("hold left after the run: %+v", h)
	}

	// Once it has finished, the next tick runs, on either node.
	if ran, err := b.RunDue(ctx, "workflow.timers", t0.Add(45*time.Second)); !ran || err != nil {
		t.Fatalf("tick after the run: ran %v, %v", ran, err)
	}
	job.waitStarted(t)

	// A hold left by a node that died mid-run blocks the job until it expires, then is taken over.
	dead := schedLock{Node: "node-dead", Token: "t-dead", Tick: t0, Until: time.Now().Add(time.Hour)}
	if err := st.Put(ctx, schedLocks, "workflow.timers", dead); err != nil {
		t.Fatal(err)
	}
	if ran, err := a.RunDue(ctx, "workflow.timers", t0.Add(60*time.Second)); ran || err != nil {
		t.Fatalf("tick while a live hold exists: ran %v, %v", ran, err)
	}
	dead.Until = time.Now().Add(-time.Second)
	if err := st.Set(ctx, schedLocks, "workflow.timers", dead); err != nil {
		t.Fatal(err)
	}
	if ran, err := a.RunDue(ctx, "workflow.timers", t0.Add(75*time.Second)); !ran || err != nil {
		t.Fatalf("tick after the dead node's hold expired: ran %v, %v", ran, err)
	}
	job.waitStarted(t)
	if n := job.runs.Load(); n != 3 {
		t.Fatalf("the job ran %d times, want 3", n)
	}
	var takeover schedLock
	if err := st.Get(ctx, schedLocks, "workflow.timers!t-dead", &takeover); err == nil {
		t.Fatalf("takeover claim left behind: %+v", takeover)
	}
}

var errNotRan = errors.New("the first tick did not run")
