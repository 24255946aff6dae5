package api_test

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

func TestHomePage(t *testing.T) {
	s := apitest.Start(t)
	res := s.Client(t).Raw("GET", "/", "", nil)
	if res.Status != 200 || !strings.Contains(string(res.Body), "服务已运行") || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("home page: %d %s", res.Status, res.Body)
	}
	res = s.Client(t).Raw("GET", "/?lang=en", "", nil)
	if !strings.Contains(string(res.Body), "The server is running") {
		t.Fatalf("English home page: %s", res.Body)
	}
}

func TestHealthzIsNotRateLimited(t *testing.T) {
	s := apitest.Start(t)
	c := s.Client(t)
	for i := range 80 {
		if res := c.Raw("GET", "/healthz", "", nil); res.Status != 200 {
			t.Fatalf("health check %d: %d", i, res.Status)
		}
	}
	// Sign-in is limited per address: 60 a minute, then 429 whatever the user name.
	got429 := false
	for i := range 70 {
		res := c.Raw("POST", "/api/v1/auth/login", "application/json", []byte(`{"username":"nobody`+strings.Repeat("x", i%7)+fmt.Sprint(i)+`","password":"x"}`))
		if res.Status == 429 {
			got429 = true
			break
		}
	}
	if !got429 {
		t.Fatal("70 sign-ins from one address were never limited")
	}
}

func TestHealthz(t *testing.T) {
	s := apitest.Start(t)
	var h api.Health
	res := s.Client(t).Do("GET", "/healthz", nil, 200, &h)
	if h.Status != "ok" || h.Store != "embedded" {
		t.Fatalf("health %+v", h)
	}
	for _, hdr := range []string{"X-Content-Type-Options", "X-Frame-Options", "Content-Security-Policy", "X-Request-Id"} {
		if res.Header.Get(hdr) == "" {
			t.Errorf("security header %s missing", hdr)
		}
	}
}

// publicRoutes are the only routes that answer without a session.
// /ca and /ca.crt hand out the plant's local CA certificate and how to trust it on a phone: a
// phone must reach them before it can trust the server (and sign in).
var publicRoutes = map[string]bool{"GET /": true, "GET /healthz": true, "POST /api/v1/auth/login": true,
	"GET /ca": true, "GET /ca.crt": true,
	// The scan pages of item codes: what a consumer's phone opens (scan.go).
	"GET /t/:serial": true, "GET /01/:gtin/21/:serial": true, "GET /01/:gtin/10/:lot/21/:serial": true, "POST /t/:serial/complaint": true}

// TestEveryRouteNeedsAuth walks every route Fiber has registered and calls it without a session:
// all but the public ones must answer 401.
func TestEveryRouteNeedsAuth(t *testing.T) {
	s := apitest.Start(t)
	c := s.Client(t)
	documented := map[string]api.Route{}
	for _, r := range s.API.Routes() {
		documented[r.Method+" "+r.Path] = r
	}
	n := 0
	for _, r := range s.API.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		key := r.Method + " " + r.Path
		d, ok := documented[key]
		if !ok {
			t.Errorf("%s is registered but not in the route table (it would bypass auth and the OpenAPI document)", key)
			continue
		}
		if d.Public != publicRoutes[key] {
			t.Errorf("%s: public=%v, want %v", key, d.Public, publicRoutes[key])
		}
		if publicRoutes[key] {
			continue
		}
		path := regexp.MustCompile(`:[a-z]+`).ReplaceAllString(r.Path, "x")
		body := []byte(nil)
		ct := ""
		if r.Method != "GET" && r.Method != "DELETE" {
			body, ct = []byte(`{}`), "application/json"
		}
		res := c.Raw(r.Method, path, ct, body)
		if res.Status != 401 {
			t.Errorf("%s without a session: %d, want 401", key, res.Status)
		} else if res.Error(t).Code != "unauthenticated" {
			t.Errorf("%s: error code %q", key, res.Error(t).Code)
		}
		n++
	}
	if n < 20 {
		t.Fatalf("walked only %d routes", n)
	}
}

// TestOpenAPIMatchesRoutes keeps the OpenAPI document true: every registered route is in it
// and it documents no route that does not exist.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	s := apitest.Start(t)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	s.Admin(t).Do("GET", "/api/v1/openapi.json", nil, 200, &doc)
	if doc.OpenAPI != "3.1.0" {
		t.Fatalf("openapi %q", doc.OpenAPI)
	}
	inDoc := map[string]bool{}
	for p, ops := range doc.Paths {
		for m := range ops {
			inDoc[strings.ToUpper(m)+" "+p] = true
		}
	}
	registered := map[string]bool{}
	for _, r := range s.API.App().GetRoutes(true) {
		if r.Method == "HEAD" || r.Method == "USE" {
			continue
		}
		key := r.Method + " " + regexp.MustCompile(`:([a-z]+)`).ReplaceAllString(r.Path, "{$1}")
		registered[key] = true
		if !inDoc[key] {
			t.Errorf("%s is served but not documented", key)
		}
	}
	for k := range inDoc {
		if !registered[k] {
			t.Errorf("%s is documented but not served", k)
		}
	}
}

func TestLoginSessionsAndCSRF(t *testing.T) {
	s := apitest.Start(t)
	c := s.Client(t)
	var out api.LoginOutput
	res := c.Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": apitest.AdminPassword}, 200, &out)
	if out.Token == "" || out.CSRFToken == "" || out.User.Username != "admin" {
		t.Fatalf("login answer %+v", out)
	}
	cookie := res.Header.Get("Set-Cookie")
	if !strings.Contains(strings.ToLower(cookie), "httponly") {
		t.Errorf("session cookie not HttpOnly: %s", cookie)
	}
	// The cookie alone signs in for reads …
	var me api.MeOutput
	c.Do("GET", "/api/v1/me", nil, 200, &me)
	if me.Username != "admin" || me.Via != "cookie" {
		t.Fatalf("me by cookie: %+v", me)
	}
	// … but a write by cookie needs the CSRF header.
	bad := c.Do("POST", "/api/v1/auth/logout", nil, 403, nil)
	if bad.Error(t).Code != "csrf" {
		t.Fatalf("logout without CSRF: %s", bad.Body)
	}
	// The bearer token works on its own.
	b := s.Client(t)
	b.Token = out.Token
	b.Do("GET", "/api/v1/me", nil, 200, &me)
	if me.Via != "bearer" {
		t.Fatalf("via %q", me.Via)
	}
	c.Header.Set("X-CSRF-Token", out.CSRFToken)
	c.Do("POST", "/api/v1/auth/logout", nil, 200, nil)
	b.Do("GET", "/api/v1/me", nil, 401, nil)
	bogus := s.Client(t)
	bogus.Token = "not-a-token"
	bogus.Do("GET", "/api/v1/me", nil, 401, nil)
}

func TestLoginThrottled(t *testing.T) {
	s := apitest.Start(t)
	c := s.Client(t)
	for range 5 {
		res := c.Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "wrong-password1"}, 401, nil)
		if res.Error(t).Code != "unauthenticated" {
			t.Fatalf("bad password: %s", res.Body)
		}
	}
	res := c.Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": apitest.AdminPassword}, 429, nil)
	if res.Header.Get("Retry-After") == "" || res.Error(t).Code != "throttled" {
		t.Fatalf("throttled answer: %v %s", res.Header, res.Body)
	}
}

// TestBadInput sends malformed, oversize and mistyped bodies: each is a 4xx naming the problem.
func TestBadInput(t *testing.T) {
	s := apitest.Start(t)
	admin := s.Admin(t)
	cases := []struct {
		name, ct, body string
		status         int
		code, field    string
	}{
		{"malformed", "application/json", `{"username": "a",`, 400, "invalid", ""},
		{"not json", "text/plain", `username=a`, 415, "unsupported_media_type", ""},
		{"unknown field", "application/json", `{"username":"bob","displayName":"Bob","password":"passw0rd-ok","shoeSize":42}`, 400, "invalid", "shoeSize"},
		{"wrong type", "application/json", `{"username":"bob","displayName":"Bob","password":"passw0rd-ok","roles":"admin"}`, 400, "invalid", "roles"},
		{"trailing data", "application/json", `{"username":"bob"} {}`, 400, "invalid", ""},
		{"empty", "application/json", ``, 400, "invalid", ""},
		{"oversize", "application/json", `{"username":"` + strings.Repeat("x", 2<<20) + `"}`, 413, "too_large", ""},
		{"bad username", "application/json", `{"username":"Bob Smith!","displayName":"Bob","password":"passw0rd-ok"}`, 400, "invalid", "username"},
		{"weak password", "application/json", `{"username":"bob","displayName":"Bob","password":"short"}`, 400, "invalid", "password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := admin.Raw("POST", "/api/v1/users", tc.ct, []byte(tc.body))
			if res.Status != tc.status {
				t.Fatalf("status %d, want %d: %s", res.Status, tc.status, res.Body)
			}
			e := res.Error(t)
			if e.Code != tc.code {
				t.Fatalf("code %q, want %q: %s", e.Code, tc.code, res.Body)
			}
			if tc.field != "" && !apitest.ErrorFields(e.Fields).HasField(tc.field, "") {
				t.Fatalf("error does not name field %q: %s", tc.field, res.Body)
			}
			if e.Message == "" {
				t.Fatal("no message")
			}
		})
	}
	// Messages follow the caller's language; zh-CN is the default.
	res := admin.Raw("POST", "/api/v1/users", "application/json", []byte(`{"username":"bob","displayName":"Bob","password":"short"}`))
	if !strings.Contains(res.Error(t).Message, "密码") {
		t.Errorf("default message not in Chinese: %s", res.Body)
	}
	admin.Header.Set("Accept-Language", "en-US,en;q=0.9")
	res = admin.Raw("POST", "/api/v1/users", "application/json", []byte(`{"username":"bob","displayName":"Bob","password":"short"}`))
	if !strings.Contains(res.Error(t).Message, "characters") {
		t.Errorf("English message expected: %s", res.Body)
	}
}

func TestAdminRoutesNeedAdmin(t *testing.T) {
	s := apitest.Start(t)
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/users", map[string]any{"username": "op1", "displayName": "Operator", "password": "operat0r-pw"}, 201, nil)
	op := s.Login(t, "op1", "operat0r-pw")
	res := op.Do("GET", "/api/v1/users", nil, 403, nil)
	if res.Error(t).Code != "forbidden" {
		t.Fatalf("%s", res.Body)
	}
	op.Do("GET", "/api/v1/me", nil, 200, nil)
	var rep struct {
		OK      bool  `json:"ok"`
		Entries int64 `json:"entries"`
	}
	admin.Do("GET", "/api/v1/audit/verify", nil, 200, &rep)
	if !rep.OK || rep.Entries < 3 {
		t.Fatalf("audit verify %+v", rep)
	}
	var entries []map[string]any
	admin.Do("GET", "/api/v1/audit?action=user.create&target=op1", nil, 200, &entries)
	if len(entries) != 1 || entries[0]["target"] != "op1" {
		t.Fatalf("audit entries %v", entries)
	}
}
