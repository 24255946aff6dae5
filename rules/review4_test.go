package rules

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/http/httptest"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// Findings of the fourth review of the rule engine (at-least-once claims, date and schedule
// firings, e-mail): each test failed before its fix.

// quitFailServer accepts every message but answers QUIT with 421 (a server shutting down, a
// connection reset after "250 queued"): the messages it accepted are delivered.
type quitFailServer struct {
	ln        net.Listener
	mu        sync.Mutex
	delivered int
}

func newQuitFailServer(t *testing.T) *quitFailServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &quitFailServer{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				r := bufio.NewReader(c)
				say := func(l string) { _, _ = c.Write([]byte(l + "\r\n")) }
				say("220 test")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					cmd := strings.ToUpper(strings.TrimSpace(line))
					switch {
					case strings.HasPrefix(cmd, "EHLO"):
						say("250 test")
					case cmd == "DATA":
						say("354 go on")
						for {
							l, err := r.ReadString('\n')
							if err != nil {
								return
							}
							if l == ".\r\n" {
								break
							}
						}
						s.mu.Lock()
						s.delivered++
						s.mu.Unlock()
						say("250 queued")
					case cmd == "QUIT":
						say("421 closing")
						return
					default:
						say("250 ok")
					}
				}
			}(c)
		}
	}()
	return s
}

func (s *quitFailServer) count() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.delivered
}

// mailUser adds a user with an e-mail address in role warehouse.
func (e *testEnv) mailUser(t testing.TB, name string) {
	t.Helper()
	u := engine.UserInput{Username: name, Email: name + "@plant.test", Roles: []string{"warehouse"}, Password: "password123"}
	if _, err := e.k.Auth.CreateUser(e.ctx, engine.SystemPrincipal(), u); err != nil {
		t.Fatal(err)
	}
}

// claimState is the state of claim id ("" when there is none; "done" for a claim made before
// claims had states).
func (e *testEnv) claimState(t testing.TB, id string) string {
	t.Helper()
	var d claimDoc
	err := e.st.Get(e.ctx, firedCollection, id, &d)
	if err != nil {
		if strings.Contains(err.Error(), "not found") {
			return ""
		}
		t.Fatal(err)
	}
	if d.State == "" {
		return claimDone
	}
	return d.State
}

// 1. A message the server accepted (250 after DATA) was sent again when only QUIT failed: the
// action failed, the bus retried it and each retry sent the message once more.
func TestRulesReview4_1_QuitFailureAfterAccepted(t *testing.T) {
	srv := newQuitFailServer(t)
	e := newFullEnv(t, Options{SMTP: SMTPOptions{Addr: srv.ln.Addr().String(), From: "noreply@plant.test"}}, nil)
	e.form(t, batchForm)
	e.mailUser(t, "sun")
	e.rule(t, `{"key":"m","label":{"zh-CN":"m"},"form":"batch","trigger":{"on":"created"},
	  "actions":[{"type":"email","params":{"to":["sun"],"subject":"record.lot"}}]}`)
	if _, err := e.fs.Create(e.ctx, engine.SystemPrincipal(), testApp, "batch", forms.Values{"lot": "B1", "cost": 1}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n := srv.count(); n != 1 {
		t.Fatalf("one rule run, one recipient: the server accepted %d messages", n)
	}
	if runs := e.runs(t, "m"); len(runs) != 1 || runs[0].Outcome != OutcomeFired {
		t.Fatalf("runs %+v, want one fired", runs)
	}
}

// 2. A date rule fired again for every record in its window after any new version, so
// switching it off and on again (two publishes) warned again about every lot already warned.
// A claim made under the old name (with the version) still counts for that version.
func TestRulesReview4_2_DateRuleNewVersion(t *testing.T) {
	e := newTestEnv(t, Options{})
	l10 := e.lot(t, forms.Values{"lot": "L10", "expiry_date": e.day(10)})
	l11 := e.lot(t, forms.Values{"lot": "L11", "expiry_date": e.day(11)})
	e.drain(t)
	v := e.rule(t, expiryRule)
	// L11 was fired by version 1 before date claims left out the version.
	legacy := "rule:" + engine.DefinitionVersionID(testApp, "expiry_warning", v.Number) + ":" + l11.ID + ":" + e.day(11-30)
	if err := e.st.Put(e.ctx, firedCollection, legacy, map[string]any{"rule": "expiry_warning", "at": e.clock.Now().UTC(), "until": e.clock.Now().Add(48 * time.Hour).UTC()}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.Sweep(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	sys := engine.SystemPrincipal()
	for _, def := range []string{strings.Replace(expiryRule, `"form":"lot",`, `"form":"lot","disabled":true,`, 1), expiryRule} {
		r, err := e.rs.GetRule(e.ctx, sys, testApp, "expiry_warning")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(def), r.Rev); err != nil {
			t.Fatal(err)
		}
		if _, err := e.rs.Publish(e.ctx, sys, testApp, "expiry_warning"); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.rs.Sweep(e.ctx, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	// An edit of the lot (the event path) does not warn again either.
	got, err := e.fs.Get(e.ctx, sys, testApp, "lot", l10.ID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Update(e.ctx, sys, testApp, "lot", l10.ID, got.Rev, forms.Values{"qty": 5}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	var titles []string
	for _, n := range e.notifications(t, "wang").Items {
		titles = append(titles, n.Title)
	}
	if len(titles) != 1 || !strings.Contains(titles[0], "L10") {
		t.Fatalf("wang's warnings %q, want L10 once (L11 was warned under the old claim)", titles)
	}
	if st := e.claimState(t, "rule:"+engine.DefinitionID(testApp, "expiry_warning")+":"+l10.ID+":"+e.day(10-30)); st != claimDone {
		t.Fatalf("L10's claim is %q, want done", st)
	}
}

// 3. A node that stopped after a claim and before its work lost the work silently: the claim
// stayed and every later run skipped it. A pending claim older than claimLease is taken over
// (a schedule firing, a message, a record of update_records); a fresh one is left to its run.
func TestRulesReview4_3_StalePendingClaims(t *testing.T) {
	srv := newSMTPServer(t)
	e := newFullEnv(t, Options{SMTP: SMTPOptions{Addr: srv.addr(), From: "noreply@plant.test"}}, nil)
	e.mailUser(t, "sun")
	now := e.clock.Now().UTC()
	pending := func(id string, at time.Time, extra ...bson.E) {
		t.Helper()
		doc := append(bson.D{{Key: "state", Value: claimPending}, {Key: "at", Value: at.Truncate(time.Millisecond)},
			{Key: "until", Value: at.Add(48 * time.Hour)}}, extra...)
		if err := e.st.Put(e.ctx, firedCollection, id, doc); err != nil {
			t.Fatal(err)
		}
	}

	// A schedule firing (a rule without match) claimed by a node that stopped.
	e.rule(t, `{"key":"daily","label":{"zh-CN":"日报"},"form":"lot","trigger":{"on":"schedule","cron":"0 9 * * *"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"'日报'"}}]}`)
	firing := time.Date(2026, 3, 3, 9, 0, 0, 0, e.k.Location())
	e.clock.Add(23 * time.Hour)
	base := "rule:" + engine.DefinitionVersionID(testApp, "daily", 1) + ":" + firing.UTC().Format(firingLayout)
	pending(base, e.clock.Now().Add(-time.Minute)) // fresh: its node may still be at work
	if res, err := e.rs.RunSchedules(e.ctx, firing); err != nil || res.Fired != 0 {
		t.Fatalf("a fresh pending firing was run again: %+v %v", res, err)
	}
	e.clock.Add(claimLease)
	if res, err := e.rs.RunSchedules(e.ctx, firing.Add(claimLease)); err != nil || res.Fired != 1 {
		t.Fatalf("the stale pending firing was not taken over: %+v %v", res, err)
	}
	if runs := e.runs(t, "daily"); len(runs) != 1 || runs[0].Outcome != OutcomeFired {
		t.Fatalf("runs %+v, want the firing logged once", runs)
	}
	if n := len(e.notifications(t, "wang").Items); n != 1 {
		t.Fatalf("wang has %d notifications, want 1", n)
	}
	if st := e.claimState(t, base); st != claimDone {
		t.Fatalf("the firing's claim is %q, want done", st)
	}

	// A message whose claim was left pending is sent again (at least once); a done one is not.
	email, _ := e.k.Actions.Get(EmailAction)
	pending("email:k1:sun", e.clock.Now().Add(-2*claimLease), bson.E{Key: "user", Value: "sun"})
	if err := e.st.Put(e.ctx, firedCollection, "email:k2:sun", bson.D{{Key: "state", Value: claimDone}, {Key: "at", Value: now}}); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{"k1", "k2"} {
		if _, err := email.Run(e.ctx, engine.ActionContext{Key: key, App: testApp, Actor: engine.SystemPrincipal(),
			Params: map[string]any{"to": []any{"sun"}, "subject": "s " + key}}); err != nil {
			t.Fatal(err)
		}
	}
	if msgs := srv.messages(); len(msgs) != 1 || !strings.Contains(msgs[0].Data, "Subject: s k1") {
		t.Fatalf("messages %+v, want the one of k1", msgs)
	}
	if st := e.claimState(t, "email:k1:sun"); st != claimDone {
		t.Fatalf("the message's claim is %q, want done", st)
	}

	// A record of update_records whose claim was left pending is written.
	lot := e.lot(t, forms.Values{"lot": "U1", "qc": "ok"})
	pending("update:k3:"+lot.ID, e.clock.Now().Add(-2*claimLease), bson.E{Key: "record", Value: lot.ID})
	out, err := runUpdateRecords(e.ctx, e.rs, nil, engine.ActionContext{Key: "k3", App: testApp, Actor: engine.SystemPrincipal(),
		Params: map[string]any{"form": "lot", updateWhere: store.Eq("data.lot", "U1"),
			updateValues: updateValuesFunc(func(ctx context.Context, target map[string]any) (map[string]any, error) {
				return map[string]any{"qc": "hold"}, nil
			})}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.fs.Get(e.ctx, engine.SystemPrincipal(), testApp, "lot", lot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["qc"] != "hold" || out["updated"] != 1 {
		t.Fatalf("qc %v, result %v: the record of the stale claim was not written", got.Data["qc"], out)
	}
}

// 4. After a firing, every later tick of the catch-up hour read the matching records again
// and tried a duplicate claim for each. A pass after an interrupted one filled the cap with
// records already run, so records past them were never run.
func TestRulesReview4_4_ScheduleCatchUp(t *testing.T) {
	e := newFullEnv(t, Options{MaxRecords: 2}, nil)
	var lots []*forms.Record
	for i := range 3 {
		lots = append(lots, e.lot(t, forms.Values{"lot": fmt.Sprintf("M%d", i), "expiry_date": e.day(i + 1)}))
	}
	e.drain(t)
	e.rule(t, `{"key":"soon","label":{"zh-CN":"近效期"},"form":"lot",
	  "trigger":{"on":"schedule","cron":"0 9 * * *","match":[{"field":"expiry_date","op":"lte","value":"addDays(today(), 7)"}]},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"record.lot"}}]}`)
	firing := time.Date(2026, 3, 3, 9, 0, 0, 0, e.k.Location())
	base := "rule:" + engine.DefinitionVersionID(testApp, "soon", 1) + ":" + firing.UTC().Format(firingLayout)
	// An earlier pass ran M0 and stopped.
	if err := e.st.Put(e.ctx, firedCollection, base+":"+lots[0].ID, bson.D{{Key: "state", Value: claimDone},
		{Key: "at", Value: e.clock.Now().UTC()}, {Key: "record", Value: lots[0].ID}, {Key: "firing", Value: base}}); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(23 * time.Hour)
	res, err := e.rs.RunSchedules(e.ctx, firing)
	if err != nil {
		t.Fatal(err)
	}
	if res.Records != 2 || res.Fired != 2 {
		t.Fatalf("the pass after M0 ran: %+v, want M1 and M2 run", res)
	}
	for _, r := range e.runs(t, "soon") {
		if r.Reason != "" {
			t.Errorf("run on %s says %q: the cap was filled with a record already run", r.Record, r.Reason)
		}
	}
	total := 0
	for m := 1; m <= 59; m++ {
		res, err := e.rs.RunSchedules(e.ctx, firing.Add(time.Duration(m)*time.Minute))
		if err != nil {
			t.Fatal(err)
		}
		total += res.Records + res.Firings
	}
	if total != 0 {
		t.Fatalf("the hour after the firing read %d records and firings again", total)
	}
	if st := e.claimState(t, base); st != claimDone {
		t.Fatalf("the firing's marker is %q, want done", st)
	}
}

// 5. update_records worked a record's values out from the record as it read it, then wrote
// them over whatever was there by then: a concurrent edit was lost.
func TestRulesReview4_5_UpdateRecordsConcurrentEdit(t *testing.T) {
	e := newTestEnv(t, Options{})
	sys := engine.SystemPrincipal()
	lot := e.lot(t, forms.Values{"lot": "C1", "qc": "orig"})
	calls := 0
	each := updateValuesFunc(func(ctx context.Context, target map[string]any) (map[string]any, error) {
		calls++
		if calls == 1 {
			// Someone saves the record between the rule's read and its write.
			cur, err := e.fs.Get(ctx, sys, testApp, "lot", lot.ID)
			if err != nil {
				return nil, err
			}
			if _, err := e.fs.Update(ctx, sys, testApp, "lot", lot.ID, cur.Rev, forms.Values{"qc": "edited"}); err != nil {
				return nil, err
			}
		}
		return map[string]any{"qc": fmt.Sprint(target["qc"]) + " (held)"}, nil
	})
	if _, err := runUpdateRecords(e.ctx, e.rs, nil, engine.ActionContext{Key: "k5", App: testApp, Actor: sys,
		Params: map[string]any{"form": "lot", updateWhere: store.Eq("data.lot", "C1"), updateValues: each}}); err != nil {
		t.Fatal(err)
	}
	got, err := e.fs.Get(e.ctx, sys, testApp, "lot", lot.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Data["qc"] != "edited (held)" || calls != 2 {
		t.Fatalf("qc %q after %d computations, want %q: the concurrent edit was overwritten", got.Data["qc"], calls, "edited (held)")
	}
}

// countingListener counts the connections it accepts.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// serveSMTP runs s's conversation on each connection ln accepts.
func serveSMTP(t testing.TB, s *smtpServer, ln net.Listener) {
	s.ln = ln
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(c)
		}
	}()
}

// 6. Recipients of notify and email had no cap; each message opened a connection of its own;
// lookup() read a page of 200 records for one and gave nil when the first match was one the
// reader may not read, though a later one was readable.
func TestRulesReview4_6_RecipientsConnectionsLookup(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := &countingListener{Listener: raw}
	srv := &smtpServer{}
	serveSMTP(t, srv, ln)
	e := newFullEnv(t, Options{SMTP: SMTPOptions{Addr: ln.Addr().String(), From: "noreply@plant.test"}}, nil)
	e.form(t, batchForm)
	for _, u := range []string{"m1", "m2", "m3"} {
		e.mailUser(t, u)
	}
	e.rule(t, `{"key":"mail3","label":{"zh-CN":"m"},"form":"batch","trigger":{"on":"created"},
	  "actions":[{"type":"email","params":{"to":["m1","m2","m3"],"subject":"record.lot"}}]}`)
	if _, err := e.fs.Create(e.ctx, engine.SystemPrincipal(), testApp, "batch", forms.Values{"lot": "B3", "cost": 1}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if n, conns := len(srv.messages()), ln.n.Load(); n != 3 || conns != 1 {
		t.Fatalf("%d messages over %d connections, want 3 over 1", n, conns)
	}

	// maxRecipients+8 users in the warehouse (wang, li, m1, m2 and m3 among them).
	for i := range maxRecipients + 3 {
		if _, err := e.k.Auth.CreateUser(e.ctx, engine.SystemPrincipal(), engine.UserInput{Username: fmt.Sprintf("w%03d", i),
			Roles: []string{"warehouse"}, Password: "password123"}); err != nil {
			t.Fatal(err)
		}
	}
	e.rule(t, `{"key":"all","label":{"zh-CN":"全体"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"notify","params":{"roles":["warehouse"],"title":"record.lot"}}]}`)
	e.lot(t, forms.Values{"lot": "R1"})
	e.drain(t)
	runs := e.runs(t, "all")
	if len(runs) != 1 || len(runs[0].Actions) != 1 {
		t.Fatalf("runs %+v", runs)
	}
	res := runs[0].Actions[0].Result
	users, _ := res["users"].([]any)
	if len(users) != maxRecipients || res["capped"] != true || fmt.Sprint(res["recipients"]) != fmt.Sprint(maxRecipients+8) ||
		!strings.Contains(fmt.Sprint(res["note"]), "cap") {
		t.Fatalf("%d users reached, result %v: want %d and the cap said", len(users), res, maxRecipients)
	}

	// lookup(): li's report comes first and wang may not read it (own scope); wang's is next.
	e.form(t, `{"key":"ncr2","name":{"zh-CN":"报告"},"schema":{"type":"object","properties":{
	  "lot":{"x-type":"text","x-filterable":true,"x-label":{"zh-CN":"批号"}},
	  "reason":{"x-type":"text","x-label":{"zh-CN":"原因"}}}},
	  "permissions":{"warehouse":{"actions":["create","read"],"scope":"own"}}}`)
	for _, c := range []struct{ user, reason string }{{"li", "li's"}, {"wang", "wang's"}} {
		if _, err := e.fs.Create(e.ctx, e.user(c.user), testApp, "ncr2", forms.Values{"lot": "K1", "reason": c.reason}); err != nil {
			t.Fatal(err)
		}
		e.clock.Add(time.Second) // record ids follow the clock: li's is first
	}
	e.rule(t, `{"key":"why","label":{"zh-CN":"原因"},"form":"lot","trigger":{"on":"created"},"condition":"record.lot == 'K1'",
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"lookup('ncr2', 'lot', record.lot).reason"}}]}`)
	e.lot(t, forms.Values{"lot": "K1"})
	e.drain(t)
	found := false
	for _, n := range e.notifications(t, "wang").Items {
		found = found || n.Title == "wang's"
	}
	if !found {
		t.Fatalf("wang's notifications %+v: lookup() did not find the report wang may read", e.notifications(t, "wang").Items)
	}
}

// 7a. The generic action kind did not need a record, so a schedule rule without match (no
// record) could be saved with printing.print.
func TestRulesReview4_7_GenericActionNeedsRecord(t *testing.T) {
	e := newFullEnv(t, Options{}, func(k *engine.Kernel) {
		k.Actions.Register("test.print", engine.Action{ID: "test.print", Label: engine.Text{ZH: "打印"},
			Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) { return nil, nil }})
	})
	_, err := e.rs.SaveDraft(e.ctx, engine.SystemPrincipal(), testApp, []byte(`{"key":"p","label":{"zh-CN":"p"},"form":"lot",
	  "trigger":{"on":"schedule","cron":"0 9 * * *"},"actions":[{"type":"action","params":{"id":"test.print","params":{"template":"t"}}}]}`), 0)
	fe, ok := engine.AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Path != "/actions/0/type" || fe[0].Code != "rule_needs_record" {
		t.Fatalf("err %v, want rule_needs_record at /actions/0/type", err)
	}
}

// 7b. A plain ASCII subject was not encoded, so a long one went out as a header line longer
// than the 998 characters RFC 5322 allows.
func TestRulesReview4_7_LongSubject(t *testing.T) {
	o := SMTPOptions{From: "noreply@plant.test"}
	for _, subject := range []string{strings.Repeat("a", 2000), strings.Repeat("lot ", 500), strings.Repeat("批次", 600)} {
		msg, err := o.compose(mailMessage{To: "wang@plant.test", Subject: subject, Body: "b", ID: "x"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(msg), "\r\n") {
			if len(line) > 998 {
				t.Fatalf("a line of %d characters: %.60s…", len(line), line)
			}
		}
		m, err := mail.ReadMessage(strings.NewReader(string(msg)))
		if err != nil {
			t.Fatal(err)
		}
		got, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
		if err != nil {
			t.Fatal(err)
		}
		want := []rune(headerText(subject))[:maxSubject-1]
		if got != string(want)+"…" {
			t.Fatalf("subject %q, want the first %d characters and …", got, maxSubject-1)
		}
	}
}

// 7c. Mail carrying record data could only go in plain text to a server without STARTTLS:
// TLS "require" refuses to send without it, "implicit" speaks TLS from the start (465).
func TestRulesReview4_7_SMTPTLS(t *testing.T) {
	cert, pool := selfSigned(t)
	plain := newSMTPServer(t) // offers no STARTTLS
	o := SMTPOptions{Addr: plain.addr(), From: "noreply@plant.test", TLS: SMTPTLSRequire, Timeout: 10 * time.Second,
		TLSConfig: &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"}}
	m := mailMessage{To: "wang@plant.test", Subject: "批次 L1", Body: "b", ID: "x"}
	if err := o.send(context.Background(), m, time.Now()); err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("require without STARTTLS: %v", err)
	}
	if n := len(plain.messages()); n != 0 {
		t.Fatalf("%d messages sent in plain text", n)
	}
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	implicit := &smtpServer{}
	serveSMTP(t, implicit, tls.NewListener(raw, &tls.Config{Certificates: []tls.Certificate{cert}}))
	o.Addr, o.TLS = raw.Addr().String(), SMTPTLSImplicit
	if err := o.Check(); err != nil {
		t.Fatal(err)
	}
	if err := o.send(context.Background(), m, time.Now()); err != nil {
		t.Fatal(err)
	}
	if n := len(implicit.messages()); n != 1 {
		t.Fatalf("%d messages over implicit TLS, want 1", n)
	}
	if err := (SMTPOptions{Addr: "mail.example.com:25", From: "a@b.c", TLS: "always"}).Check(); err == nil {
		t.Fatal("TLS mode always: want an error")
	}
}

// 7d. A flow event on a record gone since dropped the failures of the rules before it.
func TestRulesReview4_7_FlowEventKeepsErrors(t *testing.T) {
	e := newTestEnv(t, Options{})
	// An active entry whose version cannot be read (compiling it fails), found before the
	// rule that reads the record (entries come in key order).
	if err := e.st.Put(e.ctx, activeCollection, engine.DefinitionID(testApp, "a_ghost"), activeRule{ID: engine.DefinitionID(testApp, "a_ghost"),
		App: testApp, Key: "a_ghost", Form: "lot", On: OnFlowFinished, Version: 9}); err != nil {
		t.Fatal(err)
	}
	e.rule(t, `{"key":"fin","label":{"zh-CN":"f"},"form":"lot","trigger":{"on":"flow_finished"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`)
	err := e.rs.onFlowEvent(e.ctx, engine.Event{ID: "ev1", Type: engine.EventFlowFinished, App: testApp,
		Data: map[string]any{"form": "lot", "record": "gone"}})
	if err == nil || !strings.Contains(err.Error(), "ghost") {
		t.Fatalf("err %v, want the failure of rule ghost", err)
	}
}

// 7e. A publish that switched a rule off, finishing after a later publish that switched it
// on, took the later version off the active list (and the other way round brought an
// earlier version back).
func TestRulesReview4_7_ActivateOutOfOrder(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`)
	on := Definition{Form: "lot", Trigger: Trigger{On: OnCreated}}
	off := on
	off.Disabled = true
	active := func() []int {
		t.Helper()
		l, err := e.rs.activeRules(e.ctx, testApp, "lot")
		if err != nil {
			t.Fatal(err)
		}
		var out []int
		for _, a := range l {
			out = append(out, a.Version)
		}
		return out
	}
	for _, step := range []struct {
		def  Definition
		n    int
		want string
	}{
		{on, 3, "[3]"},
		{off, 2, "[3]"}, // version 2's disable finishes late: 3 stays
		{off, 5, "[]"},
		{on, 4, "[]"}, // version 4's enable finishes late: 5 (off) stays
		{on, 5, "[5]"},
	} {
		if err := e.rs.activate(e.ctx, testApp, "r", step.def, step.n); err != nil {
			t.Fatal(err)
		}
		if got := fmt.Sprint(active()); got != step.want {
			t.Fatalf("after version %d (disabled %v): active %s, want %s", step.n, step.def.Disabled, got, step.want)
		}
	}
}

// 7f. The queued retries of a webhook were sent after its rule was switched off.
func TestRulesReview4_7_WebhookOfDisabledRule(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}))
	defer srv.Close()
	e := newTestEnv(t, Options{WebhookAttempts: 3, WebhookBackoff: time.Minute, WebhookAllow: loopback})
	def := webhookRule("erp", srv.URL+"/h")
	e.rule(t, def)
	e.lot(t, forms.Values{"lot": "W1", "qty": 1})
	e.drain(t)
	if ds := e.deliveries(t); len(ds) != 1 || ds[0].State != WebhookPending || hits.Load() != 1 {
		t.Fatalf("deliveries %+v after %d calls, want one pending after a 500", ds, hits.Load())
	}
	sys := engine.SystemPrincipal()
	r, err := e.rs.GetRule(e.ctx, sys, testApp, "erp")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(strings.Replace(def, `"form":"lot",`, `"form":"lot","disabled":true,`, 1)), r.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.Publish(e.ctx, sys, testApp, "erp"); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Hour)
	e.retryWebhooks(t)
	ds := e.deliveries(t)
	if hits.Load() != 1 || len(ds) != 1 || ds[0].State != WebhookDead || ds[0].LastError != ruleDisabled {
		t.Fatalf("after %d calls: %+v, want a dead letter %q and no second call", hits.Load(), ds, ruleDisabled)
	}
	// An administrator's replay sends it all the same.
	d, err := e.rs.ReplayWebhook(e.ctx, sys, ds[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	if d.State != WebhookDone || hits.Load() != 2 {
		t.Fatalf("replay: %+v after %d calls", d, hits.Load())
	}
}

// 3 (b). Of several runs that find one stale pending claim at once, one takes it over.
func TestRulesReview4_3_TakeOverOnce(t *testing.T) {
	e := newTestEnv(t, Options{})
	second := newTestPlatform(t, e.st, e.clock, Options{}, false)
	old := e.clock.Now().Add(-2 * claimLease).UTC().Truncate(time.Millisecond)
	for i := range 20 {
		id := fmt.Sprintf("c%d", i)
		if err := e.st.Put(e.ctx, firedCollection, id, bson.D{{Key: "state", Value: claimPending}, {Key: "at", Value: old}}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var taken atomic.Int32
		for _, s := range []*Service{e.rs, e.rs, second.rs, second.rs} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				held, err := s.take(context.Background(), id, nil)
				if err != nil {
					t.Error(err)
				}
				if held == claimTaken {
					taken.Add(1)
				}
			}()
		}
		wg.Wait()
		if n := taken.Load(); n != 1 {
			t.Fatalf("claim %s taken over %d times", id, n)
		}
	}
}
