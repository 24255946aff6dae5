package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// Definitions keeps the versioned definitions of one kind — forms, flows, rules, print templates,
// boards: per app and key an editable draft, and published versions that never change.
//
// A draft is a revisioned document {_id: app/key, app, key, draft, published, updated_by,
// updated_at, _rev} plus the kind's own fields; version n is {_id: app/key@n, app, key, version,
// definition, published_by, published_at} plus the kind's own fields. The definition is kept as
// JSON text: FerretDB refuses keys with "." or a leading "$", which definitions may hold.
//
// Saving a draft and publishing a version are made with Kernel.Commit, so neither is stored
// without its audit entry and its event ("definition.saved", "definition.published"). The
// engine that owns the kind checks permissions and compiles; Definitions stores.
type Definitions struct {
	k        *Kernel
	kind     string // the DefinitionKind id: the audit entries' and events' kind
	drafts   string // collection of drafts
	versions string // collection of versions
	latest   sync.Map
	// Now is the clock of UpdatedAt and PublishedAt; time.Now when nil.
	Now func() time.Time
}

// Definition events.
const (
	EventDefinitionPublished = "definition.published"
)

// definitionsLatestTTL is how long a definition's latest version number is taken from memory: a
// version published on this node shows at once, one published on another node within seconds.
const definitionsLatestTTL = 3 * time.Second

type definitionsLatest struct {
	n  int
	at time.Time
}

// NewDefinitions keeps definitions of kind in the collections drafts and versions.
func NewDefinitions(k *Kernel, kind, drafts, versions string) *Definitions {
	// An app's drafts are listed by app (ListDrafts).
	k.DeclareIndexes(drafts, store.IndexSpec{Keys: []store.IndexKey{{Path: "app"}, {Path: "key"}}})
	return &Definitions{k: k, kind: kind, drafts: drafts, versions: versions}
}

func (d *Definitions) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

// DefinitionID is the id of a draft: app/key.
func DefinitionID(app, key string) string { return app + "/" + key }

// DefinitionVersionID is the id of version n: app/key@n.
func DefinitionVersionID(app, key string, n int) string {
	return app + "/" + key + "@" + strconv.Itoa(n)
}

// Draft is what Definitions stores of every draft; a kind's own document type embeds these
// fields with the same bson names and adds its own.
type Draft struct {
	ID        string    `json:"id" bson:"_id"`
	App       string    `json:"app" bson:"app"`
	Key       string    `json:"key" bson:"key"`
	DraftJSON string    `json:"-" bson:"draft"`
	Published int       `json:"published" bson:"published"` // 0: never published
	UpdatedBy string    `json:"updatedBy" bson:"updated_by"`
	UpdatedAt time.Time `json:"updatedAt" bson:"updated_at"`
	Rev       int64     `json:"rev" bson:"_rev"`
}

// DraftInput is a draft to save: Key and its definition in canonical JSON, with the kind's own
// fields (Extra, stored beside the common ones; nil when none).
type DraftInput struct {
	App   string
	Key   string
	JSON  string
	Extra bson.D
	// Rev is the draft revision the caller edited: 0 for a new definition. A stale one is a
	// conflict.
	Rev int64
}

// SaveDraft stores a draft, with an audit entry holding the draft before and after and the event
// "definition.saved". It returns the stored draft.
func (d *Definitions) SaveDraft(ctx context.Context, p *Principal, in DraftInput) (*Draft, error) {
	id := DefinitionID(in.App, in.Key)
	f := &Draft{ID: id, App: in.App, Key: in.Key, DraftJSON: in.JSON, UpdatedBy: actorOf(p), UpdatedAt: d.now()}
	var before *Draft
	if in.Rev == 0 {
		// Refused before its audit entry in the common case; a create racing this one is
		// refused by the store, and its entry voided.
		if _, err := d.readDraft(ctx, in.App, in.Key); err == nil {
			return nil, fmt.Errorf("save %s: it exists; save it with its revision: %w", id, ErrConflict)
		} else if !errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("save %s: %w", id, err)
		}
	} else {
		old, err := d.readDraft(ctx, in.App, in.Key)
		if err != nil {
			return nil, err
		}
		before = old
		if f.Published, err = d.Latest(ctx, in.App, in.Key); err != nil {
			return nil, fmt.Errorf("save %s: %w", id, err)
		}
		before.Published = f.Published
	}
	doc := d.draftDoc(f, in.Extra)
	w := Write{Coll: d.drafts, ID: id, Rev: in.Rev + 1,
		Entry: AuditEntry{Actor: actorOf(p), IP: ipOf(p), Action: "definition.save", Kind: d.kind, Target: id,
			Before: auditDraft(before), After: auditDraft(f)},
		Event: &Event{Type: EventDefinitionSaved, App: in.App}}
	_, err := d.k.Commit(ctx, w, func(ctx context.Context, journal func(context.Context) error) error {
		if in.Rev == 0 {
			err := d.k.Store.CreateWith(ctx, d.drafts, id, doc, journal)
			if errors.Is(err, store.ErrDuplicate) {
				// Both: Commit must know the write was refused (not possibly stored).
				return fmt.Errorf("%s exists; save it with its revision: %w (%w)", id, ErrConflict, err)
			}
			return err
		}
		_, err := d.k.Store.UpdateWith(ctx, d.drafts, id, in.Rev, doc, journal)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("save %s: %w", id, err)
	}
	f.Rev = in.Rev + 1
	return f, nil
}

func (d *Definitions) draftDoc(f *Draft, extra bson.D) bson.D {
	doc := bson.D{{Key: "app", Value: f.App}, {Key: "key", Value: f.Key}, {Key: "draft", Value: f.DraftJSON},
		{Key: "published", Value: f.Published}, {Key: "updated_by", Value: f.UpdatedBy}, {Key: "updated_at", Value: f.UpdatedAt}}
	return append(doc, extra...)
}

// auditDraft is what the audit log keeps of a draft: its revision, published number and the
// definition as JSON.
func auditDraft(f *Draft) any {
	if f == nil {
		return nil
	}
	var def any
	_ = json.Unmarshal([]byte(f.DraftJSON), &def)
	return map[string]any{"rev": f.Rev, "published": f.Published, "draft": def}
}

// ReadDraft decodes the stored draft of app/key into out, a kind's document type (embedding
// Draft's fields).
func (d *Definitions) ReadDraft(ctx context.Context, app, key string, out any) error {
	return d.k.Store.Get(ctx, d.drafts, DefinitionID(app, key), out)
}

func (d *Definitions) readDraft(ctx context.Context, app, key string) (*Draft, error) {
	var f Draft
	if err := d.ReadDraft(ctx, app, key, &f); err != nil {
		return nil, err
	}
	return &f, nil
}

// ListDrafts calls fn with each draft of app, by key, read from the drafts' index by app.
func (d *Definitions) ListDrafts(ctx context.Context, app string, fn func(bson.Raw) error) error {
	return d.k.Store.QueryEach(ctx, d.drafts, draftsQuery(app), fn)
}

// draftsQuery is the query of ListDrafts.
func draftsQuery(app string) store.Query {
	return store.Query{Where: store.Eq("app", app), Sort: []store.SortKey{{Path: "key"}}, Limit: 500}
}

// Version is what Definitions stores of every version; a kind's own version type embeds these
// fields with the same bson names and adds its own.
type Version struct {
	ID          string    `json:"id" bson:"_id"`
	App         string    `json:"app" bson:"app"`
	Key         string    `json:"key" bson:"key"`
	Number      int       `json:"version" bson:"version"`
	DefJSON     string    `json:"-" bson:"definition"`
	PublishedBy string    `json:"publishedBy" bson:"published_by"`
	PublishedAt time.Time `json:"publishedAt" bson:"published_at"`
}

// Publishing is how a kind takes part in publishing its draft.
type Publishing struct {
	// Prepare checks the draft again (what it names may have gone since it was saved) and
	// returns the kind's own fields of the version (nil when none). prev is the latest version
	// (nil when none).
	Prepare func(ctx context.Context, draft *Draft, prev *Version) (bson.D, error)
	// Before, when set, runs right before the version is stored (a flow binds itself to its
	// form there); After right after.
	Before, After func(ctx context.Context, v *Version, prev *Version) error
	// Unchanged, when set, tells whether the version about to be made would equal prev; the
	// latest version is then answered and none is made. Without it a draft whose JSON equals
	// the latest version's is unchanged.
	Unchanged func(v *Version, extra bson.D, prev *Version) bool
	// Audit, when set, adds to what the audit entry of the version records (its number).
	Audit func(v *Version) map[string]any
}

// Publish makes the draft of app/key its next version, with an audit entry (target the version)
// and the event "definition.published" (data: version and definition). A draft that has not
// changed since the latest version publishes nothing: the latest version is answered, with
// made false.
func (d *Definitions) Publish(ctx context.Context, p *Principal, app, key string, pub Publishing) (v *Version, made bool, err error) {
	for attempt := 0; attempt < 5; attempt++ {
		f, err := d.readDraft(ctx, app, key)
		if err != nil {
			return nil, false, err
		}
		from, err := d.head(ctx, app, key, f)
		if err != nil {
			return nil, false, err
		}
		latest, err := d.walk(ctx, app, key, from)
		if err != nil {
			return nil, false, err
		}
		var prev *Version
		if latest > 0 {
			if prev, err = d.readVersion(ctx, app, key, latest); err != nil {
				return nil, false, err
			}
		}
		extra, err := pub.Prepare(ctx, f, prev)
		if err != nil {
			return nil, false, err
		}
		n := latest + 1
		v := &Version{ID: DefinitionVersionID(app, key, n), App: app, Key: key, Number: n, DefJSON: f.DraftJSON,
			PublishedBy: actorOf(p), PublishedAt: d.now()}
		if prev != nil {
			same := prev.DefJSON == v.DefJSON
			if pub.Unchanged != nil {
				same = pub.Unchanged(v, extra, prev)
			}
			if same {
				if from < latest {
					d.catchUp(ctx, app, key, latest)
				}
				return prev, false, nil
			}
		}
		if pub.Before != nil {
			if err := pub.Before(ctx, v, prev); err != nil {
				return nil, false, fmt.Errorf("publish %s: %w", DefinitionID(app, key), err)
			}
		}
		doc := append(bson.D{{Key: "app", Value: app}, {Key: "key", Value: key}, {Key: "version", Value: n},
			{Key: "definition", Value: v.DefJSON}, {Key: "published_by", Value: v.PublishedBy}, {Key: "published_at", Value: v.PublishedAt}}, extra...)
		after := map[string]any{}
		if pub.Audit != nil {
			maps.Copy(after, pub.Audit(v))
		}
		after["version"] = n
		w := Write{Coll: d.versions, ID: v.ID, Rev: 1,
			Entry: AuditEntry{Actor: actorOf(p), IP: ipOf(p), Action: "definition.publish", Kind: d.kind, Target: v.ID,
				After: after},
			Event: &Event{Type: EventDefinitionPublished, App: app, Data: map[string]any{"version": n, "definition": f.ID}}}
		_, err = d.k.Commit(ctx, w, func(ctx context.Context, journal func(context.Context) error) error {
			return d.k.Store.CreateWith(ctx, d.versions, v.ID, doc, journal)
		})
		if errors.Is(err, store.ErrDuplicate) {
			continue // published concurrently; look again
		}
		if err != nil {
			return nil, false, fmt.Errorf("publish %s: %w", f.ID, err)
		}
		d.latest.Store(f.ID, definitionsLatest{n: n, at: time.Now()})
		d.catchUp(ctx, app, key, n)
		if pub.After != nil {
			if err := pub.After(ctx, v, prev); err != nil {
				return nil, false, fmt.Errorf("publish %s: %w", f.ID, err)
			}
		}
		return v, true, nil
	}
	return nil, false, fmt.Errorf("publish %s: %w", DefinitionID(app, key), ErrConflict)
}

// definitionHeads holds, per definition, a version known to be published: where walk starts.
// It is a hint that only ever lags (versions are never removed), kept apart from the drafts so
// that publishing does not make a draft revision (which would need its own audit entry, and
// would make a designer's next save of the draft stale).
const definitionHeads = "definition_heads"

type definitionHead struct {
	ID string `bson:"_id"` // kind:app/key
	N  int    `bson:"n"`
}

func (d *Definitions) headID(app, key string) string { return d.kind + ":" + DefinitionID(app, key) }

// catchUp records that version n of app/key is published. Racing publishers may leave an older
// number; walk finds the rest by _id.
func (d *Definitions) catchUp(ctx context.Context, app, key string, n int) {
	id := d.headID(app, key)
	if err := d.k.Store.Set(ctx, definitionHeads, id, definitionHead{ID: id, N: n}); err != nil {
		d.k.Log.Warn("published version not recorded", "definition", id, "version", n, "err", err)
	}
}

// head is where walk starts: the recorded head, or the number a draft written before heads
// existed holds.
func (d *Definitions) head(ctx context.Context, app, key string, f *Draft) (int, error) {
	var h definitionHead
	err := d.k.Store.Get(ctx, definitionHeads, d.headID(app, key), &h)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	return max(h.N, f.Published), nil
}

// walk finds the newest published version from n on, by _id.
func (d *Definitions) walk(ctx context.Context, app, key string, n int) (int, error) {
	for {
		var v struct {
			ID string `bson:"_id"`
		}
		err := d.k.Store.Get(ctx, d.versions, DefinitionVersionID(app, key, n+1), &v)
		if errors.Is(err, store.ErrNotFound) {
			return n, nil
		}
		if err != nil {
			return 0, err
		}
		n++
	}
}

// Latest is the number of the newest published version of app/key, 0 when none; ErrNotFound
// when there is no such definition. It is cached for a few seconds.
func (d *Definitions) Latest(ctx context.Context, app, key string) (int, error) {
	id := DefinitionID(app, key)
	if e, ok := d.latest.Load(id); ok {
		if le := e.(definitionsLatest); time.Since(le.at) < definitionsLatestTTL {
			return le.n, nil
		}
	}
	n, err := d.LatestStored(ctx, app, key)
	if err == nil {
		d.latest.Store(id, definitionsLatest{n: n, at: time.Now()})
	}
	return n, err
}

// LatestStored is Latest read from the store, for callers that must not act on a number
// another node has moved on from.
func (d *Definitions) LatestStored(ctx context.Context, app, key string) (int, error) {
	f, err := d.readDraft(ctx, app, key)
	if err != nil {
		return 0, err
	}
	from, err := d.head(ctx, app, key, f)
	if err != nil {
		return 0, err
	}
	return d.walk(ctx, app, key, from)
}

// ReadVersion decodes version n of app/key into out, a kind's version type.
func (d *Definitions) ReadVersion(ctx context.Context, app, key string, n int, out any) error {
	return d.k.Store.Get(ctx, d.versions, DefinitionVersionID(app, key, n), out)
}

func (d *Definitions) readVersion(ctx context.Context, app, key string, n int) (*Version, error) {
	var v Version
	if err := d.ReadVersion(ctx, app, key, n, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

func actorOf(p *Principal) string {
	if p == nil {
		return SystemActor
	}
	return p.Username
}

func ipOf(p *Principal) string {
	if p == nil {
		return ""
	}
	return p.IP
}
