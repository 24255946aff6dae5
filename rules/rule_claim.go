package rules

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// The states of a claim in firedCollection. A claim is made pending (a unique insert, with
// its time) before the work it guards and marked done after it; a failure deletes it, so a
// run again does the work. A run that finds a pending claim older than claimLease takes it
// over: the node that made it stopped between its claim and its work, which is not lost but
// done again (at least once). Claims made before claims had states count as done.
const (
	claimPending = "pending"
	claimDone    = "done"
)

// claimLease is how old a pending claim must be before another run takes it over (as
// workflow timers do).
const claimLease = 5 * time.Minute

// claimHeld is what take found when it did not get the claim.
type claimHeld int

const (
	claimTaken    claimHeld = iota // the caller holds the claim: do the work
	claimFinished                  // done before: skip the work
	claimBusy                      // pending and fresh: another run is doing the work now
)

// claimDoc is the part of a claim take and settle read and write.
type claimDoc struct {
	State string    `bson:"state,omitempty"`
	At    time.Time `bson:"at"`
	Until time.Time `bson:"until,omitzero"`
}

// take claims id in firedCollection: a unique insert of fields with state pending and the
// time now, or the takeover of a pending claim older than claimLease. A takeover is itself a
// unique insert, of a document named after the claim and the time it was pending from, so of
// several runs (nodes) that find it stale at once only one takes it over.
func (s *Service) take(ctx context.Context, id string, fields bson.D) (claimHeld, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	doc := append(bson.D{{Key: "state", Value: claimPending}, {Key: "at", Value: now}}, fields...)
	err := s.st.Put(ctx, firedCollection, id, doc)
	if err == nil {
		return claimTaken, nil
	}
	if !errors.Is(err, store.ErrDuplicate) {
		return 0, fmt.Errorf("claim %s: %w", id, err)
	}
	var prev claimDoc
	if err := s.st.Get(ctx, firedCollection, id, &prev); errors.Is(err, store.ErrNotFound) {
		// Released (a failure) between the insert and the read: the run that failed, or the
		// next one, does it again.
		return claimBusy, nil
	} else if err != nil {
		return 0, fmt.Errorf("claim %s: %w", id, err)
	}
	if prev.State != claimPending {
		return claimFinished, nil
	}
	if now.Sub(prev.At) < claimLease {
		return claimBusy, nil
	}
	until := prev.Until
	if until.IsZero() {
		until = now.Add(48 * time.Hour)
	}
	token := id + "#takeover#" + strconv.FormatInt(prev.At.UnixMilli(), 10)
	err = s.st.Put(ctx, firedCollection, token, bson.D{{Key: "at", Value: now}, {Key: "until", Value: until}})
	if errors.Is(err, store.ErrDuplicate) {
		return claimBusy, nil // another run took it over first
	}
	if err != nil {
		return 0, fmt.Errorf("claim %s: take over: %w", id, err)
	}
	c, err := s.st.Collection(ctx, firedCollection)
	if err != nil {
		return 0, fmt.Errorf("claim %s: take over: %w", id, err)
	}
	// The claim's new time: pending from now, so that it is stale again only if this run
	// stops too.
	if _, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "at", Value: now}, {Key: "taken_over", Value: true}}}}); err != nil {
		return 0, fmt.Errorf("claim %s: take over: %w", id, err)
	}
	s.k.Log.Warn("rule claim taken over", "claim", id, "pending_since", prev.At)
	return claimTaken, nil
}

// settle marks claim id done: the work it guards happened.
func (s *Service) settle(ctx context.Context, id string) error {
	c, err := s.st.Collection(ctx, firedCollection)
	if err != nil {
		return fmt.Errorf("settle claim %s: %w", id, err)
	}
	_, err = c.UpdateOne(context.WithoutCancel(ctx), bson.D{{Key: "_id", Value: id}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "state", Value: claimDone}, {Key: "done_at", Value: s.now().UTC()}}}})
	if err != nil {
		return fmt.Errorf("settle claim %s: %w", id, err)
	}
	return nil
}

// release deletes claim id after its work failed, so a run again does the work.
func (s *Service) release(ctx context.Context, id string) {
	if err := s.st.Delete(context.WithoutCancel(ctx), firedCollection, id); err != nil && !errors.Is(err, store.ErrNotFound) {
		s.k.Log.Error("rule claim not released", "claim", id, "err", err)
	}
}

// finished tells whether claim id is there and done (or older than claim states).
func (s *Service) finished(ctx context.Context, id string) (bool, error) {
	var d claimDoc
	err := s.st.Get(ctx, firedCollection, id, &d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("claim %s: %w", id, err)
	}
	return d.State != claimPending, nil
}
