package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// busTestWait bounds every wait of these tests; the race detector makes the embedded store
// about ten times slower, so it is generous. Conditions are polled, never assumed after a sleep.
const busTestWait = 30 * time.Second

func busTestNew(t *testing.T, st *store.Store, opts BusOptions) *Bus {
	t.Helper()
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 5 * time.Millisecond
	}
	if opts.MaxBackoff == 0 {
		opts.MaxBackoff = 20 * time.Millisecond
	}
	b := NewBus(st, storetest.Quiet, opts)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = b.Close(ctx)
	})
	return b
}

func busTestCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), busTestWait)
	t.Cleanup(cancel)
	return ctx
}

// busEventually polls cond until it holds or the deadline passes.
func busEventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(busTestWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// busRecorder is a handler that records what it receives.
type busRecorder struct {
	mu     sync.Mutex
	events []Event
	fail   func(e Event, attempt int) error // nil: always succeed
	calls  map[string]int
}

func (r *busRecorder) handle(ctx context.Context, e Event) error {
	r.mu.Lock()
	if r.calls == nil {
		r.calls = map[string]int{}
	}
	r.calls[e.ID]++
	n, fail := r.calls[e.ID], r.fail
	r.mu.Unlock()
	if fail != nil {
		if err := fail(e, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.events = append(r.events, e)
	r.mu.Unlock()
	return nil
}

func (r *busRecorder) got() []Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.events...)
}

func (r *busRecorder) types() []string {
	var out []string
	for _, e := range r.got() {
		out = append(out, e.Type)
	}
	return out
}

func (r *busRecorder) attempts(id string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls[id]
}

func TestBusDeliversAfterPublish(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{})
	var created, flows busRecorder
	b.Subscribe("audit", []string{EventRecordCreated}, created.handle)
	b.Subscribe("flows", []string{EventFlowFinished}, flows.handle)

	if err := b.Publish(ctx, Event{Type: EventRecordCreated}); err == nil {
		t.Fatal("Publish before Start succeeded")
	}
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("Subscribe after Start did not panic")
			}
		}()
		b.Subscribe("late", nil, created.handle)
	}()

	at := time.Date(2024, 5, 1, 8, 30, 0, 123456789, time.FixedZone("CST", 8*3600))
	err := b.Publish(ctx, Event{
		Type: EventRecordCreated, App: "trace", Kind: "receiving", Target: "R-1", Actor: "wang", At: at,
		After: map[string]any{"lot": "L01", "qty": 12.5, "count": 3, "ok": true, "none": nil,
			"when": at, "tags": []string{"a", "b"}, "supplier": map[string]any{"name": "甲", "grade": int64(2)}},
		Data: map[string]any{"source": "api"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, Event{}); err == nil {
		t.Fatal("event without a type published")
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	got := created.got()
	if len(got) != 1 {
		t.Fatalf("audit got %d events, want 1", len(got))
	}
	if n := len(flows.got()); n != 0 {
		t.Fatalf("flows got %d events, want 0", n)
	}
	e := got[0]
	if len(e.ID) != 16 || e.ID <= busEventID(0) {
		t.Errorf("ID = %q, want a 16-digit sequence number", e.ID)
	}
	wantAt := at.UTC().Truncate(time.Millisecond)
	if e.Type != EventRecordCreated || e.App != "trace" || e.Kind != "receiving" || e.Target != "R-1" || e.Actor != "wang" || !e.At.Equal(wantAt) || e.At.Location() != time.UTC {
		t.Errorf("event header = %+v", e)
	}
	if e.Before != nil {
		t.Errorf("Before = %v, want nil", e.Before)
	}
	wantAfter := map[string]any{"lot": "L01", "qty": 12.5, "count": int64(3), "ok": true, "none": nil,
		"when": wantAt, "tags": []any{"a", "b"}, "supplier": map[string]any{"name": "甲", "grade": int64(2)}}
	if !reflect.DeepEqual(e.After, wantAfter) {
		t.Errorf("After = %#v\nwant    %#v", e.After, wantAfter)
	}
	if !reflect.DeepEqual(e.Data, map[string]any{"source": "api"}) {
		t.Errorf("Data = %#v", e.Data)
	}
	var stored struct {
		Type string `bson:"type"`
	}
	if err := st.Get(ctx, busEvents, e.ID, &stored); err != nil || stored.Type != EventRecordCreated {
		t.Fatalf("stored event: %+v, %v", stored, err)
	}
}

func TestBusPrefixSubscriptions(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{})
	var records, all, exact, noDot busRecorder
	b.Subscribe("records", []string{"record."}, records.handle)
	b.Subscribe("all", nil, all.handle)
	b.Subscribe("exact", []string{EventRecordDeleted, EventDefinitionSaved}, exact.handle)
	b.Subscribe("no-dot", []string{"record"}, noDot.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	published := []string{EventRecordCreated, EventDefinitionSaved, EventRecordStatusChanged, "recordings.made", EventRecordDeleted}
	for _, typ := range published {
		if err := b.Publish(ctx, Event{Type: typ}); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	sorted := func(r *busRecorder) []string {
		evs := r.got()
		out := make([]string, len(evs))
		byID := map[string]string{}
		ids := make([]string, len(evs))
		for i, e := range evs {
			byID[e.ID], ids[i] = e.Type, e.ID
		}
		sort.Strings(ids)
		for i, id := range ids {
			out[i] = byID[id]
		}
		return out
	}
	check := func(name string, r *busRecorder, want []string) {
		t.Helper()
		if got := sorted(r); !reflect.DeepEqual(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Errorf("%s got %v, want %v", name, got, want)
		}
	}
	check("records", &records, []string{EventRecordCreated, EventRecordStatusChanged, EventRecordDeleted})
	check("all", &all, published)
	check("exact", &exact, []string{EventDefinitionSaved, EventRecordDeleted})
	check("no-dot", &noDot, nil)
}

func TestBusRetriesFailingHandlerWithoutBlockingOthers(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{Workers: 2})
	release := make(chan struct{})
	flaky := &busRecorder{fail: func(e Event, attempt int) error {
		switch attempt {
		case 1, 2:
			return fmt.Errorf("webhook down (attempt %d)", attempt)
		case 3:
			<-release // hold one worker while the other keeps delivering
		}
		return nil
	}}
	var fast busRecorder
	b.Subscribe("webhook", []string{EventFlowFinished}, flaky.handle)
	b.Subscribe("fast", nil, fast.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, Event{Type: EventFlowFinished, Target: "F-1"}); err != nil {
		t.Fatal(err)
	}
	var id string
	busEventually(t, "the flaky handler's third attempt", func() bool {
		if evs := fast.got(); len(evs) > 0 {
			id = evs[0].ID
		}
		return id != "" && flaky.attempts(id) == 3
	})
	// The failure is visible while the delivery is being retried.
	failed, err := b.Failed(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(failed) != 1 || failed[0].State != DeliveryRetrying || failed[0].Attempts != 2 || failed[0].Subscriber != "webhook" ||
		failed[0].Event.Target != "F-1" || failed[0].Key != id+"/webhook" || failed[0].Error == "" || failed[0].NextAttempt.IsZero() {
		t.Fatalf("Failed = %+v", failed)
	}
	// A worker is stuck in the flaky handler; the other still delivers.
	for i := range 3 {
		if err := b.Publish(ctx, Event{Type: EventRecordCreated, Target: fmt.Sprint("R-", i)}); err != nil {
			t.Fatal(err)
		}
	}
	busEventually(t, "the other handler got every event", func() bool { return len(fast.got()) == 4 })
	close(release)
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := flaky.got(); len(got) != 1 || got[0].ID != id || flaky.attempts(id) != 3 {
		t.Fatalf("flaky handler: %d events, %d attempts", len(got), flaky.attempts(id))
	}
	if failed, err := b.Failed(ctx); err != nil || len(failed) != 0 {
		t.Fatalf("Failed after success = %+v, %v", failed, err)
	}
	var m busMarker
	if err := st.Get(ctx, busDeliveries, id+"/webhook", &m); err != nil || m.State != "done" || m.Attempts != 3 {
		t.Fatalf("marker = %+v, %v", m, err)
	}
}

func TestBusRecoversPanickingHandler(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{})
	h := &busRecorder{fail: func(e Event, attempt int) error {
		if attempt == 1 {
			var m map[string]int
			m["boom"]++ // a nil map write: a real panic
		}
		return nil
	}}
	b.Subscribe("panicky", nil, h.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, Event{Type: EventRecordUpdated}); err != nil {
		t.Fatal(err)
	}
	busEventually(t, "the retried delivery succeeded", func() bool { return len(h.got()) == 1 })
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n := h.attempts(h.got()[0].ID); n != 2 {
		t.Fatalf("attempts = %d, want 2", n)
	}
	if failed, err := b.Failed(ctx); err != nil || len(failed) != 0 {
		t.Fatalf("Failed = %+v, %v", failed, err)
	}
}

func TestBusMaxAttemptsParksDead(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{MaxAttempts: 3})
	var mu sync.Mutex
	broken := true
	h := &busRecorder{fail: func(e Event, attempt int) error {
		mu.Lock()
		defer mu.Unlock()
		if broken {
			return errors.New("printer offline")
		}
		return nil
	}}
	b.Subscribe("printer", nil, h.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b.Publish(ctx, Event{Type: EventRecordCreated, Target: "R-9"}); err != nil {
		t.Fatal(err)
	}
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
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if dead.Attempts != 3 || dead.Event.Target != "R-9" || dead.Event.Type != EventRecordCreated || !dead.NextAttempt.IsZero() ||
		dead.FirstFailed.IsZero() || dead.LastFailed.Before(dead.FirstFailed) {
		t.Fatalf("dead delivery = %+v", dead)
	}
	if n := h.attempts(dead.Event.ID); n != 3 {
		t.Fatalf("attempts = %d, want 3", n)
	}
	var m busMarker
	if err := st.Get(ctx, busDeliveries, dead.Key, &m); err != nil || m.State != string(DeliveryDead) {
		t.Fatalf("marker = %+v, %v", m, err)
	}

	// Retry after the cause is fixed.
	if err := b.Retry(ctx, "0000000000000099/printer"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Retry of an unknown delivery: %v", err)
	}
	mu.Lock()
	broken = false
	mu.Unlock()
	if err := b.Retry(ctx, dead.Key); err != nil {
		t.Fatal(err)
	}
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := h.got(); len(got) != 1 || got[0].ID != dead.Event.ID {
		t.Fatalf("after Retry the handler got %v", got)
	}
	if failed, err := b.Failed(ctx); err != nil || len(failed) != 0 {
		t.Fatalf("Failed after Retry = %+v, %v", failed, err)
	}
	if err := st.Get(ctx, busDeliveries, dead.Key, &m); err != nil || m.State != "done" {
		t.Fatalf("marker after Retry = %+v, %v", m, err)
	}
}

func TestBusRedeliversAfterRestart(t *testing.T) {
	dir, ctx := storetest.TempDir(t), busTestCtx(t)

	// First process: the mailer fails every time; the archive works.
	st1 := storetest.OpenEmbedded(t, dir)
	b1 := busTestNew(t, st1, BusOptions{MaxAttempts: 1000}) // failing, not dead, when it closes
	failing := &busRecorder{fail: func(Event, int) error { return errors.New("smtp down") }}
	var archive1 busRecorder
	b1.Subscribe("mailer", []string{"record."}, failing.handle)
	b1.Subscribe("archive", nil, archive1.handle)
	if err := b1.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b1.Publish(ctx, Event{Type: EventRecordCreated, Target: "R-1"}); err != nil {
		t.Fatal(err)
	}
	if err := b1.Publish(ctx, Event{Type: EventDefinitionSaved, Target: "forms.form/x"}); err != nil {
		t.Fatal(err)
	}
	var id string
	busEventually(t, "the mailer failed twice and the archive got both", func() bool {
		if evs := archive1.got(); len(evs) == 2 {
			id = evs[0].ID
			if evs[1].Type == EventRecordCreated {
				id = evs[1].ID
			}
		}
		return id != "" && failing.attempts(id) >= 2
	})
	if err := b1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	calls := failing.attempts(id)
	if err := st1.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if failing.attempts(id) != calls {
		t.Fatal("the failing handler ran after Close")
	}

	// Second process, same data: the mailer works now.
	st2 := storetest.OpenEmbedded(t, dir)
	b2 := busTestNew(t, st2, BusOptions{})
	var mailer2, archive2 busRecorder
	b2.Subscribe("mailer", []string{"record."}, mailer2.handle)
	b2.Subscribe("archive", nil, archive2.handle)
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mailer2.got(); len(got) != 1 || got[0].ID != id || got[0].Target != "R-1" || mailer2.attempts(id) != 1 {
		t.Fatalf("mailer after restart got %+v", got)
	}
	if got := archive2.got(); len(got) != 0 {
		t.Fatalf("archive got %d events again", len(got))
	}
	if failed, err := b2.Failed(ctx); err != nil || len(failed) != 0 {
		t.Fatalf("Failed = %+v, %v", failed, err)
	}
	// New events still flow after a recovery.
	if err := b2.Publish(ctx, Event{Type: EventRecordUpdated}); err != nil {
		t.Fatal(err)
	}
	busEventually(t, "the new event reached the mailer", func() bool { return len(mailer2.got()) == 2 })
	if err := b2.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// Third start: nothing is delivered twice, and a new subscriber does not get history.
	b3 := busTestNew(t, st2, BusOptions{})
	var mailer3, newcomer busRecorder
	b3.Subscribe("mailer", []string{"record."}, mailer3.handle)
	b3.Subscribe("newcomer", nil, newcomer.handle)
	if err := b3.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b3.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, m := len(mailer3.got()), len(newcomer.got()); n != 0 || m != 0 {
		t.Fatalf("third start delivered %d to mailer and %d to newcomer, want none", n, m)
	}
	var mark busMark
	if err := st2.Get(ctx, busMarks, "mailer", &mark); err != nil || mark.UpTo < 3 {
		t.Fatalf("mailer watermark = %+v, %v", mark, err)
	}
}

func TestBusConcurrentPublishers(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	b := busTestNew(t, st, BusOptions{Workers: 3})
	var h busRecorder
	b.Subscribe("counter", nil, h.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	const writers, each = 4, 8
	var wg sync.WaitGroup
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				if err := b.Publish(ctx, Event{Type: EventRecordCreated, Target: fmt.Sprintf("%d-%d", w, i)}); err != nil {
					t.Error(err)
				}
			}
		}()
	}
	wg.Wait()
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	ids, targets := map[string]bool{}, map[string]bool{}
	for _, e := range h.got() {
		ids[e.ID], targets[e.Target] = true, true
	}
	if len(h.got()) != writers*each || len(ids) != writers*each || len(targets) != writers*each {
		t.Fatalf("got %d deliveries, %d ids, %d targets; want %d each", len(h.got()), len(ids), len(targets), writers*each)
	}
	var mark busMark
	if err := st.Get(ctx, busMarks, "counter", &mark); err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if seq, _ := strconv.ParseInt(id, 10, 64); seq > mark.UpTo {
			t.Fatalf("watermark %d is below delivered event %s", mark.UpTo, id)
		}
	}
}

func TestBusPrune(t *testing.T) {
	st, ctx := storetest.New(t), busTestCtx(t)
	// The stuck delivery waits an hour for its second attempt: it is retrying, not dead,
	// throughout.
	b := busTestNew(t, st, BusOptions{MinBackoff: time.Hour, MaxBackoff: time.Hour})
	var ok busRecorder
	stuck := &busRecorder{fail: func(Event, int) error { return errors.New("still failing") }}
	b.Subscribe("ok", nil, ok.handle)
	b.Subscribe("stuck", []string{EventFlowFinished}, stuck.handle)
	if err := b.Start(ctx); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-10 * 24 * time.Hour)
	for _, e := range []Event{
		{Type: EventRecordCreated, At: old},
		{Type: EventRecordCreated, At: old},
		{Type: EventFlowFinished, At: old}, // its stuck delivery holds back this event only
		{Type: EventRecordCreated, At: old},
		{Type: EventRecordCreated},
	} {
		if err := b.Publish(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	busEventually(t, "everything but the stuck delivery is done", func() bool { return len(ok.got()) == 5 })
	if err := b.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	n, err := b.Prune(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 3 {
		t.Fatalf("pruned %d events, want 3 (all old ones but the stuck delivery's)", n)
	}
	count := func(coll string) int64 {
		c, err := st.Count(ctx, coll, nil)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	if c := count(busEvents); c != 2 {
		t.Fatalf("%d events left, want 2", c)
	}
	// No markers: the watermarks finish these deliveries (issue 8 item 4), and "ok", whose
	// watermark the stuck event does not hold back, has no failing delivery.
	if c := count(busDeliveries); c != 0 {
		t.Fatalf("%d delivery markers left, want 0", c)
	}
	if n, err := b.Prune(ctx, time.Time{}); err != nil || n != 0 {
		t.Fatalf("second prune: %d, %v", n, err)
	}
	// Everything older than an explicit time in the future, now that nothing is pending.
	if err := b.Close(ctx); err != nil {
		t.Fatal(err)
	}
	b2 := busTestNew(t, st, BusOptions{})
	b2.Subscribe("ok", nil, ok.handle)
	b2.Subscribe("stuck", []string{EventFlowFinished}, func(context.Context, Event) error { return nil })
	if err := b2.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if err := b2.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := b2.Prune(ctx, time.Now().Add(time.Hour)); err != nil || n != 2 {
		t.Fatalf("final prune: %d, %v; want 2", n, err)
	}
	if c := count(busEvents); c != 0 {
		t.Fatalf("%d events left, want 0", c)
	}
	if c := count(busDeliveries); c != 0 {
		t.Fatalf("%d delivery markers left, want 0", c)
	}
}

func TestBusBackoff(t *testing.T) {
	b := NewBus(nil, storetest.Quiet, BusOptions{MinBackoff: time.Second, MaxBackoff: 5 * time.Second})
	var got []time.Duration
	for n := 1; n <= 5; n++ {
		got = append(got, b.backoff(n))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 5 * time.Second, 5 * time.Second}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("backoff = %v, want %v", got, want)
	}
	if d := NewBus(nil, nil, BusOptions{}).backoff(1000); d != 5*time.Minute {
		t.Fatalf("default max backoff = %v", d)
	}
}
