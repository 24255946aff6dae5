package forms

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Record event types published on the kernel bus.
const (
	EventCreated       = "record.created"
	EventUpdated       = "record.updated"
	EventDeleted       = "record.deleted"
	EventRestored      = "record.restored"
	EventStatusChanged = "record.status_changed"
)

func (s *Service) valueContext(ctx context.Context, p *engine.Principal, c *Compiled, id string) *ValueContext {
	return &ValueContext{Ctx: ctx, App: c.App, Form: c.Key, Record: id, Now: s.now(), Loc: s.loc, User: p.Username, Lookup: lookup{s}, Store: s.st}
}

// Create validates input against the form's latest published version and stores a new record.
func (s *Service) Create(ctx context.Context, p *engine.Principal, app, form string, input Values) (*Record, error) {
	return s.createAs(ctx, p, app, form, newID(s.now()), input)
}

// createAs is Create under a record id chosen before (record.create claims one per action
// key); a record already stored under it gives the store's ErrDuplicate.
func (s *Service) createAs(ctx context.Context, p *engine.Principal, app, form, id string, input Values) (*Record, error) {
	c, err := s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, err
	}
	acc := s.accessFor(ctx, p, c)
	if err := acc.require(ActCreate); err != nil {
		return nil, err
	}
	data, err := s.prepareData(s.valueContext(ctx, p, c, id), c, acc.rulesFor(ctx, newRecordStub(p, input), ActCreate), nil, input, true, true)
	if err != nil {
		return nil, err
	}
	rec, d, err := s.insert(ctx, p, c, id, data, "")
	if err != nil {
		return nil, err
	}
	rec.Data = acc.visible(ctx, d, rec.Data)
	return rec, nil
}

// newRecordStub is a record about to be created by p, for judging row scopes before it exists.
func newRecordStub(p *engine.Principal, input Values) *recordDoc {
	return &recordDoc{Owner: p.Username, Dept: p.Department, Data: bson.M(input)}
}

// insert stores prepared data as a new record (revision 1) and reports it. batch marks
// records of one import, so a failed import can take its records back.
func (s *Service) insert(ctx context.Context, p *engine.Principal, c *Compiled, id string, data Values, batch string) (*Record, *recordDoc, error) {
	doc := s.newRecordDoc(p, c, id, data, batch)
	if err := s.bindFiles(ctx, c.App, c.Key, id, newFileUses(c.Fields, nil, data)); err != nil {
		return nil, nil, fmt.Errorf("create record: %w", err)
	}
	rec := doc.record()
	coll := RecordsCollection(c.App, c.Key)
	// Two inserts: the audit entry, which carries the event (the commit point), and the record.
	_, err := s.k.Commit(ctx, recordWrite(p, "record.create", EventCreated, rec, nil, rec.Data), func(ctx context.Context, journal func(context.Context) error) error {
		return s.st.CreateWith(ctx, coll, id, doc, journal)
	})
	if err != nil {
		return nil, nil, fmt.Errorf("create record: %w", err)
	}
	return rec, doc, nil
}

// newRecordDoc is prepared data as a new record (revision 1) of p's.
func (s *Service) newRecordDoc(p *engine.Principal, c *Compiled, id string, data Values, batch string) *recordDoc {
	now := s.now().UTC().Truncate(time.Millisecond) // what the store keeps: answers match later reads
	doc := &recordDoc{ID: id, Rev: 1, App: c.App, Form: c.Key, Version: c.Version, Data: bson.M(data),
		Parts: s.parts(c, data), Owner: p.Username, Dept: p.Department,
		CreatedBy: p.Username, CreatedAt: now, UpdatedBy: p.Username, UpdatedAt: now, ImportBatch: batch}
	if c.Def.Status != nil {
		doc.Status = c.Def.Status.Initial
	}
	return doc
}

// parts computes the date parts of date and datetime fields.
func (s *Service) parts(c *Compiled, data Values) map[string]DateParts {
	var out map[string]DateParts
	for _, f := range c.Fields {
		if f.Type != "date" && f.Type != "datetime" {
			continue
		}
		if dp, ok := datePartsOf(data[f.Key], s.loc); ok {
			if out == nil {
				out = map[string]DateParts{}
			}
			out[f.Key] = dp
		}
	}
	return out
}

// recordWrite is the write of revision rec.Rev of a record, with its audit entry and event,
// for Kernel.Commit: a record is never stored without them.
func recordWrite(p *engine.Principal, action, event string, rec *Record, before, after Values) engine.Write {
	actor, ip := engine.SystemActor, ""
	if p != nil {
		actor, ip = p.Username, p.IP
	}
	target := rec.App + "/" + rec.Form + "/" + rec.ID
	data := map[string]any{"form": rec.Form, "id": rec.ID, "rev": rec.Rev, "status": rec.Status, "version": rec.Version}
	return engine.Write{Coll: RecordsCollection(rec.App, rec.Form), ID: rec.ID, Rev: rec.Rev,
		Entry: engine.AuditEntry{Actor: actor, IP: ip, Action: action, Kind: "record", Target: target, Before: nilIfEmpty(before), After: nilIfEmpty(after)},
		Event: &engine.Event{Type: event, App: rec.App, Data: data}}
}

// RecordTarget is the audit target of a record in collection coll (RecordsCollection):
// "app/form/id". The audit log covers record collections with it (engine.Audit.Cover).
func RecordTarget(coll, id string) string {
	app, form, _ := strings.Cut(strings.TrimPrefix(coll, "rec."), ".")
	return app + "/" + form + "/" + id
}

func nilIfEmpty(v Values) any {
	if v == nil {
		return nil
	}
	return map[string]any(v)
}

// load reads a stored record; deleted ones only when withDeleted.
func (s *Service) load(ctx context.Context, app, form, id string, withDeleted bool) (*recordDoc, error) {
	var d recordDoc
	if err := s.st.Get(ctx, RecordsCollection(app, form), id, &d); err != nil {
		return nil, err
	}
	// A record of an import still being written is not there yet (importHidden).
	if d.Deleted != nil && !withDeleted || d.App != app || d.Form != form || s.importHidden(d.ImportBatch) {
		return nil, fmt.Errorf("record %s: %w", id, engine.ErrNotFound)
	}
	d.loadedStatus = d.Status
	return &d, nil
}

// readable loads a record with its version and checks the caller may read it. A record the
// caller may not see is "not found", so ids cannot be probed.
func (s *Service) readable(ctx context.Context, p *engine.Principal, app, form, id string, withDeleted bool) (*recordDoc, *Compiled, *access, error) {
	// The form first: an unknown app or form is "not found" before its records are looked at.
	if _, err := s.latestVersion(ctx, app, form); err != nil {
		return nil, nil, nil, err
	}
	d, err := s.load(ctx, app, form, id, withDeleted)
	if err != nil {
		return nil, nil, nil, err
	}
	c, err := s.Compiled(ctx, app, form, d.Version)
	if err != nil {
		return nil, nil, nil, err
	}
	acc := s.accessFor(ctx, p, c)
	if !acc.can(ActRead) {
		return nil, nil, nil, engine.ErrForbidden
	}
	if !acc.allows(ctx, ActRead, d) {
		return nil, nil, nil, fmt.Errorf("record %s: %w", id, engine.ErrNotFound)
	}
	return d, c, acc, nil
}

// Get reads one record, without the fields the caller may not see.
func (s *Service) Get(ctx context.Context, p *engine.Principal, app, form, id string) (*Record, error) {
	d, _, acc, err := s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return nil, err
	}
	rec := d.record()
	rec.Data = acc.visible(ctx, d, rec.Data)
	return rec, nil
}

// Update changes a record: input fields replace stored ones (null clears a field; fields not
// given stay as they are). rev is the revision the caller read; a stale one is a conflict.
// The record stays on the form version it was written with.
func (s *Service) Update(ctx context.Context, p *engine.Principal, app, form, id string, rev int64, input Values) (*Record, error) {
	d, c, acc, err := s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return nil, err
	}
	if err := acc.require(ActUpdate); err != nil || !acc.allows(ctx, ActUpdate, d) {
		return nil, engine.ErrForbidden
	}
	if d.Rev != rev {
		return nil, fmt.Errorf("record %s is at revision %d, not %d: %w", id, d.Rev, rev, engine.ErrConflict)
	}
	before := d.record().Data
	data, err := s.prepareData(s.valueContext(ctx, p, c, id), c, acc.rulesFor(ctx, d, ActUpdate), before, input, false, true)
	if err != nil {
		return nil, err
	}
	if err := s.bindFiles(ctx, app, form, id, newFileUses(c.Fields, before, data)); err != nil {
		return nil, fmt.Errorf("update record %s: %w", id, err)
	}
	d.Data, d.Parts = bson.M(data), s.parts(c, data)
	return s.save(ctx, p, d, acc, "record.update", EventUpdated, before)
}

// save writes d as its next revision and reports it.
func (s *Service) save(ctx context.Context, p *engine.Principal, d *recordDoc, acc *access, action, event string, before Values) (*Record, error) {
	d.UpdatedBy, d.UpdatedAt = p.Username, s.now().UTC().Truncate(time.Millisecond)
	base := d.Rev
	rec := d.record()
	rec.Rev = base + 1 // the revision the write makes, which its entry and event name
	w := recordWrite(p, action, event, rec, before, rec.Data)
	if event == EventStatusChanged && d.loadedStatus != "" {
		// Rules answer "from held to ok": the event says which status the record left.
		w.Event.Data["previousStatus"] = d.loadedStatus
	}
	_, err := s.k.Commit(ctx, w, func(ctx context.Context, journal func(context.Context) error) error {
		_, err := s.st.UpdateWith(ctx, RecordsCollection(d.App, d.Form), d.ID, base, d, journal)
		return err
	})
	if err != nil {
		if errors.Is(err, store.ErrConflict) {
			return nil, fmt.Errorf("record %s changed meanwhile: %w", d.ID, engine.ErrConflict)
		}
		return nil, err
	}
	d.Rev = rec.Rev
	rec.Data = acc.visible(ctx, d, rec.Data)
	return rec, nil
}

// Delete deletes a record softly: it leaves lists and reads, and Restore brings it back.
func (s *Service) Delete(ctx context.Context, p *engine.Principal, app, form, id string, rev int64) (*Record, error) {
	d, _, acc, err := s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return nil, err
	}
	if err := acc.require(ActDelete); err != nil || !acc.allows(ctx, ActDelete, d) {
		return nil, engine.ErrForbidden
	}
	if d.Rev != rev {
		return nil, fmt.Errorf("record %s is at revision %d, not %d: %w", id, d.Rev, rev, engine.ErrConflict)
	}
	d.Deleted = &Deletion{By: p.Username, At: s.now().UTC()}
	data := d.record().Data
	return s.save(ctx, p, d, acc, "record.delete", EventDeleted, data)
}

// Restore brings back a deleted record.
func (s *Service) Restore(ctx context.Context, p *engine.Principal, app, form, id string, rev int64) (*Record, error) {
	d, _, acc, err := s.readable(ctx, p, app, form, id, true)
	if err != nil {
		return nil, err
	}
	if err := acc.require(ActDelete); err != nil || !acc.allows(ctx, ActDelete, d) {
		return nil, engine.ErrForbidden
	}
	if d.Deleted == nil {
		return nil, fmt.Errorf("restore record %s: %w", id, ErrRecordNotDeleted)
	}
	if d.Rev != rev {
		return nil, fmt.Errorf("record %s is at revision %d, not %d: %w", id, d.Rev, rev, engine.ErrConflict)
	}
	d.Deleted = nil
	return s.save(ctx, p, d, acc, "record.restore", EventRestored, nil)
}

// Transition takes a named status transition. It must start from the record's status, the
// caller must hold one of its roles (if it names any) and its condition must hold.
func (s *Service) Transition(ctx context.Context, p *engine.Principal, app, form, id string, rev int64, key string) (*Record, error) {
	d, c, acc, err := s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return nil, err
	}
	if err := acc.require(ActUpdate); err != nil || !acc.allows(ctx, ActUpdate, d) {
		return nil, engine.ErrForbidden
	}
	t, ok := c.transitions[key]
	if !ok {
		return nil, engine.Invalid("transition", "not_found", map[string]any{"value": key})
	}
	if !contains(t.From, d.Status) {
		return nil, fmt.Errorf("%s: %w", engine.Message(engine.LangEN, "illegal_transition", map[string]any{"from": d.Status, "transition": key}), ErrInvalidTransition)
	}
	if len(t.Roles) > 0 && !acc.full && !anyOf(p.Roles, t.Roles) {
		return nil, engine.ErrForbidden
	}
	if t.when != nil {
		ok, err := t.when.EvalBool(ctx, conditionVars(d, p))
		// Named by the transition's label, as the button people pressed says it.
		if err != nil {
			return nil, engine.FieldErrors{{Path: "transition", Code: "expr", Params: map[string]any{"detail": err.Error()}, Label: t.Label}}
		}
		if !ok {
			return nil, engine.FieldErrors{{Path: "transition", Code: "condition_failed", Params: map[string]any{"when": t.When}, Label: t.Label}}
		}
	}
	if d.Rev != rev {
		return nil, fmt.Errorf("record %s is at revision %d, not %d: %w", id, d.Rev, rev, engine.ErrConflict)
	}
	from := d.Status
	d.Status = t.To
	if err := acc.requireAfter(ctx, ActUpdate, d); err != nil {
		return nil, err // the new status would take the record out of the caller's scope
	}
	before := d.record().Data
	rec, err := s.save(ctx, p, d, acc, "record.status", EventStatusChanged, before)
	if err != nil {
		return nil, err
	}
	s.k.Log.Debug("status changed", "record", id, "from", from, "to", t.To)
	return rec, nil
}

// ErrInvalidTransition is a transition taken from a status it does not start from (409).
var ErrInvalidTransition = fmt.Errorf("invalid transition: %w", engine.ErrConflict)

// Conflicts with a code of their own, so the answer says what to do (409).
var (
	// ErrFormNotPublished: records are written (and read) in a published version only.
	ErrFormNotPublished = engine.Coded(engine.ErrConflict, "form_not_published", nil)
	// ErrRecordNotDeleted: only a deleted record can be restored.
	ErrRecordNotDeleted = engine.Coded(engine.ErrConflict, "record_not_deleted", nil)
)

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"error.form_not_published": {ZH: "表单尚未发布，请先发布", EN: "the form has not been published yet: publish it first"},
		"error.record_not_deleted": {ZH: "该记录没有被删除，无需恢复；请刷新后查看", EN: "the record is not deleted, so there is nothing to restore; reload to see it"},
	})
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

func anyOf(have, want []string) bool {
	for _, h := range have {
		if contains(want, h) {
			return true
		}
	}
	return false
}

// Change is one field's change between two revisions.
type Change struct {
	Field  string `json:"field"`
	Before any    `json:"before"`
	After  any    `json:"after"`
}

// HistoryEntry is one revision of a record with what changed from the one before.
type HistoryEntry struct {
	Rev     int64     `json:"rev"`
	At      time.Time `json:"at"`
	By      string    `json:"by"`
	Status  string    `json:"status,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
	Changes []Change  `json:"changes"`
}

// diff lists the fields whose values differ, sorted by field key.
func diff(before, after Values) []Change {
	keys := map[string]bool{}
	for k := range before {
		keys[k] = true
	}
	for k := range after {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	changes := []Change{}
	for _, k := range sorted {
		if !sameValue(before[k], after[k]) {
			changes = append(changes, Change{Field: k, Before: before[k], After: after[k]})
		}
	}
	return changes
}
