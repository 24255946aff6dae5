package api

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
)

// Every handler runs under a context that ends when the first of these happens, so scans,
// exports, imports and expressions stop when nobody waits for them any more:
//   - the route's Timeout passes (errRequestTimeout);
//   - the server shuts down and its grace period is over (errShuttingDown);
//   - the client closes its connection (errClientGone). fasthttp does not read a connection
//     while its handler runs, so it cannot tell; the server looks at the socket itself, once
//     a second after the first second, without taking anything from it (clientGone). That works
//     on Linux over plain TCP (directly or behind a proxy that closes its upstream connection
//     when its client leaves); elsewhere only the deadline and shutdown apply.

// defaultRouteTimeout is how long a handler may run unless its route says otherwise.
const defaultRouteTimeout = 60 * time.Second

// disconnectPoll is how often a running request's connection is looked at.
const disconnectPoll = time.Second

var (
	errRequestTimeout = errors.New("request took longer than its route allows")
	errShuttingDown   = errors.New("server shutting down")
	errClientGone     = errors.New("client closed the connection")
)

// inflight counts running handlers so that Shutdown can wait for them after cancelling them.
type inflight struct {
	mu   sync.Mutex
	n    int
	idle chan struct{} // closed when n drops to 0; nil while n > 0 has not happened
}

func (f *inflight) add() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n == 0 {
		f.idle = make(chan struct{})
	}
	f.n++
}

func (f *inflight) done() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.n--; f.n == 0 {
		close(f.idle)
	}
}

// wait returns when no handler runs or ctx ends.
func (f *inflight) wait(ctx context.Context) error {
	f.mu.Lock()
	idle := f.idle
	n := f.n
	f.mu.Unlock()
	if n == 0 {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// requestContext gives the request its context (c.UserContext() from here on) and returns the
// function that ends it, to be deferred by the caller.
func (s *Server) requestContext(c *fiber.Ctx, timeout time.Duration) func() {
	s.running.add()
	ctx, cancelTimeout := context.WithTimeoutCause(s.base, timeout, errRequestTimeout)
	ctx, cancel := context.WithCancelCause(ctx)
	c.SetUserContext(ctx)
	w := watchConn(c.Context().Conn(), func() { cancel(errClientGone) })
	return func() {
		w.stop()
		cancel(nil)
		cancelTimeout()
		s.running.done()
	}
}

// connWatch looks at a connection now and then while its request runs.
type connWatch struct {
	mu      sync.Mutex
	stopped bool
	t       *time.Timer
}

func watchConn(conn net.Conn, gone func()) *connWatch {
	w := &connWatch{}
	if !canWatch(conn) {
		return w
	}
	var tick func()
	tick = func() {
		w.mu.Lock()
		defer w.mu.Unlock()
		if w.stopped {
			return
		}
		if clientGone(conn) {
			gone()
			return
		}
		w.t.Reset(disconnectPoll)
	}
	w.mu.Lock()
	w.t = time.AfterFunc(disconnectPoll, tick)
	w.mu.Unlock()
	return w
}

// stop ends the watch; a look under way finishes first, so the connection is not touched
// once stop returns.
func (w *connWatch) stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.stopped = true
	if w.t != nil {
		w.t.Stop()
	}
}

// ctxFailure says why the request's context ended, when it did: errRequestTimeout,
// errShuttingDown or errClientGone; nil while it runs.
func ctxFailure(c *fiber.Ctx) error {
	ctx := c.UserContext()
	if ctx.Err() == nil {
		return nil
	}
	cause := context.Cause(ctx)
	if errors.Is(cause, errRequestTimeout) || errors.Is(cause, errShuttingDown) || errors.Is(cause, errClientGone) {
		return cause
	}
	return nil
}
