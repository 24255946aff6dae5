package forms

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Collections of the form engine.
const (
	appsCollection     = "apps"
	formsCollection    = "forms"
	versionsCollection = "form_versions"
	filesCollection    = "files"
)

// DefinitionKind is the registry id of form definitions.
const DefinitionKind = "forms.form"

// Options configure the service.
type Options struct {
	// Location is the time zone of auto-number periods and date parts; the kernel's by default.
	Location *time.Location
	// Now is the clock; time.Now by default.
	Now func() time.Time
	// MaxImports is how many imports run at once (MaxImports by default).
	MaxImports int
}

// Service is the form engine.
type Service struct {
	k     *engine.Kernel
	st    *store.Store
	loc   *time.Location
	now   func() time.Time
	cache sync.Map // version id ("app/key@n") → *Compiled
	defs  *engine.Definitions
	// imports holds a token per running import (importSlot).
	imports chan struct{}
	// importRuns holds the import jobs running here (id → *importRun); importing the batches
	// being written (job id → records collection), whose records are hidden until committed.
	importRuns sync.Map
	importing  sync.Map
	// importBatch is how many records an import writes at once (ImportBatch by default).
	importBatch int
	// pendingImports holds the imports that ended neither committed nor rolled back (job id →
	// *importPending), for resolveImports; importHooks lets tests fail store calls.
	pendingImports sync.Map
	resolving      sync.Mutex
	// indexing makes one form version's indexes at a time (indexVersion).
	indexing    sync.Mutex
	importHooks importHooks
}

// New makes the form engine on the kernel and registers its definition kind.
func New(k *engine.Kernel, opts Options) *Service {
	if opts.Location == nil {
		opts.Location = k.Location()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MaxImports <= 0 {
		opts.MaxImports = MaxImports
	}
	s := &Service{k: k, st: k.Store, loc: opts.Location, now: opts.Now, imports: make(chan struct{}, opts.MaxImports), importBatch: ImportBatch}
	s.defs = engine.NewDefinitions(k, DefinitionKind, formsCollection, versionsCollection)
	s.defs.Now = opts.Now
	k.Records = recordsAPI{s}
	// Every stored revision of a record has its audit entry; audit verify checks it.
	k.Audit.Cover("rec.", "record", RecordTarget)
	// An import the process stopped in is taken back before the kernel settles its writes.
	k.OnRecover("forms.imports", s.recoverImports)
	s.registerImportJobs()
	s.registerActions()
	s.registerFileJobs()
	_ = k.Registry.RegisterKind(engine.DefinitionKind{
		ID:    DefinitionKind,
		Label: engine.Text{ZH: "表单", EN: "Form"},
		Validate: func(ctx context.Context, raw json.RawMessage) (any, error) {
			return nil, FormMetaSchema.ValidateJSON(raw, engine.PathPointer)
		},
	})
	return s
}

var keyRE = regexp.MustCompile(`^[a-z][a-z0-9_]{0,39}$`)

// AppInput creates an app.
type AppInput struct {
	Key         string      `json:"key"`
	Name        engine.Text `json:"name"`
	Description engine.Text `json:"description,omitzero"`
	Icon        string      `json:"icon,omitempty"`
}

// Validate checks the key and the name.
func (in *AppInput) Validate() error {
	var fe engine.FieldErrors
	if !keyRE.MatchString(in.Key) {
		fe.Add("key", "invalid_name", nil)
	}
	if strings.TrimSpace(in.Name.ZH) == "" && strings.TrimSpace(in.Name.EN) == "" {
		fe.Add("name", "required", nil)
	}
	if len(in.Icon) > 100 {
		fe.Add("icon", "too_long", map[string]any{"max": 100})
	}
	return fe.Err()
}

// CreateApp creates an app; it needs the system.admin permission.
func (s *Service) CreateApp(ctx context.Context, p *engine.Principal, in AppInput) (*App, error) {
	if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
		return nil, err
	}
	if err := in.Validate(); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	a := &App{Key: in.Key, Name: in.Name, Description: in.Description, Icon: in.Icon, CreatedBy: p.Username, CreatedAt: now, UpdatedAt: now, Rev: 1}
	if err := s.st.Create(ctx, appsCollection, a.Key, a); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return nil, engine.Invalid("key", "exists", nil)
		}
		return nil, fmt.Errorf("create app %q: %w", in.Key, err)
	}
	s.audit(ctx, p, "app.create", "app", a.Key, nil, a)
	a.Can = s.appCan(ctx, p, a.Key)
	return a, nil
}

// GetApp reads an app the caller may see, with what they may do in it (App.Can).
func (s *Service) GetApp(ctx context.Context, p *engine.Principal, key string) (*App, error) {
	var a App
	if err := s.st.Get(ctx, appsCollection, key, &a); err != nil {
		return nil, err
	}
	if a.Can = s.appCan(ctx, p, key); len(a.Can) == 0 { // canSeeApp
		return nil, engine.ErrNotFound
	}
	return &a, nil
}

// ListApps lists the apps the caller may see, each with what they may do in it (App.Can).
func (s *Service) ListApps(ctx context.Context, p *engine.Principal) ([]App, error) {
	var out []App
	err := s.st.Find(ctx, appsCollection, nil, nil, func(raw bson.Raw) error {
		var a App
		if err := bson.Unmarshal(raw, &a); err != nil {
			return err
		}
		if a.Can = s.appCan(ctx, p, a.Key); len(a.Can) > 0 { // canSeeApp
			out = append(out, a)
		}
		return nil
	})
	return out, err
}

// canSeeApp: admins, app designers and anyone with a role that any form of the app grants.
func (s *Service) canSeeApp(ctx context.Context, p *engine.Principal, app string) bool {
	return s.k.Auth.Can(ctx, p, app, "app.read") || s.k.Auth.Can(ctx, p, app, "app.design")
}

func (s *Service) audit(ctx context.Context, p *engine.Principal, action, kind, target string, before, after any) {
	actor, ip := "system", ""
	if p != nil {
		actor, ip = p.Username, p.IP
	}
	if _, err := s.k.Audit.Append(ctx, engine.AuditEntry{Actor: actor, Action: action, Kind: kind, Target: target, Before: before, After: after, IP: ip}); err != nil {
		s.k.Log.Error("audit append failed", "action", action, "target", target, "err", err)
	}
}

// newID makes a record id: 8 bytes of time (ms) and 6 random bytes, hex — sortable by creation.
func newID(now time.Time) string {
	var b [14]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[2:])
}
