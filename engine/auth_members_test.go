package engine

import (
	"context"
	"errors"
	"fmt"
	"testing"
)

// TestAppMembers: a member of an app finds the active members of that app by a part of their
// username or display name (case-insensitive), a bounded page of them; someone who is not a
// member is refused, and users of other apps, disabled users and strangers never show.
func TestAppMembers(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	for _, r := range []Role{
		{Name: "reader", Label: Text{ZH: "读者"}, Grants: []Grant{{App: "plant", Actions: []string{PermAppRead}}}},
		{Name: "builder", Label: Text{ZH: "设计"}, Grants: []Grant{{App: "plant", Actions: []string{PermAppDesign}}}},
		{Name: "elsewhere", Label: Text{ZH: "别处"}, Grants: []Grant{{App: "office", Actions: []string{PermAppRead}}}},
	} {
		if _, err := e.auth.PutRole(ctx, e.admin, r); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(name, display string, roles ...string) {
		if _, err := e.auth.CreateUser(ctx, e.admin, UserInput{Username: name, DisplayName: display, Password: "password-1", Roles: roles}); err != nil {
			t.Fatalf("create %s: %v", name, err)
		}
	}
	mk("amy", "王艾米", "reader")
	mk("ben", "Ben Li", "builder")
	mk("olga", "Olga", "elsewhere")
	mk("nobody", "No One")
	mk("gone", "王离职", "reader")
	gone := true
	if _, err := e.auth.UpdateUser(ctx, e.admin, "gone", UserPatch{Disabled: &gone}, 1); err != nil {
		t.Fatal(err)
	}
	_, amy := e.login(t, "amy", "password-1")
	names := func(ms []Member) string {
		s := ""
		for _, m := range ms {
			s += m.Username + "/" + m.DisplayName + " "
		}
		return s
	}
	for _, c := range []struct{ q, want string }{
		{"", "admin/Administrator amy/王艾米 ben/Ben Li "}, // the built-in admin holds every app
		{"BEN", "ben/Ben Li "},
		{"li", "ben/Ben Li "},
		{"王", "amy/王艾米 "},
		{"olga", ""},
		{"no", ""},
	} {
		got, err := e.auth.AppMembers(ctx, amy, "plant", c.q, 0)
		if err != nil {
			t.Fatal(err)
		}
		if names(got) != c.want {
			t.Errorf("q %q: %q, want %q", c.q, names(got), c.want)
		}
	}
	if got, _ := e.auth.AppMembers(ctx, amy, "plant", "", 2); len(got) != 2 {
		t.Fatalf("limit 2 gave %d", len(got))
	}
	for i := range MaxMembers + 5 {
		mk(fmt.Sprintf("op%03d", i), "", "reader")
	}
	if got, _ := e.auth.AppMembers(ctx, amy, "plant", "op", 1000); len(got) != MaxMembers {
		t.Fatalf("limit 1000 gave %d, want at most %d", len(got), MaxMembers)
	}
	if got, _ := e.auth.AppMembers(ctx, amy, "plant", "op", 0); len(got) != DefaultMembers {
		t.Fatalf("no limit gave %d, want %d", len(got), DefaultMembers)
	}
	_, olga := e.login(t, "olga", "password-1")
	if _, err := e.auth.AppMembers(ctx, olga, "plant", "", 0); !errors.Is(err, ErrForbidden) {
		t.Fatalf("olga lists plant's members: %v", err)
	}
	if _, err := e.auth.AppMembers(ctx, nil, "plant", "", 0); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("anonymous: %v", err)
	}
}
