package api

import (
	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// memberRoutes serve the people pickers (转交, 加签, 委托): the members of an app, for any of
// its members; the full user list stays the administrator's.
func (s *Server) memberRoutes() []Route {
	return []Route{
		{Method: "GET", Path: "/api/v1/apps/:app/members", Tag: "apps", Summary: "The app's active members (username and name) whose username or name contains q, for people pickers",
			Out: []engine.Member{},
			Query: []Param{{Name: "q", Description: "part of a username or a name (case-insensitive)"},
				{Name: "limit", Type: "integer", Description: "at most this many (default 20, at most 50)"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 0, 1, engine.MaxMembers, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				list, err := s.k.Auth.AppMembers(c.UserContext(), p, c.Params("app"), c.Query("q"), limit)
				if err != nil {
					return err
				}
				return c.JSON(list)
			}},
	}
}
