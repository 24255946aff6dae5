package localca

import (
	"crypto/tls"
	"crypto/x509"
	"sync"
	"time"
)

// checkEvery is how often a running server looks at its certificate's end.
const checkEvery = time.Hour

// Manager hands the server certificate to TLS handshakes and makes a new one when it nears its
// end (looked at once an hour at most), so a server that runs for a year keeps serving a valid
// certificate without a restart. It is safe for concurrent use.
type Manager struct {
	opts    Options
	mu      sync.Mutex
	b       *Bundle
	checked time.Time
	// OnRenew, when set, is called (under no lock) after a running server made a new certificate.
	OnRenew func(*Bundle)
}

// NewManager runs Ensure once and keeps its bundle.
func NewManager(opts Options) (*Manager, error) {
	b, err := Ensure(opts)
	if err != nil {
		return nil, err
	}
	return &Manager{opts: opts, b: b, checked: clock(opts)}, nil
}

func clock(o Options) time.Time {
	if !o.Now.IsZero() {
		return o.Now
	}
	return time.Now()
}

// Bundle is what the last check found or made.
func (m *Manager) Bundle() *Bundle {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.b
}

// CACert is the CA's certificate (for the page that explains how to trust it).
func (m *Manager) CACert() *x509.Certificate { return m.Bundle().CA }

// Hosts are the names and addresses the server certificate is for.
func (m *Manager) Hosts() []string { return m.Bundle().Hosts() }

// TLSConfig is a server configuration that takes its certificate from m (TLS 1.2 and up).
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{MinVersion: tls.VersionTLS12, GetCertificate: m.GetCertificate}
}

// GetCertificate is tls.Config.GetCertificate.
func (m *Manager) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	m.mu.Lock()
	now := time.Now()
	var renewed *Bundle
	if now.Sub(m.checked) >= checkEvery && now.Add(RenewBefore).After(m.b.Server.Leaf.NotAfter) {
		m.checked = now
		o := m.opts
		o.Now, o.Hosts, o.NewCA = now, m.b.Hosts(), false // the names and the CA stay; the time moves on
		if b, err := Ensure(o); err == nil {
			m.b, renewed = b, b
		}
	}
	c := &m.b.Server
	m.mu.Unlock()
	if renewed != nil && m.OnRenew != nil {
		m.OnRenew(renewed)
	}
	return c, nil
}
