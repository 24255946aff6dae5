package forms_test

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// writeCounter counts the write commands a store sends, by collection.
type writeCounter struct {
	mu     sync.Mutex
	on     bool
	counts map[string]int // command name → count
	colls  map[string]int // "command collection" → count
}

func (w *writeCounter) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		switch e.CommandName {
		case "insert", "update", "delete", "findAndModify":
		default:
			return
		}
		coll, _ := e.Command.Lookup(e.CommandName).StringValueOK()
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.on {
			w.counts[e.CommandName]++
			w.colls[e.CommandName+" "+coll]++
		}
	}}
}

func (w *writeCounter) start() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.on, w.counts, w.colls = true, map[string]int{}, map[string]int{}
}

func (w *writeCounter) stop() (map[string]int, map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.on = false
	return w.counts, w.colls
}

// TestIssue8Writes_RecordCreateIsTwoInserts (issue 8 item 4): a record create costs two store
// writes on the embedded store — its audit entry, which carries its event, and the record —
// with a flow subscriber listening: no event document, no delivery marker, no sequence document
// per auto-number. It cost five before (sequence block, record, audit entry, event, marker).
func TestIssue8Writes_RecordCreateIsTwoInserts(t *testing.T) {
	dir, err := os.MkdirTemp("", "tcw")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var wc writeCounter
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Monitor: wc.monitor()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = st.Close(ctx)
	})
	k := engine.NewKernel(st, engine.KernelOptions{Log: slog.New(slog.NewTextHandler(io.Discard, nil)), AuditKey: []byte("test-key-0123456789abcdef0123456789")})
	fs := forms.New(k, forms.Options{})
	var mu sync.Mutex
	started := map[string]bool{}
	k.Bus.Subscribe("flows", []string{engine.EventRecordCreated}, func(_ context.Context, e engine.Event) error {
		mu.Lock()
		defer mu.Unlock()
		started[e.Data["id"].(string)] = true
		return nil
	})
	enginetest.Start(t, k)
	sys := engine.SystemPrincipal()
	if _, err := fs.CreateApp(ctx, sys, forms.AppInput{Key: benchApp, Name: engine.Text{ZH: "基准"}}); err != nil {
		t.Fatal(err)
	}
	f, err := fs.SaveDraft(ctx, sys, benchApp, []byte(benchReceiptDef), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fs.Publish(ctx, sys, benchApp, f.Key); err != nil {
		t.Fatal(err)
	}
	const n = 64
	wc.start()
	var ids []string
	for i := range n {
		r, err := fs.Create(ctx, sys, benchApp, "receipt", benchReceipt(i))
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	counts, colls := wc.stop()
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	for _, id := range ids {
		if !started[id] {
			t.Errorf("record %s: its event was not delivered", id)
		}
	}
	mu.Unlock()
	// Two inserts a record; the rest is amortised: the day's auto-number sequence made, a block
	// of store.DrawBlock numbers claimed at a time, the audit log's tail hint every 64 entries,
	// the bus's watermarks once a second.
	if colls["insert _audit"] != n || colls["insert "+forms.RecordsCollection(benchApp, "receipt")] != n {
		t.Fatalf("%d creates sent %v, want one audit entry and one record each", n, colls)
	}
	writes := counts["insert"] + counts["update"] + counts["delete"] + counts["findAndModify"]
	if max := 2*n + 1 + n/store.DrawBlock + 1 + 4; writes > max {
		t.Fatalf("%d creates sent %d writes (%v), want at most %d", n, writes, colls, max)
	}
	t.Logf("%d creates: %d writes (%v)", n, writes, colls)
}
