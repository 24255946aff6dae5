package store

import (
	"context"
	"errors"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"
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
	d = stamped(ctx, d)
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

// StampField is the field of a revisioned document that holds the stamp of the write that
// stored its revision (WithStamp): the seq of its audit entry when engine.Kernel.Commit wrote it.
const StampField = "_w"

type stampKey struct{}

// WithStamp returns ctx carrying stamp, which CreateWith and UpdateWith made with it call once
// their hook has run: a number above 0 is stored with the revision in StampField, so that
// Settle can tell this write's revision from another writer's. engine.Kernel.Commit gives the
// seq of the write's audit entry, which its hook (the journal) has just appended.
func WithStamp(ctx context.Context, stamp func() int64) context.Context {
	return context.WithValue(ctx, stampKey{}, stamp)
}

// stamped sets StampField of d when ctx carries a stamp.
func stamped(ctx context.Context, d bson.D) bson.D {
	if f, ok := ctx.Value(stampKey{}).(func() int64); ok {
		if n := f(); n > 0 {
			return setField(d, StampField, n)
		}
	}
	return d
}

// Settle tells whether revision rev of document id in coll is stored and is the one stamped
// stamp (WithStamp), and makes the document show it when its revision was claimed but not
// applied (a process stopped between the two). A revision that another writer stored — it took
// the revision while this write timed out — is not this write's, so Settle says false: its
// audit entry is then voided, not taken for the other writer's. A revision stored without a
// stamp (before stamps were kept) is taken as this write's, as is any when stamp is 0.
// Kernel.Commit uses it when a write's outcome is unknown, and start-up for the writes whose
// audit entry was stored: a write that is not stored gets its entry voided.
func (s *Store) Settle(ctx context.Context, coll, id string, rev, stamp int64) (bool, error) {
	if s.kind == KindEmbedded {
		unlock := s.revLocks.lock(coll, id)
		defer unlock()
	}
	var cur struct {
		Rev   int64 `bson:"_rev"`
		Stamp int64 `bson:"_w"`
	}
	err := s.Get(ctx, coll, id, &cur)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
	}
	switch {
	case cur.Rev == rev:
		return stampIs(cur.Stamp, stamp), nil
	case cur.Rev > rev:
		var r struct {
			Doc struct {
				Stamp int64 `bson:"_w"`
			} `bson:"doc"`
		}
		if err := s.Get(ctx, RevisionsCollection(coll), revID(id, rev), &r); err != nil {
			if errors.Is(err, ErrNotFound) {
				return true, nil // every revision below the current one is kept: nothing to tell them by
			}
			return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
		}
		return stampIs(r.Doc.Stamp, stamp), nil
	case rev == 1 || cur.Rev == 0:
		return false, nil
	}
	var r Revision
	if err := s.Get(ctx, RevisionsCollection(coll), revID(id, rev), &r); errors.Is(err, ErrNotFound) {
		return false, nil // not claimed: never written
	} else if err != nil {
		return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
	}
	if got, _ := r.Doc.Lookup(StampField).AsInt64OK(); !stampIs(got, stamp) {
		return false, nil // another writer's claim: it rolls its own forward
	}
	var d bson.D
	if err := bson.Unmarshal(r.Doc, &d); err != nil {
		return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
	}
	if err := s.apply(ctx, coll, id, rev, d); err != nil {
		return false, fmt.Errorf("settle %s/%s: %w", coll, id, err)
	}
	return true, nil
}

// stampIs tells whether a revision stored with stamp got is the one stamped want.
func stampIs(got, want int64) bool { return want == 0 || got == 0 || got == want }

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
