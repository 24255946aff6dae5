package api

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"html/template"
	"io/fs"
	"mime"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// homePage is what a browser sees at / when the server runs without the web app
// (Options.UI nil): what is running and where the API and its documentation are.
// html/template escapes every value.
var homePage = template.Must(template.New("home").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Tracecraft</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;color:#1f2328}
code{background:#f3f4f6;padding:.1rem .3rem;border-radius:4px}.ok{color:#1a7f37}</style></head>
<body><h1>Tracecraft</h1>
{{if eq .Lang "en"}}
<p class="ok">The server is running (version {{.Version}}, {{.Store}} store).</p>
<p>Sign in with <code>POST /api/v1/auth/login</code>; the API is described by <code>/api/v1/openapi.json</code> (signed in).
Health: <a href="/healthz">/healthz</a>. <a href="/?lang=zh-CN">中文</a></p>
{{else}}
<p class="ok">服务已运行（版本 {{.Version}}，{{.Store}} 存储）。</p>
<p>通过 <code>POST /api/v1/auth/login</code> 登录；接口说明见 <code>/api/v1/openapi.json</code>（需登录）。
健康检查：<a href="/healthz">/healthz</a>。<a href="/?lang=en">English</a></p>
{{end}}
</body></html>`))

func (s *Server) homeRoutes() []Route {
	return []Route{{
		Method: fiber.MethodGet, Path: "/", Tag: "system", Public: true,
		Summary: "The web app (without it, a page that says the server is running and where its API is)",
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			if s.opts.UI != nil {
				return s.sendAppFile(c, appIndex)
			}
			var b strings.Builder
			err := homePage.Execute(&b, map[string]string{"Lang": langOf(c), "Version": s.opts.Version, "Store": string(s.k.Store.Kind())})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			return c.SendString(b.String())
		},
	}}
}

const appIndex = "index.html"

// appPages serves the web app (Options.UI) to GET and HEAD requests no route took, outside
// /api/: its files as they are, and index.html for every other path, which the app routes in
// the browser (history mode: /apps/plant/forms/receipt is a page of the app). A missing file
// under assets/ or with an extension stays a 404: a browser holding an old index.html must
// not get HTML for a script.
func (s *Server) appPages(c *fiber.Ctx) error {
	if s.opts.UI == nil || c.Method() != fiber.MethodGet && c.Method() != fiber.MethodHead {
		return c.Next()
	}
	p := c.Path()
	if hasPathPrefix(p, "/api") || strings.EqualFold(p, "/healthz") {
		return c.Next()
	}
	name := strings.TrimPrefix(path.Clean("/"+p), "/")
	if name == "" {
		name = appIndex
	}
	if f := s.appFile(name); f != nil {
		return s.sendFile(c, f)
	}
	if fileLike(name) || hasPathPrefix("/"+name, "/assets") {
		return c.Next()
	}
	return s.sendAppFile(c, appIndex)
}

// fileLike reports whether a missing name looks like a file a browser fetches (a script, a
// style, an image, build bookkeeping) rather than a page of the app: those stay a 404. Pages
// may hold dots — a task id is "<instance>.<node>.<n>" — so a dot alone does not make a file.
func fileLike(name string) bool {
	base := path.Base(name)
	if strings.HasPrefix(base, ".") {
		return true
	}
	switch strings.ToLower(path.Ext(base)) {
	case ".js", ".mjs", ".css", ".map", ".wasm", ".json", ".html", ".htm", ".txt", ".xml", ".webmanifest",
		".png", ".jpg", ".jpeg", ".gif", ".svg", ".ico", ".webp", ".avif", ".woff", ".woff2", ".ttf", ".otf", ".pdf", ".zip":
		return true
	}
	return false
}

// hasPathPrefix reports whether p is prefix or below it, letters in any case (routes match so).
func hasPathPrefix(p, prefix string) bool {
	return len(p) >= len(prefix) && strings.EqualFold(p[:len(prefix)], prefix) && (len(p) == len(prefix) || p[len(prefix)] == '/')
}

// appAsset is one file of the web app, read once and kept with its gzip form and ETag.
type appAsset struct {
	name, contentType, etag, cacheControl string
	body, gz                              []byte
}

// appFiles caches the web app's files by name. Only files that exist are kept: anyone may ask
// for any path, so remembering misses would let anonymous requests grow the cache without end.
type appFiles struct {
	mu    sync.Mutex
	files map[string]*appAsset
}

// appFile reads name from the web app once; nil when it is missing, a folder or hidden.
func (s *Server) appFile(name string) *appAsset {
	s.ui.mu.Lock()
	defer s.ui.mu.Unlock()
	if f, ok := s.ui.files[name]; ok {
		return f
	}
	if s.ui.files == nil {
		s.ui.files = map[string]*appAsset{}
	}
	f := loadAppAsset(s.opts.UI, name)
	if f != nil {
		s.ui.files[name] = f
	}
	return f
}

func loadAppAsset(ui fs.FS, name string) *appAsset {
	for _, part := range strings.Split(name, "/") {
		if strings.HasPrefix(part, ".") { // dist/.source-hash and the like are not the app's
			return nil
		}
	}
	body, err := fs.ReadFile(ui, name)
	if err != nil {
		return nil // missing, or a folder
	}
	sum := sha256.Sum256(body)
	f := &appAsset{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	f.contentType = mime.TypeByExtension(path.Ext(name))
	if f.contentType == "" {
		f.contentType = fiber.MIMEOctetStream
	}
	// Bundles under assets/ carry a hash of their content in their names: a new build makes
	// new names, so browsers keep them for a year. Everything else (index.html above all) is
	// checked again on every load.
	f.cacheControl = "no-cache"
	if strings.HasPrefix(name, "assets/") {
		f.cacheControl = "public, max-age=31536000, immutable"
	}
	if compressible(f.contentType) && len(body) > 1024 {
		var b bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
		_, _ = zw.Write(body)
		_ = zw.Close()
		if b.Len() < len(body) {
			f.gz = b.Bytes()
		}
	}
	return f
}

func compressible(contentType string) bool {
	for _, t := range []string{"text/", "application/javascript", "application/json", "image/svg+xml", "application/wasm"} {
		if strings.HasPrefix(contentType, t) {
			return true
		}
	}
	return false
}

func (s *Server) sendAppFile(c *fiber.Ctx, name string) error {
	f := s.appFile(name)
	if f == nil {
		return fiber.ErrNotFound
	}
	return s.sendFile(c, f)
}

func (s *Server) sendFile(c *fiber.Ctx, f *appAsset) error {
	c.Set(fiber.HeaderCacheControl, f.cacheControl)
	c.Set(fiber.HeaderETag, f.etag)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if c.Get(fiber.HeaderIfNoneMatch) == f.etag {
		return c.SendStatus(fiber.StatusNotModified)
	}
	c.Set(fiber.HeaderContentType, f.contentType)
	if f.gz != nil && acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(f.gz)
	}
	return c.Send(f.body)
}

// acceptsGzip reads an Accept-Encoding header: gzip listed without q=0.
func acceptsGzip(h string) bool {
	for _, part := range strings.Split(h, ",") {
		enc, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(enc), "gzip") {
			q := strings.ReplaceAll(params, " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
