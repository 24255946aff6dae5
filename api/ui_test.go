package api_test

import (
	"bytes"
	"compress/gzip"
	"io"
	"strings"
	"testing"
	"testing/fstest"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

// TestWebAppServed: with Options.UI the server serves the web app at /, its index.html for the
// app's own paths (history mode), its hashed bundles for a year and gzipped, and keeps every
// /api/ answer JSON (issue 9, build and serve).
func TestWebAppServed(t *testing.T) {
	index := `<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>`
	bundle := "console.log('app');" + strings.Repeat("/* padding so the bundle is worth compressing */", 60)
	ui := fstest.MapFS{
		"index.html":             {Data: []byte(index)},
		"assets/index-abc123.js": {Data: []byte(bundle)},
		"favicon.svg":            {Data: []byte(`<svg xmlns="http://www.w3.org/2000/svg"/>`)},
		".source-hash":           {Data: []byte("0123\n")},
	}
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = ui }})
	c := s.Client(t)

	// A task's page holds dots in its id ("<instance>.<node>.<n>"): still a page, not a file.
	for _, p := range []string{"/", "/apps/plant/forms/receipt", "/inbox/todo", "/login?next=%2Finbox", "/tasks/01JX4Q.a1.2"} {
		res := c.Raw("GET", p, "", nil)
		if res.Status != 200 || string(res.Body) != index {
			t.Fatalf("GET %s: %d %q", p, res.Status, res.Body)
		}
		if got := res.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("GET %s: Cache-Control %q, want no-cache (a new build must be picked up)", p, got)
		}
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			t.Errorf("GET %s: Content-Type %q", p, ct)
		}
		csp := res.Header.Get("Content-Security-Policy")
		// 'wasm-unsafe-eval' lets the scanner's WebAssembly compile; JavaScript eval stays off.
		if !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "'unsafe-eval'") || !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") {
			t.Errorf("GET %s: Content-Security-Policy %q", p, csp)
		}
	}

	res := c.Raw("GET", "/assets/index-abc123.js", "", nil)
	if res.Status != 200 || string(res.Body) != bundle || !strings.Contains(res.Header.Get("Content-Type"), "javascript") {
		t.Fatalf("bundle: %d %s %q", res.Status, res.Header.Get("Content-Type"), res.Body)
	}
	if got := res.Header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("bundle Cache-Control %q", got)
	}
	etag := res.Header.Get("ETag")
	gz := s.Client(t)
	gz.Header.Set("Accept-Encoding", "gzip, deflate")
	res = gz.Raw("GET", "/assets/index-abc123.js", "", nil)
	if res.Header.Get("Content-Encoding") != "gzip" || len(res.Body) >= len(bundle) {
		t.Fatalf("bundle asked gzipped: encoding %q, %d bytes of %d", res.Header.Get("Content-Encoding"), len(res.Body), len(bundle))
	}
	zr, err := gzip.NewReader(bytes.NewReader(res.Body))
	if err != nil {
		t.Fatal(err)
	}
	if plain, _ := io.ReadAll(zr); string(plain) != bundle {
		t.Fatal("gzipped bundle does not inflate to the bundle")
	}
	cond := s.Client(t)
	cond.Header.Set("If-None-Match", etag)
	if res := cond.Raw("GET", "/assets/index-abc123.js", "", nil); res.Status != 304 || len(res.Body) != 0 {
		t.Errorf("If-None-Match with the ETag: %d, %d bytes", res.Status, len(res.Body))
	}

	// Not the app: stays the API's JSON 404/405, never index.html.
	for _, tc := range []struct{ method, path string }{
		{"GET", "/assets/index-old999.js"},    // a bundle of an older build
		{"GET", "/missing.png"},               // a file that is not there
		{"GET", "/fonts/x.WOFF2"},             // nor is this one
		{"GET", "/.env"},                      // a dotfile
		{"GET", "/.source-hash"},              // build bookkeeping
		{"GET", "/api/v1/nope"},               // an unknown API path
		{"GET", "/API/v1/nope"},               // routes match in any case
		{"POST", "/apps/plant/forms/receipt"}, // pages are read, not written
	} {
		res := c.Raw(tc.method, tc.path, "", nil)
		if res.Status != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: %d %s %q, want a JSON 404", tc.method, tc.path, res.Status, res.Header.Get("Content-Type"), res.Body)
		}
	}
	if res := c.Raw("GET", "/api/v1/auth/login", "", nil); res.Status != 405 {
		t.Errorf("GET of a POST-only API route: %d, want 405", res.Status)
	}
	if res := c.Raw("GET", "/healthz", "", nil); res.Status != 200 || !strings.Contains(string(res.Body), `"status"`) {
		t.Errorf("healthz with the app: %d %s", res.Status, res.Body)
	}
}
