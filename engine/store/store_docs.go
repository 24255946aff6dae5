package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// RevField is the field that holds a revisioned document's revision (1 for a new document).
const RevField = "_rev"

// keyLocks serialises read-modify-writes of one key in this process.
type keyLocks struct{ stripes [256]sync.Mutex }

func (k *keyLocks) lock(parts ...string) func() {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	m := &k.stripes[h.Sum32()%uint32(len(k.stripes))]
	m.Lock()
	return m.Unlock
}

// Put inserts doc under its _id (id overrides any _id in doc). A document with that _id already
// there gives ErrDuplicate: exactly one of any number of concurrent Puts of one id succeeds.
func (s *Store) Put(ctx context.Context, coll, id string, doc any) error {
	d, err := toD(doc)
	if err != nil {
		return fmt.Errorf("put %s/%s: %w", coll, id, err)
	}
	d = setField(d, "_id", id)
	return s.insert(ctx, coll, d)
}

func (s *Store) insert(ctx context.Context, coll string, d bson.D) error {
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	if _, err := c.InsertOne(ctx, d); err != nil {
		if mongo.IsDuplicateKeyError(err) {
			return fmt.Errorf("insert into %s: %w", coll, ErrDuplicate)
		}
		return fmt.Errorf("insert into %s: %w", coll, err)
	}
	return nil
}

// Get reads the document with the given _id into out (a pointer); ErrNotFound when missing.
func (s *Store) Get(ctx context.Context, coll, id string, out any) error {
	c := s.reader(coll)
	err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Decode(out)
	if errors.Is(err, mongo.ErrNoDocuments) {
		return fmt.Errorf("get %s/%s: %w", coll, id, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("get %s/%s: %w", coll, id, err)
	}
	return nil
}

// Set writes doc under id whether or not it exists (last writer wins). Use it only for data
// that has one writer or where a lost update is harmless (hints, caches, settings).
func (s *Store) Set(ctx context.Context, coll, id string, doc any) error {
	d, err := toD(doc)
	if err != nil {
		return fmt.Errorf("set %s/%s: %w", coll, id, err)
	}
	d = setField(d, "_id", id)
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	unlock := s.locks.lock(coll, id)
	defer unlock()
	_, err = c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, d, options.Replace().SetUpsert(true))
	if err != nil {
		return fmt.Errorf("set %s/%s: %w", coll, id, err)
	}
	return nil
}

// Delete removes the document with the given _id; ErrNotFound when there was none.
func (s *Store) Delete(ctx context.Context, coll, id string) error {
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	res, err := c.DeleteOne(ctx, bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return fmt.Errorf("delete %s/%s: %w", coll, id, err)
	}
	if res.DeletedCount == 0 {
		return fmt.Errorf("delete %s/%s: %w", coll, id, ErrNotFound)
	}
	return nil
}

// Find streams the documents matching filter to fn, decoded into a fresh value made by newDoc…
// kept simple: fn receives the raw document; returning an error stops the walk with that error.
func (s *Store) Find(ctx context.Context, coll string, filter any, opts *options.FindOptionsBuilder, fn func(bson.Raw) error) error {
	c := s.reader(coll)
	if filter == nil {
		filter = bson.D{}
	}
	var cur *mongo.Cursor
	var err error
	if opts != nil {
		cur, err = c.Find(ctx, filter, opts)
	} else {
		cur, err = c.Find(ctx, filter)
	}
	if err != nil {
		return fmt.Errorf("find in %s: %w", coll, err)
	}
	defer cur.Close(ctx)
	for cur.Next(ctx) {
		if err := fn(cur.Current); err != nil {
			return err
		}
	}
	if err := cur.Err(); err != nil {
		return fmt.Errorf("find in %s: %w", coll, err)
	}
	return nil
}

// Count counts the documents matching filter.
func (s *Store) Count(ctx context.Context, coll string, filter any) (int64, error) {
	c := s.reader(coll)
	if filter == nil {
		filter = bson.D{}
	}
	n, err := c.CountDocuments(ctx, filter)
	if err != nil {
		return 0, fmt.Errorf("count in %s: %w", coll, err)
	}
	return n, nil
}

// Revision is one stored revision of a revisioned document.
type Revision struct {
	Rev int64     `bson:"rev"`
	At  time.Time `bson:"at"`
	Doc bson.Raw  `bson:"doc"`
}

// RevisionsCollection names the collection that keeps the revisions of coll's documents. The
// dot cannot occur in the names engines make from keys ([a-z0-9_]), so no collection of theirs
// can collide with another's revisions.
func RevisionsCollection(coll string) string { return coll + ".revs" }

func revID(id string, rev int64) string { return fmt.Sprintf("%s@%012d", id, rev) }

// Create inserts a revisioned document at revision 1. Its revision is first claimed in the
// revisions collection (a unique insert), so a Create racing another Create or an Update of the
// same id loses cleanly with ErrDuplicate.
//
// Revision 1 is written to the revisions collection lazily, by the first Update, so a create
// costs one insert: the main document's unique _id is what makes it exclusive. A revisioned
// document is never deleted (mark it deleted instead): its revisions would outlive it.
func (s *Store) Create(ctx context.Context, coll, id string, doc any) error {
	d, err := toD(doc)
	if err != nil {
		return fmt.Errorf("create %s/%s: %w", coll, id, err)
	}
	d = setField(setField(d, "_id", id), RevField, int64(1))
	if err := s.insert(ctx, coll, d); err != nil {
		return fmt.Errorf("create %s/%s: %w", coll, id, err)
	}
	return nil
}

// keepFirstRevision copies revision 1 of a document into the revisions collection before it is
// first updated (Create does not write it there).
func (s *Store) keepFirstRevision(ctx context.Context, coll, id string) error {
	var cur bson.D
	if err := s.Get(ctx, coll, id, &cur); err != nil {
		return err
	}
	var rev int64
	for _, e := range cur {
		if e.Key == RevField {
			rev, _ = e.Value.(int64)
		}
	}
	if rev != 1 {
		return nil // already past revision 1: the caller's update conflicts anyway
	}
	first := bson.D{{Key: "_id", Value: revID(id, 1)}, {Key: "rev", Value: int64(1)}, {Key: "at", Value: time.Now().UTC()}, {Key: "doc", Value: cur}}
	if err := s.insert(ctx, RevisionsCollection(coll), first); err != nil && !errors.Is(err, ErrDuplicate) {
		return err
	}
	return nil
}

// Update replaces revisioned document id if its revision is still expected, and returns the new
// revision (expected+1). Of any number of concurrent Updates from one revision exactly one
// succeeds; the others get ErrConflict. A missing document gives ErrNotFound.
func (s *Store) Update(ctx context.Context, coll, id string, expected int64, doc any) (int64, error) {
	if expected < 1 {
		return 0, fmt.Errorf("update %s/%s: revision %d: %w", coll, id, expected, ErrConflict)
	}
	return s.writeRevision(ctx, coll, id, expected, doc, nil)
}

// writeRevision is Update. The claim of revision expected+1 in the
// revisions collection is the commit point: it is a unique insert, so exactly one writer gets it,
// and it holds the whole new document, so the main document can always be rolled forward to it
// (a process killed between the claim and the replace leaves a claim that the next writer applies).
// before, when set, runs right before the claim (UpdateWith).
func (s *Store) writeRevision(ctx context.Context, coll, id string, expected int64, doc any, before func(context.Context) error) (int64, error) {
	const op = "update"
	d, err := toD(doc)
	if err != nil {
		return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, err)
	}
	next := expected + 1
	d = setField(setField(d, "_id", id), RevField, next)

	if s.kind == KindEmbedded {
		unlock := s.revLocks.lock(coll, id)
		defer unlock()
	}
	cur, err := s.currentRev(ctx, coll, id)
	if err != nil {
		return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, err)
	}
	// Ahead of expected: someone updated it. Behind (a revision that never existed): refused
	// too, or it would overwrite unseen changes and leave a gap in the history. (A claimed but
	// unapplied revision n+1 shows here as n: the claim below then rolls it forward.)
	if cur != expected {
		return 0, fmt.Errorf("%s %s/%s: at revision %d, not %d: %w", op, coll, id, cur, expected, ErrConflict)
	}
	if expected == 1 {
		if err := s.keepFirstRevision(ctx, coll, id); err != nil {
			return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, err)
		}
	}
	if before != nil {
		if err := before(ctx); err != nil {
			return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, err)
		}
	}
	d = stamped(ctx, d)
	claim := bson.D{{Key: "_id", Value: revID(id, next)}, {Key: "rev", Value: next}, {Key: "at", Value: time.Now().UTC()}, {Key: "doc", Value: d}}
	if err := s.insert(ctx, RevisionsCollection(coll), claim); err != nil {
		if errors.Is(err, ErrDuplicate) {
			// Someone else holds this revision; make sure the main document shows it.
			if rerr := s.rollForward(ctx, coll, id, next); rerr != nil {
				return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, rerr)
			}
			return 0, fmt.Errorf("%s %s/%s: revision %d is taken: %w", op, coll, id, next, ErrConflict)
		}
		return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, err)
	}
	if err := s.apply(ctx, coll, id, next, d); err != nil {
		return 0, fmt.Errorf("%s %s/%s: %w", op, coll, id, err)
	}
	return next, nil
}

// currentRev reads the revision of the main document; ErrNotFound when there is none.
func (s *Store) currentRev(ctx context.Context, coll, id string) (int64, error) {
	var cur struct {
		Rev int64 `bson:"_rev"`
	}
	if err := s.Get(ctx, coll, id, &cur); err != nil {
		return 0, err
	}
	return cur.Rev, nil
}

// apply makes the main document show revision rev unless it already shows rev or a later one.
// On MongoDB the filter makes that check atomic; on the embedded store the caller holds the key lock.
func (s *Store) apply(ctx context.Context, coll, id string, rev int64, d bson.D) error {
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	filter := bson.D{{Key: "_id", Value: id}, {Key: RevField, Value: bson.D{{Key: "$lt", Value: rev}}}}
	if s.kind == KindEmbedded {
		cur, err := s.currentRev(ctx, coll, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		if cur >= rev {
			return nil
		}
		filter = bson.D{{Key: "_id", Value: id}}
	}
	_, err = c.ReplaceOne(ctx, filter, d)
	return err
}

// rollForward applies a claimed revision that its writer may not have applied (it died).
func (s *Store) rollForward(ctx context.Context, coll, id string, rev int64) error {
	var r Revision
	if err := s.Get(ctx, RevisionsCollection(coll), revID(id, rev), &r); err != nil {
		return err
	}
	var d bson.D
	if err := bson.Unmarshal(r.Doc, &d); err != nil {
		return err
	}
	return s.apply(ctx, coll, id, rev, d)
}

// Revisions lists the stored revisions of document id, oldest first. It walks the revisions by
// _id (one indexed lookup each) and so needs no secondary index.
func (s *Store) Revisions(ctx context.Context, coll, id string) ([]Revision, error) {
	return s.RevisionsFrom(ctx, coll, id, 1, math.MaxInt)
}

// toD turns a struct, map or bson document into a bson.D.
func toD(doc any) (bson.D, error) {
	switch v := doc.(type) {
	case bson.D:
		return append(bson.D(nil), v...), nil
	case nil:
		return bson.D{}, nil
	}
	raw, err := bson.Marshal(doc)
	if err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	var d bson.D
	if err := bson.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("encode document: %w", err)
	}
	return d, nil
}

// setField sets key in d, replacing an existing element, and keeps _id first.
func setField(d bson.D, key string, v any) bson.D {
	for i := range d {
		if d[i].Key == key {
			d[i].Value = v
			return d
		}
	}
	if key == "_id" {
		return append(bson.D{{Key: key, Value: v}}, d...)
	}
	return append(d, bson.E{Key: key, Value: v})
}

// FindAll decodes every document matching filter into a slice (empty, not nil, when none
// match). For collections that stay small (users, roles, departments); stream larger ones with
// Find.
func FindAll[T any](ctx context.Context, s *Store, coll string, filter any, opts *options.FindOptionsBuilder) ([]T, error) {
	out := []T{}
	err := s.Find(ctx, coll, filter, opts, func(raw bson.Raw) error {
		var v T
		if err := bson.Unmarshal(raw, &v); err != nil {
			return fmt.Errorf("decode %s document: %w", coll, err)
		}
		out = append(out, v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
