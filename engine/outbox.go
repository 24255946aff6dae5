package engine

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"time"

	"tracecraft/engine/store"
)

// Write is a store write made with Kernel.Commit: revision Rev (1 for a create) of document ID
// in collection Coll, with its audit entry and the event it publishes.
type Write struct {
	Coll  string
	ID    string
	Rev   int64
	Entry AuditEntry
	// Event, when set, is published once the write is stored. Its Type, App and Data are
	// used; its kind, target, actor, time, before and after are the entry's, and its ID is "a"
	// and the entry's seq.
	Event *Event
}

// commitTimeout bounds a write once its audit entry is stored (the write no longer follows its
// request's cancellation).
const commitTimeout = 30 * time.Second

// Commit makes a store write that is never stored without its audit entry and its event.
//
// do must write revision w.Rev of w.Coll/w.ID and call journal right before it writes
// (store.CreateWith and store.UpdateWith take it as their hook). journal appends the audit
// entry, which names the write and carries the event — one insert for both, and the write's
// commit point. Once do has stored the write, the event is handed to the bus; the bus and the
// audit log read the same document. So a create costs two inserts: the entry and the document.
//
// If do fails after journal, the entry is voided by a second entry (its event is then never
// delivered), unless the write was stored after all (a timeout): the stored revision carries
// the entry's seq (store.WithStamp), so another writer's revision of the same number is not
// taken for it. When the void fails, or the store cannot say what is stored, the entry stays
// open and is retried after later commits and on the settler's tick (retryUnsettled). A
// process that stops between the entry and the write leaves an entry whose write is missing:
// the next Start voids it (reconcile). Commit returns the entry as stored.
func (k *Kernel) Commit(ctx context.Context, w Write, do func(ctx context.Context, journal func(context.Context) error) error) (AuditEntry, error) {
	x := &auditExtra{write: &AuditWrite{Coll: w.Coll, ID: w.ID, Rev: w.Rev}}
	if w.Event != nil {
		evData := w.Event.Data
		if n := ChainDepth(ctx); n > 0 {
			// An automatic action's write: its event says how deep the chain is (chain.go).
			evData = maps.Clone(evData)
			if evData == nil {
				evData = map[string]any{}
			}
			evData[EventChainDepth] = n
		}
		// The data as it will read back, so that a live delivery and one after a restart match.
		_, data, err := auditCanonicalText(evData)
		if err != nil {
			return AuditEntry{}, fmt.Errorf("commit %s: event data: %w", x.write, err)
		}
		m, _ := data.(map[string]any)
		x.event = &auditEvent{Type: w.Event.Type, App: w.Event.App, Data: m}
	}
	var entry AuditEntry
	appended := false
	journal := func(ctx context.Context) error {
		if appended {
			return errors.New("journal called twice")
		}
		e, _, err := k.Audit.append(ctx, w.Entry, x)
		if err != nil {
			return err
		}
		entry, appended = e, true
		return nil
	}
	// The write runs to its end once begun: a client that leaves (a cancelled request context)
	// must not break it off between its entry and its document, where the outcome would be
	// uncertain and another writer of the same document could be taken for it. A deadline still
	// bounds it.
	wctx, wcancel := context.WithTimeout(context.WithoutCancel(ctx), commitTimeout)
	defer wcancel()
	// The revision is stamped with its entry's seq, so that Settle can tell it from another
	// writer's revision of the same number.
	wctx = store.WithStamp(wctx, func() int64 { return entry.Seq })
	// Entries an earlier failure left open are retried once this write is done.
	defer k.retryUnsettled(ctx)
	err := do(wctx, journal)
	switch {
	case err == nil && appended:
		k.settle(entry, x)
		return entry, nil
	case err == nil:
		return AuditEntry{}, fmt.Errorf("commit %s: stored without its audit entry (journal not called)", x.write)
	case !appended:
		return AuditEntry{}, err
	}
	// The entry is stored, the write failed. A refusal (a duplicate id, a stale revision) is
	// sure not to have written; anything else (a timeout, a cancelled request) may have.
	bg, cancel := context.WithTimeout(context.WithoutCancel(ctx), busBookkeep)
	defer cancel()
	if !errors.Is(err, store.ErrDuplicate) && !errors.Is(err, store.ErrConflict) && !errors.Is(err, store.ErrNotFound) {
		stored, serr := k.Store.Settle(bg, w.Coll, w.ID, w.Rev, entry.Seq)
		if serr != nil {
			// Not known whether the write is stored: leave the entry open (nothing passes it) and
			// ask again later (retryUnsettled), rather than void a write that may have landed.
			k.Log.Error("outcome of a write unknown; its audit entry stays open until it is known", "seq", entry.Seq, "write", x.write.String(), "err", err, "settle_err", serr)
			k.Audit.unsettled.add(&unsettled{e: entry, x: x, reason: err.Error(), check: true})
			return AuditEntry{}, err
		}
		if stored {
			// The write is stored after all: it succeeded, and saying otherwise would make
			// the caller write it again.
			k.settle(entry, x)
			return entry, nil
		}
	}
	if verr := k.void(bg, entry.Seq, err.Error()); verr != nil {
		// The entry stays open (nothing passes it) until a retry voids it (retryUnsettled).
		k.Log.Error("audit entry of a failed write not voided; voided when the store lets", "seq", entry.Seq, "err", verr)
		k.Audit.unsettled.add(&unsettled{e: entry, x: x, reason: err.Error()})
		return AuditEntry{}, err
	}
	k.Audit.closeEntry(entry.Seq)
	return AuditEntry{}, err
}

// settle hands the event of a stored write to the bus and closes its entry. An entry whose
// event the bus could not take (it is not running) stays open, so the next Start delivers it.
func (k *Kernel) settle(e AuditEntry, x *auditExtra) {
	if x.event != nil && !k.Bus.handOver(e.Seq, outboxEvent(e.Seq, e, x)) {
		return
	}
	k.Audit.closeEntry(e.Seq)
}

// void appends the entry that voids entry seq, whose write was never stored.
func (k *Kernel) void(ctx context.Context, seq int64, reason string) error {
	if len(reason) > 300 {
		reason = reason[:300] + "…"
	}
	_, _, err := k.Audit.append(ctx, AuditEntry{Actor: SystemActor, Action: "audit.void", Kind: "audit", Target: auditID(seq),
		After: map[string]any{"seq": seq, "reason": reason}}, &auditExtra{void: seq})
	if err != nil {
		return fmt.Errorf("void audit entry %d: %w", seq, err)
	}
	return nil
}

// outboxEvent is the event that outbox entry seq carries.
func outboxEvent(seq int64, e AuditEntry, x *auditExtra) Event {
	ev := Event{ID: busEventIDOf(busAudit, seq), Type: x.event.Type, App: x.event.App, Kind: e.Kind, Target: e.Target,
		Actor: e.Actor, At: e.At.UTC(), Data: x.event.Data}
	ev.Before, _ = e.Before.(map[string]any)
	ev.After, _ = e.After.(map[string]any)
	return ev
}

// auditSettledID keys, in the audit log's meta collection, the seq up to which every entry
// written for a write is settled: its write stored, or voided.
const auditSettledID = "settled"

type auditSettled struct {
	Seq int64     `bson:"seq"`
	At  time.Time `bson:"at"`
}

// settleEvery is how often the settled point is stored while the kernel runs.
const settleEvery = 2 * time.Second

// settler keeps the settled point of the audit log stored.
type settler struct {
	mu    sync.Mutex
	saved int64
	stop  chan struct{}
	done  chan struct{}
}

// reconcile settles the entries written for writes since the settled point, before the bus
// starts: a write that is stored is rolled forward where needed (store.Settle); one that is not
// — the process stopped between its entry and its write — gets its entry voided, so that its
// event is never delivered and Verify does not count it. The first start of a data set whose
// log has no settled point sets it at the log's tail: entries written before name no writes.
// It assumes one writing node: another node's write under way looks unfinished here, and the
// settled point is shared (docs/operations.md, "Run one Tracecraft node per database").
func (k *Kernel) reconcile(ctx context.Context) error {
	var p auditSettled
	err := k.Store.Get(ctx, auditMetaCollection, auditSettledID, &p)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("reconcile audit log: %w", err)
	}
	top, terr := k.Audit.tail(ctx)
	if terr != nil {
		return fmt.Errorf("reconcile audit log: %w", terr)
	}
	if errors.Is(err, store.ErrNotFound) {
		return k.saveSettled(ctx, top)
	}
	type pending struct {
		seq int64
		w   AuditWrite
	}
	var writes []pending
	voided := map[int64]bool{}
	for seq := p.Seq + 1; seq <= top; seq++ {
		_, x, ok, err := k.Audit.readOutbox(ctx, seq)
		if err != nil {
			k.Log.Error("audit entry unreadable: not reconciled", "seq", seq, "err", err)
			continue
		}
		if !ok || x == nil {
			continue
		}
		if x.void > 0 {
			voided[x.void] = true
		}
		if x.write != nil {
			writes = append(writes, pending{seq, *x.write})
		}
	}
	n := 0
	for _, w := range writes {
		if voided[w.seq] {
			continue
		}
		stored, err := k.Store.Settle(ctx, w.w.Coll, w.w.ID, w.w.Rev, w.seq)
		if err != nil {
			return fmt.Errorf("reconcile audit entry %d: %w", w.seq, err)
		}
		if stored {
			continue
		}
		if err := k.void(ctx, w.seq, "not stored: the process stopped between the entry and its write ("+w.w.String()+")"); err != nil {
			return fmt.Errorf("reconcile audit log: %w", err)
		}
		n++
	}
	if n > 0 {
		k.Log.Warn("writes the process did not finish before it stopped: their audit entries are voided", "voided", n)
	}
	return k.saveSettled(ctx, top)
}

func (k *Kernel) saveSettled(ctx context.Context, seq int64) error {
	k.settled.mu.Lock()
	defer k.settled.mu.Unlock()
	if seq <= k.settled.saved {
		return nil
	}
	if err := k.Store.Set(ctx, auditMetaCollection, auditSettledID, auditSettled{Seq: seq, At: time.Now().UTC()}); err != nil {
		return fmt.Errorf("store the audit log's settled point: %w", err)
	}
	k.settled.saved = seq
	return nil
}

// startSettler stores the settled point every settleEvery while the kernel runs.
func (k *Kernel) startSettler() {
	k.settled.stop, k.settled.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(k.settled.done)
		t := time.NewTicker(settleEvery)
		defer t.Stop()
		for {
			select {
			case <-k.settled.stop:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), busBookkeep)
				k.retryUnsettled(ctx)
				if err := k.saveSettled(ctx, k.Audit.openLimit()); err != nil {
					k.Log.Warn("audit settled point not stored", "err", err)
				}
				cancel()
				if k.Bus.closed() {
					return // stopped with the bus (tests stop the bus, not the kernel)
				}
			}
		}
	}()
}

// stopSettler stops the settler and stores the settled point a last time.
func (k *Kernel) stopSettler(ctx context.Context) error {
	if k.settled.stop == nil {
		return nil
	}
	close(k.settled.stop)
	<-k.settled.done
	k.settled.stop = nil
	return k.saveSettled(ctx, k.Audit.openLimit())
}
