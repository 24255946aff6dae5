package store

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

func openCommitStore(t testing.TB) *Store {
	t.Helper()
	dir, err := os.MkdirTemp("", "tcw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Open(context.Background(), Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func stripe(parts ...string) uint32 {
	h := fnv.New32a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return h.Sum32() % 256
}

// TestIssue8Writes_HookMaySetUnderTheDocumentLock (issue 8 item 4): the hook of CreateWith and
// UpdateWith appends an audit entry, which sometimes stores the log's tail hint with Set, while
// the write holds its document's lock. A Set whose key fell on the same lock stripe hung the
// process (found by the create benchmark, about once in ten runs).
func TestIssue8Writes_HookMaySetUnderTheDocumentLock(t *testing.T) {
	s, ctx := openCommitStore(t), context.Background()
	// A key of another collection on the stripe of the document written.
	target := stripe("docs", "d1")
	hint := ""
	for i := 0; hint == ""; i++ {
		if k := fmt.Sprint("h", i); stripe("meta", k) == target {
			hint = k
		}
	}
	done := make(chan error, 1)
	go func() {
		set := func(ctx context.Context) error { return s.Set(ctx, "meta", hint, bson.D{{Key: "n", Value: 1}}) }
		err := s.CreateWith(ctx, "docs", "d1", bson.D{{Key: "v", Value: 1}}, set)
		if err == nil {
			_, err = s.UpdateWith(ctx, "docs", "d1", 1, bson.D{{Key: "v", Value: 2}}, set)
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("CreateWith/UpdateWith with a hook that calls Set on the same lock stripe did not return: deadlock")
	}
	var got struct {
		V   int   `bson:"v"`
		Rev int64 `bson:"_rev"`
	}
	if err := s.Get(ctx, "docs", "d1", &got); err != nil || got.V != 2 || got.Rev != 2 {
		t.Fatalf("after the writes: %+v, %v", got, err)
	}
}

// TestIssue8Writes_HookStopsTheWrite (issue 8 item 4): an error from the hook stops the write
// before its commit point, and Settle tells what is stored: a claimed revision that was not
// applied is rolled forward.
func TestIssue8Writes_HookStopsTheWrite(t *testing.T) {
	s, ctx := openCommitStore(t), context.Background()
	refuse := errors.New("no entry")
	if err := s.CreateWith(ctx, "docs", "d1", bson.D{{Key: "v", Value: 1}}, func(context.Context) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("create with a failing hook: %v", err)
	}
	if ok, err := s.Settle(ctx, "docs", "d1", 1, 0); ok || err != nil {
		t.Fatalf("settle of a create the hook stopped: %v, %v", ok, err)
	}
	if err := s.CreateWith(ctx, "docs", "d1", bson.D{{Key: "v", Value: 1}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateWith(ctx, "docs", "d1", 1, bson.D{{Key: "v", Value: 2}}, func(context.Context) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("update with a failing hook: %v", err)
	}
	for rev, want := range map[int64]bool{1: true, 2: false} {
		if ok, err := s.Settle(ctx, "docs", "d1", rev, 0); ok != want || err != nil {
			t.Fatalf("settle revision %d: %v, %v; want %v", rev, ok, err, want)
		}
	}
	// Revision 2 claimed, the process gone before it was applied.
	if err := s.keepFirstRevision(ctx, "docs", "d1"); err != nil {
		t.Fatal(err)
	}
	claim := bson.D{{Key: "_id", Value: revID("d1", 2)}, {Key: "rev", Value: int64(2)}, {Key: "at", Value: time.Now().UTC()},
		{Key: "doc", Value: bson.D{{Key: "_id", Value: "d1"}, {Key: "v", Value: 3}, {Key: RevField, Value: int64(2)}}}}
	if err := s.insert(ctx, RevisionsCollection("docs"), claim); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Settle(ctx, "docs", "d1", 2, 0); !ok || err != nil {
		t.Fatalf("settle of a claimed revision: %v, %v", ok, err)
	}
	var got struct {
		V int `bson:"v"`
	}
	if err := s.Get(ctx, "docs", "d1", &got); err != nil || got.V != 3 {
		t.Fatalf("after settle: %+v, %v; want the claimed revision applied", got, err)
	}
}

// TestIssue8Storage_NewDatabaseHas8KiBPages (issue 8, storage): a new data folder's database is
// made with PageSize pages, whatever the synchronous setting.
func TestIssue8Storage_NewDatabaseHas8KiBPages(t *testing.T) {
	s, ctx := openCommitStore(t), context.Background()
	if err := s.Put(ctx, "docs", "d1", bson.D{{Key: "v", Value: 1}}); err != nil {
		t.Fatal(err)
	}
	db, err := s.emb.sql()
	if err != nil {
		t.Fatal(err)
	}
	var size int
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&size); err != nil || size != PageSize {
		t.Fatalf("page size %d (%v), want %d", size, err, PageSize)
	}
	fp, err := s.Footprint(ctx)
	if err != nil || fp.Bytes <= 0 || len(fp.Collections) == 0 {
		t.Fatalf("footprint %+v, %v", fp, err)
	}
}
