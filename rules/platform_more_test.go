package rules

import (
	"bufio"
	"context"
	"crypto/tls"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// The tests of the flow and schedule triggers and the email, update_records, start_flow and
// action actions run the rule engine with the flow engine too, on a fresh embedded store.

// fullEnv is testEnv with the workflow engine.
type fullEnv struct {
	*testEnv
	ws *workflow.Service
}

// newFullEnv makes a started kernel with the form, flow and rule engines over a fresh store
// (seeded like newTestEnv); before runs on the kernel before the engines are made (a test
// registers a kernel action there).
func newFullEnv(t testing.TB, opts Options, before func(k *engine.Kernel)) *fullEnv {
	t.Helper()
	st := storetest.OpenEmbedded(t, storetest.TempDir(t))
	clock := &testClock{t: start}
	e := newFullPlatform(t, st, clock, opts, before, true)
	e.seed(t)
	return e
}

// newFullPlatform is newTestPlatform with the flow engine: a second node on the same store is
// made with started false.
func newFullPlatform(t testing.TB, st *store.Store, clock *testClock, opts Options, before func(k *engine.Kernel), started bool) *fullEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet,
		Auth:  engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 64, Time: 1, Threads: 1}},
		Bus:   engine.BusOptions{MinBackoff: 20 * time.Millisecond, MaxAttempts: 3},
		Exprs: []engine.ExprOption{engine.WithClock(clock.Now)}})
	if before != nil {
		before(k)
	}
	fs := forms.New(k, forms.Options{Now: clock.Now})
	ws := workflow.New(k, workflow.Options{Now: clock.Now, TimerSpec: "@yearly"})
	opts.Now = clock.Now
	opts.SweepSpec, opts.WebhookSpec, opts.ScheduleSpec = "@yearly", "@yearly", "@yearly"
	rs := New(k, opts)
	if started {
		enginetest.Start(t, k)
		enginetest.DrainAtEnd(t, k, rs.Close)
	}
	return &fullEnv{testEnv: &testEnv{ctx: ctx, st: st, k: k, fs: fs, rs: rs, clock: clock}, ws: ws}
}

// form saves and publishes a form definition in the test app.
func (e *testEnv) form(t testing.TB, def string) {
	t.Helper()
	sys := engine.SystemPrincipal()
	f, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(def), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, f.Key); err != nil {
		t.Fatal(err)
	}
}

// records are the records of a form of the test app matching where.
func (e *testEnv) records(t testing.TB, form string, where store.Cond) []*engine.RecordRef {
	t.Helper()
	var out []*engine.RecordRef
	if err := e.k.Records.EachRecord(e.ctx, testApp, form, where, func(r *engine.RecordRef) error {
		out = append(out, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// smtpServer is a small SMTP listener that records the messages it is given (no TLS, no
// login): enough for net/smtp's conversation.
type smtpServer struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []smtpMessage
	fail bool // answer DATA with 451
	// tls, when set, is offered with STARTTLS, and AUTH PLAIN once the connection is secure.
	tls    *tls.Config
	auths  []string // the AUTH PLAIN credentials given (base64)
	secure []bool   // for each message, whether it came over TLS
}

type smtpMessage struct {
	From string
	To   []string
	Data string
}

func newSMTPServer(t testing.TB) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
	return s
}

func (s *smtpServer) addr() string { return s.ln.Addr().String() }

func (s *smtpServer) messages() []smtpMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]smtpMessage(nil), s.msgs...)
}

func (s *smtpServer) serve(c net.Conn) {
	defer func() { _ = c.Close() }()
	r := bufio.NewReader(c)
	say := func(line string) { _, _ = c.Write([]byte(line + "\r\n")) }
	say("220 test ESMTP")
	var m smtpMessage
	secure := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		cmd := strings.ToUpper(strings.TrimSpace(line))
		switch {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250-test")
			if s.tls != nil && !secure {
				say("250-STARTTLS")
			}
			if secure {
				say("250-AUTH PLAIN")
			}
			say("250 8BITMIME")
		case cmd == "STARTTLS" && s.tls != nil:
			say("220 go ahead")
			tc := tls.Server(c, s.tls)
			if err := tc.Handshake(); err != nil {
				return
			}
			c, r, secure = tc, bufio.NewReader(tc), true
		case strings.HasPrefix(cmd, "AUTH PLAIN "):
			s.mu.Lock()
			s.auths = append(s.auths, strings.TrimSpace(line)[len("AUTH PLAIN "):])
			s.mu.Unlock()
			say("235 ok")
		case strings.HasPrefix(cmd, "MAIL FROM:"):
			m = smtpMessage{From: angle(line)}
			say("250 ok")
		case strings.HasPrefix(cmd, "RCPT TO:"):
			m.To = append(m.To, angle(line))
			say("250 ok")
		case cmd == "DATA":
			say("354 go on")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(l)
			}
			s.mu.Lock()
			fail := s.fail
			if !fail {
				m.Data = b.String()
				s.msgs = append(s.msgs, m)
				s.secure = append(s.secure, secure)
			}
			s.mu.Unlock()
			if fail {
				say("451 try later")
			} else {
				say("250 queued")
			}
		case cmd == "QUIT":
			say("221 bye")
			return
		case cmd == "RSET", cmd == "NOOP":
			say("250 ok")
		default:
			say("502 not implemented")
		}
	}
}

// angle is the address between < and > of a MAIL or RCPT command.
func angle(line string) string {
	_, rest, _ := strings.Cut(line, "<")
	addr, _, _ := strings.Cut(rest, ">")
	return addr
}
