// Package api is Tracecraft's HTTP layer on Fiber: routes, thin handlers, authentication, one
// error mapper and the OpenAPI document. Only this package knows Fiber; every behaviour lives in
// an engine and is reached through one method call.
package api

import (
	"context"
	"io/fs"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/printing"
	"tracecraft/rules"
	"tracecraft/workflow"
)

// Options configure the server.
type Options struct {
	// BodyLimit caps every request body, whatever its route allows (default 64 MiB).
	BodyLimit int
	// JSONLimit is the body limit of routes that do not set their own (Route.Body): JSON
	// bodies; default 1 MiB.
	JSONLimit int
	// SecureCookies marks session cookies Secure (set it when served over HTTPS).
	SecureCookies bool
	// TrustedProxies are the addresses (or CIDR ranges) of load balancers whose
	// X-Forwarded-For header names the real client; without them the peer address is used.
	// See clientAddr for how the header is read; ParseTrustedProxies checks the list.
	TrustedProxies []string
	// Version is reported by /healthz.
	Version string
	// UI is the built web app (builderui.Dist), served at / and, for any other GET outside
	// /api/, as its index.html (home.go); nil serves a page that says the server is running.
	UI fs.FS
	// Log receives request logs; the kernel's logger when nil.
	Log *slog.Logger
	// LocalCA is the certificate authority of the server's own HTTPS certificate, explained at
	// /ca (ca.go); nil when the server makes none.
	LocalCA LocalCA
	// ImportTimeout is how long an import job may run (default 10 minutes, the bulk routes'
	// limit); past it the job is rolled back (import_timeout) and frees its import slot.
	ImportTimeout time.Duration
	// PublicURL is the address consumers reach the server at ("https://t.example.cn"): the
	// stem of item codes' Digital Links. Empty: an issuance links to the address it was asked at.
	PublicURL string
	// ScanRate is how many scan page requests a client address may make a minute (default 60).
	ScanRate int

	testRoutes []Route // routes the package's own tests add
}

// Server is the HTTP server of one Tracecraft node.
type Server struct {
	k      *engine.Kernel
	forms  *forms.Service
	flows  *workflow.Service
	rules  *rules.Service // nil: no rule routes
	opts   Options
	log    *slog.Logger
	app    *fiber.App
	routes []Route
	limits *rateLimiter
	// trusted are the parsed TrustedProxies.
	trusted []netip.Prefix
	// base is the parent of every request's context; Shutdown cancels it once its grace
	// period is over, and then waits for running handlers (running) to return.
	base     context.Context
	stopBase context.CancelCauseFunc
	running  inflight
	ui       appFiles // the web app's files as served (home.go)

	printing *printing.Engine // nil: no print routes

	codes *printing.Codes // nil: no code routes and no scan pages

	printers *printing.PrinterSet // nil: no printer routes
	// scanLimits and complaintLimits rate-limit the public scan pages per client (scan.go).
	scanLimits, complaintLimits *rateLimiter
}

// Engines are the engines the server exposes.
type Engines struct {
	Forms *forms.Service
	Flows *workflow.Service
	Rules *rules.Service
	// Printing is the printing engine (print templates, jobs); nil: no print routes.
	Printing *printing.Engine
	// Codes is item code issuance (一物一码) and the public scan pages; nil: neither.
	Codes *printing.Codes
	// Printers are the configured label printers (printing.PrinterSet); nil: no printer routes.
	Printers *printing.PrinterSet
}

// New builds the server and registers every route.
func New(k *engine.Kernel, engines Engines, opts Options) *Server {
	if opts.BodyLimit == 0 {
		opts.BodyLimit = 64 << 20
	}
	if opts.JSONLimit == 0 {
		opts.JSONLimit = 1 << 20
	}
	if opts.Log == nil {
		opts.Log = k.Log
	}
	if opts.ImportTimeout <= 0 {
		opts.ImportTimeout = bulkTimeout
	}
	s := &Server{k: k, forms: engines.Forms, flows: engines.Flows, rules: engines.Rules, printing: engines.Printing, codes: engines.Codes, printers: engines.Printers, opts: opts, log: opts.Log, limits: newRateLimiter(60, time.Minute)}
	s.base, s.stopBase = context.WithCancelCause(context.Background())
	trusted, err := ParseTrustedProxies(opts.TrustedProxies)
	if err != nil {
		// The CLI checks the list first; a caller that did not trusts no proxy.
		s.log.Error("trusted proxies ignored", "err", err)
	}
	s.trusted = trusted
	cfg := fiber.Config{
		AppName:               "tracecraft",
		BodyLimit:             opts.BodyLimit,
		Immutable:             true, // strings from the context stay valid after the handler
		DisableStartupMessage: true,
		ReadTimeout:           ReadTimeout,
		WriteTimeout:          WriteTimeout,
		IdleTimeout:           IdleTimeout,
		ReadBufferSize:        HeaderLimit, // fasthttp's default, named: it caps the headers
		ErrorHandler:          s.errorHandler,
	}
	s.app = fiber.New(cfg)
	// Each route's body limit applies before the body is read (see headerReceived); BodyLimit
	// above is the limit of last resort.
	s.app.Server().HeaderReceived = s.headerReceived
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true}))
	s.app.Use(requestid.New())
	s.app.Use(s.requestLog)
	s.app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy: "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-src 'self' blob:; frame-ancestors 'none'",
		ReferrerPolicy:        "same-origin",
	}))
	for _, r := range append(s.allRoutes(), opts.testRoutes...) {
		s.add(r)
	}
	s.app.Use(s.appPages) // the web app's files and pages (home.go)
	s.app.Use(s.noRoute)
	return s
}

// App exposes the Fiber app (tests walk its routes).
func (s *Server) App() *fiber.App { return s.app }

// Routes lists the registered routes with their documentation.
func (s *Server) Routes() []Route { return s.routes }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// shutdownDrain is how long Shutdown waits for handlers to return once it has cancelled them.
const shutdownDrain = 5 * time.Second

// Shutdown stops accepting connections and waits for running requests until ctx ends (the
// grace period); then it cancels the contexts of requests still running and waits a few
// seconds more for their handlers to return, so that the store can be closed after it.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.app.ShutdownWithContext(ctx)
	s.stopBase(errShuttingDown)
	dctx, cancel := context.WithTimeout(context.Background(), shutdownDrain)
	defer cancel()
	if derr := s.running.wait(dctx); derr != nil {
		s.log.Warn("shutdown: handlers still running after they were cancelled", "wait", shutdownDrain)
	}
	return err
}

// requestLog writes one structured log line per request.
func (s *Server) requestLog(c *fiber.Ctx) error {
	start := time.Now()
	err := c.Next()
	status := c.Response().StatusCode()
	if err != nil {
		// The error handler has not run yet for errors returned through the chain: run it now
		// so the log shows the status the client gets.
		if herr := s.errorHandler(c, err); herr != nil {
			return herr
		}
		status = c.Response().StatusCode()
	}
	attrs := []any{
		"method", c.Method(), "path", c.Path(), "status", status,
		"ms", float64(time.Since(start).Microseconds()) / 1000, "ip", s.clientIP(c),
		"request_id", c.GetRespHeader(fiber.HeaderXRequestID),
	}
	if p := principalOf(c); p != nil {
		attrs = append(attrs, "user", p.Username)
	}
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	s.log.Log(c.UserContext(), level, "http", attrs...)
	return nil
}
