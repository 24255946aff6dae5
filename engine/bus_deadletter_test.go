package engine

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"tracecraft/engine/store/storetest"
)

// Item 11 of issue 7: a delivery that can never succeed ends as a dead letter after a bounded
// number of attempts, holds back nothing, and can be replayed.

// busTestDead waits until Failed lists exactly one delivery and it is dead.
func busTestDead(t *testing.T, ctx context.Context, b *Bus) Delivery {
	t.Helper()
	var dead Delivery
	busEventually(t, "the delivery is dead", func() bool {
		failed, err := b.Failed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 && failed[0].State == DeliveryDead {
			dead = failed[0]
			return true
		}
		return false
	})
	return dead
}

func TestHardening11_PoisonEventDeadLettersAndPruningContinues(t *testing.T) {
	if got := NewBus(nil, storetest.Quiet, BusOptions{}).opts.MaxAttempts; got != BusDefaultMaxAttempts || got <= 0 {
		t.Fatalf("default MaxAttempts = %d, want %d", got, BusDefaultMaxAttempts)
	}
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{}) // the default number of attempts, short backoffs
	var ok busRecorder
	poison := &busRecorder{fail: func(Event, int) error { return errors.New("cannot handle this event, ever") }}
	b.Subscribe("ok", nil, ok.handle)
	b.Subscribe("poison", []string{EventFlowFinished}, poison.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	for _, e := range []Event{
		{Type: EventRecordCreated, At: old},
		{Type: EventFlowFinished, At: old, Target: "F-poison"},
		{Type: EventRecordCreated, At: old},
		{Type: EventRecordCreated, At: old},
		{Type: EventRecordCreated}, // recent: kept
	} {
		if err := b.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	dead := busTestDead(t, ctx, b)
	busEventually(t, "the other subscriber got every event", func() bool { return len(ok.got()) == 5 })
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if dead.Attempts != BusDefaultMaxAttempts || poison.attempts(dead.Event.ID) != BusDefaultMaxAttempts || dead.Event.Target != "F-poison" {
		t.Fatalf("dead delivery %+v after %d calls, want %d attempts", dead, poison.attempts(dead.Event.ID), BusDefaultMaxAttempts)
	}
	// The dead letter holds nothing back: every old event goes, its own included.
	n, err := b.Prune(ctx, time.Time{})
	if err != nil || n != 4 {
		t.Fatalf("prune: %d, %v; want 4", n, err)
	}
	if c, err := st.Count(ctx, busEvents, nil); err != nil || c != 1 {
		t.Fatalf("%d events left (%v), want 1", c, err)
	}
	// It is still listed, with its event, for an operator to replay.
	failed, err := b.Failed(ctx)
	if err != nil || len(failed) != 1 || failed[0].Key != dead.Key || failed[0].Event.Target != "F-poison" {
		t.Fatalf("Failed after prune = %+v, %v", failed, err)
	}
	// Later events keep flowing and are pruned as well.
	for range 2 {
		if err := b.Publish(ctx, Event{Type: EventRecordUpdated}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := b.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 3 {
		t.Fatalf("second prune: %d, %v; want 3", n, err)
	}
}

func TestHardening11_RetryingDeliveryHoldsBackOnlyItsEvent(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	// The failing delivery waits an hour for its next attempt: it is retrying during the test.
	b := busTestNew(t, st, BusOptions{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	var ok busRecorder
	failing := &busRecorder{fail: func(Event, int) error { return errors.New("webhook down") }}
	b.Subscribe("ok", nil, ok.handle)
	b.Subscribe("webhook", []string{EventFlowFinished}, failing.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	types := []string{EventFlowFinished, EventRecordCreated, EventRecordCreated, EventRecordCreated}
	for _, typ := range types {
		if err := b.Publish(ctx, Event{Type: typ, At: old}); err != nil {
			t.Fatal(err)
		}
	}
	busEventually(t, "the webhook failed once and the rest is delivered", func() bool {
		failed, err := b.Failed(ctx)
		return err == nil && len(failed) == 1 && len(ok.got()) == len(types)
	})
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := b.Prune(ctx, time.Time{})
	if err != nil || n != 3 {
		t.Fatalf("prune: %d, %v; want 3 (every event but the retrying delivery's)", n, err)
	}
	failed, err := b.Failed(ctx)
	if err != nil || len(failed) != 1 || failed[0].State != DeliveryRetrying {
		t.Fatalf("Failed = %+v, %v", failed, err)
	}
	var e Event
	if err := st.Get(ctx, busEvents, failed[0].Event.ID, &e); err != nil {
		t.Fatalf("the retrying delivery's event was pruned: %v", err)
	}
}

func TestHardening11_RetryOnStoppedBusRedeliversOnStart(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)

	// A running server: the printer subscriber fails until its delivery is dead.
	b1 := busTestNew(t, st, BusOptions{MaxAttempts: 2})
	broken := &busRecorder{fail: func(Event, int) error { return errors.New("printer offline") }}
	b1.Subscribe("printer", nil, broken.handle)
	if err := b1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b1.Publish(ctx, Event{Type: EventRecordCreated, Target: "R-7"}); err != nil {
		t.Fatal(err)
	}
	dead := busTestDead(t, ctx, b1)
	if err := b1.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The CLI, with the server stopped: a bus that is never started lists and revives it.
	cli := busTestNew(t, st, BusOptions{})
	if failed, err := cli.Failed(ctx); err != nil || len(failed) != 1 || failed[0].Key != dead.Key {
		t.Fatalf("Failed from a stopped bus = %+v, %v", failed, err)
	}
	if err := cli.Retry(ctx, dead.Key); err != nil {
		t.Fatalf("Retry on a stopped bus: %v", err)
	}
	if err := cli.Retry(ctx, dead.Key); !errors.Is(err, ErrConflict) {
		t.Fatalf("second Retry: %v, want a conflict (no longer dead)", err)
	}
	if failed, err := cli.Failed(ctx); err != nil || len(failed) != 1 || failed[0].State != DeliveryRetrying || failed[0].Attempts != 0 {
		t.Fatalf("Failed after Retry = %+v, %v", failed, err)
	}

	// The server starts again, the printer works now: the delivery is made once.
	b2 := busTestNew(t, st, BusOptions{})
	var mu sync.Mutex
	var got []Event
	b2.Subscribe("printer", nil, func(_ context.Context, e Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		return nil
	})
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 || got[0].ID != dead.Event.ID || got[0].Target != "R-7" {
		t.Fatalf("after the restart the printer got %+v", got)
	}
	if failed, err := b2.Failed(ctx); err != nil || len(failed) != 0 {
		t.Fatalf("Failed after redelivery = %+v, %v", failed, err)
	}
	var m busMarker
	if err := st.Get(ctx, busDeliveries, dead.Key, &m); err != nil || m.State != "done" {
		t.Fatalf("marker = %+v, %v", m, err)
	}
}
