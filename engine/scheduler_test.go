package engine

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

func schedTestNew(t *testing.T, st *store.Store, node string) *Scheduler {
	t.Helper()
	s := NewScheduler(st, storetest.Quiet, SchedulerOptions{Node: node})
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Stop(ctx)
	})
	return s
}

func TestSchedulerRunDueOnceAcrossNodes(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var runs atomic.Int32
	var mu sync.Mutex
	var ticks []time.Time
	job := func(ctx context.Context, tick time.Time) error {
		runs.Add(1)
		mu.Lock()
		ticks = append(ticks, tick)
		mu.Unlock()
		return nil
	}
	nodes := []*Scheduler{schedTestNew(t, st, "node-a"), schedTestNew(t, st, "node-b")}
	for _, s := range nodes {
		if err := s.Add("daily-report", "0 0 8 * * *", job); err != nil {
			t.Fatal(err)
		}
	}
	tick := time.Date(2024, 5, 1, 0, 0, 0, 400_000_000, time.UTC) // 08:00 in Shanghai

	var wg sync.WaitGroup
	var ran atomic.Int32
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := nodes[i%2].RunDue(ctx, "daily-report", tick)
			if err != nil {
				t.Error(err)
			}
			if ok {
				ran.Add(1)
			}
		}()
	}
	wg.Wait()
	if runs.Load() != 1 || ran.Load() != 1 {
		t.Fatalf("job ran %d times (%d reported), want exactly once", runs.Load(), ran.Load())
	}
	want := time.Date(2024, 5, 1, 8, 0, 0, 0, nodes[0].Location())
	if !ticks[0].Equal(want) || ticks[0].Location().String() != "Asia/Shanghai" {
		t.Fatalf("job got tick %v, want %v in Asia/Shanghai", ticks[0], want)
	}

	var lease JobRun
	if err := st.Get(ctx, schedLeases, "daily-report@2024-05-01T00:00:00Z", &lease); err != nil {
		t.Fatal(err)
	}
	if lease.Job != "daily-report" || (lease.Node != "node-a" && lease.Node != "node-b") || lease.Started.IsZero() ||
		lease.Finished.Before(lease.Started) || lease.Error != "" || !lease.Tick.Equal(tick.Truncate(time.Second)) {
		t.Fatalf("lease = %+v", lease)
	}

	// Another tick is another run; the same tick again is not.
	for _, s := range nodes {
		ok, err := s.RunDue(ctx, "daily-report", tick.Add(24*time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if ok != (s == nodes[0]) {
			t.Fatalf("second tick on %s: ran = %v", s.opts.Node, ok)
		}
	}
	if ok, err := nodes[1].RunDue(ctx, "daily-report", tick); ok || err != nil {
		t.Fatalf("rerun of a claimed tick: %v, %v", ok, err)
	}
	if runs.Load() != 2 {
		t.Fatalf("job ran %d times, want 2", runs.Load())
	}
	if _, err := nodes[0].RunDue(ctx, "no-such-job", tick); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown job: %v", err)
	}
}

func TestSchedulerRecordsFailures(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	s := schedTestNew(t, st, "n1")
	if err := s.Add("sync", "*/5 * * * *", func(context.Context, time.Time) error { return errors.New("erp unreachable") }); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("crash", "@hourly", func(context.Context, time.Time) error { panic("nil label") }); err != nil {
		t.Fatal(err)
	}
	tick := time.Date(2024, 5, 1, 2, 5, 0, 0, time.UTC)
	ran, err := s.RunDue(ctx, "sync", tick)
	if !ran || err == nil || !strings.Contains(err.Error(), "erp unreachable") || !strings.Contains(err.Error(), `"sync"`) {
		t.Fatalf("RunDue = %v, %v", ran, err)
	}
	ran, err = s.RunDue(ctx, "crash", tick)
	if !ran || err == nil || !strings.Contains(err.Error(), "nil label") {
		t.Fatalf("RunDue of a panicking job = %v, %v", ran, err)
	}
	for _, c := range []struct{ job, msg string }{{"sync", "erp unreachable"}, {"crash", "panicked: nil label"}} {
		runs, err := s.Runs(ctx, c.job, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(runs) != 1 || !strings.Contains(runs[0].Error, c.msg) || runs[0].Finished.IsZero() || runs[0].Node != "n1" {
			t.Fatalf("Runs(%s) = %+v", c.job, runs)
		}
	}
}

func TestSchedulerRunsAndPrune(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	s := schedTestNew(t, st, "n1")
	noop := func(context.Context, time.Time) error { return nil }
	if err := s.Add("a", "@every 1h", noop); err != nil {
		t.Fatal(err)
	}
	if err := s.Add("b", "@every 1h", noop); err != nil {
		t.Fatal(err)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 5 {
		for _, job := range []string{"a", "b"} {
			if _, err := s.RunDue(ctx, job, base.Add(time.Duration(i)*time.Hour)); err != nil {
				t.Fatal(err)
			}
		}
	}
	runs, err := s.Runs(ctx, "a", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || runs[0].Job != "a" || !runs[0].Tick.Equal(base.Add(4*time.Hour)) || !runs[2].Tick.Equal(base.Add(2*time.Hour)) {
		t.Fatalf("Runs(a, 3) = %+v", runs)
	}
	n, err := s.Prune(ctx, base.Add(2*time.Hour))
	if err != nil || n != 4 {
		t.Fatalf("Prune = %d, %v; want 4", n, err)
	}
	if runs, err := s.Runs(ctx, "b", 0); err != nil || len(runs) != 3 || !runs[2].Tick.Equal(base.Add(2*time.Hour)) {
		t.Fatalf("Runs(b) after prune = %+v, %v", runs, err)
	}
}

func TestSchedulerRejectsInvalidSpecs(t *testing.T) {
	s := schedTestNew(t, storetest.New(t), "n1")
	noop := func(context.Context, time.Time) error { return nil }
	for _, spec := range []string{"", "* * *", "61 * * * *", "0 0 25 * * *", "* * * * * * *", "@sometimes", "@every soon", "0 0 8 * * MON-XYZ"} {
		err := s.Add("bad", spec, noop)
		if err == nil {
			t.Errorf("spec %q accepted", spec)
			continue
		}
		if !strings.Contains(err.Error(), `"`+spec+`"`) {
			t.Errorf("error %q does not name spec %q", err, spec)
		}
	}
	for i, spec := range []string{"*/5 * * * *", "0 30 2 * * *", "0 0 8 * * MON-FRI", "@daily", "@every 1m30s", "CRON_TZ=UTC 0 0 * * *"} {
		if err := s.Add("good"+string(rune('a'+i)), spec, noop); err != nil {
			t.Errorf("spec %q: %v", spec, err)
		}
	}
	if err := s.Add("gooda", "@daily", noop); err == nil {
		t.Error("duplicate name accepted")
	}
	if err := s.Add(SchedulerPruneJob, "@daily", noop); err == nil {
		t.Error("the built-in prune job's name accepted")
	}
	if err := s.Add("a@b", "@daily", noop); err == nil {
		t.Error("name with @ accepted")
	}
	if err := s.Add("nil", "@daily", nil); err == nil {
		t.Error("nil job accepted")
	}
}

func TestSchedulerDefaults(t *testing.T) {
	s := NewScheduler(nil, nil, SchedulerOptions{})
	if loc := s.Location().String(); loc != "Asia/Shanghai" {
		t.Fatalf("default location %s", loc)
	}
	if s.opts.Node == "" || !strings.Contains(s.opts.Node, ":") {
		t.Fatalf("default node %q", s.opts.Node)
	}
}

func TestSchedulerEveryIsAligned(t *testing.T) {
	loc := time.FixedZone("CST", 8*3600)
	tests := []struct {
		d        time.Duration
		from     time.Time
		wantNext time.Time
	}{
		{time.Second, time.Date(2024, 5, 1, 8, 0, 0, 500, loc), time.Date(2024, 5, 1, 8, 0, 1, 0, loc)},
		{time.Minute, time.Date(2024, 5, 1, 8, 0, 0, 0, loc), time.Date(2024, 5, 1, 8, 1, 0, 0, loc)},
		{time.Minute, time.Date(2024, 5, 1, 8, 0, 59, 999, loc), time.Date(2024, 5, 1, 8, 1, 0, 0, loc)},
		{90 * time.Minute, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC), time.Date(2024, 5, 1, 1, 30, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		got := schedEvery{tt.d}.Next(tt.from)
		if !got.Equal(tt.wantNext) || got.Location() != tt.from.Location() {
			t.Errorf("every %v after %v = %v, want %v", tt.d, tt.from, got, tt.wantNext)
		}
	}
}

func TestSchedulerCronFiresEachTickOnce(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	var mu sync.Mutex
	perTick := map[int64][]string{} // keyed by Unix second: each node has its own *time.Location
	for _, node := range []string{"node-a", "node-b"} {
		s := schedTestNew(t, st, node)
		err := s.Add("heartbeat", "@every 1s", func(ctx context.Context, tick time.Time) error {
			mu.Lock()
			defer mu.Unlock()
			perTick[tick.Unix()] = append(perTick[tick.Unix()], node)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		s.Start()
	}
	busEventually(t, "two ticks ran", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(perTick) >= 2
	})
	mu.Lock()
	defer mu.Unlock()
	for sec, nodes := range perTick {
		tick := time.Unix(sec, 0)
		if len(nodes) != 1 {
			t.Errorf("tick %v ran on %v, want one node", tick, nodes)
		}
		var lease JobRun
		if err := st.Get(ctx, schedLeases, schedLeaseID("heartbeat", tick), &lease); err != nil {
			t.Errorf("lease of tick %v: %v", tick, err)
		}
	}
}

func TestSchedulerStopWaitsForRunningJobs(t *testing.T) {
	st := storetest.New(t)
	s := NewScheduler(st, storetest.Quiet, SchedulerOptions{Node: "n1"})
	started := make(chan struct{}, 8)
	cancelled := make(chan struct{}, 8)
	err := s.Add("slow", "@every 1s", func(ctx context.Context, tick time.Time) error {
		started <- struct{}{}
		<-ctx.Done() // runs until Stop gives up on it
		cancelled <- struct{}{}
		return ctx.Err()
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Start()
	select {
	case <-started:
	case <-time.After(busTestWait):
		t.Fatal("the job never started")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := s.Stop(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stop with a job still running = %v, want DeadlineExceeded", err)
	}
	select {
	case <-cancelled:
	case <-time.After(busTestWait):
		t.Fatal("the running job's context was not cancelled")
	}
	// The cancelled run is still recorded, with its error.
	busEventually(t, "the cancelled run is recorded", func() bool {
		runs, err := s.Runs(context.Background(), "slow", 1)
		return err == nil && len(runs) == 1 && strings.Contains(runs[0].Error, "context canceled")
	})
	if err := s.Stop(context.Background()); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
}
