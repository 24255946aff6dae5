package forms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"tracecraft/engine"
)

// FormFields implements engine.Records.FormFields: the fields of version n (0: the latest).
func (a recordsAPI) FormFields(ctx context.Context, app, form string, n int) ([]engine.FieldSpec, error) {
	c, err := a.s.Compiled(ctx, app, form, n)
	if err != nil {
		return nil, err
	}
	return fieldSpecs(c.Fields), nil
}

func fieldSpecs(fields []*Field) []engine.FieldSpec {
	out := make([]engine.FieldSpec, 0, len(fields))
	for _, f := range fields {
		fs := engine.FieldSpec{Key: f.Key, Type: f.Type, Label: f.Label}
		if f.Type == FieldTypeSubtable {
			fs.Columns = fieldSpecs(f.Fields)
		}
		if o, ok := f.State.(*RelationOptions); ok && f.Type == FieldTypeRelation {
			fs.Target, fs.Multiple = o.Form, o.Multiple
		}
		out = append(out, fs)
	}
	return out
}

// RecordValues implements engine.Records.RecordValues: the record as p may read it, its hidden
// fields and columns left out (as Get leaves them out), values as a printed page shows them.
func (a recordsAPI) RecordValues(ctx context.Context, p *engine.Principal, app, form, id, lang string) (*engine.RecordValues, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	d, c, acc, err := a.s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return nil, err
	}
	rec := d.record()
	data := acc.visible(ctx, d, rec.Data)
	r := &valueResolver{s: a.s, p: p, app: app, lang: lang}
	out := &engine.RecordValues{ID: rec.ID, Form: form, Version: rec.Version, Status: rec.Status, Values: map[string]any{}}
	for _, f := range c.Fields {
		v, ok := data[f.Key]
		if !ok || v == nil {
			continue
		}
		pv, err := r.value(ctx, f, v)
		if err != nil {
			return nil, fmt.Errorf("values of %s/%s/%s: %w", app, form, id, err)
		}
		if pv != nil {
			out.Values[f.Key] = pv
		}
		if f.Type == FieldTypeRelation {
			if ids := refIDs(v); len(ids) > 0 {
				if out.Related == nil {
					out.Related = map[string][]string{}
				}
				out.Related[f.Key] = ids
			}
		}
	}
	return out, nil
}

// valueResolver turns stored values into printed ones, remembering the names it looked up.
type valueResolver struct {
	s      *Service
	p      *engine.Principal
	app    string
	lang   string
	users  map[string]string
	depts  map[string]string
	titles map[string]string // form/id → title
}

func (r *valueResolver) value(ctx context.Context, f *Field, v any) (any, error) {
	switch f.Type {
	case FieldTypeSubtable:
		rows, _ := v.([]any)
		out := make([]map[string]any, 0, len(rows))
		for _, x := range rows {
			row, _ := x.(map[string]any)
			pr := map[string]any{}
			for _, col := range f.Fields {
				cv, ok := row[col.Key]
				if !ok || cv == nil {
					continue
				}
				pv, err := r.value(ctx, col, cv)
				if err != nil {
					return nil, err
				}
				if pv != nil {
					pr[col.Key] = pv
				}
			}
			out = append(out, pr)
		}
		return out, nil
	case FieldTypeUser:
		return r.names(ctx, v, r.userName)
	case FieldTypeDepartment:
		return r.names(ctx, v, r.deptName)
	case FieldTypeRelation:
		o, _ := f.State.(*RelationOptions)
		if o == nil {
			return nil, nil
		}
		return r.names(ctx, v, func(ctx context.Context, id string) (string, error) { return r.title(ctx, o, id) })
	case FieldTypeImage, FieldTypeAttachment, FieldTypeSignature:
		return refIDs(v), nil
	case FieldTypeDate:
		if t, ok := v.(time.Time); ok {
			return t.In(r.s.loc).Format("2006-01-02"), nil
		}
	case FieldTypeDateTime:
		if t, ok := v.(time.Time); ok {
			return t.In(r.s.loc).Format(time.RFC3339), nil
		}
	case FieldTypeSwitch:
		if b, ok := v.(bool); ok {
			return b, nil
		}
	}
	switch x := v.(type) {
	case float64, bool:
		return x, nil
	case int32:
		return float64(x), nil
	case int64:
		return float64(x), nil
	case time.Time:
		return x.In(r.s.loc).Format(time.RFC3339), nil
	}
	switch cv := r.s.cellValue(f, v, r.lang).(type) {
	case float64:
		return cv, nil
	case string:
		return cv, nil
	default:
		return fmt.Sprint(cv), nil
	}
}

// names joins the names of one id or a list of ids.
func (r *valueResolver) names(ctx context.Context, v any, name func(context.Context, string) (string, error)) (any, error) {
	ids := refIDs(v)
	parts := make([]string, 0, len(ids))
	for _, id := range ids {
		n, err := name(ctx, id)
		if err != nil {
			return nil, err
		}
		parts = append(parts, n)
	}
	sep := "、"
	if r.lang == engine.LangEN {
		sep = ", "
	}
	return strings.Join(parts, sep), nil
}

func (r *valueResolver) userName(ctx context.Context, name string) (string, error) {
	if n, ok := r.users[name]; ok {
		return n, nil
	}
	u, err := r.s.k.Auth.GetUser(ctx, name)
	n := name
	switch {
	case err == nil && strings.TrimSpace(u.DisplayName) != "":
		n = u.DisplayName
	case err != nil && !errors.Is(err, engine.ErrNotFound):
		return "", err
	}
	if r.users == nil {
		r.users = map[string]string{}
	}
	r.users[name] = n
	return n, nil
}

func (r *valueResolver) deptName(ctx context.Context, id string) (string, error) {
	if r.depts == nil {
		r.depts = map[string]string{}
		all, err := r.s.k.Auth.ListDepartments(ctx)
		if err != nil {
			return "", err
		}
		for _, d := range all {
			r.depts[d.ID] = d.Name.In(r.lang)
		}
	}
	if n, ok := r.depts[id]; ok && n != "" {
		return n, nil
	}
	return id, nil
}

// title is how a relation shows the record id of form o.Form: its display field (the
// relation's, else the form's title field) as text when p may read the related record and
// see that field, else the bare id (a record p may not read lends none of its values).
func (r *valueResolver) title(ctx context.Context, o *RelationOptions, id string) (string, error) {
	key := o.Form + "/" + id
	if t, ok := r.titles[key]; ok {
		return t, nil
	}
	t := id
	d, err := r.s.load(ctx, r.app, o.Form, id, false)
	switch {
	case errors.Is(err, engine.ErrNotFound):
	case err != nil:
		return "", err
	default:
		c, err := r.s.Compiled(ctx, r.app, o.Form, d.Version)
		if err != nil {
			return "", err
		}
		field := o.DisplayField
		if field == "" {
			field = c.Def.TitleField
		}
		view := r.s.visibleOf(ctx, r.p, c, r.s.accessFor(ctx, r.p, c), r.s.permsInForce(ctx, c), d)
		for _, f := range c.Fields {
			if f.Key != field || !view.Readable || !contains(view.Fields, field) {
				continue
			}
			if v, ok := d.record().Data[field]; ok && v != nil {
				if s := r.s.cardText(f, v, r.lang); strings.TrimSpace(s) != "" {
					t = s
				}
			}
		}
	}
	if r.titles == nil {
		r.titles = map[string]string{}
	}
	r.titles[key] = t
	return t, nil
}

// refIDs reads one id or a list of ids (users, departments, relations, files).
func refIDs(v any) []string {
	switch x := v.(type) {
	case string:
		if x == "" {
			return nil
		}
		return []string{x}
	case []string:
		return x
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			switch e := e.(type) {
			case string:
				out = append(out, e)
			case map[string]any:
				if id, ok := e["id"].(string); ok {
					out = append(out, id)
				}
			}
		}
		return out
	}
	return nil
}
