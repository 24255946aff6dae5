package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// ctxProbe is a route that waits for its request's context to end and reports why.
type ctxProbe struct {
	started chan struct{}
	causes  chan error
}

func newCtxProbe() *ctxProbe {
	return &ctxProbe{started: make(chan struct{}, 1), causes: make(chan error, 1)}
}

func (p *ctxProbe) route(path string, timeout time.Duration) Route {
	return Route{Method: fiber.MethodGet, Path: path, Public: true, Timeout: timeout, Summary: "test",
		Handle: func(c *fiber.Ctx, _ *engine.Principal) error {
			ctx := c.UserContext()
			if _, ok := ctx.Deadline(); !ok {
				return errors.New("request context without a deadline")
			}
			p.started <- struct{}{}
			<-ctx.Done()
			p.causes <- context.Cause(ctx)
			return fmt.Errorf("scan records: %w", ctx.Err()) // as an engine would
		}}
}

// startTestServer serves a fresh kernel with the product's routes and extra ones over HTTP.
func startTestServer(t testing.TB, extra ...Route) (*Server, string) {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet,
		Auth: engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 1024, Time: 1, Threads: 1}}})
	if _, _, err := k.Auth.Bootstrap(ctx, "admin-Passw0rd"); err != nil {
		t.Fatal(err)
	}
	fs, wf := forms.New(k, forms.Options{}), workflow.New(k, workflow.Options{})
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	srv := New(k, Engines{Forms: fs, Flows: wf}, Options{Version: "test", Log: storetest.Quiet, testRoutes: extra})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
	return srv, "http://" + ln.Addr().String()
}

func getError(t *testing.T, res *http.Response) ErrorInfo {
	t.Helper()
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	var eb ErrorBody
	if err := json.Unmarshal(b, &eb); err != nil {
		t.Fatalf("not an error body: %v: %s", err, b)
	}
	return eb.Error
}

// waitCause waits for the probe's handler to see its context end (a deadline on the test's
// own wait, not on the server's speed).
func waitCause(t *testing.T, p *ctxProbe) error {
	t.Helper()
	select {
	case err := <-p.causes:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("the request's context never ended")
		return nil
	}
}

// TestHardening08_RequestDeadline: a handler's context ends at its route's Timeout, and the
// answer says the request took too long (issue 7 item 8).
func TestHardening08_RequestDeadline(t *testing.T) {
	p := newCtxProbe()
	_, url := startTestServer(t, p.route("/test/deadline", 200*time.Millisecond))
	res, err := http.Get(url + "/test/deadline?lang=en")
	if err != nil {
		t.Fatal(err)
	}
	if cause := waitCause(t, p); !errors.Is(cause, errRequestTimeout) {
		t.Fatalf("cause %v, want errRequestTimeout", cause)
	}
	e := getError(t, res)
	if res.StatusCode != 503 || e.Code != "timeout" || !strings.Contains(e.Message, "took too long") {
		t.Fatalf("answer %d %+v, want 503 timeout", res.StatusCode, e)
	}
}

// TestHardening08_Shutdown: Shutdown waits its grace period for running requests, then ends
// their contexts and waits for their handlers to return (issue 7 item 8).
func TestHardening08_Shutdown(t *testing.T) {
	p := newCtxProbe()
	srv, url := startTestServer(t, p.route("/test/wait", time.Hour))
	type answer struct {
		status int
		code   string
	}
	answers := make(chan answer, 1)
	go func() {
		res, err := http.Get(url + "/test/wait")
		if err != nil {
			answers <- answer{code: err.Error()}
			return
		}
		answers <- answer{res.StatusCode, getError(t, res).Code}
	}()
	<-p.started
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if err := srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("shutdown with a request running past the grace period: %v", err)
	}
	select {
	case cause := <-p.causes:
		if !errors.Is(cause, errShuttingDown) {
			t.Fatalf("cause %v, want errShuttingDown", cause)
		}
	default:
		t.Fatal("Shutdown returned before the running handler saw its context end")
	}
	if a := <-answers; a.status != 503 || a.code != "shutting_down" {
		t.Fatalf("answer %+v, want 503 shutting_down", a)
	}
}

// TestHardening14_BusyIs503 and TestHardening15_FaultIs500: the error mapper's answers to a
// server at its limit and to a store fault met while checking a field (issue 7 items 14, 15).
func TestHardening14_BusyIs503(t *testing.T) {
	_, url := startTestServer(t,
		Route{Method: "GET", Path: "/test/busy", Public: true, Summary: "test", Handle: func(*fiber.Ctx, *engine.Principal) error {
			return fmt.Errorf("login %q: %w", "admin", &engine.BusyError{RetryAfter: 2})
		}})
	res, err := http.Get(url + "/test/busy")
	if err != nil {
		t.Fatal(err)
	}
	e := getError(t, res)
	if res.StatusCode != 503 || e.Code != "busy" || res.Header.Get("Retry-After") != "2" {
		t.Fatalf("busy: %d %v %+v", res.StatusCode, res.Header, e)
	}
}

func TestHardening15_FaultIs500(t *testing.T) {
	_, url := startTestServer(t,
		Route{Method: "GET", Path: "/test/fault", Public: true, Summary: "test", Handle: func(*fiber.Ctx, *engine.Principal) error {
			fe := engine.FieldErrors{{Path: "weight", Code: "too_small", Params: map[string]any{"min": 0}}}
			fe = append(fe, engine.FieldFault("owner", errors.New(`get tc_rec_plant_task/x: (InternalError) sqlite: disk I/O error`))...)
			return fmt.Errorf("save record: %w", fe)
		}},
		Route{Method: "GET", Path: "/test/invalid", Public: true, Summary: "test", Handle: func(*fiber.Ctx, *engine.Principal) error {
			return fmt.Errorf("collection tc_secret: %w", engine.ErrInvalid)
		}})
	res, err := http.Get(url + "/test/fault")
	if err != nil {
		t.Fatal(err)
	}
	e := getError(t, res)
	if res.StatusCode != 500 || e.Code != "internal" || e.ID == "" || len(e.Fields) != 0 || strings.Contains(e.Message, "sqlite") {
		t.Fatalf("fault: %d %+v, want 500 with an id only", res.StatusCode, e)
	}
	res, err = http.Get(url + "/test/invalid")
	if err != nil {
		t.Fatal(err)
	}
	if e := getError(t, res); res.StatusCode != 400 || strings.Contains(e.Message, "tc_secret") {
		t.Fatalf("ErrInvalid: %d %+v, want 400 without the error's text", res.StatusCode, e)
	}
}
