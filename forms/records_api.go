package forms

import (
	"context"
	"fmt"

	"tracecraft/engine"
)

// recordsAPI implements engine.Records for the other engines.
type recordsAPI struct{ s *Service }

var _ engine.Records = recordsAPI{}

func refOf(r *Record) *engine.RecordRef {
	return &engine.RecordRef{ID: r.ID, App: r.App, Form: r.Form, Version: r.Version, Rev: r.Rev, Status: r.Status, Data: r.Data, CreatedBy: r.CreatedBy}
}

func (a recordsAPI) GetRecord(ctx context.Context, p *engine.Principal, app, form, id string) (*engine.RecordRef, error) {
	d, _, _, err := a.s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return nil, err
	}
	return refOf(d.record()), nil
}

func (a recordsAPI) UpdateRecord(ctx context.Context, p *engine.Principal, app, form, id string, rev int64, data map[string]any) (*engine.RecordRef, error) {
	r, err := a.s.Update(ctx, p, app, form, id, rev, data)
	if err != nil {
		return nil, err
	}
	return refOf(r), nil
}

func (a recordsAPI) CreateRecord(ctx context.Context, p *engine.Principal, app, form string, data map[string]any) (*engine.RecordRef, error) {
	r, err := a.s.Create(ctx, p, app, form, data)
	if err != nil {
		return nil, err
	}
	return refOf(r), nil
}

func (a recordsAPI) SetRecordStatus(ctx context.Context, p *engine.Principal, app, form, id, status string) (*engine.RecordRef, error) {
	for attempt := 0; attempt < 5; attempt++ {
		d, c, acc, err := a.s.readable(ctx, p, app, form, id, false)
		if err != nil {
			return nil, err
		}
		if c.Def.Status == nil || !hasState(c.Def.Status, status) {
			return nil, engine.Invalid("status", "not_found", map[string]any{"value": status})
		}
		if !acc.allows(ctx, ActUpdate, d) {
			return nil, engine.ErrForbidden
		}
		if d.Status == status {
			return refOf(d.record()), nil
		}
		before := d.record().Data
		d.Status = status
		// A user may not set a status that takes the record out of their scope; the system
		// (a flow's end node, a rule's action) has full access and is not bound by scopes.
		if err := acc.requireAfter(ctx, ActUpdate, d); err != nil {
			return nil, err
		}
		r, err := a.s.save(ctx, p, d, acc, "record.status", EventStatusChanged, before)
		if engine.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return refOf(r), nil
	}
	return nil, fmt.Errorf("set status of %s: %w", id, engine.ErrConflict)
}

// AttachFiles binds uploaded files to a record's flow timeline (comments, signatures): each must
// be one p may download. Readers of the record may then download them, and they are not
// collected as orphans while the record exists.
func (a recordsAPI) AttachFiles(ctx context.Context, p *engine.Principal, app, form, id string, files []string) error {
	return a.s.attachToFlow(ctx, p, app, form, id, files)
}

// FileMeta describes an uploaded file of app, checking no permission.
func (a recordsAPI) FileMeta(ctx context.Context, app, id string) (engine.FileMeta, error) {
	f, err := lookup{a.s}.File(ctx, app, id) // store.ErrNotFound is engine.ErrNotFound
	if err != nil {
		return engine.FileMeta{}, fmt.Errorf("file %s: %w", id, err)
	}
	return engine.FileMeta{ID: f.ID, Name: f.Name, Size: f.Size, Type: f.Type, UploadedBy: f.UploadedBy, UploadedAt: f.UploadedAt}, nil
}

func hasState(sm *StatusModel, key string) bool {
	for _, s := range sm.States {
		if s.Key == key {
			return true
		}
	}
	return false
}

func (a recordsAPI) FieldKeys(ctx context.Context, app, form string) ([]engine.FieldRef, error) {
	c, err := a.s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, err
	}
	out := make([]engine.FieldRef, 0, len(c.Fields))
	for _, f := range c.Fields {
		out = append(out, engine.FieldRef{Key: f.Key, Type: f.Type, Label: f.Label, Public: f.Public})
	}
	return out, nil
}

// VisibleFields applies the form's field rules for p to record id (see engine.Records): a
// field is shown unless a permission of one of p's roles hides it — whatever the actions it
// grants, so a create-only role that hides a field hides it from flows too — and no reading
// role of p whose row scope covers the record leaves it visible.
func (a recordsAPI) VisibleFields(ctx context.Context, p *engine.Principal, app, form, id string) (engine.FieldView, error) {
	if p == nil {
		return engine.FieldView{}, engine.ErrUnauthenticated
	}
	// The form first: an unknown app or form is "not found" before its records are looked at.
	if _, err := a.s.Compiled(ctx, app, form, 0); err != nil {
		return engine.FieldView{}, err
	}
	d, err := a.s.load(ctx, app, form, id, false)
	if err != nil {
		return engine.FieldView{}, err
	}
	c, err := a.s.Compiled(ctx, app, form, d.Version)
	if err != nil {
		return engine.FieldView{}, err
	}
	return a.s.visibleOf(ctx, p, c, a.s.accessFor(ctx, p, c), a.s.permsInForce(ctx, c), d), nil
}

// visibleOf is VisibleFields for record d of compiled version c, with p's access to c and the
// permissions in force already worked out (RecordCards reuses them for many records).
func (s *Service) visibleOf(ctx context.Context, p *engine.Principal, c *Compiled, acc *access, inForce map[string]*compiledPerm, d *recordDoc) engine.FieldView {
	v := engine.FieldView{Fields: []string{}, Readable: acc.can(ActRead) && acc.allows(ctx, ActRead, d)}
	var covering []*compiledPerm
	for _, cp := range acc.scopes[ActRead] {
		if acc.scopeMatches(ctx, cp, d) {
			covering = append(covering, cp)
		}
	}
	for _, f := range c.Fields {
		shown := true
		if !acc.full {
			// A sub-table with a hidden column (a formula over a hidden field) counts as
			// hidden whole here: a field list cannot show part of its rows.
			for _, role := range p.Roles {
				if cp, ok := inForce[role]; ok && hidesPart(cp.hidden, f.Key) {
					shown = false
				}
			}
			for _, cp := range covering {
				shown = shown || !hidesPart(cp.hidden, f.Key)
			}
		}
		if shown {
			v.Fields = append(v.Fields, f.Key)
		}
	}
	return v
}
