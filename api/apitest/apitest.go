// Package apitest starts a real Tracecraft server on a loopback port over a fresh embedded store,
// for tests that speak HTTP to it.
package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"testing"
	"time"

	"tracecraft/api"
	"tracecraft/engine"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
	"tracecraft/printing"
	"tracecraft/rules"
	"tracecraft/workflow"
)

// AdminPassword is the password of the bootstrap admin of every test server.
const AdminPassword = "admin-Passw0rd"

// Server is a running test server.
type Server struct {
	URL    string
	Kernel *engine.Kernel
	Forms  *forms.Service
	Flows  *workflow.Service
	Rules  *rules.Service
	API    *api.Server
	// Printing is the printing engine.
	Printing *printing.Engine
	// Codes is item code issuance and the scan pages' source (printing.Codes).
	Codes *printing.Codes
	// Printers are the configured label printers.
	Printers *printing.PrinterSet
}

// Start starts a server on 127.0.0.1 with a fresh data folder; it stops when the test ends.
func Start(t testing.TB) *Server {
	t.Helper()
	return StartWith(t, Options{})
}

// Options change what StartWith sets up.
type Options struct {
	// Bus tunes the kernel's event bus.
	Bus engine.BusOptions
	// BeforeStart runs once the engines are made, before the kernel starts: subscribe a
	// test's own bus handlers there.
	BeforeStart func(k *engine.Kernel)
	// Auth and API, when set, change the sign-in options and the server's options.
	Auth func(*engine.AuthOptions)
	API  func(*api.Options)
}

// StartWith is Start with options.
func StartWith(t testing.TB, opts Options) *Server {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t)
	auth := engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 8 * 1024, Time: 1, Threads: 1}}
	if opts.Auth != nil {
		opts.Auth(&auth)
	}
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet, Bus: opts.Bus, Auth: auth})
	if _, _, err := k.Auth.Bootstrap(ctx, AdminPassword); err != nil {
		t.Fatal(err)
	}
	fs := forms.New(k, forms.Options{})
	wf := workflow.New(k, workflow.Options{})
	rs := rules.New(k, rules.Options{})
	readFile := func(ctx context.Context, p *engine.Principal, app, id string) ([]byte, error) {
		_, r, err := fs.OpenFile(ctx, p, app, id)
		if err != nil {
			return nil, err
		}
		defer r.Close()
		return io.ReadAll(r)
	}
	printers := printing.NewPrinterSet(k, printing.PrinterOptions{ReadFile: readFile})
	pe, err := printing.New(k, printing.Options{Printers: printers, StoreFile: func(ctx context.Context, p *engine.Principal, app, name string, r io.Reader) (string, error) {
		fi, err := fs.Upload(ctx, p, app, name, r)
		if err != nil {
			return "", err
		}
		return fi.ID, nil
	}, ReadFile: readFile})
	if err != nil {
		t.Fatal(err)
	}
	codes := printing.NewCodes(k, printing.CodesOptions{Base: "https://t.example.cn"})
	pe.SetCodes(codes)
	if opts.BeforeStart != nil {
		opts.BeforeStart(k)
	}
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	apiOpts := api.Options{Version: "test", Log: storetest.Quiet}
	if opts.API != nil {
		opts.API(&apiOpts)
	}
	srv := api.New(k, api.Engines{Forms: fs, Flows: wf, Rules: rs, Printing: pe, Codes: codes, Printers: printers}, apiOpts)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = codes.Close(ctx)
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
	return &Server{URL: "http://" + ln.Addr().String(), Kernel: k, Forms: fs, Flows: wf, Rules: rs, API: srv, Printing: pe, Codes: codes, Printers: printers}
}

// Client speaks to a test server, with a bearer token once signed in.
type Client struct {
	t     testing.TB
	base  string
	Token string
	HTTP  *http.Client
	// Header is added to every request.
	Header http.Header
}

// Client makes an anonymous client with its own cookie jar.
func (s *Server) Client(t testing.TB) *Client {
	jar, _ := cookiejar.New(nil)
	return &Client{t: t, base: s.URL, HTTP: &http.Client{Jar: jar, Timeout: 60 * time.Second}, Header: http.Header{}}
}

// Login signs in (failing the test if it cannot) and keeps the token.
func (s *Server) Login(t testing.TB, username, password string) *Client {
	t.Helper()
	c := s.Client(t)
	var out api.LoginOutput
	c.Do("POST", "/api/v1/auth/login", map[string]string{"username": username, "password": password}, 200, &out)
	c.Token = out.Token
	return c
}

// Admin signs in as the bootstrap admin.
func (s *Server) Admin(t testing.TB) *Client { return s.Login(t, "admin", AdminPassword) }

// Response is a finished request.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Raw sends a request with a raw body and content type and returns the response as it is.
func (c *Client) Raw(method, path, contentType string, body []byte) Response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.base+path, bytes.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if c.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.Token)
	}
	for k, vs := range c.Header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	res, err := c.HTTP.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return Response{Status: res.StatusCode, Header: res.Header, Body: b}
}

// Do sends body as JSON (nil for none), checks the status and decodes the answer into out
// (when not nil). It returns the response for further checks.
func (c *Client) Do(method, path string, body any, want int, out any) Response {
	c.t.Helper()
	var raw []byte
	ct := ""
	if body != nil {
		var err error
		if raw, err = json.Marshal(body); err != nil {
			c.t.Fatal(err)
		}
		ct = "application/json"
	}
	res := c.Raw(method, path, ct, raw)
	if res.Status != want {
		c.t.Fatalf("%s %s: status %d, want %d: %s", method, path, res.Status, want, truncate(res.Body))
	}
	if out != nil {
		if err := json.Unmarshal(res.Body, out); err != nil {
			c.t.Fatalf("%s %s: decode %T: %v: %s", method, path, out, err, truncate(res.Body))
		}
	}
	return res
}

// Error decodes an error answer.
func (r Response) Error(t testing.TB) api.ErrorInfo {
	t.Helper()
	var eb api.ErrorBody
	if err := json.Unmarshal(r.Body, &eb); err != nil {
		t.Fatalf("not an error body: %v: %s", err, truncate(r.Body))
	}
	return eb.Error
}

// HasField tells whether an error names the field with the code ("" for any code).
func (e ErrorFields) HasField(field, code string) bool {
	for _, f := range e {
		if f.Field == field && (code == "" || f.Code == code) {
			return true
		}
	}
	return false
}

// ErrorFields are an error's bad fields.
type ErrorFields []api.FieldIssue

func truncate(b []byte) string {
	s := string(b)
	if len(s) > 2000 {
		s = s[:2000] + "…"
	}
	return strings.TrimSpace(s)
}
