package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"tracecraft/api"
	builderui "tracecraft/builder-ui"
	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/printing"
	"tracecraft/rules"
	"tracecraft/workflow"
)

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", envOr("TRACECRAFT_ADDR", "127.0.0.1:8080"), "listen address")
	secure := fs.Bool("secure-cookies", os.Getenv("TRACECRAFT_SECURE_COOKIES") == "1", "mark session cookies Secure (behind HTTPS)")
	debug := fs.Bool("debug", false, "log debug messages")
	proxies := fs.String("trusted-proxies", os.Getenv("TRACECRAFT_TRUSTED_PROXIES"), "comma-separated addresses or CIDR ranges of load balancers whose X-Forwarded-For is believed")
	webhookAllow := fs.String("webhook-allow", os.Getenv("TRACECRAFT_WEBHOOK_ALLOW"), "comma-separated internal addresses or CIDR ranges rule webhooks may call (loopback, private and link-local addresses are refused otherwise)")
	smtpAddr := fs.String("smtp-addr", os.Getenv("TRACECRAFT_SMTP_ADDR"), "mail server (host:port) of the rules' email action; user and password from TRACECRAFT_SMTP_USER and TRACECRAFT_SMTP_PASSWORD; STARTTLS when offered, TRACECRAFT_SMTP_TLS=require to insist on it, =implicit for TLS from the start (port 465)")
	smtpFrom := fs.String("smtp-from", os.Getenv("TRACECRAFT_SMTP_FROM"), "sender address of rule e-mail (\"Tracecraft <noreply@plant.example>\")")
	publicURL := fs.String("public-url", os.Getenv("TRACECRAFT_PUBLIC_URL"), "address consumers reach the server at (https://t.example.cn): the stem of item codes' GS1 Digital Links (else the address an issuance is asked at)")
	scanRate := fs.Int("scan-rate", 60, "scan page requests one client address may make a minute")
	httpRedirect := fs.String("http-redirect", os.Getenv("TRACECRAFT_HTTP_REDIRECT"), "with HTTPS: also answer plain HTTP on this address (:80, :8080) with a redirect (308) to the HTTPS address, except /ca, /ca.crt and /healthz")
	var tf tlsFlags
	tf.register(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	allow, err := rules.ParseWebhookAllow(splitList(*webhookAllow))
	if err != nil {
		return fmt.Errorf("--webhook-allow: %w", err)
	}
	if err := tf.check(); err != nil {
		return err
	}
	if *httpRedirect != "" && !tf.enabled() {
		return errors.New("--http-redirect needs HTTPS (--tls-auto, or --tls-cert and --tls-key): without it there is nothing to redirect to")
	}
	smtpOpts := rules.SMTPOptions{Addr: *smtpAddr, From: *smtpFrom, User: os.Getenv("TRACECRAFT_SMTP_USER"), Password: os.Getenv("TRACECRAFT_SMTP_PASSWORD"),
		TLS: os.Getenv("TRACECRAFT_SMTP_TLS")}
	if err := smtpOpts.Check(); err != nil {
		return fmt.Errorf("--smtp-addr, --smtp-from, TRACECRAFT_SMTP_TLS: %w", err)
	}
	if _, err := api.ParseTrustedProxies(splitList(*proxies)); err != nil {
		return fmt.Errorf("--trusted-proxies: %w", err)
	}
	level := slog.LevelInfo
	if *debug {
		level = slog.LevelDebug
	}
	log := newLogger(stderr, level)
	k, err := sf.openKernel(ctx, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := k.Close(context.Background()); err != nil {
			log.Error("close", "err", err)
		}
	}()
	created, password, err := k.Auth.Bootstrap(ctx, os.Getenv("TRACECRAFT_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	}
	if created && os.Getenv("TRACECRAFT_ADMIN_PASSWORD") == "" {
		fmt.Fprintf(stdout, "\nCreated user admin with password: %s\nIt is shown only this once; change it after signing in.\n\n", password)
	}
	// Engines subscribe to the bus and add jobs before the kernel starts.
	// rules after forms: its actions include the form engine's record actions.
	engines := api.Engines{Forms: forms.New(k, forms.Options{}), Flows: workflow.New(k, workflow.Options{})}
	engines.Rules = rules.New(k, rules.Options{WebhookAllow: allow, SMTP: smtpOpts})
	// Label printers (ZPL/TSPL over raw TCP), configured by administrators.
	engines.Printers = printing.NewPrinterSet(k, printing.PrinterOptions{ReadFile: readFile(engines.Forms)})
	if engines.Printing, err = printing.New(k, printing.Options{StoreFile: storeFile(engines.Forms), ReadFile: readFile(engines.Forms), Printers: engines.Printers}); err != nil {
		return err
	}
	// Item codes: issued for lots, printed by the printing engine, opened by the scan pages.
	engines.Codes = printing.NewCodes(k, printing.CodesOptions{Base: *publicURL})
	// Before the kernel closes (deferred above): scan counters still in memory are written.
	defer func() { _ = engines.Codes.Close(context.Background()) }()
	if engines.Printing != nil {
		engines.Printing.SetCodes(engines.Codes)
	}
	// Before the kernel closes (deferred above): webhook calls in progress are cancelled.
	defer func() { _ = engines.Rules.Close(context.Background()) }()
	if err := k.Start(ctx); err != nil {
		return err
	}
	opts := api.Options{UI: builderui.Dist(), Version: version(), SecureCookies: *secure, Log: log, TrustedProxies: splitList(*proxies),
		PublicURL: *publicURL, ScanRate: *scanRate}
	scheme := "http://"
	var tlsConfig *tls.Config
	if tf.enabled() {
		if tlsConfig, opts.LocalCA, err = tf.config(sf.data, log); err != nil {
			return err
		}
		scheme, opts.SecureCookies = "https://", true
	}
	srv := api.New(k, engines, opts)
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	// The plain-HTTP entry beside HTTPS (redirect.go): it redirects to the TLS listener's port.
	var plain *plainEntry
	if *httpRedirect != "" {
		_, port, _ := net.SplitHostPort(ln.Addr().String())
		if plain, err = newPlainEntry(*httpRedirect, port, log); err != nil {
			ln.Close()
			return err
		}
	}
	if tlsConfig != nil {
		ln = tls.NewListener(ln, tlsConfig)
	}
	log.Info("tracecraft serving", "addr", scheme+ln.Addr().String(), "store", k.Store.Kind(), "timezone", k.Location().String(), "version", version())
	errc := make(chan error, 3)
	go func() { errc <- srv.Serve(ln) }()
	if plain != nil {
		log.Info("plain http redirects to https", "addr", "http://"+plain.ln.Addr().String(), "except", strings.Join(plainPassed, " "))
		go func() {
			if err := srv.Serve(plain.inner); err != nil {
				errc <- err
			}
		}()
		go func() {
			if err := plain.serve(); err != nil {
				errc <- err
			}
		}()
	}
	select {
	case err := <-errc:
		if plain != nil {
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			_ = plain.shutdown(sctx)
			cancel()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down")
	// Requests get 20 s to finish; then their contexts end and Shutdown waits a little more.
	sctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if plain != nil {
		if err := plain.shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
			log.Warn("shutdown of the plain http entry", "err", err)
		}
	}
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

func splitList(s string) []string {
	var out []string
	for _, part := range strings.Split(s, ",") {
		if part = strings.TrimSpace(part); part != "" {
			out = append(out, part)
		}
	}
	return out
}

// storeFile stores a PDF the print action makes as an upload of the form engine.
func storeFile(fs *forms.Service) func(ctx context.Context, p *engine.Principal, app, name string, r io.Reader) (string, error) {
	return func(ctx context.Context, p *engine.Principal, app, name string, r io.Reader) (string, error) {
		fi, err := fs.Upload(ctx, p, app, name, r)
		if err != nil {
			return "", err
		}
		return fi.ID, nil
	}
}

// readFile reads an image a label prints, as p may download it (at most 20 MiB).
func readFile(fs *forms.Service) func(ctx context.Context, p *engine.Principal, app, id string) ([]byte, error) {
	return func(ctx context.Context, p *engine.Principal, app, id string) ([]byte, error) {
		_, r, err := fs.OpenFile(ctx, p, app, id)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(io.LimitReader(r, 20<<20))
	}
}
