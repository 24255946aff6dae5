package forms

import (
	"context"
	"errors"
	"fmt"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// actionRunsCollection claims the runs of record.create by key: the claim, a unique insert made
// before anything else is written, fixes the id of the record the run creates, so a run again
// after a crash, or at the same time on another node, finds that record instead of making a
// second one.
const actionRunsCollection = "action_runs"

type actionRun struct {
	Record string `bson:"record"`
	// Form is the form the record is created in (absent in claims made before it was kept).
	Form string `bson:"form,omitempty"`
}

// claimActionRun claims key for a record.create of a record in form, or returns the claim made
// before.
func (s *Service) claimActionRun(ctx context.Context, key, form string) (actionRun, error) {
	run := actionRun{Record: newID(s.now()), Form: form}
	err := s.st.Put(ctx, actionRunsCollection, key, run)
	if err == nil {
		return run, nil
	}
	if !errors.Is(err, store.ErrDuplicate) {
		return actionRun{}, fmt.Errorf("claim action run %s: %w", key, err)
	}
	var prev actionRun
	if err := s.st.Get(ctx, actionRunsCollection, key, &prev); err != nil {
		return actionRun{}, fmt.Errorf("claim action run %s: %w", key, err)
	}
	if prev.Form == "" {
		prev.Form = form
	}
	return prev, nil
}

// registerActions puts the form engine's automatic actions on the kernel.
func (s *Service) registerActions() {
	valuesOf := func(params map[string]any) (map[string]any, error) {
		v, ok := params["values"].(map[string]any)
		if !ok || len(v) == 0 {
			return nil, engine.Invalid("values", "required", nil)
		}
		return v, nil
	}
	s.k.Actions.Register("record.set_fields", engine.Action{
		ID: "record.set_fields", Label: engine.Text{ZH: "修改字段", EN: "Set fields"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			_, err := valuesOf(params)
			return err
		},
		Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
			values, err := valuesOf(ac.Params)
			if err != nil {
				return nil, err
			}
			for attempt := 0; attempt < 5; attempt++ {
				d, err := s.load(ctx, ac.App, ac.Form, ac.Record, false)
				if err != nil {
					return nil, err
				}
				r, err := s.Update(ctx, ac.Actor, ac.App, ac.Form, ac.Record, d.Rev, values)
				if engine.IsConflict(err) {
					continue
				}
				if err != nil {
					return nil, err
				}
				return map[string]any{"rev": r.Rev}, nil
			}
			return nil, fmt.Errorf("set fields of %s: %w", ac.Record, engine.ErrConflict)
		},
	})
	s.k.Actions.Register("record.create", engine.Action{
		ID: "record.create", Label: engine.Text{ZH: "新增记录", EN: "Create a record"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			var fe engine.FieldErrors
			form, _ := params["form"].(string)
			if ok, err := (lookup{s}).FormExists(ctx, app, form); err != nil {
				return err
			} else if !ok {
				fe.Add("form", "not_found", map[string]any{"value": form})
			}
			if _, err := valuesOf(params); err != nil {
				fe = append(fe, engine.FieldError{Path: "values", Code: "required"})
			}
			return fe.Err()
		},
		Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
			form, _ := ac.Params["form"].(string)
			values, err := valuesOf(ac.Params)
			if err != nil {
				return nil, err
			}
			if ac.Key == "" {
				r, err := s.Create(ctx, ac.Actor, ac.App, form, values)
				if err != nil {
					return nil, err
				}
				return map[string]any{"record": r.ID}, nil
			}
			run, err := s.claimActionRun(ctx, ac.Key, form)
			if err != nil {
				return nil, err
			}
			// The claim's record exists (deleted since, perhaps): this run was done before.
			if _, err := s.load(ctx, ac.App, run.Form, run.Record, true); err == nil {
				return map[string]any{"record": run.Record}, nil
			} else if !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			r, err := s.createAs(ctx, ac.Actor, ac.App, run.Form, run.Record, values)
			if errors.Is(err, store.ErrDuplicate) {
				return map[string]any{"record": run.Record}, nil // a run at the same time made it
			}
			if err != nil {
				return nil, err
			}
			return map[string]any{"record": r.ID}, nil
		},
	})
	s.k.Actions.Register("record.set_status", engine.Action{
		ID: "record.set_status", Label: engine.Text{ZH: "设置状态", EN: "Set status"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			if st, _ := params["status"].(string); st == "" {
				return engine.Invalid("status", "required", nil)
			}
			return nil
		},
		Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
			st, _ := ac.Params["status"].(string)
			r, err := recordsAPI{s}.SetRecordStatus(ctx, ac.Actor, ac.App, ac.Form, ac.Record, st)
			if err != nil {
				return nil, err
			}
			return map[string]any{"status": r.Status}, nil
		},
	})
}
