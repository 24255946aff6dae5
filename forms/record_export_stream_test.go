package forms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
)

// bigNotes is a form whose records can be large.
const bigNotes = `{
  "key": "notes",
  "name": {"zh-CN": "记录", "en": "Notes"},
  "schema": {"type": "object", "properties": {
    "no":   {"x-type": "text", "x-label": {"zh-CN": "编号", "en": "No."}},
    "body": {"x-type": "textarea", "x-label": {"zh-CN": "内容", "en": "Body"}, "maxLength": 1000000}
  }}
}`

// peakHeap runs fn and returns by how much the live heap grew at most while it ran, sampled
// every millisecond with the collector made eager (so that the heap is close to what is live).
// A sample can miss a peak, never invent one.
func peakHeap(t *testing.T, fn func()) uint64 {
	t.Helper()
	defer debug.SetGCPercent(debug.SetGCPercent(20))
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base, peak := ms.HeapAlloc, ms.HeapAlloc
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Millisecond)
		defer tick.Stop()
		for {
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapAlloc)
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	wg.Wait()
	return peak - base
}

// TestHardening13_ExportStreams (item 13): an export held every matching record at once (the
// embedded store sorted them in memory, and the API buffered the whole file). Now it sorts
// ids and sort values only and writes each record as it reads it, so 64 records of 100 kB
// each pass through in a few megabytes, in the list's order. (An XLSX export goes the same way
// into excelize's stream writer, which keeps at most 16 MiB of rows before it spills to a
// temporary file.)
func TestHardening13_ExportStreams(t *testing.T) {
	e := newIOEnv(t)
	if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(bigNotes), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Publish(e.ctx, e.admin, "qa", "notes"); err != nil {
		t.Fatal(err)
	}
	const n, size = 64, 100_000
	for i := range n {
		body := fmt.Sprintf("%03d", i) + strings.Repeat("x", size-3)
		if _, err := e.s.Create(e.ctx, e.admin, "qa", "notes", Values{"no": fmt.Sprintf("N%03d", (i*7)%n), "body": body}); err != nil {
			t.Fatal(err)
		}
	}
	for _, format := range []string{FormatCSV} {
		var rows int
		var err error
		var out countingWriter
		grown := peakHeap(t, func() {
			rows, err = e.s.Export(e.ctx, e.admin, "qa", "notes", ListQuery{Sort: &SortKey{Field: "no"}}, format, engine.LangEN, &out)
		})
		t.Logf("%s: %d rows, %d MiB written, heap grew by %d MiB at most", format, rows, out.n>>20, grown>>20)
		if err != nil || rows != n || out.n < n*size {
			t.Fatalf("%s: %d rows, %d bytes, %v", format, rows, out.n, err)
		}
		if grown > 8<<20 {
			t.Fatalf("%s: exporting %d MB grew the heap by %d MiB", format, n*size/1_000_000, grown>>20)
		}
	}
	// The order is the list's, by the sort value.
	var buf bytes.Buffer
	if _, err := e.s.Export(e.ctx, e.admin, "qa", "notes", ListQuery{Sort: &SortKey{Field: "no", Desc: true}, Fields: []string{"no"}}, FormatCSV, engine.LangEN, &buf); err != nil {
		t.Fatal(err)
	}
	rows := ioParseCSV(t, buf.Bytes())
	for i, row := range rows[1:] {
		if want := fmt.Sprintf("N%03d", n-1-i); row[0] != want {
			t.Fatalf("row %d is %s, want %s", i+1, row[0], want)
		}
	}
}

// countingWriter counts what is written to it.
type countingWriter struct{ n int }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += len(p); return len(p), nil }

// TestHardening13_ExportChecksRowsAgain (item 13): a prepared export reads its rows when it
// writes them: a record deleted in between is left out, one changed is written as it is now,
// and the errors that refuse an export come from PrepareExport, before a byte is written.
func TestHardening13_ExportChecksRowsAgain(t *testing.T) {
	e := newIOEnv(t)
	full, bare := e.seed(t)
	exp, err := e.s.PrepareExport(e.ctx, e.admin, "qa", "receipt", ListQuery{Sort: &SortKey{Field: "no"}, Fields: []string{"material"}}, FormatCSV, engine.LangEN)
	if err != nil || exp.Rows != 2 || exp.Name() != "Goods receipt" {
		t.Fatalf("prepare: %+v, %v", exp, err)
	}
	if _, err := e.s.Delete(e.ctx, e.admin, "qa", "receipt", bare.ID, bare.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Update(e.ctx, e.admin, "qa", "receipt", full.ID, full.Rev, Values{"material": "changed"}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	n, err := exp.Write(e.ctx, &buf)
	if err != nil || n != 1 {
		t.Fatalf("write: %d, %v", n, err)
	}
	if rows := ioParseCSV(t, buf.Bytes()); len(rows) != 2 || rows[1][0] != "changed" {
		t.Fatalf("rows %q", rows)
	}
	for _, bad := range []struct {
		p      *engine.Principal
		format string
	}{{e.clerk, FormatCSV}, {e.admin, "pdf"}} {
		if _, err := e.s.PrepareExport(e.ctx, bad.p, "qa", "receipt", ListQuery{}, bad.format, engine.LangEN); err == nil {
			t.Fatalf("%s %s: prepared", bad.p.Username, bad.format)
		}
	}
}

// TestHardening13_ExportStopsWithItsContext (item 13): an export whose context ends stops at
// the next row with the context's error.
func TestHardening13_ExportStopsWithItsContext(t *testing.T) {
	e := newIOEnv(t)
	for i := range 30 {
		e.create(t, Values{"material": fmt.Sprintf("m%d", i)})
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	exp, err := e.s.PrepareExport(ctx, e.admin, "qa", "receipt", ListQuery{}, FormatCSV, engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	// The reader of the file leaves after the header.
	w := &cancellingWriter{cancel: cancel}
	n, err := exp.Write(ctx, w)
	if !errors.Is(err, context.Canceled) || n != 0 {
		t.Fatalf("write: %d rows, %v", n, err)
	}
	// Audited all the same, as cut short (issue 7 review, finding 3).
	entries, _ := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.export"})
	if len(entries) != 1 {
		t.Fatalf("audit entries of the export: %+v", entries)
	}
	if after, _ := entries[0].After.(map[string]any); fmt.Sprint(after["count"]) != "0" || after["complete"] != false {
		t.Fatalf("audit after %#v", entries[0].After)
	}
}

// cancellingWriter cancels on the first write (the CSV header and its byte-order mark).
type cancellingWriter struct {
	cancel func()
	w      bytes.Buffer
}

func (c *cancellingWriter) Write(p []byte) (int, error) {
	c.cancel()
	return c.w.Write(p)
}

var _ io.Writer = (*cancellingWriter)(nil)
