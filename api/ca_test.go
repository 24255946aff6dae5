package api_test

import (
	"bytes"
	"crypto/x509"
	"strings"
	"testing"
	"testing/fstest"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/localca"
)

// TestLocalCAPage (issue 9): with a local CA the public page /ca explains in Chinese (English by
// Accept-Language or ?lang=en) how to trust it on Android and on an iPhone, with its SHA-256
// fingerprint, and escapes the CA's name; /ca.crt hands the certificate out as
// application/x-x509-ca-cert. Without a local CA both are 404.
func TestLocalCAPage(t *testing.T) {
	ca, err := localca.NewManager(localca.Options{Dir: t.TempDir(), Hosts: []string{"plant.local", "192.168.1.10"}, Name: `<script>alert("x")</script>`})
	if err != nil {
		t.Fatal(err)
	}
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.LocalCA = ca }})
	c := s.Client(t) // anonymous: phones open it before anyone signs in
	fp := ca.Bundle().Fingerprint()

	res := c.Raw("GET", "/ca", "", nil)
	page := string(res.Body)
	if res.Status != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ca: %d %s", res.Status, res.Header.Get("Content-Type"))
	}
	for _, want := range []string{`<html lang="zh-CN">`, "信任本服务器的证书", "安卓手机", "加密与凭据", "苹果手机",
		"证书信任设置", "已下载描述文件", fp, `href="/ca.crt"`, "<code>plant.local</code>", "<code>192.168.1.10</code>",
		"&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;"} {
		if !strings.Contains(page, want) {
			t.Errorf("GET /ca lacks %q", want)
		}
	}
	if strings.Contains(page, "<script") {
		t.Errorf("GET /ca carries a script: the CA's name was not escaped")
	}
	if csp := res.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("GET /ca: Content-Security-Policy %q", csp)
	}

	en := s.Client(t)
	en.Header.Set("Accept-Language", "en-US,en;q=0.9")
	for _, tc := range []struct {
		c    *apitest.Client
		path string
	}{{c, "/ca?lang=en"}, {en, "/ca"}} {
		page := string(tc.c.Raw("GET", tc.path, "", nil).Body)
		for _, want := range []string{`<html lang="en">`, "Trust this server's certificate", "Certificate Trust Settings", "Install a certificate", fp} {
			if !strings.Contains(page, want) {
				t.Errorf("GET %s in English lacks %q", tc.path, want)
			}
		}
	}

	res = c.Raw("GET", "/ca.crt", "", nil)
	if res.Status != 200 || res.Header.Get("Content-Type") != "application/x-x509-ca-cert" || !strings.Contains(res.Header.Get("Content-Disposition"), "tracecraft-ca.crt") {
		t.Fatalf("GET /ca.crt: %d %q %q", res.Status, res.Header.Get("Content-Type"), res.Header.Get("Content-Disposition"))
	}
	got, err := x509.ParseCertificate(res.Body)
	if err != nil || !got.Equal(ca.CACert()) || !got.IsCA {
		t.Fatalf("GET /ca.crt is not the CA's certificate: %v", err)
	}

	plain := apitest.Start(t).Client(t)
	for _, p := range []string{"/ca", "/ca.crt"} {
		if res := plain.Raw("GET", p, "", nil); res.Status != 404 {
			t.Errorf("GET %s without a local CA: %d, want 404", p, res.Status)
		}
	}
}

// TestScannerWasmServed: the scanner's WebAssembly is one of the app's files, served from our
// own origin as application/wasm, gzipped when asked, under a CSP that lets it compile
// ('wasm-unsafe-eval') and still forbids eval.
func TestScannerWasmServed(t *testing.T) {
	wasm := append([]byte("\x00asm\x01\x00\x00\x00"), bytes.Repeat([]byte{0, 1, 2, 3}, 4096)...)
	ui := fstest.MapFS{"index.html": {Data: []byte("<!doctype html>")}, "assets/zxing_reader-abc.wasm": {Data: wasm}}
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = ui }})
	c := s.Client(t)
	c.Header.Set("Accept-Encoding", "gzip")
	res := c.Raw("GET", "/assets/zxing_reader-abc.wasm", "", nil)
	if res.Status != 200 || res.Header.Get("Content-Type") != "application/wasm" || res.Header.Get("Content-Encoding") != "gzip" || len(res.Body) >= len(wasm) {
		t.Fatalf("wasm: %d %q %q, %d bytes of %d", res.Status, res.Header.Get("Content-Type"), res.Header.Get("Content-Encoding"), len(res.Body), len(wasm))
	}
	csp := res.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "script-src 'self' 'wasm-unsafe-eval'") || strings.Contains(csp, "'unsafe-eval'") {
		t.Fatalf("CSP %q", csp)
	}
}
