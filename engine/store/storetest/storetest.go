// Package storetest holds the store test suite, run against every backend, and helpers that give
// other packages' tests a fresh, real store.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"tracecraft/engine/store"
)

// MongoEnv names the environment variable with a MongoDB URI for the suite's second run.
const MongoEnv = "TRACECRAFT_TEST_MONGO_URI"

// Backend opens stores of one kind for the suite.
type Backend struct {
	Name string
	// Open gives a fresh, empty store; it is closed when the test ends.
	Open func(t testing.TB) *store.Store
	// Reopen closes s and opens the same data again, as a restart does.
	Reopen func(t testing.TB, s *store.Store) *store.Store
	// Peer opens a second node on the same data while s stays open; nil where the backend
	// allows one process only (the embedded store).
	Peer func(t testing.TB, s *store.Store) *store.Store
}

// Backends lists the embedded backend and, when TRACECRAFT_TEST_MONGO_URI is set, MongoDB.
func Backends() []Backend {
	bs := []Backend{embeddedBackend()}
	if uri := os.Getenv(MongoEnv); uri != "" {
		bs = append(bs, mongoBackend(uri))
	}
	return bs
}

// Quiet is a logger that drops everything, for stores opened by tests.
var Quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// TempDir makes a short temporary folder (the embedded store's Unix socket path must stay
// short, and t.TempDir paths grow with the test name), removed when the test ends.
func TempDir(t testing.TB) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "tc")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

// OpenEmbedded starts an embedded store in dir, closed when the test ends.
func OpenEmbedded(t testing.TB, dir string) *store.Store {
	t.Helper()
	s, err := store.Open(context.Background(), store.Options{DataDir: dir, Logger: Quiet})
	if err != nil {
		t.Fatalf("open embedded store: %v", err)
	}
	t.Cleanup(func() { closeQuietly(s) })
	return s
}

// New gives a fresh embedded store in its own temporary data folder.
func New(t testing.TB) *store.Store {
	t.Helper()
	return OpenEmbedded(t, TempDir(t))
}

func closeQuietly(s *store.Store) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_ = s.Close(ctx)
}

func embeddedBackend() Backend {
	dirs := map[*store.Store]string{}
	return Backend{
		Name: "embedded",
		Open: func(t testing.TB) *store.Store {
			dir := TempDir(t)
			s := OpenEmbedded(t, dir)
			dirs[s] = dir
			return s
		},
		Reopen: func(t testing.TB, s *store.Store) *store.Store {
			dir := dirs[s]
			if err := s.Close(context.Background()); err != nil {
				t.Fatalf("close: %v", err)
			}
			s2 := OpenEmbedded(t, dir)
			dirs[s2] = dir
			return s2
		},
	}
}

func mongoBackend(uri string) Backend {
	dbs := map[*store.Store]string{}
	open := func(t testing.TB, db string) *store.Store {
		s, err := store.Open(context.Background(), store.Options{MongoURI: uri, Database: db, Logger: Quiet})
		if err != nil {
			t.Fatalf("open mongodb store: %v", err)
		}
		t.Cleanup(func() { closeQuietly(s) })
		dbs[s] = db
		return s
	}
	return Backend{
		Name: "mongodb",
		Open: func(t testing.TB) *store.Store {
			b := make([]byte, 6)
			_, _ = rand.Read(b)
			db := "tctest_" + hex.EncodeToString(b)
			t.Cleanup(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				defer cancel()
				if s, err := store.Open(ctx, store.Options{MongoURI: uri, Database: db, Logger: Quiet}); err == nil {
					_ = s.Database().Drop(ctx)
					_ = s.Close(ctx)
				}
			})
			return open(t, db)
		},
		Reopen: func(t testing.TB, s *store.Store) *store.Store {
			db := dbs[s]
			_ = s.Close(context.Background())
			return open(t, db)
		},
		Peer: func(t testing.TB, s *store.Store) *store.Store { return open(t, dbs[s]) },
	}
}
