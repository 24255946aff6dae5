package store

import (
	"context"
	"errors"
	"fmt"
)

// CreateWith is Create with a hook: before runs right before the document is inserted — on the
// embedded store under the document's lock, which Settle takes too — and an error from it stops
// the create. engine.Kernel.Commit passes the append of the write's audit entry, so that the
// document is never stored without it.
func (s *Store) CreateWith(ctx context.Context, coll, id string, doc any, before func(context.Context) error) error {
	d, err := toD(doc)
	if err != nil {
		return fmt.Errorf("create %s/%s: %w", coll, id, err)
	}
	d = setField(setField(d, "_id", id), RevField, int64(1))
	if s.kind == KindEmbedded {
		unlock := s.locks.lock(coll, id)
		defer unlock()
	}
	if before != nil {
		if err := before(ctx); err != nil {
			return fmt.Errorf("create %s/%s: %w", coll, id, err)
		}
	}
	if err := s.insert(ctx, coll, d); err != nil {
		return fmt.Errorf("create %s/%s: %w", coll, id, err)
	}
	return nil
}

// UpdateWith is Update with a hook: before runs once the revision is known to be expected,
// right before the new revision is claimed (the update's commit point), and an error from it
// stops the update. See CreateWith.
func (s *Store) UpdateWith(ctx context.Context, coll, id string, expected int64, doc any, before func(context.Context) error) (int64, error) {
	if expected < 1 {
		return 0, fmt.Errorf("update %s/%s: revision %d: %w", coll, id, expected, ErrConflict)
	}
	return s.writeRevision(ctx, coll, id, expected, doc, before)
}

// Settle tells whether revision rev of document id in coll is stored, and makes the document
// show it when its revision was claimed but not applied (a process stopped between the two).
// Start-up uses it for the writes whose audit entry was stored: a write that is not stored
// gets its entry voided.
func (s *Store) Settle(ctx context.Context, coll, id string, rev int64) (bool, error) {
	if s.kind == KindEmbedded {
		unlock := s.locks.lock(coll, id)
		defer unlock()
	}
	cur, err := s.currentRev(ctx, coll, id)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
	}
	if cur >= rev {
		return true, nil
	}
	if rev == 1 || cur == 0 {
		return false, nil
	}
	err = s.rollForward(ctx, coll, id, rev)
	if errors.Is(err, ErrNotFound) {
		return false, nil // not claimed: never written
	}
	if err != nil {
		return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
	}
	return true, nil
}
