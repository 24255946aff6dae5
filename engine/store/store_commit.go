package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/mongo"
)

// CreateWith is Create with a hook: before runs right before the document is inserted — on the
// embedded store under the document's lock, which Settle takes too — and an error from it stops
// the create. engine.Kernel.Commit passes the append of the write's audit entry, so that the
// document is never stored without it. before must not make revisioned writes itself (it runs
// under the document's revision lock); Put, Set and Get are fine.
func (s *Store) CreateWith(ctx context.Context, coll, id string, doc any, before func(context.Context) error) error {
	d, err := toD(doc)
	if err != nil {
		return fmt.Errorf("create %s/%s: %w", coll, id, err)
	}
	d = setField(setField(d, "_id", id), RevField, int64(1))
	if s.kind == KindEmbedded {
		unlock := s.revLocks.lock(coll, id)
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
		unlock := s.revLocks.lock(coll, id)
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

// PutMany inserts docs, each under the _id it holds, in order and in one call (one SQLite
// transaction on the embedded store when none fails). It returns how many were stored: all, or
// those before the first that failed, with that one's error — ErrDuplicate when its _id was
// taken. When the call fails as a whole it returns 0, though some may have been stored.
func (s *Store) PutMany(ctx context.Context, coll string, docs []any) (int, error) {
	if len(docs) == 0 {
		return 0, nil
	}
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return 0, err
	}
	if _, err := c.InsertMany(ctx, docs); err != nil {
		var bwe mongo.BulkWriteException
		if errors.As(err, &bwe) && len(bwe.WriteErrors) > 0 {
			we := bwe.WriteErrors[0]
			if mongo.IsDuplicateKeyError(we) {
				return we.Index, fmt.Errorf("insert into %s: %w", coll, ErrDuplicate)
			}
			return we.Index, fmt.Errorf("insert into %s: %w", coll, we)
		}
		return 0, fmt.Errorf("insert into %s: %w", coll, err)
	}
	return len(docs), nil
}
