package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// updateRecordsParams: {"form": "lot", "match": [{"field": "material", "op": "eq", "value":
// "record.code"}], "values": {"qc": "'hold'", "note": "concat(target.note, ' (material held)')"}}
// sets fields of every record of a form of the app that matches (an indexed query: each
// filter's field must be x-filterable), at most Options.MaxRecords records a run — the result
// in the run log says when more matched. Each value is an expression over the rule's
// variables and target, the data of the record being updated. Every record is written through
// record.set_fields at the chain depth of the rule's run plus one, so a rule that updates its
// own form stops at the depth cap; each record is claimed per run, so a run again (the bus
// retrying a failure) does not update a record twice.
type updateRecordsParams struct {
	Form   string            `json:"form"`
	Match  []Filter          `json:"match"`
	Values map[string]string `json:"values"`
}

// updateClaimFor is how long the per-record claims of an update_records run are kept.
const updateClaimFor = 7 * 24 * time.Hour

// In-memory members of update_records' params (redact leaves members starting with _ out).
const (
	updateWhere  = "_where"
	updateValues = "_values"
)

type updateValuesFunc func(ctx context.Context, target map[string]any) (map[string]any, error)

func init() {
	registerActionKind("update_records", actionKind{kernel: "record.set_fields", run: runUpdateRecords,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p updateRecordsParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if p.Form == "" {
				return nil, engine.Invalid("/form", "required", nil)
			}
			if len(p.Values) == 0 {
				return nil, engine.Invalid("/values", "required", nil)
			}
			if cc.live {
				refs, err := cc.s.k.Records.FieldKeys(cc.ctx, cc.app, p.Form)
				if errors.Is(err, engine.ErrNotFound) {
					return nil, engine.Invalid("/form", "not_found", map[string]any{"value": p.Form})
				}
				if err != nil {
					return nil, fmt.Errorf("update_records: %w", err)
				}
				known := map[string]bool{}
				for _, f := range refs {
					known[f.Key] = true
				}
				for k := range p.Values {
					if !known[k] {
						cc.fe.Add(cc.at("/values/"+k), "not_found", map[string]any{"value": k})
					}
				}
			}
			m, err := cc.s.compileMatch(cc.ctx, cc.app, p.Form, p.Match, cc.live, cc.fe, func(rel string) string { return cc.at("/match" + rel) })
			if err != nil {
				return nil, err
			}
			values := cc.compileExprMap("/values", p.Values)
			sources := map[string]any{}
			for k, v := range p.Values {
				sources[k] = v
			}
			return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
				app, _ := vars["app"].(string)
				where, shown, err := cc.s.matchWhere(ctx, app, m, vars)
				if err != nil {
					return nil, err
				}
				each := updateValuesFunc(func(ctx context.Context, target map[string]any) (map[string]any, error) {
					v := maps.Clone(vars)
					v["target"] = target
					return values.eval(ctx, v)
				})
				return map[string]any{"form": p.Form, "match": shown, "values": sources, updateWhere: where, updateValues: each}, nil
			}, nil
		}})
}

// runUpdateRecords finds the records to update and sets each one's values.
func runUpdateRecords(ctx context.Context, s *Service, _ *Compiled, ac engine.ActionContext) (map[string]any, error) {
	form, _ := ac.Params["form"].(string)
	where, ok1 := ac.Params[updateWhere].(store.Cond)
	each, ok2 := ac.Params[updateValues].(updateValuesFunc)
	if !ok1 || !ok2 {
		return nil, errors.New("update_records: params were not prepared by a rule")
	}
	setFields, ok := s.k.Actions.Get("record.set_fields")
	if !ok {
		return nil, errors.New("update_records: no record.set_fields action")
	}
	recs, capped, err := s.matching(ctx, ac.App, form, where, s.opts.MaxRecords)
	if err != nil {
		return nil, err
	}
	updated := 0
	for _, r := range recs {
		claim := "update:" + ac.Key + ":" + r.ID
		err := s.st.Put(ctx, firedCollection, claim, map[string]any{"record": r.ID, "at": s.now().UTC(), "until": s.now().UTC().Add(updateClaimFor)})
		if errors.Is(err, store.ErrDuplicate) {
			updated++ // updated by this run before
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("update_records: claim: %w", err)
		}
		values, err := each(ctx, r.Data)
		if err == nil {
			_, err = setFields.Run(ctx, engine.ActionContext{Key: ac.Key + "/" + r.ID, App: ac.App, Form: form, Record: r.ID,
				Actor: ac.Actor, Params: map[string]any{"values": values}})
		}
		if err != nil {
			if derr := s.st.Delete(context.WithoutCancel(ctx), firedCollection, claim); derr != nil {
				s.k.Log.Error("update claim not released", "claim", claim, "err", derr)
			}
			return nil, fmt.Errorf("update_records: record %s: %s", r.ID, exprDetail(err))
		}
		updated++
	}
	out := map[string]any{"matched": len(recs), "updated": updated, "cap": s.opts.MaxRecords}
	if capped {
		out["capped"] = true
		out["note"] = fmt.Sprintf("more than %d records matched; the cap is %d: only the first %d were updated", s.opts.MaxRecords, s.opts.MaxRecords, s.opts.MaxRecords)
	}
	return out, nil
}
