package main

import (
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"

	"tracecraft/api"
	"tracecraft/localca"
)

// tlsFlags are serve's HTTPS flags: a certificate of one's own (--tls-cert, --tls-key), or
// one the server makes under a local CA in DATA/tls (--tls-auto, --tls-hosts).
type tlsFlags struct {
	cert, key string
	auto      bool
	hosts     string
}

func (f *tlsFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.cert, "tls-cert", os.Getenv("TRACECRAFT_TLS_CERT"), "serve HTTPS with this certificate file (PEM, the chain after the server's own); needs --tls-key")
	fs.StringVar(&f.key, "tls-key", os.Getenv("TRACECRAFT_TLS_KEY"), "the private key file (PEM) of --tls-cert")
	fs.BoolVar(&f.auto, "tls-auto", os.Getenv("TRACECRAFT_TLS_AUTO") == "1", "serve HTTPS with a certificate made by a local CA kept in DATA/tls (see tracecraft cert init); phones trust the CA by the page /ca")
	fs.StringVar(&f.hosts, "tls-hosts", os.Getenv("TRACECRAFT_TLS_HOSTS"), "with --tls-auto: comma-separated names and IP addresses the server is reached by (default: those of the certificate already made, else this machine's)")
}

// enabled reports whether HTTPS is asked for; check reports flags that do not go together.
func (f *tlsFlags) enabled() bool { return f.cert != "" || f.key != "" || f.auto }

func (f *tlsFlags) check() error {
	switch {
	case f.auto && (f.cert != "" || f.key != ""):
		return errors.New("--tls-auto makes its own certificate: give it or --tls-cert/--tls-key, not both")
	case (f.cert == "") != (f.key == ""):
		return errors.New("--tls-cert and --tls-key go together")
	case f.hosts != "" && !f.auto:
		return errors.New("--tls-hosts is for --tls-auto")
	}
	if f.hosts != "" {
		if _, _, err := localca.SplitHosts(splitList(f.hosts)); err != nil {
			return fmt.Errorf("--tls-hosts: %w", err)
		}
	}
	return nil
}

// config loads or makes the certificate: the TLS configuration, and the local CA when the
// server made it (for the page /ca).
func (f *tlsFlags) config(data string, log *slog.Logger) (*tls.Config, api.LocalCA, error) {
	if !f.auto {
		pair, err := tls.LoadX509KeyPair(f.cert, f.key)
		if err != nil {
			return nil, nil, fmt.Errorf("--tls-cert/--tls-key: %w", err)
		}
		return &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{pair}}, nil, nil
	}
	m, err := localca.NewManager(localca.Options{Dir: tlsDir(data), Hosts: splitList(f.hosts)})
	if err != nil {
		return nil, nil, err
	}
	logBundle(log, m.Bundle(), tlsDir(data))
	m.OnRenew = func(b *localca.Bundle) { logBundle(log, b, tlsDir(data)) }
	return m.TLSConfig(), m, nil
}

func tlsDir(data string) string { return filepath.Join(data, "tls") }

func logBundle(log *slog.Logger, b *localca.Bundle, dir string) {
	if b.CAMade {
		log.Warn("local CA made: every phone must trust it once (open /ca on the phone)", "dir", dir, "sha256", b.Fingerprint())
	}
	if b.ServerMade {
		log.Info("server certificate made", "reason", b.Reason, "hosts", b.Hosts(), "until", b.Server.Leaf.NotAfter.Format("2006-01-02"))
	}
	for _, w := range b.Warnings {
		log.Warn(w, "dir", dir)
	}
	log.Info("https with the local CA", "ca", b.CA.Subject.CommonName, "sha256", b.Fingerprint(), "hosts", b.Hosts())
}

// cmdCert: tracecraft cert init --hosts plant.local,192.168.1.10 makes (or renews) the local CA
// and the server certificate ahead of serve --tls-auto, and tells where they are.
func cmdCert(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "init" {
		return errors.New("usage: tracecraft cert init --hosts NAME,IP,... [--data DIR] [--name PLANT] [--new-ca]")
	}
	fs := newFlagSet("cert init", stderr)
	data := fs.String("data", "./data", "data folder (the certificates go to DATA/tls)")
	hosts := fs.String("hosts", os.Getenv("TRACECRAFT_TLS_HOSTS"), "comma-separated names and IP addresses the server is reached by, e.g. plant.local,192.168.1.10")
	name := fs.String("name", "", "a name for the CA that phones show (default: this machine's host name)")
	newCA := fs.Bool("new-ca", false, "make a new CA even if the one in DATA/tls is good (it may then sign for --hosts; every phone must trust it again)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	list := splitList(*hosts)
	if len(list) == 0 {
		return errors.New("--hosts: give the names and addresses phones open the server by, e.g. --hosts plant.local,192.168.1.10")
	}
	if _, _, err := localca.SplitHosts(list); err != nil {
		return fmt.Errorf("--hosts: %w", err)
	}
	dir := tlsDir(*data)
	b, err := localca.Ensure(localca.Options{Dir: dir, Hosts: list, Name: *name, NewCA: *newCA})
	if err != nil {
		return err
	}
	state := "kept"
	if b.ServerMade {
		state = "made (" + b.Reason + ")"
	}
	caState := "kept"
	if b.CAMade {
		caState = "made"
	}
	fmt.Fprintf(stdout, "CA %s: %s\n  %s\n  SHA-256 %s\n", caState, b.CA.Subject.CommonName, filepath.Join(dir, localca.CACertFile), b.Fingerprint())
	fmt.Fprintf(stdout, "server certificate %s: %v, until %s\n  %s\n", state, b.Hosts(), b.Server.Leaf.NotAfter.Format("2006-01-02"), filepath.Join(dir, localca.ServerCertFile))
	for _, w := range b.Warnings {
		fmt.Fprintf(stderr, "warning: %s\n", w)
	}
	fmt.Fprintf(stdout, "Start the server with: tracecraft serve --tls-auto --addr 0.0.0.0:8443 --data %s\nOn each phone, open https://%s:8443/ca and follow the steps.\n", *data, firstHost(b))
	return nil
}

func firstHost(b *localca.Bundle) string {
	if len(b.DNSNames) > 0 {
		return b.DNSNames[0]
	}
	ip := b.IPAddresses[0]
	if ip.To4() == nil {
		return "[" + ip.String() + "]"
	}
	return ip.String()
}
