package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tracecraft/localca"
)

// TestServeHTTPRedirect: serve --tls-auto --http-redirect ADDR answers plain HTTP on ADDR with a
// 308 to the same path and query on the HTTPS port, under the host the request named (a name,
// an address), for every method; /ca, /ca.crt and /healthz are answered there by the main
// server itself (the phone reads the trust page before it trusts the CA), logged with the
// client's address; the plain entry keeps the main server's header limit; a browser that
// follows the redirect lands on the HTTPS page. When serve stops, the plain port closes too.
func TestServeHTTPRedirect(t *testing.T) {
	data := t.TempDir()
	if err := cmdCert([]string{"init", "--data", data, "--hosts", "localhost,127.0.0.1"}, io.Discard, io.Discard); err != nil {
		t.Fatal(err)
	}
	made, err := localca.Ensure(localca.Options{Dir: filepath.Join(data, "tls")})
	if err != nil {
		t.Fatal(err)
	}
	addr, plainAddr := freePort(t), freePort(t)
	port := addr[strings.LastIndex(addr, ":")+1:]
	plainPort := plainAddr[strings.LastIndex(plainAddr, ":")+1:]
	client := trusting(t, filepath.Join(data, "tls", localca.CACertFile))

	t.Setenv("TRACECRAFT_ADMIN_PASSWORD", "tls-Test-pw1")
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	errc := make(chan error, 1)
	go func() {
		errc <- cmdServe(ctx, []string{"--data", data, "--addr", addr, "--tls-auto", "--http-redirect", plainAddr}, io.Discard, logs)
	}()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-errc; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	plain := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for i := 0; ; i++ {
		res, err := plain.Get("http://" + plainAddr + "/healthz")
		if err == nil {
			res.Body.Close()
			break
		}
		if i == 600 {
			t.Fatalf("the plain entry does not answer: %v\n%s", err, logs)
		}
		time.Sleep(50 * time.Millisecond)
	}

	for _, tc := range []struct{ method, host, path, want string }{
		{"GET", "127.0.0.1:" + plainPort, "/records/receipt?open=abc&x=%E4%B8%AD", "https://127.0.0.1:" + port + "/records/receipt?open=abc&x=%E4%B8%AD"},
		{"GET", "localhost:" + plainPort, "/", "https://localhost:" + port + "/"},
		{"POST", "plant.local", "/api/v1/auth/login", "https://plant.local:" + port + "/api/v1/auth/login"},
		{"GET", "[::1]:" + plainPort, "/ca/extra", "https://[::1]:" + port + "/ca/extra"},
	} {
		req, _ := http.NewRequest(tc.method, "http://"+plainAddr+tc.path, strings.NewReader(""))
		req.Host = tc.host
		res, err := plain.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusPermanentRedirect || res.Header.Get("Location") != tc.want {
			t.Errorf("%s %s (Host %s): %d Location %q, want 308 %q", tc.method, tc.path, tc.host, res.StatusCode, res.Header.Get("Location"), tc.want)
		}
	}

	// The trust page, the CA and the health check answer over plain HTTP.
	res, body := get(t, plain, "http://"+plainAddr+"/ca")
	if res.StatusCode != 200 || !strings.Contains(string(body), made.Fingerprint()) {
		t.Fatalf("GET /ca over plain HTTP: %d", res.StatusCode)
	}
	res, body = get(t, plain, "http://localhost:"+plainPort+"/ca.crt")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-x509-ca-cert" || !bytes.Equal(body, made.CA.Raw) {
		t.Fatalf("GET /ca.crt over plain HTTP: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	req, _ := http.NewRequest("GET", "http://"+plainAddr+"/ca?lang=en", nil)
	if res, err = plain.Do(req); err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "Trust this server's certificate") {
		t.Fatalf("GET /ca?lang=en over plain HTTP: %d", res.StatusCode)
	}
	res, body = get(t, plain, "http://"+plainAddr+"/healthz")
	if res.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
		t.Fatalf("GET /healthz over plain HTTP: %d %s", res.StatusCode, body)
	}
	if !strings.Contains(logs.String(), "path=/ca.crt") || !strings.Contains(logs.String(), "ip=127.0.0.1") {
		t.Errorf("the main server's log does not show the passed request with its client:\n%s", logs)
	}

	// The main server's header limit holds on the plain entry.
	req, _ = http.NewRequest("GET", "http://"+plainAddr+"/", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 16<<10))
	if res, err = plain.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("16 KiB of headers on the plain entry: %d, want 431", res.StatusCode)
	}

	// A browser that follows the redirect reaches the HTTPS page.
	res, _ = get(t, client, "http://localhost:"+plainPort+"/?lang=en")
	if res.StatusCode != 200 || res.TLS == nil || res.Request.URL.String() != "https://localhost:"+port+"/?lang=en" {
		t.Fatalf("followed: %d at %s", res.StatusCode, res.Request.URL)
	}

	stop()
	if c, err := net.DialTimeout("tcp", plainAddr, 2*time.Second); err == nil {
		c.Close()
		t.Fatal("the plain entry still accepts connections after serve stopped")
	}
}

// TestServeHTTPRedirectNeedsTLS: --http-redirect without HTTPS is refused before the store is
// opened, saying why; a plain address already taken stops serve with an error that names the
// flag.
func TestServeHTTPRedirectNeedsTLS(t *testing.T) {
	data := t.TempDir()
	err := cmdServe(context.Background(), []string{"--data", data, "--addr", freePort(t), "--http-redirect", freePort(t)}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "--http-redirect needs HTTPS") {
		t.Fatalf("serve --http-redirect without TLS: %v", err)
	}
	if matches, _ := filepath.Glob(filepath.Join(data, "*")); len(matches) != 0 {
		t.Fatalf("serve opened the store before refusing: %v", matches)
	}

	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	t.Setenv("TRACECRAFT_ADMIN_PASSWORD", "tls-Test-pw1")
	err = cmdServe(context.Background(), []string{"--data", data, "--addr", freePort(t), "--tls-auto", "--tls-hosts", "127.0.0.1", "--http-redirect", taken.Addr().String()}, io.Discard, io.Discard)
	var opErr *net.OpError
	if err == nil || !strings.Contains(err.Error(), "--http-redirect") || !errors.As(err, &opErr) {
		t.Fatalf("serve --http-redirect on a taken address: %v", err)
	}
}
