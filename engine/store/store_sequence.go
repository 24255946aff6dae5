package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// sequencesCollection holds one document per sequence: the highest number handed out.
const sequencesCollection = "_sequences"

// DrawBlock is how many numbers Draw reserves at a time.
const DrawBlock = 32

// seqDoc is a sequence: Used is the highest number handed out (0 before the first).
type seqDoc struct {
	Used int64 `bson:"used"`
}

// Next hands out n consecutive numbers of sequence name and returns the first; numbers start at
// 1. No number is ever handed out twice — across goroutines, restarts and, on MongoDB, nodes —
// and none is skipped while claims succeed.
//
// A sequence is one document holding the highest number handed out, so a claim costs one write
// and leaves nothing behind. On MongoDB the claim is the server's atomic $inc; on the embedded
// store, which belongs to this process, the claim is serialised here (FerretDB does not apply
// updates atomically) and the document rewritten.
func (s *Store) Next(ctx context.Context, name string, n int64) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("next %d of sequence %q: count must be at least 1", n, name)
	}
	mu := s.seqLock(name)
	mu.Lock()
	defer mu.Unlock()
	used, err := s.seqUsed(ctx, name)
	if err != nil {
		return 0, fmt.Errorf("sequence %q: %w", name, err)
	}
	if s.kind == KindEmbedded {
		if err := s.Set(ctx, sequencesCollection, name, seqDoc{Used: used + n}); err != nil {
			return 0, fmt.Errorf("sequence %q: %w", name, err)
		}
		s.seqMu.Lock()
		s.seqTop[name] = used + n
		s.seqMu.Unlock()
		return used + 1, nil
	}
	c, err := s.Collection(ctx, sequencesCollection)
	if err != nil {
		return 0, err
	}
	var d seqDoc
	err = c.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: name}}, bson.D{{Key: "$inc", Value: bson.D{{Key: "used", Value: n}}}},
		options.FindOneAndUpdate().SetReturnDocument(options.After)).Decode(&d)
	if err != nil {
		return 0, fmt.Errorf("sequence %q: %w", name, err)
	}
	return d.Used - n + 1, nil
}

// seqUsed is the highest number of sequence name handed out. On the embedded store it is
// cached after the first read; on MongoDB it only makes sure the document exists (the caller
// then increments it on the server). A sequence without its document is new, or was kept as a
// chain of block documents before (seqLegacyTop): its document starts where that chain ends.
// The caller holds the sequence's lock.
func (s *Store) seqUsed(ctx context.Context, name string) (int64, error) {
	s.seqMu.Lock()
	used, known := s.seqTop[name]
	s.seqMu.Unlock()
	if known {
		return used, nil
	}
	var d seqDoc
	err := s.Get(ctx, sequencesCollection, name, &d)
	switch {
	case err == nil:
		used = d.Used
	case errors.Is(err, ErrNotFound):
		top, err := s.seqLegacyTop(ctx, name)
		if err != nil {
			return 0, err
		}
		used = top - 1
		if err := s.Put(ctx, sequencesCollection, name, seqDoc{Used: used}); errors.Is(err, ErrDuplicate) {
			// Another node made it meanwhile: its count is the one to go on from.
			if err := s.Get(ctx, sequencesCollection, name, &d); err != nil {
				return 0, err
			}
			used = d.Used
		} else if err != nil {
			return 0, err
		}
	default:
		return 0, err
	}
	s.seqMu.Lock()
	s.seqTop[name] = used
	s.seqMu.Unlock()
	return used, nil
}

// seqLegacyTop finds the first unclaimed number of a sequence kept the old way, as a chain of
// block documents "<name>#<first>" holding the first number of the next block, with a hint
// "<name>#hint" saying where to start walking; 1 when there is no chain.
func (s *Store) seqLegacyTop(ctx context.Context, name string) (int64, error) {
	var h struct {
		Top int64 `bson:"top"`
	}
	top := int64(1)
	switch err := s.Get(ctx, sequencesCollection, name+"#hint", &h); {
	case err == nil:
		top = max(h.Top, 1)
	case !errors.Is(err, ErrNotFound):
		return 0, err
	}
	for {
		var b struct {
			Next int64 `bson:"next"`
		}
		err := s.Get(ctx, sequencesCollection, name+"#"+strconv.FormatInt(top, 10), &b)
		if errors.Is(err, ErrNotFound) {
			return top, nil
		}
		if err != nil {
			return 0, err
		}
		top = b.Next
	}
}

// drawn is a block of numbers Draw reserved: next..end-1 are still to hand out.
type drawn struct {
	next, end int64
}

// Draw hands out the next number of sequence name from a block of DrawBlock numbers reserved
// with Next, so that only one draw in DrawBlock writes to the store. Numbers are never handed
// out twice, like Next's: each block's claim is synced to disk before its first number is
// handed out (durable), so not even a power cut under SyncNormal rolls it back. They are not
// gapless: Close gives the rest of each block back (when nothing was claimed after it), so a
// clean restart skips none, while a process that is killed, or a power cut, loses the rest of
// its blocks, fewer than DrawBlock numbers per sequence. With several nodes on one MongoDB,
// each draws from blocks of its own, so numbers are not handed out in order across nodes.
func (s *Store) Draw(ctx context.Context, name string) (int64, error) {
	s.drawMu.Lock()
	defer s.drawMu.Unlock()
	b := s.draws[name]
	if b == nil || b.next >= b.end {
		first, err := s.Next(ctx, name, DrawBlock)
		if err != nil {
			return 0, err
		}
		// The claim is on disk before its first number is handed out: a number may be printed
		// at once, and a claim that a power cut rolled back would hand it out again.
		if err := s.durable(); err != nil {
			return 0, fmt.Errorf("sequence %q: %w", name, err)
		}
		b = &drawn{next: first, end: first + DrawBlock}
		if s.draws == nil {
			s.draws = map[string]*drawn{}
		}
		s.draws[name] = b
	}
	v := b.next
	b.next++
	return v, nil
}

// releaseDraws gives back the numbers Draw reserved and did not hand out, for each sequence
// whose last claim is still that block (a claim since, by Next or another node, keeps them
// unused). Close calls it.
func (s *Store) releaseDraws(ctx context.Context) error {
	s.drawMu.Lock()
	defer s.drawMu.Unlock()
	var errs []error
	for name, b := range s.draws {
		if b.next >= b.end {
			continue
		}
		if err := s.seqGiveBack(ctx, name, b.next, b.end); err != nil {
			errs = append(errs, fmt.Errorf("sequence %q: give back %d..%d: %w", name, b.next, b.end-1, err))
		}
	}
	s.draws = nil
	return errors.Join(errs...)
}

// seqGiveBack sets sequence name back to from-1 if its highest number handed out is still end-1.
func (s *Store) seqGiveBack(ctx context.Context, name string, from, end int64) error {
	mu := s.seqLock(name)
	mu.Lock()
	defer mu.Unlock()
	if s.kind == KindEmbedded {
		s.seqMu.Lock()
		used, known := s.seqTop[name]
		s.seqMu.Unlock()
		if !known || used != end-1 {
			return nil
		}
		if err := s.Set(ctx, sequencesCollection, name, seqDoc{Used: from - 1}); err != nil {
			return err
		}
		s.seqMu.Lock()
		s.seqTop[name] = from - 1
		s.seqMu.Unlock()
		return nil
	}
	c, err := s.Collection(ctx, sequencesCollection)
	if err != nil {
		return err
	}
	_, err = c.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "used", Value: end - 1}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "used", Value: from - 1}}}})
	if err != nil && !errors.Is(err, mongo.ErrNoDocuments) {
		return err
	}
	return nil
}

func (s *Store) seqLock(name string) *sync.Mutex {
	s.seqMu.Lock()
	defer s.seqMu.Unlock()
	mu := s.seqLocks[name]
	if mu == nil {
		mu = &sync.Mutex{}
		s.seqLocks[name] = mu
	}
	return mu
}
