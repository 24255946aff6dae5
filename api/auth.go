package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

const (
	sessionCookie = "tc_session"
	csrfCookie    = "tc_csrf"
	csrfHeader    = "X-CSRF-Token"
	principalKey  = "tc.principal"
)

var errCSRF = errors.New("csrf token missing or wrong")

// loginBodyLimit is sign-in's body limit: a user name and a password.
const loginBodyLimit = 8 << 10

// authenticate finds the caller's session: a bearer token, else the session cookie. Cookie
// sessions must send the CSRF token in a header on every request that changes something.
func (s *Server) authenticate(c *fiber.Ctx) (*engine.Principal, error) {
	token, via := "", "bearer"
	if h := c.Get(fiber.HeaderAuthorization); h != "" {
		scheme, rest, ok := strings.Cut(h, " ")
		if !ok || !strings.EqualFold(scheme, "bearer") || strings.TrimSpace(rest) == "" {
			return nil, engine.ErrUnauthenticated
		}
		token = strings.TrimSpace(rest)
	} else if ck := c.Cookies(sessionCookie); ck != "" {
		token, via = ck, "cookie"
	} else {
		return nil, engine.ErrUnauthenticated
	}
	p, err := s.k.Auth.Authenticate(c.UserContext(), token, via)
	if err != nil {
		return nil, err
	}
	if via == "cookie" && !safeMethod(c.Method()) {
		got := c.Get(csrfHeader)
		if got == "" || subtle.ConstantTimeCompare([]byte(got), []byte(p.CSRF)) != 1 {
			return nil, errCSRF
		}
	}
	p.IP = s.clientIP(c)
	c.Locals(principalKey, p)
	return p, nil
}

func principalOf(c *fiber.Ctx) *engine.Principal {
	p, _ := c.Locals(principalKey).(*engine.Principal)
	return p
}

func safeMethod(m string) bool {
	return m == fiber.MethodGet || m == fiber.MethodHead || m == fiber.MethodOptions
}

// LoginInput is the body of POST /api/v1/auth/login.
type LoginInput struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Validate checks both fields are present.
func (in *LoginInput) Validate() error {
	var fe engine.FieldErrors
	if strings.TrimSpace(in.Username) == "" {
		fe.Add("username", "required", nil)
	}
	if in.Password == "" {
		fe.Add("password", "required", nil)
	}
	return fe.Err()
}

// LoginOutput is the answer to a successful login. The same session is also set as an HttpOnly
// cookie; a browser then sends CSRFToken in the X-CSRF-Token header on writes.
type LoginOutput struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expiresAt"`
	CSRFToken string    `json:"csrfToken"`
	User      MeOutput  `json:"user"`
}

// MeOutput describes the signed-in user.
type MeOutput struct {
	Username    string    `json:"username"`
	DisplayName string    `json:"displayName"`
	Roles       []string  `json:"roles"`
	Department  string    `json:"department,omitempty"`
	Via         string    `json:"via"`
	ExpiresAt   time.Time `json:"expiresAt"`
	// Permissions are the platform actions the user's roles grant (system.admin), so the web
	// app can offer what the server would allow; the server checks again on every call.
	Permissions []string `json:"permissions"`
}

// mePlatformActions are the platform actions MeOutput.Permissions reports.
var mePlatformActions = []string{engine.PermSystemAdmin}

func (s *Server) meOf(ctx context.Context, p *engine.Principal) MeOutput {
	roles := p.Roles
	if roles == nil {
		roles = []string{}
	}
	perms := []string{}
	for _, a := range mePlatformActions {
		if s.k.Auth.Can(ctx, p, "", a) {
			perms = append(perms, a)
		}
	}
	return MeOutput{Username: p.Username, DisplayName: p.DisplayName, Roles: roles, Department: p.Department, Via: p.Via, ExpiresAt: p.ExpiresAt, Permissions: perms}
}

// PasswordInput changes the signed-in user's own password.
type PasswordInput struct {
	Current string `json:"current"`
	New     string `json:"new"`
}

// Validate checks both fields are present.
func (in *PasswordInput) Validate() error {
	var fe engine.FieldErrors
	if in.Current == "" {
		fe.Add("current", "required", nil)
	}
	if in.New == "" {
		fe.Add("new", "required", nil)
	}
	return fe.Err()
}

// OK is the body of answers that only confirm.
type OK struct {
	OK bool `json:"ok"`
}

func (s *Server) authRoutes() []Route {
	return []Route{{
		Method: fiber.MethodPost, Path: "/api/v1/auth/login", Tag: "auth", Public: true, Limited: true, Body: loginBodyLimit,
		Summary: "Sign in with a user name and password; returns a bearer token and sets the session cookie",
		In:      LoginInput{}, Out: LoginOutput{},
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			var in LoginInput
			if err := bind(c, &in); err != nil {
				return err
			}
			token, p, err := s.k.Auth.Login(c.UserContext(), strings.TrimSpace(in.Username), in.Password, s.clientIP(c))
			if err != nil {
				return err
			}
			s.setSessionCookies(c, token, p)
			return c.JSON(LoginOutput{Token: token, ExpiresAt: p.ExpiresAt, CSRFToken: p.CSRF, User: s.meOf(c.UserContext(), p)})
		},
	}, {
		Method: fiber.MethodPost, Path: "/api/v1/auth/logout", Tag: "auth",
		Summary: "End the current session (its token and cookie stop working)", Out: OK{},
		Handle: func(c *fiber.Ctx, p *engine.Principal) error {
			if err := s.k.Auth.LogoutSession(c.UserContext(), p.SessionID); err != nil {
				return err
			}
			s.clearSessionCookies(c)
			return c.JSON(OK{OK: true})
		},
	}, {
		Method: fiber.MethodGet, Path: "/api/v1/me", Tag: "auth",
		Summary: "The signed-in user", Out: MeOutput{},
		Handle: func(c *fiber.Ctx, p *engine.Principal) error { return c.JSON(s.meOf(c.UserContext(), p)) },
	}, {
		Method: fiber.MethodPut, Path: "/api/v1/me/password", Tag: "auth",
		Summary: "Change your own password (needs the current one; ends your other sessions)", In: PasswordInput{}, Out: OK{},
		Handle: func(c *fiber.Ctx, p *engine.Principal) error {
			var in PasswordInput
			if err := bind(c, &in); err != nil {
				return err
			}
			if err := s.k.Auth.ChangeOwnPassword(c.UserContext(), p, in.Current, in.New); err != nil {
				return err
			}
			return c.JSON(OK{OK: true})
		},
	}}
}

func (s *Server) setSessionCookies(c *fiber.Ctx, token string, p *engine.Principal) {
	c.Cookie(&fiber.Cookie{Name: sessionCookie, Value: token, Path: "/", Expires: p.ExpiresAt, HTTPOnly: true, Secure: s.opts.SecureCookies, SameSite: fiber.CookieSameSiteLaxMode})
	c.Cookie(&fiber.Cookie{Name: csrfCookie, Value: p.CSRF, Path: "/", Expires: p.ExpiresAt, Secure: s.opts.SecureCookies, SameSite: fiber.CookieSameSiteStrictMode})
}

func (s *Server) clearSessionCookies(c *fiber.Ctx) {
	for _, name := range []string{sessionCookie, csrfCookie} {
		c.Cookie(&fiber.Cookie{Name: name, Value: "", Path: "/", Expires: time.Unix(0, 0), HTTPOnly: name == sessionCookie, Secure: s.opts.SecureCookies})
	}
}
