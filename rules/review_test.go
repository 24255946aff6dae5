package rules

import (
	"strings"
	"testing"

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

