package api_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"mime/multipart"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/engine"
)

// These tests speak HTTP to a real server about the edge of the API: body limits (issue 7 item
// 13), client addresses and sign-in throttling (14), internal errors (15), HEAD and wrong
// methods (18) and strict input (19).

// TestHardening13_BodyLimitsPerRoute: each route has its own body limit, refused before the body
// is read and named in the answer; sign-in takes 8 KiB, JSON routes 1 MiB, uploads 51 MiB.
func TestHardening13_BodyLimitsPerRoute(t *testing.T) {
	s := apitest.Start(t)
	admin := s.Admin(t)
	admin.Header.Set("Accept-Language", "en")
	anon := s.Client(t)
	anon.Header.Set("Accept-Language", "en")

	big := `{"username":"admin","password":"` + strings.Repeat("x", 100<<10) + `"}`
	res := anon.Raw("POST", "/api/v1/auth/login", "application/json", []byte(big))
	if res.Status != 413 || res.Error(t).Code != "too_large" || !strings.Contains(res.Error(t).Message, "8 KiB") {
		t.Fatalf("100 KiB sign-in: %d %s, want 413 naming 8 KiB", res.Status, res.Body)
	}
	res = admin.Raw("POST", "/api/v1/users", "application/json", []byte(`{"username":"`+strings.Repeat("x", 2<<20)+`"}`))
	if res.Status != 413 || !strings.Contains(res.Error(t).Message, "1 MiB") {
		t.Fatalf("2 MiB JSON body: %d %s, want 413 naming 1 MiB", res.Status, res.Body)
	}
	// A file of 3 MiB still uploads.
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "工厂"}}, 201, nil)
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("file", "big.bin")
	_, _ = fw.Write(bytes.Repeat([]byte{7}, 3<<20))
	_ = mw.Close()
	if res := admin.Raw("POST", "/api/v1/apps/plant/files", mw.FormDataContentType(), body.Bytes()); res.Status != 201 {
		t.Fatalf("3 MiB upload: %d %s", res.Status, res.Body)
	}
	// A compressed body would be inflated past every limit: refused.
	req, _ := http.NewRequest("POST", s.URL+"/api/v1/auth/login", strings.NewReader(`{"username":"admin","password":"x"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	hr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	hr.Body.Close()
	if hr.StatusCode != 415 {
		t.Fatalf("gzip-encoded sign-in: %d, want 415", hr.StatusCode)
	}

	// The limit applies when the headers arrive: a sign-in announcing 50 MB is answered at
	// once, without the server waiting for (or reading) a byte of it.
	conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 50000000\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	status, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.Contains(status, " 413 ") {
		t.Fatalf("sign-in announcing 50 MB: %q %v, want 413 before the body", status, err)
	}
}

// TestHardening14_ClientAddressBehindProxies: behind a trusted proxy the client address is the
// first untrusted address from the right of X-Forwarded-For, so invented entries neither escape
// the per-address sign-in limit nor land in the audit log.
func TestHardening14_ClientAddressBehindProxies(t *testing.T) {
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.TrustedProxies = []string{"127.0.0.0/8", "10.0.0.0/8"} }})
	admin := s.Admin(t)
	login := func(xff, user string) apitest.Response {
		c := s.Client(t)
		c.Header.Set("X-Forwarded-For", xff)
		return c.Raw("POST", "/api/v1/auth/login", "application/json", []byte(`{"username":"`+user+`","password":"wrong-pass-1"}`))
	}
	cases := []struct{ xff, user, want string }{
		{"203.0.113.5, 198.51.100.7", "ann", "198.51.100.7"},          // the proxy appended the client
		{"198.51.100.8, 10.1.2.3", "bea", "198.51.100.8"},             // two trusted hops
		{"10.9.0.99, attacker-99", "cid", "127.0.0.1"},                // garbage: the hop that sent it
		{"203.0.113.9:5123", "dan", "203.0.113.9"},                    // with a port
		{"[2001:db8::7]:443, 10.0.0.1", "eve", "2001:db8::7"},         // IPv6 with a port
		{"198.51.100.9, evil, 10.0.0.2", "fay", "10.0.0.2"},           // stop at the bad entry
		{"", "gus", "127.0.0.1"},                                      // no header: the peer
		{"10.0.0.3, 10.0.0.4", "hal", "10.0.0.3"},                     // all trusted: the farthest
		{"198.51.100.10,198.51.100.11", "ivy", "198.51.100.11"},       // no spaces
		{"1.2.3.4, 198.51.100.12, 127.0.0.1", "jon", "198.51.100.12"}, // trusted loopback hop
	}
	for _, tc := range cases {
		if res := login(tc.xff, tc.user); res.Status != 401 {
			t.Fatalf("%s: %d %s", tc.xff, res.Status, res.Body)
		}
		var es []engine.AuditEntry
		admin.Do("GET", "/api/v1/audit?action=login.failed&target="+tc.user, nil, 200, &es)
		if len(es) != 1 || es[0].IP != tc.want {
			t.Errorf("X-Forwarded-For %q: audit ip %v, want %q", tc.xff, es, tc.want)
		}
	}
	// Guesses through the proxy with invented entries in front are still one client: its
	// twenty failures end in 429.
	got429 := 0
	for i := range 25 {
		res := login(fmt.Sprintf("192.0.2.%d, 198.51.100.66", i), fmt.Sprintf("guess%02d", i))
		if res.Status == 429 {
			got429 = i + 1
			break
		}
	}
	if got429 != 21 {
		t.Fatalf("sign-ins with invented X-Forwarded-For: first 429 at attempt %d, want 21", got429)
	}
}

// TestHardening14_AdminNotLockedOut: failed sign-ins from one address refuse that address, but
// only slow admin down elsewhere: the right password from another address still signs in.
func TestHardening14_AdminNotLockedOut(t *testing.T) {
	var mu sync.Mutex
	var delays []time.Duration
	s := apitest.StartWith(t, apitest.Options{
		API: func(o *api.Options) { o.TrustedProxies = []string{"127.0.0.1"} },
		Auth: func(o *engine.AuthOptions) {
			o.Sleep = func(ctx context.Context, d time.Duration) error {
				mu.Lock()
				defer mu.Unlock()
				delays = append(delays, d)
				return nil
			}
		},
	})
	from := func(ip string) *apitest.Client {
		c := s.Client(t)
		c.Header.Set("X-Forwarded-For", ip)
		return c
	}
	attacker := from("198.51.100.66")
	for range 5 {
		attacker.Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "guess-pass-1"}, 401, nil)
	}
	res := attacker.Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": "guess-pass-2"}, 429, nil)
	if res.Header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
	from("203.0.113.10").Do("POST", "/api/v1/auth/login", map[string]string{"username": "admin", "password": apitest.AdminPassword}, 200, nil)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(delays, []time.Duration{time.Second}) {
		t.Fatalf("delays %v, want admin's sign-in slowed by [1s]", delays)
	}
}

// TestHardening15_StoreFaultsAre500: a store failure met while checking a field is a 500 with an
// error id and a generic message, not a 400 that quotes the driver's error.
func TestHardening15_StoreFaultsAre500(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, `{"key": "task", "name": {"zh-CN": "任务"}, "schema": {"type": "object", "properties": {
		"owner": {"x-type": "user", "x-label": {"zh-CN": "负责人"}}}}}`)
	// A user document the store cannot decode.
	if err := f.s.Kernel.Store.Put(context.Background(), "users", "ghost", bson.M{"roles": "not-a-list"}); err != nil {
		t.Fatal(err)
	}
	res := f.admin.Raw("POST", "/api/v1/apps/plant/forms/task/records", "application/json", []byte(`{"data":{"owner":"ghost"}}`))
	e := res.Error(t)
	if res.Status != 500 || e.Code != "internal" || e.ID == "" || len(e.Fields) != 0 {
		t.Fatalf("store fault while checking a field: %d %s, want 500 with an id", res.Status, res.Body)
	}
	for _, leak := range []string{"users", "decode", "ghost", "roles"} {
		if strings.Contains(string(res.Body), leak) {
			t.Errorf("answer names %q: %s", leak, res.Body)
		}
	}
	// A user that does not exist is still the input's fault.
	res = f.admin.Raw("POST", "/api/v1/apps/plant/forms/task/records", "application/json", []byte(`{"data":{"owner":"nobody"}}`))
	if res.Status != 400 || !apitest.ErrorFields(res.Error(t).Fields).HasField("owner", "") {
		t.Fatalf("unknown user: %d %s, want 400 naming owner", res.Status, res.Body)
	}
}

// TestHardening18_HeadAndWrongMethods: HEAD works wherever GET does (load balancers check
// /healthz with it); a wrong method on a path that exists is 405 with Allow; an unknown path
// is 404.
func TestHardening18_HeadAndWrongMethods(t *testing.T) {
	s := apitest.Start(t)
	c := s.Client(t)
	res := c.Raw("HEAD", "/healthz", "", nil)
	if res.Status != 200 || len(res.Body) != 0 {
		t.Fatalf("HEAD /healthz: %d %q", res.Status, res.Body)
	}
	admin := s.Admin(t)
	if res := admin.Raw("HEAD", "/api/v1/me", "", nil); res.Status != 200 {
		t.Fatalf("HEAD /api/v1/me: %d", res.Status)
	}
	if res := c.Raw("HEAD", "/api/v1/me", "", nil); res.Status != 401 {
		t.Fatalf("HEAD /api/v1/me without a session: %d, want 401", res.Status)
	}
	cases := []struct{ method, path, allow string }{
		{"POST", "/healthz", "GET, HEAD"},
		{"DELETE", "/api/v1/auth/login", "POST"},
		{"GET", "/api/v1/auth/login", "POST"},
		{"POST", "/api/v1/users/bob", "GET, HEAD, PATCH"},
	}
	for _, tc := range cases {
		res := c.Raw(tc.method, tc.path, "", nil)
		allow := res.Header.Get("Allow")
		if res.Status != 405 || res.Error(t).Code != "method_not_allowed" || allow == "" || (tc.allow != "" && allow != tc.allow) || strings.Contains(allow, tc.method) {
			t.Errorf("%s %s: %d Allow %q %s, want 405 with Allow %q", tc.method, tc.path, res.Status, allow, res.Body, tc.allow)
		}
	}
	if res := c.Raw("GET", "/no/such/path", "", nil); res.Status != 404 || res.Error(t).Code != "not_found" {
		t.Errorf("unknown path: %d %s", res.Status, res.Body)
	}
	// Every GET route answers HEAD (with 401 here: no session), never 404 or 405.
	for _, r := range s.API.Routes() {
		if r.Method != "GET" {
			continue
		}
		path := regexp.MustCompile(`:[a-z]+`).ReplaceAllString(r.Path, "x")
		if res := c.Raw("HEAD", path, "", nil); res.Status == 404 && !r.Public || res.Status == 405 {
			t.Errorf("HEAD %s: %d", path, res.Status)
		}
	}
}

// TestHardening19_StrictJSON: what encoding/json lets through is refused with a 400 that names
// the field.
func TestHardening19_StrictJSON(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	admin := f.admin
	admin.Header.Set("Accept-Language", "en")
	records := "/api/v1/apps/plant/forms/receipt/records"
	cases := []struct {
		name, url, body string
		field, code     string
	}{
		{"number out of range", records, `{"data":{"supplier":"a","weight":1e400}}`, "data.weight", "out_of_range"},
		{"duplicate key", "/api/v1/users", `{"username":"bob","username":"root","displayName":"Bob","password":"passw0rd-ok"}`, "username", "duplicate_key"},
		{"nested duplicate key", records, `{"data":{"supplier":"a","weight":1,"weight":2}}`, "data.weight", "duplicate_key"},
		{"lone high surrogate", records, `{"data":{"supplier":"\ud800","weight":1}}`, "data.supplier", "lone_surrogate"},
		{"lone low surrogate", records, `{"data":{"supplier":"a\udc00b","weight":1}}`, "data.supplier", "lone_surrogate"},
		{"invalid UTF-8", records, "{\"data\":{\"supplier\":\"a\xff\",\"weight\":1}}", "data.supplier", "invalid_utf8"},
		{"escaped NUL", records, `{"data":{"supplier":"a\u0000","weight":1}}`, "data.supplier", "nul_character"},
		{"raw NUL", records, "{\"data\":{\"supplier\":\"a\x00\",\"weight\":1}}", "data.supplier", "nul_character"},
		{"field in another case", "/api/v1/users", `{"Username":"bob","displayName":"Bob","password":"passw0rd-ok"}`, "Username", "unknown_field"},
		{"wrong type in a list", "/api/v1/users", `{"username":"bob","displayName":"Bob","password":"passw0rd-ok","roles":["a",1]}`, "roles.1", "wrong_type"},
		{"duplicate key in a definition", "/api/v1/apps/plant/forms", `{"key":"dup","name":{"zh-CN":"a","zh-CN":"b"},"schema":{"type":"object","properties":{}}}`, "/name/zh-CN", "duplicate_key"},
		{"lone surrogate in a definition", "/api/v1/apps/plant/forms", `{"key":"dup","name":{"zh-CN":"\udfff"},"schema":{"type":"object","properties":{"a~b/c":{"x-type":"text","x-label":{"zh-CN":"\ud800x"}}}}}`, "/name/zh-CN", "lone_surrogate"},
		{"too deep", records, `{"data":{"supplier":` + strings.Repeat("[", 300) + strings.Repeat("]", 300) + `}}`, "", "too_deep"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res := admin.Raw("POST", tc.url, "application/json", []byte(tc.body))
			if res.Status != 400 {
				t.Fatalf("status %d: %s", res.Status, res.Body)
			}
			e := res.Error(t)
			if len(e.Fields) != 1 || e.Fields[0].Code != tc.code || tc.field != "" && e.Fields[0].Field != tc.field {
				t.Fatalf("fields %+v, want %s %s", e.Fields, tc.field, tc.code)
			}
			if strings.Contains(e.Message, "{") || e.Fields[0].Message == tc.code {
				t.Errorf("message not rendered: %q / %q", e.Message, e.Fields[0].Message)
			}
		})
	}
	// A surrogate pair is one character, not an error.
	admin.Do("POST", records, json.RawMessage(`{"data":{"supplier":"\ud83d\ude00","weight":1}}`), 201, nil)
}

// TestHardening19_ListLimits: a list's limit is a whole number in its range, or a 400 that names
// it; absent, the route's default applies.
func TestHardening19_ListLimits(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	admin := f.admin
	routes := []struct{ path, max string }{
		{"/api/v1/apps/plant/forms/receipt/records", "500"},
		{"/api/v1/inbox", "200"},
		{"/api/v1/audit", "500"},
	}
	for _, r := range routes {
		admin.Do("GET", r.path, nil, 200, nil)
		admin.Do("GET", r.path+"?limit=5", nil, 200, nil)
		for _, bad := range []struct{ v, code string }{
			{"-1", "too_small"}, {"0", "too_small"}, {"ten", "wrong_type"}, {"1.5", "wrong_type"},
			{"99999999999999999999999", "too_big"}, {"-99999999999999999999999", "too_small"}, {"501", "too_big"},
		} {
			if bad.v == "501" && r.max != "500" {
				continue
			}
			res := admin.Raw("GET", r.path+"?limit="+bad.v, "", nil)
			if res.Status != 400 || !apitest.ErrorFields(res.Error(t).Fields).HasField("limit", bad.code) {
				t.Errorf("%s?limit=%s: %d %s, want 400 limit %s", r.path, bad.v, res.Status, res.Body, bad.code)
			}
		}
	}
	res := admin.Raw("POST", "/api/v1/apps/plant/forms/receipt/records/query", "application/json", []byte(`{"limit":-1}`))
	if res.Status != 400 || !apitest.ErrorFields(res.Error(t).Fields).HasField("limit", "too_small") {
		t.Errorf("query with limit -1: %d %s", res.Status, res.Body)
	}
}
