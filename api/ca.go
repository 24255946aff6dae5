package api

import (
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"html/template"
	"strings"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
)

// LocalCA is the plant's own certificate authority when the server makes its HTTPS
// certificate itself (localca.Manager): GET /ca.crt hands its certificate out and GET /ca
// explains how to trust it on a phone. Without one (plain HTTP, or a certificate from
// elsewhere) both answer 404.
type LocalCA interface {
	CACert() *x509.Certificate
	Hosts() []string
}

// caFileName is the name phones save the CA certificate under.
const caFileName = "tracecraft-ca.crt"

// caPage explains, in the reader's language, how to trust the CA on Android and on an iPhone.
// html/template escapes every value (the CA's name and the hosts come from the command line).
var caPage = template.Must(template.New("ca").Parse(`<!doctype html>
<html lang="{{.Lang}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>{{if eq .Lang "en"}}Trust this server's certificate{{else}}信任本服务器的证书{{end}} · Tracecraft</title>
<style>
body{font-family:system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:42rem;margin:0 auto;padding:1rem 1rem 3rem;color:#1f2328;line-height:1.6}
h1{font-size:1.4rem;margin:.5rem 0}h2{font-size:1.1rem;margin:1.6rem 0 .4rem}
.dl{display:block;text-align:center;background:#1d4ed8;color:#fff;text-decoration:none;padding:.85rem 1rem;border-radius:8px;font-size:1.05rem;margin:1rem 0}
.fp{font-family:ui-monospace,Menlo,monospace;font-size:.85rem;word-break:break-all;background:#f3f4f6;padding:.5rem .6rem;border-radius:6px}
.note{background:#fffbeb;border:1px solid #fde68a;padding:.5rem .75rem;border-radius:6px;font-size:.92rem}
ol{padding-left:1.3rem}li{margin:.3rem 0}b{font-weight:600}code{background:#f3f4f6;padding:0 .25rem;border-radius:4px}
.top{display:flex;justify-content:space-between;align-items:center;font-size:.9rem}
</style></head>
<body>
{{if eq .Lang "en"}}
<div class="top"><span>Tracecraft</span><a href="/ca?lang=zh-CN">中文</a></div>
<h1>Trust this server's certificate</h1>
<p>Phone browsers open the camera (scanning codes) only on HTTPS pages. This server's HTTPS
certificate is issued by the plant's own certificate authority (CA), <b>{{.Name}}</b>. Install and
trust it once on each phone; after that <code>https://</code> addresses of this server open without warnings.</p>
<a class="dl" href="/ca.crt" download="{{.File}}" data-test="ca-download">Download the CA certificate</a>
<p>SHA-256 fingerprint — compare it with the one the administrator has (the server prints it at start):</p>
<p class="fp" data-test="ca-fingerprint">{{.Fingerprint}}</p>
{{if .Hosts}}<p>The certificate is valid for: {{range $i, $h := .Hosts}}{{if $i}}, {{end}}<code>{{$h}}</code>{{end}}.</p>{{end}}
<p class="note">Open this page in the phone's own browser (Chrome, Safari, Edge…), not inside a chat app.</p>
<h2>Android</h2>
<ol>
<li>Tap <b>Download the CA certificate</b> above and keep the file.</li>
<li>Open <b>Settings → Security → More security settings → Encryption &amp; credentials → Install a certificate → CA certificate</b>
(on some phones: Settings → Passwords &amp; security → System security → Credential storage), tap <b>Install anyway</b>.</li>
<li>Pick <code>{{.File}}</code> from Downloads. The phone needs a screen lock to install certificates.</li>
<li>Close the browser and open the <code>https://</code> address of Tracecraft again.</li>
</ol>
<h2>iPhone / iPad</h2>
<ol>
<li>Open this page in <b>Safari</b> and tap <b>Download the CA certificate</b>; allow the download of the configuration profile.</li>
<li>Open <b>Settings → Profile Downloaded → Install</b> (enter the passcode, tap Install again).</li>
<li>Open <b>Settings → General → About → Certificate Trust Settings</b> and turn on full trust for <b>{{.Name}}</b>.</li>
<li>Open the <code>https://</code> address of Tracecraft again.</li>
</ol>
<p>When the administrator makes a new CA the phones must trust it again; a new server certificate under the same CA needs nothing.</p>
<p><a href="/">Open Tracecraft</a></p>
{{else}}
<div class="top"><span>Tracecraft</span><a href="/ca?lang=en">English</a></div>
<h1>信任本服务器的证书</h1>
<p>手机浏览器只在 HTTPS 页面中开放摄像头（扫码）。本服务器的 HTTPS 证书由工厂自建的证书颁发机构（CA）
<b>{{.Name}}</b> 签发。每部手机安装并信任一次该 CA 证书后，打开本服务器的 <code>https://</code> 地址就不再出现警告。</p>
<a class="dl" href="/ca.crt" download="{{.File}}" data-test="ca-download">下载 CA 证书</a>
<p>SHA-256 指纹——请与管理员提供的指纹核对（服务器启动时会打印）：</p>
<p class="fp" data-test="ca-fingerprint">{{.Fingerprint}}</p>
{{if .Hosts}}<p>证书适用的地址：{{range $i, $h := .Hosts}}{{if $i}}、{{end}}<code>{{$h}}</code>{{end}}。</p>{{end}}
<p class="note">请用手机自带的浏览器（Chrome、Safari、Edge、华为浏览器等）打开本页，不要在微信等聊天软件里打开。</p>
<h2>安卓手机</h2>
<ol>
<li>点击上方的<b>下载 CA 证书</b>，保存文件。</li>
<li>打开<b>设置 → 安全 → 更多安全设置 → 加密与凭据 → 安装证书 → CA 证书</b>，点<b>仍然安装</b>
（小米等机型：设置 → 密码与安全 → 系统安全 → 加密与凭据 → 安装证书；华为：设置 → 安全 → 更多安全设置 → 加密和凭据 → 从存储设备安装）。</li>
<li>在“下载”中选择 <code>{{.File}}</code>。安装证书前手机需设置锁屏密码。</li>
<li>关闭浏览器，重新打开 Tracecraft 的 <code>https://</code> 地址。</li>
</ol>
<h2>苹果手机 / iPad</h2>
<ol>
<li>用 <b>Safari</b> 打开本页，点击<b>下载 CA 证书</b>，在提示中选择<b>允许</b>下载描述文件。</li>
<li>打开<b>设置 → 已下载描述文件 → 安装</b>（输入锁屏密码，再点安装）。</li>
<li>打开<b>设置 → 通用 → 关于本机 → 证书信任设置</b>，打开 <b>{{.Name}}</b> 旁的开关（针对根证书启用完全信任）。</li>
<li>重新打开 Tracecraft 的 <code>https://</code> 地址。</li>
</ol>
<p>管理员重新生成 CA 后，手机需要重新信任；同一 CA 签发的新服务器证书无需任何操作。</p>
<p><a href="/">打开 Tracecraft</a></p>
{{end}}
</body></html>`))

func (s *Server) caRoutes() []Route {
	return []Route{{
		Method: fiber.MethodGet, Path: "/ca", Tag: "system", Public: true,
		Summary: "How to trust the server's local certificate authority on a phone (HTML, zh-CN or en); 404 without a local CA",
		Query:   []Param{{Name: "lang", Type: "string", Description: "zh-CN or en (else Accept-Language)"}},
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			ca := s.opts.LocalCA
			if ca == nil {
				return fiber.ErrNotFound
			}
			cert := ca.CACert()
			sum := sha256.Sum256(cert.Raw)
			hexes := make([]string, len(sum))
			for i, b := range sum {
				hexes[i] = fmt.Sprintf("%02X", b)
			}
			var b strings.Builder
			err := caPage.Execute(&b, map[string]any{
				"Lang": langOf(c), "Name": cert.Subject.CommonName, "Fingerprint": strings.Join(hexes, ":"),
				"Hosts": ca.Hosts(), "File": caFileName,
			})
			if err != nil {
				return err
			}
			c.Set(fiber.HeaderCacheControl, "no-cache")
			c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
			return c.SendString(b.String())
		},
	}, {
		Method: fiber.MethodGet, Path: "/ca.crt", Tag: "system", Public: true,
		Summary: "The local certificate authority's certificate (DER, application/x-x509-ca-cert) to install on phones; 404 without a local CA",
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			ca := s.opts.LocalCA
			if ca == nil {
				return fiber.ErrNotFound
			}
			c.Set(fiber.HeaderCacheControl, "no-cache")
			c.Set(fiber.HeaderContentType, "application/x-x509-ca-cert")
			c.Set(fiber.HeaderContentDisposition, `attachment; filename="`+caFileName+`"`)
			return c.Send(ca.CACert().Raw)
		},
	}}
}
