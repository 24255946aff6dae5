package api

import (
	"slices"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// The server answers for a path before Fiber routes it in two places: when the request's
// headers have arrived (how large a body to read) and when no route took it (404, or 405 with
// the methods that do exist). Both match the route table as Fiber does: first registered wins,
// letters in any case, a trailing slash ignored, ":name" one segment.

// routeFor finds the route that serves method and path; nil when none does.
func (s *Server) routeFor(method, path string) *Route {
	segs := pathSegments(path)
	for i := range s.routes {
		r := &s.routes[i]
		if (r.Method == method || method == fiber.MethodHead && r.Method == fiber.MethodGet) && segmentsMatch(r.segs, segs) {
			return r
		}
	}
	return nil
}

// allowedMethods lists the methods some route serves on path (HEAD wherever GET), or none.
func (s *Server) allowedMethods(path string) []string {
	segs := pathSegments(path)
	var ms []string
	for i := range s.routes {
		r := &s.routes[i]
		if !segmentsMatch(r.segs, segs) {
			continue
		}
		ms = append(ms, r.Method)
		if r.Method == fiber.MethodGet {
			ms = append(ms, fiber.MethodHead)
		}
	}
	slices.Sort(ms)
	return slices.Compact(ms)
}

// pathSegments splits a request path (or a route's pattern) into its segments; the query and
// a trailing slash are left out, and a request in absolute form ("http://host/p") loses its
// scheme and host.
func pathSegments(p string) []string {
	p, _, _ = strings.Cut(p, "?")
	if i := strings.Index(p, "://"); i >= 0 && !strings.HasPrefix(p, "/") {
		rest := p[i+3:]
		j := strings.IndexByte(rest, '/')
		if j < 0 {
			return nil
		}
		p = rest[j:]
	}
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// segmentsMatch matches a request's segments against a route's: ":name" takes one non-empty
// segment, ":name?" one or none at the end, "*" and "+" the rest; other segments are compared
// without regard to case.
func segmentsMatch(pattern, segs []string) bool {
	for i, ps := range pattern {
		switch {
		case ps == "*":
			return true
		case ps == "+":
			return i < len(segs)
		case strings.HasPrefix(ps, ":") && strings.HasSuffix(ps, "?") && i == len(pattern)-1:
			return len(segs) <= i+1
		case i >= len(segs):
			return false
		case strings.HasPrefix(ps, ":"):
			if segs[i] == "" {
				return false
			}
		case !strings.EqualFold(ps, segs[i]):
			return false
		}
	}
	return len(segs) == len(pattern)
}

// bigBodyReadTimeout is how long a route that takes more than a JSON body (files) may take to
// receive it: the server's ReadTimeout (30 s) is short for 50 MiB over a slow line.
const bigBodyReadTimeout = 5 * time.Minute

// readAnyway is how much of a body over its route's limit is still read, so that the 413 reaches
// the client: a server that closes a connection with unread bytes resets it, and most clients
// then report the reset, not the answer. Larger bodies are refused unread.
const readAnyway = 4 << 20

// headerReceived tells fasthttp, once a request's headers are in and before its body is read,
// how much body to read for the route the request is for: its limit, or readAnyway when that is
// more (checkBody then refuses what is over the limit). A larger body is refused (413) unread.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	limit := s.bodyLimitFor(string(h.Method()), string(h.RequestURI()))
	rc := fasthttp.RequestConfig{MaxRequestBodySize: max(limit, min(readAnyway, s.opts.BodyLimit))}
	if limit > s.opts.JSONLimit {
		rc.ReadTimeout = bigBodyReadTimeout
	}
	return rc
}

// bodyLimitFor is the body limit of the route that serves method and path: the JSON limit when
// no route does (the answer is then 404 or 405 and needs no body).
func (s *Server) bodyLimitFor(method, path string) int {
	if r := s.routeFor(method, path); r != nil {
		return r.Body
	}
	return s.opts.JSONLimit
}

// noRoute answers requests no route took: 405 with Allow when the path exists under other
// methods, else 404.
func (s *Server) noRoute(c *fiber.Ctx) error {
	if ms := s.allowedMethods(c.Path()); len(ms) > 0 {
		c.Set(fiber.HeaderAllow, strings.Join(ms, ", "))
		return fiber.ErrMethodNotAllowed
	}
	return fiber.ErrNotFound
}
