package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// TestKernelIndexesServeRunsAndPrunes: Start makes the kernel's indexes and those an engine
// declared; the scheduler's runs of a job, the run records to prune and the sessions to prune
// are read from them (on the embedded store: no scan, no sort); PruneSessions deletes the
// expired and the ended sessions and nothing else; a declaration after Start makes its index
// at once, beside those declared before.
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
	// A declaration after Start makes its index at once.
	k.DeclareIndexes("things", store.IndexSpec{Keys: []store.IndexKey{{Path: "at"}}})
	if st.Kind() == store.KindEmbedded {
		for _, q := range []store.Query{
			{Where: store.Lt("at", now.Add(-100*time.Hour)), Sort: []store.SortKey{{Path: "at"}}},
			{Where: store.Eq("n", 3), Sort: []store.SortKey{{Path: "at", Desc: true}}},
		} {
			plan, err := st.Explain(ctx, "things", q)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") {
				t.Errorf("after a late declaration: not read from an index in order:\n%s", plan)
			}
		}
	}
}

// TestDefinitionsListDraftsByIndex: an app's drafts are read from the drafts' index by app,
// by key, and only that app's.
func TestDefinitionsListDraftsByIndex(t *testing.T) {
	st, ctx := storetest.New(t), context.Background()
	k := NewKernel(st, KernelOptions{Log: storetest.Quiet})
	d := NewDefinitions(k, "test.kind", "test_defs", "test_def_versions")
	for i := range 300 {
		app, key := fmt.Sprintf("app%d", i%3), fmt.Sprintf("k%03d", 299-i)
		if err := st.Put(ctx, "test_defs", DefinitionID(app, key), Draft{ID: DefinitionID(app, key), App: app, Key: key}); err != nil {
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
		plan, err := st.Explain(ctx, "test_defs", draftsQuery("app1"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("an app's drafts are not read from their index in order:\n%s", plan)
		}
	}
	var keys []string
	err := d.ListDrafts(ctx, "app1", func(raw bson.Raw) error {
		if app := raw.Lookup("app").StringValue(); app != "app1" {
			return fmt.Errorf("a draft of %s", app)
		}
		keys = append(keys, raw.Lookup("key").StringValue())
		return nil
	})
	if err != nil || len(keys) != 100 || !slices.IsSorted(keys) {
		t.Fatalf("ListDrafts(app1): %d keys, sorted %v, %v", len(keys), slices.IsSorted(keys), err)
	}
}
