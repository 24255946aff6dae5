package engine

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"tracecraft/engine/store"
)

// kernelIndexes are the query indexes of the kernel's own collections: what each list or
// count filters and sorts by. Collections read only by _id (users, roles, departments, the
// bus's events, marks and failures, locks) need none.
var kernelIndexes = map[string][]store.IndexSpec{
	// Audit.ListPage: entries by actor, action or target, newest first (audit_list.go).
	auditCollection: auditIndexes,
	// Scheduler.Runs: a job's runs, newest first; Scheduler.Prune: runs older than a time.
	schedLeases: {
		{Keys: []store.IndexKey{{Path: "job"}, {Path: "tick", Desc: true}}},
		{Keys: []store.IndexKey{{Path: "tick"}}},
	},
	// Auth.PruneSessions: sessions past their expiry, and revoked ones.
	authSessionsCollection: {
		{Keys: []store.IndexKey{{Path: "expires"}}},
		{Keys: []store.IndexKey{{Path: "revoked"}}},
	},
}

// indexDecls are the query indexes declared for the collections engines own, made when the
// kernel starts.
type indexDecls struct {
	mu      sync.Mutex
	colls   map[string][]store.IndexSpec
	started bool
}

// DeclareIndexes adds specs to the query indexes of coll, a collection the calling engine owns
// and lists or counts by fields other than _id. Start makes every declared index, and drops
// the query indexes of those collections that are no longer declared (store.EnsureIndexes),
// so one declaration gives MongoDB indexes and SQLite expression indexes alike. Declare before
// Start; a declaration after it (a service made on a running kernel) makes coll's indexes at
// once, and logs a failure: the queries are right without them, only slower.
func (k *Kernel) DeclareIndexes(coll string, specs ...store.IndexSpec) {
	k.indexes.mu.Lock()
	defer k.indexes.mu.Unlock()
	if k.indexes.colls == nil {
		k.indexes.colls = map[string][]store.IndexSpec{}
	}
	k.indexes.colls[coll] = append(k.indexes.colls[coll], specs...)
	if k.indexes.started {
		ctx, cancel := context.WithTimeout(context.Background(), lateIndexTimeout)
		defer cancel()
		if err := k.Store.EnsureIndexes(ctx, coll, k.indexSpecs(coll)); err != nil {
			k.Log.Error("indexes not made", "collection", coll, "err", err)
		}
	}
}

// lateIndexTimeout bounds the building of indexes declared after Start.
const lateIndexTimeout = 5 * time.Minute

// indexSpecs are the declared indexes of coll, the kernel's own first; the caller holds
// k.indexes.mu.
func (k *Kernel) indexSpecs(coll string) []store.IndexSpec {
	return append(slices.Clone(kernelIndexes[coll]), k.indexes.colls[coll]...)
}

// ensureIndexes makes the indexes of the kernel's collections and of those engines declared.
func (k *Kernel) ensureIndexes(ctx context.Context) error {
	k.indexes.mu.Lock()
	defer k.indexes.mu.Unlock()
	k.indexes.started = true
	var colls []string
	for coll := range kernelIndexes {
		colls = append(colls, coll)
	}
	for coll := range k.indexes.colls {
		if _, ok := kernelIndexes[coll]; !ok {
			colls = append(colls, coll)
		}
	}
	slices.Sort(colls)
	for _, coll := range colls {
		if err := k.Store.EnsureIndexes(ctx, coll, k.indexSpecs(coll)); err != nil {
			return fmt.Errorf("start kernel: %w", err)
		}
	}
	return nil
}
