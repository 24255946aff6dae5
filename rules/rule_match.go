package rules

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// compiledMatch is a list of filters on the records of one form (a schedule trigger's Match,
// update_records' match), each on an indexed field, its values expressions.
type compiledMatch struct {
	form    string
	filters []compiledFilter
}

type compiledFilter struct {
	field, op string
	value     *engine.Program // nil for empty and notEmpty
}

// filterOps are the operators of a Filter and the store operator of each.
var filterOps = map[string]store.Op{
	"eq": store.OpEq, "ne": store.OpNe, "gt": store.OpGt, "gte": store.OpGte, "lt": store.OpLt, "lte": store.OpLte,
	"in": store.OpIn, "startsWith": store.OpStartsWith, "empty": store.OpEmpty, "notEmpty": store.OpNotEmpty,
}

// compileMatch checks filters on the records of form (at rel, a pointer made absolute by at):
// at least one, each on a field of the form that a list index serves (when live), with a
// value expression unless the operator takes none.
func (s *Service) compileMatch(ctx context.Context, app, form string, filters []Filter, live bool, fe *engine.FieldErrors, at func(string) string) (*compiledMatch, error) {
	m := &compiledMatch{form: form}
	if len(filters) == 0 {
		fe.Add(at(""), "required", nil)
		return m, nil
	}
	var fields map[string]engine.FieldRef
	if live {
		refs, err := s.k.Records.FieldKeys(ctx, app, form)
		if errors.Is(err, engine.ErrNotFound) {
			return m, nil // the form is reported where it is named
		}
		if err != nil {
			return nil, fmt.Errorf("fields of %s: %w", form, err)
		}
		fields = map[string]engine.FieldRef{}
		for _, f := range refs {
			fields[f.Key] = f
		}
	}
	for i, f := range filters {
		p := "/" + strconv.Itoa(i)
		if _, ok := filterOps[f.Op]; !ok {
			fe.Add(at(p+"/op"), "not_found", map[string]any{"value": f.Op})
			continue
		}
		if live {
			if _, ok := fields[f.Field]; !ok {
				fe.Add(at(p+"/field"), "not_found", map[string]any{"value": f.Field})
				continue
			}
			indexed, err := s.k.Records.IndexedField(ctx, app, form, f.Field)
			if err != nil {
				return nil, fmt.Errorf("compile match on %s: %w", form, err)
			}
			if !indexed {
				fe.Add(at(p+"/field"), "rule_match_not_indexed", map[string]any{"field": f.Field})
				continue
			}
		}
		cf := compiledFilter{field: f.Field, op: f.Op}
		switch {
		case f.Op == "empty" || f.Op == "notEmpty":
			if f.Value != "" {
				fe.Add(at(p+"/value"), "unknown_field", nil)
			}
		case f.Value == "":
			fe.Add(at(p+"/value"), "required", nil)
		default:
			prog, err := s.k.Exprs.Compile(f.Value, conditionEnv, engine.ExprAny)
			if err != nil {
				fe.Add(at(p+"/value"), "expr", map[string]any{"detail": exprDetail(err)})
				continue
			}
			if err := s.checkLookups(ctx, app, prog, live); err != nil {
				fe.Add(at(p+"/value"), "expr", map[string]any{"detail": err.Error()})
				continue
			}
			cf.value = prog
		}
		m.filters = append(m.filters, cf)
	}
	return m, nil
}

// where evaluates the filters' values with vars and makes the store condition; a value is
// given the form a field of its type is stored in (a date field holds "YYYY-MM-DD" text, a
// datetime field a time).
func (s *Service) matchWhere(ctx context.Context, app string, m *compiledMatch, vars map[string]any) (store.Cond, map[string]any, error) {
	types, err := s.fieldTypes(ctx, app, m.form)
	if err != nil {
		return store.Cond{}, nil, err
	}
	conds := make([]store.Cond, 0, len(m.filters))
	shown := map[string]any{}
	for _, f := range m.filters {
		c := store.Cond{Path: "data." + f.field, Op: filterOps[f.op]}
		if f.value != nil {
			v, err := f.value.Eval(ctx, vars)
			if err != nil {
				return store.Cond{}, nil, fmt.Errorf("match %s: %s", f.field, exprDetail(err))
			}
			if f.op == "in" {
				l, ok := v.([]any)
				if !ok {
					return store.Cond{}, nil, fmt.Errorf("match %s: in needs a list", f.field)
				}
				out := make([]any, len(l))
				for i, x := range l {
					out[i] = s.storedValue(types[f.field], x)
				}
				c.Value = out
			} else {
				c.Value = s.storedValue(types[f.field], v)
			}
			shown[f.field+" "+f.op] = c.Value
		} else {
			shown[f.field+" "+f.op] = true
		}
		conds = append(conds, c)
	}
	return store.And(conds...), shown, nil
}

// storedValue is v as a field of type typ is stored.
func (s *Service) storedValue(typ string, v any) any {
	switch typ {
	case "date":
		if t, ok := v.(time.Time); ok {
			return t.In(s.k.Location()).Format(dateLayout)
		}
	case "datetime":
		switch x := v.(type) {
		case time.Time:
			return x.UTC()
		case string:
			if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
				return t.UTC()
			}
		}
	}
	if n, ok := v.(int); ok {
		return float64(n)
	}
	return v
}

// fieldTypes maps the fields of a form's latest version to their x-type.
func (s *Service) fieldTypes(ctx context.Context, app, form string) (map[string]string, error) {
	refs, err := s.k.Records.FieldKeys(ctx, app, form)
	if err != nil {
		return nil, fmt.Errorf("fields of %s: %w", form, err)
	}
	out := make(map[string]string, len(refs))
	for _, f := range refs {
		out[f.Key] = f.Type
	}
	return out, nil
}

// matchPage is the most records matching reads at a time.
const matchPage = 200

// matching reads the records of m's form that match where, at most limit of them; capped
// says more matched. It asks the store for no more than it needs (one page of at most
// matchPage records at a time, and one record past the limit).
func (s *Service) matching(ctx context.Context, app, form string, where store.Cond, limit int) ([]*engine.RecordRef, bool, error) {
	return s.matchingSkip(ctx, app, form, where, limit, nil)
}

// matchingSkip is matching that leaves out the records skip says to (those a schedule firing
// ran on before): they do not count against limit, so its places go to records not yet run.
func (s *Service) matchingSkip(ctx context.Context, app, form string, where store.Cond, limit int, skip func(id string) bool) (recs []*engine.RecordRef, capped bool, err error) {
	n, after := 0, ""
	for {
		size := limit - n + 1 // one past the limit tells whether it was reached
		if skip != nil {
			size = matchPage // records left out do not fill the page
		}
		page, next, err := s.k.Records.RecordPage(ctx, app, form, store.Query{Where: where, Limit: min(size, matchPage), After: after})
		if err != nil {
			return nil, false, fmt.Errorf("records of %s matching: %w", form, err)
		}
		for _, r := range page {
			if skip != nil && skip(r.ID) {
				continue
			}
			if n == limit {
				return recs, true, nil
			}
			n++
			recs = append(recs, r)
		}
		if next == "" || len(page) == 0 {
			return recs, false, nil
		}
		after = next
	}
}
