package rules

import (
	"crypto/hmac"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// hookServer is a webhook receiver that checks the signature of every call and answers with
// the status its script gives for the call's number (200 past the script's end).
type hookServer struct {
	*httptest.Server
	mu     sync.Mutex
	script []int
	calls  int
	bodies []map[string]any
	bad    int // calls whose signature did not verify
}

func newHookServer(t *testing.T, secret string, script ...int) *hookServer {
	h := &hookServer{script: script}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		defer h.mu.Unlock()
		if !hmac.Equal([]byte(r.Header.Get(SignatureHeader)), []byte(Sign(secret, body))) {
			h.bad++
		}
		var m map[string]any
		_ = json.Unmarshal(body, &m)
		h.bodies = append(h.bodies, m)
		status := http.StatusOK
		if h.calls < len(h.script) {
			status = h.script[h.calls]
		}
		h.calls++
		w.WriteHeader(status)
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) count() (calls, bad int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.calls, h.bad
}

// loopback lets webhooks reach the test's receivers on 127.0.0.1.
var loopback = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}

func webhookRule(key, url string) string {
	return `{"key":"` + key + `","label":{"zh-CN":"通知 ERP"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"webhook","params":{"url":"` + url + `","secret":"s3cret","body":{"lot":"record.lot","qty":"record.qty"}}}]}`
}

// TestWebhookRetries: the receiver verifies the signature; two 500s are retried with a growing
// wait and the third call succeeds.
func TestWebhookRetries(t *testing.T) {
	e := newTestEnv(t, Options{WebhookAttempts: 3, WebhookBackoff: time.Minute, WebhookAllow: loopback})
	h := newHookServer(t, "s3cret", 500, 500)
	e.rule(t, webhookRule("erp", h.URL))
	e.lot(t, forms.Values{"lot": "W1", "qty": 7})
	e.drain(t)
	if calls, _ := h.count(); calls != 1 {
		t.Fatalf("%d calls after the create, want the first attempt", calls)
	}
	// Not due yet: the first retry waits a minute.
	if n, err := e.rs.RetryWebhooks(e.ctx); err != nil || n != 0 {
		t.Fatalf("retry before due: %d %v", n, err)
	}
	e.clock.Add(time.Minute)
	if n, err := e.rs.RetryWebhooks(e.ctx); err != nil || n != 1 {
		t.Fatalf("first retry: %d %v", n, err)
	}
	// The second retry waits two minutes.
	e.clock.Add(time.Minute)
	if n, _ := e.rs.RetryWebhooks(e.ctx); n != 0 {
		t.Fatalf("second retry came after one minute")
	}
	e.clock.Add(time.Minute)
	if n, err := e.rs.RetryWebhooks(e.ctx); err != nil || n != 1 {
		t.Fatalf("second retry: %d %v", n, err)
	}
	calls, bad := h.count()
	if calls != 3 || bad != 0 {
		t.Fatalf("calls %d, bad signatures %d", calls, bad)
	}
	if h.bodies[2]["lot"] != "W1" || h.bodies[2]["qty"] != float64(7) {
		t.Fatalf("body %v", h.bodies[2])
	}
	if n, _ := e.rs.RetryWebhooks(e.ctx); n != 0 {
		t.Fatalf("a done delivery was retried")
	}
	dead, err := e.rs.DeadWebhooks(e.ctx, engine.SystemPrincipal(), 0, "")
	if err != nil || len(dead.Items) != 0 {
		t.Fatalf("dead: %v %v", dead, err)
	}
}

// TestWebhookDeadLetterReplay: after the last failed try the delivery is a dead letter; an
// administrator replays it and it goes through; others may neither list nor replay.
func TestWebhookDeadLetterReplay(t *testing.T) {
	e := newTestEnv(t, Options{WebhookAttempts: 2, WebhookBackoff: time.Minute, WebhookAllow: loopback})
	h := newHookServer(t, "s3cret", 500, 503)
	e.rule(t, webhookRule("erp", h.URL))
	e.lot(t, forms.Values{"lot": "W2", "qty": 1})
	e.drain(t)
	e.clock.Add(time.Hour)
	if _, err := e.rs.RetryWebhooks(e.ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.DeadWebhooks(e.ctx, e.user("wang"), 0, ""); err == nil {
		t.Fatal("a user lists dead letters")
	}
	page, err := e.rs.DeadWebhooks(e.ctx, e.user("root"), 0, "")
	if err != nil {
		t.Fatal(err)
	}
	dead := page.Items
	if err != nil || len(dead) != 1 || dead[0].Attempts != 2 || dead[0].LastStatus != 503 {
		t.Fatalf("dead: %+v %v", dead, err)
	}
	e.clock.Add(time.Hour)
	if n, _ := e.rs.RetryWebhooks(e.ctx); n != 0 {
		t.Fatal("a dead letter was retried by the job")
	}
	if _, err := e.rs.ReplayWebhook(e.ctx, e.user("wang"), dead[0].ID); err == nil {
		t.Fatal("a user replays a dead letter")
	}
	d, err := e.rs.ReplayWebhook(e.ctx, e.user("root"), dead[0].ID)
	if err != nil || d.State != WebhookDone {
		t.Fatalf("replay: %+v %v", d, err)
	}
	if calls, bad := h.count(); calls != 3 || bad != 0 {
		t.Fatalf("calls %d, bad signatures %d", calls, bad)
	}
	if _, err := e.rs.ReplayWebhook(e.ctx, e.user("root"), dead[0].ID); !engine.IsConflict(err) {
		t.Fatalf("replay of a done delivery: %v", err)
	}
	if dead, _ := e.rs.DeadWebhooks(e.ctx, e.user("root"), 0, ""); len(dead.Items) != 0 {
		t.Fatalf("still dead: %+v", dead)
	}
}

// retryWebhooks runs the webhook job once.
func (e *testEnv) retryWebhooks(t testing.TB) {
	t.Helper()
	if _, err := e.rs.RetryWebhooks(e.ctx); err != nil {
		t.Fatal(err)
	}
}

// deliveries are every webhook delivery stored.
func (e *testEnv) deliveries(t testing.TB) []WebhookDelivery {
	t.Helper()
	ds, err := store.FindAll[WebhookDelivery](e.ctx, e.st, webhooksCollection, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
