package main

import (
	"context"
	"io"
	"log/slog"
	"math/rand/v2"
	"sort"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// TestKillDuringCodeIssuance runs the real binary, issues item codes for a lot from four
// clients at once, kills the server with SIGKILL at a random moment and restarts it: every
// acknowledged issuance is there with its codes resolving to it, no sequence number (so no
// serial) belongs to two issuances, the lot's counts add up to the stored issuances, each
// stored issuance has exactly one audit entry that is not voided, and issuing goes on after
// the restart without reusing a number.
func TestKillDuringCodeIssuance(t *testing.T) {
	s, data, token := startKillTest(t)
	s.must("POST", "/api/v1/apps", token, map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "工厂"}}, 201)
	lotForm := map[string]any{
		"key": "lot", "name": map[string]string{"zh-CN": "生产批"},
		"schema": map[string]any{"type": "object", "properties": map[string]any{
			"lot_no": map[string]any{"x-type": "text", "x-public": true, "x-label": map[string]string{"zh-CN": "批号"}},
			"gtin":   map[string]any{"x-type": "text", "x-label": map[string]string{"zh-CN": "商品条码"}},
		}},
	}
	s.must("POST", "/api/v1/apps/plant/forms", token, lotForm, 201)
	s.must("POST", "/api/v1/apps/plant/forms/lot/publish", token, nil, 201)
	lot := s.must("POST", "/api/v1/apps/plant/forms/lot/records", token, map[string]any{"data": map[string]any{"lot_no": "L2603A", "gtin": "6901234567892"}}, 201)["id"].(string)
	codes := "/api/v1/apps/plant/forms/lot/records/" + lot + "/codes"

	type acked struct {
		id, first string
		count     float64
	}
	var mu sync.Mutex
	var done []acked
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				n := 1 + (w*37+i*101)%5000
				st, out := s.call("POST", codes, token, map[string]any{"count": n})
				if st != 201 {
					continue // the server is gone: never acknowledged
				}
				mu.Lock()
				done = append(done, acked{id: out["id"].(string), first: out["firstSerial"].(string), count: out["count"].(float64)})
				mu.Unlock()
			}
		}()
	}
	time.Sleep(time.Duration(800+rand.IntN(1500)) * time.Millisecond)
	if err := s.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = s.cmd.Wait()
	cancel()
	wg.Wait()
	if len(done) < 5 {
		t.Fatalf("only %d issuances acknowledged before the kill: %s", len(done), s.out)
	}

	s = startServer(t, data, s.addr)
	token = s.login()
	lc := s.must("GET", codes, token, nil, 200)
	listed := map[string]float64{}
	for _, it := range lc["issuances"].([]any) {
		m := it.(map[string]any)
		listed[m["id"].(string)] = m["count"].(float64)
	}
	for _, a := range done {
		if listed[a.id] != a.count {
			t.Fatalf("acknowledged issuance %s (%v codes) listed with %v", a.id, a.count, listed[a.id])
		}
		d := s.must("GET", "/api/v1/apps/plant/codes/"+a.first, token, nil, 200)
		if d["issuance"] != a.id {
			t.Fatalf("first code %s of %s resolves to %v", a.first, a.id, d["issuance"])
		}
	}
	var sum float64
	for _, n := range listed {
		sum += n
	}
	totals := lc["totals"].(map[string]any)
	if totals["issued"].(float64) != sum {
		t.Fatalf("lot totals %v, the issuances hold %v codes", totals, sum)
	}
	t.Logf("%d issuances acknowledged before SIGKILL, %d stored, %.0f codes", len(done), len(listed), sum)
	crashCheckCodeAudit(t, s, token, listed)

	// Issuing goes on after the restart.
	after := s.must("POST", codes, token, map[string]any{"count": 10}, 201)
	if _, dup := listed[after["id"].(string)]; dup {
		t.Fatalf("issuance %s after the restart reuses an id", after["id"])
	}
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.cmd.Wait(); err != nil {
		t.Fatalf("graceful stop: %v: %s", err, s.out)
	}
	// Straight from the store: no sequence number is in two issuances.
	crashCheckRanges(t, data, len(listed)+1)
}

// crashCheckCodeAudit checks that each stored issuance has exactly one codes.issue entry that
// is not voided, and that no entry that is not voided names an issuance that is not stored.
func crashCheckCodeAudit(t *testing.T, s *server, token string, stored map[string]float64) {
	t.Helper()
	issues := map[string]int{}
	entries, _ := s.liveAudit(t, token, "codes.issue")
	for _, e := range entries {
		id := e["target"].(string)
		if _, ok := stored[id]; !ok {
			t.Errorf("audit entry %v says issuance %s was made, but it is not stored", e["seq"], id)
		}
		issues[id]++
	}
	for id := range stored {
		if issues[id] != 1 {
			t.Errorf("issuance %s has %d codes.issue entries, want 1", id, issues[id])
		}
	}
}

// crashCheckRanges reads the issuances from the data folder and checks their ranges of
// sequence numbers do not overlap.
func crashCheckRanges(t *testing.T, data string, want int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: data, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close(ctx)
	type rng struct {
		First int64 `bson:"first"`
		Count int64 `bson:"count"`
	}
	rs, err := store.FindAll[rng](ctx, st, "print_code_issuances", bson.D{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != want {
		t.Fatalf("%d issuances in the store, want %d", len(rs), want)
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].First < rs[j].First })
	for i := 1; i < len(rs); i++ {
		if prev := rs[i-1]; prev.First+prev.Count > rs[i].First {
			t.Fatalf("ranges overlap: %d+%d and %d", prev.First, prev.Count, rs[i].First)
		}
	}
}
