package api_test

import (
	"context"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/forms"
)

// TestAnswersSayWhatTheCallerMayDo (issue 9): GET of an app, of the apps, of a form and of the
// app's forms say what the caller may do, so the web app offers only that: a reader of the
// receipt reads and exports, a clerk creates (and imports) and updates and takes the transition
// that names no role, qa takes qa's; the administrator and a designer of the app hold every
// record action and design.
func TestAnswersSayWhatTheCallerMayDo(t *testing.T) {
	f := newFixture(t)
	f.publishForm(t, plantApp, receiptDef)
	if _, err := f.s.Kernel.Auth.PutRole(context.Background(), engine.SystemPrincipal(), engine.Role{Name: "designer", Label: engine.Text{ZH: "设计"},
		Grants: []engine.Grant{{App: plantApp, Actions: []string{engine.PermAppRead, engine.PermAppDesign}}}}); err != nil {
		t.Fatal(err)
	}
	f.roles["designer"] = true
	all := "create read update delete export import"
	for _, c := range []struct {
		who, role, app, can, transitions string
	}{
		{"rita", "reader", "read", "read export", ""},
		{"cleo", "clerk", "read", "create read update import", "submit"},
		{"quinn", "qa", "read", "read update", "submit approve"},
		{"dora", "designer", "read design", all, "submit approve"},
		{"admin", "", "read design", all, "submit approve"},
	} {
		t.Run(c.who, func(t *testing.T) {
			cl := f.as(t, f.admin)
			if c.role != "" {
				cl = f.as(t, f.user(t, c.who, c.role))
			}
			var form forms.Form
			cl.Do("GET", "/api/v1/apps/plant/forms/receipt", nil, 200, &form)
			if got := strings.Join(form.Can, " "); got != c.can {
				t.Errorf("form: can %q, want %q", got, c.can)
			}
			if got := strings.Join(form.CanTransitions, " "); got != c.transitions {
				t.Errorf("form: transitions %q, want %q", got, c.transitions)
			}
			var list []forms.Form
			cl.Do("GET", "/api/v1/apps/plant/forms", nil, 200, &list)
			if len(list) != 1 || strings.Join(list[0].Can, " ") != c.can || strings.Join(list[0].CanTransitions, " ") != c.transitions {
				t.Errorf("forms: %+v", list)
			}
			var app forms.App
			cl.Do("GET", "/api/v1/apps/plant", nil, 200, &app)
			if got := strings.Join(app.Can, " "); got != c.app {
				t.Errorf("app: can %q, want %q", got, c.app)
			}
			var apps []forms.App
			cl.Do("GET", "/api/v1/apps", nil, 200, &apps)
			if len(apps) != 1 || strings.Join(apps[0].Can, " ") != c.app {
				t.Errorf("apps: %+v", apps)
			}
			// What the answer offers is what the server allows: a reader's import and create
			// are refused.
			if c.role == "reader" {
				cl.Do("POST", recordsPath(plantApp, "receipt"), map[string]any{"data": forms.Values{"supplier": "x", "weight": 1}}, 403, nil)
			}
		})
	}
}
