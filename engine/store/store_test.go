package store_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

func TestStore(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) { storetest.Run(t, b) })
	}
}

// TestExplainUsesIDIndex proves the embedded store's {_id: x} lookups run on an index.
func TestExplainUsesIDIndex(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	for i := range 50 {
		if err := s.Put(ctx, "lots", fmt.Sprint("L", i), bson.D{{Key: "n", Value: i}}); err != nil {
			t.Fatal(err)
		}
	}
	var res bson.M
	cmd := bson.D{{Key: "explain", Value: bson.D{{Key: "find", Value: "lots"}, {Key: "filter", Value: bson.D{{Key: "_id", Value: "L7"}}}}}}
	if err := s.Database().RunCommand(ctx, cmd).Decode(&res); err != nil {
		t.Fatal(err)
	}
	plan := fmt.Sprint(res["queryPlanner"])
	if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tc_id") {
		t.Fatalf("plan does not use the _id expression index: %s", plan)
	}
}

func TestEmbeddedDataFolder(t *testing.T) {
	dir := filepath.Join(storetest.TempDir(t), "data")
	s := storetest.OpenEmbedded(t, dir)
	if s.Kind() != store.KindEmbedded {
		t.Fatalf("kind %q", s.Kind())
	}
	fi, err := os.Stat(dir)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o700 {
		t.Errorf("data folder mode %v, want 0700", fi.Mode().Perm())
	}
	sock, err := os.Stat(filepath.Join(dir, "mongo.sock"))
	if err != nil || sock.Mode()&os.ModeSocket == 0 {
		t.Errorf("no Unix socket in the data folder: %v", err)
	}
	_, err = store.Open(context.Background(), store.Options{DataDir: dir, Logger: storetest.Quiet})
	if !errors.Is(err, store.ErrLocked) {
		t.Fatalf("second open of one data folder: %v, want ErrLocked", err)
	}
}

// TestHardening20_QuietRestart (issue 7, item 20): opening a data folder again, using its
// collections and closing the store logs no warning — FerretDB's dumps of the creates it refused
// and of the driver's endSessions looked like failures on every start.
func TestHardening20_QuietRestart(t *testing.T) {
	dir := filepath.Join(storetest.TempDir(t), "data")
	ctx := context.Background()
	for round := range 2 {
		var logs strings.Builder
		h := slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo})
		s, err := store.Open(ctx, store.Options{DataDir: dir, Logger: slog.New(h)})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []string{"users", "roles", "lots"} {
			if _, err := s.Collection(ctx, c); err != nil {
				t.Fatal(err)
			}
		}
		if err := s.Put(ctx, "lots", fmt.Sprint("L", round), bson.D{{Key: "n", Value: round}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Close(ctx); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "level=WARN") || strings.Contains(logs.String(), "level=ERROR") {
			t.Fatalf("round %d logged warnings:\n%s", round, logs.String())
		}
	}
}
