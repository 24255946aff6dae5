package api

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// UserUpdateInput changes a user; Rev is the revision the change is based on.
type UserUpdateInput struct {
	engine.UserPatch
	Rev int64 `json:"rev"`
}

// Validate checks the revision is given.
func (in *UserUpdateInput) Validate() error {
	if in.Rev < 1 {
		return engine.Invalid("rev", "required", nil)
	}
	return nil
}

// SetPasswordInput sets another user's password (administrators).
type SetPasswordInput struct {
	Password string `json:"password"`
}

// Validate checks the password is given.
func (in *SetPasswordInput) Validate() error {
	if in.Password == "" {
		return engine.Invalid("password", "required", nil)
	}
	return nil
}

// timeQuery reads an RFC 3339 time from the query; zero when it is absent.
func timeQuery(c *fiber.Ctx, name string, fe *engine.FieldErrors) time.Time {
	v := c.Query(name)
	if v == "" {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		fe.Add(name, "wrong_type", map[string]any{"want": "RFC 3339 time"})
	}
	return t
}

func (s *Server) adminRoutes() []Route {
	a := s.k.Auth
	admin := engine.PermSystemAdmin
	return []Route{
		{Method: "GET", Path: "/api/v1/users", Tag: "admin", Action: admin, Summary: "List users", Out: []engine.User{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				users, err := a.ListUsers(c.UserContext(), p)
				if err != nil {
					return err
				}
				return c.JSON(nonNil(users))
			}},
		{Method: "POST", Path: "/api/v1/users", Tag: "admin", Action: admin, Summary: "Create a user", In: engine.UserInput{}, Out: engine.User{}, Status: 201,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in engine.UserInput
				if err := bind(c, &in); err != nil {
					return err
				}
				u, err := a.CreateUser(c.UserContext(), p, in)
				if err != nil {
					return err
				}
				return c.Status(201).JSON(u)
			}},
		{Method: "GET", Path: "/api/v1/users/:username", Tag: "admin", Action: admin, Summary: "One user", Out: engine.User{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				u, err := a.GetUser(c.UserContext(), c.Params("username"))
				if err != nil {
					return err
				}
				return c.JSON(u)
			}},
		{Method: "PATCH", Path: "/api/v1/users/:username", Tag: "admin", Action: admin, Summary: "Change a user (name, roles, department, disabled …)", In: UserUpdateInput{}, Out: engine.User{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in UserUpdateInput
				if err := bind(c, &in); err != nil {
					return err
				}
				u, err := a.UpdateUser(c.UserContext(), p, c.Params("username"), in.UserPatch, in.Rev)
				if err != nil {
					return err
				}
				return c.JSON(u)
			}},
		{Method: "PUT", Path: "/api/v1/users/:username/password", Tag: "admin", Action: admin, Summary: "Set a user's password (ends their sessions)", In: SetPasswordInput{}, Out: OK{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in SetPasswordInput
				if err := bind(c, &in); err != nil {
					return err
				}
				if err := a.SetPassword(c.UserContext(), p, c.Params("username"), in.Password); err != nil {
					return err
				}
				return c.JSON(OK{OK: true})
			}},
		{Method: "POST", Path: "/api/v1/users/:username/revoke-sessions", Tag: "admin", Action: admin, Summary: "End every session of a user", Out: OK{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				if err := a.RevokeUser(c.UserContext(), p, c.Params("username")); err != nil {
					return err
				}
				return c.JSON(OK{OK: true})
			}},
		{Method: "GET", Path: "/api/v1/admin/actions", Tag: "admin", Action: admin, Summary: "The actions a role's grant may give (the ones the server checks), with their labels and where each applies: the platform, an app", Out: []engine.GrantAction{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				return c.JSON(engine.GrantActions())
			}},
		{Method: "GET", Path: "/api/v1/roles", Tag: "admin", Action: admin, Summary: "List roles", Out: []engine.Role{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				roles, err := a.ListRoles(c.UserContext())
				if err != nil {
					return err
				}
				return c.JSON(nonNil(roles))
			}},
		{Method: "PUT", Path: "/api/v1/roles/:name", Tag: "admin", Action: admin, Summary: "Create (rev 0) or change a role", In: engine.Role{}, Out: engine.Role{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in engine.Role
				if err := bind(c, &in); err != nil {
					return err
				}
				if in.Name == "" {
					in.Name = c.Params("name")
				} else if in.Name != c.Params("name") {
					return engine.Invalid("name", "not_allowed", map[string]any{"value": in.Name})
				}
				r, err := a.PutRole(c.UserContext(), p, in)
				if err != nil {
					return err
				}
				return c.JSON(r)
			}},
		{Method: "DELETE", Path: "/api/v1/roles/:name", Tag: "admin", Action: admin, Summary: "Delete a role no user holds", Out: OK{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				if err := a.DeleteRole(c.UserContext(), p, c.Params("name")); err != nil {
					return err
				}
				return c.JSON(OK{OK: true})
			}},
		{Method: "GET", Path: "/api/v1/departments", Tag: "admin", Summary: "List departments", Out: []engine.Department{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				ds, err := a.ListDepartments(c.UserContext())
				if err != nil {
					return err
				}
				return c.JSON(nonNil(ds))
			}},
		{Method: "PUT", Path: "/api/v1/departments/:id", Tag: "admin", Action: admin, Summary: "Create (rev 0) or change a department", In: engine.Department{}, Out: engine.Department{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in engine.Department
				if err := bind(c, &in); err != nil {
					return err
				}
				if in.ID == "" {
					in.ID = c.Params("id")
				} else if in.ID != c.Params("id") {
					return engine.Invalid("id", "not_allowed", map[string]any{"value": in.ID})
				}
				d, err := a.PutDepartment(c.UserContext(), p, in)
				if err != nil {
					return err
				}
				return c.JSON(d)
			}},
		{Method: "GET", Path: "/api/v1/audit", Tag: "admin", Action: admin, Summary: "Audit log entries, newest first, a full page unless the last; the X-Audit-Next header is the before of the next page (0: this is the last)", Out: []engine.AuditEntry{},
			Query: []Param{{Name: "actor"}, {Name: "action", Description: `exact, or a prefix ending in ".*"`}, {Name: "target"}, {Name: "limit", Type: "integer"}, {Name: "before", Type: "integer", Description: "list entries older than this seq"},
				{Name: "since", Description: "RFC 3339 time: entries at or after it"}, {Name: "until", Description: "RFC 3339 time: entries before it"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				q := engine.AuditQuery{Actor: c.Query("actor"), Action: c.Query("action"), Target: c.Query("target")}
				var fe engine.FieldErrors
				q.Limit = intQuery(c, "limit", 0, 1, 500, &fe)
				if v := c.Query("before"); v != "" {
					n, err := strconv.ParseInt(v, 10, 64)
					if err != nil {
						fe.Add("before", "wrong_type", map[string]any{"want": "integer"})
					}
					q.BeforeSeq = n
				}
				q.Since = timeQuery(c, "since", &fe)
				q.Until = timeQuery(c, "until", &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				es, next, err := s.k.Audit.ListPage(c.UserContext(), q)
				if err != nil {
					return err
				}
				c.Set("X-Audit-Next", strconv.FormatInt(next, 10))
				return c.JSON(nonNil(es))
			}},
		{Method: "GET", Path: "/api/v1/admin/bus/failed", Tag: "admin", Action: admin, Summary: "Event deliveries that are failing: retrying, or dead after the last attempt", Out: []engine.Delivery{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				ds, err := s.k.Bus.Failed(c.UserContext())
				if err != nil {
					return err
				}
				return c.JSON(nonNil(ds))
			}},
		{Method: "POST", Path: "/api/v1/admin/bus/failed/:event/:subscriber/retry", Tag: "admin", Action: admin, Summary: "Deliver a dead event to its subscriber again", Out: OK{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				key := c.Params("event") + "/" + c.Params("subscriber") // copied: Fiber reuses its buffers
				if err := s.k.RetryDelivery(c.UserContext(), p, key); err != nil {
					return err
				}
				return c.JSON(OK{OK: true})
			}},
		{Method: "GET", Path: "/api/v1/audit/verify", Tag: "admin", Action: admin, Summary: "Verify the audit log's hash chain", Out: engine.AuditReport{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				rep, err := s.k.Audit.Verify(c.UserContext())
				if err != nil {
					return err
				}
				return c.JSON(rep)
			}},
	}
}
