package api

import (
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// Route is one API route with what the OpenAPI document says of it. Every route needs a signed-in
// user unless Public is set; Action, when set, is a permission checked on every app ("*").
// Routes under /apps/:app also need AppAction (app.read when left empty) on that app, checked
// before the body is read: a user with no business in an app gets 403, not a validation error.
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
	// AppAction is checked on the app named by the :app path parameter (PermAppRead when empty
	// on such a route); set it to PermAppDesign on the builder's write routes.
	AppAction string
	In        any // the request body type (a zero value), nil when there is none
	Out       any // the success body type
	Status    int // the success status; 200 when zero
	Query     []Param
	Handle    func(c *fiber.Ctx, p *engine.Principal) error
	// Body caps the request body in bytes: Options.JSONLimit (1 MiB) when zero; routes that take
	// files set more, sign-in less. A larger body is refused (413), one over 4 MiB unread.
	Body int
	// Timeout is how long the handler may run before its context is cancelled (60 s when
	// zero); exports and imports set more.
	Timeout time.Duration

	segs []string // Path's segments, for routeFor
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
	if r.AppAction == "" && strings.Contains(r.Path, "/:app") {
		r.AppAction = engine.PermAppRead
	}
	if r.Body <= 0 {
		r.Body = s.opts.JSONLimit
	}
	r.Body = min(r.Body, s.opts.BodyLimit)
	if r.Timeout <= 0 {
		r.Timeout = defaultRouteTimeout
	}
	r.segs = pathSegments(r.Path)
	s.routes = append(s.routes, r)
	h := func(c *fiber.Ctx) error {
		if err := checkBody(c, r.Body); err != nil {
			return err
		}
		defer s.requestContext(c, r.Timeout)()
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
			if r.AppAction != "" {
				if err := s.k.Auth.Require(c.UserContext(), p, c.Params("app"), r.AppAction); err != nil {
					return err
				}
			}
		} else if r.Limited && !s.limits.allow(s.clientIP(c)) {
			return &engine.ThrottledError{RetryAfter: 60}
		}
		return r.Handle(c, p)
	}
	s.app.Add(r.Method, r.Path, h)
	if r.Method == fiber.MethodGet {
		s.app.Add(fiber.MethodHead, r.Path, h) // load balancers check with HEAD
	}
}

// multipartSlack is what a multipart body may hold beyond its file: boundaries, part headers,
// other fields.
const multipartSlack = 1 << 20

// bulkTimeout is the Timeout of routes that export or import whole lists.
const bulkTimeout = 10 * time.Minute

// checkBody refuses a body over the route's limit (headerReceived refused the largest before
// they were read) and compressed bodies: Fiber would inflate them whole, past every limit.
func checkBody(c *fiber.Ctx, limit int) error {
	n := c.Request().Header.ContentLength()
	if n == -1 { // chunked; a multipart body of known length is never rebuilt here
		n = len(c.Request().Body())
	}
	if n > limit {
		return fiber.ErrRequestEntityTooLarge
	}
	if ce := c.Get(fiber.HeaderContentEncoding); ce != "" && !strings.EqualFold(ce, "identity") {
		return errContentEncoding
	}
	return nil
}

// allRoutes is the route table of the whole product.
func (s *Server) allRoutes() []Route {
	var rs []Route
	rs = append(rs, s.homeRoutes()...)
	rs = append(rs, s.systemRoutes()...)
	rs = append(rs, s.caRoutes()...)
	rs = append(rs, s.authRoutes()...)
	rs = append(rs, s.adminRoutes()...)
	rs = append(rs, s.formIORoutes()...) // before formRoutes: …/records/export must not be taken for …/records/:id
	rs = append(rs, s.formRoutes()...)
	rs = append(rs, s.fileRoutes()...)
	rs = append(rs, s.workflowRoutes()...)
	rs = append(rs, s.ruleRoutes()...)
	rs = append(rs, s.printRoutes()...)
	rs = append(rs, s.printerRoutes()...)
	rs = append(rs, s.codeRoutes()...)
	rs = append(rs, s.scanRoutes()...)
	rs = append(rs, s.memberRoutes()...)
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
