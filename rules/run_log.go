package rules

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Outcomes of a run.
const (
	OutcomeFired          = "fired"           // the condition held and every action ran
	OutcomeConditionFalse = "condition_false" // the trigger matched, the condition did not hold
	OutcomeDepthCapped    = "depth_capped"    // the record event came from a chain MaxDepth deep
	OutcomeFailed         = "failed"          // the condition or an action failed (retried)
)

// Run is one evaluation of a rule: what triggered it, on which record, at which chain depth,
// what came of it, and each action's result or error.
type Run struct {
	ID      string      `json:"id" bson:"_id"`
	App     string      `json:"app" bson:"app"`
	Rule    string      `json:"rule" bson:"rule"`
	Version int         `json:"version" bson:"version"`
	Trigger string      `json:"trigger" bson:"trigger"` // the event type, or "date:<due day>"
	Event   string      `json:"event,omitempty" bson:"event,omitempty"`
	Form    string      `json:"form" bson:"form"`
	Record  string      `json:"record" bson:"record"`
	Actor   string      `json:"actor,omitempty" bson:"actor,omitempty"`
	Depth   int         `json:"depth" bson:"depth"`
	Outcome string      `json:"outcome" bson:"outcome"`
	Reason  string      `json:"reason,omitempty" bson:"reason,omitempty"`
	Actions []ActionRun `json:"actions" bson:"actions"`
	Error   string      `json:"error,omitempty" bson:"error,omitempty"`
	At      time.Time   `json:"at" bson:"at"`
}

// ActionRun is what one action of a run did.
type ActionRun struct {
	Type   string         `json:"type" bson:"type"`
	Action string         `json:"action" bson:"action"` // the kernel action
	Params map[string]any `json:"params,omitempty" bson:"params,omitempty"`
	Result map[string]any `json:"result,omitempty" bson:"result,omitempty"`
	Error  string         `json:"error,omitempty" bson:"error,omitempty"`
}

// runSeq orders the ids this process makes within one millisecond.
var runSeq atomic.Uint32

// newRunID is a time-ordered unique id: the time, a counter of this process, random bytes.
func newRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%013x%08x%s", now.UnixMilli(), runSeq.Add(1), hex.EncodeToString(b[:]))
}

// plain turns decoded BSON (documents, arrays) into plain maps and slices.
func plain(v any) any {
	switch x := v.(type) {
	case bson.D:
		m := make(map[string]any, len(x))
		for _, e := range x {
			m[e.Key] = plain(e.Value)
		}
		return m
	case bson.M:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case map[string]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case bson.A:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = plain(e)
		}
		return l
	case []any:
		l := make([]any, len(x))
		for i, e := range x {
			l[i] = plain(e)
		}
		return l
	}
	return v
}

func plainMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return plain(m).(map[string]any)
}

// logRun stores a run; a failure to store it is logged, not returned: the run's actions are
// done and must not be repeated for the sake of the log.
func (s *Service) logRun(ctx context.Context, r *Run) {
	r.At = s.now().UTC().Truncate(time.Millisecond)
	r.ID = newRunID(r.At)
	if r.Actions == nil {
		r.Actions = []ActionRun{}
	}
	if err := s.st.Put(ctx, runsCollection, r.ID, r); err != nil {
		s.k.Log.Error("rule run not logged", "app", r.App, "rule", r.Rule, "record", r.Record, "outcome", r.Outcome, "err", err)
	}
}

// RunList is a page of a rule's runs, newest first.
type RunList struct {
	Items []Run  `json:"items"`
	Next  string `json:"next,omitempty"`
}

// Runs lists the runs of rule app/key, newest first, for the app's designers.
func (s *Service) Runs(ctx context.Context, p *engine.Principal, app, key string, limit int, next string) (*RunList, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	if _, err := s.defs.Latest(ctx, app, key); err != nil {
		return nil, fmt.Errorf("rule %s: %w", key, err)
	}
	page, err := s.st.Query(ctx, runsCollection, store.Query{Where: store.And(store.Eq("app", app), store.Eq("rule", key)),
		Sort: []store.SortKey{{Path: "at", Desc: true}}, Limit: min(max(limit, 0), 200), After: next})
	if err != nil {
		return nil, fmt.Errorf("runs of rule %s: %w", key, err)
	}
	out := &RunList{Items: []Run{}, Next: page.Next}
	for _, raw := range page.Docs {
		var r Run
		if err := bson.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("runs of rule %s: %w", key, err)
		}
		for i := range r.Actions {
			r.Actions[i].Params, r.Actions[i].Result = plainMap(r.Actions[i].Params), plainMap(r.Actions[i].Result)
		}
		out.Items = append(out.Items, r)
	}
	return out, nil
}

// PruneRuns deletes the runs logged before before (the prune job passes now − RunRetention).
func (s *Service) PruneRuns(ctx context.Context, before time.Time) (int, error) {
	var ids []string
	q := store.Query{Where: store.Lt("at", before.UTC()), Sort: []store.SortKey{{Path: "at"}}, Limit: 500, Fields: []string{"_id"}}
	err := s.st.QueryEach(ctx, runsCollection, q, func(raw bson.Raw) error {
		id, _ := raw.Lookup("_id").StringValueOK()
		ids = append(ids, id)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune rule runs: %w", err)
	}
	for i, id := range ids {
		if err := s.st.Delete(ctx, runsCollection, id); err != nil {
			return i, fmt.Errorf("prune rule runs: %w", err)
		}
	}
	return len(ids), nil
}
