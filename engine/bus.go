package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"regexp"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// Event types published by the engines. Subscriptions name them exactly or by a prefix that
// ends with a dot ("record.").
const (
	EventRecordCreated       = "record.created"
	EventRecordUpdated       = "record.updated"
	EventRecordDeleted       = "record.deleted"
	EventRecordStatusChanged = "record.status_changed"
	EventDefinitionSaved     = "definition.saved"
	EventFlowFinished        = "flow.finished"
)

// Event is something that happened, published after it was stored. Its maps hold plain values
// as they come back from the store — strings, float64, int64, bool, time.Time (UTC, millisecond
// precision), nil, []any and map[string]any — whether the event is delivered live or after a
// restart.
type Event struct {
	// ID is set by Publish: the event's zero-padded sequence number, so ids sort in publishing
	// order.
	ID string `json:"id" bson:"_id"`
	// Type says what happened: "record.created", "flow.finished", ….
	Type string `json:"type" bson:"type"`
	// App is the app the event belongs to.
	App string `json:"app,omitempty" bson:"app,omitempty"`
	// Kind names what Target is: a form id for record events, a definition kind for
	// definition events.
	Kind string `json:"kind,omitempty" bson:"kind,omitempty"`
	// Target is the id of the record, definition or flow instance concerned.
	Target string `json:"target,omitempty" bson:"target,omitempty"`
	// Actor is the user (or "system") who caused the event.
	Actor string `json:"actor,omitempty" bson:"actor,omitempty"`
	// At is when it happened; Publish sets it to now when it is zero.
	At time.Time `json:"at" bson:"at"`
	// Before and After are the target's data before and after the change, when they apply.
	Before map[string]any `json:"before,omitempty" bson:"before,omitempty"`
	After  map[string]any `json:"after,omitempty" bson:"after,omitempty"`
	// Data carries anything else the event type defines.
	Data map[string]any `json:"data,omitempty" bson:"data,omitempty"`
}

// EventHandler handles one event for a subscriber. Delivery is at least once — a handler may
// see an event again after a failure or a restart — so handlers must be idempotent (key their
// side effects by Event.ID). A returned error or a panic makes the bus retry the delivery later,
// up to BusOptions.MaxAttempts attempts; then it is a dead letter (see Failed and Retry).
type EventHandler func(ctx context.Context, e Event) error

// BusOptions tune a Bus; zero values take the defaults.
type BusOptions struct {
	// Workers is how many deliveries run at once (default 2).
	Workers int
	// MinBackoff is the wait before the first retry of a failed delivery (default 1 s); each
	// further failure doubles it, up to MaxBackoff (default 5 min).
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// MaxAttempts is how many times a delivery is attempted before it is parked as a dead
	// letter (default 10: with the default backoff, about 8.5 minutes of retrying). A dead
	// delivery holds nothing back — other deliveries and pruning go on — and stays listed by
	// Failed until Retry revives it.
	MaxAttempts int
	// HandlerTimeout bounds one handler call (default 1 min).
	HandlerTimeout time.Duration
	// Retention is how long delivered events are kept; Prune with a zero time uses it
	// (default 7 days).
	Retention time.Duration
}

// BusDefaultMaxAttempts is BusOptions.MaxAttempts when it is not set.
const BusDefaultMaxAttempts = 10

// DeliveryState is the state of a delivery that has failed.
type DeliveryState string

// The states of a failed delivery.
const (
	// DeliveryRetrying: the delivery failed and waits for its next attempt.
	DeliveryRetrying DeliveryState = "retrying"
	// DeliveryDead: the delivery failed MaxAttempts times and is parked until Retry.
	DeliveryDead DeliveryState = "dead"
)

// Delivery is a failing delivery of one event to one subscriber, as the UI shows it.
type Delivery struct {
	// Key is "<event id>/<subscriber>".
	Key         string        `json:"key"`
	Subscriber  string        `json:"subscriber"`
	Event       Event         `json:"event"`
	State       DeliveryState `json:"state"`
	Attempts    int           `json:"attempts"`
	Error       string        `json:"error"`
	FirstFailed time.Time     `json:"firstFailed"`
	LastFailed  time.Time     `json:"lastFailed"`
	// NextAttempt is when a retrying delivery runs again (zero when dead).
	NextAttempt time.Time `json:"nextAttempt,omitzero"`
}

// The bus's collections. Events are keyed by sequence number; delivery markers, failures and
// watermarks by "<event id>/<subscriber>" and subscriber name.
const (
	busEvents     = "_events"
	busDeliveries = "_deliveries"
	busFailures   = "_delivery_failures"
	busMarks      = "_bus_marks"
	busPruned     = "#pruned" // the prune cursor's key in busMarks
	busMarkEvery  = time.Second
	busBookkeep   = 30 * time.Second // bound on the bus's own store writes
)

var busSubscriberName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.:-]*$`)

// Bus is the event bus: an outbox of events in the store and asynchronous, retried delivery to
// subscribers.
//
// Publish stores the event first (a unique insert under its sequence number) and then hands it to
// a small pool of workers. A delivery is finished when its marker — a unique insert keyed
// "<event id>/<subscriber>" — is stored; nothing relies on an atomic update. Per subscriber, a
// watermark document records the sequence number up to which every delivery is finished, so Start
// after a restart walks the events from there, one _id lookup at a time, and delivers what has no
// marker. Deliveries are at least once and in no guaranteed order. A delivery that keeps failing
// is retried with a growing backoff, MaxAttempts times at most; then its marker says "dead", so
// it no longer holds back the watermark or pruning, and it waits in Failed until Retry.
//
// Recovery assumes that one process delivers a data set's events, as on the embedded store. With
// several nodes on one MongoDB each node delivers what it publishes, but a node's watermark can
// pass an event another node is still delivering.
type Bus struct {
	st   *store.Store
	log  *slog.Logger
	opts BusOptions

	// pubMu makes claiming a sequence number and registering it as in flight one step, so a
	// watermark never passes a number whose event is still being stored.
	pubMu sync.Mutex
	// seqLo..seqHi is the block of event numbers reserved and not yet used (under pubMu):
	// reserving busSeqBlock at a time saves a store write per event. Numbers a stopped process
	// leaves unused are gaps, which the walk on start skips like any missing number.
	seqLo, seqHi int64

	mu       sync.Mutex
	work     *sync.Cond // signalled when the queue grows or the bus stops
	subs     []*busSub
	byName   map[string]*busSub
	starting bool // Start is running: subscribers are frozen
	started  bool
	stopping bool
	queue    []*busItem
	queued   map[string]bool // keys queued, running or waiting for a retry
	inflight map[int64]bool  // sequence numbers claimed by Publish, event not yet handed out
	top      int64           // every event up to top has been handed to its subscribers
	active   int             // publishes in progress + deliveries queued or running
	idle     chan struct{}   // closed while active == 0
	timers   map[string]*time.Timer

	// audit is the log whose outbox entries carry events of their own (the audit stream, see
	// handOver); nil for a bus made without a kernel, which has its outbox only.
	audit *Audit

	runCtx    context.Context
	cancel    context.CancelFunc
	workers   sync.WaitGroup
	flushStop chan struct{}
	flushDone chan struct{}
	flushMu   sync.Mutex
}

// The streams of events a bus delivers: its own outbox (Publish), and the events carried by
// entries of the audit log (Kernel.Commit), numbered by their entries. Each subscriber has a
// watermark per stream.
const (
	busOutbox = iota
	busAudit
	busStreams
)

type busSub struct {
	name  string
	types []string
	h     EventHandler
	cur   [busStreams]busCursor
}

// busCursor is a subscriber's progress through one stream.
type busCursor struct {
	pending map[int64]int // sequence numbers of unfinished deliveries above the watermark
	mark    int64         // every delivery up to mark is finished
	saved   int64         // mark as last stored
	// failing counts the tracked deliveries that failed and wait for a retry: while there are
	// any, the watermark may stay behind for minutes, so finished deliveries above it get a
	// marker (otherwise a restart delivers them again).
	failing int
}

type busItem struct {
	stream  int
	seq     int64
	key     string
	sub     *busSub
	raw     bson.Raw // the event as stored
	tries   int      // failed attempts so far
	first   time.Time
	failing bool // a failure document exists
	tracked bool // counted in the cursor's pending
	counted bool // counted in the cursor's failing
}

// busMarker is the document that finishes a delivery.
type busMarker struct {
	Event      string    `bson:"event"`
	Subscriber string    `bson:"subscriber"`
	State      string    `bson:"state"` // "done" or "dead"
	Attempts   int       `bson:"attempts"`
	At         time.Time `bson:"at"`
}

// busFailure is the stored form of a Delivery.
type busFailure struct {
	Key         string    `bson:"_id"`
	Subscriber  string    `bson:"subscriber"`
	Event       bson.Raw  `bson:"event"`
	State       string    `bson:"state"`
	Attempts    int       `bson:"attempts"`
	Error       string    `bson:"error"`
	FirstFailed time.Time `bson:"firstFailed"`
	LastFailed  time.Time `bson:"lastFailed"`
	NextAttempt time.Time `bson:"nextAttempt,omitempty"`
}

type busMark struct {
	UpTo int64     `bson:"upTo"`
	At   time.Time `bson:"at"`
}

// NewBus makes a bus on st. Register subscribers with Subscribe, then call Start before the
// first Publish.
func NewBus(st *store.Store, log *slog.Logger, opts BusOptions) *Bus {
	if log == nil {
		log = slog.Default()
	}
	if opts.Workers <= 0 {
		opts.Workers = 2
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = time.Second
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Minute
	}
	opts.MaxBackoff = max(opts.MaxBackoff, opts.MinBackoff)
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = BusDefaultMaxAttempts
	}
	if opts.HandlerTimeout <= 0 {
		opts.HandlerTimeout = time.Minute
	}
	if opts.Retention <= 0 {
		opts.Retention = 7 * 24 * time.Hour
	}
	b := &Bus{
		st: st, log: log.With("component", "bus"), opts: opts,
		byName: map[string]*busSub{}, queued: map[string]bool{}, inflight: map[int64]bool{},
		timers: map[string]*time.Timer{}, idle: make(chan struct{}),
	}
	close(b.idle)
	b.work = sync.NewCond(&b.mu)
	b.runCtx, b.cancel = context.WithCancel(context.Background())
	return b
}

// Subscribe registers handler h under name for events whose type is one of types, either
// exactly or by a prefix that ends with a dot ("record."); no types means every event. The name
// keys the subscriber's delivery state in the store, so it must stay the same across releases.
// A subscriber registered for the first time receives events published from then on.
// Subscribing after Start, twice under one name, or with a malformed name panics: wiring
// mistakes show at start-up.
func (b *Bus) Subscribe(name string, types []string, h EventHandler) {
	if !busSubscriberName.MatchString(name) {
		panic(fmt.Sprintf("engine: bus subscriber name %q must match %s", name, busSubscriberName))
	}
	if h == nil {
		panic("engine: bus subscriber " + name + " has no handler")
	}
	for _, t := range types {
		if t == "" || t == "." {
			panic("engine: bus subscriber " + name + " has an empty event type")
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.started || b.starting {
		panic("engine: bus subscriber " + name + " registered after Start")
	}
	if b.byName[name] != nil {
		panic("engine: bus subscriber " + name + " registered twice")
	}
	s := &busSub{name: name, types: append([]string(nil), types...), h: h}
	for i := range s.cur {
		s.cur[i].pending = map[int64]int{}
	}
	b.subs = append(b.subs, s)
	b.byName[name] = s
}

func (s *busSub) matches(eventType string) bool {
	if len(s.types) == 0 {
		return true
	}
	for _, t := range s.types {
		if t == eventType || strings.HasSuffix(t, ".") && strings.HasPrefix(eventType, t) {
			return true
		}
	}
	return false
}

// Start recovers and starts delivery: every stored event that a subscriber has not finished —
// published before a crash or a shutdown — is delivered again, then the workers start.
func (b *Bus) Start(ctx context.Context) error {
	b.mu.Lock()
	if b.started || b.starting || b.stopping {
		b.mu.Unlock()
		return errors.New("start event bus: already started or closed")
	}
	b.starting = true
	b.mu.Unlock()
	err := b.start(ctx)
	b.mu.Lock()
	b.starting = false
	b.mu.Unlock()
	return err
}

func (b *Bus) start(ctx context.Context) error {
	// Claiming a number bounds the walk: every event stored before has a smaller one. On the
	// audit stream the log's tail does.
	var tops [busStreams]int64
	boundary, err := b.st.Next(ctx, busEvents, 1)
	if err != nil {
		return fmt.Errorf("start event bus: %w", err)
	}
	tops[busOutbox] = boundary - 1
	streams := []int{busOutbox}
	if b.audit != nil {
		if tops[busAudit], err = b.audit.tail(ctx); err != nil {
			return fmt.Errorf("start event bus: %w", err)
		}
		streams = append(streams, busAudit)
	}
	los := tops
	marks := make(map[*busSub]*[busStreams]int64, len(b.subs))
	for _, s := range b.subs {
		marks[s] = &[busStreams]int64{}
		for _, st := range streams {
			var m busMark
			err := b.st.Get(ctx, busMarks, busMarkKey(s.name, st), &m)
			switch {
			case errors.Is(err, store.ErrNotFound):
				// A new subscriber: store its watermark now, or a crash before the first flush
				// would let the next start skip its first events.
				m.UpTo = tops[st]
				if err := b.st.Set(ctx, busMarks, busMarkKey(s.name, st), busMark{UpTo: m.UpTo, At: time.Now().UTC()}); err != nil {
					return fmt.Errorf("start event bus: subscriber %s: %w", s.name, err)
				}
			case err != nil:
				return fmt.Errorf("start event bus: subscriber %s: %w", s.name, err)
			}
			marks[s][st] = min(m.UpTo, tops[st])
			los[st] = min(los[st], marks[s][st])
		}
	}

	// Events up to the prune cursor are gone: a subscriber with an older watermark (one that
	// was not registered for a while) need not walk their numbers.
	var pruned busMark
	if err := b.st.Get(ctx, busMarks, busPruned, &pruned); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("start event bus: %w", err)
	}
	los[busOutbox] = max(los[busOutbox], min(pruned.UpTo, tops[busOutbox]))

	failures := map[string]busFailure{}
	err = b.st.Find(ctx, busFailures, nil, nil, func(raw bson.Raw) error {
		var f busFailure
		if err := bson.Unmarshal(raw, &f); err != nil {
			return err
		}
		failures[f.Key] = f
		return nil
	})
	if err != nil {
		return fmt.Errorf("start event bus: read failures: %w", err)
	}

	type stored struct {
		stream int
		seq    int64
		raw    bson.Raw
		typ    string
	}
	var events []stored
	for seq := los[busOutbox] + 1; seq <= tops[busOutbox]; seq++ {
		var raw bson.Raw
		err := b.st.Get(ctx, busEvents, busEventID(seq), &raw)
		if errors.Is(err, store.ErrNotFound) {
			continue // a number claimed by a publish that failed, or by a start
		}
		if err != nil {
			return fmt.Errorf("start event bus: %w", err)
		}
		typ, _ := raw.Lookup("type").StringValueOK()
		events = append(events, stored{busOutbox, seq, raw, typ})
	}
	if b.audit != nil {
		// The events of the audit entries the watermarks have not passed, but not those of
		// entries voided later in the log: their writes were never stored.
		voided := map[int64]bool{}
		var carried []stored
		for seq := los[busAudit] + 1; seq <= tops[busAudit]; seq++ {
			e, x, ok, err := b.audit.readOutbox(ctx, seq)
			if err != nil {
				b.log.Error("audit entry unreadable: its event, if any, is not delivered", "seq", seq, "err", err)
				continue
			}
			if !ok || x == nil {
				continue
			}
			if x.void > 0 {
				voided[x.void] = true
			}
			if x.event == nil {
				continue
			}
			raw, err := bson.Marshal(outboxEvent(seq, e, x))
			if err != nil {
				return fmt.Errorf("start event bus: audit entry %d: %w", seq, err)
			}
			carried = append(carried, stored{busAudit, seq, raw, x.event.Type})
		}
		for _, c := range carried {
			if !voided[c.seq] {
				events = append(events, c)
			}
		}
	}

	var items []*busItem
	seen := map[string]bool{}
	for _, ev := range events {
		for _, s := range b.subs {
			if ev.seq <= marks[s][ev.stream] || !s.matches(ev.typ) {
				continue
			}
			it, err := b.recoverItem(ctx, ev.stream, ev.seq, s, ev.raw, failures)
			if err != nil {
				return fmt.Errorf("start event bus: %w", err)
			}
			if it != nil {
				it.tracked = true
				items = append(items, it)
				seen[it.key] = true
			}
		}
	}
	// Deliveries revived by Retry sit below their subscriber's watermark.
	for key, f := range failures {
		s := b.byName[f.Subscriber]
		stream, seq, ok := busSeqOf(key)
		if seen[key] || s == nil || !ok || DeliveryState(f.State) != DeliveryRetrying || stream == busAudit && b.audit == nil {
			continue
		}
		it, err := b.recoverItem(ctx, stream, seq, s, f.Event, failures)
		if err != nil {
			return fmt.Errorf("start event bus: %w", err)
		}
		if it != nil {
			items = append(items, it)
		}
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	if b.stopping {
		return errors.New("start event bus: closed while starting")
	}
	b.started, b.top = true, tops[busOutbox]
	for s, m := range marks {
		for st := range busStreams {
			s.cur[st].mark, s.cur[st].saved = m[st], m[st]
		}
	}
	for _, it := range items {
		b.enqueueLocked(it)
	}
	for range b.opts.Workers {
		b.workers.Add(1)
		go b.worker()
	}
	b.flushStop, b.flushDone = make(chan struct{}), make(chan struct{})
	go b.flusher()
	if len(items) > 0 {
		b.log.Info("redelivering unfinished events", "deliveries", len(items))
	}
	return nil
}

// recoverItem makes the delivery of event seq of a stream to s unless its marker says it is
// finished.
func (b *Bus) recoverItem(ctx context.Context, stream int, seq int64, s *busSub, raw bson.Raw, failures map[string]busFailure) (*busItem, error) {
	key := busEventIDOf(stream, seq) + "/" + s.name
	var m busMarker
	err := b.st.Get(ctx, busDeliveries, key, &m)
	if err == nil {
		return nil, nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	}
	it := &busItem{stream: stream, seq: seq, key: key, sub: s, raw: raw}
	if f, ok := failures[key]; ok {
		it.tries, it.first, it.failing = f.Attempts, f.FirstFailed, true
	}
	return it, nil
}

// Publish stores e in the outbox and queues its delivery to the matching subscribers; call it
// after the change the event describes is stored. It sets e.ID and, when zero, e.At. Once
// Publish returns nil the event is durable: it is delivered even if the process stops first.
func (b *Bus) Publish(ctx context.Context, e Event) error {
	if e.Type == "" {
		return errors.New("publish event: no type")
	}
	b.mu.Lock()
	if !b.started || b.stopping {
		b.mu.Unlock()
		return fmt.Errorf("publish %s event: bus not running", e.Type)
	}
	b.busyLocked(1)
	b.mu.Unlock()

	b.pubMu.Lock()
	seq, err := b.reserveLocked(ctx)
	if err == nil {
		b.mu.Lock()
		b.inflight[seq] = true
		b.mu.Unlock()
	}
	b.pubMu.Unlock()
	if err != nil {
		b.mu.Lock()
		b.busyLocked(-1)
		b.mu.Unlock()
		return fmt.Errorf("publish %s event: %w", e.Type, err)
	}

	e.ID = busEventID(seq)
	if e.At.IsZero() {
		e.At = time.Now()
	}
	e.At = e.At.UTC().Truncate(time.Millisecond)
	raw, err := bson.Marshal(e)
	var doc bson.D
	if err == nil {
		err = bson.Unmarshal(raw, &doc)
	}
	if err == nil {
		err = b.st.Put(ctx, busEvents, e.ID, doc)
	}

	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.inflight, seq)
	b.busyLocked(-1)
	if err != nil {
		return fmt.Errorf("publish %s event: %w", e.Type, err)
	}
	b.top = max(b.top, seq)
	if b.stopping {
		return nil // stored: the next Start delivers it
	}
	for _, s := range b.subs {
		if s.matches(e.Type) {
			b.enqueueLocked(&busItem{stream: busOutbox, seq: seq, key: e.ID + "/" + s.name, sub: s, raw: raw, tracked: true})
		}
	}
	return nil
}

// handOver queues the event that audit entry seq carries (Kernel.Commit) to its subscribers, once
// its write is stored. It reports false when the bus is not running: the entry must then stay
// open, so that no watermark passes it and the next Start delivers its event.
func (b *Bus) handOver(seq int64, e Event) bool {
	raw, err := bson.Marshal(e)
	if err != nil {
		b.log.Error("event not queued; the next start delivers it", "event", e.ID, "err", err)
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.started || b.stopping {
		return false
	}
	for _, s := range b.subs {
		if s.matches(e.Type) {
			b.enqueueLocked(&busItem{stream: busAudit, seq: seq, key: e.ID + "/" + s.name, sub: s, raw: raw, tracked: true})
		}
	}
	return true
}

// closed reports whether Close was called.
func (b *Bus) closed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.stopping
}

// busSeqBlock is how many event numbers Publish reserves at once.
const busSeqBlock = 64

// reserveLocked hands out the next event number from the reserved block, reserving a new block
// when it is used up; the caller holds pubMu.
func (b *Bus) reserveLocked(ctx context.Context) (int64, error) {
	if b.seqLo >= b.seqHi {
		first, err := b.st.Next(ctx, busEvents, busSeqBlock)
		if err != nil {
			return 0, err
		}
		b.seqLo, b.seqHi = first, first+busSeqBlock
	}
	seq := b.seqLo
	b.seqLo++
	return seq, nil
}

// busyLocked adds n to the count of unfinished work and keeps the idle channel in step.
func (b *Bus) busyLocked(n int) {
	was := b.active
	b.active += n
	switch {
	case was == 0 && b.active > 0:
		b.idle = make(chan struct{})
	case was > 0 && b.active == 0:
		close(b.idle)
	}
}

func (b *Bus) enqueueLocked(it *busItem) {
	if b.queued[it.key] {
		return
	}
	b.queued[it.key] = true
	if it.tracked {
		it.sub.cur[it.stream].pending[it.seq]++
	}
	b.countFailingLocked(it)
	b.queue = append(b.queue, it)
	b.busyLocked(1)
	b.work.Signal()
}

// countFailingLocked counts a tracked delivery that has failed in its cursor's failing.
func (b *Bus) countFailingLocked(it *busItem) {
	if it.tracked && it.failing && !it.counted {
		it.counted = true
		it.sub.cur[it.stream].failing++
	}
}

// finishLocked forgets a delivery that is done or dead.
func (b *Bus) finishLocked(it *busItem) {
	delete(b.queued, it.key)
	c := &it.sub.cur[it.stream]
	if it.tracked {
		c.pending[it.seq]--
		if c.pending[it.seq] <= 0 {
			delete(c.pending, it.seq)
		}
	}
	if it.counted {
		it.counted = false
		c.failing--
	}
	b.busyLocked(-1)
}

func (b *Bus) worker() {
	defer b.workers.Done()
	for {
		b.mu.Lock()
		for len(b.queue) == 0 && !b.stopping {
			b.work.Wait()
		}
		if b.stopping {
			b.mu.Unlock()
			return
		}
		it := b.queue[0]
		b.queue[0] = nil
		b.queue = b.queue[1:]
		b.mu.Unlock()
		b.deliver(it)
	}
}

func (b *Bus) deliver(it *busItem) {
	e, err := busDecodeEvent(it.raw)
	if err == nil {
		err = b.call(it.sub, e)
	}
	ctx, cancel := context.WithTimeout(context.Background(), busBookkeep)
	defer cancel()
	now := time.Now().UTC()
	eventID := busEventIDOf(it.stream, it.seq)

	if err == nil {
		m := busMarker{Event: eventID, Subscriber: it.sub.name, State: "done", Attempts: it.tries + 1, At: now}
		// The watermark finishes a tracked delivery (a restart delivers again at most what
		// finished in the last second, which handlers allow): a marker costs a write per
		// delivery, so it is stored only while the subscriber has a failing delivery, which may
		// hold its watermark back for minutes. A revived delivery is below the watermark and
		// gets one unless its event was pruned meanwhile (its failure document kept a copy): a
		// marker for that would never be pruned.
		b.mu.Lock()
		held := it.sub.cur[it.stream].failing > 0
		b.mu.Unlock()
		if it.tracked && held || !it.tracked && b.eventStored(ctx, it.stream, eventID) {
			if perr := b.st.Put(ctx, busDeliveries, it.key, m); perr != nil && !errors.Is(perr, store.ErrDuplicate) {
				// Delivered but not marked: a restart may deliver it again, which handlers allow.
				b.log.Error("delivery not marked done", "delivery", it.key, "err", perr)
			}
		}
		if it.failing {
			if derr := b.st.Delete(ctx, busFailures, it.key); derr != nil && !errors.Is(derr, store.ErrNotFound) {
				b.log.Warn("failure record not removed", "delivery", it.key, "err", derr)
			}
		}
		b.mu.Lock()
		b.finishLocked(it)
		b.mu.Unlock()
		return
	}

	it.tries++
	if it.first.IsZero() {
		it.first = now
	}
	it.failing = true
	b.mu.Lock()
	b.countFailingLocked(it)
	b.mu.Unlock()
	f := busFailure{
		Key: it.key, Subscriber: it.sub.name, Event: it.raw, State: string(DeliveryRetrying),
		Attempts: it.tries, Error: err.Error(), FirstFailed: it.first, LastFailed: now,
	}
	if it.tries >= b.opts.MaxAttempts {
		b.log.Error("event delivery failed for good", "delivery", it.key, "type", e.Type, "attempts", it.tries, "err", err)
		// The failure document first: if the process dies before the marker, the delivery is
		// tried once more on start rather than lost from view.
		f.State = string(DeliveryDead)
		if serr := b.st.Set(ctx, busFailures, it.key, f); serr != nil {
			b.log.Error("dead delivery not recorded", "delivery", it.key, "err", serr)
		}
		m := busMarker{Event: eventID, Subscriber: it.sub.name, State: string(DeliveryDead), Attempts: it.tries, At: now}
		if it.tracked || b.eventStored(ctx, it.stream, eventID) { // see the done marker above
			if perr := b.st.Put(ctx, busDeliveries, it.key, m); perr != nil && !errors.Is(perr, store.ErrDuplicate) {
				b.log.Error("dead delivery not marked", "delivery", it.key, "err", perr)
			}
		}
		b.mu.Lock()
		b.finishLocked(it)
		b.mu.Unlock()
		return
	}

	wait := b.backoff(it.tries)
	f.NextAttempt = now.Add(wait)
	b.log.Warn("event delivery failed; will retry", "delivery", it.key, "type", e.Type, "attempt", it.tries, "retry_in", wait, "err", err)
	if serr := b.st.Set(ctx, busFailures, it.key, f); serr != nil {
		b.log.Warn("failure not recorded", "delivery", it.key, "err", serr)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.busyLocked(-1) // waiting is not work: Drain does not wait for retries
	if b.stopping {
		return // still pending: the next Start retries it
	}
	b.timers[it.key] = time.AfterFunc(wait, func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.timers, it.key)
		if b.stopping {
			return
		}
		b.queue = append(b.queue, it)
		b.busyLocked(1)
		b.work.Signal()
	})
}

// eventStored reports whether event id is still stored (true when that cannot be read). The
// audit log's entries are never pruned.
func (b *Bus) eventStored(ctx context.Context, stream int, id string) bool {
	if stream == busAudit {
		return true
	}
	var e struct{}
	return !errors.Is(b.st.Get(ctx, busEvents, id, &e), store.ErrNotFound)
}

// call runs the handler, turning a panic into an error.
func (b *Bus) call(s *busSub, e Event) (err error) {
	ctx, cancel := context.WithTimeout(b.runCtx, b.opts.HandlerTimeout)
	defer cancel()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("handler panicked: %v", r)
			b.log.Error("event handler panicked", "subscriber", s.name, "event", e.ID, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	if err := s.h(ctx, e); err != nil {
		return fmt.Errorf("handle %s event %s: %w", e.Type, e.ID, err)
	}
	return nil
}

// backoff is the wait after the n-th failed attempt: MinBackoff doubled n-1 times, at most
// MaxBackoff.
func (b *Bus) backoff(n int) time.Duration {
	d := b.opts.MinBackoff
	for i := 1; i < n && d < b.opts.MaxBackoff; i++ {
		if d > math.MaxInt64/2 {
			return b.opts.MaxBackoff
		}
		d *= 2
	}
	return min(d, b.opts.MaxBackoff)
}

func (b *Bus) flusher() {
	defer close(b.flushDone)
	t := time.NewTicker(busMarkEvery)
	defer t.Stop()
	for {
		select {
		case <-b.flushStop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), busBookkeep)
			if err := b.flushMarks(ctx); err != nil {
				b.log.Warn("watermarks not stored", "err", err)
			}
			cancel()
		}
	}
}

// flushMarks moves each subscriber's watermark up to just below its oldest unfinished delivery
// (or event still being published) and stores the ones that moved.
func (b *Bus) flushMarks(ctx context.Context) error {
	b.flushMu.Lock()
	defer b.flushMu.Unlock()
	type write struct {
		s      *busSub
		stream int
		mark   int64
	}
	var writes []write
	var limits [busStreams]int64
	// The audit stream's limit before the bus's lock: an entry is handed over (below) before it
	// is closed, so a limit read first can only be too low.
	if b.audit != nil {
		limits[busAudit] = b.audit.openLimit()
	}
	b.mu.Lock()
	limits[busOutbox] = b.top
	for seq := range b.inflight {
		limits[busOutbox] = min(limits[busOutbox], seq-1)
	}
	for _, s := range b.subs {
		for st := range busStreams {
			if st == busAudit && b.audit == nil {
				continue
			}
			c := &s.cur[st]
			m := limits[st]
			for seq := range c.pending {
				m = min(m, seq-1)
			}
			c.mark = max(c.mark, m)
			if c.mark != c.saved {
				writes = append(writes, write{s, st, c.mark})
			}
		}
	}
	b.mu.Unlock()
	var errs []error
	for _, w := range writes {
		if err := b.st.Set(ctx, busMarks, busMarkKey(w.s.name, w.stream), busMark{UpTo: w.mark, At: time.Now().UTC()}); err != nil {
			errs = append(errs, err)
			continue
		}
		b.mu.Lock()
		w.s.cur[w.stream].saved = w.mark
		b.mu.Unlock()
	}
	return errors.Join(errs...)
}

// Drain waits until every delivery published or recovered so far has been attempted: each is
// done, dead, or has failed and waits for its retry (see Failed). Tests and the CLI call it
// before they look at the results or close the bus.
func (b *Bus) Drain(ctx context.Context) error {
	for {
		b.mu.Lock()
		idle, ch := b.active == 0, b.idle
		b.mu.Unlock()
		if idle {
			break
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("drain event bus: %w", ctx.Err())
		}
	}
	if err := b.flushMarks(ctx); err != nil {
		return fmt.Errorf("drain event bus: %w", err)
	}
	return nil
}

// Close stops delivery: no more publishes, no more retries; handler calls already running
// finish, until ctx ends (then their context is cancelled). Queued and failing deliveries stay
// in the outbox for the next Start; call Drain first to deliver what is queued.
func (b *Bus) Close(ctx context.Context) error {
	b.mu.Lock()
	if b.stopping {
		b.mu.Unlock()
		return nil
	}
	b.stopping = true
	for key, t := range b.timers {
		t.Stop()
		delete(b.timers, key)
	}
	b.work.Broadcast()
	started := b.started
	b.mu.Unlock()
	defer b.cancel()
	if !started {
		return nil
	}
	done := make(chan struct{})
	go func() {
		b.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		b.cancel()
		err = fmt.Errorf("close event bus: handlers still running: %w", ctx.Err())
	}
	close(b.flushStop)
	<-b.flushDone
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), busBookkeep)
	defer cancel()
	if ferr := b.flushMarks(fctx); ferr != nil {
		err = errors.Join(err, fmt.Errorf("close event bus: %w", ferr))
	}
	return err
}

// Failed lists the deliveries that are failing — waiting for a retry or parked as dead — ordered
// by event and subscriber.
func (b *Bus) Failed(ctx context.Context) ([]Delivery, error) {
	var out []Delivery
	err := b.st.Find(ctx, busFailures, nil, nil, func(raw bson.Raw) error {
		var f busFailure
		if err := bson.Unmarshal(raw, &f); err != nil {
			return err
		}
		e, err := busDecodeEvent(f.Event)
		if err != nil {
			return fmt.Errorf("delivery %s: %w", f.Key, err)
		}
		out = append(out, Delivery{
			Key: f.Key, Subscriber: f.Subscriber, Event: e, State: DeliveryState(f.State),
			Attempts: f.Attempts, Error: f.Error, FirstFailed: f.FirstFailed.UTC(), LastFailed: f.LastFailed.UTC(),
			NextAttempt: busUTC(f.NextAttempt),
		})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list failed deliveries: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Retry revives a dead delivery (a Delivery's Key): it is attempted again, with MaxAttempts
// attempts. On a running bus the attempt starts now; on a bus that is not started (the CLI,
// with the server stopped) the delivery is only marked for retry, and the next Start delivers
// it. A delivery that is not dead is a conflict; an unknown one is not found.
func (b *Bus) Retry(ctx context.Context, key string) error {
	var f busFailure
	if err := b.st.Get(ctx, busFailures, key, &f); err != nil {
		return fmt.Errorf("retry delivery %s: %w", key, err)
	}
	stream, seq, ok := busSeqOf(key)
	if DeliveryState(f.State) != DeliveryDead || !ok {
		return fmt.Errorf("retry delivery %s: %w", key, ErrDeliveryNotDead)
	}
	b.mu.Lock()
	s := b.byName[f.Subscriber]
	running := b.started && !b.stopping
	switch {
	case b.starting:
		b.mu.Unlock()
		return fmt.Errorf("retry delivery %s: the bus is starting", key)
	case running && s == nil:
		b.mu.Unlock()
		return fmt.Errorf("retry delivery %s: no subscriber %s: %w", key, f.Subscriber, ErrNotFound)
	case b.queued[key]:
		b.mu.Unlock()
		return fmt.Errorf("retry delivery %s: already queued: %w", key, ErrDeliveryNotDead)
	}
	b.queued[key] = true // reserved while the state below is written
	b.mu.Unlock()

	// Mark it retrying before removing the dead marker, so a crash in between leaves a
	// delivery that Start revives.
	f.State, f.Attempts, f.NextAttempt = string(DeliveryRetrying), 0, time.Now().UTC()
	err := b.st.Set(ctx, busFailures, key, f)
	if err == nil {
		if derr := b.st.Delete(ctx, busDeliveries, key); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			err = derr
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.queued, key)
	if err != nil {
		return fmt.Errorf("retry delivery %s: %w", key, err)
	}
	if running && !b.stopping {
		b.enqueueLocked(&busItem{stream: stream, seq: seq, key: key, sub: s, raw: f.Event, first: f.FirstFailed, failing: true})
	}
	return nil
}

// ErrDeliveryNotDead: Retry of a delivery that is still being retried, or is queued (409).
var ErrDeliveryNotDead = Coded(ErrConflict, "delivery_not_dead", nil)

func init() {
	RegisterMessages(map[string]Text{
		"error.delivery_not_dead": {ZH: "该投递仍在自动重试中，只有已放弃（dead）的投递才能手动重试；请稍后刷新", EN: "the delivery is still being retried: only a dead delivery can be retried by hand; reload later"},
	})
}

// Prune deletes the events published before `before` (zero means now minus
// BusOptions.Retention) that every subscriber they concern has finished — delivered, or parked
// as dead — with their delivery markers; it returns how many events it deleted. A delivery still
// being retried holds back its own event only: later events are pruned all the same. Failing
// deliveries keep a copy of their event, so Failed still shows a pruned one and Retry can
// deliver it. Only the subscribers registered now hold events back. Prune walks from the oldest
// event still held back (where the previous prune stopped), one _id at a time; schedule it,
// e.g. hourly.
func (b *Bus) Prune(ctx context.Context, before time.Time) (int, error) {
	if before.IsZero() {
		before = time.Now().Add(-b.opts.Retention)
	}
	b.mu.Lock()
	running := b.started && !b.stopping
	b.mu.Unlock()
	if !running {
		return 0, errors.New("prune events: bus not running")
	}
	if err := b.flushMarks(ctx); err != nil {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	type subMark struct {
		s    *busSub
		mark int64
	}
	b.mu.Lock()
	limit := b.top
	for seq := range b.inflight {
		limit = min(limit, seq-1)
	}
	subs := make([]subMark, len(b.subs))
	for i, s := range b.subs {
		subs[i] = subMark{s, s.cur[busOutbox].mark}
	}
	b.mu.Unlock()

	var cursor busMark
	if err := b.st.Get(ctx, busMarks, busPruned, &cursor); err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, fmt.Errorf("prune events: %w", err)
	}
	// finished reports whether every subscriber that event seq concerns is done with it: below
	// its watermark, or with a marker (done or dead).
	finished := func(seq int64, id, typ string) (bool, error) {
		for _, sm := range subs {
			if seq <= sm.mark || !sm.s.matches(typ) {
				continue
			}
			var m busMarker
			err := b.st.Get(ctx, busDeliveries, id+"/"+sm.s.name, &m)
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			if err != nil {
				return false, err
			}
		}
		return true, nil
	}
	// last is how far the cursor may move: up to the first event held back.
	n, last, held := 0, cursor.UpTo, false
	var err error
walk:
	for seq := cursor.UpTo + 1; seq <= limit; seq++ {
		id := busEventID(seq)
		var e struct {
			Type string    `bson:"type"`
			At   time.Time `bson:"at"`
		}
		switch gerr := b.st.Get(ctx, busEvents, id, &e); {
		case errors.Is(gerr, store.ErrNotFound):
			if !held {
				last = seq
			}
			continue
		case gerr != nil:
			err = gerr
			break walk
		}
		if !e.At.Before(before) {
			break
		}
		done, ferr := finished(seq, id, e.Type)
		if ferr != nil {
			err = ferr
			break
		}
		if !done {
			held = true
			continue
		}
		for _, sm := range subs {
			if derr := b.st.Delete(ctx, busDeliveries, id+"/"+sm.s.name); derr != nil && !errors.Is(derr, store.ErrNotFound) {
				err = derr
				break walk
			}
		}
		if derr := b.st.Delete(ctx, busEvents, id); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			err = derr
			break
		}
		n++
		if !held {
			last = seq
		}
	}
	if last > cursor.UpTo {
		if serr := b.st.Set(ctx, busMarks, busPruned, busMark{UpTo: last, At: time.Now().UTC()}); serr != nil {
			err = errors.Join(err, serr)
		}
	}
	if err != nil {
		return n, fmt.Errorf("prune events: %w", err)
	}
	return n, nil
}

// busEventID is the _id of event seq: zero-padded so that ids sort like numbers.
func busEventID(seq int64) string { return fmt.Sprintf("%016d", seq) }

// busAuditPrefix starts the ids of the events carried by audit entries: "a" and the entry's
// zero-padded seq.
const busAuditPrefix = "a"

// busEventIDOf is the id of event seq of a stream.
func busEventIDOf(stream int, seq int64) string {
	if stream == busAudit {
		return busAuditPrefix + busEventID(seq)
	}
	return busEventID(seq)
}

// busMarkKey is the _id of a subscriber's watermark on a stream.
func busMarkKey(sub string, stream int) string {
	if stream == busAudit {
		return sub + "@audit" // "@" cannot occur in a subscriber's name
	}
	return sub
}

// busSeqOf reads the stream and the sequence number out of a delivery key.
func busSeqOf(key string) (int, int64, bool) {
	id, _, ok := strings.Cut(key, "/")
	if !ok {
		return 0, 0, false
	}
	stream := busOutbox
	if rest, ok := strings.CutPrefix(id, busAuditPrefix); ok {
		stream, id = busAudit, rest
	}
	seq, err := strconv.ParseInt(id, 10, 64)
	return stream, seq, err == nil && seq > 0
}

func busUTC(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return t.UTC()
}

// busDecodeEvent turns a stored event into an Event with plain Go values in its maps.
func busDecodeEvent(raw bson.Raw) (Event, error) {
	var d struct {
		ID     string    `bson:"_id"`
		Type   string    `bson:"type"`
		App    string    `bson:"app"`
		Kind   string    `bson:"kind"`
		Target string    `bson:"target"`
		Actor  string    `bson:"actor"`
		At     time.Time `bson:"at"`
		Before bson.Raw  `bson:"before"`
		After  bson.Raw  `bson:"after"`
		Data   bson.Raw  `bson:"data"`
	}
	if err := bson.Unmarshal(raw, &d); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	e := Event{ID: d.ID, Type: d.Type, App: d.App, Kind: d.Kind, Target: d.Target, Actor: d.Actor, At: d.At.UTC()}
	var err error
	if e.Before, err = busPlainDoc(d.Before); err != nil {
		return Event{}, fmt.Errorf("decode event %s: before: %w", d.ID, err)
	}
	if e.After, err = busPlainDoc(d.After); err != nil {
		return Event{}, fmt.Errorf("decode event %s: after: %w", d.ID, err)
	}
	if e.Data, err = busPlainDoc(d.Data); err != nil {
		return Event{}, fmt.Errorf("decode event %s: data: %w", d.ID, err)
	}
	return e, nil
}

func busPlainDoc(raw bson.Raw) (map[string]any, error) {
	if raw == nil {
		return nil, nil
	}
	els, err := raw.Elements()
	if err != nil {
		return nil, err
	}
	m := make(map[string]any, len(els))
	for _, el := range els {
		v, err := busPlain(el.Value())
		if err != nil {
			return nil, err
		}
		m[el.Key()] = v
	}
	return m, nil
}

func busPlain(v bson.RawValue) (any, error) {
	switch v.Type {
	case bson.TypeDouble:
		return v.Double(), nil
	case bson.TypeString:
		return v.StringValue(), nil
	case bson.TypeBoolean:
		return v.Boolean(), nil
	case bson.TypeInt32:
		return int64(v.Int32()), nil
	case bson.TypeInt64:
		return v.Int64(), nil
	case bson.TypeDateTime:
		return v.Time().UTC(), nil
	case bson.TypeNull, bson.TypeUndefined:
		return nil, nil
	case bson.TypeEmbeddedDocument:
		return busPlainDoc(v.Document())
	case bson.TypeArray:
		vals, err := v.Array().Values()
		if err != nil {
			return nil, err
		}
		out := make([]any, len(vals))
		for i, e := range vals {
			if out[i], err = busPlain(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	case bson.TypeObjectID:
		return v.ObjectID().Hex(), nil
	case bson.TypeDecimal128:
		return v.Decimal128().String(), nil
	case bson.TypeBinary:
		_, data := v.Binary()
		return data, nil
	default:
		return v.String(), nil
	}
}
