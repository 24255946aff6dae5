package rules

import (
	"context"
	"errors"
	"fmt"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// checkLookups checks, when live, that every lookup() of p names a form of app and a field of
// it that a list index serves: a lookup is one indexed query, never a scan.
func (s *Service) checkLookups(ctx context.Context, app string, p *engine.Program, live bool) error {
	if p == nil || !live {
		return nil
	}
	for _, l := range p.Lookups() {
		refs, err := s.k.Records.FieldKeys(ctx, app, l.Form)
		if errors.Is(err, engine.ErrNotFound) {
			return fmt.Errorf("lookup: the app has no form %s", l.Form)
		}
		if err != nil {
			return fmt.Errorf("lookup %s: %w", l.Form, err)
		}
		found := false
		for _, f := range refs {
			found = found || f.Key == l.Field
		}
		if !found {
			return fmt.Errorf("lookup: form %s has no field %s", l.Form, l.Field)
		}
		indexed, err := s.k.Records.IndexedField(ctx, app, l.Form, l.Field)
		if err != nil {
			return fmt.Errorf("lookup %s: %w", l.Form, err)
		}
		if !indexed {
			return fmt.Errorf("lookup: field %s of form %s is not filterable (mark it filterable in the form)", l.Field, l.Form)
		}
	}
	return nil
}

// lookupCandidates is how many records matching a lookup() are looked at, at most, for the
// first one the reader may read.
const lookupCandidates = 20

// withLookup makes the lookup() calls of expressions evaluated with ctx find records of app
// as p reads them: the first record (not deleted, in _id order) of the form whose field
// equals the value that p may read — of the first lookupCandidates that match — with the
// fields engine.Records.VisibleFields lets p see, and its id and status; nil when none is
// found. The records are read a few at a time through the query model (one, when the first
// is readable). The field must be indexed (checked when the rule was saved, and again here:
// the form may have changed since).
func (s *Service) withLookup(ctx context.Context, app string, p *engine.Principal) context.Context {
	return engine.WithExprLookup(ctx, func(ctx context.Context, form, field string, value any) (map[string]any, error) {
		indexed, err := s.k.Records.IndexedField(ctx, app, form, field)
		if errors.Is(err, engine.ErrNotFound) {
			return nil, engine.ExprFail("lookup: the app has no form " + form)
		}
		if err != nil {
			return nil, err
		}
		if !indexed {
			return nil, engine.ExprFail("lookup: field " + field + " of form " + form + " is not filterable")
		}
		types, err := s.fieldTypes(ctx, app, form)
		if err != nil {
			return nil, err
		}
		q := store.Query{Where: store.Eq("data."+field, s.storedValue(types[field], value)), Limit: 1}
		for seen := 0; seen < lookupCandidates; {
			recs, next, err := s.k.Records.RecordPage(ctx, app, form, q)
			if err != nil {
				return nil, err
			}
			for _, r := range recs {
				seen++
				view, err := s.k.Records.VisibleFields(ctx, p, app, form, r.ID)
				if errors.Is(err, engine.ErrNotFound) {
					continue
				}
				if err != nil {
					return nil, err
				}
				if !view.Readable {
					continue
				}
				out := map[string]any{}
				for _, k := range view.Fields {
					if v, ok := r.Data[k]; ok {
						out[k] = v
					}
				}
				out["id"], out["status"] = r.ID, r.Status
				return out, nil
			}
			if next == "" || len(recs) == 0 {
				return nil, nil
			}
			// The first was not readable: the next few at once.
			q.After, q.Limit = next, min(5, lookupCandidates-seen)
		}
		return nil, nil
	})
}
