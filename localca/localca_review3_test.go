package localca_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tracecraft/localca"
)

// signWith makes a server certificate for hosts signed by the CA in dir, as anyone holding a
// copy of DATA/tls (a backup) could.
func signWith(t *testing.T, dir string, hosts ...string) *x509.Certificate {
	t.Helper()
	ca, key := readCA(t, dir)
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: hosts[0]},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(24 * time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &leafKey.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func readCA(t *testing.T, dir string) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	cp, err := os.ReadFile(filepath.Join(dir, localca.CACertFile))
	if err != nil {
		t.Fatal(err)
	}
	kp, err := os.ReadFile(filepath.Join(dir, localca.CAKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode(cp)
	kb, _ := pem.Decode(kp)
	ca, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return ca, key
}

func verify(ca, leaf *x509.Certificate, name string) error {
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	_, err := leaf.Verify(x509.VerifyOptions{Roots: roots, DNSName: name, CurrentTime: t0.Add(time.Hour)})
	return err
}

// TestReview3_CANameConstraints: the local CA may sign only for LAN names — the names it was
// made for, localhost, .local, .lan, .internal, .home.arpa — and private addresses (critical
// X.509 name constraints). A certificate for example.com or a public address made with its key
// (a copy of DATA/tls in a backup) fails chain verification; the server's own, and others for
// LAN names, verify. A CA made before, without constraints, keeps working with a warning, and
// NewCA (cert init --new-ca) replaces it by a constrained one.
func TestReview3_CANameConstraints(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "tls")
	b := ensure(t, localca.Options{Dir: dir, Hosts: []string{"plant.local", "mes.acme-foods.cn", "192.168.1.10", "fe80::1"}, Now: t0})
	if !b.CA.PermittedDNSDomainsCritical || len(b.CA.PermittedDNSDomains) == 0 || len(b.CA.PermittedIPRanges) == 0 || len(b.Warnings) != 0 {
		t.Fatalf("CA constraints: critical %v, domains %v, ranges %v, warnings %v", b.CA.PermittedDNSDomainsCritical,
			b.CA.PermittedDNSDomains, b.CA.PermittedIPRanges, b.Warnings)
	}
	for _, name := range []string{"plant.local", "mes.acme-foods.cn", "192.168.1.10", "fe80::1"} {
		if err := verify(b.CA, b.Server.Leaf, name); err != nil {
			t.Errorf("server certificate for %s: %v", name, err)
		}
	}
	for _, host := range []string{"qc.plant.local", "mes.acme-foods.cn", "scale.lan", "nas.internal", "pi.home.arpa", "localhost",
		"10.1.2.3", "172.20.0.5", "100.100.1.1", "127.0.0.1", "::1", "fd12:3456::1"} {
		if err := verify(b.CA, signWith(t, dir, host), host); err != nil {
			t.Errorf("a certificate for %s, permitted, does not verify: %v", host, err)
		}
	}
	for _, host := range []string{"example.com", "www.bank.cn", "acme-foods.cn", "evil.cn", "8.8.8.8", "2001:db8::1", "fe80::2"} {
		err := verify(b.CA, signWith(t, dir, host), host)
		var inv x509.CertificateInvalidError
		if !errors.As(err, &inv) || inv.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("a certificate for %s signed by the local CA: %v, want CANotAuthorizedForThisName", host, err)
		}
	}
	// A name the CA was not made for: the server certificate is made, with a warning.
	b = ensure(t, localca.Options{Dir: dir, Hosts: []string{"plant.local", "tracecraft.example.com"}, Now: t0})
	if len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "--new-ca") {
		t.Errorf("a name outside the CA's constraints: warnings %v", b.Warnings)
	}

	// A CA made by an older version, without constraints: kept, with a warning.
	old := filepath.Join(t.TempDir(), "tls")
	if err := os.MkdirAll(old, 0o700); err != nil {
		t.Fatal(err)
	}
	writeUnconstrainedCA(t, old)
	b = ensure(t, localca.Options{Dir: old, Hosts: []string{"plant.local"}, Now: t0})
	if b.CAMade || len(b.Warnings) != 1 || !strings.Contains(b.Warnings[0], "tracecraft cert init --new-ca") {
		t.Fatalf("unconstrained CA: made %v, warnings %v", b.CAMade, b.Warnings)
	}
	if err := verify(b.CA, b.Server.Leaf, "plant.local"); err != nil {
		t.Fatalf("the old CA's server certificate: %v", err)
	}
	b = ensure(t, localca.Options{Dir: old, Hosts: []string{"plant.local"}, Now: t0, NewCA: true})
	if !b.CAMade || !b.ServerMade || b.Reason != "new CA" || !b.CA.PermittedDNSDomainsCritical || len(b.Warnings) != 0 {
		t.Fatalf("--new-ca: made CA %v, server %v (%s), warnings %v", b.CAMade, b.ServerMade, b.Reason, b.Warnings)
	}
	if err := verify(b.CA, signWith(t, old, "example.com"), "example.com"); err == nil {
		t.Fatal("the new CA signs for example.com")
	}
}

func writeUnconstrainedCA(t *testing.T, dir string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "Tracecraft Local CA old"},
		NotBefore: t0.Add(-time.Hour), NotAfter: t0.Add(localca.CALifetime), KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true, IsCA: true, MaxPathLenZero: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, localca.CAKeyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, localca.CACertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		t.Fatal(err)
	}
}
