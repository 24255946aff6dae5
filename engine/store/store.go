// Package store is Tracecraft's access to MongoDB: the embedded FerretDB (SQLite files in a data
// folder, reached over a Unix socket) by default, or a real MongoDB given by URI. Both run the same
// code; the race-safe primitives here (unique inserts, revisioned updates, sequences) hold on both.
//
// Embedded FerretDB does not apply updates atomically (see DESIGN.md), so nothing here relies on
// an atomic update: exclusivity comes from inserting a document under a unique _id, and where a
// read-modify-write remains it is serialised in-process on the embedded store (the embedded
// database belongs to one process) and guarded by a filter on MongoDB.
package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// Kind names the backend a Store runs on.
type Kind string

// The backends.
const (
	KindEmbedded Kind = "embedded"
	KindMongoDB  Kind = "mongodb"
)

// Sentinel errors of the store; check them with errors.Is.
var (
	ErrNotFound  = errors.New("not found")
	ErrDuplicate = errors.New("duplicate key")
	ErrConflict  = errors.New("revision conflict")
	ErrLocked    = errors.New("data folder is in use by another process")
)

// DefaultDatabase is the database name used when Options.Database is empty.
const DefaultDatabase = "tracecraft"

// Options configure Open.
type Options struct {
	// DataDir is the folder of the embedded store (created with 0700 if missing). Ignored when
	// MongoURI is set.
	DataDir string
	// MongoURI selects a real MongoDB instead of the embedded store.
	MongoURI string
	// Database is the database name; DefaultDatabase when empty.
	Database string
	// Logger receives the store's own logs; slog.Default() when nil.
	Logger *slog.Logger
	// Synchronous is SQLite's synchronous setting on the embedded store's connections
	// (store_sync.go); SyncNormal when empty. Ignored on MongoDB.
	Synchronous Sync
	// Monitor, when set, sees every command the store sends (tests count the writes).
	Monitor *event.CommandMonitor
	// QueryViaWire sends the embedded store's queries (Query, QueryCount, Aggregate) to
	// FerretDB in their MongoDB form, which FerretDB evaluates itself, instead of compiling
	// them to SQL: for tests that hold the two paths to the same answers, and for diagnosing
	// a query that seems to answer wrong. It is slow (FerretDB reads the whole collection) and
	// is no setting of serve. Ignored on MongoDB.
	QueryViaWire bool
}

// Store is an open connection to the backend. It is safe for concurrent use.
type Store struct {
	kind   Kind
	log    *slog.Logger
	client *mongo.Client
	db     *mongo.Database

	emb *embedded // nil on MongoDB
	// viaWire: the embedded store's queries go through FerretDB (Options.QueryViaWire).
	viaWire bool

	ensureMu sync.Mutex
	ensured  sync.Map // collection name → struct{}
	// existing holds the collections the database had when the store opened, so that opening
	// them again does not ask the server to create them (FerretDB logs every refused create).
	existing map[string]bool

	locks keyLocks
	// revLocks serialise revisioned writes (writeRevision, CreateWith, Settle) apart from
	// locks (Set): a write's hook appends its audit entry, whose tail hint is a Set, while the
	// write holds its lock, and one stripe must not be taken twice.
	revLocks keyLocks

	seqMu    sync.Mutex
	seqLocks map[string]*sync.Mutex
	seqTop   map[string]int64

	drawMu sync.Mutex
	draws  map[string]*drawn // blocks reserved by Draw (store_sequence.go)

	sync Sync // the embedded store's synchronous setting (store_sync.go)
	// syncHook, when set (tests), is called instead of syncing the file at path (durable).
	syncHook func(path string) error
}

// Open connects to MongoDB when opts.MongoURI is set, and otherwise starts the embedded FerretDB
// in opts.DataDir.
func Open(ctx context.Context, opts Options) (*Store, error) {
	if opts.Database == "" {
		opts.Database = DefaultDatabase
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	s := &Store{log: opts.Logger, seqLocks: map[string]*sync.Mutex{}, seqTop: map[string]int64{}, sync: opts.Synchronous, viaWire: opts.QueryViaWire}
	uri := opts.MongoURI
	if uri == "" {
		if opts.DataDir == "" {
			return nil, errors.New("open store: no data folder and no MongoDB URI")
		}
		emb, err := startEmbedded(ctx, opts.DataDir, opts.Database, opts.Synchronous, opts.Logger)
		if err != nil {
			return nil, fmt.Errorf("open embedded store in %s: %w", opts.DataDir, err)
		}
		s.emb, s.kind, uri = emb, KindEmbedded, emb.uri
	} else {
		s.kind = KindMongoDB
	}
	copts := options.Client().ApplyURI(uri).SetServerSelectionTimeout(15 * time.Second)
	if opts.Monitor != nil {
		copts.SetMonitor(opts.Monitor)
	}
	if s.kind == KindEmbedded {
		// One process owns the embedded database; a small pool keeps SQLite's writers few.
		copts.SetMaxPoolSize(32)
	}
	client, err := mongo.Connect(copts)
	if err != nil {
		s.closeEmbedded()
		return nil, fmt.Errorf("open store: connect: %w", err)
	}
	s.client, s.db = client, client.Database(opts.Database)
	if err := s.ping(ctx); err != nil {
		_ = client.Disconnect(context.Background())
		s.closeEmbedded()
		return nil, fmt.Errorf("open store: %w", err)
	}
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		_ = client.Disconnect(context.Background())
		s.closeEmbedded()
		return nil, fmt.Errorf("open store: list collections: %w", err)
	}
	s.existing = make(map[string]bool, len(names))
	for _, n := range names {
		s.existing[n] = true
	}
	return s, nil
}

func (s *Store) ping(ctx context.Context) error {
	var err error
	for i := 0; i < 100; i++ {
		if err = s.client.Ping(ctx, nil); err == nil {
			return nil
		}
		if ctx.Err() != nil {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("ping: %w", err)
}

// Close gives back the numbers Draw reserved and did not hand out, disconnects and, on the
// embedded store, stops FerretDB and releases the data folder.
func (s *Store) Close(ctx context.Context) error {
	err := s.releaseDraws(ctx)
	err = errors.Join(err, s.client.Disconnect(ctx))
	s.closeEmbedded()
	return err
}

func (s *Store) closeEmbedded() {
	if s.emb != nil {
		s.emb.close()
	}
}

// Kind tells which backend the store runs on.
func (s *Store) Kind() Kind { return s.kind }

// Database gives the raw driver database, for benchmarks and the few callers that need a driver
// feature the store does not wrap. Collections must still be made with Collection.
func (s *Store) Database() *mongo.Database { return s.db }

// Collection returns the named collection, creating it first if needed. On the embedded store a
// new collection also gets the SQLite expression index that makes {_id: x} lookups use an index.
func (s *Store) Collection(ctx context.Context, name string) (*mongo.Collection, error) {
	if _, ok := s.ensured.Load(name); ok {
		return s.db.Collection(name), nil
	}
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	if _, ok := s.ensured.Load(name); ok {
		return s.db.Collection(name), nil
	}
	if !s.existing[name] {
		if err := s.db.CreateCollection(ctx, name); err != nil && !isNamespaceExists(err) {
			return nil, fmt.Errorf("create collection %q: %w", name, err)
		}
	}
	if s.emb != nil {
		if err := s.emb.indexID(ctx, name); err != nil {
			return nil, fmt.Errorf("index collection %q: %w", name, err)
		}
	}
	s.ensured.Store(name, struct{}{})
	return s.db.Collection(name), nil
}

// reader returns the named collection for reading (Get, Find, Count): unlike Collection it
// never creates it. Both backends answer a read of a missing collection as empty, so a read
// of a made-up name (an unknown form's records) leaves no collection or table behind.
func (s *Store) reader(name string) *mongo.Collection { return s.db.Collection(name) }

// EnsureIndex creates a secondary index on MongoDB, where lists filtered or sorted by these keys
// then use it. On the embedded store it does nothing: FerretDB's SQLite backend never uses
// secondary indexes for queries (DESIGN.md), so they would only slow writes.
func (s *Store) EnsureIndex(ctx context.Context, coll string, keys bson.D, unique bool) error {
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	if s.kind == KindEmbedded {
		return nil
	}
	_, err = c.Indexes().CreateOne(ctx, mongo.IndexModel{Keys: keys, Options: options.Index().SetUnique(unique)})
	if err != nil {
		return fmt.Errorf("create index on %q: %w", coll, err)
	}
	return nil
}

// DropCollection removes a collection and all its documents.
func (s *Store) DropCollection(ctx context.Context, name string) error {
	s.ensureMu.Lock()
	defer s.ensureMu.Unlock()
	s.ensured.Delete(name)
	delete(s.existing, name)
	if s.emb != nil {
		s.emb.tables.Delete(name)
	}
	if err := s.db.Collection(name).Drop(ctx); err != nil {
		return fmt.Errorf("drop collection %q: %w", name, err)
	}
	return nil
}

func isNamespaceExists(err error) bool {
	var ce mongo.CommandError
	return errors.As(err, &ce) && (ce.Code == 48 || ce.Name == "NamespaceExists")
}

// mkdirPrivate creates dir with 0700 and tightens it if it already exists.
func mkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return os.Chmod(dir, 0o700)
}

// Ping checks the backend answers.
func (s *Store) Ping(ctx context.Context) error { return s.client.Ping(ctx, nil) }
