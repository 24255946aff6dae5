package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"strings"
	"sync"

	"tracecraft/api"
)

// The plain-HTTP entry beside HTTPS (serve --http-redirect ADDR). A phone that types
// http://host:port, or an old bookmark, finds the server: every request is answered 308 to the
// same path on the HTTPS address — the host the request named, the HTTPS listener's port.
// Three paths are answered, not redirected: /ca and /ca.crt (the local CA's trust page must be
// readable before the phone trusts the CA, which is what the redirect would need) and /healthz
// (a load balancer or a monitor may check over plain HTTP). The main server answers them itself,
// through an in-memory listener, so they are the same pages with the same logs and headers.

// plainPassed are the paths the plain entry answers instead of redirecting.
var plainPassed = []string{"/ca", "/ca.crt", "/healthz"}

// net/http reads MaxHeaderBytes plus netHTTPHeaderSlack bytes of request line and headers
// before it answers 431, where the main server (fasthttp, api.HeaderLimit) allows
// api.HeaderLimit in all. plainMaxHeaderBytes takes the slack off; 1 is the least net/http takes
// (0 means its default, 1 MiB), so with a 4 KiB limit the plain entry lets one byte more
// through than the main server (4,097 against 4,096) — 5 KiB is a 431 on both.
const (
	netHTTPHeaderSlack  = 4096
	plainMaxHeaderBytes = max(api.HeaderLimit-netHTTPHeaderSlack, 1)
)

// plainEntry is the plain-HTTP listener with its server and the in-memory listener of the
// main server that the passed paths go to.
type plainEntry struct {
	ln    net.Listener
	srv   *http.Server
	inner *pipeListener
}

// newPlainEntry listens on addr for plain HTTP that redirects to HTTPS on httpsPort; the main
// server must serve inner (pe.inner) for the passed paths.
func newPlainEntry(addr, httpsPort string, log *slog.Logger) (*plainEntry, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("--http-redirect: %w", err)
	}
	inner := newPipeListener()
	pass := &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.Out.URL.Scheme, r.Out.URL.Host = "http", "tracecraft"
			r.Out.Host = r.In.Host
		},
		Transport: &http.Transport{DialContext: inner.dial, DisableKeepAlives: true, DisableCompression: true},
		ErrorLog:  slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	srv := &http.Server{
		Handler:           redirectHandler(httpsPort, pass),
		ReadHeaderTimeout: api.ReadTimeout,
		ReadTimeout:       api.ReadTimeout,
		WriteTimeout:      api.WriteTimeout,
		IdleTimeout:       api.IdleTimeout,
		MaxHeaderBytes:    plainMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return &plainEntry{ln: ln, srv: srv, inner: inner}, nil
}

// serve answers on the plain listener until shutdown; a shutdown is not an error.
func (pe *plainEntry) serve() error {
	if err := pe.srv.Serve(pe.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("--http-redirect: %w", err)
	}
	return nil
}

// shutdown stops the plain listener, lets requests in progress end until ctx does, and closes
// the in-memory listener (the main server's shutdown closes it too).
func (pe *plainEntry) shutdown(ctx context.Context) error {
	err := pe.srv.Shutdown(ctx)
	pe.inner.Close()
	return err
}

// redirectHandler answers 308 to the HTTPS address of the request, or passes the passed paths.
func redirectHandler(httpsPort string, pass http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, p := range plainPassed {
			// The main server's routes ignore case and a trailing slash.
			if strings.EqualFold(strings.TrimSuffix(r.URL.Path, "/"), p) {
				pass.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), remoteKey{}, r.RemoteAddr)))
				return
			}
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
		if host == "" {
			// HTTP/1.0 without Host: the address the request came in on.
			if a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok {
				host = a.IP.String()
			}
		}
		target := "https://" + net.JoinHostPort(host, httpsPort)
		if httpsPort == "443" {
			target = "https://" + host
			if strings.Contains(host, ":") {
				target = "https://[" + host + "]"
			}
		}
		w.Header().Set("Location", target+r.URL.RequestURI())
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusPermanentRedirect)
	})
}

// remoteKey carries the client's address to the in-memory connection, so that the main
// server logs (and limits) the real client of a passed request.
type remoteKey struct{}

// pipeListener is a net.Listener of in-memory connections: dial makes one.
type pipeListener struct {
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newPipeListener() *pipeListener {
	return &pipeListener{conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *pipeListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *pipeListener) Close() error {
	l.once.Do(func() { close(l.done) })
	return nil
}

func (l *pipeListener) Addr() net.Addr { return pipeAddr{} }

// dial connects to the listener; the server's end reports the client address the context
// carries (remoteKey) as its remote address.
func (l *pipeListener) dial(ctx context.Context, _, _ string) (net.Conn, error) {
	client, server := net.Pipe()
	var conn net.Conn = server
	if s, ok := ctx.Value(remoteKey{}).(string); ok {
		if a, err := net.ResolveTCPAddr("tcp", s); err == nil {
			conn = remoteConn{Conn: server, remote: a}
		}
	}
	select {
	case l.conns <- conn:
		return client, nil
	case <-l.done:
	case <-ctx.Done():
	}
	client.Close()
	server.Close()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return nil, net.ErrClosed
}

type pipeAddr struct{}

func (pipeAddr) Network() string { return "pipe" }
func (pipeAddr) String() string  { return "pipe" }

// remoteConn is a connection with another remote address.
type remoteConn struct {
	net.Conn
	remote net.Addr
}

func (c remoteConn) RemoteAddr() net.Addr { return c.remote }
