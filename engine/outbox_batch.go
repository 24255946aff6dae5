package engine

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Journal is the audit side of writes that one caller stores in batches and makes visible at a
// commit point of its own — an import. As Kernel.Commit does for one write, Append stores the
// entries of a batch of writes (one insert for the batch) before the caller stores the writes
// themselves (store.PutMany): each entry names its write and carries its event, so no write is
// ever stored without them. Unlike Commit's, the entries stay open until the caller settles
// them: no event is delivered and no watermark passes them before. At its commit point the
// caller calls Settle, which hands the events of the stored writes to the bus; or, having taken
// the writes back, Void, which voids the entries so that their events are never delivered.
//
// A process that stops in between leaves the entries open, and the next Start settles them as it
// settles Commit's: the events of the writes that are stored are delivered, the entries of the
// others voided. A caller whose writes must be all or nothing therefore takes back, in a
// recovery of its own (OnRecover, which runs before that settling), the writes it never
// committed. A Journal is safe for concurrent use.
type Journal struct {
	k       *Kernel
	mu      sync.Mutex
	entries []journaled // appended and neither settled nor voided
}

// journaled is an entry appended by a Journal, with its extras.
type journaled struct {
	e AuditEntry
	x *auditExtra
}

// NewJournal starts a Journal.
func (k *Kernel) NewJournal() *Journal { return &Journal{k: k} }

// Len is how many entries the journal holds open.
func (j *Journal) Len() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return len(j.entries)
}

// Append stores the audit entries of ws, in order, in one insert when nothing is in the way.
// The caller stores the writes after it returns. On an error, the entries stored before it are
// kept in the journal (their writes are not stored: Void them).
func (j *Journal) Append(ctx context.Context, ws []Write) error {
	es := make([]AuditEntry, len(ws))
	xs := make([]*auditExtra, len(ws))
	for i, w := range ws {
		x := &auditExtra{write: &AuditWrite{Coll: w.Coll, ID: w.ID, Rev: w.Rev}}
		if w.Event != nil {
			// The data as it will read back, as Commit does it.
			_, data, err := auditCanonicalText(w.Event.Data)
			if err != nil {
				return fmt.Errorf("journal %s: event data: %w", x.write, err)
			}
			m, _ := data.(map[string]any)
			x.event = &auditEvent{Type: w.Event.Type, App: w.Event.App, Data: m}
		}
		es[i], xs[i] = w.Entry, x
	}
	stored, err := j.k.Audit.appendMany(ctx, es, xs)
	j.mu.Lock()
	for i, e := range stored {
		j.entries = append(j.entries, journaled{e: e, x: xs[i]})
	}
	j.mu.Unlock()
	if err != nil {
		return fmt.Errorf("journal %d writes: %w", len(ws), err)
	}
	return nil
}

// Settle hands the events of the journal's writes, all stored, to the bus and closes their
// entries (an entry whose event the bus cannot take now stays open for the next Start). The
// journal is empty after it.
func (j *Journal) Settle() {
	j.mu.Lock()
	entries := j.entries
	j.entries = nil
	j.mu.Unlock()
	for _, it := range entries {
		j.k.settle(it.e, it.x)
	}
}

// voidChunk is how many void entries one insert appends.
const voidChunk = 1000

// Void appends, for each of the journal's entries, the entry that voids it — its write was
// taken back or never stored — and closes it: its event is never delivered, and Verify does not
// count it. The journal is empty after it. An entry not voided on an error stays open — nothing
// passes it — and goes on the audit's unsettled list, voided by the retries after the next
// commit and on the settler's tick (or, failing those, by the next Start), so that the settled
// point and the bus's watermarks move on once the store answers again.
func (j *Journal) Void(ctx context.Context, reason string) error {
	if len(reason) > 300 {
		reason = reason[:300] + "…"
	}
	j.mu.Lock()
	entries := j.entries
	j.entries = nil
	j.mu.Unlock()
	for len(entries) > 0 {
		chunk := entries[:min(len(entries), voidChunk)]
		es := make([]AuditEntry, len(chunk))
		xs := make([]*auditExtra, len(chunk))
		for i, it := range chunk {
			es[i] = AuditEntry{Actor: SystemActor, Action: "audit.void", Kind: "audit", Target: auditID(it.e.Seq),
				After: map[string]any{"seq": it.e.Seq, "reason": reason}}
			xs[i] = &auditExtra{void: it.e.Seq}
		}
		stored, err := j.k.Audit.appendMany(ctx, es, xs)
		for _, it := range chunk[:len(stored)] {
			j.k.Audit.closeEntry(it.e.Seq)
		}
		if err != nil {
			for _, it := range entries[len(stored):] {
				j.k.Audit.unsettled.add(&unsettled{e: it.e, x: it.x, reason: reason})
			}
			return fmt.Errorf("void %d audit entries: %w", len(entries)-len(stored), err)
		}
		entries = entries[len(chunk):]
	}
	return nil
}

// appendMany is append for several entries, which are stored in order, one after another, in
// one insert when nothing is in the way (group commit, as append). It returns the entries
// stored — all of them, or those before the first that failed, with its error.
func (a *Audit) appendMany(ctx context.Context, es []AuditEntry, xs []*auditExtra) ([]AuditEntry, error) {
	if len(es) == 0 {
		return nil, nil
	}
	reqs := make([]*auditReq, len(es))
	for i, e := range es {
		req := &auditReq{x: xs[i]}
		if xs[i] != nil {
			text, err := xs[i].text()
			if err != nil {
				return nil, fmt.Errorf("append audit entry %q: %w", e.Action, err)
			}
			req.xtext = text
		}
		for k, v := range []*any{&e.Before, &e.After} {
			text, plain, err := auditCanonicalText(*v)
			if err != nil {
				return nil, fmt.Errorf("append audit entry %q: %s: %w", e.Action, [2]string{"before", "after"}[k], err)
			}
			req.texts[k], *v = text, plain
		}
		req.e = e
		reqs[i] = req
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("append %d audit entries: %w", len(es), err)
	}
	// Queued together, the entries are taken into one batch together, in order.
	a.qmu.Lock()
	a.queue = append(a.queue, reqs...)
	a.qmu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !reqs[0].done {
		a.qmu.Lock()
		batch := a.queue
		a.queue = nil
		a.qmu.Unlock()
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditBatchTimeout+time.Duration(len(reqs))*time.Millisecond)
		a.commitLocked(bctx, batch)
		cancel()
	}
	out := make([]AuditEntry, 0, len(reqs))
	for _, r := range reqs {
		if r.err != nil {
			return out, fmt.Errorf("append audit entry %q: %w", r.e.Action, r.err)
		}
		out = append(out, r.e)
	}
	return out, nil
}
