package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// activeRule says that a rule has a published version: the record subscriber finds a form's
// rules by app and form, the sweep the date rules by on.
type activeRule struct {
	ID      string `bson:"_id"` // app/key
	App     string `bson:"app"`
	Key     string `bson:"key"`
	Form    string `bson:"form"`
	On      string `bson:"on"`
	Version int    `bson:"version"`
	// Since is when the version was activated: a schedule rule fires for no time before it.
	Since time.Time `bson:"since"`
	// Disabled: the version is switched off (the rule does not run; the entry keeps its
	// version so that an earlier one cannot come back).
	Disabled bool `bson:"disabled,omitempty"`
}

// SaveDraft checks a rule definition and stores it as the rule's draft; it needs app.design.
// rev is the draft revision the caller edited (0 for a new rule). The definition is compiled
// first: a mistake is a field error naming the place (with line and column in an expression).
func (s *Service) SaveDraft(ctx context.Context, p *engine.Principal, app string, raw []byte, rev int64) (*Rule, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	c, err := s.Compile(ctx, app, raw)
	if err != nil {
		return nil, err
	}
	secrets, err := takeSecrets(&c.Def)
	if err != nil {
		return nil, fmt.Errorf("save rule %s: %w", c.Key, err)
	}
	canon, err := json.Marshal(c.Def)
	if err != nil {
		return nil, fmt.Errorf("save rule %s: %w", c.Key, err)
	}
	d, err := s.defs.SaveDraft(ctx, p, engine.DraftInput{App: app, Key: c.Key, JSON: string(canon), Rev: rev,
		Extra: bson.D{{Key: "form", Value: c.Def.Form}}})
	if err != nil {
		return nil, err
	}
	if err := s.storeSecrets(ctx, p, app, c.Key, secrets); err != nil {
		return nil, err
	}
	return &Rule{ID: d.ID, App: app, Key: c.Key, Form: c.Def.Form, Draft: c.Def, DraftJSON: d.DraftJSON, Published: d.Published,
		UpdatedBy: d.UpdatedBy, UpdatedAt: d.UpdatedAt, Rev: d.Rev}, nil
}

// Publish makes the rule's draft its next version, compiled again (the form or a field may
// have gone), and makes it the version that runs. It needs app.design.
func (s *Service) Publish(ctx context.Context, p *engine.Principal, app, key string) (*RuleVersion, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	var c *Compiled
	v, made, err := s.defs.Publish(ctx, p, app, key, engine.Publishing{
		Prepare: func(ctx context.Context, d *engine.Draft, _ *engine.Version) (bson.D, error) {
			var err error
			if c, err = s.Compile(ctx, app, []byte(d.DraftJSON)); err != nil {
				return nil, err
			}
			return bson.D{{Key: "form", Value: c.Def.Form}}, nil
		},
		Audit: func(*engine.Version) map[string]any { return map[string]any{"form": c.Def.Form} },
		After: func(ctx context.Context, v *engine.Version, _ *engine.Version) error {
			return s.activate(ctx, app, key, c.Def, v.Number)
		},
	})
	if err != nil {
		return nil, err
	}
	out := &RuleVersion{ID: v.ID, App: app, Key: key, Number: v.Number, DefJSON: v.DefJSON, PublishedBy: v.PublishedBy, PublishedAt: v.PublishedAt}
	if err := json.Unmarshal([]byte(v.DefJSON), &out.Definition); err != nil {
		return nil, fmt.Errorf("publish rule %s: %w", key, err)
	}
	maskSecrets(&out.Definition)
	out.Form, out.Unchanged = out.Definition.Form, !made
	if !made {
		// A node that stopped between the version and its activation left it inactive.
		if err := s.activate(ctx, app, key, out.Definition, v.Number); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// activateMu serialises activations in this process (see activate).
var activateMu sync.Mutex

// activate records version n of app/key as the one that runs; a disabled version takes the
// rule off the active list, so no event, sweep or schedule finds it (and nothing is logged).
// The entry of a version later than n is left as it is: of two publishes that finish out of
// order (a disable racing an enable), the later version wins. A disabled version leaves an
// entry too (marked disabled, found by no query), so an earlier version activated after it
// does not come back.
func (s *Service) activate(ctx context.Context, app, key string, def Definition, n int) error {
	id := engine.DefinitionID(app, key)
	a := activeRule{ID: id, App: app, Key: key, Form: def.Form, On: def.Trigger.On, Version: n, Since: s.now().UTC().Truncate(time.Millisecond),
		Disabled: def.Disabled}
	doc, err := bson.Marshal(a)
	if err != nil {
		return fmt.Errorf("activate rule %s: %w", id, err)
	}
	c, err := s.st.Collection(ctx, activeCollection)
	if err != nil {
		return fmt.Errorf("activate rule %s: %w", id, err)
	}
	// Replace the entry of an earlier version (or of this one: a publish finishing the
	// activation a stopped node left undone), or insert one; an entry of a later version makes
	// the upsert's insert a duplicate, and stays. The embedded store does not make a
	// conditional replace atomic: activateMu does, within its one process.
	activateMu.Lock()
	defer activateMu.Unlock()
	_, err = c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}, {Key: "version", Value: bson.D{{Key: "$lte", Value: n}}}}, doc,
		options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("activate rule %s: %w", id, err)
	}
	return nil
}

// GetRule reads a rule with its draft, for the app's designers.
func (s *Service) GetRule(ctx context.Context, p *engine.Principal, app, key string) (*Rule, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	var r Rule
	if err := s.defs.ReadDraft(ctx, app, key, &r); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("rule %s: %w", key, engine.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("rule %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(r.DraftJSON), &r.Draft); err != nil {
		return nil, fmt.Errorf("rule %s: %w", key, err)
	}
	maskSecrets(&r.Draft)
	n, err := s.defs.Latest(ctx, app, key)
	if err != nil {
		return nil, err
	}
	r.Published = n
	return &r, nil
}

// ListRules lists an app's rules with their drafts, by key, for the app's designers.
func (s *Service) ListRules(ctx context.Context, p *engine.Principal, app string) ([]Rule, error) {
	if err := s.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	out := []Rule{}
	err := s.defs.ListDrafts(ctx, app, func(raw bson.Raw) error {
		var r Rule
		if err := bson.Unmarshal(raw, &r); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(r.DraftJSON), &r.Draft); err != nil {
			return err
		}
		maskSecrets(&r.Draft)
		out = append(out, r)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list rules of %s: %w", app, err)
	}
	// A draft's own published number is as of its last save (publishing stores no draft
	// revision): the latest version is the definitions' head.
	for i := range out {
		if out[i].Published, err = s.defs.Latest(ctx, app, out[i].Key); err != nil {
			return nil, fmt.Errorf("list rules of %s: %w", app, err)
		}
	}
	return out, nil
}

// compiled is version n of app/key, compiled once and cached.
func (s *Service) compiled(ctx context.Context, app, key string, n int) (*Compiled, error) {
	id := engine.DefinitionVersionID(app, key, n)
	if c, ok := s.cache.Load(id); ok {
		return c.(*Compiled), nil
	}
	var v RuleVersion
	if err := s.defs.ReadVersion(ctx, app, key, n, &v); err != nil {
		return nil, fmt.Errorf("rule %s: %w", id, err)
	}
	var def Definition
	if err := json.Unmarshal([]byte(v.DefJSON), &def); err != nil {
		return nil, fmt.Errorf("rule %s: %w", id, err)
	}
	// The version was checked against the store when it was published.
	c, err := s.compileDef(ctx, app, &def, false)
	if err != nil {
		return nil, fmt.Errorf("rule %s: %w", id, err)
	}
	c.Version = n
	s.cache.Store(id, c)
	return c, nil
}

// activeRules are the published rules of a form.
func (s *Service) activeRules(ctx context.Context, app, form string) ([]activeRule, error) {
	return s.queryActive(ctx, store.And(store.Eq("app", app), store.Eq("form", form)))
}

func (s *Service) queryActive(ctx context.Context, where store.Cond) ([]activeRule, error) {
	var out []activeRule
	where = store.And(where, store.Empty("disabled"))
	err := s.st.QueryEach(ctx, activeCollection, store.Query{Where: where, Limit: 200}, func(raw bson.Raw) error {
		var a activeRule
		if err := bson.Unmarshal(raw, &a); err != nil {
			return err
		}
		out = append(out, a)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("active rules: %w", err)
	}
	return out, nil
}
