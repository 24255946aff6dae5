package printing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Collections of the printing engine.
const (
	templatesCollection = "print_templates"         // drafts: _id app/key, revisioned
	versionsCollection  = "print_template_versions" // published versions: _id app/key@n
	jobsCollection      = "print_jobs"              // print jobs: _id job id
)

// DefinitionKind is the registry id of print template definitions.
const DefinitionKind = "printing.template"

// Limits of one print request.
const (
	// MaxRecords is the most records one print names.
	MaxRecords = 1000
	// LabelsPerFile is the most labels one PDF holds: a larger job is several PDFs in a ZIP.
	LabelsPerFile = 10_000
	// MaxLabels is the most labels one job makes.
	MaxLabels = 200_000
)

// Options configure the engine; zero values take the defaults.
type Options struct {
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Codes gives the item codes of RepeatCode templates; nil until code issuance is wired
	// (SetCodes sets it later). Without it a RepeatCode template prints no labels.
	Codes CodeSource
	// Printers sends labels to configured label printers (ZPL/TSPL); nil: only PDF output
	// (SetPrinters sets it later).
	Printers Printers
	// StoreFile stores a PDF the print action makes for app's records (the form engine's
	// upload) and returns its id, to attach it to the record; nil: the action cannot write
	// files.
	StoreFile func(ctx context.Context, p *engine.Principal, app, name string, r io.Reader) (string, error)
	// ReadFile reads an image element's file as p may (the form engine's download); nil:
	// images draw nothing.
	ReadFile func(ctx context.Context, p *engine.Principal, app, id string) ([]byte, error)
	// Timeout bounds one print or preview (default 2 minutes).
	Timeout time.Duration
	// TempDir is where jobs are written before they are sent (os.TempDir() when "").
	TempDir string
	// Renders bounds how many prints and previews draw at once (2 when 0): each holds a PDF
	// or a label job and its images in memory; more wait their turn (within their timeout).
	Renders int
}

// Printers sends labels to a label printer configured for the app (ZPL or TSPL over raw TCP):
// the label-printer writers implement it. The engine has read and resolved the pages for p.
type Printers interface {
	// Print sends the pages of def to printer and says how much of the job it made and sent:
	// also when sending fails partway (with the error).
	Print(ctx context.Context, p *engine.Principal, app, printer string, def *Definition, pages iter.Seq2[*PageData, error], opt PrintOptions) (PrintResult, error)
}

// PrintOptions are the engine's knobs of one label-printer job.
type PrintOptions struct {
	// Lang is the language values and table headers print in (zh-CN when "").
	Lang string
	// StaticImage reads the file of an image element whose source is a file id: the
	// template's own asset, not read as the printing principal. nil: read as p.
	StaticImage func(ctx context.Context, fileID string) ([]byte, error)
	// Written, when set, is called once the job is written, before it is sent (the engine
	// lets another render start while the printer takes the job).
	Written func()
}

// PrintResult is how far a label-printer job went.
type PrintResult struct {
	// Labels and Pages are what the job held (labels, and PageData they were made from);
	// Sent and PagesSent how many of them went to the printer whole.
	Labels, Pages, Sent, PagesSent int
	// Bytes is the job's size, BytesSent what the printer's connection took.
	Bytes, BytesSent int64
}

// Engine is the printing engine: print templates (versioned definitions), compiling them,
// turning records into PageData, print jobs and the "printing.print" action.
type Engine struct {
	k        *engine.Kernel
	st       *store.Store
	now      func() time.Time
	opts     Options
	defs     *engine.Definitions
	cache    sync.Map // version id → *Compiled
	mu       sync.RWMutex
	codes    CodeSource
	printers Printers
	// renders holds a token per print or preview drawing (Options.Renders).
	renders chan struct{}
}

// New makes the printing engine on the kernel: it registers the definition kind and the
// "printing.print" action. Call it before the kernel starts, after forms.New.
func New(k *engine.Kernel, opts Options) (*Engine, error) {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 2 * time.Minute
	}
	if opts.Renders <= 0 {
		opts.Renders = 2
	}
	e := &Engine{k: k, st: k.Store, now: opts.Now, opts: opts, codes: opts.Codes, printers: opts.Printers,
		renders: make(chan struct{}, opts.Renders)}
	e.defs = engine.NewDefinitions(k, DefinitionKind, templatesCollection, versionsCollection)
	e.defs.Now = opts.Now
	// Jobs: a template's jobs newest first.
	k.DeclareIndexes(jobsCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "app"}, {Path: "template"}, {Path: "at", Desc: true}}})
	err := k.Registry.RegisterKind(engine.DefinitionKind{
		ID:     DefinitionKind,
		Label:  engine.Text{ZH: "打印模板", EN: "Print template"},
		Schema: json.RawMessage(templateMetaSchemaJSON),
		Validate: func(ctx context.Context, raw json.RawMessage) (any, error) {
			return engine.DecodeDefinition[Definition](TemplateMetaSchema, raw)
		},
	})
	if err != nil {
		return nil, fmt.Errorf("printing: %w", err)
	}
	if err := e.registerAction(); err != nil {
		return nil, fmt.Errorf("printing: %w", err)
	}
	return e, nil
}

// acquireRender waits for a render token (Options.Renders); release gives it back.
func (e *Engine) acquireRender(ctx context.Context) (release func(), err error) {
	select {
	case e.renders <- struct{}{}:
		return func() { <-e.renders }, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("wait to render: %w", ctx.Err())
	}
}

// SetCodes sets the item codes' source once code issuance is made.
func (e *Engine) SetCodes(c CodeSource) {
	e.mu.Lock()
	e.codes = c
	e.mu.Unlock()
}

// SetPrinters sets the label printers once the ZPL/TSPL writers are made.
func (e *Engine) SetPrinters(p Printers) {
	e.mu.Lock()
	e.printers = p
	e.mu.Unlock()
}

func (e *Engine) labelPrinters() Printers {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.printers
}

func (e *Engine) codeSource() CodeSource {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.codes
}

// Template is a print template's draft and how far it is published.
type Template struct {
	ID        string     `json:"id" bson:"_id"` // app/key
	App       string     `json:"app" bson:"app"`
	Key       string     `json:"key" bson:"key"`
	Form      string     `json:"form" bson:"form"`
	Draft     Definition `json:"draft" bson:"-"`
	DraftJSON string     `json:"-" bson:"draft"`
	Published int        `json:"published" bson:"published"`
	UpdatedBy string     `json:"updatedBy" bson:"updated_by"`
	UpdatedAt time.Time  `json:"updatedAt" bson:"updated_at"`
	Rev       int64      `json:"rev" bson:"_rev"`
}

// TemplateVersion is a published version of a print template: what print jobs print.
type TemplateVersion struct {
	ID          string     `json:"id" bson:"_id"` // app/key@n
	App         string     `json:"app" bson:"app"`
	Key         string     `json:"key" bson:"key"`
	Number      int        `json:"version" bson:"version"`
	Form        string     `json:"form" bson:"form"`
	Definition  Definition `json:"definition" bson:"-"`
	DefJSON     string     `json:"-" bson:"definition"`
	PublishedBy string     `json:"publishedBy" bson:"published_by"`
	PublishedAt time.Time  `json:"publishedAt" bson:"published_at"`
	// Unchanged: the draft equalled the latest version, which is answered.
	Unchanged bool `json:"unchanged,omitempty" bson:"-"`
}

// SaveDraft checks a template definition and stores it as the template's draft; it needs
// app.design. rev is the draft revision the caller edited (0 for a new template). A mistake is
// a field error naming its place (/elements/3/value, /page/width).
func (e *Engine) SaveDraft(ctx context.Context, p *engine.Principal, app string, raw []byte, rev int64) (*Template, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	c, err := e.Compile(ctx, app, raw)
	if err != nil {
		return nil, err
	}
	if err := e.captureAssets(ctx, p, app, &c.Def); err != nil {
		return nil, err
	}
	canon, err := json.Marshal(c.Def)
	if err != nil {
		return nil, fmt.Errorf("save template %s: %w", c.Def.Key, err)
	}
	d, err := e.defs.SaveDraft(ctx, p, engine.DraftInput{App: app, Key: c.Def.Key, JSON: string(canon), Rev: rev,
		Extra: bson.D{{Key: "form", Value: c.Def.Form}}})
	if err != nil {
		return nil, err
	}
	return &Template{ID: d.ID, App: app, Key: c.Def.Key, Form: c.Def.Form, Draft: c.Def, DraftJSON: d.DraftJSON, Published: d.Published,
		UpdatedBy: d.UpdatedBy, UpdatedAt: d.UpdatedAt, Rev: d.Rev}, nil
}

// Publish makes the template's draft its next version, compiled again (a field it prints may
// have gone from the form since). It needs app.design.
func (e *Engine) Publish(ctx context.Context, p *engine.Principal, app, key string) (*TemplateVersion, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	var c *Compiled
	v, made, err := e.defs.Publish(ctx, p, app, key, engine.Publishing{
		Prepare: func(ctx context.Context, d *engine.Draft, _ *engine.Version) (bson.D, error) {
			var err error
			if c, err = e.Compile(ctx, app, []byte(d.DraftJSON)); err != nil {
				return nil, err
			}
			return bson.D{{Key: "form", Value: c.Def.Form}}, nil
		},
		Audit: func(*engine.Version) map[string]any { return map[string]any{"form": c.Def.Form} },
	})
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("template %s: %w", key, engine.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	out := &TemplateVersion{ID: v.ID, App: app, Key: key, Number: v.Number, DefJSON: v.DefJSON, PublishedBy: v.PublishedBy, PublishedAt: v.PublishedAt, Unchanged: !made}
	if err := json.Unmarshal([]byte(v.DefJSON), &out.Definition); err != nil {
		return nil, fmt.Errorf("publish template %s: %w", key, err)
	}
	out.Form = out.Definition.Form
	return out, nil
}

// GetTemplate reads a template with its draft, for the app's designers.
func (e *Engine) GetTemplate(ctx context.Context, p *engine.Principal, app, key string) (*Template, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	return e.readDraft(ctx, app, key)
}

func (e *Engine) readDraft(ctx context.Context, app, key string) (*Template, error) {
	var t Template
	if err := e.defs.ReadDraft(ctx, app, key, &t); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("template %s: %w", key, engine.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("template %s: %w", key, err)
	}
	if err := json.Unmarshal([]byte(t.DraftJSON), &t.Draft); err != nil {
		return nil, fmt.Errorf("template %s: %w", key, err)
	}
	n, err := e.defs.Latest(ctx, app, key)
	if err != nil {
		return nil, err
	}
	t.Published = n
	return &t, nil
}

// ListTemplates lists an app's templates with their drafts, by key, for the app's designers.
func (e *Engine) ListTemplates(ctx context.Context, p *engine.Principal, app string) ([]Template, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	out := []Template{}
	err := e.defs.ListDrafts(ctx, app, func(raw bson.Raw) error {
		var t Template
		if err := bson.Unmarshal(raw, &t); err != nil {
			return err
		}
		if err := json.Unmarshal([]byte(t.DraftJSON), &t.Draft); err != nil {
			return err
		}
		out = append(out, t)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list templates of %s: %w", app, err)
	}
	// A draft's own published number is as of its last save (publishing stores no draft
	// revision): the latest version is the definitions' head.
	for i := range out {
		if out[i].Published, err = e.defs.Latest(ctx, app, out[i].Key); err != nil {
			return nil, fmt.Errorf("list templates of %s: %w", app, err)
		}
	}
	return out, nil
}

// Versions lists a template's published versions, newest first, for the app's designers.
func (e *Engine) Versions(ctx context.Context, p *engine.Principal, app, key string) ([]TemplateVersion, error) {
	if err := e.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	n, err := e.defs.Latest(ctx, app, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("template %s: %w", key, engine.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	out := []TemplateVersion{}
	for i := n; i >= 1 && len(out) < 100; i-- {
		v, err := e.version(ctx, app, key, i)
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

func (e *Engine) version(ctx context.Context, app, key string, n int) (*TemplateVersion, error) {
	var v TemplateVersion
	if err := e.defs.ReadVersion(ctx, app, key, n, &v); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			err = engine.ErrNotFound
		}
		return nil, fmt.Errorf("template %s: %w", engine.DefinitionVersionID(app, key, n), err)
	}
	if err := json.Unmarshal([]byte(v.DefJSON), &v.Definition); err != nil {
		return nil, fmt.Errorf("template %s: %w", v.ID, err)
	}
	return &v, nil
}

// published is the latest published version of app/key, compiled once and cached.
func (e *Engine) published(ctx context.Context, app, key string) (*Compiled, error) {
	n, err := e.defs.Latest(ctx, app, key)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("template %s: %w", key, engine.ErrNotFound)
	}
	if err != nil {
		return nil, err
	}
	if n == 0 {
		return nil, engine.Coded(engine.ErrConflict, "print_unpublished", nil)
	}
	id := engine.DefinitionVersionID(app, key, n)
	if c, ok := e.cache.Load(id); ok {
		return c.(*Compiled), nil
	}
	v, err := e.version(ctx, app, key, n)
	if err != nil {
		return nil, err
	}
	c := &Compiled{App: app, Def: v.Definition, Version: n}
	e.cache.Store(id, c)
	return c, nil
}
