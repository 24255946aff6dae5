// Package api is Tracecraft's HTTP layer on Fiber: routes, thin handlers, authentication, one
// error mapper and the OpenAPI document. Only this package knows Fiber; every behaviour lives in
// an engine and is reached through one method call.
package api

import (
	"context"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/helmet"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/gofiber/fiber/v2/middleware/requestid"

	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// Options configure the server.
type Options struct {
	// BodyLimit caps every request body (uploads included); default 64 MiB.
	BodyLimit int
	// JSONLimit caps JSON request bodies; default 1 MiB.
	JSONLimit int
	// SecureCookies marks session cookies Secure (set it when served over HTTPS).
	SecureCookies bool
	// TrustedProxies are the addresses (or CIDR ranges) of load balancers whose
	// X-Forwarded-For header names the real client; without them the peer address is used.
	TrustedProxies []string
	// Version is reported by /healthz.
	Version string
	// Log receives request logs; the kernel's logger when nil.
	Log *slog.Logger
}

// Server is the HTTP server of one Tracecraft node.
type Server struct {
	k      *engine.Kernel
	forms  *forms.Service
	flows  *workflow.Service
	opts   Options
	log    *slog.Logger
	app    *fiber.App
	routes []Route
	limits *rateLimiter
}

// Engines are the engines the server exposes.
type Engines struct {
	Forms *forms.Service
	Flows *workflow.Service
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
	s := &Server{k: k, forms: engines.Forms, flows: engines.Flows, opts: opts, log: opts.Log, limits: newRateLimiter(60, time.Minute)}
	cfg := fiber.Config{
		AppName:               "tracecraft",
		BodyLimit:             opts.BodyLimit,
		Immutable:             true, // strings from the context stay valid after the handler
		DisableStartupMessage: true,
		ReadTimeout:           30 * time.Second,
		WriteTimeout:          5 * time.Minute,
		IdleTimeout:           2 * time.Minute,
		ErrorHandler:          s.errorHandler,
	}
	if len(opts.TrustedProxies) > 0 {
		cfg.ProxyHeader = fiber.HeaderXForwardedFor
		cfg.EnableTrustedProxyCheck = true
		cfg.TrustedProxies = opts.TrustedProxies
	}
	s.app = fiber.New(cfg)
	s.app.Use(recover.New(recover.Config{EnableStackTrace: true}))
	s.app.Use(requestid.New())
	s.app.Use(s.requestLog)
	s.app.Use(helmet.New(helmet.Config{
		ContentSecurityPolicy: "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'",
		ReferrerPolicy:        "same-origin",
	}))
	s.app.Use(s.limitJSON)
	for _, r := range s.allRoutes() {
		s.add(r)
	}
	s.app.Use(func(c *fiber.Ctx) error { return fiber.ErrNotFound })
	return s
}

// App exposes the Fiber app (tests walk its routes).
func (s *Server) App() *fiber.App { return s.app }

// Routes lists the registered routes with their documentation.
func (s *Server) Routes() []Route { return s.routes }

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error { return s.app.Listener(ln) }

// Shutdown stops accepting connections and waits for running requests until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error { return s.app.ShutdownWithContext(ctx) }

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
		"ms", float64(time.Since(start).Microseconds()) / 1000, "ip", c.IP(),
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

// limitJSON applies the smaller JSON limit to JSON bodies.
func (s *Server) limitJSON(c *fiber.Ctx) error {
	if len(c.Body()) > s.opts.JSONLimit && strings.HasPrefix(strings.ToLower(c.Get(fiber.HeaderContentType)), fiber.MIMEApplicationJSON) {
		return fiber.ErrRequestEntityTooLarge
	}
	return c.Next()
}
