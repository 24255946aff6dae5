// Package printingtest has helpers for tests that print: a label printer on loopback that
// records the bytes it is sent.
package printingtest

import (
	"io"
	"net"
	"sync"
	"testing"
	"time"
)

// Printer is a label printer on loopback (raw TCP, as port 9100 printers take jobs): it accepts
// connections and keeps the bytes of each, one job a connection.
type Printer struct {
	ln   net.Listener
	mu   sync.Mutex
	jobs [][]byte
	wg   sync.WaitGroup
}

// NewPrinter starts a Printer on 127.0.0.1; it stops when the test ends.
func NewPrinter(t testing.TB) *Printer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &Printer{ln: ln}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			b, _ := io.ReadAll(c)
			c.Close()
			p.mu.Lock()
			p.jobs = append(p.jobs, b)
			p.mu.Unlock()
		}
	}()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

// Port is the printer's TCP port on 127.0.0.1.
func (p *Printer) Port() int { return p.ln.Addr().(*net.TCPAddr).Port }

// Job waits for the n-th job (from 0) and returns it once its connection is closed (the
// sender closes before Print returns, the printer then finishes reading). The test fails when
// it has not come within 5 seconds.
func (p *Printer) Job(t testing.TB, n int) []byte {
	t.Helper()
	for range 500 {
		p.mu.Lock()
		if len(p.jobs) > n {
			b := p.jobs[n]
			p.mu.Unlock()
			return b
		}
		p.mu.Unlock()
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("the printer received no job %d", n)
	return nil
}

// Count is how many jobs the printer has received so far.
func (p *Printer) Count() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.jobs)
}
