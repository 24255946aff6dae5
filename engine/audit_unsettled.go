package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"tracecraft/engine/store"
)

// Entries a failure left open. An entry written for a write (Kernel.Commit) stays open — the
// bus's watermarks and the settled point stay below it — until its write is settled: stored,
// or its entry voided. When that cannot be done at once (the store fails the void, or cannot
// say whether the write is stored, or whether a batch of entries was stored at all), the entry
// is kept here and retried after the next commit and on the settler's tick, so that the
// watermarks move on once the store answers again, not only at the next start.

// unsettled is an entry whose write is not settled yet.
type unsettled struct {
	e      AuditEntry // as appended: Seq and Hash set
	x      *auditExtra
	reason string // why the write failed, for the void
	// check: the write may be stored after all (a timeout); store.Settle decides between
	// settling it and voiding the entry.
	check bool
	// doubt: the batch that held the entry failed and reading it back failed too, so the
	// entry may not be stored; it is voided if it is there as written, else forgotten. Such an
	// entry is not in Audit.open (its seq may be taken by a later entry).
	doubt bool
}

// unsettledList holds the unsettled entries; openLimit stays below the oldest.
type unsettledList struct {
	mu    sync.Mutex
	list  []*unsettled
	retry sync.Mutex // one retry at a time
}

func (l *unsettledList) add(u *unsettled) {
	l.mu.Lock()
	l.list = append(l.list, u)
	l.mu.Unlock()
}

func (l *unsettledList) remove(u *unsettled) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, v := range l.list {
		if v == u {
			l.list = append(l.list[:i], l.list[i+1:]...)
			return
		}
	}
}

func (l *unsettledList) snapshot() []*unsettled {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*unsettled(nil), l.list...)
}

// below lowers limit to below the oldest unsettled entry.
func (l *unsettledList) below(limit int64) int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, u := range l.list {
		limit = min(limit, u.e.Seq-1)
	}
	return limit
}

func (l *unsettledList) empty() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.list) == 0
}

// auditHooks let tests inject faults into the store calls of the group commit.
type auditHooks struct {
	putMany  func(ctx context.Context, docs []any) (int, error)
	getEntry func(ctx context.Context, seq int64, s *auditStored) error
	// afterWalk runs in Verify between the walk of the log and the check of the writes it
	// covers.
	afterWalk func()
}

// putMany stores a batch of entries (store.PutMany).
func (a *Audit) putMany(ctx context.Context, docs []any) (int, error) {
	if a.hooks.putMany != nil {
		return a.hooks.putMany(ctx, docs)
	}
	return a.st.PutMany(ctx, auditCollection, docs)
}

// getEntry reads entry seq as stored.
func (a *Audit) getEntry(ctx context.Context, seq int64, s *auditStored) error {
	if a.hooks.getEntry != nil {
		return a.hooks.getEntry(ctx, seq, s)
	}
	return a.st.Get(ctx, auditCollection, auditID(seq), s)
}

// readBack reads back, in order, the entries of a batch whose store call failed with err, and
// returns how many of them, from the first, are stored as written: those are appended after
// all. The first that is missing, or holds another entry, and those after it were not stored
// (a batch is stored in order). When the store cannot tell, the entries from there that stand
// for writes are kept unsettled: retryUnsettled voids each that it then finds stored, so that no
// stored entry is left open or carries the event of a write that never ran. The caller holds
// a.mu.
func (a *Audit) readBack(ctx context.Context, reqs []*auditReq, err error) int {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), busBookkeep)
	defer cancel()
	for i, r := range reqs {
		var s auditStored
		rerr := a.getEntry(rctx, r.e.Seq, &s)
		switch {
		case rerr == nil && s.hash() == r.e.Hash:
			continue
		case rerr == nil || errors.Is(rerr, store.ErrNotFound):
			return i
		}
		for _, r := range reqs[i:] {
			if r.x != nil && r.x.opens() {
				a.unsettled.add(&unsettled{e: r.e, x: r.x, doubt: true,
					reason: fmt.Sprintf("its batch failed (%v) and could not be read back (%v)", err, rerr)})
			}
		}
		return i
	}
	return len(reqs)
}

// retryUnsettled tries again to settle the entries a failure left open (see unsettled). It
// runs after a commit and on the settler's tick; one at a time, and it returns at once when
// another is running or there is nothing to do.
func (k *Kernel) retryUnsettled(ctx context.Context) {
	l := &k.Audit.unsettled
	if l.empty() || !l.retry.TryLock() {
		return
	}
	defer l.retry.Unlock()
	for _, u := range l.snapshot() {
		if err := k.resolve(ctx, u); err != nil {
			k.Log.Warn("audit entry of a failed write still unsettled; retried later", "seq", u.e.Seq, "err", err)
			continue
		}
		l.remove(u)
	}
}

// resolve settles u: its write stored after all, or its entry voided.
func (k *Kernel) resolve(ctx context.Context, u *unsettled) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), busBookkeep)
	defer cancel()
	if u.doubt {
		var s auditStored
		err := k.Audit.getEntry(ctx, u.e.Seq, &s)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return nil // never stored
		case err != nil:
			return err
		case s.hash() != u.e.Hash:
			return nil // never stored: its seq went to a later entry
		}
		return k.void(ctx, u.e.Seq, u.reason)
	}
	if u.check {
		w := u.x.write
		stored, err := k.Store.Settle(ctx, w.Coll, w.ID, w.Rev, u.e.Seq)
		if err != nil {
			return err
		}
		if stored {
			k.settle(u.e, u.x)
			return nil
		}
	}
	if err := k.void(ctx, u.e.Seq, u.reason); err != nil {
		return err
	}
	k.Audit.closeEntry(u.e.Seq)
	return nil
}
