package forms

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

func formID(app, key string) string { return engine.DefinitionID(app, key) }

func versionID(app, key string, n int) string { return engine.DefinitionVersionID(app, key, n) }

// compileEnv is what compiling a definition needs.
func (s *Service) compileEnv() CompileEnv {
	return CompileEnv{Exprs: s.k.Exprs, Lookup: lookup{s}}
}

// SaveDraft checks a definition and stores it as the form's draft. rev is the draft revision
// the caller edited (0 for a new form); a stale rev is a conflict. Published versions are
// never touched: publishing is a separate step.
func (s *Service) SaveDraft(ctx context.Context, p *engine.Principal, app string, raw []byte, rev int64) (*Form, error) {
	if err := s.requireDesign(ctx, p, app); err != nil {
		return nil, err
	}
	c, err := Compile(ctx, s.compileEnv(), app, raw)
	if err != nil {
		return nil, err
	}
	canon, _ := json.Marshal(c.Def)
	d, err := s.defs.SaveDraft(ctx, p, engine.DraftInput{App: app, Key: c.Def.Key, JSON: string(canon), Rev: rev})
	if err != nil {
		return nil, err
	}
	f := &Form{ID: d.ID, App: app, Key: d.Key, Draft: c.Def, DraftJSON: d.DraftJSON, Published: d.Published,
		UpdatedBy: d.UpdatedBy, UpdatedAt: d.UpdatedAt, Rev: d.Rev}
	s.formCan(ctx, p, f, s.latestCompiled(ctx, f))
	return f, nil
}

// Publish makes the current draft the form's next version. Versions are immutable: records
// keep the version they were written with, and publishing never changes an older version. A
// draft unchanged since the latest version publishes nothing: that version is answered (and
// its indexes made again, should a publish have failed to make them).
func (s *Service) Publish(ctx context.Context, p *engine.Principal, app, key string) (*Version, error) {
	if err := s.requireDesign(ctx, p, app); err != nil {
		return nil, err
	}
	dv, made, err := s.defs.Publish(ctx, p, app, key, s.publishing(app, key))
	if err != nil {
		return nil, err
	}
	if !made {
		c, err := s.Compiled(ctx, app, key, dv.Number)
		if err == nil {
			err = s.indexVersion(ctx, c)
		}
		if err != nil {
			return nil, fmt.Errorf("publish %s/%s: %w", app, key, err)
		}
	}
	v := &Version{ID: dv.ID, App: app, Key: key, Number: dv.Number, DefJSON: dv.DefJSON, PublishedBy: dv.PublishedBy, PublishedAt: dv.PublishedAt,
		Unchanged: !made}
	_ = json.Unmarshal([]byte(v.DefJSON), &v.Definition)
	return v, nil
}

// publishing is how a form takes part in publishing: its draft is compiled again, and the
// list indexes are made once the version is stored (After) — a publish that fails before
// leaves the published version's indexes as they are.
func (s *Service) publishing(app, key string) engine.Publishing {
	var c *Compiled
	return engine.Publishing{
		Prepare: func(ctx context.Context, d *engine.Draft, _ *engine.Version) (bson.D, error) {
			// Compile again: a form the draft relates to may have gone since it was saved.
			var err error
			c, err = Compile(ctx, s.compileEnv(), app, []byte(d.DraftJSON))
			return nil, err
		},
		After: func(ctx context.Context, v *engine.Version, _ *engine.Version) error {
			c.Version = v.Number
			if err := s.indexVersion(ctx, c); err != nil {
				return fmt.Errorf("version %d is published, its list indexes are not made (publish again to make them): %w", v.Number, err)
			}
			return nil
		},
	}
}

// indexVersion makes the list indexes of version c, unless a later version is published (its
// own publish makes them): only the latest version's indexes are kept.
func (s *Service) indexVersion(ctx context.Context, c *Compiled) error {
	s.indexing.Lock()
	defer s.indexing.Unlock()
	latest, err := s.defs.LatestStored(ctx, c.App, c.Key)
	if err != nil {
		return err
	}
	if latest > c.Version {
		return nil
	}
	return s.ensureIndexes(ctx, c)
}

func (s *Service) getForm(ctx context.Context, app, key string) (*Form, error) {
	var f Form
	if err := s.defs.ReadDraft(ctx, app, key, &f); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(f.DraftJSON), &f.Draft); err != nil {
		return nil, fmt.Errorf("form %s: stored draft: %w", f.ID, err)
	}
	var err error
	f.Published, err = s.defs.Latest(ctx, app, key)
	return &f, err
}

// GetForm reads a form with its draft.
func (s *Service) GetForm(ctx context.Context, p *engine.Principal, app, key string) (*Form, error) {
	if !s.canSeeApp(ctx, p, app) {
		return nil, engine.ErrNotFound
	}
	f, err := s.getForm(ctx, app, key)
	if err != nil {
		return nil, err
	}
	s.viewForm(ctx, p, f)
	return f, nil
}

// ListForms lists an app's forms.
func (s *Service) ListForms(ctx context.Context, p *engine.Principal, app string) ([]Form, error) {
	if !s.canSeeApp(ctx, p, app) {
		return nil, engine.ErrNotFound
	}
	var out []Form
	err := s.defs.ListDrafts(ctx, app, func(raw bson.Raw) error {
		var f Form
		if err := bson.Unmarshal(raw, &f); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(f.DraftJSON), &f.Draft); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	for i := range out {
		if err == nil {
			out[i].Published, err = s.defs.Latest(ctx, app, out[i].Key)
		}
		s.viewForm(ctx, p, &out[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

// latestVersion is the number of the newest published version (cached for a few seconds: a
// version published on this node shows at once, one published on another node within seconds).
func (s *Service) latestVersion(ctx context.Context, app, key string) (int, error) {
	n, err := s.defs.Latest(ctx, app, key)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		return 0, fmt.Errorf("form %s/%s: %w", app, key, ErrFormNotPublished)
	}
	return n, nil
}

// Compiled returns version n of a form compiled (cached: versions never change); n = 0 means
// the latest published version.
func (s *Service) Compiled(ctx context.Context, app, key string, n int) (*Compiled, error) {
	if n == 0 {
		var err error
		if n, err = s.latestVersion(ctx, app, key); err != nil {
			return nil, err
		}
	}
	id := versionID(app, key, n)
	if c, ok := s.cache.Load(id); ok {
		return c.(*Compiled), nil
	}
	var v Version
	if err := s.defs.ReadVersion(ctx, app, key, n, &v); err != nil {
		return nil, err
	}
	c, err := s.compileStored(ctx, app, []byte(v.DefJSON))
	if err != nil {
		return nil, fmt.Errorf("version %s no longer compiles: %w", id, err)
	}
	c.Version = n
	s.cache.Store(id, c)
	return c, nil
}

// compileStored compiles a stored definition. References to other forms were checked when it
// was saved; a form deleted since must not make old records unreadable, so lookups of forms
// always answer yes here.
func (s *Service) compileStored(ctx context.Context, app string, raw []byte) (*Compiled, error) {
	env := s.compileEnv()
	env.Lookup = storedLookup{lookup{s}}
	return Compile(ctx, env, app, raw)
}

// Versions lists a form's published versions, oldest first.
func (s *Service) Versions(ctx context.Context, p *engine.Principal, app, key string) ([]Version, error) {
	if !s.canSeeApp(ctx, p, app) {
		return nil, engine.ErrNotFound
	}
	n, err := s.latestVersion(ctx, app, key)
	if err != nil && !engine.IsConflict(err) {
		return nil, err
	}
	out := []Version{}
	for i := 1; i <= n; i++ {
		var v Version
		if err := s.defs.ReadVersion(ctx, app, key, i, &v); err != nil {
			return nil, err
		}
		_ = json.Unmarshal([]byte(v.DefJSON), &v.Definition)
		if err := s.viewVersion(ctx, p, &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (s *Service) requireDesign(ctx context.Context, p *engine.Principal, app string) error {
	var a App
	if err := s.st.Get(ctx, appsCollection, app, &a); err != nil {
		return fmt.Errorf("app %q: %w", app, err)
	}
	return s.k.Auth.Require(ctx, p, app, "app.design")
}
