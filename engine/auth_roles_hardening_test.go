package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// TestHardening17_RoleInUse (issue 7 item 17): deleting a role that users hold is a conflict
// with a code of its own whose message names the holders (the first ten) and counts them, in
// both languages; the built-in role has its own code too.
func TestHardening17_RoleInUse(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	if _, err := e.auth.PutRole(ctx, e.admin, Role{Name: "reader", Label: Text{ZH: "读者"}, Grants: []Grant{{App: "trace", Actions: []string{PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	for i := range 12 {
		e.user(t, fmt.Sprintf("user%02d", i), "reader")
	}
	err := e.auth.DeleteRole(ctx, e.admin, "reader")
	var ce *CodedError
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) || ce.Code != "role_in_use" {
		t.Fatalf("delete a role in use: %v, want a role_in_use conflict", err)
	}
	en, zh := ce.Message(LangEN), ce.Message(LangZH)
	for _, m := range []string{en, zh} {
		if !strings.Contains(m, "12") || !strings.Contains(m, "user00") || !strings.Contains(m, "user09") || strings.Contains(m, "user10") || !strings.Contains(m, "…") {
			t.Errorf("message %q: want the count 12 and the first ten holders", m)
		}
	}
	if !strings.Contains(en, "take it away from them first") || !strings.Contains(zh, "请先") {
		t.Errorf("messages do not say what to do: %q / %q", en, zh)
	}
	err = e.auth.DeleteRole(ctx, e.admin, RoleAdmin)
	if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) || ce.Code != "role_builtin" {
		t.Fatalf("delete the admin role: %v", err)
	}
}
