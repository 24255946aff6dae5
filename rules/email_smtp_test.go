package rules

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// selfSigned is a certificate for 127.0.0.1 and the pool that trusts it.
func selfSigned(t *testing.T) (tls.Certificate, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pool
}

// TestSMTPStartTLS: the client upgrades with STARTTLS when the server offers it, then logs in
// with the configured user; a subject with a line break adds no header.
func TestSMTPStartTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	srv := newSMTPServer(t)
	srv.tls = &tls.Config{Certificates: []tls.Certificate{cert}}
	o := SMTPOptions{Addr: srv.addr(), From: "noreply@plant.test", User: "mailer", Password: "s3cret", Timeout: 10 * time.Second,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	m := mailMessage{To: "wang@plant.test", Subject: "批次 L1\r\nBcc: evil@example.com", Body: "正文", ID: messageID("k", "wang")}
	if err := o.send(context.Background(), m, time.Now()); err != nil {
		t.Fatal(err)
	}
	msgs := srv.messages()
	if len(msgs) != 1 || !srv.secure[0] {
		t.Fatalf("messages %d, over TLS %v", len(msgs), srv.secure)
	}
	if len(srv.auths) != 1 {
		t.Fatalf("auths %v", srv.auths)
	}
	creds, _ := base64.StdEncoding.DecodeString(srv.auths[0])
	if string(creds) != "\x00mailer\x00s3cret" {
		t.Fatalf("credentials %q", creds)
	}
	if strings.Contains(msgs[0].Data, "\r\nBcc:") {
		t.Fatalf("the subject added a header: %s", msgs[0].Data)
	}
	// Options that cannot send are refused when the server starts (serve checks them).
	for _, bad := range []SMTPOptions{{Addr: "mail.example.com"}, {Addr: "mail.example.com:25", From: "not an address"}, {From: "a@b.c"}} {
		if err := bad.Check(); err == nil {
			t.Errorf("%+v: want an error", bad)
		}
	}
}
