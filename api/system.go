package api

import (
	"context"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// Health is the body of GET /healthz.
type Health struct {
	Status  string `json:"status"`
	Store   string `json:"store"`
	Version string `json:"version"`
}

func (s *Server) systemRoutes() []Route {
	return []Route{{
		Method: fiber.MethodGet, Path: "/healthz", Tag: "system", Public: true,
		Summary: "Liveness and store health: 200 with status ok, or 503", Out: Health{},
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			ctx, cancel := context.WithTimeout(c.UserContext(), 3*time.Second)
			defer cancel()
			h := Health{Status: "ok", Store: string(s.k.Store.Kind()), Version: s.opts.Version}
			if err := s.k.Store.Ping(ctx); err != nil {
				h.Status = "unavailable"
				s.log.Error("health check: store unreachable", "err", err)
				return c.Status(fiber.StatusServiceUnavailable).JSON(h)
			}
			return c.JSON(h)
		},
	}, {
		Method: fiber.MethodGet, Path: "/api/v1/openapi.json", Tag: "system",
		Summary: "This API's OpenAPI 3.1 document",
		Handle:  func(c *fiber.Ctx, _ *engine.Principal) error { return c.JSON(s.OpenAPI()) },
	}}
}
