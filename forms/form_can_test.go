package forms

import (
	"context"
	"slices"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
)

const canLot = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "schema": {"type": "object", "properties": {"code": {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot code"}}}},
  "status": {"initial": "draft",
    "states": [{"key": "draft", "label": {"zh-CN": "草稿"}}, {"key": "released", "label": {"zh-CN": "已放行"}}],
    "transitions": [
      {"key": "submit", "label": {"zh-CN": "提交"}, "from": ["draft"], "to": "released"},
      {"key": "release", "label": {"zh-CN": "放行"}, "from": ["draft"], "to": "released", "roles": ["qa"]}
    ]},
  "permissions": {
    "reader": {"actions": ["read"]},
    "clerk":  {"actions": ["read", "create", "update"]},
    "qa":     {"actions": ["read", "update", "delete", "export"]}
  }
}`

// TestFormAnswersSayWhatTheCallerMayDo (issue 9): the answers about an app and its forms say
// what the caller may do — a reader only reads; a clerk creates (so imports), updates and takes
// the transition that names no role; qa takes the one naming qa, deletes and exports; an admin
// and a designer of the app hold everything and design — judged by the latest published
// version's permissions (the draft's count for nothing), and nothing on a form never published.
func TestFormAnswersSayWhatTheCallerMayDo(t *testing.T) {
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	enginetest.Start(t, k)
	admin := engine.SystemPrincipal()
	if _, err := s.CreateApp(ctx, admin, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	for _, r := range []engine.Role{
		{Name: "reader", Label: engine.Text{ZH: "只读"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
		{Name: "clerk", Label: engine.Text{ZH: "文员"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
		{Name: "qa", Label: engine.Text{ZH: "质检"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
		{Name: "designer", Label: engine.Text{ZH: "设计"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppDesign}}}},
	} {
		if _, err := k.Auth.PutRole(ctx, admin, r); err != nil {
			t.Fatal(err)
		}
	}
	who := func(role string) *engine.Principal {
		return &engine.Principal{Username: role + "-user", Roles: []string{role}}
	}
	draft, err := s.SaveDraft(ctx, admin, "qa", []byte(canLot), 0)
	if err != nil {
		t.Fatal(err)
	}
	form := func(p *engine.Principal) *Form {
		t.Helper()
		f, err := s.GetForm(ctx, p, "qa", "lot")
		if err != nil {
			t.Fatal(err)
		}
		fs, err := s.ListForms(ctx, p, "qa")
		if err != nil || len(fs) != 1 {
			t.Fatalf("%s's forms: %v %v", p.Username, fs, err)
		}
		if !slices.Equal(fs[0].Can, f.Can) || !slices.Equal(fs[0].CanTransitions, f.CanTransitions) {
			t.Errorf("%s: the list says %v %v, the form %v %v", p.Username, fs[0].Can, fs[0].CanTransitions, f.Can, f.CanTransitions)
		}
		return f
	}
	expect := func(p *engine.Principal, can, transitions string) {
		t.Helper()
		f := form(p)
		if got := strings.Join(f.Can, " "); got != can {
			t.Errorf("%s may %q, want %q", p.Username, got, can)
		}
		if got := strings.Join(f.CanTransitions, " "); got != transitions {
			t.Errorf("%s may take %q, want %q", p.Username, got, transitions)
		}
	}

	// Never published: no record action, for anyone.
	if draft.Can == nil || len(draft.Can) != 0 {
		t.Errorf("the saved draft's answer: %v", draft.Can)
	}
	expect(admin, "", "")
	expect(who("designer"), "", "")
	if _, err := s.Publish(ctx, admin, "qa", "lot"); err != nil {
		t.Fatal(err)
	}
	expect(who("reader"), "read", "")
	expect(who("clerk"), "create read update import", "submit")
	expect(who("qa"), "read update delete export", "submit release")
	expect(admin, "create read update delete export import", "submit release")
	expect(who("designer"), "create read update delete export import", "submit release")
	expect(&engine.Principal{Username: "two", Roles: []string{"reader", "qa"}}, "read update delete export", "submit release")

	apps := map[string]string{"reader": "read", "qa": "read", "designer": "design"}
	for role, want := range apps {
		a, err := s.GetApp(ctx, who(role), "qa")
		if err != nil || strings.Join(a.Can, " ") != want {
			t.Errorf("%s's app: %v %v, want %q", role, a, err, want)
		}
		list, err := s.ListApps(ctx, who(role))
		if err != nil || len(list) != 1 || strings.Join(list[0].Can, " ") != want {
			t.Errorf("%s's apps: %v %v", role, list, err)
		}
	}
	if a, err := s.GetApp(ctx, admin, "qa"); err != nil || !slices.Contains(a.Can, AppCanDesign) {
		t.Errorf("admin's app: %v %v", a, err)
	}
	if _, err := s.GetApp(ctx, who("nobody"), "qa"); err == nil {
		t.Error("a stranger reads the app")
	}

	// A draft granting the reader more changes nothing until it is published.
	f := form(admin)
	more := strings.Replace(canLot, `"reader": {"actions": ["read"]}`, `"reader": {"actions": ["read", "create", "update"]}`, 1)
	more = strings.Replace(more, `"roles": ["qa"]`, `"roles": ["qa", "reader"]`, 1)
	if _, err := s.SaveDraft(ctx, admin, "qa", []byte(more), f.Rev); err != nil {
		t.Fatal(err)
	}
	expect(who("reader"), "read", "")
	if _, err := s.Publish(ctx, admin, "qa", "lot"); err != nil {
		t.Fatal(err)
	}
	expect(who("reader"), "create read update import", "submit release")
}
