package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// The versioned definitions service (issue 10 item 1) that forms, flows and the later kinds
// share: drafts with revisions, immutable versions, each write with its audit entry and event.

type defsTestDraft struct {
	Draft `bson:",inline"`
	Form  string `bson:"form"`
}

func defsTestKernel(t *testing.T) (*Kernel, *busRecorder, context.Context) {
	t.Helper()
	st, ctx := storetest.New(t), busTestCtx(t)
	rec := &busRecorder{}
	k := NewKernel(st, KernelOptions{Log: storetest.Quiet, AuditKey: auditTestKey})
	k.Bus.Subscribe("defs", []string{"definition."}, rec.handle)
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10e9)
		defer cancel()
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
		_ = k.stopSettler(ctx)
	})
	return k, rec, ctx
}

func noPrepare(context.Context, *Draft, *Version) (bson.D, error) { return nil, nil }

func TestDefinitionsDraftsAndVersions(t *testing.T) {
	k, rec, ctx := defsTestKernel(t)
	d := NewDefinitions(k, "test.kind", "test_defs", "test_def_versions")
	alice := &Principal{Username: "alice", IP: "10.0.0.1"}

	f, err := d.SaveDraft(ctx, alice, DraftInput{App: "a", Key: "k", JSON: `{"n":1}`, Extra: bson.D{{Key: "form", Value: "receipt"}}})
	if err != nil || f.Rev != 1 || f.ID != "a/k" || f.UpdatedBy != "alice" {
		t.Fatalf("new draft %+v, %v", f, err)
	}
	var stored defsTestDraft
	if err := d.ReadDraft(ctx, "a", "k", &stored); err != nil || stored.Form != "receipt" || stored.DraftJSON != `{"n":1}` || stored.Rev != 1 {
		t.Fatalf("stored draft %+v, %v", stored, err)
	}
	// A second "new" draft with the same key is a conflict, refused before any audit entry.
	if _, err := d.SaveDraft(ctx, alice, DraftInput{App: "a", Key: "k", JSON: `{"n":9}`}); !IsConflict(err) {
		t.Fatalf("second new draft: want conflict, got %v", err)
	}
	// A stale revision is a conflict.
	if _, err := d.SaveDraft(ctx, alice, DraftInput{App: "a", Key: "k", JSON: `{"n":9}`, Rev: 5}); !IsConflict(err) {
		t.Fatalf("stale revision: want conflict, got %v", err)
	}
	if n, err := d.Latest(ctx, "a", "k"); err != nil || n != 0 {
		t.Fatalf("latest of an unpublished draft %d, %v", n, err)
	}
	if _, err := d.Latest(ctx, "a", "nope"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("latest of no definition: want not found, got %v", err)
	}

	v1, made, err := d.Publish(ctx, alice, "a", "k", Publishing{Prepare: noPrepare})
	if err != nil || !made || v1.Number != 1 || v1.ID != "a/k@1" || v1.DefJSON != `{"n":1}` {
		t.Fatalf("publish 1: %+v made=%v %v", v1, made, err)
	}
	// Nothing changed: nothing is published, the latest version is answered.
	again, made, err := d.Publish(ctx, alice, "a", "k", Publishing{Prepare: noPrepare})
	if err != nil || made || again.Number != 1 {
		t.Fatalf("publish unchanged: %+v made=%v %v", again, made, err)
	}
	// Publishing makes no draft revision: a designer's next save with the revision they hold
	// is not stale.
	if err := d.ReadDraft(ctx, "a", "k", &stored); err != nil || stored.Rev != 1 || stored.Form != "receipt" {
		t.Fatalf("draft after publish %+v, %v", stored, err)
	}
	if f, err = d.SaveDraft(ctx, alice, DraftInput{App: "a", Key: "k", JSON: `{"n":2}`, Rev: 1, Extra: bson.D{{Key: "form", Value: "receipt"}}}); err != nil || f.Published != 1 || f.Rev != 2 {
		t.Fatalf("save after publish %+v, %v", f, err)
	}
	var seen *Version
	v2, made, err := d.Publish(ctx, alice, "a", "k", Publishing{
		Prepare: func(_ context.Context, dr *Draft, prev *Version) (bson.D, error) {
			seen = prev
			return bson.D{{Key: "form", Value: "receipt"}}, nil
		},
	})
	if err != nil || !made || v2.Number != 2 || seen == nil || seen.Number != 1 {
		t.Fatalf("publish 2: %+v made=%v prev=%+v %v", v2, made, seen, err)
	}
	if n, err := d.Latest(ctx, "a", "k"); err != nil || n != 2 {
		t.Fatalf("latest %d, %v", n, err)
	}
	var old Version
	if err := d.ReadVersion(ctx, "a", "k", 1, &old); err != nil || old.DefJSON != `{"n":1}` {
		t.Fatalf("version 1 changed: %+v, %v", old, err)
	}
	// A Prepare that refuses publishes nothing.
	if _, err := d.SaveDraft(ctx, alice, DraftInput{App: "a", Key: "k", JSON: `{"n":3}`, Rev: 2}); err != nil {
		t.Fatal(err)
	}
	refuse := errors.New("a form it names is gone")
	if _, _, err := d.Publish(ctx, alice, "a", "k", Publishing{Prepare: func(context.Context, *Draft, *Version) (bson.D, error) { return nil, refuse }}); !errors.Is(err, refuse) {
		t.Fatalf("refused publish: %v", err)
	}
	if n, _ := d.LatestStored(ctx, "a", "k"); n != 2 {
		t.Fatalf("a refused publish made version %d", n)
	}

	// Every write has its audit entry; refused ones have none.
	entries, err := k.Audit.List(ctx, AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		if e.Kind != "test.kind" {
			continue
		}
		got = append(got, e.Action+" "+e.Target+" "+e.Actor+" "+e.IP)
	}
	want := []string{"definition.save a/k alice 10.0.0.1", "definition.publish a/k@2 alice 10.0.0.1", "definition.save a/k alice 10.0.0.1",
		"definition.publish a/k@1 alice 10.0.0.1", "definition.save a/k alice 10.0.0.1"}
	if !slices.Equal(got, want) {
		t.Errorf("audit (newest first)\n got %q\nwant %q", got, want)
	}
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	rec.mu.Lock()
	var evs []string
	for _, e := range rec.events {
		evs = append(evs, fmt.Sprintf("%s %s %v", e.Type, e.Target, e.Data["version"]))
	}
	rec.mu.Unlock()
	slices.Sort(evs)
	wantEv := []string{"definition.published a/k@1 1", "definition.published a/k@2 2", "definition.saved a/k <nil>", "definition.saved a/k <nil>", "definition.saved a/k <nil>"}
	if !slices.Equal(evs, wantEv) {
		t.Errorf("events\n got %q\nwant %q", evs, wantEv)
	}
	rep, err := k.Audit.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("audit verify %+v, %v", rep, err)
	}
}

// Publishers racing on one draft each get a version of their own, numbered without gaps.
func TestDefinitionsConcurrentPublish(t *testing.T) {
	k, _, ctx := defsTestKernel(t)
	d := NewDefinitions(k, "test.kind", "test_defs", "test_def_versions")
	p := &Principal{Username: "bob"}
	if _, err := d.SaveDraft(ctx, p, DraftInput{App: "a", Key: "k", JSON: `{"n":0}`}); err != nil {
		t.Fatal(err)
	}
	const n = 4
	var wg sync.WaitGroup
	nums := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Each publisher sees a different definition, so none is "unchanged".
			v, _, err := d.Publish(ctx, p, "a", "k", Publishing{Prepare: noPrepare,
				Unchanged: func(*Version, bson.D, *Version) bool { return false }})
			if err == nil {
				nums[i] = v.Number
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	var made []int
	for i := range n {
		if errs[i] != nil && !IsConflict(errs[i]) {
			t.Fatalf("publisher %d: %v", i, errs[i])
		}
		if errs[i] == nil {
			made = append(made, nums[i])
		}
	}
	slices.Sort(made)
	for i, m := range made {
		if m != i+1 {
			t.Fatalf("versions %v: want 1..%d without gaps or repeats", made, len(made))
		}
	}
	if last, _ := d.LatestStored(ctx, "a", "k"); last != len(made) {
		t.Fatalf("latest %d, made %v", last, made)
	}
}
