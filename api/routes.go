package api

import (
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// Route is one API route with what the OpenAPI document says of it. Every route needs a signed-in
// user unless Public is set; Action, when set, is a permission checked on every app ("*").
type Route struct {
	Method  string
	Path    string // Fiber syntax: /api/v1/users/:username
	Tag     string
	Summary string
	Public  bool
	// Limited routes (sign-in, public scan pages) allow each client address 60 requests a
	// minute; health checks and the home page are not limited, so one noisy client cannot
	// make a load balancer take the node out.
	Limited bool
	Action  string
	In      any // the request body type (a zero value), nil when there is none
	Out     any // the success body type
	Status  int // the success status; 200 when zero
	Query   []Param
	Handle  func(c *fiber.Ctx, p *engine.Principal) error
}

// Param documents a query parameter.
type Param struct {
	Name, Description string
	Type              string // string, integer, boolean
}

func (s *Server) add(r Route) {
	if r.Status == 0 {
		r.Status = fiber.StatusOK
	}
	s.routes = append(s.routes, r)
	h := func(c *fiber.Ctx) error {
		var p *engine.Principal
		if !r.Public {
			var err error
			if p, err = s.authenticate(c); err != nil {
				return err
			}
			if r.Action != "" {
				if err := s.k.Auth.Require(c.UserContext(), p, "", r.Action); err != nil {
					return err
				}
			}
		} else if r.Limited && !s.limits.allow(c.IP()) {
			return &engine.ThrottledError{RetryAfter: 60}
		}
		return r.Handle(c, p)
	}
	s.app.Add(r.Method, r.Path, h)
}

// allRoutes is the route table of the whole product.
func (s *Server) allRoutes() []Route {
	var rs []Route
	rs = append(rs, s.homeRoutes()...)
	rs = append(rs, s.systemRoutes()...)
	rs = append(rs, s.authRoutes()...)
	rs = append(rs, s.adminRoutes()...)
	rs = append(rs, s.formIORoutes()...) // before formRoutes: …/records/export must not be taken for …/records/:id
	rs = append(rs, s.formRoutes()...)
	rs = append(rs, s.fileRoutes()...)
	rs = append(rs, s.workflowRoutes()...)
	return rs
}

// openAPIPath turns /users/:name into /users/{name}.
func openAPIPath(p string) string {
	parts := strings.Split(p, "/")
	for i, part := range parts {
		if strings.HasPrefix(part, ":") {
			parts[i] = "{" + strings.TrimSuffix(strings.TrimPrefix(part, ":"), "?") + "}"
		}
	}
	return strings.Join(parts, "/")
}
