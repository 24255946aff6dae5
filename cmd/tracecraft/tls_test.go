package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/localca"
)

// syncBuffer is a bytes.Buffer the server's logger and the test may share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveTLS runs cmdServe with args until the test ends, and waits until url answers through
// client.
func serveTLS(t *testing.T, client *http.Client, url string, args ...string) *syncBuffer {
	t.Helper()
	t.Setenv("TRACECRAFT_ADMIN_PASSWORD", "tls-Test-pw1")
	ctx, cancel := context.WithCancel(context.Background())
	logs := &syncBuffer{}
	errc := make(chan error, 1)
	go func() { errc <- cmdServe(ctx, args, io.Discard, logs) }()
	t.Cleanup(func() {
		cancel()
		if err := <-errc; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for range 600 {
		select {
		case err := <-errc:
			errc <- err
			t.Fatalf("serve stopped: %v\n%s", err, logs)
		default:
		}
		res, err := client.Get(url)
		if err == nil {
			res.Body.Close()
			return logs
		}
		var unknown x509.UnknownAuthorityError
		if errors.As(err, &unknown) {
			t.Fatalf("GET %s: %v", url, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("serve did not answer %s:\n%s", url, logs)
	return nil
}

func trusting(t *testing.T, caFile string) *http.Client {
	t.Helper()
	pemBytes, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pemBytes) {
		t.Fatal("no CA certificate in " + caFile)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}
}

func get(t *testing.T, c *http.Client, url string) (*http.Response, []byte) {
	t.Helper()
	res, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// TestServeTLSAuto (issue 9): cert init makes the local CA and a certificate for the names
// given; serve --tls-auto reuses them and answers /healthz over HTTPS to a client that trusts
// only that CA, by name and by address; a client without the CA is refused; /ca.crt hands the
// CA out. A restart with other names makes a new certificate under the same CA.
func TestServeTLSAuto(t *testing.T) {
	data := t.TempDir()
	var out bytes.Buffer
	if err := cmdCert([]string{"init", "--data", data, "--hosts", "localhost,127.0.0.1", "--name", "test plant"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(data, "tls")
	made, err := localca.Ensure(localca.Options{Dir: dir})
	if err != nil || made.CAMade || made.ServerMade {
		t.Fatalf("cert init left nothing to reuse: %v", err)
	}
	if !strings.Contains(out.String(), made.Fingerprint()) || !strings.Contains(out.String(), "[localhost 127.0.0.1]") {
		t.Fatalf("cert init says:\n%s", out.String())
	}

	addr := freePort(t)
	port := addr[strings.LastIndex(addr, ":"):]
	client := trusting(t, filepath.Join(dir, localca.CACertFile))
	logs := serveTLS(t, client, "https://127.0.0.1"+port+"/healthz", "--data", data, "--addr", addr, "--tls-auto")
	for _, host := range []string{"127.0.0.1", "localhost"} {
		res, body := get(t, client, "https://"+host+port+"/healthz")
		if res.StatusCode != 200 || !strings.Contains(string(body), `"status":"ok"`) {
			t.Fatalf("GET https://%s/healthz: %d %s", host, res.StatusCode, body)
		}
		if !res.TLS.PeerCertificates[0].Equal(made.Server.Leaf) {
			t.Fatalf("serve did not reuse the certificate cert init made")
		}
	}
	// Over HTTPS the session cookie is Secure without --secure-cookies.
	login, err := client.Post("https://127.0.0.1"+port+"/api/v1/auth/login", "application/json", strings.NewReader(`{"username":"admin","password":"tls-Test-pw1"}`))
	if err != nil {
		t.Fatal(err)
	}
	login.Body.Close()
	if cookies := login.Header.Values("Set-Cookie"); login.StatusCode != 200 || len(cookies) == 0 || !strings.Contains(strings.ToLower(strings.Join(cookies, "\n")), "; secure") {
		t.Fatalf("sign-in over HTTPS: %d, cookies %q", login.StatusCode, cookies)
	}
	if !strings.Contains(logs.String(), "addr=https://") || !strings.Contains(logs.String(), made.Fingerprint()) {
		t.Errorf("serve's log does not say https and the CA's fingerprint:\n%s", logs)
	}
	stranger := &http.Client{Timeout: 10 * time.Second}
	var unknown x509.UnknownAuthorityError
	if _, err := stranger.Get("https://127.0.0.1" + port + "/healthz"); !errors.As(err, &unknown) {
		t.Fatalf("a client without the CA: %v, want an unknown authority", err)
	}
	res, body := get(t, client, "https://127.0.0.1"+port+"/ca.crt")
	if res.StatusCode != 200 || res.Header.Get("Content-Type") != "application/x-x509-ca-cert" || !bytes.Equal(body, made.CA.Raw) {
		t.Fatalf("GET /ca.crt: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	res, body = get(t, client, "https://127.0.0.1"+port+"/ca")
	if res.StatusCode != 200 || !strings.Contains(string(body), made.Fingerprint()) {
		t.Fatalf("GET /ca: %d", res.StatusCode)
	}
}

// TestServeTLSOwnCertificate: --tls-cert and --tls-key (here from the environment, as
// TRACECRAFT_TLS_CERT/KEY) serve a certificate made elsewhere; there is no local CA to explain,
// so /ca is 404. Flags that do not go together stop serve before it opens the store.
func TestServeTLSOwnCertificate(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "a.pem"}, "go together"},
		{[]string{"--tls-auto", "--tls-key", "k.pem", "--tls-cert", "a.pem"}, "not both"},
		{[]string{"--tls-hosts", "plant.local"}, "for --tls-auto"},
		{[]string{"--tls-auto", "--tls-hosts", "plant local"}, "plant local"},
	} {
		err := cmdServe(context.Background(), append([]string{"--data", t.TempDir()}, tc.args...), io.Discard, io.Discard)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("serve %v: %v, want %q", tc.args, err, tc.want)
		}
	}

	elsewhere := t.TempDir()
	b, err := localca.Ensure(localca.Options{Dir: elsewhere, Hosts: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	// The chain a server of one's own would have: its certificate, then the CA's.
	chain := filepath.Join(elsewhere, "chain.pem")
	leaf, _ := os.ReadFile(filepath.Join(elsewhere, localca.ServerCertFile))
	if err := os.WriteFile(chain, append(leaf, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.CA.Raw})...), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TRACECRAFT_TLS_CERT", chain)
	t.Setenv("TRACECRAFT_TLS_KEY", filepath.Join(elsewhere, localca.ServerKeyFile))
	data := t.TempDir()
	addr := freePort(t)
	client := trusting(t, filepath.Join(elsewhere, localca.CACertFile))
	serveTLS(t, client, "https://"+addr+"/healthz", "--data", data, "--addr", addr)
	if res, _ := get(t, client, "https://"+addr+"/ca"); res.StatusCode != 404 {
		t.Fatalf("GET /ca with a certificate of one's own: %d, want 404", res.StatusCode)
	}
	if _, err := os.Stat(filepath.Join(data, "tls")); !os.IsNotExist(err) {
		t.Fatalf("serve with a certificate of its own made DATA/tls: %v", err)
	}
}
