package api

import (
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// homePage is what a browser sees at / until the web builder is served there: what is running
// and where the API and its documentation are. html/template escapes every value.
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
		Summary: "A page that says the server is running and where its API is",
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
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
