package engine

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// authTestClock is a clock the test moves.
type authTestClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *authTestClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *authTestClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// authTestFastArgon2 keeps tests quick under -race; TestAuthBootstrap uses the defaults.
var authTestFastArgon2 = Argon2Params{Memory: 1024, Time: 1, Threads: 1}

type authTestEnv struct {
	auth   *Auth
	audit  *Audit
	st     *store.Store
	clock  *authTestClock
	sleeps *authTestSleeps
	admin  *Principal // the bootstrapped admin, signed in
}

// authTestSleeps records the delays Auth asks for instead of waiting them.
type authTestSleeps struct {
	mu sync.Mutex
	d  []time.Duration
}

func (s *authTestSleeps) Sleep(ctx context.Context, d time.Duration) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.d = append(s.d, d)
	return ctx.Err()
}

// take returns the delays asked for since the last take.
func (s *authTestSleeps) take() []time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.d
	s.d = nil
	return d
}

func newAuthTestEnv(t *testing.T) *authTestEnv {
	t.Helper()
	st := storetest.New(t)
	clock := &authTestClock{t: time.Date(2025, 6, 1, 9, 0, 0, 0, time.UTC)}
	audit := NewAudit(st)
	sleeps := &authTestSleeps{}
	a := NewAuth(st, audit, AuthOptions{Now: clock.Now, Argon2: authTestFastArgon2, Sleep: sleeps.Sleep})
	ctx := context.Background()
	if _, _, err := a.Bootstrap(ctx, "admin-pass-1"); err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	_, admin, err := a.Login(ctx, "admin", "admin-pass-1", "10.0.0.1")
	if err != nil {
		t.Fatalf("admin login: %v", err)
	}
	return &authTestEnv{auth: a, audit: audit, st: st, clock: clock, sleeps: sleeps, admin: admin}
}

// user creates a user with password "password-1" and the given roles.
func (e *authTestEnv) user(t *testing.T, name string, roles ...string) User {
	t.Helper()
	u, err := e.auth.CreateUser(context.Background(), e.admin, UserInput{Username: name, Password: "password-1", Roles: roles})
	if err != nil {
		t.Fatalf("create user %s: %v", name, err)
	}
	return u
}

func (e *authTestEnv) login(t *testing.T, name, pw string) (string, *Principal) {
	t.Helper()
	token, p, err := e.auth.Login(context.Background(), name, pw, "10.0.0.2")
	if err != nil {
		t.Fatalf("login %s: %v", name, err)
	}
	return token, p
}

func (e *authTestEnv) loginToken(t *testing.T, name, pw string) string {
	t.Helper()
	token, _ := e.login(t, name, pw)
	return token
}

// authTestFieldError checks that err is a FieldErrors with code at path.
func authTestFieldError(t *testing.T, err error, path, code string) FieldError {
	t.Helper()
	fe, ok := AsFieldErrors(err)
	if !ok {
		t.Fatalf("got %v, want field errors with %s: %s", err, path, code)
	}
	for _, f := range fe {
		if f.Path == path && f.Code == code {
			if msg := Message(LangZH, f.Code, f.Params); msg == f.Code || strings.Contains(msg, "{") {
				t.Errorf("code %s renders as %q in zh-CN", f.Code, msg)
			}
			if msg := Message(LangEN, f.Code, f.Params); msg == f.Code || strings.Contains(msg, "{") {
				t.Errorf("code %s renders as %q in en", f.Code, msg)
			}
			return f
		}
	}
	t.Fatalf("field errors %v: want %s: %s", fe, path, code)
	return FieldError{}
}

func TestAuthBootstrap(t *testing.T) {
	st, ctx := storetest.New(t), context.Background()
	audit := NewAudit(st)
	a := NewAuth(st, audit, AuthOptions{}) // default argon2 costs, as in production

	created, pw, err := a.Bootstrap(ctx, "")
	if err != nil || !created || len(pw) != 20 {
		t.Fatalf("bootstrap: created %v password %q err %v", created, pw, err)
	}
	again, pw2, err := a.Bootstrap(ctx, "")
	if err != nil || again || pw2 != "" {
		t.Fatalf("second bootstrap: created %v password %q err %v", again, pw2, err)
	}
	_, p, err := a.Login(ctx, "Admin", pw, "127.0.0.1")
	if err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	if p.Username != "admin" || !a.Can(ctx, p, "", PermSystemAdmin) || p.CSRF == "" || p.SessionID == "" {
		t.Fatalf("admin principal: %+v", p)
	}
	var stored authPasswordDoc
	if err := st.Get(ctx, "passwords", "admin", &stored); err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(stored.Hash, "$argon2id$v=19$m=19456,t=2,p=1$") || strings.Contains(stored.Hash, pw) {
		t.Fatalf("stored password %q is not an argon2id hash with the default costs", stored.Hash)
	}
	var raw bson.M
	if err := st.Get(ctx, "users", "admin", &raw); err != nil {
		t.Fatal(err)
	}
	if b, _ := json.Marshal(raw); strings.Contains(string(b), "argon2") || strings.Contains(string(b), pw) {
		t.Fatalf("user document carries the password: %s", b)
	}
	if u, _ := a.GetUser(ctx, "admin"); u.Username != "admin" {
		t.Fatalf("GetUser: %+v", u)
	}
	roles, err := a.ListRoles(ctx)
	if err != nil || len(roles) != 1 || roles[0].Name != "admin" {
		t.Fatalf("roles after bootstrap: %+v %v", roles, err)
	}

	// A chosen password must satisfy the policy.
	fresh := NewAuth(storetest.New(t), nil, AuthOptions{Argon2: authTestFastArgon2})
	_, _, err = fresh.Bootstrap(ctx, "short")
	authTestFieldError(t, err, "password", "weak_password")
	created, pw, err = fresh.Bootstrap(ctx, "chosen-pass-9")
	if err != nil || !created || pw != "" {
		t.Fatalf("bootstrap with a chosen password: %v %q %v", created, pw, err)
	}
}

func TestAuthPasswordHashing(t *testing.T) {
	h, err := authHashPassword("correct horse 1", authTestFastArgon2)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=1024,t=1,p=1$") || len(strings.Split(h, "$")) != 6 {
		t.Fatalf("hash %q", h)
	}
	if h2, _ := authHashPassword("correct horse 1", authTestFastArgon2); h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	for pw, want := range map[string]bool{"correct horse 1": true, "correct horse 2": false, "": false} {
		if ok, err := authVerifyPassword(h, pw); ok != want || err != nil {
			t.Errorf("verify %q: %v %v, want %v", pw, ok, err, want)
		}
	}
	for _, bad := range []string{"", "plain", "$argon2i$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaA", "$argon2id$v=19$m=99999999,t=1,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaA"} {
		if ok, err := authVerifyPassword(bad, "x"); ok || err == nil {
			t.Errorf("verify against %q: %v %v, want an error", bad, ok, err)
		}
	}
	for pw, ok := range map[string]bool{"abcdefg1": true, "abcdefgh": false, "12345678": false, "abc1": false, "密码密码密码密码8": true} {
		if err := authCheckPassword(pw); (err == nil) != ok {
			t.Errorf("policy on %q: %v", pw, err)
		}
	}
}

func TestAuthLoginFailures(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	for _, c := range []struct{ user, pw string }{{"alice", "wrong-pass-1"}, {"nobody", "password-1"}, {"alice", ""}, {"", ""}} {
		if _, _, err := e.auth.Login(ctx, c.user, c.pw, ""); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("login %q/%q: %v, want ErrUnauthenticated", c.user, c.pw, err)
		}
	}
	disabled := true
	u, _ := e.auth.GetUser(ctx, "alice")
	if _, err := e.auth.UpdateUser(ctx, e.admin, "alice", UserPatch{Disabled: &disabled}, u.Rev); err != nil {
		t.Fatal(err)
	}
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", ""); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled user: %v, want ErrUnauthenticated", err)
	}
}

func TestAuthLoginThrottle(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	for i := range 5 {
		if _, _, err := e.auth.Login(ctx, "alice", "wrong-pass-1", "10.1.1.1"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
		e.clock.Add(time.Minute)
	}
	// The address that failed five times is refused for this user, even with the right password.
	_, _, err := e.auth.Login(ctx, "alice", "password-1", "10.1.1.1")
	var te *ThrottledError
	if !errors.Is(err, ErrThrottled) || !errors.As(err, &te) {
		t.Fatalf("right password after 5 failures from the address: %v, want ErrThrottled", err)
	}
	// The first failure was 5 minutes ago; it leaves the 15-minute window in 10.
	if te.RetryAfter != 600 {
		t.Errorf("RetryAfter %d, want 600", te.RetryAfter)
	}
	e.clock.Add(10*time.Minute + time.Second)
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", "10.1.1.1"); err != nil {
		t.Fatalf("after the window: %v", err)
	}
	// A success clears the username's count.
	for range 4 {
		_, _, _ = e.auth.Login(ctx, "alice", "wrong-pass-1", "10.1.1.1")
	}
	e.login(t, "alice", "password-1")
	for range 4 {
		_, _, _ = e.auth.Login(ctx, "alice", "wrong-pass-1", "10.1.1.1")
	}
	e.login(t, "alice", "password-1")
	if d := e.sleeps.take(); len(d) != 0 {
		t.Errorf("delays %v, want none below MaxFailures", d)
	}
}

func TestAuthLoginThrottleByIP(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	// Guessing across usernames from one address: 4 × MaxFailures, then the address waits.
	for i := range 20 {
		name := []string{"bob", "carol", "dave", "erin", "frank"}[i%5]
		if _, _, err := e.auth.Login(ctx, name, "guess-pass-1", "203.0.113.7"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("guess %d: %v", i+1, err)
		}
	}
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", "203.0.113.7"); !errors.Is(err, ErrThrottled) {
		t.Fatalf("21st attempt from the address: %v, want ErrThrottled", err)
	}
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", "198.51.100.1"); err != nil {
		t.Fatalf("another address: %v", err)
	}
}

func TestAuthLoginThrottleParallel(t *testing.T) {
	// Attempts are counted when they start, so parallel guesses from one address get MaxFailures
	// tries in all.
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	var mu sync.Mutex
	counts := map[string]int{}
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, _, err := e.auth.Login(ctx, "alice", "wrong-pass-1", "203.0.113.9")
			mu.Lock()
			defer mu.Unlock()
			switch {
			case errors.Is(err, ErrThrottled):
				counts["throttled"]++
			case errors.Is(err, ErrUnauthenticated):
				counts["checked"]++
			default:
				t.Errorf("login: %v", err)
			}
		}()
	}
	wg.Wait()
	if counts["checked"] != 5 || counts["throttled"] != 11 {
		t.Fatalf("16 parallel guesses: %v, want 5 checked and 11 throttled", counts)
	}
}

func TestAuthSessions(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	token, lp := e.login(t, "alice", "password-1")
	if len(token) != 43 {
		t.Errorf("token %q: want 32 bytes base64url", token)
	}
	p, err := e.auth.Authenticate(ctx, token, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	if p.Username != "alice" || p.Via != "cookie" || p.CSRF != lp.CSRF || p.SessionID != lp.SessionID ||
		!p.ExpiresAt.Equal(e.clock.Now().Add(12*time.Hour)) {
		t.Fatalf("principal %+v (login gave %+v)", p, lp)
	}
	if !p.CheckCSRF(lp.CSRF) || p.CheckCSRF("") || p.CheckCSRF("x"+lp.CSRF) {
		t.Error("CheckCSRF for a cookie session")
	}
	if bp, _ := e.auth.Authenticate(ctx, token, "bearer"); !bp.CheckCSRF("") {
		t.Error("a bearer session needs no CSRF token")
	}
	// The raw token is stored nowhere: the session is keyed by its hash.
	var s authSession
	if err := e.st.Get(ctx, "sessions", token, &s); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session found under the raw token: %v", err)
	}
	for _, bad := range []string{"", "not-a-token", strings.Repeat("A", 43)} {
		if _, err := e.auth.Authenticate(ctx, bad, "bearer"); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("token %q: %v", bad, err)
		}
	}

	e.clock.Add(12*time.Hour - time.Second)
	if _, err := e.auth.Authenticate(ctx, token, "cookie"); err != nil {
		t.Fatalf("just before expiry: %v", err)
	}
	e.clock.Add(time.Second)
	if _, err := e.auth.Authenticate(ctx, token, "cookie"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after the TTL: %v, want ErrUnauthenticated", err)
	}
	n, err := e.auth.PruneSessions(ctx)
	if err != nil || n != 2 { // alice's and the admin's, both from the start
		t.Fatalf("prune: %d %v", n, err)
	}
}

func TestAuthLogoutAndRevoke(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	t1, _ := e.login(t, "alice", "password-1")
	t2, _ := e.login(t, "alice", "password-1")
	if err := e.auth.Logout(ctx, t1); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.Logout(ctx, t1); err != nil {
		t.Fatalf("second logout: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, t1, "bearer"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after logout: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, t2, "bearer"); err != nil {
		t.Fatalf("the other session after logout: %v", err)
	}
	if err := e.auth.RevokeUser(ctx, e.admin, "alice"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Authenticate(ctx, t2, "bearer"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after RevokeUser: %v", err)
	}
	// A login after the revoke works, at the very same instant too.
	t3, _ := e.login(t, "alice", "password-1")
	if _, err := e.auth.Authenticate(ctx, t3, "bearer"); err != nil {
		t.Fatalf("new session after revoke: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, e.loginToken(t, "admin", "admin-pass-1"), "bearer"); err != nil {
		t.Fatalf("another user's session after revoke: %v", err)
	}
}

func TestAuthSetPassword(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	e.user(t, "bob")
	mine, me := e.login(t, "alice", "password-1")
	other, _ := e.login(t, "alice", "password-1")
	me, err := e.auth.Authenticate(ctx, mine, "cookie")
	if err != nil {
		t.Fatal(err)
	}
	authTestFieldError(t, e.auth.SetPassword(ctx, me, "alice", "weak"), "password", "weak_password")
	if err := e.auth.SetPassword(ctx, me, "alice", "new-password-2"); err != nil {
		t.Fatalf("own password: %v", err)
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
	if err := e.auth.SetPassword(ctx, me, "bob", "new-password-2"); !errors.Is(err, ErrForbidden) {
		t.Fatalf("alice sets bob's password: %v, want ErrForbidden", err)
	}
	// An admin reset ends all of the user's sessions.
	if err := e.auth.SetPassword(ctx, e.admin, "alice", "reset-password-3"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.Authenticate(ctx, mine, "cookie"); !errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("after an admin reset: %v", err)
	}
	if err := e.auth.SetPassword(ctx, SystemPrincipal(), "nobody", "reset-password-3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown user: %v", err)
	}
}

func TestAuthAdminOperationsNeedAdmin(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	_, alice := e.login(t, "alice", "password-1")
	checks := map[string]error{}
	_, checks["CreateUser"] = e.auth.CreateUser(ctx, alice, UserInput{Username: "eve", Password: "password-1"})
	_, checks["UpdateUser"] = e.auth.UpdateUser(ctx, alice, "alice", UserPatch{Roles: &[]string{"admin"}}, 1)
	_, checks["ListUsers"] = e.auth.ListUsers(ctx, alice)
	_, checks["PutRole"] = e.auth.PutRole(ctx, alice, Role{Name: "x", Label: Text{EN: "X"}})
	checks["DeleteRole"] = e.auth.DeleteRole(ctx, alice, "x")
	_, checks["PutDepartment"] = e.auth.PutDepartment(ctx, alice, Department{ID: "qa", Name: Text{EN: "QA"}})
	for op, err := range checks {
		if !errors.Is(err, ErrForbidden) {
			t.Errorf("%s by a non-admin: %v, want ErrForbidden", op, err)
		}
	}
	if _, err := e.auth.CreateUser(ctx, nil, UserInput{Username: "eve", Password: "password-1"}); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("CreateUser without a principal: %v", err)
	}
	// The system principal (CLI) may.
	if _, err := e.auth.CreateUser(ctx, SystemPrincipal(), UserInput{Username: "eve", Password: "password-1"}); err != nil {
		t.Errorf("CreateUser as the system: %v", err)
	}
	users, err := e.auth.ListUsers(ctx, e.admin)
	if err != nil || len(users) != 3 || users[0].Username != "admin" || users[2].Username != "eve" {
		t.Fatalf("list users: %+v %v", users, err)
	}
	if b, _ := json.Marshal(users); strings.Contains(string(b), "argon2") {
		t.Fatalf("ListUsers returns a hash: %s", b)
	}
}

func TestAuthUserValidation(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	create := func(in UserInput) error {
		_, err := e.auth.CreateUser(ctx, e.admin, in)
		return err
	}
	authTestFieldError(t, create(UserInput{Username: "bob", Password: "password"}), "password", "weak_password")
	f := authTestFieldError(t, create(UserInput{Username: "bob", Password: "pw1"}), "password", "weak_password")
	if f.Params["min"] != 8 {
		t.Errorf("weak_password params %v", f.Params)
	}
	authTestFieldError(t, create(UserInput{Username: "Bob Smith!", Password: "password-1"}), "username", "auth.bad_name")
	authTestFieldError(t, create(UserInput{Username: "b", Password: "password-1"}), "username", "auth.bad_name")
	authTestFieldError(t, create(UserInput{Password: "password-1"}), "username", "required")
	authTestFieldError(t, create(UserInput{Username: "system", Password: "password-1"}), "username", "not_allowed")
	authTestFieldError(t, create(UserInput{Username: "ALICE", Password: "password-1"}), "username", "exists")
	authTestFieldError(t, create(UserInput{Username: "bob", Password: "password-1", Roles: []string{"admin", "ghost"}}), "roles.1", "not_found")
	authTestFieldError(t, create(UserInput{Username: "bob", Password: "password-1", Email: "not an email"}), "email", "auth.bad_email")
	authTestFieldError(t, create(UserInput{Username: "bob", Password: "password-1", Department: "nowhere"}), "department", "not_found")
	authTestFieldError(t, create(UserInput{Username: "bob", Password: "password-1", Manager: "ghost"}), "manager", "not_found")
	// Several problems at once are all reported.
	fe, _ := AsFieldErrors(create(UserInput{Username: "B!", Password: "x"}))
	if len(fe) != 2 {
		t.Errorf("two bad fields: %v", fe)
	}

	u, err := e.auth.CreateUser(ctx, e.admin, UserInput{Username: " Bob ", DisplayName: "鲍勃", Email: "bob@example.com",
		Roles: []string{"admin"}, Manager: "alice", Password: "password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Username != "bob" || u.Rev != 1 || u.Manager != "alice" || u.CreatedAt.IsZero() {
		t.Fatalf("created %+v", u)
	}
	name := "Robert"
	if _, err := e.auth.UpdateUser(ctx, e.admin, "bob", UserPatch{DisplayName: &name}, 7); !errors.Is(err, ErrConflict) {
		t.Fatalf("stale revision: %v, want ErrConflict", err)
	}
	u, err = e.auth.UpdateUser(ctx, e.admin, "bob", UserPatch{DisplayName: &name}, 1)
	if err != nil || u.DisplayName != "Robert" || u.Rev != 2 || u.Email != "bob@example.com" {
		t.Fatalf("update: %+v %v", u, err)
	}
	if _, err := e.auth.UpdateUser(ctx, e.admin, "ghost", UserPatch{}, 1); !errors.Is(err, ErrNotFound) {
		t.Fatalf("update of an unknown user: %v", err)
	}
}

func TestAuthLastAdmin(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	yes := true
	_, err := e.auth.UpdateUser(ctx, e.admin, "admin", UserPatch{Disabled: &yes}, 1)
	authTestFieldError(t, err, "disabled", "auth.last_admin")
	_, err = e.auth.UpdateUser(ctx, e.admin, "admin", UserPatch{Roles: &[]string{}}, 1)
	authTestFieldError(t, err, "roles", "auth.last_admin")
	e.user(t, "alice", "admin")
	if _, err := e.auth.UpdateUser(ctx, e.admin, "admin", UserPatch{Disabled: &yes}, 1); err != nil {
		t.Fatalf("with a second admin: %v", err)
	}
	if _, err := e.auth.Authenticate(ctx, e.loginToken(t, "alice", "password-1"), "bearer"); err != nil {
		t.Fatal(err)
	}
}

func TestAuthPermissions(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	reader, err := e.auth.PutRole(ctx, e.admin, Role{Name: "reader", Label: Text{ZH: "只读", EN: "Reader"},
		Grants: []Grant{{App: "trace", Actions: []string{PermAppRead}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.PutRole(ctx, e.admin, Role{Name: "designer", Label: Text{EN: "Designer"},
		Grants: []Grant{{App: "*", Actions: []string{PermAppDesign, "record.*"}}}}); err != nil {
		t.Fatal(err)
	}
	e.user(t, "rita", "reader")
	e.user(t, "dan", "designer")
	e.user(t, "nora")
	_, rita := e.login(t, "rita", "password-1")
	_, dan := e.login(t, "dan", "password-1")
	_, nora := e.login(t, "nora", "password-1")

	cases := []struct {
		who         *Principal
		app, action string
		want        bool
	}{
		{rita, "trace", PermAppRead, true},
		{rita, "trace", PermAppDesign, false},
		{rita, "other", PermAppRead, false},
		{rita, "", PermSystemAdmin, false},
		{dan, "trace", PermAppDesign, true},
		{dan, "anything", PermAppDesign, true},
		{dan, "trace", "record.create", true},
		{dan, "trace", "recordx.create", false},
		{dan, "trace", PermAppRead, false},
		{nora, "trace", PermAppRead, false},
		{e.admin, "trace", "record.delete", true},
		{e.admin, "", PermSystemAdmin, true},
		{SystemPrincipal(), "", PermSystemAdmin, true},
		{nil, "trace", PermAppRead, false},
	}
	for _, c := range cases {
		name := "nil"
		if c.who != nil {
			name = c.who.Username
		}
		if got := e.auth.Can(ctx, c.who, c.app, c.action); got != c.want {
			t.Errorf("Can(%s, %q, %q) = %v, want %v", name, c.app, c.action, got, c.want)
		}
		err := e.auth.Require(ctx, c.who, c.app, c.action)
		switch {
		case c.want && err != nil:
			t.Errorf("Require(%s, %q, %q): %v", name, c.app, c.action, err)
		case !c.want && c.who != nil && !errors.Is(err, ErrForbidden):
			t.Errorf("Require(%s, %q, %q): %v, want ErrForbidden", name, c.app, c.action, err)
		case c.who == nil && !errors.Is(err, ErrUnauthenticated):
			t.Errorf("Require(nil): %v, want ErrUnauthenticated", err)
		}
	}

	// A role change applies at once.
	reader.Grants = append(reader.Grants, Grant{App: "trace", Actions: []string{PermAppDesign}})
	if reader, err = e.auth.PutRole(ctx, e.admin, reader); err != nil || reader.Rev != 2 {
		t.Fatalf("update role: %+v %v", reader, err)
	}
	if !e.auth.Can(ctx, rita, "trace", PermAppDesign) {
		t.Error("a grant added to a role is not seen")
	}
	if _, err := e.auth.PutRole(ctx, e.admin, Role{Name: "reader", Label: Text{EN: "Again"}}); err == nil {
		t.Error("creating an existing role succeeded")
	}
	stale := reader
	stale.Rev = 1
	if _, err := e.auth.PutRole(ctx, e.admin, stale); !errors.Is(err, ErrConflict) {
		t.Errorf("stale role update: %v, want ErrConflict", err)
	}

	// Validation names the field.
	_, err = e.auth.PutRole(ctx, e.admin, Role{Name: "x!", Grants: []Grant{{App: "trace", Actions: []string{"Read Everything"}}, {App: "a b"}}})
	authTestFieldError(t, err, "name", "auth.bad_name")
	authTestFieldError(t, err, "label", "required")
	authTestFieldError(t, err, "grants.0.actions.0", "auth.bad_action")
	authTestFieldError(t, err, "grants.1.app", "auth.bad_app")
	authTestFieldError(t, err, "grants.1.actions", "required")

	// The admin role keeps its grants.
	adm, err := e.auth.PutRole(ctx, e.admin, Role{Name: "admin", Label: Text{ZH: "管理员", EN: "Admin"}, Rev: 1,
		Grants: []Grant{{App: "trace", Actions: []string{PermAppRead}}}})
	if err != nil || len(adm.Grants) != 1 || adm.Grants[0].App != "*" {
		t.Fatalf("admin role update: %+v %v", adm, err)
	}
	if !e.auth.Can(ctx, e.admin, "", PermSystemAdmin) {
		t.Fatal("admin lost system.admin")
	}

	// Deleting.
	if err := e.auth.DeleteRole(ctx, e.admin, "admin"); !errors.Is(err, ErrConflict) {
		t.Errorf("delete admin role: %v, want ErrConflict", err)
	}
	if err := e.auth.DeleteRole(ctx, e.admin, "reader"); !errors.Is(err, ErrConflict) {
		t.Errorf("delete a role in use: %v, want ErrConflict", err)
	}
	if _, err := e.auth.UpdateUser(ctx, e.admin, "rita", UserPatch{Roles: &[]string{}}, 1); err != nil {
		t.Fatal(err)
	}
	if err := e.auth.DeleteRole(ctx, e.admin, "reader"); err != nil {
		t.Fatalf("delete an unused role: %v", err)
	}
	if err := e.auth.DeleteRole(ctx, e.admin, "reader"); !errors.Is(err, ErrNotFound) {
		t.Errorf("delete a deleted role: %v, want ErrNotFound", err)
	}
	if e.auth.Can(ctx, &Principal{Username: "x", Roles: []string{"reader"}}, "trace", PermAppRead) {
		t.Error("a deleted role still grants")
	}
	roles, _ := e.auth.ListRoles(ctx)
	if len(roles) != 2 || roles[0].Name != "admin" || roles[1].Name != "designer" {
		t.Errorf("roles after delete: %+v", roles)
	}
	// The name can be used again.
	again, err := e.auth.PutRole(ctx, e.admin, Role{Name: "reader", Label: Text{EN: "Reader"},
		Grants: []Grant{{App: "trace", Actions: []string{PermAppRead}}}})
	if err != nil || again.Rev != 4 {
		t.Fatalf("create a deleted role again: %+v %v", again, err)
	}
}

func TestAuthDepartments(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "ceo")
	e.user(t, "plant-head")
	put := func(d Department) (Department, error) { return e.auth.PutDepartment(ctx, e.admin, d) }
	for _, d := range []Department{
		{ID: "hq", Name: Text{ZH: "总部", EN: "HQ"}, Head: "ceo"},
		{ID: "plant", Name: Text{ZH: "工厂"}, Parent: "hq", Head: "plant-head"},
		{ID: "qa", Name: Text{ZH: "品控"}, Parent: "plant"},
	} {
		if _, err := put(d); err != nil {
			t.Fatalf("put %s: %v", d.ID, err)
		}
	}
	if _, err := put(Department{ID: "qa", Name: Text{EN: "QA"}}); err == nil {
		t.Error("creating an existing department succeeded")
	}
	_, err := put(Department{ID: "hq", Name: Text{EN: "HQ"}, Parent: "qa", Rev: 1})
	authTestFieldError(t, err, "parent", "auth.dept_cycle")
	_, err = put(Department{ID: "lab", Name: Text{EN: "Lab"}, Parent: "nowhere", Head: "ghost"})
	authTestFieldError(t, err, "parent", "not_found")
	authTestFieldError(t, err, "head", "not_found")
	_, err = put(Department{ID: "X Y"})
	authTestFieldError(t, err, "id", "auth.bad_name")
	authTestFieldError(t, err, "name", "required")

	for _, c := range []struct {
		dept   string
		levels int
		want   string
	}{
		{"qa", 1, ""},
		{"qa", 2, "plant-head"},
		{"qa", 0, "plant-head,ceo"},
		{"plant", 1, "plant-head"},
		{"hq", 5, "ceo"},
	} {
		heads, err := e.auth.DepartmentHeads(ctx, c.dept, c.levels)
		if err != nil || strings.Join(heads, ",") != c.want {
			t.Errorf("heads of %s, %d levels: %v %v, want %q", c.dept, c.levels, heads, err, c.want)
		}
	}
	if _, err := e.auth.DepartmentHeads(ctx, "nowhere", 1); !errors.Is(err, ErrNotFound) {
		t.Errorf("heads of an unknown department: %v", err)
	}
	qa, err := put(Department{ID: "qa", Name: Text{ZH: "品控部"}, Parent: "plant", Head: "ceo", Rev: 1})
	if err != nil || qa.Rev != 2 {
		t.Fatalf("update: %+v %v", qa, err)
	}
	depts, err := e.auth.ListDepartments(ctx)
	if err != nil || len(depts) != 3 || depts[0].ID != "hq" || depts[2].Name.ZH != "品控部" {
		t.Fatalf("list: %+v %v", depts, err)
	}
	// Users may now belong to a department.
	if _, err := e.auth.CreateUser(ctx, e.admin, UserInput{Username: "quinn", Department: "qa", Password: "password-1"}); err != nil {
		t.Fatal(err)
	}
	_, p := e.login(t, "quinn", "password-1")
	if p.Department != "qa" {
		t.Errorf("principal department %q", p.Department)
	}
}

func TestAuthAuditTrail(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	_, _, _ = e.auth.Login(ctx, "alice", "wrong-pass-1", "10.0.0.9")
	_, alice := e.login(t, "alice", "password-1")
	if err := e.auth.SetPassword(ctx, alice, "alice", "new-password-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.auth.PutRole(ctx, e.admin, Role{Name: "reader", Label: Text{EN: "Reader"},
		Grants: []Grant{{App: "*", Actions: []string{PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	// A password change leaves the user document (and its revision) alone.
	if _, err := e.auth.UpdateUser(ctx, e.admin, "alice", UserPatch{Roles: &[]string{"reader"}}, 1); err != nil {
		t.Fatal(err)
	}

	rep, err := e.audit.Verify(ctx)
	if err != nil || !rep.OK {
		t.Fatalf("verify: %+v %v", rep, err)
	}
	entries, err := e.audit.List(ctx, AuditQuery{Limit: 500})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]AuditEntry{}
	for _, en := range entries {
		if _, ok := seen[en.Action]; !ok {
			seen[en.Action] = en // newest of each action
		}
		b, _ := json.Marshal(en)
		for _, secret := range []string{"argon2", "passwordHash", "password-1", "new-password-2", "admin-pass-1"} {
			if strings.Contains(string(b), secret) {
				t.Errorf("audit entry %d holds %q: %s", en.Seq, secret, b)
			}
		}
	}
	for _, action := range []string{"user.create", "login", "login.failed", "user.passwd", "role.create", "user.update"} {
		if _, ok := seen[action]; !ok {
			t.Errorf("no %s entry in %d entries", action, len(entries))
		}
	}
	if f := seen["login.failed"]; f.Actor != "alice" || f.IP != "10.0.0.9" || f.After.(map[string]any)["reason"] != "bad_password" {
		t.Errorf("login.failed entry: %+v", f)
	}
	if c := seen["user.create"]; c.Actor != "admin" || c.Target != "alice" || c.After.(map[string]any)["username"] != "alice" {
		t.Errorf("user.create entry: %+v", c)
	}
	up := seen["user.update"]
	before, _ := up.Before.(map[string]any)
	after, _ := up.After.(map[string]any)
	if before == nil || after == nil || len(before["roles"].([]any)) != 0 || after["roles"].([]any)[0] != "reader" {
		t.Errorf("user.update entry: %+v", up)
	}
	if first := entries[len(entries)-1]; first.Action != "user.create" || first.Actor != SystemActor || first.Target != "admin" {
		t.Errorf("first entry: %+v, want the bootstrap's user.create", first)
	}
}
