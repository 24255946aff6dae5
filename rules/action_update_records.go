package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// updateRecordsParams: {"form": "lot", "match": [{"field": "material", "op": "eq", "value":
// "record.code"}], "values": {"qc": "'hold'", "note": "concat(target.note, ' (material held)')"}}
// sets fields of every record of a form of the app that matches (an indexed query: each
// filter's field must be x-filterable), at most Options.MaxRecords records a run — the result
// in the run log says when more matched. Each value is an expression over the rule's
// variables and target, the data of the record being updated. Every record is written at the
// revision it was read at (runUpdateRecords), at the chain depth of the rule's run plus one, so
// a rule that updates its own form stops at the depth cap; each record is claimed per run, so
// a run again (the bus retrying a failure) does not update a record twice.
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

// updateAttempts bounds how often update_records writes one record that others keep
// changing: each conflict reloads it and works its values out again.
const updateAttempts = 5

// runUpdateRecords finds the records to update and sets each one's values. A record is
// claimed (pending) before it is written and its claim done after: a run again skips the
// records it updated; one that finds a claim left pending by a node that stopped takes it
// over after claimLease and writes the record again (at least once, with values worked out
// from the record as it is then). Each record is written at the revision its values were
// worked out from; when someone else wrote it in between, it is read again and its values
// worked out again (updateAttempts times at most), so a concurrent edit is never overwritten
// with values computed from what it replaced.
func runUpdateRecords(ctx context.Context, s *Service, _ *Compiled, ac engine.ActionContext) (map[string]any, error) {
	form, _ := ac.Params["form"].(string)
	where, ok1 := ac.Params[updateWhere].(store.Cond)
	each, ok2 := ac.Params[updateValues].(updateValuesFunc)
	if !ok1 || !ok2 {
		return nil, errors.New("update_records: params were not prepared by a rule")
	}
	recs, capped, err := s.matching(ctx, ac.App, form, where, s.opts.MaxRecords)
	if err != nil {
		return nil, err
	}
	updated := 0
	for _, r := range recs {
		claim := "update:" + ac.Key + ":" + r.ID
		held, err := s.take(ctx, claim, bson.D{{Key: "record", Value: r.ID}, {Key: "until", Value: s.now().UTC().Add(updateClaimFor)}})
		if err != nil {
			return nil, fmt.Errorf("update_records: %w", err)
		}
		switch held {
		case claimFinished:
			updated++ // updated by this run before
			continue
		case claimBusy:
			return nil, fmt.Errorf("update_records: record %s: another run is updating it", r.ID)
		}
		if err := s.updateRecord(ctx, ac, form, r, each); err != nil {
			s.release(ctx, claim)
			return nil, fmt.Errorf("update_records: record %s: %s", r.ID, exprDetail(err))
		}
		if err := s.settle(ctx, claim); err != nil {
			return nil, fmt.Errorf("update_records: %w", err)
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

// updateRecord writes each's values for r at r's revision, as the rule's actor (at the chain
// depth of ctx); on a conflict it reads the record again and works the values out again. A
// record deleted in between is left alone.
func (s *Service) updateRecord(ctx context.Context, ac engine.ActionContext, form string, r *engine.RecordRef, each updateValuesFunc) error {
	for attempt := 0; ; attempt++ {
		values, err := each(ctx, r.Data)
		if err != nil {
			return err
		}
		_, err = s.k.Records.UpdateRecord(ctx, ac.Actor, ac.App, form, r.ID, r.Rev, values)
		if errors.Is(err, engine.ErrNotFound) {
			return nil
		}
		if !engine.IsConflict(err) {
			return err
		}
		if attempt+1 == updateAttempts {
			return fmt.Errorf("written by others %d times while it was updated: %w", updateAttempts, err)
		}
		if r, err = s.k.Records.GetRecord(ctx, ac.Actor, ac.App, form, r.ID); errors.Is(err, engine.ErrNotFound) {
			return nil
		} else if err != nil {
			return err
		}
	}
}
