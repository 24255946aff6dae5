// Package localca makes the HTTPS certificates of a plant LAN: a certificate authority of the
// plant's own (ECDSA P-256, ten years) that phones are told to trust once, and a server
// certificate it signs for the names and addresses the server is reached by (398 days, the
// longest a phone accepts). Phones open the camera only to HTTPS pages; a plant LAN seldom has
// a public name a public CA would certify.
//
// Both live in one folder (DATA/tls): ca.crt, ca.key, server.crt, server.key, keys 0600. Ensure
// reuses them, and makes a new server certificate when it nears its end, when the names change
// or when the CA changed; the CA is made again only when it is missing, broken or near its end
// (or when Options.NewCA asks for it).
//
// The CA may sign only for LAN names (X.509 name constraints, marked critical): the host names
// it was made for and their subdomains, localhost, *.local, *.lan, *.internal, *.home.arpa, and
// the private addresses (RFC 1918, 100.64.0.0/10, 127.0.0.0/8, ::1, fc00::/7) plus those it was
// made for. Its key, copied wherever backups go, so cannot make a certificate a phone that
// trusts it would accept for a bank's or a public site's name.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// File names inside the folder.
const (
	CACertFile     = "ca.crt"
	CAKeyFile      = "ca.key"
	ServerCertFile = "server.crt"
	ServerKeyFile  = "server.key"
)

// Lifetimes and how long before its end a certificate is made again.
const (
	CALifetime     = 10 * 365 * 24 * time.Hour
	ServerLifetime = 398 * 24 * time.Hour
	RenewBefore    = 30 * 24 * time.Hour
	// caRenewBefore is longer: every phone must trust a new CA, so it is replaced a year early.
	caRenewBefore = 365 * 24 * time.Hour
)

// Options say where the certificates live and what they are for.
type Options struct {
	// Dir is the folder of the four files (made 0700 when missing).
	Dir string
	// Hosts are the DNS names and IP addresses the server is reached by. Empty keeps those of
	// the server certificate in Dir, or, without one, uses DefaultHosts.
	Hosts []string
	// Name is shown in the CA's name (the plant, or the machine); the host name when empty.
	Name string
	// Now is the time of the check; time.Now when zero (tests move it).
	Now time.Time
	// NewCA makes a new CA even when the one in Dir is still good (tracecraft cert init
	// --new-ca): to get name constraints on a CA made without them, or to permit new names.
	// Every phone must then trust the new CA.
	NewCA bool
}

// PermittedDomains are the DNS domains the CA may sign for besides the names it was made for
// (each with its subdomains).
var PermittedDomains = []string{"localhost", "local", "lan", "internal", "home.arpa"}

// PermittedRanges are the address ranges the CA may sign for besides the addresses it was made
// for: RFC 1918, carrier-grade NAT (RFC 6598, used by VPN overlays), loopback and IPv6 unique
// local addresses.
var PermittedRanges = []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8", "::1/128", "fc00::/7"}

// Bundle is what Ensure found or made.
type Bundle struct {
	CA          *x509.Certificate
	Server      tls.Certificate // with its leaf parsed
	DNSNames    []string
	IPAddresses []net.IP
	// CAMade and ServerMade say what Ensure had to make; Reason says why the server
	// certificate was made ("missing", "expiring", "names changed", "new CA", "unreadable").
	CAMade, ServerMade bool
	Reason             string
	// Warnings are what the operator should act on: a CA without name constraints (made by an
	// older version), or names the CA may not sign for. The certificates work all the same.
	Warnings []string
}

// Fingerprint is the SHA-256 of the CA certificate, as phones and browsers show it:
// uppercase hex pairs joined by colons.
func (b *Bundle) Fingerprint() string { return Fingerprint(b.CA) }

// Fingerprint formats the SHA-256 of a certificate as "AB:CD:…".
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// Ensure loads the CA and the server certificate from opts.Dir, making or renewing what is
// missing, expiring, or for other names.
func Ensure(opts Options) (*Bundle, error) {
	if opts.Dir == "" {
		return nil, errors.New("local ca: no folder given")
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("local ca: %w", err)
	}
	b := &Bundle{}
	caCert, caKey, err := loadPair(opts.Dir, CACertFile, CAKeyFile)
	if opts.NewCA || err != nil || !caCert.IsCA || now.Add(caRenewBefore).After(caCert.NotAfter) {
		name := opts.Name
		if name == "" {
			name, _ = os.Hostname()
		}
		if caCert, caKey, err = makeCA(name, caHosts(opts), now); err != nil {
			return nil, fmt.Errorf("local ca: make ca: %w", err)
		}
		if err := writePair(opts.Dir, CACertFile, CAKeyFile, caCert.Raw, caKey); err != nil {
			return nil, err
		}
		b.CAMade = true
	}
	b.CA = caCert

	srvCert, srvKey, err := loadPair(opts.Dir, ServerCertFile, ServerKeyFile)
	hosts := opts.Hosts
	switch {
	case err != nil && errors.Is(err, os.ErrNotExist):
		b.Reason = "missing"
	case err != nil:
		b.Reason = "unreadable"
	case srvCert.CheckSignatureFrom(caCert) != nil:
		b.Reason = "new CA"
	case now.Add(RenewBefore).After(srvCert.NotAfter):
		b.Reason = "expiring"
	case len(hosts) > 0 && !sameNames(srvCert, hosts):
		b.Reason = "names changed"
	}
	if b.Reason != "" {
		if len(hosts) == 0 && srvCert != nil {
			hosts = certHosts(srvCert)
		}
		if len(hosts) == 0 {
			hosts = DefaultHosts()
		}
		if srvCert, srvKey, err = makeServer(caCert, caKey, hosts, now); err != nil {
			return nil, fmt.Errorf("local ca: make server certificate: %w", err)
		}
		if err := writePair(opts.Dir, ServerCertFile, ServerKeyFile, srvCert.Raw, srvKey); err != nil {
			return nil, err
		}
		b.ServerMade = true
	}
	b.Server = tls.Certificate{Certificate: [][]byte{srvCert.Raw, caCert.Raw}, PrivateKey: srvKey, Leaf: srvCert}
	b.DNSNames, b.IPAddresses = srvCert.DNSNames, srvCert.IPAddresses
	b.Warnings = checkConstraints(caCert, srvCert, now)
	return b, nil
}

// caHosts are the names a new CA is made for: those given, else those of the server
// certificate in the folder, else DefaultHosts.
func caHosts(opts Options) []string {
	if len(opts.Hosts) > 0 {
		return opts.Hosts
	}
	if c, _, err := loadPair(opts.Dir, ServerCertFile, ServerKeyFile); err == nil {
		return certHosts(c)
	}
	return DefaultHosts()
}

// checkConstraints says what is wrong with the CA's limits: none at all (a CA made before
// they were added), or a server certificate for names the CA may not sign for, which phones
// would refuse.
func checkConstraints(ca, srv *x509.Certificate, now time.Time) []string {
	if !ca.PermittedDNSDomainsCritical && len(ca.PermittedDNSDomains) == 0 && len(ca.PermittedIPRanges) == 0 {
		return []string{"the local CA has no name constraints: its key could sign a certificate for any name. " +
			"Make a new one with `tracecraft cert init --new-ca --hosts ...` (every phone must then trust the new CA)"}
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := srv.Verify(x509.VerifyOptions{Roots: roots, CurrentTime: now}); err != nil {
		return []string{fmt.Sprintf("the local CA may not sign for every name of the server certificate %v (%v): "+
			"make a new CA for them with `tracecraft cert init --new-ca --hosts ...`", certHosts(srv), err)}
	}
	return nil
}

// constraints are the name constraints of a CA made for hosts: PermittedDomains and
// PermittedRanges, plus the host names (a wildcard's domain) and the addresses outside those
// ranges, each alone.
func constraints(hosts []string) (domains []string, ranges []*net.IPNet, err error) {
	domains = slices.Clone(PermittedDomains)
	for _, r := range PermittedRanges {
		_, n, err := net.ParseCIDR(r)
		if err != nil {
			return nil, nil, err
		}
		ranges = append(ranges, n)
	}
	names, ips, err := SplitHosts(hosts)
	if err != nil {
		names, ips = nil, nil // the server certificate's check reports bad names
	}
	for _, n := range names {
		n = strings.TrimPrefix(n, "*.")
		if !slices.ContainsFunc(domains, func(d string) bool { return n == d || strings.HasSuffix(n, "."+d) }) {
			domains = append(domains, n)
		}
	}
	for _, ip := range ips {
		if slices.ContainsFunc(ranges, func(n *net.IPNet) bool { return n.Contains(ip) }) {
			continue
		}
		bits := 128
		if v4 := ip.To4(); v4 != nil {
			ip, bits = v4, 32
		}
		ranges = append(ranges, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
	}
	return domains, ranges, nil
}

// DefaultHosts are the names a server is likely reached by on a LAN: localhost, the host name
// (and name.local, which phones resolve by mDNS), and the machine's non-loopback addresses.
func DefaultHosts() []string {
	hosts := []string{"localhost", "127.0.0.1", "::1"}
	if h, err := os.Hostname(); err == nil && h != "" {
		hosts = append(hosts, h)
		if !strings.Contains(h, ".") {
			hosts = append(hosts, h+".local")
		}
	}
	if addrs, err := net.InterfaceAddrs(); err == nil {
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && !n.IP.IsLoopback() && !n.IP.IsLinkLocalUnicast() {
				hosts = append(hosts, n.IP.String())
			}
		}
	}
	return hosts
}

// SplitHosts splits hosts into DNS names and IP addresses, lowercased, without duplicates.
func SplitHosts(hosts []string) (names []string, ips []net.IP, err error) {
	for _, h := range hosts {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(strings.Trim(h, "[]")); ip != nil {
			if !slices.ContainsFunc(ips, ip.Equal) {
				ips = append(ips, ip)
			}
			continue
		}
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if !validName(h) {
			return nil, nil, fmt.Errorf("host %q is neither a DNS name nor an IP address", h)
		}
		if !slices.Contains(names, h) {
			names = append(names, h)
		}
	}
	if len(names) == 0 && len(ips) == 0 {
		return nil, nil, errors.New("no host names or addresses given")
	}
	return names, ips, nil
}

// validName accepts DNS names made of letters, digits, hyphens and dots (a leading "*." too).
func validName(h string) bool {
	h = strings.TrimPrefix(h, "*.")
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func sameNames(c *x509.Certificate, hosts []string) bool {
	names, ips, err := SplitHosts(hosts)
	if err != nil {
		return false
	}
	if len(names) != len(c.DNSNames) || len(ips) != len(c.IPAddresses) {
		return false
	}
	for _, n := range names {
		if !slices.Contains(c.DNSNames, n) {
			return false
		}
	}
	for _, ip := range ips {
		if !slices.ContainsFunc(c.IPAddresses, ip.Equal) {
			return false
		}
	}
	return true
}

func certHosts(c *x509.Certificate) []string {
	hosts := slices.Clone(c.DNSNames)
	for _, ip := range c.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	return hosts
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

func makeCA(name string, hosts []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	domains, ranges, err := constraints(hosts)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	cn := "Tracecraft Local CA"
	if name != "" {
		cn += " " + name
	}
	// A few hex digits of the serial tell two plants' CAs apart on a phone's list.
	cn += fmt.Sprintf(" %x", sn.Bytes()[:3])
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"Tracecraft"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(CALifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
		// What the CA may sign for (see the package's comment); critical, so a client that
		// cannot check the constraints refuses the chain rather than ignoring them.
		PermittedDNSDomainsCritical: true,
		PermittedDNSDomains:         domains,
		PermittedIPRanges:           ranges,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

func makeServer(ca *x509.Certificate, caKey *ecdsa.PrivateKey, hosts []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	names, ips, err := SplitHosts(hosts)
	if err != nil {
		return nil, nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	sn, err := serial()
	if err != nil {
		return nil, nil, err
	}
	cn := ""
	if len(names) > 0 {
		cn = names[0]
	} else {
		cn = ips[0].String()
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Tracecraft"}},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(ServerLifetime),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     names,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, nil, err
	}
	c, err := x509.ParseCertificate(der)
	return c, key, err
}

// loadPair reads a certificate and its key; an error wrapping os.ErrNotExist when either is
// missing, another when either is broken or they do not match.
func loadPair(dir, certFile, keyFile string) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, certFile))
	if err != nil {
		return nil, nil, err
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, keyFile))
	if err != nil {
		return nil, nil, err
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	if cb == nil || kb == nil || cb.Type != "CERTIFICATE" {
		return nil, nil, fmt.Errorf("%s or %s: not PEM", certFile, keyFile)
	}
	c, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", certFile, err)
	}
	k, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", keyFile, err)
	}
	if !k.PublicKey.Equal(c.PublicKey) {
		return nil, nil, fmt.Errorf("%s does not match %s", keyFile, certFile)
	}
	return c, k, nil
}

// writePair writes the key (0600) before the certificate, each through a temporary file and
// a rename, so a crash never leaves a certificate whose key is another's.
func writePair(dir, certFile, keyFile string, der []byte, key *ecdsa.PrivateKey) error {
	kd, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return fmt.Errorf("local ca: %w", err)
	}
	if err := writeFile(filepath.Join(dir, keyFile), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kd}), 0o600); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, certFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
}

func writeFile(path string, data []byte, mode os.FileMode) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return fmt.Errorf("local ca: write %s: %w", filepath.Base(path), err)
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp, mode) // whatever the umask
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("local ca: write %s: %w", filepath.Base(path), err)
	}
	return nil
}

// CACertPEM returns the CA certificate in PEM.
func (b *Bundle) CACertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: b.CA.Raw})
}

// Hosts lists the server certificate's names and addresses.
func (b *Bundle) Hosts() []string {
	return certHosts(b.Server.Leaf)
}
