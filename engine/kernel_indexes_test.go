package engine

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// TestKernelIndexesServeRunsAndPrunes: Start makes the kernel's indexes and those an engine
// declared; the scheduler's runs of a job, the run records to prune and the sessions to prune
// are read from them (on the embedded store: no scan, no sort); PruneSessions deletes the
// expired and the ended sessions and nothing else; a declaration after Start panics.
func TestKernelIndexesServeRunsAndPrunes(t *testing.T) {
	st, ctx := storetest.New(t), context.Background()
	now := time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)
	k := NewKernel(st, KernelOptions{Log: storetest.Quiet, Auth: AuthOptions{Now: func() time.Time { return now }, Argon2: authTestFastArgon2}})
	k.DeclareIndexes("things", store.IndexSpec{Keys: []store.IndexKey{{Path: "n"}, {Path: "at", Desc: true}}})
	for i := range 400 {
		job := fmt.Sprintf("job%d", i%4)
		tick := now.Add(-time.Duration(i) * time.Hour)
		run := JobRun{ID: schedLeaseID(job, tick), Job: job, Tick: tick, Node: "n1", Started: tick}
		if err := st.Put(ctx, schedLeases, run.ID, run); err != nil {
			t.Fatal(err)
		}
		s := authSession{ID: fmt.Sprintf("s%04d", i), Username: "alice", Created: tick, Expires: tick.Add(300 * time.Hour),
			Revoked: i%10 == 3}
		if err := st.Put(ctx, authSessionsCollection, s.ID, s); err != nil {
			t.Fatal(err)
		}
		if err := st.Put(ctx, "things", fmt.Sprint(i), map[string]any{"n": i % 7, "at": tick}); err != nil {
			t.Fatal(err)
		}
	}
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
	if st.Kind() == store.KindEmbedded {
		cases := []struct {
			name, coll string
			q          store.Query
		}{
			{"a job's runs", schedLeases, runsQuery("job1", 20)},
			{"runs to prune", schedLeases, pruneRunsQuery(now.Add(-200 * time.Hour))},
			{"expired sessions", authSessionsCollection, staleSessionQueries(now)[0]},
			{"ended sessions", authSessionsCollection, staleSessionQueries(now)[1]},
			{"an engine's declared index", "things", store.Query{Where: store.Eq("n", 3), Sort: []store.SortKey{{Path: "at", Desc: true}}}},
		}
		for _, c := range cases {
			plan, err := st.Explain(ctx, c.coll, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("%s: not read from its index in order:\n%s", c.name, plan)
			}
		}
	}
	runs, err := k.Scheduler.Runs(ctx, "job1", 3)
	if err != nil {
		t.Fatal(err)
	}
	if len(runs) != 3 || !runs[0].Tick.Equal(now.Add(-time.Hour)) || !runs[2].Tick.Equal(now.Add(-9*time.Hour)) {
		t.Fatalf("Runs(job1, 3) = %+v", runs)
	}
	// Sessions i expire at now + (300 - i) h: i >= 300 are expired; every tenth from 3 ended.
	wantStale := 100
	for i := 3; i < 300; i += 10 {
		wantStale++
	}
	n, err := k.Auth.PruneSessions(ctx)
	if err != nil || n != wantStale {
		t.Fatalf("PruneSessions = %d, %v; want %d", n, err, wantStale)
	}
	left, err := st.QueryCount(ctx, authSessionsCollection, store.Cond{}, 0)
	if err != nil || left.N != int64(400-wantStale) {
		t.Fatalf("%d sessions left (%v), want %d", left.N, err, 400-wantStale)
	}
	if stale, err := st.QueryCount(ctx, authSessionsCollection, store.Or(store.Lte("expires", now), store.Eq("revoked", true)), 0); err != nil || stale.N != 0 {
		t.Fatalf("%d stale sessions left (%v)", stale.N, err)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("DeclareIndexes after Start did not panic")
		}
	}()
	k.DeclareIndexes("late", store.IndexSpec{Keys: []store.IndexKey{{Path: "x"}}})
}
