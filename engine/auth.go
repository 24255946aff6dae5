package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"tracecraft/engine/store"
)

// The collections of users, passwords, roles, departments and sessions.
const (
	authUsersCollection       = "users"
	authPasswordsCollection   = "passwords"
	authRolesCollection       = "roles"
	authDepartmentsCollection = "departments"
	authSessionsCollection    = "sessions"
	authRevocationsCollection = "session_revocations"
)

// Permission actions the kernel itself checks. Engines define their own ("record.create", …);
// an action is a dotted lowercase name.
const (
	PermSystemAdmin = "system.admin" // manage users, roles, departments; read the audit log
	PermAppRead     = "app.read"     // open an app and read its records
	PermAppDesign   = "app.design"   // change an app's definitions in the builder
)

// The built-in administrator role and user, and the name of the system actor.
const (
	RoleAdmin   = "admin"
	UserAdmin   = "admin"
	SystemActor = "system"
)

// authDummyPwd is what unknown users' passwords are checked against, to take the time a real
// check takes.
const authDummyPwd = "not-a-password-0"

// authNamePattern is the form of usernames, role names and department ids.
var authNamePattern = regexp.MustCompile(`^[a-z0-9._-]{2,64}$`)

func init() {
	RegisterMessages(map[string]Text{
		"auth.bad_name": {
			ZH: "须为 2–64 位小写字母、数字、点、下划线或连字符",
			EN: "must be 2–64 lowercase letters, digits, dots, underscores or hyphens",
		},
		"auth.bad_email":  {ZH: "不是有效的邮箱地址", EN: "is not a valid email address"},
		"auth.bad_action": {ZH: "不是有效的权限动作：{value}", EN: "is not a valid action: {value}"},
		"auth.bad_app":    {ZH: "不是有效的应用：{value}", EN: "is not a valid app: {value}"},
		"auth.last_admin": {ZH: "不能停用或降级最后一位系统管理员", EN: "cannot disable or demote the last administrator"},
		"auth.dept_cycle": {ZH: "上级部门不能是本部门或其下级部门", EN: "cannot be the department itself or one of its sub-departments"},
	})
}

// AuthOptions configure NewAuth; zero fields take the defaults.
type AuthOptions struct {
	// SessionTTL is how long a session lasts from login (default 12h).
	SessionTTL time.Duration
	// MaxFailures is how many failed logins of one username within FailureWindow start its
	// progressive delay (default 5): every further attempt on that username, from anywhere,
	// waits 1 s, then 2, 4, … up to MaxDelay, before its password is checked — slowed, never
	// locked out, so guessing cannot lock a user (admin) out. From one client address, that
	// many failures of one username, or four times as many of any, are refused (429) until
	// the oldest leaves the window.
	MaxFailures int
	// FailureWindow is the sliding window failures are counted in (default 15m).
	FailureWindow time.Duration
	// MaxDelay caps a username's progressive delay (default 10s).
	MaxDelay time.Duration
	// MaxChecks is how many password checks may run at once (default 4): each costs the
	// argon2 memory (19 MiB by default). More wait up to CheckWait (default 2s), then get a
	// *BusyError.
	MaxChecks int
	CheckWait time.Duration
	// Sleep waits d, or until ctx ends (default: a timer); tests replace it.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Argon2 are the costs of new password hashes (default DefaultArgon2Params).
	Argon2 Argon2Params
}

// Auth is the kernel's identity service: users, roles, departments, sessions and permission
// checks. It is safe for concurrent use; nothing it caches outlives a revoke.
type Auth struct {
	st    *store.Store
	audit *Audit
	opts  AuthOptions

	throttle authThrottle
	checks   chan struct{} // one token per password check running

	rolesMu sync.Mutex
	roles   map[string]authCachedRole

	dummyOnce sync.Once
	dummyHash string
}

// NewAuth returns the auth service over st, recording to audit (nil records nothing).
func NewAuth(st *store.Store, audit *Audit, opts AuthOptions) *Auth {
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = 5
	}
	if opts.FailureWindow <= 0 {
		opts.FailureWindow = 15 * time.Minute
	}
	if opts.MaxDelay <= 0 {
		opts.MaxDelay = 10 * time.Second
	}
	if opts.MaxChecks <= 0 {
		opts.MaxChecks = 4
	}
	if opts.CheckWait <= 0 {
		opts.CheckWait = 2 * time.Second
	}
	if opts.Sleep == nil {
		opts.Sleep = authSleep
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Argon2 == (Argon2Params{}) {
		opts.Argon2 = DefaultArgon2Params
	}
	return &Auth{st: st, audit: audit, opts: opts, roles: map[string]authCachedRole{}, checks: make(chan struct{}, opts.MaxChecks)}
}

// now is the clock truncated to what BSON keeps, so times compare the same before and after
// they are stored.
func (a *Auth) now() time.Time { return a.opts.Now().UTC().Truncate(time.Millisecond) }

// User is a person who signs in. Username is the _id: lowercase, 2–64 of [a-z0-9._-].
// The password hash is not part of it: users are revisioned and every revision is kept, so a
// hash stored here would outlive every password change. It lives in the passwords collection.
type User struct {
	Username    string    `json:"username" bson:"_id"`
	DisplayName string    `json:"displayName" bson:"displayName"`
	Email       string    `json:"email,omitempty" bson:"email,omitempty"`
	Department  string    `json:"department,omitempty" bson:"department,omitempty"`
	Roles       []string  `json:"roles" bson:"roles"`
	Manager     string    `json:"manager,omitempty" bson:"manager,omitempty"`
	Disabled    bool      `json:"disabled" bson:"disabled"`
	CreatedAt   time.Time `json:"createdAt" bson:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt" bson:"updatedAt"`
	Rev         int64     `json:"rev" bson:"_rev"`
}

// public returns u as callers and the audit log see it: roles are never null.
func (u User) public() User {
	if u.Roles == nil {
		u.Roles = []string{}
	}
	return u
}

// UserInput is a new user, as CreateUser takes it.
type UserInput struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"displayName"`
	Email       string   `json:"email"`
	Department  string   `json:"department"`
	Roles       []string `json:"roles"`
	Manager     string   `json:"manager"`
	Password    string   `json:"password"`
}

// UserPatch changes some fields of a user; nil fields stay as they are. Passwords change with
// SetPassword.
type UserPatch struct {
	DisplayName *string   `json:"displayName,omitempty"`
	Email       *string   `json:"email,omitempty"`
	Department  *string   `json:"department,omitempty"`
	Roles       *[]string `json:"roles,omitempty"`
	Manager     *string   `json:"manager,omitempty"`
	Disabled    *bool     `json:"disabled,omitempty"`
}

// authNormalizeName lowercases and trims a username, role name or department id.
func authNormalizeName(s string) string { return strings.ToLower(strings.TrimSpace(s)) }

// Bootstrap prepares an empty installation: it makes sure the built-in admin role exists and,
// when there is no user at all, creates the user "admin" with adminPassword or, when that is
// empty, a random 20-character password, which it returns for the CLI to print once (password
// is empty when the caller chose it). Later calls change nothing and return created false.
func (a *Auth) Bootstrap(ctx context.Context, adminPassword string) (created bool, password string, err error) {
	if err := a.ensureAdminRole(ctx); err != nil {
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	n, err := a.st.Count(ctx, authUsersCollection, nil)
	if err != nil {
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	if n > 0 {
		return false, "", nil
	}
	pw := adminPassword
	if pw == "" {
		if pw, err = authRandomPassword(20); err != nil {
			return false, "", fmt.Errorf("bootstrap: %w", err)
		}
		password = pw
	} else if err := authCheckPassword(pw); err != nil {
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	hash, err := authHashPassword(pw, a.opts.Argon2)
	if err != nil {
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	now := a.now()
	u := User{
		Username: UserAdmin, DisplayName: "Administrator", Roles: []string{RoleAdmin},
		CreatedAt: now, UpdatedAt: now,
	}
	// The user first: only the node whose Create wins may write the password, or a node that
	// lost the race would replace the password the winner printed.
	if err := a.st.Create(ctx, authUsersCollection, u.Username, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return false, "", nil // another node bootstrapped at the same moment
		}
		return false, "", fmt.Errorf("bootstrap: %w", err)
	}
	u.Rev = 1
	var errs []error
	if err := a.putPasswordHash(ctx, u.Username, hash); err != nil {
		password = "" // it was not stored
		errs = append(errs, fmt.Errorf("user %q was created without a password (set one with `tracecraft user passwd admin`): %w", u.Username, err))
	}
	if err := a.record(ctx, SystemPrincipal(), "user.create", "user", u.Username, nil, u.public()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return true, password, fmt.Errorf("bootstrap: %w", err)
	}
	return true, password, nil
}

// ensureAdminRole creates the built-in admin role if it is missing.
func (a *Auth) ensureAdminRole(ctx context.Context) error {
	r := authAdminRole()
	err := a.st.Create(ctx, authRolesCollection, r.Name, authRoleDoc{Role: r})
	if err != nil && !errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("create role %q: %w", r.Name, err)
	}
	a.forgetRoles()
	return nil
}

// CreateUser creates a user; actor needs system.admin. Input errors come back as FieldErrors
// naming the field ("username", "password", "roles.0", …); a taken username is "username":
// "exists".
func (a *Auth) CreateUser(ctx context.Context, actor *Principal, in UserInput) (User, error) {
	if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
		return User{}, fmt.Errorf("create user: %w", err)
	}
	name := authNormalizeName(in.Username)
	var fe FieldErrors
	switch {
	case name == "":
		fe.Add("username", "required", nil)
	case !authNamePattern.MatchString(name):
		fe.Add("username", "auth.bad_name", nil)
	case name == SystemActor:
		fe.Add("username", "not_allowed", map[string]any{"value": name})
	}
	u := User{Username: name, DisplayName: strings.TrimSpace(in.DisplayName), Email: strings.TrimSpace(in.Email),
		Department: authNormalizeName(in.Department), Roles: in.Roles, Manager: authNormalizeName(in.Manager)}
	if u.DisplayName == "" {
		u.DisplayName = name
	}
	if err := a.checkUser(ctx, &u, &fe); err != nil {
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	if pe, ok := AsFieldErrors(authCheckPassword(in.Password)); ok {
		fe = append(fe, pe...)
	}
	if err := fe.Err(); err != nil {
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	hash, err := authHashPassword(in.Password, a.opts.Argon2)
	if err != nil {
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	u.CreatedAt = a.now()
	u.UpdatedAt = u.CreatedAt
	// The user first: its Create is what makes the name ours, so a taken name never gets its
	// password replaced. Until the hash is written nobody can sign in as the new user.
	if err := a.st.Create(ctx, authUsersCollection, name, u); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return User{}, fmt.Errorf("create user %q: %w", name, Invalid("username", "exists", nil))
		}
		return User{}, fmt.Errorf("create user %q: %w", name, err)
	}
	u.Rev = 1
	var errs []error
	if err := a.putPasswordHash(ctx, name, hash); err != nil {
		errs = append(errs, fmt.Errorf("created without a password (set one with SetPassword): %w", err))
	}
	// The user exists either way, so the log says so.
	if err := a.record(ctx, actor, "user.create", "user", name, nil, u.public()); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return u.public(), fmt.Errorf("create user %q: %w", name, err)
	}
	return u.public(), nil
}

// checkUser validates the profile fields of u (not username or password), adding to fe; the
// error is a store failure.
func (a *Auth) checkUser(ctx context.Context, u *User, fe *FieldErrors) error {
	if utf8.RuneCountInString(u.DisplayName) > 100 {
		fe.Add("displayName", "too_long", map[string]any{"max": 100})
	}
	if u.Email != "" {
		local, domain, ok := strings.Cut(u.Email, "@")
		if !ok || local == "" || !strings.Contains(domain, ".") || strings.ContainsAny(u.Email, " \t\r\n<>,;") || len(u.Email) > 254 {
			fe.Add("email", "auth.bad_email", nil)
		}
	}
	if u.Department != "" {
		var d Department
		switch err := a.st.Get(ctx, authDepartmentsCollection, u.Department, &d); {
		case errors.Is(err, store.ErrNotFound):
			fe.Add("department", "not_found", map[string]any{"value": u.Department})
		case err != nil:
			return err
		}
	}
	roles := make([]string, 0, len(u.Roles))
	for i, r := range u.Roles {
		r = authNormalizeName(r)
		if slices.Contains(roles, r) {
			continue
		}
		role, err := a.loadRole(ctx, r)
		if err != nil {
			return err
		}
		if role == nil {
			fe.Add(fmt.Sprintf("roles.%d", i), "not_found", map[string]any{"value": r})
		}
		roles = append(roles, r)
	}
	u.Roles = roles
	if u.Manager != "" {
		if u.Manager == u.Username {
			fe.Add("manager", "not_allowed", map[string]any{"value": u.Manager})
		} else if _, err := a.getUser(ctx, u.Manager); errors.Is(err, store.ErrNotFound) {
			fe.Add("manager", "not_found", map[string]any{"value": u.Manager})
		} else if err != nil {
			return err
		}
	}
	return nil
}

// UpdateUser changes a user's profile, roles or disabled flag; actor needs system.admin. The
// user must still be at expectedRev (else ErrConflict). Disabling a user ends their sessions at
// their next request. The last enabled administrator cannot be disabled or lose the admin role.
func (a *Auth) UpdateUser(ctx context.Context, actor *Principal, username string, patch UserPatch, expectedRev int64) (User, error) {
	name := authNormalizeName(username)
	if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
		return User{}, fmt.Errorf("update user %q: %w", name, err)
	}
	cur, err := a.getUser(ctx, name)
	if err != nil {
		return User{}, fmt.Errorf("update user %q: %w", name, err)
	}
	if cur.Rev != expectedRev {
		return User{}, fmt.Errorf("update user %q: at revision %d, not %d: %w", name, cur.Rev, expectedRev, ErrConflict)
	}
	next := cur
	next.Roles = slices.Clone(cur.Roles)
	if patch.DisplayName != nil {
		next.DisplayName = strings.TrimSpace(*patch.DisplayName)
		if next.DisplayName == "" {
			next.DisplayName = name
		}
	}
	if patch.Email != nil {
		next.Email = strings.TrimSpace(*patch.Email)
	}
	if patch.Department != nil {
		next.Department = authNormalizeName(*patch.Department)
	}
	if patch.Roles != nil {
		next.Roles = slices.Clone(*patch.Roles)
	}
	if patch.Manager != nil {
		next.Manager = authNormalizeName(*patch.Manager)
	}
	if patch.Disabled != nil {
		next.Disabled = *patch.Disabled
	}
	var fe FieldErrors
	if err := a.checkUser(ctx, &next, &fe); err != nil {
		return User{}, fmt.Errorf("update user %q: %w", name, err)
	}
	if len(fe) == 0 {
		if err := a.checkLastAdmin(ctx, cur, next, &fe); err != nil {
			return User{}, fmt.Errorf("update user %q: %w", name, err)
		}
	}
	if err := fe.Err(); err != nil {
		return User{}, fmt.Errorf("update user %q: %w", name, err)
	}
	next.UpdatedAt = a.now()
	rev, err := a.st.Update(ctx, authUsersCollection, name, expectedRev, next)
	if err != nil {
		return User{}, fmt.Errorf("update user %q: %w", name, authStoreErr(err))
	}
	next.Rev = rev
	if err := a.record(ctx, actor, "user.update", "user", name, cur.public(), next.public()); err != nil {
		return next.public(), fmt.Errorf("update user %q: %w", name, err)
	}
	return next.public(), nil
}

// checkLastAdmin refuses, as a field error, a change that leaves no enabled user with
// system.admin: nobody could then manage users any more.
func (a *Auth) checkLastAdmin(ctx context.Context, cur, next User, fe *FieldErrors) error {
	wasAdmin, err := a.userIsAdmin(ctx, cur)
	if err != nil || !wasAdmin {
		return err
	}
	if stays, err := a.userIsAdmin(ctx, next); err != nil || stays {
		return err
	}
	users, err := a.allUsers(ctx)
	if err != nil {
		return err
	}
	for _, u := range users {
		if u.Username == cur.Username {
			continue
		}
		if ok, err := a.userIsAdmin(ctx, u); err != nil || ok {
			return err
		}
	}
	path := "roles"
	if next.Disabled && !cur.Disabled {
		path = "disabled"
	}
	fe.Add(path, "auth.last_admin", nil)
	return nil
}

func (a *Auth) userIsAdmin(ctx context.Context, u User) (bool, error) {
	if u.Disabled {
		return false, nil
	}
	return a.rolesAllow(ctx, u.Roles, "", PermSystemAdmin)
}

// SetPassword sets a user's password. A user may change their own (ChangeOwnPassword is the
// variant that asks for the current one); anyone else needs system.admin. Every other session of
// the user ends (the actor's own session stays when users change their own password). The user
// document is not touched, so a concurrent profile edit cannot make the change fail.
func (a *Auth) SetPassword(ctx context.Context, actor *Principal, username, newPassword string) error {
	name := authNormalizeName(username)
	if actor == nil {
		return fmt.Errorf("set password of %q: %w", name, ErrUnauthenticated)
	}
	self := actor.Username == name
	if !self {
		if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
			return fmt.Errorf("set password of %q: %w", name, err)
		}
	}
	if err := authCheckPassword(newPassword); err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	if _, err := a.getUser(ctx, name); err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	keep := ""
	if self {
		keep = actor.SessionID
	}
	if err := a.replacePassword(ctx, actor, name, newPassword, keep); err != nil {
		return fmt.Errorf("set password of %q: %w", name, err)
	}
	return nil
}

// replacePassword stores a new password for the existing user name, ends the user's sessions
// but keep (a session id, or "") and records "user.passwd".
func (a *Auth) replacePassword(ctx context.Context, actor *Principal, name, pw, keep string) error {
	hash, err := authHashPassword(pw, a.opts.Argon2)
	if err != nil {
		return err
	}
	if err := a.putPasswordHash(ctx, name, hash); err != nil {
		return err
	}
	if err := a.revokeSessions(ctx, name, keep); err != nil {
		return err
	}
	return a.record(ctx, actor, "user.passwd", "user", name, nil, map[string]any{"otherSessionsRevoked": true})
}

// ListUsers lists every user, by username; actor needs system.admin. Users are few, so this
// reads the whole collection.
func (a *Auth) ListUsers(ctx context.Context, actor *Principal) ([]User, error) {
	if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	users, err := a.allUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	for i := range users {
		users[i] = users[i].public()
	}
	return users, nil
}

func (a *Auth) allUsers(ctx context.Context) ([]User, error) {
	users, err := store.FindAll[User](ctx, a.st, authUsersCollection, nil, nil)
	if err != nil {
		return nil, err
	}
	sort.Slice(users, func(i, j int) bool { return users[i].Username < users[j].Username })
	return users, nil
}

// GetUser reads one user; ErrNotFound when there is none. It checks
// no permission: it is for engines (a flow looks up an approver's manager), not for handlers.
func (a *Auth) GetUser(ctx context.Context, username string) (User, error) {
	u, err := a.getUser(ctx, authNormalizeName(username))
	if err != nil {
		return User{}, fmt.Errorf("get user %q: %w", username, err)
	}
	return u.public(), nil
}

// getUser reads a user by normalised name; the store's ErrNotFound when there is none.
func (a *Auth) getUser(ctx context.Context, name string) (User, error) {
	var u User
	if err := a.st.Get(ctx, authUsersCollection, name, &u); err != nil {
		return User{}, err
	}
	return u, nil
}

// record appends an audit entry for an action of actor.
func (a *Auth) record(ctx context.Context, actor *Principal, action, kind, target string, before, after any) error {
	if a.audit == nil {
		return nil
	}
	e := AuditEntry{Action: action, Kind: kind, Target: target, Before: before, After: after}
	if actor != nil {
		e.Actor, e.IP = actor.Username, actor.IP
	}
	if _, err := a.audit.Append(ctx, e); err != nil {
		return fmt.Errorf("audit %s: %w", action, err)
	}
	return nil
}

// authStoreErr makes the store's revision conflicts and duplicates answer errors.Is(err,
// ErrConflict) too, as the API maps them.
func authStoreErr(err error) error {
	if errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return err
}
