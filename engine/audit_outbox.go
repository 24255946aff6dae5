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
	"sort"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"tracecraft/engine/store"
)

// The outbox layout of an audit entry. An entry written for a store write (Kernel.Commit) is the
// write's commit point: besides what every entry records it names the write (collection, id,
// revision) and carries the event that the write publishes, so that one insert stores the audit
// entry and the bus event, and a write is never stored without them (outbox.go). Such an entry is
// stored as two strings: E, its canonical encoding — the very bytes that were hashed — and H,
// that hash. One string holds what eleven fields held before, so an entry takes about half the
// space (FerretDB describes the type of every field of every document in a header).
//
// E is a JSON array: [tag, seq, at, actor, action, kind, target, before, after, ip, prev, x],
// with before and after as their canonical JSON (as in the field layout) and x an object with
// "w" (the write: {"c": collection, "id": …, "rev": n}), "ev" (the event: {"type", "app",
// "data"}; its kind, target, actor, time and before and after are the entry's) and "void" (the
// seq of an entry whose write was never stored). H is the hex HMAC-SHA256 of E under the audit
// key, with tag auditOutboxKeyed, or its plain SHA-256 in a log without a key, with tag
// auditOutboxPlain (those pass Verify as entries written before the key do).
const (
	auditOutboxKeyed = "tracecraft-audit-3"
	auditOutboxPlain = "tracecraft-audit-3-sha256"
)

// auditOutboxDoc is an entry as written in the outbox layout. Actor, Action and Target are
// plain copies of what E says, for the lists by them (audit_list.go); E stays what is hashed,
// and Verify reports an entry whose copies differ from it or are missing. Entries written
// without the copies (before they existed) get them on a filtered list (ensurePlainCopies).
type auditOutboxDoc struct {
	ID     string `bson:"_id"`
	E      string `bson:"e"`
	H      string `bson:"h"`
	Actor  string `bson:"actor"`
	Action string `bson:"action"`
	Target string `bson:"target"`
}

// AuditWrite names the store write an entry stands for: revision Rev of document ID in
// collection Coll (Rev 1 for a create).
type AuditWrite struct {
	Coll string
	ID   string
	Rev  int64
}

func (w AuditWrite) String() string { return fmt.Sprintf("%s/%s revision %d", w.Coll, w.ID, w.Rev) }

// auditEvent is the event an outbox entry carries.
type auditEvent struct {
	Type string
	App  string
	Data map[string]any
}

// auditExtra is what an outbox entry holds besides the entry: the write it stands for, its event,
// or the entry whose write it voids.
type auditExtra struct {
	write *AuditWrite
	event *auditEvent
	void  int64
}

// opens tells whether the entry stays open until its write and event are settled.
func (x *auditExtra) opens() bool { return x.write != nil || x.event != nil }

// text is x's canonical JSON.
func (x *auditExtra) text() (string, error) {
	m := map[string]any{}
	if x.write != nil {
		m["w"] = map[string]any{"c": x.write.Coll, "id": x.write.ID, "rev": x.write.Rev}
	}
	if x.event != nil {
		ev := map[string]any{"type": x.event.Type}
		if x.event.App != "" {
			ev["app"] = x.event.App
		}
		if len(x.event.Data) > 0 {
			ev["data"] = map[string]any(x.event.Data)
		}
		m["ev"] = ev
	}
	if x.void > 0 {
		m["void"] = x.void
	}
	text, _, err := auditCanonicalText(m)
	return text, err
}

// parseAuditExtra reads x back.
func parseAuditExtra(raw []byte) (*auditExtra, error) {
	v, err := auditParse(string(raw))
	if err != nil {
		return nil, err
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("extras are not an object")
	}
	x := &auditExtra{}
	if w, ok := m["w"].(map[string]any); ok {
		c, _ := w["c"].(string)
		id, _ := w["id"].(string)
		rev, _ := w["rev"].(int64)
		if c == "" || id == "" || rev < 1 {
			return nil, errors.New("the write is incomplete")
		}
		x.write = &AuditWrite{Coll: c, ID: id, Rev: rev}
	}
	if ev, ok := m["ev"].(map[string]any); ok {
		typ, _ := ev["type"].(string)
		if typ == "" {
			return nil, errors.New("the event has no type")
		}
		x.event = &auditEvent{Type: typ}
		x.event.App, _ = ev["app"].(string)
		x.event.Data, _ = ev["data"].(map[string]any)
	}
	if v, ok := m["void"].(int64); ok {
		x.void = v
	}
	return x, nil
}

// encodeOutbox is the outbox encoding of e, with its hash.
func (a *Audit) encodeOutbox(e AuditEntry, before, after, xtext string) (enc, hash string) {
	tag := auditOutboxPlain
	if a.key != nil {
		tag = auditOutboxKeyed
	}
	// The entry's canonical encoding under the outbox tag, with the write's extra text as one
	// more element.
	base := auditEncode(tag, e, before, after)
	var b bytes.Buffer
	b.Write(base[:len(base)-1]) // without its closing bracket
	b.WriteByte(',')
	b.WriteString(xtext)
	b.WriteByte(']')
	enc = b.String()
	if a.key != nil {
		return enc, outboxMAC(a.key, enc)
	}
	return enc, outboxPlainHash(enc)
}

func outboxMAC(key []byte, enc string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(enc))
	return hex.EncodeToString(m.Sum(nil))
}

func outboxPlainHash(enc string) string {
	sum := sha256.Sum256([]byte(enc))
	return hex.EncodeToString(sum[:])
}

// outboxParts splits an outbox encoding into its twelve elements.
func outboxParts(enc string) ([]json.RawMessage, error) {
	var parts []json.RawMessage
	dec := json.NewDecoder(strings.NewReader(enc))
	if err := dec.Decode(&parts); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("text after the entry")
	}
	if len(parts) != 12 {
		return nil, fmt.Errorf("%d elements, not 12", len(parts))
	}
	return parts, nil
}

// outboxTag is the version tag of an outbox encoding ("" when it cannot be read).
func outboxTag(enc string) string {
	parts, err := outboxParts(enc)
	if err != nil {
		return ""
	}
	var tag string
	_ = json.Unmarshal(parts[0], &tag)
	return tag
}

// decodeOutbox reads an outbox encoding: the entry (without its Hash), its before and after
// text, and its extras.
func decodeOutbox(enc string) (e AuditEntry, before, after string, x *auditExtra, err error) {
	parts, err := outboxParts(enc)
	if err != nil {
		return e, "", "", nil, err
	}
	var tag, at string
	for i, dst := range []any{&tag, &e.Seq, &at, &e.Actor, &e.Action, &e.Kind, &e.Target} {
		if err := json.Unmarshal(parts[i], dst); err != nil {
			return e, "", "", nil, fmt.Errorf("element %d: %w", i, err)
		}
	}
	if tag != auditOutboxKeyed && tag != auditOutboxPlain {
		return e, "", "", nil, fmt.Errorf("unknown version %q", tag)
	}
	if e.At, err = time.Parse(time.RFC3339Nano, at); err != nil {
		return e, "", "", nil, fmt.Errorf("time: %w", err)
	}
	for i, dst := range []any{&e.IP, &e.Prev} {
		if err := json.Unmarshal(parts[9+i], dst); err != nil {
			return e, "", "", nil, fmt.Errorf("element %d: %w", 9+i, err)
		}
	}
	before, after = string(parts[7]), string(parts[8])
	if e.Before, err = auditParse(before); err != nil {
		return e, "", "", nil, fmt.Errorf("before: %w", err)
	}
	if e.After, err = auditParse(after); err != nil {
		return e, "", "", nil, fmt.Errorf("after: %w", err)
	}
	if x, err = parseAuditExtra(parts[11]); err != nil {
		return e, "", "", nil, fmt.Errorf("extras: %w", err)
	}
	return e, before, after, x, nil
}

// readOutbox reads entry seq: its extras when it is in the outbox layout (nil otherwise), and
// false when there is no such entry.
func (a *Audit) readOutbox(ctx context.Context, seq int64) (AuditEntry, *auditExtra, bool, error) {
	var s auditStored
	err := a.st.Get(ctx, auditCollection, auditID(seq), &s)
	if errors.Is(err, store.ErrNotFound) {
		return AuditEntry{}, nil, false, nil
	}
	if err != nil {
		return AuditEntry{}, nil, false, err
	}
	if !s.outbox() {
		return AuditEntry{}, nil, true, nil
	}
	e, _, _, x, err := s.decodeOutbox()
	if err != nil {
		return AuditEntry{}, nil, true, fmt.Errorf("audit entry %d: %w", seq, err)
	}
	e.Hash = s.H
	return e, x, true, nil
}

// openLocked marks entry seq open; the caller holds a.mu.
func (a *Audit) openLocked(seq int64) {
	if a.open == nil {
		a.open = map[int64]struct{}{}
	}
	a.open[seq] = struct{}{}
}

// closeEntry marks entry seq settled: its write is stored and its event handed to the bus, or
// it was voided.
func (a *Audit) closeEntry(seq int64) {
	a.mu.Lock()
	delete(a.open, seq)
	a.mu.Unlock()
}

// openLimit is the seq up to which every entry this process appended is settled.
func (a *Audit) openLimit() int64 {
	a.mu.Lock()
	defer a.mu.Unlock()
	limit := a.last
	for seq := range a.open {
		limit = min(limit, seq-1)
	}
	return a.unsettled.below(limit)
}

// auditCover is a set of collections Verify checks against the log (Cover).
type auditCover struct {
	prefix string
	kind   string
	target func(coll, id string) string
}

// Cover makes Verify check that every stored revision of the collections whose names start
// with prefix (not their revisions collections) has an entry that stands for its write, as
// Kernel.Commit writes them. Entries of kind written before entries named their writes are
// matched by their Target, target(coll, id), one entry per revision in order. Engines call it
// when they are made, before Verify runs.
func (a *Audit) Cover(prefix, kind string, target func(coll, id string) string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.covers = append(a.covers, auditCover{prefix: prefix, kind: kind, target: target})
}

// auditCoverage collects, during Verify's walk, the writes the entries stand for.
type auditCoverage struct {
	covers []auditCover
	kinds  map[string]bool
	writes map[string][]int64 // coverKey → seqs of the entries (one voided leaves the others)
	voided map[int64]bool
	legacy map[string]int64 // kind + target → entries without a named write
	colls  map[string]bool  // collections named by entries
}

func (a *Audit) newCoverage() *auditCoverage {
	a.mu.Lock()
	covers := append([]auditCover(nil), a.covers...)
	a.mu.Unlock()
	c := &auditCoverage{covers: covers, kinds: map[string]bool{}, writes: map[string][]int64{}, voided: map[int64]bool{},
		legacy: map[string]int64{}, colls: map[string]bool{}}
	for _, cv := range covers {
		c.kinds[cv.kind] = true
	}
	return c
}

func coverKey(coll, id string, rev int64) string {
	return coll + "\x00" + id + "\x00" + strconv.FormatInt(rev, 10)
}

func (c *auditCoverage) add(seq int64, x *auditExtra) {
	if x.write != nil {
		k := coverKey(x.write.Coll, x.write.ID, x.write.Rev)
		c.writes[k] = append(c.writes[k], seq)
		c.colls[x.write.Coll] = true
	}
	if x.void > 0 {
		c.voided[x.void] = true
	}
}

// covered tells whether an entry that is not voided stands for the write.
func (c *auditCoverage) covered(key string) bool {
	for _, seq := range c.writes[key] {
		if !c.voided[seq] {
			return true
		}
	}
	return false
}

func (c *auditCoverage) addLegacy(e AuditEntry) {
	if c.kinds[e.Kind] {
		c.legacy[e.Kind+"\x00"+e.Target]++
	}
}

// verifyOutbox checks entry seq, stored in the outbox layout, as Verify does the others, and
// its plain copies of the entry's actor, action and target, which must be text and what its
// encoding says. An entry stored deflated is always written with them (so removing them, which
// would hide it from the lists by them, is reported); one stored as text before the copies
// existed has none, and gets them from ensurePlainCopies.
func (a *Audit) verifyOutbox(seq int64, prev string, s auditStored, legacyOK bool, rep *AuditReport, bad func(int64, string, ...any), cov *auditCoverage) {
	tag := outboxTag(s.E)
	e, _, _, x, err := s.decodeOutbox()
	switch {
	case err != nil:
		bad(seq, "entry %d was changed: %v", seq, err)
		return
	case e.Seq != seq:
		bad(seq, "entry %d was changed: it says it is entry %d", seq, e.Seq)
	case e.Prev != prev:
		bad(seq, "entry %d does not link to entry %d", seq, seq-1)
	case tag == auditOutboxKeyed && a.key == nil:
		bad(seq, "entry %d is keyed: verify the log with its audit key", seq)
	case tag == auditOutboxKeyed:
		if !hmac.Equal([]byte(outboxMAC(a.key, s.E)), []byte(s.H)) {
			bad(seq, "entry %d was changed: its hash does not match its content under the audit key", seq)
		}
	case !legacyOK:
		bad(seq, "entry %d has no keyed hash and no keyed checkpoint covers it: it was written without the audit key, or rewritten", seq)
	default:
		if outboxPlainHash(s.E) != s.H {
			bad(seq, "entry %d was changed: its hash does not match its content", seq)
		}
		if a.key != nil {
			rep.Legacy++
		}
	}
	copies := s.copies()
	present := s.zipped
	for _, c := range copies {
		present = present || c.raw.Type != 0
	}
	for i, c := range copies {
		if !present {
			break
		}
		switch want := [3]string{e.Actor, e.Action, e.Target}[i]; {
		case c.raw.Type == 0:
			bad(seq, "entry %d was changed: its %s field is missing (an entry is written with its actor, action and target)", seq, c.name)
		case c.raw.Type != bson.TypeString:
			bad(seq, "entry %d was changed: its %s field is %s, not text", seq, c.name, c.raw.Type)
		case *c.text != want:
			bad(seq, "entry %d was changed: its actor, action or target fields differ from its hashed content", seq)
		}
	}
	cov.add(seq, x)
}

// uncovered counts the stored revisions of covered collections that no entry stands for, and
// names the first.
func (a *Audit) uncovered(ctx context.Context, c *auditCoverage) (int64, string, error) {
	if len(c.covers) == 0 && len(c.colls) == 0 {
		return 0, "", nil
	}
	names, err := a.st.Database().ListCollectionNames(ctx, bson.D{})
	if err != nil {
		return 0, "", err
	}
	colls := map[string]*auditCover{}
	for coll := range c.colls {
		colls[coll] = nil
	}
	for _, n := range names {
		if strings.HasSuffix(n, store.RevisionsCollection("")) {
			continue
		}
		for i := range c.covers {
			if strings.HasPrefix(n, c.covers[i].prefix) {
				colls[n] = &c.covers[i]
			}
		}
	}
	sorted := make([]string, 0, len(colls))
	for n := range colls {
		sorted = append(sorted, n)
	}
	sort.Strings(sorted)
	first, n := "", int64(0)
	for _, coll := range sorted {
		cv := colls[coll]
		err := a.st.Find(ctx, coll, nil, options.Find().SetProjection(bson.D{{Key: store.RevField, Value: 1}}), func(raw bson.Raw) error {
			id, ok := raw.Lookup("_id").StringValueOK()
			if !ok {
				id = raw.Lookup("_id").String()
			}
			rev := int64(1)
			if v, ok := raw.Lookup(store.RevField).AsInt64OK(); ok && v > 1 {
				rev = v
			}
			var legacy int64
			if cv != nil {
				legacy = c.legacy[cv.kind+"\x00"+cv.target(coll, id)]
			}
			for r := int64(1); r <= rev; r++ {
				if r <= legacy || c.covered(coverKey(coll, id, r)) {
					continue
				}
				n++
				if first == "" {
					first = AuditWrite{Coll: coll, ID: id, Rev: r}.String()
				}
			}
			return ctx.Err()
		})
		if err != nil {
			return 0, "", err
		}
	}
	return n, first, nil
}
