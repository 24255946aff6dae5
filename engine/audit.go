package engine

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// The audit log's collections. Entries are keyed by their zero-padded sequence number, so the
// chain is walked one indexed _id lookup at a time (DESIGN.md: _id ranges and sorts scan).
const (
	auditCollection     = "_audit"
	auditMetaCollection = "_audit_meta"
	auditTailHintID     = "tail"
	auditSealID         = "sealed" // the keyed checkpoint over entries written before the key
)

// auditHintEvery is how many appends pass between writes of the tail hint; a process that starts
// walks at most about this many entries forward from the hint to find the tail.
const auditHintEvery = 64

// auditHashVersion names the canonical encoding of unkeyed entries (plain SHA-256, written
// before the log was keyed); it is the first element of what is hashed, so the encoding can
// change later without old entries verifying against the wrong rules. auditMACVersion names
// keyed entries (HMAC-SHA256 under the audit key), stored with v: 2.
const (
	auditHashVersion = "tracecraft-audit-1"
	auditMACVersion  = "tracecraft-audit-2"
	auditKeyedV      = 2
)

// AuditEntry is one entry of the hash-chained audit log. Append assigns Seq, At, Prev and Hash.
//
// Before and After are the state of the target before and after the action (nil when there is
// none). What is recorded is their JSON form (struct json tags apply, so a field tagged json:"-"
// such as Principal.SessionID never reaches the log); entries that Append returns and List reads
// carry them as plain values: map[string]any, []any, string, int64, float64, bool or nil.
type AuditEntry struct {
	Seq    int64     `json:"seq"`
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	Kind   string    `json:"kind,omitempty"`
	Target string    `json:"target,omitempty"`
	Before any       `json:"before,omitempty"`
	After  any       `json:"after,omitempty"`
	IP     string    `json:"ip,omitempty"`
	// Prev is the Hash of the entry before this one; "" for the first entry.
	Prev string `json:"prev"`
	// Hash is the hex HMAC-SHA256, under the audit key, of the entry's canonical encoding,
	// which includes Prev (a plain SHA-256 for entries written before the log was keyed).
	Hash string `json:"hash"`
}

// auditDoc is an entry as written. Before and After are kept as their canonical JSON text, the
// very bytes that were hashed, not as BSON documents: FerretDB refuses keys with "." or a
// leading "$" (JSON Schema's "$ref") and nested arrays, and any type or number normalisation by
// a backend would make an honest entry fail Verify.
type auditDoc struct {
	ID     string    `bson:"_id"`
	Seq    int64     `bson:"seq"`
	At     time.Time `bson:"at"`
	Actor  string    `bson:"actor"`
	Action string    `bson:"action"`
	Kind   string    `bson:"kind"`
	Target string    `bson:"target"`
	Before string    `bson:"before"`
	After  string    `bson:"after"`
	IP     string    `bson:"ip"`
	Prev   string    `bson:"prev"`
	Hash   string    `bson:"hash"`
	V      int       `bson:"v,omitempty"` // auditKeyedV for a keyed entry
}

// auditStored is an entry as read back. Before and After are raw so that an entry edited to
// hold something other than text is reported, not a read error.
type auditStored struct {
	Seq    int64         `bson:"seq"`
	At     time.Time     `bson:"at"`
	Kind   string        `bson:"kind"`
	Before bson.RawValue `bson:"before"`
	After  bson.RawValue `bson:"after"`
	IP     string        `bson:"ip"`
	Prev   string        `bson:"prev"`
	Hash   string        `bson:"hash"`
	V      int           `bson:"v"`
	// E and H are an entry stored in the outbox layout (audit_outbox.go): its canonical
	// encoding as it was hashed, and that hash.
	E string `bson:"e"`
	H string `bson:"h"`
	// Z is H and E deflated (audit_compress.go); reading an entry inflates it into H and E.
	// Raw, as are the actor, action and target fields, so that one edited to hold another
	// type is reported by Verify, not a read error.
	Z         bson.RawValue `bson:"z"`
	RawActor  bson.RawValue `bson:"actor"`
	RawAction bson.RawValue `bson:"action"`
	RawTarget bson.RawValue `bson:"target"`
	// Actor, Action and Target are those fields when they are text: in the field layout what is
	// hashed, in the outbox layout plain copies of what E says (verifyOutbox checks them).
	Actor  string `bson:"-"`
	Action string `bson:"-"`
	Target string `bson:"-"`
	// zipped tells that the entry was stored deflated (Z), and bad why Z could not be read.
	zipped bool
	bad    error
}

// auditHint says where the tail was. Nothing trusts it: Append reads the entry it names, and
// Verify believes its seq (to find a removed tail) only when its MAC checks out under the key.
type auditHint struct {
	Seq  int64  `bson:"seq"`
	Hash string `bson:"hash"`
	MAC  string `bson:"mac,omitempty"`
}

// auditSeal is the keyed checkpoint over the entries written before the log was keyed: it
// vouches for entries 1..UpTo, whose last hash is Hash, as they were when they were sealed.
type auditSeal struct {
	UpTo int64     `bson:"upTo"`
	Hash string    `bson:"hash"`
	At   time.Time `bson:"at"`
	MAC  string    `bson:"mac"`
}

// Audit is the append-only, hash-chained audit log: each entry's hash covers the previous
// entry's hash, so changing or removing an entry breaks the chain from there on, and Verify finds
// it. It is safe for concurrent use, and several nodes may append to one MongoDB: an entry's
// sequence number is claimed by inserting its _id, a unique insert that exactly one writer wins.
//
// With a key (WithAuditKey; the binary always gives one) each hash is an HMAC-SHA256 under a
// key kept outside the database, so whoever can write the database but has not the key cannot
// rewrite an entry and recompute the chain after it. Entries written before the log was keyed
// are verified by their plain hashes up to a keyed checkpoint (SealLegacy), and only there.
type Audit struct {
	st  *store.Store
	now func() time.Time
	key []byte // nil: unkeyed (plain SHA-256), for tests and tools without a key

	qmu      sync.Mutex  // guards queue
	queue    []*auditReq // entries waiting for the next batch (append)
	mu       sync.Mutex  // serialises appends in this process
	known    bool        // last and lastHash have been loaded
	last     int64       // seq of the newest entry this process knows of
	lastHash string
	// open holds the entries appended for a write (Kernel.Commit) whose write and event are not
	// settled yet; under mu. The bus and the reconciler stay below the oldest (openLimit).
	open map[int64]struct{}
	// covers are the collections whose every document revision must have an entry (Cover).
	covers []auditCover
	// unsettled are the entries a failure left open, retried until settled (audit_unsettled.go).
	unsettled unsettledList
	hooks     auditHooks // fault injection for tests
}

// AuditOption configures NewAudit.
type AuditOption func(*Audit)

// WithAuditKey keys the log: entries are chained with HMAC-SHA256 under key. Every node of a
// data set must use the same key, and losing it leaves the log unverifiable: keep a copy apart
// from the database's backups.
func WithAuditKey(key []byte) AuditOption {
	return func(a *Audit) {
		if len(key) > 0 {
			a.key = append([]byte(nil), key...)
		}
	}
}

// NewAudit returns the audit log kept in st.
func NewAudit(st *store.Store, opts ...AuditOption) *Audit {
	a := &Audit{st: st, now: time.Now}
	for _, o := range opts {
		o(a)
	}
	return a
}

// Keyed reports whether the log is keyed.
func (a *Audit) Keyed() bool { return a.key != nil }

// entryHash is the hash Append writes for e: keyed when the log has a key.
func (a *Audit) entryHash(e AuditEntry, before, after string) (string, int) {
	if a.key != nil {
		return auditMAC(a.key, e, before, after), auditKeyedV
	}
	return auditHash(e, before, after), 0
}

// mac is the hex HMAC-SHA256 under the key of a version tag and parts.
func (a *Audit) mac(parts ...string) string {
	m := hmac.New(sha256.New, a.key)
	for _, p := range parts {
		auditWriteLen(m, p)
	}
	return hex.EncodeToString(m.Sum(nil))
}

func (a *Audit) hintMAC(h auditHint) string {
	return a.mac("tracecraft-audit-hint-1", strconv.FormatInt(h.Seq, 10), h.Hash)
}

func (a *Audit) sealMAC(c auditSeal) string {
	return a.mac("tracecraft-audit-seal-1", strconv.FormatInt(c.UpTo, 10), c.Hash, c.At.UTC().Format(time.RFC3339Nano))
}

// auditWriteLen writes s with its length first, so parts cannot run into each other.
func auditWriteLen(w io.Writer, s string) {
	fmt.Fprintf(w, "%d:%s", len(s), s)
}

func auditID(seq int64) string { return fmt.Sprintf("%016d", seq) }

// Append adds e to the log and returns it as stored, with Seq, At, Prev and Hash set (any values
// the caller put there are ignored).
func (a *Audit) Append(ctx context.Context, e AuditEntry) (AuditEntry, error) {
	e, _, err := a.append(ctx, e, nil)
	return e, err
}

// append is Append. An entry with extras x (the write it stands for, its event, the entry it
// voids) is stored in the outbox layout, and returned with its encoding; one that names a write
// or carries an event stays open until closeEntry.
func (a *Audit) append(ctx context.Context, e AuditEntry, x *auditExtra) (AuditEntry, string, error) {
	var xtext string
	if x != nil {
		var err error
		if xtext, err = x.text(); err != nil {
			return AuditEntry{}, "", fmt.Errorf("append audit entry %q: %w", e.Action, err)
		}
	}
	var texts [2]string
	for i, v := range []*any{&e.Before, &e.After} {
		text, plain, err := auditCanonicalText(*v)
		if err != nil {
			return AuditEntry{}, "", fmt.Errorf("append audit entry %q: %s: %w", e.Action, [2]string{"before", "after"}[i], err)
		}
		texts[i], *v = text, plain
	}
	if n := auditEntrySize(e, texts, xtext); n > auditEntryMax {
		return AuditEntry{}, "", fmt.Errorf("append audit entry %q: about %d bytes, more than an entry may hold (%d MiB)", e.Action, n, auditEntryMax>>20)
	}

	// Group commit: the entry joins the queue, and whoever holds a.mu next stores every entry
	// queued by then in one insert. So concurrent writers share one store call, and an entry is
	// stored, or has failed, when a.mu is free again.
	if err := ctx.Err(); err != nil {
		return AuditEntry{}, "", fmt.Errorf("append audit entry %q: %w", e.Action, err)
	}
	req := &auditReq{e: e, texts: texts, x: x, xtext: xtext}
	a.qmu.Lock()
	a.queue = append(a.queue, req)
	a.qmu.Unlock()
	a.mu.Lock()
	defer a.mu.Unlock()
	if !req.done {
		a.qmu.Lock()
		batch := a.queue
		a.queue = nil
		a.qmu.Unlock()
		// The batch holds other writers' entries: one caller going away must not fail them.
		bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), auditBatchTimeout)
		a.commitLocked(bctx, batch)
		cancel()
	}
	if req.err != nil {
		return AuditEntry{}, "", fmt.Errorf("append audit entry %q: %w", e.Action, req.err)
	}
	return req.e, req.enc, nil
}

// auditEntrySize bounds from above the length of e's stored encoding with its hash (checked
// against auditEntryMax), without encoding it: the fixed parts (version tag, seq, time, prev,
// hash, punctuation) take less than 512 bytes, and a JSON string at most 6 bytes a byte.
func auditEntrySize(e AuditEntry, texts [2]string, xtext string) int {
	n := 512 + len(texts[0]) + len(texts[1]) + len(xtext)
	for _, s := range []string{e.Actor, e.Action, e.Kind, e.Target, e.IP} {
		n += 6 * len(s)
	}
	return n
}

// auditBatchTimeout bounds the store call that appends a batch of entries.
const auditBatchTimeout = 30 * time.Second

// auditReq is an entry waiting to be appended, and then the result; under a.mu once queued.
type auditReq struct {
	e     AuditEntry
	texts [2]string // before and after as canonical JSON
	x     *auditExtra
	xtext string
	done  bool
	enc   string // the outbox encoding, for an entry with extras
	err   error
}

// commitLocked appends the entries of batch, in order, with one insert when nothing is in the
// way: each gets the next seq and links to the one before. When another node (or an earlier
// process) took a seq meanwhile, the entries before it are stored, and the rest chain on after
// it. The caller holds a.mu.
func (a *Audit) commitLocked(ctx context.Context, batch []*auditReq) {
	fail := func(reqs []*auditReq, err error) {
		for _, r := range reqs {
			r.done, r.err = true, err
		}
	}
	if err := a.loadTail(ctx); err != nil {
		fail(batch, err)
		return
	}
	for pending := batch; len(pending) > 0; {
		// BSON keeps milliseconds; the hash must cover the time as it will be read back.
		at := a.now().UTC().Truncate(time.Millisecond)
		last, lastHash := a.last, a.lastHash
		docs := make([]any, len(pending))
		for i, r := range pending {
			r.e.Seq, r.e.Prev, r.e.At = last+1, lastHash, at
			if r.x == nil {
				var v int
				r.e.Hash, v = a.entryHash(r.e, r.texts[0], r.texts[1])
				docs[i] = auditDoc{
					ID: auditID(r.e.Seq), Seq: r.e.Seq, At: r.e.At, Actor: r.e.Actor, Action: r.e.Action, Kind: r.e.Kind,
					Target: r.e.Target, Before: r.texts[0], After: r.texts[1], IP: r.e.IP, Prev: r.e.Prev, Hash: r.e.Hash, V: v,
				}
			} else {
				r.enc, r.e.Hash = a.encodeOutbox(r.e, r.texts[0], r.texts[1], r.xtext)
				docs[i] = auditOutboxDoc{ID: auditID(r.e.Seq), E: r.enc, H: r.e.Hash, Actor: r.e.Actor, Action: r.e.Action, Target: r.e.Target}
				if r.x.opens() {
					a.openLocked(r.e.Seq)
				}
			}
			last, lastHash = r.e.Seq, r.e.Hash
		}
		n, err := a.putMany(ctx, docs)
		if err != nil && !errors.Is(err, store.ErrDuplicate) {
			// The call failed, perhaps after storing some entries or all (a timeout after the
			// commit): what is stored must not be failed, nor left with no one to settle it.
			n += a.readBack(ctx, pending[n:], err)
		}
		if n > 0 {
			before := a.last
			a.last, a.lastHash = pending[n-1].e.Seq, pending[n-1].e.Hash
			for _, r := range pending[:n] {
				r.done = true
			}
			if a.last/auditHintEvery != before/auditHintEvery {
				a.writeHint(ctx)
			}
		}
		rest := pending[n:]
		for _, r := range rest {
			delete(a.open, r.e.Seq) // an entry in doubt is held back as unsettled instead
		}
		switch {
		case err == nil || len(rest) == 0:
			return
		case !errors.Is(err, store.ErrDuplicate):
			fail(rest, err)
			return
		}
		// Another node (or a process before a restart) wrote the next seq: chain on after it.
		if _, err := a.walkForward(ctx); err != nil {
			fail(rest, err)
			return
		}
		pending = rest
	}
}

// loadTail finds the newest entry on first use: from the entry the hint names (or the start,
// when there is none), walk forward by _id until an entry is missing. The hint's own hash is
// not used, so a changed hint cannot make an entry link to a made-up predecessor. Later calls
// trust the cached tail; a stale one shows up as a duplicate _id in Append, which then moves
// on. The caller holds a.mu.
func (a *Audit) loadTail(ctx context.Context) error {
	if a.known {
		return nil
	}
	var h auditHint
	err := a.st.Get(ctx, auditMetaCollection, auditTailHintID, &h)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("read audit tail hint: %w", err)
	}
	a.last, a.lastHash = 0, ""
	if h.Seq > 0 {
		var at auditStored
		switch err := a.st.Get(ctx, auditCollection, auditID(h.Seq), &at); {
		case err == nil:
			a.last, a.lastHash = h.Seq, at.hash()
		case !errors.Is(err, store.ErrNotFound):
			return fmt.Errorf("find audit tail: %w", err)
		}
	}
	walked, err := a.walkForward(ctx)
	if err != nil {
		return err
	}
	a.known = true
	if walked >= auditHintEvery {
		a.writeHint(ctx)
	}
	return nil
}

// walkForward advances the cached tail over entries written since; the caller holds a.mu.
func (a *Audit) walkForward(ctx context.Context) (int, error) {
	walked := 0
	for {
		var next auditStored
		err := a.st.Get(ctx, auditCollection, auditID(a.last+1), &next)
		if errors.Is(err, store.ErrNotFound) {
			return walked, nil
		}
		if err != nil {
			return walked, fmt.Errorf("find audit tail: %w", err)
		}
		a.last, a.lastHash = a.last+1, next.hash()
		walked++
	}
}

// writeHint records the cached tail. Racing nodes may move the hint backwards; it is only where
// the next start begins its walk, so that is harmless, and a failed write only makes that walk
// longer, so it is not an error of the append that triggered it.
func (a *Audit) writeHint(ctx context.Context) {
	h := auditHint{Seq: a.last, Hash: a.lastHash}
	if a.key != nil {
		h.MAC = a.hintMAC(h)
	}
	_ = a.st.Set(ctx, auditMetaCollection, auditTailHintID, h)
}

// tail returns the seq of the newest entry, looking for entries other nodes appended.
func (a *Audit) tail(ctx context.Context) (int64, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if err := a.loadTail(ctx); err != nil {
		return 0, err
	}
	if _, err := a.walkForward(ctx); err != nil {
		return 0, err
	}
	return a.last, nil
}

// AuditReport is the result of Verify. OK is true when every entry's hash and link to its
// predecessor check out and none is missing; otherwise FirstBad is the seq of the first entry
// that was changed or is missing, and Reason says which. Keyed says the log was verified with
// its key; Legacy counts the entries written before it was keyed, which are vouched for by the
// keyed checkpoint over them and checked by their plain hashes. LastHash is the hash of the
// last entry read: kept somewhere else (a ticket, a printed report), it shows later whether the
// newest entries were removed, which nothing inside the database can prove.
type AuditReport struct {
	Entries  int64  `json:"entries"`
	OK       bool   `json:"ok"`
	Keyed    bool   `json:"keyed"`
	Legacy   int64  `json:"legacy,omitempty"`
	LastHash string `json:"lastHash,omitempty"`
	FirstBad int64  `json:"firstBad,omitempty"`
	Reason   string `json:"reason,omitempty"`
	// Unaudited counts the stored revisions of covered collections (Cover) that no entry
	// stands for: written behind the log's back, or its entry removed. Any makes OK false.
	Unaudited int64 `json:"unaudited,omitempty"`
}

// Verify walks the whole log from seq 1, recomputes each entry's hash — under the key, for a
// keyed log — and checks its link to the entry before. An entry without a keyed hash passes
// only below the keyed checkpoint that SealLegacy wrote, and the checkpoint's last hash must
// match; anything else that is unkeyed is reported, as an attacker who rewrote history without
// the key would leave it. A missing entry (a gap) is found by comparing the length of the chain
// with the number of documents in the collection, and a removed tail by the tail hint when its
// MAC checks out (an unkeyed log trusts the hint as it is). Entries counts the entries read;
// the walk stops at the first missing one. Last, every stored revision of the collections the
// log covers (Cover) must have an entry that stands for its write (Unaudited).
func (a *Audit) Verify(ctx context.Context) (AuditReport, error) {
	// Count and hint are read before the walk, so entries appended meanwhile cannot look like a gap.
	total, err := a.st.Count(ctx, auditCollection, nil)
	if err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	var hint auditHint
	if err := a.st.Get(ctx, auditMetaCollection, auditTailHintID, &hint); err != nil && !errors.Is(err, store.ErrNotFound) {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	seal, sealed, err := a.readSeal(ctx)
	if err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	rep := AuditReport{OK: true, Keyed: a.key != nil}
	bad := func(seq int64, format string, args ...any) {
		if rep.OK {
			rep.OK, rep.FirstBad, rep.Reason = false, seq, fmt.Sprintf(format, args...)
		}
	}
	trustHint := hint.Seq > 0 && (a.key == nil || hmac.Equal([]byte(hint.MAC), []byte(a.hintMAC(hint))))
	if sealed && a.key != nil && !hmac.Equal([]byte(seal.MAC), []byte(a.sealMAC(seal))) {
		bad(max(seal.UpTo, 1), "the checkpoint over the entries written before the log was keyed was changed")
		sealed = false
	}
	prev := ""
	seq := int64(1)
	cov := a.newCoverage()
	// walk checks the entries from seq on, up to the first missing one.
	walk := func() error {
		for ; ; seq++ {
			if err := ctx.Err(); err != nil {
				return err
			}
			var raw bson.Raw
			err := a.st.Get(ctx, auditCollection, auditID(seq), &raw)
			if errors.Is(err, store.ErrNotFound) {
				return nil
			}
			if err != nil {
				return err
			}
			rep.Entries++
			var s auditStored
			if err := bson.Unmarshal(raw, &s); err != nil {
				// A field edited to hold another type: the entry was changed.
				bad(seq, "entry %d was changed: %v", seq, err)
				prev = ""
				continue
			}
			legacyOK := a.key == nil || sealed && seq <= seal.UpTo
			if s.outbox() {
				a.verifyOutbox(seq, prev, s, legacyOK, &rep, bad, cov)
			} else {
				e, before, after, derr := s.decode()
				e.Seq = seq // the hash covers the seq of the _id it is stored under
				switch {
				case derr != nil:
					bad(seq, "entry %d was changed: %v", seq, derr)
				case e.Prev != prev:
					bad(seq, "entry %d does not link to entry %d", seq, seq-1)
				case s.V == auditKeyedV && a.key == nil:
					bad(seq, "entry %d is keyed: verify the log with its audit key", seq)
				case s.V == auditKeyedV:
					if !hmac.Equal([]byte(auditMAC(a.key, e, before, after)), []byte(e.Hash)) {
						bad(seq, "entry %d was changed: its hash does not match its content under the audit key", seq)
					}
				case s.V != 0:
					bad(seq, "entry %d was changed: unknown hash version %d", seq, s.V)
				case !legacyOK:
					bad(seq, "entry %d has no keyed hash and no keyed checkpoint covers it: it was written without the audit key, or rewritten", seq)
				default:
					if auditHash(e, before, after) != e.Hash {
						bad(seq, "entry %d was changed: its hash does not match its content", seq)
					}
					if a.key != nil {
						rep.Legacy++
					}
				}
				if derr == nil {
					cov.addLegacy(e)
				}
			}
			if sealed && seq == seal.UpTo && s.hash() != seal.Hash {
				bad(seq, "entry %d differs from the keyed checkpoint over the entries before the key", seq)
			}
			if trustHint && seq == hint.Seq && s.hash() != hint.Hash {
				bad(seq, "entry %d differs from the tail hint", seq)
			}
			prev = s.hash() // link the next entry to what is stored, so one change is reported once
		}
	}
	if err := walk(); err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	rep.LastHash = prev
	if rep.Entries < total {
		bad(seq, "entry %d is missing: the log holds %d entries but the chain ends at %d", seq, total, seq-1)
	}
	if trustHint && hint.Seq >= seq {
		bad(seq, "entry %d is missing: the log reached entry %d", seq, hint.Seq)
	}
	if sealed && seal.UpTo >= seq {
		bad(seq, "entry %d is missing: the keyed checkpoint covers entries up to %d", seq, seal.UpTo)
	}
	if a.hooks.afterWalk != nil {
		a.hooks.afterWalk()
	}
	// A write stored while the log was walked has its entry past where the walk ended (an entry
	// is stored before its write): when some revisions have no entry, walk on to the entries
	// appended since and look at those revisions again, so that a live Verify does not call a
	// write made during it unaudited.
	unaudited, first, err := a.uncovered(ctx, cov)
	if err == nil && unaudited > 0 {
		if err = walk(); err == nil {
			rep.LastHash = prev
			unaudited, first, err = a.uncovered(ctx, cov)
		}
	}
	if err != nil {
		return AuditReport{}, fmt.Errorf("verify audit log: %w", err)
	}
	if unaudited > 0 {
		rep.OK, rep.Unaudited = false, unaudited
		if rep.Reason == "" {
			rep.Reason = fmt.Sprintf("%d stored revisions have no audit entry, the first %s: written behind the log's back, or its entry removed", unaudited, first)
		}
	}
	return rep, nil
}

// readSeal reads the keyed checkpoint over the entries written before the key, if any.
func (a *Audit) readSeal(ctx context.Context) (auditSeal, bool, error) {
	var c auditSeal
	err := a.st.Get(ctx, auditMetaCollection, auditSealID, &c)
	if errors.Is(err, store.ErrNotFound) {
		return auditSeal{}, false, nil
	}
	if err != nil {
		return auditSeal{}, false, err
	}
	c.At = c.At.UTC()
	return c, true, nil
}

// SealLegacy puts the entries written before the log was keyed under a keyed checkpoint, so
// that Verify accepts them by their plain hashes and notices any later change to them. It
// checks them first — each hash and link, from entry 1 to the last unkeyed one before the
// first keyed entry — and refuses to seal a broken chain. It returns how many entries it sealed:
// 0 when there are none or they are sealed already. Seal only entries that you trust, at the
// time the key is introduced: an attacker who rewrote unkeyed history is vouched for too. The
// binary seals when it creates the key file; `tracecraft audit seal` does it by hand.
func (a *Audit) SealLegacy(ctx context.Context) (int64, error) {
	if a.key == nil {
		return 0, errors.New("seal audit log: no audit key")
	}
	if _, sealed, err := a.readSeal(ctx); err != nil {
		return 0, fmt.Errorf("seal audit log: %w", err)
	} else if sealed {
		return 0, nil
	}
	var upTo int64
	prev := ""
	for seq := int64(1); ; seq++ {
		var s auditStored
		err := a.st.Get(ctx, auditCollection, auditID(seq), &s)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return 0, fmt.Errorf("seal audit log: %w", err)
		}
		if s.V == auditKeyedV || s.outbox() && outboxTag(s.E) != auditOutboxPlain {
			break
		}
		if s.outbox() {
			e, _, _, _, derr := s.decodeOutbox()
			switch {
			case derr != nil:
				return 0, fmt.Errorf("seal audit log: entry %d was changed: %v", seq, derr)
			case e.Seq != seq:
				return 0, fmt.Errorf("seal audit log: entry %d was changed: it says it is entry %d", seq, e.Seq)
			case e.Prev != prev:
				return 0, fmt.Errorf("seal audit log: entry %d does not link to entry %d", seq, seq-1)
			case outboxPlainHash(s.E) != s.H:
				return 0, fmt.Errorf("seal audit log: entry %d was changed: its hash does not match its content", seq)
			}
			upTo, prev = seq, s.H
			continue
		}
		e, before, after, derr := s.decode()
		e.Seq = seq
		switch {
		case derr != nil:
			return 0, fmt.Errorf("seal audit log: entry %d was changed: %v", seq, derr)
		case s.V != 0:
			return 0, fmt.Errorf("seal audit log: entry %d has unknown hash version %d", seq, s.V)
		case e.Prev != prev:
			return 0, fmt.Errorf("seal audit log: entry %d does not link to entry %d", seq, seq-1)
		case auditHash(e, before, after) != e.Hash:
			return 0, fmt.Errorf("seal audit log: entry %d was changed: its hash does not match its content", seq)
		}
		upTo, prev = seq, s.Hash
	}
	if upTo == 0 {
		return 0, nil
	}
	c := auditSeal{UpTo: upTo, Hash: prev, At: a.now().UTC().Truncate(time.Millisecond)}
	c.MAC = a.sealMAC(c)
	if err := a.st.Put(ctx, auditMetaCollection, auditSealID, c); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return 0, nil // sealed meanwhile
		}
		return 0, fmt.Errorf("seal audit log: %w", err)
	}
	_, err := a.Append(ctx, AuditEntry{Actor: SystemActor, Action: "audit.seal", Kind: "audit",
		After: map[string]any{"upTo": upTo, "hash": prev}})
	if err != nil {
		return upTo, fmt.Errorf("seal audit log: %w", err)
	}
	return upTo, nil
}

// outbox tells whether the entry is stored in the outbox layout (audit_outbox.go).
func (s auditStored) outbox() bool { return s.E != "" || s.zipped }

// hash is the stored hash of the entry, in either layout.
func (s auditStored) hash() string {
	if s.outbox() {
		return s.H
	}
	return s.Hash
}

// size is about the length of the entry's encoding: what reading it holds in memory.
func (s auditStored) size() int {
	if s.outbox() {
		return len(s.H) + len(s.E)
	}
	return len(s.Before.Value) + len(s.After.Value) + len(s.Actor) + len(s.Action) + len(s.Kind) + len(s.Target) +
		len(s.IP) + len(s.Prev) + len(s.Hash) + 64
}

// decodeOutbox reads an entry stored in the outbox layout (see decodeOutbox).
func (s auditStored) decodeOutbox() (e AuditEntry, before, after string, x *auditExtra, err error) {
	if s.bad != nil {
		return e, "", "", nil, s.bad
	}
	return decodeOutbox(s.E)
}

// decode gives the entry with Before and After parsed, and their stored text.
func (s auditStored) decode() (e AuditEntry, before, after string, err error) {
	if s.outbox() {
		e, before, after, _, err = s.decodeOutbox()
		e.Hash = s.H
		return e, before, after, err
	}
	e = AuditEntry{Seq: s.Seq, At: s.At.UTC(), Actor: s.Actor, Action: s.Action, Kind: s.Kind, Target: s.Target,
		IP: s.IP, Prev: s.Prev, Hash: s.Hash}
	for _, f := range s.copies() {
		if f.raw.Type != 0 && f.raw.Type != bson.TypeString {
			return e, "", "", fmt.Errorf("%s is %s, not text", f.name, f.raw.Type)
		}
	}
	for i, f := range []struct {
		raw  bson.RawValue
		text *string
		v    *any
	}{{s.Before, &before, &e.Before}, {s.After, &after, &e.After}} {
		name := [2]string{"before", "after"}[i]
		text, ok := f.raw.StringValueOK()
		if !ok {
			return e, "", "", fmt.Errorf("%s is not JSON text", name)
		}
		if *f.v, err = auditParse(text); err != nil {
			return e, "", "", fmt.Errorf("%s: %w", name, err)
		}
		*f.text = text
	}
	return e, before, after, nil
}

// auditHash is the hex SHA-256 of the canonical encoding of e, as entries were hashed before the
// log was keyed.
func auditHash(e AuditEntry, before, after string) string {
	sum := sha256.Sum256(auditEncode(auditHashVersion, e, before, after))
	return hex.EncodeToString(sum[:])
}

// auditMAC is the hex HMAC-SHA256 under key of the canonical encoding of e.
func auditMAC(key []byte, e AuditEntry, before, after string) string {
	m := hmac.New(sha256.New, key)
	m.Write(auditEncode(auditMACVersion, e, before, after))
	return hex.EncodeToString(m.Sum(nil))
}

// auditEncode is the canonical encoding of e: a JSON array of a version tag and the fields,
// with Before and After as their canonical JSON text (keys sorted, no spaces).
func auditEncode(version string, e AuditEntry, before, after string) []byte {
	var b bytes.Buffer
	b.WriteByte('[')
	auditWriteString(&b, version)
	b.WriteByte(',')
	b.WriteString(strconv.FormatInt(e.Seq, 10))
	for _, s := range []string{e.At.UTC().Format(time.RFC3339Nano), e.Actor, e.Action, e.Kind, e.Target} {
		b.WriteByte(',')
		auditWriteString(&b, s)
	}
	b.WriteByte(',')
	b.WriteString(before)
	b.WriteByte(',')
	b.WriteString(after)
	for _, s := range []string{e.IP, e.Prev} {
		b.WriteByte(',')
		auditWriteString(&b, s)
	}
	b.WriteByte(']')
	return b.Bytes()
}

// auditCanonicalText normalises v (see auditNormalize) and returns its canonical JSON text and
// the plain value that text reads back as.
func auditCanonicalText(v any) (string, any, error) {
	plain, err := auditNormalize(v)
	if err != nil {
		return "", nil, err
	}
	var b bytes.Buffer
	if err := auditCanonical(&b, plain); err != nil {
		return "", nil, err
	}
	// Read the text back, so that the entry Append returns equals the one List gives.
	if plain, err = auditParse(b.String()); err != nil {
		return "", nil, err
	}
	return b.String(), plain, nil
}

func auditWriteString(b *bytes.Buffer, s string) {
	enc, _ := json.Marshal(s) // a string always encodes
	b.Write(enc)
}

// auditCanonical writes the canonical JSON of a plain value (see auditNormalize).
func auditCanonical(b *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		auditWriteString(b, v)
	case int64:
		b.WriteString(strconv.FormatInt(v, 10))
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Errorf("number %v has no JSON form", v)
		}
		enc, _ := json.Marshal(v)
		b.Write(enc)
	case []any:
		b.WriteByte('[')
		for i, x := range v {
			if i > 0 {
				b.WriteByte(',')
			}
			if err := auditCanonical(b, x); err != nil {
				return err
			}
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			auditWriteString(b, k)
			b.WriteByte(':')
			if err := auditCanonical(b, v[k]); err != nil {
				return err
			}
		}
		b.WriteByte('}')
	default:
		return fmt.Errorf("value of type %T has no canonical form", v)
	}
	return nil
}

// auditNormalize turns v into a plain value: its JSON form decoded into map[string]any, []any,
// string, int64 (integers that fit), float64, bool and nil. Going through JSON makes what is
// recorded independent of Go types, and lets json tags decide what is left out. A bson.Raw
// document is recorded as the document it holds.
func auditNormalize(v any) (any, error) {
	switch d := v.(type) {
	case nil:
		return nil, nil
	case bson.Raw:
		var doc bson.D
		if err := bson.Unmarshal(d, &doc); err != nil {
			return nil, err
		}
		v = doc
	}
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	return auditParse(string(raw))
}

// auditParse reads JSON text into a plain value.
func auditParse(text string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(text))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("text after the JSON value")
	}
	return auditPlain(out)
}

func auditPlain(v any) (any, error) {
	switch v := v.(type) {
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return i, nil
		}
		return v.Float64()
	case map[string]any:
		for k, x := range v {
			p, err := auditPlain(x)
			if err != nil {
				return nil, err
			}
			v[k] = p
		}
		return v, nil
	case []any:
		for i, x := range v {
			p, err := auditPlain(x)
			if err != nil {
				return nil, err
			}
			v[i] = p
		}
		return v, nil
	}
	return v, nil
}
