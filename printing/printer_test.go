package printing

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
	"tracecraft/printing/printingtest"
)

// zeros reads as an endless run of zero bytes.
type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

func newPrinterKernel(t *testing.T) *engine.Kernel {
	t.Helper()
	st := storetest.OpenEmbedded(t, storetest.TempDir(t))
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet,
		Auth: engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 64, Time: 1, Threads: 1}}})
	enginetest.Start(t, k)
	return k
}

// TestPrinterSendsGolden configures a ZPL and a TSPL printer on loopback listeners, prints
// through the printer set (the engine's Printers) and checks the bytes the printers received
// are the golden files.
func TestPrinterSendsGolden(t *testing.T) {
	ctx := context.Background()
	k := newPrinterKernel(t)
	ps := NewPrinterSet(k, PrinterOptions{TempDir: t.TempDir()})
	zebra, tsc := printingtest.NewPrinter(t), printingtest.NewPrinter(t)
	sys := engine.SystemPrincipal()
	l, err := ps.Put(ctx, sys, PrinterList{Printers: []Printer{
		{Name: "仓库1号", Host: "127.0.0.1", Port: zebra.Port(), Language: "ZPL"},
		{Name: "tsc-line2", Host: "localhost", Port: tsc.Port(), Language: LangTSPL, DPI: 203, Timeout: 5},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if l.Rev != 1 || l.Printers[0].Language != LangZPL {
		t.Fatalf("stored %+v", l)
	}
	def := goldenCases()["text_qr"]
	for i, c := range []struct{ printer, golden string }{{"仓库1号", "text_qr.zpl"}, {"TSC-LINE2", "text_qr.tspl"}} {
		n, err := ps.Print(ctx, sys, "food", c.printer, def, pageSlice([]*PageData{goldenPage(), goldenPage()}), PrintOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if n.Labels != 2 || n.Sent != 2 {
			t.Fatalf("%s: %+v, want 2 labels sent", c.printer, n)
		}
		rec := zebra
		if i == 1 {
			rec = tsc
		}
		got := rec.Job(t, 0)
		one, err := os.ReadFile(filepath.Join("testdata", "golden", c.golden))
		if err != nil {
			t.Fatal(err)
		}
		want := append(bytes.Clone(one), one...)
		if i == 1 {
			// TSPL sets the label size once for the job: the second label starts at CLS.
			_, second, _ := bytes.Cut(one, []byte("\r\nCLS\r\n"))
			want = append(bytes.Clone(one), append([]byte("CLS\r\n"), second...)...)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("%s received %d bytes, want the golden %s twice (%d bytes):\n%q", c.printer, len(got), c.golden, len(want), got)
		}
	}
}

// TestPrinterErrors: an unknown printer names the field; a printer nobody listens on, and one
// that stops reading, fail with the printer's name in a clear message; nothing is sent for a
// template a label printer cannot print.
func TestPrinterErrors(t *testing.T) {
	ctx := context.Background()
	k := newPrinterKernel(t)
	ps := NewPrinterSet(k, PrinterOptions{TempDir: t.TempDir()})
	sys := engine.SystemPrincipal()
	def := goldenCases()["text_qr"]
	pages := pageSlice([]*PageData{goldenPage()})

	_, err := ps.Print(ctx, sys, "food", "any", def, pages, PrintOptions{})
	var ce *engine.CodedError
	if !errors.As(err, &ce) || ce.Code != "print_no_printer" {
		t.Fatalf("no printers configured: %v", err)
	}

	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadPort := closed.Addr().(*net.TCPAddr).Port
	closed.Close()
	// A listener that accepts and never reads: the job fills the socket buffers, the write
	// deadline ends it.
	stuck, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stuck.Close()
	var held []net.Conn
	var mu sync.Mutex
	go func() {
		for {
			c, err := stuck.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			held = append(held, c)
			mu.Unlock()
		}
	}()
	defer func() {
		mu.Lock()
		for _, c := range held {
			c.Close()
		}
		mu.Unlock()
	}()
	rec := printingtest.NewPrinter(t)
	_, err = ps.Put(ctx, sys, PrinterList{Printers: []Printer{
		{Name: "dead", Host: "127.0.0.1", Port: deadPort, Language: LangZPL, Timeout: 2},
		{Name: "stuck", Host: "127.0.0.1", Port: stuck.Addr().(*net.TCPAddr).Port, Language: LangTSPL, Timeout: 1},
		{Name: "ok", Host: "127.0.0.1", Port: rec.Port(), Language: LangZPL},
	}})
	if err != nil {
		t.Fatal(err)
	}

	_, err = ps.Print(ctx, sys, "food", "nope", def, pages, PrintOptions{})
	if fe, ok := engine.AsFieldErrors(err); !ok || fe[0].Path != "printer" || fe[0].Code != "not_found" {
		t.Fatalf("unknown printer: %v", err)
	}

	_, err = ps.Print(ctx, sys, "food", "dead", def, pages, PrintOptions{})
	if !errors.As(err, &ce) || ce.Code != "printer_unreachable" || !errors.Is(err, engine.ErrConflict) {
		t.Fatalf("dead printer: %v", err)
	}
	if msg := ce.Message(engine.LangZH); !strings.HasPrefix(msg, "打印机 dead 无法连接：") {
		t.Fatalf("message %q", msg)
	}

	// A job far larger than the socket buffers (64 MiB): the write deadline ends it.
	pr, err := ps.Printer(ctx, "stuck")
	if err != nil {
		t.Fatal(err)
	}
	err = Send(ctx, pr, io.LimitReader(zeros{}, 64<<20))
	if !errors.As(err, &ce) || ce.Code != "printer_failed" {
		t.Fatalf("printer that stops reading: %v", err)
	}
	if msg := ce.Message(engine.LangEN); !strings.Contains(msg, "printer stuck") || !strings.HasSuffix(msg, ": timeout") {
		t.Fatalf("message %q", msg)
	}

	// A GS1-128 value that is not GS1: refused before anything is sent.
	bad := &Definition{Page: Page{Width: 60, Height: 40}, Elements: []Element{
		{ID: "case", Type: ElGS1128, X: 1, Y: 1, W: 58, H: 20, Value: "(99)"},
	}}
	_, err = ps.Print(ctx, sys, "food", "ok", bad, pages, PrintOptions{})
	if !errors.As(err, &ce) || ce.Code != "label_unprintable" || !strings.Contains(ce.Message(engine.LangEN), `element "case"`) {
		t.Fatalf("unprintable template: %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	if n := rec.Count(); n != 0 {
		t.Fatalf("a refused job reached the printer: %d jobs", n)
	}
}

// TestPrinterListValidate names the field of each mistake.
func TestPrinterListValidate(t *testing.T) {
	ok := Printer{Name: "a", Host: "192.168.1.20", Language: LangZPL}
	cases := []struct {
		p     Printer
		field string
		code  string
	}{
		{Printer{Host: "10.0.0.5", Language: LangZPL}, "printers.0.name", "required"},
		{Printer{Name: "b", Language: LangZPL}, "printers.0.host", "required"},
		{Printer{Name: "b", Host: "http://10.0.0.5", Language: LangZPL}, "printers.0.host", "printing.bad_host"},
		{Printer{Name: "b", Host: "10.0.0.5:9100", Language: LangZPL}, "printers.0.host", "printing.bad_host"},
		{Printer{Name: "b", Host: "10.0.0.256", Language: LangZPL}, "printers.0.host", "printing.bad_host"},
		{Printer{Name: "b", Host: "printer one", Language: LangZPL}, "printers.0.host", "printing.bad_host"},
		{Printer{Name: "b", Host: "-bad.lan", Language: LangZPL}, "printers.0.host", "printing.bad_host"},
		{Printer{Name: "b", Host: "zebra.lan", Port: 70000, Language: LangZPL}, "printers.0.port", "too_big"},
		{Printer{Name: "b", Host: "zebra.lan", Port: -1, Language: LangZPL}, "printers.0.port", "too_small"},
		{Printer{Name: "b", Host: "zebra.lan", Language: "epl"}, "printers.0.language", "one_of"},
		{Printer{Name: "b", Host: "zebra.lan", Language: LangTSPL, DPI: 250}, "printers.0.dpi", "one_of"},
		{Printer{Name: "b", Host: "zebra.lan", Language: LangTSPL, Timeout: 3600}, "printers.0.timeout", "too_big"},
		{Printer{Name: "A", Host: "fe80::1", Language: LangTSPL}, "printers.1.name", "exists"},
	}
	for _, c := range cases {
		l := PrinterList{Printers: []Printer{c.p}}
		if c.field == "printers.1.name" {
			l.Printers = []Printer{ok, c.p}
		}
		fe, isFE := engine.AsFieldErrors(l.Validate())
		if !isFE || len(fe) != 1 || fe[0].Path != c.field || fe[0].Code != c.code {
			t.Errorf("%+v: got %v, want %s %s", c.p, fe, c.field, c.code)
		}
	}
	good := PrinterList{Printers: []Printer{ok, {Name: "b", Host: "tsc-2.plant.lan", Port: 9101, Language: " TSPL ", DPI: 300}, {Name: "c", Host: "::1", Language: LangZPL}}}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	if good.Printers[1].Language != LangTSPL {
		t.Fatalf("language not normalised: %q", good.Printers[1].Language)
	}
}

// TestPrinterPutAudited: only administrators change printers; a change is audited; a stale
// revision is a conflict; anyone signed in sees names but not hosts.
func TestPrinterPutAudited(t *testing.T) {
	ctx := context.Background()
	k := newPrinterKernel(t)
	ps := NewPrinterSet(k, PrinterOptions{})
	sys := engine.SystemPrincipal()
	if _, err := k.Auth.CreateUser(ctx, sys, engine.UserInput{Username: "op", Password: "password123"}); err != nil {
		t.Fatal(err)
	}
	op := &engine.Principal{Username: "op"}
	in := PrinterList{Printers: []Printer{{Name: "z1", Host: "10.1.2.3", Language: LangZPL}}}
	if _, err := ps.Put(ctx, op, in); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("non-admin put: %v", err)
	}
	if _, err := ps.List(ctx, op); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("non-admin list: %v", err)
	}
	l, err := ps.Put(ctx, sys, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ps.Put(ctx, sys, in); !engine.IsConflict(err) {
		t.Fatalf("put at rev 0 again: %v", err)
	}
	in.Rev = l.Rev
	in.Printers = append(in.Printers, Printer{Name: "t1", Host: "10.1.2.4", Language: LangTSPL, DPI: 300})
	if l, err = ps.Put(ctx, sys, in); err != nil || l.Rev != 2 {
		t.Fatalf("second put: %+v %v", l, err)
	}
	infos, err := ps.Infos(ctx, op)
	if err != nil {
		t.Fatal(err)
	}
	if len(infos) != 2 || infos[1] != (PrinterInfo{Name: "t1", Language: LangTSPL, DPI: 300}) || infos[0].DPI != 203 {
		t.Fatalf("infos %+v", infos)
	}
	es, _, err := k.Audit.ListPage(ctx, engine.AuditQuery{Action: "printers.update"})
	if err != nil {
		t.Fatal(err)
	}
	if len(es) != 2 || es[0].Actor != sys.Username || es[0].Target != "printers" {
		t.Fatalf("audit %+v", es)
	}
}
