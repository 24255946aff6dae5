package localca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"net"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"tracecraft/localca"
)

var t0 = time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)

func ensure(t *testing.T, o localca.Options) *localca.Bundle {
	t.Helper()
	b, err := localca.Ensure(o)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestEnsureMakesACAAndAServerCertificate: the first call makes an ECDSA P-256 CA for ten years
// and a server certificate for the names and addresses given, 398 days, server-auth only,
// whose chain verifies for each name with crypto/x509; keys are 0600, the folder 0700.
func TestEnsureMakesACAAndAServerCertificate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	b := ensure(t, localca.Options{Dir: dir, Hosts: []string{"Plant.local", "192.168.1.10", "plant.local", "fe80::1"}, Name: "一号工厂", Now: t0})
	if !b.CAMade || !b.ServerMade || b.Reason != "missing" {
		t.Fatalf("first Ensure: made CA %v, server %v (%s)", b.CAMade, b.ServerMade, b.Reason)
	}
	ca, leaf := b.CA, b.Server.Leaf
	if k, ok := ca.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("CA key %T", ca.PublicKey)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Fatalf("server key %T", leaf.PublicKey)
	}
	if !ca.IsCA || !ca.BasicConstraintsValid || !ca.MaxPathLenZero || ca.KeyUsage&x509.KeyUsageCertSign == 0 {
		t.Fatalf("CA constraints: isCA %v, usage %b", ca.IsCA, ca.KeyUsage)
	}
	if got := ca.NotAfter.Sub(t0); got < localca.CALifetime || got > localca.CALifetime+time.Hour {
		t.Fatalf("CA lifetime %v", got)
	}
	if got := leaf.NotAfter.Sub(t0); got != localca.ServerLifetime {
		t.Fatalf("server lifetime %v, want 398 days", got)
	}
	if leaf.IsCA || leaf.KeyUsage != x509.KeyUsageDigitalSignature || !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Fatalf("server usage %b %v", leaf.KeyUsage, leaf.ExtKeyUsage)
	}
	if !slices.Equal(leaf.DNSNames, []string{"plant.local"}) || len(leaf.IPAddresses) != 2 ||
		!leaf.IPAddresses[0].Equal(net.ParseIP("192.168.1.10")) || !leaf.IPAddresses[1].Equal(net.ParseIP("fe80::1")) {
		t.Fatalf("names %v, addresses %v", leaf.DNSNames, leaf.IPAddresses)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, name := range []string{"plant.local", "192.168.1.10", "fe80::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: t0.Add(time.Hour)}); err != nil {
			t.Errorf("verify for %s: %v", name, err)
		}
	}
	if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: "other.local", CurrentTime: t0}); err == nil {
		t.Error("the certificate verifies for a name it was not made for")
	}
	if _, err := leaf.Verify(x509.VerifyOptions{DNSName: "plant.local", CurrentTime: t0}); err == nil {
		t.Error("the certificate verifies without its CA")
	}
	if len(b.Server.Certificate) != 2 {
		t.Errorf("the chain served has %d certificates, want server and CA", len(b.Server.Certificate))
	}
	modes := map[string]os.FileMode{"": 0o700, localca.CAKeyFile: 0o600, localca.ServerKeyFile: 0o600, localca.CACertFile: 0o644, localca.ServerCertFile: 0o644}
	for name, want := range modes {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if got := fi.Mode().Perm(); got != want {
			t.Errorf("%q mode %o, want %o", name, got, want)
		}
	}
	if fp := b.Fingerprint(); len(fp) != 95 || fp != localca.Fingerprint(ca) {
		t.Errorf("fingerprint %q", fp)
	}
}

// TestEnsureReusesAndRenews: a second start reuses both; without names it keeps the
// certificate's; near its end, or for other names, only the server certificate is made again,
// under the same CA; a broken key makes it again.
func TestEnsureReusesAndRenews(t *testing.T) {
	dir := t.TempDir()
	hosts := []string{"plant.local", "192.168.1.10"}
	first := ensure(t, localca.Options{Dir: dir, Hosts: hosts, Now: t0})

	steps := []struct {
		name   string
		opts   localca.Options
		reason string
		names  []string
	}{
		{"same names a month later", localca.Options{Hosts: []string{"192.168.1.10", "PLANT.local"}, Now: t0.AddDate(0, 1, 0)}, "", []string{"plant.local"}},
		{"no names given", localca.Options{Now: t0.AddDate(0, 2, 0)}, "", []string{"plant.local"}},
		{"31 days before its end", localca.Options{Now: t0.Add(localca.ServerLifetime - 31*24*time.Hour)}, "", []string{"plant.local"}},
		{"29 days before its end", localca.Options{Now: t0.Add(localca.ServerLifetime - 29*24*time.Hour)}, "expiring", []string{"plant.local"}},
		{"a name added", localca.Options{Hosts: []string{"plant.local", "qc.plant.local", "192.168.1.10"}, Now: t0.AddDate(1, 2, 0)}, "names changed", []string{"plant.local", "qc.plant.local"}},
	}
	prev := first
	for _, s := range steps {
		s.opts.Dir = dir
		b := ensure(t, s.opts)
		if b.CAMade || !b.CA.Equal(first.CA) {
			t.Fatalf("%s: the CA was made again", s.name)
		}
		if b.Reason != s.reason || b.ServerMade != (s.reason != "") {
			t.Fatalf("%s: server made %v (%q), want %q", s.name, b.ServerMade, b.Reason, s.reason)
		}
		if reused := b.Server.Leaf.Equal(prev.Server.Leaf); reused == b.ServerMade {
			t.Fatalf("%s: reused %v, made %v", s.name, reused, b.ServerMade)
		}
		if !slices.Equal(b.DNSNames, s.names) {
			t.Fatalf("%s: names %v", s.name, b.DNSNames)
		}
		if err := b.Server.Leaf.CheckSignatureFrom(first.CA); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		prev = b
	}

	if err := os.WriteFile(filepath.Join(dir, localca.ServerKeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	b := ensure(t, localca.Options{Dir: dir, Now: t0.AddDate(1, 2, 0)})
	// Its names are lost with it: the machine's own are used.
	if b.Reason != "unreadable" || b.CAMade || !slices.Contains(b.DNSNames, "localhost") {
		t.Fatalf("after a broken key: %q, CA made %v, names %v", b.Reason, b.CAMade, b.DNSNames)
	}

	// Nine years on, the CA nears its end: a new CA, and a new server certificate under it.
	b = ensure(t, localca.Options{Dir: dir, Hosts: hosts, Now: t0.AddDate(9, 1, 0)})
	if !b.CAMade || b.CA.Equal(first.CA) || b.Reason != "new CA" {
		t.Fatalf("nine years on: CA made %v, reason %q", b.CAMade, b.Reason)
	}
}

// TestSplitHostsRefusesJunk: a host that is neither a DNS name nor an address is an error
// naming it.
func TestSplitHostsRefusesJunk(t *testing.T) {
	for _, bad := range []string{"plant local", "<script>", "-x.local", ""} {
		if _, _, err := localca.SplitHosts([]string{bad}); err == nil {
			t.Errorf("SplitHosts(%q): no error", bad)
		}
	}
	names, ips, err := localca.SplitHosts([]string{" Plant.Local. ", "[::1]", "10.0.0.5", "10.0.0.5", "*.plant.local"})
	if err != nil || !slices.Equal(names, []string{"plant.local", "*.plant.local"}) || len(ips) != 2 {
		t.Fatalf("SplitHosts: %v %v %v", names, ips, err)
	}
}
