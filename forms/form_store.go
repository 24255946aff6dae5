package forms

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

func formID(app, key string) string { return app + "/" + key }

func versionID(app, key string, n int) string { return app + "/" + key + "@" + strconv.Itoa(n) }

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
	id := formID(app, c.Def.Key)
	canon, _ := json.Marshal(c.Def)
	f := &Form{ID: id, App: app, Key: c.Def.Key, DraftJSON: string(canon), UpdatedBy: p.Username, UpdatedAt: s.now().UTC()}
	var before *Form
	if rev == 0 {
		f.Rev = 1
		if err := s.st.Create(ctx, formsCollection, id, f); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return nil, fmt.Errorf("form %s exists; save with its revision: %w", id, engine.ErrConflict)
			}
			return nil, err
		}
	} else {
		old, err := s.getForm(ctx, app, c.Def.Key)
		if err != nil {
			return nil, err
		}
		before = old
		f.Published = old.Published
		if f.Rev, err = s.st.Update(ctx, formsCollection, id, rev, f); err != nil {
			return nil, err
		}
	}
	f.Draft = c.Def
	s.audit(ctx, p, "definition.save", DefinitionKind, id, auditForm(before), auditForm(f))
	s.publishEvent(ctx, p, "definition.saved", app, id, nil)
	return f, nil
}

func auditForm(f *Form) any {
	if f == nil {
		return nil
	}
	var def any
	_ = json.Unmarshal([]byte(f.DraftJSON), &def)
	return map[string]any{"rev": f.Rev, "published": f.Published, "draft": def}
}

// Publish makes the current draft the form's next version. Versions are immutable: records
// keep the version they were written with, and publishing never changes an older version.
func (s *Service) Publish(ctx context.Context, p *engine.Principal, app, key string) (*Version, error) {
	if err := s.requireDesign(ctx, p, app); err != nil {
		return nil, err
	}
	for attempt := 0; attempt < 5; attempt++ {
		f, err := s.getForm(ctx, app, key)
		if err != nil {
			return nil, err
		}
		// Compile again: a form the draft relates to may have gone since it was saved.
		c, err := Compile(ctx, s.compileEnv(), app, []byte(f.DraftJSON))
		if err != nil {
			return nil, err
		}
		if err := s.ensureIndexes(ctx, c); err != nil {
			return nil, fmt.Errorf("publish %s/%s: %w", app, key, err)
		}
		n := f.Published + 1
		v := &Version{ID: versionID(app, key, n), App: app, Key: key, Number: n, DefJSON: f.DraftJSON, PublishedBy: p.Username, PublishedAt: s.now().UTC()}
		if err := s.st.Put(ctx, versionsCollection, v.ID, v); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				continue // published concurrently; look again
			}
			return nil, err
		}
		f.Published = n
		if _, err := s.st.Update(ctx, formsCollection, f.ID, f.Rev, f); err != nil && !engine.IsConflict(err) {
			return nil, err
		}
		// A conflict here means the draft was saved meanwhile; the version stands, and the
		// form's published number is brought up to date by the next Publish or by
		// latestVersion, which walks versions by _id.
		_ = json.Unmarshal([]byte(v.DefJSON), &v.Definition)
		s.latest.Store(f.ID, latestEntry{n: n, at: s.now()})
		s.audit(ctx, p, "definition.publish", DefinitionKind, v.ID, nil, map[string]any{"version": n})
		s.publishEvent(ctx, p, "definition.published", app, f.ID, map[string]any{"version": n})
		return v, nil
	}
	return nil, fmt.Errorf("publish %s/%s: %w", app, key, engine.ErrConflict)
}

func (s *Service) getForm(ctx context.Context, app, key string) (*Form, error) {
	var f Form
	if err := s.st.Get(ctx, formsCollection, formID(app, key), &f); err != nil {
		return nil, err
	}
	if err := json.Unmarshal([]byte(f.DraftJSON), &f.Draft); err != nil {
		return nil, fmt.Errorf("form %s: stored draft: %w", f.ID, err)
	}
	return &f, nil
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
	err := s.st.Find(ctx, formsCollection, bson.D{{Key: "app", Value: app}}, nil, func(raw bson.Raw) error {
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
		s.viewForm(ctx, p, &out[i])
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, err
}

// latestVersion finds the newest published version: the form's number, then a walk forward by
// _id in case a publish finished without updating the form.
//
// The answer is cached for latestTTL: a version published on this node shows at once (Publish
// updates the cache), one published on another node within a few seconds.
func (s *Service) latestVersion(ctx context.Context, app, key string) (int, error) {
	if e, ok := s.latest.Load(formID(app, key)); ok {
		if le := e.(latestEntry); s.now().Sub(le.at) < latestTTL {
			return le.n, nil
		}
	}
	n, err := s.readLatestVersion(ctx, app, key)
	if err == nil {
		s.latest.Store(formID(app, key), latestEntry{n: n, at: s.now()})
	}
	return n, err
}

// latestTTL is how long a form's latest version number is taken from memory.
const latestTTL = 3 * time.Second

type latestEntry struct {
	n  int
	at time.Time
}

func (s *Service) readLatestVersion(ctx context.Context, app, key string) (int, error) {
	f, err := s.getForm(ctx, app, key)
	if err != nil {
		return 0, err
	}
	n := f.Published
	for {
		var v Version
		err := s.st.Get(ctx, versionsCollection, versionID(app, key, n+1), &v)
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if err != nil {
			return 0, err
		}
		n++
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
	if err := s.st.Get(ctx, versionsCollection, id, &v); err != nil {
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
		if err := s.st.Get(ctx, versionsCollection, versionID(app, key, i), &v); err != nil {
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

func (s *Service) publishEvent(ctx context.Context, p *engine.Principal, typ, app, target string, data map[string]any) {
	actor := "system"
	if p != nil {
		actor = p.Username
	}
	if err := s.k.Bus.Publish(ctx, engine.Event{Type: typ, App: app, Kind: DefinitionKind, Target: target, Actor: actor, Data: data}); err != nil {
		s.k.Log.Error("publish event failed", "type", typ, "target", target, "err", err)
	}
}
