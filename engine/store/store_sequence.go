package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
)

// sequencesCollection holds the claimed blocks of every sequence.
const sequencesCollection = "_sequences"

// hintEvery is how many claims pass between writes of a sequence's hint document; a process that
// starts walks at most this many blocks from the hint to find the top.
const hintEvery = 32

type seqBlock struct {
	Seq   string `bson:"seq"`
	Start int64  `bson:"start"`
	Next  int64  `bson:"next"`
}

type seqHint struct {
	Top int64 `bson:"top"`
}

// Next hands out n consecutive numbers of sequence name and returns the first; numbers start at
// 1. No number is ever handed out twice — across goroutines, restarts and, on MongoDB, nodes —
// and none is skipped while claims succeed.
//
// The sequence is a chain of blocks, each a document keyed by its first number and holding the
// first number of the next block. Claiming a block is inserting its key: a unique insert, so of
// racing claimers exactly one wins and the others follow the chain to the new top.
func (s *Store) Next(ctx context.Context, name string, n int64) (int64, error) {
	if n < 1 {
		return 0, fmt.Errorf("next %d of sequence %q: count must be at least 1", n, name)
	}
	mu := s.seqLock(name)
	mu.Lock()
	defer mu.Unlock()

	s.seqMu.Lock()
	top, known := s.seqTop[name]
	s.seqMu.Unlock()
	if !known {
		var h seqHint
		err := s.Get(ctx, sequencesCollection, name+"#hint", &h)
		switch {
		case errors.Is(err, ErrNotFound):
			top = 1
		case err != nil:
			return 0, fmt.Errorf("sequence %q: %w", name, err)
		default:
			top = max(h.Top, 1)
		}
	}
	walked := 0
	for {
		key := name + "#" + strconv.FormatInt(top, 10)
		err := s.Put(ctx, sequencesCollection, key, seqBlock{Seq: name, Start: top, Next: top + n})
		if err == nil {
			break
		}
		if !errors.Is(err, ErrDuplicate) {
			return 0, fmt.Errorf("sequence %q: %w", name, err)
		}
		var b seqBlock
		if err := s.Get(ctx, sequencesCollection, key, &b); err != nil {
			return 0, fmt.Errorf("sequence %q: %w", name, err)
		}
		top = b.Next
		walked++
	}
	first := top
	s.seqMu.Lock() // seqTop is shared by every sequence; the per-name lock guards only this one
	s.seqTop[name] = top + n
	s.seqMu.Unlock()
	if walked > 0 || !known || first%hintEvery == 0 || (first+n)/hintEvery != first/hintEvery {
		// A hint may go stale or even backwards under racing nodes; it is only a starting point.
		if err := s.Set(ctx, sequencesCollection, name+"#hint", seqHint{Top: top + n}); err != nil {
			s.log.Warn("sequence hint not written", "sequence", name, "err", err)
		}
	}
	return first, nil
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
