package rules

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/forms"
)

// Findings of the security review of the rule engine: each test failed before its fix.

// A notification carries a field the recipient's role hides, and reaches a user with no
// access to the app at all.
func TestRulesReview_NotifyLeaksHiddenField(t *testing.T) {
	e := newTestEnv(t, Options{})
	sys := engine.SystemPrincipal()
	// warehouse may read lots but not qty.
	def := strings.Replace(lotForm, `"permissions": {"warehouse": {"actions": ["create", "read", "update"]}}`,
		`"permissions": {"warehouse": {"actions": ["create", "read", "update"], "hidden": ["qty"]}}`, 1)
	r, err := e.fs.GetForm(e.ctx, sys, testApp, "lot")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(def), r.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, testApp, "lot"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: "outsider", Label: engine.Text{ZH: "o"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "stranger", Password: "password123", Roles: []string{"outsider"}}); err != nil {
		t.Fatal(err)
	}
	e.rule(t, `{"key":"leak","label":{"zh-CN":"x"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"notify","params":{"to":["stranger","nobody_yet"],"roles":["warehouse"],"title":"concat('qty=', string(record.qty))"}}]}`)
	lot := e.lot(t, forms.Values{"lot": "L9", "qty": 4242})
	e.drain(t)
	got, err := e.fs.Get(e.ctx, e.user("wang"), testApp, "lot", lot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := got.Data["qty"]; ok {
		t.Fatalf("setup: wang should not see qty: %v", got.Data)
	}
	if _, err := e.k.Auth.CreateUser(e.ctx, sys, engine.UserInput{Username: "nobody_yet", Password: "password123", Roles: []string{"outsider"}}); err != nil {
		t.Fatal(err)
	}
	if l := e.notifications(t, "wang").Items; len(l) != 1 || l[0].Title != "qty="+hiddenPlaceholder {
		t.Errorf("wang's notifications = %+v, want one titled qty=%s", l, hiddenPlaceholder)
	}
	for _, u := range []string{"stranger", "nobody_yet"} {
		if l := e.notifications(t, u).Items; len(l) != 0 {
			t.Errorf("%s, who may not read the lot, was notified: %+v", u, l)
		}
	}
	for _, u := range []string{"wang", "stranger", "nobody_yet"} {
		for _, n := range e.notifications(t, u).Items {
			if strings.Contains(n.Title, "4242") {
				t.Errorf("%s was told the hidden qty: %q (record %s)", u, n.Title, n.Record)
			}
		}
	}
}

// A webhook may target loopback/private addresses and follows redirects there.
func TestRulesReview_WebhookSSRF(t *testing.T) {
	var hit atomic.Value
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hit.Store(r.Method + " " + r.URL.Path + " " + string(b))
	}))
	defer internal.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/admin/reset", http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	e := newTestEnv(t, Options{})
	e.rule(t, webhookRule("ssrf", front.URL+"/x"))
	e.lot(t, forms.Values{"lot": "L1", "qty": 1})
	e.drain(t)
	e.retryWebhooks(t)
	if v := hit.Load(); v != nil {
		t.Errorf("internal service reached via redirect from a rule webhook: %v", v)
	}
	for _, d := range e.deliveries(t) {
		if d.LastError != "webhook: refused address" {
			t.Errorf("delivery %s: last error %q, want only that the address was refused", d.ID, d.LastError)
		}
	}
}

// With loopback allowed (the receiver is a trusted internal service), its redirect is still
// not followed.
func TestRulesReview_WebhookRedirectNotFollowed(t *testing.T) {
	var hit atomic.Value
	internal := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit.Store(r.URL.Path)
	}))
	defer internal.Close()
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, internal.URL+"/admin/reset", http.StatusTemporaryRedirect)
	}))
	defer front.Close()
	e := newTestEnv(t, Options{WebhookAllow: loopback})
	e.rule(t, webhookRule("redir", front.URL+"/x"))
	e.lot(t, forms.Values{"lot": "L1", "qty": 1})
	e.drain(t)
	e.retryWebhooks(t)
	if v := hit.Load(); v != nil {
		t.Errorf("redirect followed to %v", v)
	}
	ds := e.deliveries(t)
	if len(ds) != 1 || ds[0].LastStatus != http.StatusTemporaryRedirect {
		t.Errorf("deliveries %+v, want one answered 307", ds)
	}
}

func TestRulesReview_WebhookAddresses(t *testing.T) {
	allow, err := ParseWebhookAllow([]string{"10.1.2.0/24", "fd00::5"})
	if err != nil {
		t.Fatal(err)
	}
	for addr, want := range map[string]bool{
		"127.0.0.1": false, "::1": false, "::ffff:127.0.0.1": false, "10.0.0.1": false,
		"172.16.5.4": false, "192.168.1.1": false, "169.254.169.254": false, "fe80::1": false,
		"fc00::1": false, "0.0.0.0": false, "::": false, "224.0.0.1": false, "ff02::1": false,
		"255.255.255.255": false, "8.8.8.8": true, "2001:4860:4860::8888": true,
		"10.1.2.3": true, "fd00::5": true, "fd00::6": false,
	} {
		if got := webhookAddrAllowed(netip.MustParseAddr(addr), allow); got != want {
			t.Errorf("%s allowed = %v, want %v", addr, got, want)
		}
	}
	if _, err := ParseWebhookAllow([]string{"10.0.0.0/33"}); err == nil {
		t.Error("a malformed range was accepted")
	}
}

// A slow webhook receiver held the kernel bus's shared workers: every event of every app
// waited. Now the bus delivers every event while the receiver holds all its calls.
func TestRulesReview_WebhookStallsBus(t *testing.T) {
	release := make(chan struct{})
	var answered atomic.Int32
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-r.Context().Done():
		case <-release:
		}
		answered.Add(1)
		w.WriteHeader(500)
	}))
	defer slow.Close()
	defer close(release)
	e := newTestEnv(t, Options{WebhookAllow: loopback})
	e.rule(t, webhookRule("slow", slow.URL))
	e.rule(t, `{"key":"tell","label":{"zh-CN":"x"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"record.lot"}}]}`)
	for i := 0; i < 6; i++ {
		e.lot(t, forms.Values{"lot": "S", "qty": i})
	}
	// Inline calls would hold the bus until the receiver answers: Drain would not return.
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := e.k.Bus.Drain(ctx); err != nil {
		t.Fatalf("the bus is held by webhook calls: %v", err)
	}
	if n := answered.Load(); n != 0 {
		t.Fatalf("%d calls answered while the receiver held them all", n)
	}
	if l := e.notifications(t, "wang").Items; len(l) != 6 {
		t.Errorf("%d notifications, want 6: events waited for the webhooks", len(l))
	}
	if ds := e.deliveries(t); len(ds) != 6 {
		t.Errorf("%d deliveries queued, want 6", len(ds))
	}
}

// The webhook secret was stored in the rule draft, so it landed in the audit log and in every
// answer. Now it is write-only; the signature still uses it (TestWebhookRetries checks it).
func TestRulesReview_SecretInAudit(t *testing.T) {
	e := newTestEnv(t, Options{})
	v := e.rule(t, webhookRule("erp", "https://erp.example.com/h"))
	sys := engine.SystemPrincipal()
	// Saved again unchanged (the editor sends the mask back) and then with a new secret.
	r, err := e.rs.GetRule(e.ctx, sys, testApp, "erp")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(r.Draft)
	if r, err = e.rs.SaveDraft(e.ctx, sys, testApp, raw, r.Rev); err != nil {
		t.Fatal(err)
	}
	if sec, _ := e.rs.actionSecret(e.ctx, testApp, "erp", 0, "https://erp.example.com/h"); sec != "s3cret" {
		t.Fatalf("the secret kept is %q", sec)
	}
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(strings.Replace(webhookRule("erp", "https://erp.example.com/h"), "s3cret", "n3w-s3cret", 1)), r.Rev); err != nil {
		t.Fatal(err)
	}
	v2, err := e.rs.Publish(e.ctx, sys, testApp, "erp")
	if err != nil {
		t.Fatal(err)
	}
	if sec, _ := e.rs.actionSecret(e.ctx, testApp, "erp", 0, "https://erp.example.com/h"); sec != "n3w-s3cret" {
		t.Fatalf("the new secret is %q", sec)
	}
	if sec, _ := e.rs.actionSecret(e.ctx, testApp, "erp", 0, "https://elsewhere.example.com/h"); sec != "" {
		t.Fatalf("the secret serves another URL")
	}
	got, err := e.rs.GetRule(e.ctx, sys, testApp, "erp")
	if err != nil {
		t.Fatal(err)
	}
	list, err := e.rs.ListRules(e.ctx, sys, testApp)
	if err != nil {
		t.Fatal(err)
	}
	for what, x := range map[string]any{"version": v, "version 2": v2, "rule": got, "list": list} {
		if b, _ := json.Marshal(x); strings.Contains(string(b), "s3cret") {
			t.Errorf("webhook secret in the %s answer: %s", what, b)
		}
	}
	es, err := e.k.Audit.List(e.ctx, engine.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	set := 0
	for _, a := range es {
		if b, _ := json.Marshal(a); strings.Contains(string(b), "s3cret") {
			t.Errorf("webhook secret in audit entry %d (%s)", a.Seq, a.Action)
		}
		if a.Action == "rule.secret.set" {
			set++
		}
	}
	if set != 2 {
		t.Errorf("%d rule.secret.set audit entries, want 2 (set, changed)", set)
	}
}

// A record written by a rule's action was audited as "system": which rule wrote it was lost.
func TestRulesReview_RuleWritesNameTheRule(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"hold","label":{"zh-CN":"冻结"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"set_status","params":{"status":"held"}},{"type":"set_fields","params":{"values":{"qc":"'held'"}}}]}`)
	lot := e.lot(t, forms.Values{"lot": "H1"})
	e.drain(t)
	es, err := e.k.Audit.List(e.ctx, engine.AuditQuery{})
	if err != nil {
		t.Fatal(err)
	}
	byRule := 0
	for _, a := range es {
		if !strings.HasSuffix(a.Target, "/"+lot.ID) || a.Action == "record.create" {
			continue
		}
		if a.Actor != "rule:hold@1" {
			t.Errorf("audit entry %d (%s) of the rule's write names %q", a.Seq, a.Action, a.Actor)
		}
		byRule++
	}
	if byRule != 2 {
		t.Errorf("%d audit entries of the rule's writes, want 2 (status, fields)", byRule)
	}
}

// Dead letters were listed whole, "mark all read" was unbounded, and notifications, done
// deliveries, attempt claims and date claims were never deleted.
func TestRulesReview_BoundedListsAndPrune(t *testing.T) {
	e := newTestEnv(t, Options{})
	now := e.clock.Now().UTC()
	old := now.Add(-200 * 24 * time.Hour)
	put := func(coll, id string, doc any) {
		t.Helper()
		if err := e.st.Put(e.ctx, coll, id, doc); err != nil {
			t.Fatal(err)
		}
	}
	for i, state := range []string{WebhookDead, WebhookDead, WebhookDead, WebhookDone, WebhookDone} {
		at := now
		if i == 4 {
			at = old
		}
		id := "d" + string(rune('0'+i))
		put(webhooksCollection, id, WebhookDelivery{ID: id, App: testApp, URL: "https://x.example/h", Body: "{}", State: state,
			NextAt: at, CreatedAt: at, UpdatedAt: at})
	}
	root := e.user("root")
	p1, err := e.rs.DeadWebhooks(e.ctx, root, 2, "")
	if err != nil || len(p1.Items) != 2 || p1.Next == "" {
		t.Fatalf("first page: %+v %v", p1, err)
	}
	p2, err := e.rs.DeadWebhooks(e.ctx, root, 2, p1.Next)
	if err != nil || len(p2.Items) != 1 || p2.Next != "" {
		t.Fatalf("second page: %+v %v", p2, err)
	}

	for i := 0; i < maxMarkRead+1; i++ {
		at := now
		if i == 0 {
			at = old
		}
		id := "n/" + time.Duration(i).String()
		put(notificationsCollection, id, Notification{ID: id, User: "wang", Title: "x", At: at})
	}
	wang := e.user("wang")
	if n, err := e.rs.MarkRead(e.ctx, wang, nil, true); err != nil || n != maxMarkRead {
		t.Fatalf("mark all read: %d %v, want %d", n, err, maxMarkRead)
	}
	if n, err := e.rs.MarkRead(e.ctx, wang, nil, true); err != nil || n != 1 {
		t.Fatalf("mark all read again: %d %v, want 1", n, err)
	}
	if _, err := e.rs.MarkRead(e.ctx, wang, make([]string, maxMarkRead+1), false); !isInvalid(err) {
		t.Fatalf("%d ids: %v, want invalid", maxMarkRead+1, err)
	}

	put(webhookClaims, "d4#0#1", map[string]any{"at": old})
	put(webhookClaims, "d0#0#1", map[string]any{"at": now})
	put(firedCollection, "closed", map[string]any{"at": old, "until": old})
	put(firedCollection, "open", map[string]any{"at": old, "until": now.Add(24 * time.Hour)})
	res, err := e.rs.Prune(e.ctx, now)
	if err != nil {
		t.Fatal(err)
	}
	if *res != (PruneResult{Notifications: 1, Deliveries: 1, Attempts: 1, Fired: 1}) {
		t.Errorf("pruned %+v, want one old notification, done delivery, attempt claim and closed date claim", *res)
	}
	if l := e.notifications(t, "wang").Items; len(l) != 200 {
		t.Errorf("a page of %d notifications left, want 200", len(l))
	}
	if err := e.st.Get(e.ctx, firedCollection, "open", &map[string]any{}); err != nil {
		t.Errorf("the claim of an open window was pruned: %v", err)
	}
}

func isInvalid(err error) bool {
	_, ok := engine.AsFieldErrors(err)
	return ok
}
