package workflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Flow is a flow definition's draft and how far it is published. The draft is stored as JSON
// text: FerretDB refuses keys with "." or a leading "$", which action params may hold.
type Flow struct {
	ID        string     `json:"id" bson:"_id"` // app/key
	App       string     `json:"app" bson:"app"`
	Key       string     `json:"key" bson:"key"`
	Form      string     `json:"form" bson:"form"`
	Draft     Definition `json:"draft" bson:"-"`
	DraftJSON string     `json:"-" bson:"draft"`
	Published int        `json:"published" bson:"published"` // 0: never published
	UpdatedBy string     `json:"updatedBy" bson:"updated_by"`
	UpdatedAt time.Time  `json:"updatedAt" bson:"updated_at"`
	Rev       int64      `json:"rev" bson:"_rev"`
}

// FlowVersion is a published, immutable version of a flow. Instances keep the version they
// started on; publishing again makes a new version and never changes this one.
type FlowVersion struct {
	ID          string     `json:"id" bson:"_id"` // app/key@n
	App         string     `json:"app" bson:"app"`
	Key         string     `json:"key" bson:"key"`
	Form        string     `json:"form" bson:"form"`
	Number      int        `json:"version" bson:"version"`
	Definition  Definition `json:"definition" bson:"-"`
	DefJSON     string     `json:"-" bson:"definition"`
	PublishedBy string     `json:"publishedBy" bson:"published_by"`
	PublishedAt time.Time  `json:"publishedAt" bson:"published_at"`
	// Fields are the form's fields when the version was published: the environment its
	// conditions are compiled in again, however the form changes later.
	Fields []engine.FieldRef `json:"-" bson:"fields"`
	// Unchanged is set on the answer to a publish whose draft had not changed since this
	// version: no version was made.
	Unchanged bool `json:"unchanged,omitempty" bson:"-"`
}

// flowBinding lists the flows of a form that start when one of its records is created.
type flowBinding struct {
	ID    string   `bson:"_id"` // app/form
	App   string   `bson:"app"`
	Form  string   `bson:"form"`
	Flows []string `bson:"flows"`
	Rev   int64    `bson:"_rev"`
}

func flowID(app, key string) string { return app + "/" + key }

func flowVersionID(app, key string, n int) string { return app + "/" + key + "@" + strconv.Itoa(n) }

// SaveDraft checks a definition and stores it as the flow's draft; it needs app.design. rev is
// the draft revision the caller edited (0 for a new flow); a stale rev is a conflict. Published
// versions are never touched: publishing is a separate step.
func (s *Service) SaveDraft(ctx context.Context, p *engine.Principal, app string, raw []byte, rev int64) (*Flow, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	c, err := s.Compile(ctx, app, raw)
	if err != nil {
		return nil, err
	}
	// Store the definition as written (Compiled.Def has defaults filled in), in canonical JSON.
	var def Definition
	if err := engine.DecodeStrict(raw, &def); err != nil {
		return nil, err
	}
	canon, err := json.Marshal(def)
	if err != nil {
		return nil, fmt.Errorf("save flow %s: %w", c.Key, err)
	}
	d, err := s.defs.SaveDraft(ctx, p, engine.DraftInput{App: app, Key: def.Key, JSON: string(canon), Rev: rev,
		Extra: bson.D{{Key: "form", Value: def.Form}}})
	if err != nil {
		return nil, err
	}
	return &Flow{ID: d.ID, App: app, Key: def.Key, Form: def.Form, Draft: def, DraftJSON: d.DraftJSON, Published: d.Published,
		UpdatedBy: d.UpdatedBy, UpdatedAt: d.UpdatedAt, Rev: d.Rev}, nil
}

// Publish makes the current draft the flow's next version; it needs app.design. The draft is
// compiled again first: a role, user or form field it names may have gone since it was saved. A
// draft unchanged since the latest version (and a form whose fields are as they were) publishes
// nothing: that version is answered.
func (s *Service) Publish(ctx context.Context, p *engine.Principal, app, key string) (*FlowVersion, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	var (
		def    Definition
		fields []engine.FieldRef
		prev   *FlowVersion
	)
	dv, made, err := s.defs.Publish(ctx, p, app, key, engine.Publishing{
		Prepare: func(ctx context.Context, d *engine.Draft, pv *engine.Version) (bson.D, error) {
			var err error
			if _, fields, err = s.compileFlow(ctx, app, []byte(d.DraftJSON), &liveWorld{s: s}); err != nil {
				return nil, err
			}
			if fields == nil {
				fields = []engine.FieldRef{}
			}
			if err := json.Unmarshal([]byte(d.DraftJSON), &def); err != nil {
				return nil, fmt.Errorf("publish flow %s: %w", d.ID, err)
			}
			prev = nil
			if pv != nil {
				if prev, err = s.readFlowVersion(ctx, app, key, pv.Number); err != nil {
					return nil, err
				}
			}
			return bson.D{{Key: "form", Value: def.Form}, {Key: "fields", Value: fields}}, nil
		},
		Audit: func(*engine.Version) map[string]any { return map[string]any{"form": def.Form} },
		Unchanged: func(v *engine.Version, _ bson.D, _ *engine.Version) bool {
			return prev != nil && prev.DefJSON == v.DefJSON && slices.Equal(prev.Fields, fields)
		},
		// The binding entry before the version: a process that stops in between leaves an extra
		// entry, which flowsOnCreate ignores (it asks the latest version), never a missing one.
		Before: func(ctx context.Context, v *engine.Version, _ *engine.Version) error {
			if def.Trigger.On == "create" {
				return s.updateBinding(ctx, app, def.Form, key, true)
			}
			return nil
		},
		After: func(ctx context.Context, v *engine.Version, _ *engine.Version) error {
			return s.bindOnCreate(ctx, prev, flowVersionOf(v, def, fields))
		},
	})
	if err != nil {
		return nil, err
	}
	if !made {
		prev.Unchanged = true
		return prev, nil
	}
	return flowVersionOf(dv, def, fields), nil
}

func flowVersionOf(v *engine.Version, def Definition, fields []engine.FieldRef) *FlowVersion {
	return &FlowVersion{ID: v.ID, App: v.App, Key: v.Key, Form: def.Form, Number: v.Number, Definition: def, DefJSON: v.DefJSON,
		PublishedBy: v.PublishedBy, PublishedAt: v.PublishedAt, Fields: fields}
}

// bindOnCreate keeps the bindings of forms to the flows that start on record creation in step
// with a newly stored version v (prev is the version before it, nil for the first): the
// bindings of v's form and of prev's are made to say what the flow's latest version says.
func (s *Service) bindOnCreate(ctx context.Context, prev, v *FlowVersion) error {
	if prev != nil && prev.Form != v.Form {
		if err := s.reconcileBinding(ctx, v.App, prev.Form, v.Key); err != nil {
			return err
		}
	}
	return s.reconcileBinding(ctx, v.App, v.Form, v.Key)
}

// reconcileBinding makes the binding of form list flow key exactly when the flow's latest
// version starts on creating form's records. An entry is removed only after the latest
// version was read, and the latest is read again after the change: a version published
// meanwhile (which added its entry before it was stored) gets its entry back.
func (s *Service) reconcileBinding(ctx context.Context, app, form, key string) error {
	for range 10 {
		n, err := s.latestFlowVersion(ctx, app, key)
		if err != nil {
			return err
		}
		v, err := s.readFlowVersion(ctx, app, key, n)
		if err != nil {
			return err
		}
		if err := s.updateBinding(ctx, app, form, key, v.Form == form && v.Definition.Trigger.On == "create"); err != nil {
			return err
		}
		again, err := s.latestFlowVersion(ctx, app, key)
		if err != nil {
			return err
		}
		if again == n {
			return nil
		}
	}
	return fmt.Errorf("update flow binding %s: %w", flowID(app, form), engine.ErrConflict)
}

// updateBinding adds flow key to (on) or removes it from the binding of a form. The binding
// is revisioned, so two flows published at once for one form both land.
func (s *Service) updateBinding(ctx context.Context, app, form, key string, on bool) error {
	id := flowID(app, form)
	for attempt := 0; attempt < 10; attempt++ {
		var b flowBinding
		err := s.st.Get(ctx, bindingsCollection, id, &b)
		exists := err == nil
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		has := slices.Contains(b.Flows, key)
		if has == on {
			return nil
		}
		if on {
			b.Flows = append(b.Flows, key)
			sort.Strings(b.Flows)
		} else {
			b.Flows = slices.DeleteFunc(b.Flows, func(k string) bool { return k == key })
		}
		if b.Flows == nil {
			b.Flows = []string{}
		}
		b.ID, b.App, b.Form = id, app, form
		if exists {
			_, err = s.st.Update(ctx, bindingsCollection, id, b.Rev, b)
		} else {
			err = s.st.Create(ctx, bindingsCollection, id, b)
		}
		if engine.IsConflict(err) {
			continue
		}
		return err
	}
	return fmt.Errorf("update flow binding %s: %w", id, engine.ErrConflict)
}

// StartsOnCreate reports whether some published flow starts on records of form when they are
// created (its trigger condition, if any, is not evaluated: it may not hold). Such flows start
// asynchronously, shortly after the create has answered, so a record create answers with a
// hint (flows: "pending") when this holds.
func (s *Service) StartsOnCreate(ctx context.Context, app, form string) (bool, error) {
	keys, err := s.flowsOnCreate(ctx, app, form)
	if err != nil {
		return false, fmt.Errorf("flows on create of %s/%s: %w", app, form, err)
	}
	return len(keys) > 0, nil
}

// flowsOnCreate lists the keys of the flows to start when a record of form is created: those
// whose latest published version runs on that form with trigger "create". (Their trigger
// conditions are the caller's to evaluate.)
func (s *Service) flowsOnCreate(ctx context.Context, app, form string) ([]string, error) {
	var b flowBinding
	if err := s.st.Get(ctx, bindingsCollection, flowID(app, form), &b); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []string
	for _, key := range b.Flows {
		// The binding is a fast index; the latest version has the last word.
		c, err := s.Compiled(ctx, app, key, 0)
		if errors.Is(err, engine.ErrNotFound) || engine.IsConflict(err) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if c.Def.Form == form && c.Def.Trigger.On == "create" {
			out = append(out, key)
		}
	}
	return out, nil
}

func (s *Service) readFlow(ctx context.Context, app, key string) (*Flow, error) {
	var f Flow
	if err := s.defs.ReadDraft(ctx, app, key, &f); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(f.DraftJSON), &f.Draft); err != nil {
		return nil, fmt.Errorf("flow %s: stored draft: %w", f.ID, err)
	}
	var err error
	f.Published, err = s.defs.Latest(ctx, app, key)
	return &f, err
}

func (s *Service) readFlowVersion(ctx context.Context, app, key string, n int) (*FlowVersion, error) {
	var v FlowVersion
	if err := s.defs.ReadVersion(ctx, app, key, n, &v); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(v.DefJSON), &v.Definition); err != nil {
		return nil, fmt.Errorf("flow version %s: stored definition: %w", v.ID, err)
	}
	return &v, nil
}

// latestFlowVersion is the number of a flow's newest published version; a conflict when the
// flow has never been published.
func (s *Service) latestFlowVersion(ctx context.Context, app, key string) (int, error) {
	n, err := s.defs.LatestStored(ctx, app, key)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("flow %s/%s is not published yet: %w", app, key, engine.ErrConflict)
	}
	return n, nil
}

// GetFlow reads a flow with its draft; it needs app.read or app.design.
func (s *Service) GetFlow(ctx context.Context, p *engine.Principal, app, key string) (*Flow, error) {
	if !s.canSeeFlows(ctx, p, app) {
		return nil, engine.ErrNotFound
	}
	return s.readFlow(ctx, app, key)
}

// ListFlows lists an app's flows by key; it needs app.read or app.design.
func (s *Service) ListFlows(ctx context.Context, p *engine.Principal, app string) ([]Flow, error) {
	if !s.canSeeFlows(ctx, p, app) {
		return nil, engine.ErrNotFound
	}
	out := []Flow{}
	err := s.defs.ListDrafts(ctx, app, func(raw bson.Raw) error {
		var f Flow
		if err := bson.Unmarshal(raw, &f); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(f.DraftJSON), &f.Draft); err != nil {
			return fmt.Errorf("flow %s: stored draft: %w", f.ID, err)
		}
		out = append(out, f)
		return nil
	})
	for i := range out {
		if err == nil {
			out[i].Published, err = s.defs.Latest(ctx, app, out[i].Key)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("list flows of %s: %w", app, err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Versions lists a flow's published versions, oldest first; it needs app.read or app.design.
func (s *Service) Versions(ctx context.Context, p *engine.Principal, app, key string) ([]FlowVersion, error) {
	if !s.canSeeFlows(ctx, p, app) {
		return nil, engine.ErrNotFound
	}
	n, err := s.defs.Latest(ctx, app, key)
	if err != nil {
		return nil, err
	}
	out := []FlowVersion{}
	for i := 1; i <= n; i++ {
		v, err := s.readFlowVersion(ctx, app, key, i)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// Compiled returns version n of a flow compiled; n = 0 means the latest published version.
// Versions never change, so each is compiled once and cached by its id.
func (s *Service) Compiled(ctx context.Context, app, key string, n int) (*Compiled, error) {
	if n == 0 {
		var err error
		if n, err = s.latestFlowVersion(ctx, app, key); err != nil {
			return nil, err
		}
	}
	id := flowVersionID(app, key, n)
	if c, ok := s.cache.Load(id); ok {
		return c.(*Compiled), nil
	}
	v, err := s.readFlowVersion(ctx, app, key, n)
	if err != nil {
		return nil, err
	}
	c, _, err := s.compileFlow(ctx, app, []byte(v.DefJSON), storedWorld{snapshot: v.Fields})
	if err != nil {
		return nil, fmt.Errorf("flow version %s no longer compiles: %w", id, err)
	}
	c.Version = n
	actual, _ := s.cache.LoadOrStore(id, c)
	return actual.(*Compiled), nil
}

// canSeeFlows: whoever may read or design the app.
func (s *Service) canSeeFlows(ctx context.Context, p *engine.Principal, app string) bool {
	return s.k.Auth.Can(ctx, p, app, engine.PermAppRead) || s.k.Auth.Can(ctx, p, app, engine.PermAppDesign)
}
