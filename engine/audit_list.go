package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"tracecraft/engine/store"
)

// Listing the audit log. An entry's actor, action and target are plain fields of its document:
// the field layout stores them so (they are what its hash is computed from), and the outbox
// layout (audit_outbox.go) stores copies of them beside its hashed encoding, which Verify
// checks against the encoding. Lists filtered by them are queries on those fields through the
// store's query model, read from the indexes in kernelIndexes (the field, then _id, which is
// the seq zero-padded and so the log's order). Time bounds become a range of seqs, found by a
// binary search over the log: entries are appended in time order.
const (
	auditActorField  = "actor"
	auditActionField = "action"
	auditTargetField = "target"
)

// auditListMaxActions bounds how many distinct actions under an action prefix ("user.*":
// user.x, user.y.z…) it is listed as, each from its own part of the action index, besides the
// prefix itself ("user"); past it the prefix is one range, whose matches the store sorts.
const auditListMaxActions = 64

// auditPageMax bounds the entries of one page by the length of their encodings (an entry's is
// at most auditEntryMax): a page that reaches it closes early, with next set, however few
// entries it holds.
const auditPageMax = 32 << 20

// auditIndexes are the audit log's query indexes: one per field a list filters on (then _id).
// Ascending: entries are appended at the end of each value's run, which keeps the index's pages
// full; a list reads them backwards, newest first.
var auditIndexes = []store.IndexSpec{
	{Keys: []store.IndexKey{{Path: auditActorField}}},
	{Keys: []store.IndexKey{{Path: auditActionField}}},
	{Keys: []store.IndexKey{{Path: auditTargetField}}},
}

// AuditQuery filters List. Empty fields match everything. Action matches exactly, or, ending in
// ".*", every action under that prefix ("user.*"). Limit defaults to 50 and is at most 500.
// BeforeSeq, when set, lists entries older than that seq: pass the last Seq of a page to get the
// next (ListPage's next).
type AuditQuery struct {
	Actor     string `json:"actor,omitempty"`
	Action    string `json:"action,omitempty"`
	Target    string `json:"target,omitempty"`
	Limit     int    `json:"limit,omitempty"`
	BeforeSeq int64  `json:"beforeSeq,omitempty"`
	// Since and Until, when set, keep entries at or after Since and before Until.
	Since time.Time `json:"since,omitzero"`
	Until time.Time `json:"until,omitzero"`
}

func (q AuditQuery) matches(e AuditEntry) bool {
	if q.Actor != "" && e.Actor != q.Actor || q.Target != "" && e.Target != q.Target {
		return false
	}
	if !q.Since.IsZero() && e.At.Before(q.Since) || !q.Until.IsZero() && !e.At.Before(q.Until) {
		return false
	}
	if prefix, ok := strings.CutSuffix(q.Action, ".*"); ok {
		return e.Action == prefix || strings.HasPrefix(e.Action, prefix+".")
	}
	return q.Action == "" || e.Action == q.Action
}

// List returns entries matching q, newest first.
func (a *Audit) List(ctx context.Context, q AuditQuery) ([]AuditEntry, error) {
	out, _, err := a.ListPage(ctx, q)
	return out, err
}

// ListPage is List that also tells where the next page starts: next is the BeforeSeq of the
// next page (the last entry's seq), or 0 when no older entry matches. A page is full unless it
// is the last, or its entries' encodings reach auditPageMax (32 MiB): a filtered page is read
// from the audit log's indexes, so a rare filter costs about what its matches cost, not a walk
// over the log.
func (a *Audit) ListPage(ctx context.Context, q AuditQuery) (entries []AuditEntry, next int64, err error) {
	switch {
	case q.Limit <= 0:
		q.Limit = 50
	case q.Limit > 500:
		q.Limit = 500
	}
	if prefix, ok := strings.CutSuffix(q.Action, ".*"); ok && prefix == "" {
		q.Action = "" // ".*": every action
	}
	low, top, err := a.listWindow(ctx, q)
	if err != nil {
		return nil, 0, fmt.Errorf("list audit log: %w", err)
	}
	if top < low {
		return []AuditEntry{}, 0, nil
	}
	if q.Actor == "" && q.Action == "" && q.Target == "" {
		entries, next, err = a.listBySeq(ctx, q, low, top)
	} else {
		entries, next, err = a.listByIndex(ctx, q, low, top)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("list audit log: %w", err)
	}
	return entries, next, nil
}

// listWindow is the range of seqs q lists, low..top: below BeforeSeq, and from the first entry
// at or after Since to the last before Until.
func (a *Audit) listWindow(ctx context.Context, q AuditQuery) (low, top int64, err error) {
	if top, err = a.tail(ctx); err != nil {
		return 0, 0, err
	}
	if q.BeforeSeq > 0 {
		top = min(top, q.BeforeSeq-1)
	}
	low = 1
	if !q.Until.IsZero() {
		first, err := a.firstAtOrAfter(ctx, q.Until, top)
		if err != nil {
			return 0, 0, err
		}
		top = first - 1
	}
	if !q.Since.IsZero() {
		if low, err = a.firstAtOrAfter(ctx, q.Since, top); err != nil {
			return 0, 0, err
		}
	}
	return low, top, nil
}

// listBySeq lists the entries from top down to low, one read by _id each: every entry in that
// range matches.
func (a *Audit) listBySeq(ctx context.Context, q AuditQuery, low, top int64) ([]AuditEntry, int64, error) {
	out := []AuditEntry{}
	size := 0
	for seq := top; seq >= low; seq-- {
		var s auditStored
		err := a.st.Get(ctx, auditCollection, auditID(seq), &s)
		if errors.Is(err, store.ErrNotFound) {
			continue // a gap; Verify reports it
		}
		if err != nil {
			return nil, 0, err
		}
		if size += s.size(); len(out) == q.Limit || len(out) > 0 && size > auditPageMax {
			return out, out[len(out)-1].Seq, nil // an older entry exists
		}
		e, _, _, err := s.decode()
		if err != nil {
			return nil, 0, fmt.Errorf("entry %d: %w", seq, err)
		}
		if q.matches(e) {
			out = append(out, e)
		}
	}
	return out, 0, nil
}

// listByIndex lists the entries from top down to low that match q's actor, action and target,
// through the store's query model (listQueries).
func (a *Audit) listByIndex(ctx context.Context, q AuditQuery, low, top int64) ([]AuditEntry, int64, error) {
	if err := a.ensurePlainCopies(ctx); err != nil {
		return nil, 0, err
	}
	queries, err := a.listQueries(ctx, q, low, top)
	if err != nil {
		return nil, 0, err
	}
	var docs []bson.Raw
	for _, lq := range queries {
		page, err := a.st.Query(ctx, auditCollection, lq)
		if err != nil {
			return nil, 0, err
		}
		docs = append(docs, page.Docs...)
	}
	if len(queries) > 1 {
		id := func(d bson.Raw) string { return d.Lookup("_id").StringValue() }
		slices.SortFunc(docs, func(x, y bson.Raw) int { return strings.Compare(id(y), id(x)) })
	}
	more := len(docs) > q.Limit
	docs = docs[:min(len(docs), q.Limit+1)]
	out := []AuditEntry{}
	size := 0
	for i, d := range docs[:min(len(docs), q.Limit)] {
		var s auditStored
		if err := bson.Unmarshal(d, &s); err != nil {
			return nil, 0, fmt.Errorf("entry %s: %w", d.Lookup("_id"), err)
		}
		if size += s.size(); i > 0 && size > auditPageMax {
			docs, more = docs[:i+1], true // close the page before this entry
			break
		}
		e, _, _, err := s.decode()
		if err != nil {
			return nil, 0, fmt.Errorf("entry %s: %w", d.Lookup("_id").StringValue(), err)
		}
		// What the hashed encoding says decides: an entry whose plain copies were changed
		// (Verify reports it) is not listed under values it does not hold.
		if q.matches(e) {
			out = append(out, e)
		}
	}
	if !more {
		return out, 0, nil
	}
	id := docs[len(docs)-2].Lookup("_id").StringValue() // the last of the page; docs holds one more
	last, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, 0, fmt.Errorf("entry %s: %w", id, err)
	}
	return out, last, nil
}

// listQueries are the queries of a filtered list: entries low..top (by _id) with q's actor,
// target and action, newest first, a page and one more each (so that a page that is not the
// last says so). An action prefix is one query per distinct action under it — each an
// equality, read from the action index in _id order — whose pages ListPage merges.
func (a *Audit) listQueries(ctx context.Context, q AuditQuery, low, top int64) ([]store.Query, error) {
	var base []store.Cond
	if q.Actor != "" {
		base = append(base, store.Eq(auditActorField, q.Actor))
	}
	if q.Target != "" {
		base = append(base, store.Eq(auditTargetField, q.Target))
	}
	base = append(base, store.Lte("_id", auditID(top)))
	if low > 1 {
		base = append(base, store.Gte("_id", auditID(low)))
	}
	var actions []store.Cond
	if prefix, ok := strings.CutSuffix(q.Action, ".*"); ok {
		values, err := a.actionsUnder(ctx, prefix)
		if err != nil {
			return nil, err
		}
		if values == nil {
			actions = []store.Cond{store.Or(store.Eq(auditActionField, prefix), store.StartsWith(auditActionField, prefix+"."))}
		}
		for _, v := range values {
			actions = append(actions, store.Eq(auditActionField, v))
		}
	} else if q.Action != "" {
		actions = []store.Cond{store.Eq(auditActionField, q.Action)}
	} else {
		actions = []store.Cond{{}}
	}
	queries := make([]store.Query, 0, len(actions))
	for _, act := range actions {
		where := slices.Clone(base)
		if act.Path != "" || len(act.Or) > 0 {
			where = append(where, act)
		}
		queries = append(queries, store.Query{Where: store.And(where...), Sort: []store.SortKey{{Path: "_id", Desc: true}}, Limit: q.Limit + 1})
	}
	return queries, nil
}

// actionsUnder returns prefix and the distinct actions that start with prefix + ".", each
// found by one seek in the action index (the next value after the last one found); nil when
// more than auditListMaxActions are found.
func (a *Audit) actionsUnder(ctx context.Context, prefix string) ([]string, error) {
	values := []string{prefix} // not counted: it is not looked for
	last := prefix
	for {
		page, err := a.st.Query(ctx, auditCollection, store.Query{
			Where:  store.And(store.StartsWith(auditActionField, prefix+"."), store.Gt(auditActionField, last)),
			Sort:   []store.SortKey{{Path: auditActionField}},
			Limit:  1,
			Fields: []string{auditActionField},
		})
		if err != nil {
			return nil, err
		}
		if len(page.Docs) == 0 {
			return values, nil
		}
		v, ok := page.Docs[0].Lookup(auditActionField).StringValueOK()
		if !ok {
			return nil, fmt.Errorf("entry %s: action is not text", page.Docs[0].Lookup("_id").StringValue())
		}
		if len(values)-1 == auditListMaxActions {
			return nil, nil
		}
		values, last = append(values, v), v
	}
}

// firstAtOrAfter returns the seq of the first entry at or after t among entries 1..top (top+1
// when there is none), by a binary search over the log: entries are appended in the order of
// their times (a clock set back while the log was written makes the bound as rough as that
// step; the entries listed are still only those whose times are in the bounds).
func (a *Audit) firstAtOrAfter(ctx context.Context, t time.Time, top int64) (int64, error) {
	lo, hi := int64(1), top+1 // the answer is in [lo, hi]
	for lo < hi {
		mid := lo + (hi-lo)/2
		at, seq, err := a.timeAtOrAfter(ctx, mid, hi)
		if err != nil {
			return 0, err
		}
		switch {
		case seq >= hi: // mid..hi-1 are missing
			hi = mid
		case at.Before(t):
			lo = seq + 1
		default:
			hi = seq
		}
	}
	return lo, nil
}

// timeAtOrAfter reads the time of the first stored entry from seq on, before end (a gap is
// skipped); its seq is end when there is none.
func (a *Audit) timeAtOrAfter(ctx context.Context, seq, end int64) (time.Time, int64, error) {
	for ; seq < end; seq++ {
		var s auditStored
		err := a.st.Get(ctx, auditCollection, auditID(seq), &s)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return time.Time{}, 0, err
		}
		e, _, _, err := s.decode()
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("entry %d: %w", seq, err)
		}
		return e.At, seq, nil
	}
	return time.Time{}, end, nil
}

// ensurePlainCopies gives the outbox entries stored without plain copies of their actor,
// action and target — written before the copies existed, or by an older binary during an
// upgrade — those copies, from their encoding, so that the lists by those fields find them. It
// runs before every filtered list: such entries have no action field, which the action index
// finds at once, so when there are none it costs one index seek. Copying is idempotent, and
// an interrupted run resumes with what is left; an entry whose encoding cannot be read is left
// as it is (Verify reports it).
func (a *Audit) ensurePlainCopies(ctx context.Context) error {
	var c *mongo.Collection
	after := ""
	for {
		page, err := a.st.Query(ctx, auditCollection, auditNoCopiesQuery(after))
		if err != nil {
			return fmt.Errorf("copy audit fields: %w", err)
		}
		for _, d := range page.Docs {
			var s auditStored
			// Only text-layout outbox entries were ever written without copies. A deflated one
			// always had them: missing copies there are tampering, left for Verify to report
			// rather than repaired out of sight.
			if bson.Unmarshal(d, &s) != nil || s.E == "" || s.zipped {
				continue
			}
			e, _, _, _, err := s.decodeOutbox()
			if err != nil {
				continue
			}
			if c == nil {
				if c, err = a.st.Collection(ctx, auditCollection); err != nil {
					return fmt.Errorf("copy audit fields: %w", err)
				}
			}
			id := d.Lookup("_id").StringValue()
			_, err = c.UpdateOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: auditActionField, Value: bson.D{{Key: "$exists", Value: false}}}},
				bson.D{{Key: "$set", Value: bson.D{{Key: auditActorField, Value: e.Actor}, {Key: auditActionField, Value: e.Action}, {Key: auditTargetField, Value: e.Target}}}})
			if err != nil {
				return fmt.Errorf("copy audit fields: entry %s: %w", id, err)
			}
		}
		if page.Next == "" {
			return nil
		}
		after = page.Next
	}
}

// auditNoCopiesQuery finds the entries with no action field (nor a null one), a page after
// after: a seek in the action index, whose matches (none, once every entry has its copies) the
// store puts in _id order.
func auditNoCopiesQuery(after string) store.Query {
	return store.Query{Where: store.Eq(auditActionField, nil), Limit: 500, After: after}
}
