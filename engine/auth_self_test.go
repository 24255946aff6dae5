package engine

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

func TestAuthPasswordHashNotInRevisions(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	_, alice := e.login(t, "alice", "password-1")
	if err := e.auth.SetPassword(ctx, e.admin, "alice", "reset-password-2"); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.SetPassword(ctx, alice, "alice", "own-password-3"); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.SetPassword(ctx, SystemPrincipal(), "alice", "reset-password-4"); err != nil {
		t.Fatal(err)
	}
	name := "Alice"
	if _, err := e.auth.UpdateUser(ctx, e.admin, "alice", UserPatch{DisplayName: &name}, 1); err != nil {
		t.Fatalf("a password change must not move the user's revision: %v", err)
	}

	for _, coll := range []string{store.RevisionsCollection("users"), "users"} {
		n := 0
		err := e.st.Find(ctx, coll, nil, nil, func(raw bson.Raw) error {
			n++
			if bytes.Contains(raw, []byte("argon2")) || bytes.Contains(raw, []byte("passwordHash")) {
				t.Errorf("%s holds a password hash: %s", coll, raw)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Errorf("%s is empty: the check saw nothing", coll)
		}
	}
	// The one hash kept is the current one, and passwords keep no history.
	var d authPasswordDoc
	if err := e.st.Get(ctx, "passwords", "alice", &d); err != nil {
		t.Fatal(err)
	}
	if ok, err := authVerifyPassword(d.Hash, "reset-password-4"); !ok || err != nil {
		t.Fatalf("stored hash %q does not match the last password: %v", d.Hash, err)
	}
	if n, err := e.st.Count(ctx, store.RevisionsCollection("passwords"), nil); err != nil || n != 0 {
		t.Fatalf("passwords_revs holds %d documents (%v)", n, err)
	}
	e.login(t, "alice", "reset-password-4")
}

func TestAuthChangeOwnPassword(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	mine, _ := e.login(t, "alice", "password-1")
	other, _ := e.login(t, "alice", "password-1")
	me, err := e.auth.Authenticate(ctx, mine, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	me.IP = "10.0.0.5"

	err = e.auth.ChangeOwnPassword(ctx, me, "wrong-pass-1", "new-password-2")
	authTestFieldError(t, err, "current", "wrong_password")
	err = e.auth.ChangeOwnPassword(ctx, me, "password-1", "weak")
	authTestFieldError(t, err, "new", "weak_password")
	// Both wrong: both reported.
	err = e.auth.ChangeOwnPassword(ctx, me, "wrong-pass-1", "weak")
	authTestFieldError(t, err, "current", "wrong_password")
	authTestFieldError(t, err, "new", "weak_password")
	if err := e.auth.ChangeOwnPassword(ctx, nil, "password-1", "new-password-2"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("no principal: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := e.auth.Login(ctx, "alice", "new-password-2", ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("failed changes changed the password: %v", err)
	}

	if err := e.auth.ChangeOwnPassword(ctx, me, "password-1", "new-password-2"); err != nil {
		t.Fatalf("change: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, mine, "cookie"); err != nil {
		t.Fatalf("the session that changed the password: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, other, "cookie"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("the other session: %v, want ErrUnauthenticated", err)
	}
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", ""); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("old password: %v", err)
	}
	e.login(t, "alice", "new-password-2")

	entries, err := e.audit.List(ctx, AuditQuery{Target: "alice", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var passwd, failed int
	for _, en := range entries {
		switch {
		case en.Action == "user.passwd":
			passwd++
			if en.Actor != "alice" || en.IP != "10.0.0.5" {
				t.Errorf("user.passwd entry: %+v", en)
			}
		case en.Action == "login.failed" && en.After.(map[string]any)["reason"] == "wrong_current_password":
			failed++
		}
	}
	if passwd != 1 || failed != 2 {
		t.Errorf("audit: %d user.passwd (want 1), %d wrong current passwords (want 2)", passwd, failed)
	}
}

func TestAuthChangeOwnPasswordThrottle(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	_, me := e.login(t, "alice", "password-1")
	// Wrong current passwords and failed logins share one count: after five, the username's
	// attempts are slowed …
	for range 2 {
		if _, _, err := e.auth.Login(ctx, "alice", "wrong-pass-1", ""); !errors.Is(err, ErrUnauthenticated) {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		err := e.auth.ChangeOwnPassword(ctx, me, "guess-pass-"+string(rune('a'+i)), "new-password-2")
		authTestFieldError(t, err, "current", "wrong_password")
		e.clock.Add(time.Minute)
	}
	if d := e.sleeps.take(); len(d) != 0 {
		t.Fatalf("delays %v before MaxFailures", d)
	}
	for _, guess := range []string{"guess-pass-d", "guess-pass-e"} {
		authTestFieldError(t, e.auth.ChangeOwnPassword(ctx, me, guess, "new-password-2"), "current", "wrong_password")
	}
	if d := e.sleeps.take(); len(d) != 2 || d[0] != time.Second || d[1] != 2*time.Second {
		t.Fatalf("delays %v, want [1s 2s]", d)
	}
	// … and the session's address, with five failures of its own, is refused.
	err := e.auth.ChangeOwnPassword(ctx, me, "password-1", "new-password-2")
	var te *ThrottledError
	if !errors.As(err, &te) || !errors.Is(err, ErrThrottled) || te.RetryAfter <= 0 {
		t.Fatalf("right password after 5 failures from the address: %v, want a ThrottledError", err)
	}
	e.clock.Add(15 * time.Minute)
	if err := e.auth.ChangeOwnPassword(ctx, me, "password-1", "new-password-2"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// A success clears the count.
	for range 4 {
		_ = e.auth.ChangeOwnPassword(ctx, me, "wrong-pass-1", "new-password-3")
	}
	e.login(t, "alice", "new-password-2")
	if d := e.sleeps.take(); len(d) != 0 {
		t.Fatalf("delays %v after a success", d)
	}
}

func TestAuthLogoutSession(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	t1, p1 := e.login(t, "alice", "password-1")
	t2, _ := e.login(t, "alice", "password-1")
	if err := e.auth.LogoutSession(ctx, p1.SessionID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Authenticate(ctx, t1, "bearer"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after LogoutSession: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, t2, "bearer"); err != nil {
		t.Fatalf("the other session: %v", err)
	}
	for _, id := range []string{p1.SessionID, "", "no-such-session"} {
		if err := e.auth.LogoutSession(ctx, id); err != nil {
			t.Errorf("LogoutSession(%q): %v", id, err)
		}
	}
	entries, err := e.audit.List(ctx, AuditQuery{Action: "logout"})
	if err != nil || len(entries) != 1 || entries[0].Actor != "alice" || entries[0].Target != "alice" {
		t.Fatalf("logout entries: %+v %v", entries, err)
	}
}

func TestAuthRevokeUser(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	e.user(t, "bob")
	aliceToken, alice := e.login(t, "alice", "password-1")
	bobToken, _ := e.login(t, "bob", "password-1")

	if err := e.auth.RevokeUser(ctx, alice, "bob"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("alice revokes bob: %v, want ErrForbidden", err)
	}
	if err := e.auth.RevokeUser(ctx, nil, "bob"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("no actor: %v, want ErrUnauthenticated", err)
	}
	if err := e.auth.RevokeUser(ctx, e.admin, "ghost"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v, want ErrNotFound", err)
	}
	if _, err := e.auth.Authenticate(ctx, bobToken, "bearer"); err != nil {
		t.Fatalf("bob after refused revokes: %v", err)
	}
	if err := e.auth.RevokeUser(ctx, e.admin, "Bob"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Authenticate(ctx, bobToken, "bearer"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("bob after the admin's revoke: %v", err)
	}
	if err := e.auth.RevokeUser(ctx, alice, "alice"); err != nil {
		t.Fatalf("alice revokes her own sessions: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, aliceToken, "bearer"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("alice after her own revoke: %v", err)
	}
	entries, err := e.audit.List(ctx, AuditQuery{Action: "user.revoke"})
	if err != nil || len(entries) != 2 {
		t.Fatalf("user.revoke entries: %+v %v", entries, err)
	}
	if entries[0].Actor != "alice" || entries[0].Target != "alice" || entries[1].Actor != "admin" || entries[1].Target != "bob" {
		t.Errorf("user.revoke entries (newest first): %+v", entries)
	}
}

func TestAuthDepartmentExists(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	if _, err := e.auth.PutDepartment(ctx, e.admin, Department{ID: "qa", Name: Text{EN: "QA"}}); err != nil {
		t.Fatal(err)
	}
	for id, want := range map[string]bool{"qa": true, "QA": false, "nowhere": false, "": false} {
		if got, err := e.auth.DepartmentExists(ctx, id); got != want || err != nil {
			t.Errorf("DepartmentExists(%q) = %v, %v; want %v", id, got, err, want)
		}
	}
}
