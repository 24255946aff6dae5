package engine

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// Principal is who makes a request: a signed-in user (or the system), with what Authenticate
// read from their user document at that moment.
type Principal struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"displayName"`
	Roles       []string `json:"roles"`
	Department  string   `json:"department,omitempty"`
	// SessionID identifies the session (the hash of its token, never the token).
	SessionID string `json:"-"`
	// Via is how the token came: "cookie" or "bearer" (as the API passed it to Authenticate);
	// "system" for SystemPrincipal, empty in what Login returns.
	Via string `json:"via,omitempty"`
	// CSRF is the session's anti-forgery token; a request authenticated by cookie must echo it.
	// It is in the JSON so that the signed-in page can read it from the login or "me" response.
	CSRF      string    `json:"csrf,omitempty"`
	ExpiresAt time.Time `json:"expiresAt"`
	// IP is the client address, set by the API; audit entries of the principal's actions carry it.
	IP string `json:"-"`
}

// CheckCSRF reports whether a request by p may proceed given the anti-forgery token it sent:
// requests authenticated by a bearer token need none, cookie-authenticated ones must send the
// session's token. The comparison takes constant time.
func (p *Principal) CheckCSRF(sent string) bool {
	if p.Via != "cookie" {
		return true
	}
	return p.CSRF != "" && subtle.ConstantTimeCompare([]byte(sent), []byte(p.CSRF)) == 1
}

// SystemPrincipal is the actor of work done by the platform itself and by CLI commands such as
// `tracecraft user add`: it holds the admin role and has no session.
func SystemPrincipal() *Principal {
	return &Principal{Username: SystemActor, DisplayName: "System", Roles: []string{RoleAdmin}, Via: "system"}
}

// authSession is a session as stored, under the hex SHA-256 of its token: whoever reads the
// collection cannot sign in with what is there.
type authSession struct {
	ID       string    `bson:"_id"`
	Username string    `bson:"username"`
	Created  time.Time `bson:"created"`
	Expires  time.Time `bson:"expires"`
	CSRF     string    `bson:"csrf"`
	Epoch    string    `bson:"epoch"` // the user's revocation epoch at login
	IP       string    `bson:"ip,omitempty"`
	Revoked  bool      `bson:"revoked"`
}

// authRevocation ends all sessions of a user made before it: a session is valid only while the
// epoch it was created under is the user's current one (or it is the session to Keep). A new
// random epoch needs no read-modify-write, so racing revokes on several nodes are safe, and it
// does not depend on clocks agreeing.
type authRevocation struct {
	Epoch string    `bson:"epoch"`
	Keep  string    `bson:"keep,omitempty"`
	At    time.Time `bson:"at"`
}

const authTokenBytes = 32

func authRandom(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func authSessionID(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Login checks a username and password and opens a session. It returns the session token
// (32 random bytes, base64url; give it to the client as a cookie or bearer token) and the
// principal. A wrong username or password, or a disabled user, gives ErrUnauthenticated, the
// same error in about the same time for an unknown user. The principal's Via is empty: how the
// token travels is the API's choice. After MaxFailures failures for one username within
// FailureWindow, its attempts are slowed (progressive delay, see AuthOptions); an address that
// failed too often gets a *ThrottledError, and when MaxChecks password checks are running the
// attempt may get a *BusyError; neither counts as a failure.
func (a *Auth) Login(ctx context.Context, username, password, ip string) (string, *Principal, error) {
	name := authNormalizeName(username)
	if len(name) > 64 {
		name = name[:64] // keep absurd input out of the throttle map and the audit log
	}
	at, err := a.beginAttempt(ctx, name, ip)
	if err != nil {
		return "", nil, fmt.Errorf("login %q: %w", name, err)
	}
	now := a.now()
	// From here the attempt counts as a failure unless it succeeds or the store fails.
	fail := func(reason string) (string, *Principal, error) {
		err := a.record(ctx, &Principal{Username: name, IP: ip}, "login.failed", "user", name, nil, map[string]any{"reason": reason})
		if err != nil {
			return "", nil, fmt.Errorf("login %q: %w (%v)", name, ErrUnauthenticated, err)
		}
		return "", nil, fmt.Errorf("login %q: %w", name, ErrUnauthenticated)
	}
	storeFailed := func(err error) (string, *Principal, error) {
		at.release()
		return "", nil, fmt.Errorf("login %q: %w", name, err)
	}
	u, err := a.getUser(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		// Spend the time a real check takes.
		if _, err := at.check(ctx, func() (bool, error) { _, _ = authVerifyPassword(a.dummy(), password); return false, nil }); err != nil {
			return storeFailed(err)
		}
		return fail("unknown_user")
	}
	if err != nil {
		return storeFailed(err)
	}
	// The revocation epoch is read before the password: a reset that lands while this login
	// checks the old password moves the epoch on, and the session made here is then void.
	var rev authRevocation
	if err := a.st.Get(ctx, authRevocationsCollection, name, &rev); err != nil && !errors.Is(err, store.ErrNotFound) {
		return storeFailed(err)
	}
	ok, err := at.check(ctx, func() (bool, error) { return a.verifyStoredPassword(ctx, name, password) })
	if err != nil {
		return storeFailed(err)
	}
	if !ok {
		return fail("bad_password")
	}
	if u.Disabled {
		return fail("disabled")
	}

	token, err := authRandom(authTokenBytes)
	if err != nil {
		return storeFailed(err)
	}
	csrf, err := authRandom(authTokenBytes)
	if err != nil {
		return storeFailed(err)
	}
	s := authSession{ID: authSessionID(token), Username: name, Created: now, Expires: now.Add(a.opts.SessionTTL),
		CSRF: csrf, Epoch: rev.Epoch, IP: ip}
	if err := a.st.Put(ctx, authSessionsCollection, s.ID, s); err != nil {
		return storeFailed(err)
	}
	at.succeed()
	p := authPrincipal(u, s, "")
	p.IP = ip
	if err := a.record(ctx, p, "login", "user", name, nil, nil); err != nil {
		return "", nil, fmt.Errorf("login %q: %w", name, err)
	}
	return token, p, nil
}

// throttleKeys are the throttle counters an attempt to prove name's password from ip counts
// against: the username's (soft: past MaxFailures its attempts are delayed) and, when the
// address is known, the username's from that address (MaxFailures) and the address's (four
// times as many), both hard: past them the address is refused.
func (a *Auth) throttleKeys(name, ip string) []authThrottleKey {
	keys := []authThrottleKey{{key: "u:" + name, limit: a.opts.MaxFailures, soft: true, clear: true}}
	if ip != "" {
		keys = append(keys,
			authThrottleKey{key: "ui:" + name + " " + ip, limit: a.opts.MaxFailures, clear: true},
			authThrottleKey{key: "ip:" + ip, limit: 4 * a.opts.MaxFailures})
	}
	return keys
}

// authAttempt is one try to prove a user's password, counted by the throttle from its start:
// it ends as a failure (nothing more to do), a success (succeed) or not counted (release).
type authAttempt struct {
	a     *Auth
	at    time.Time
	keys  []authThrottleKey
	ended bool
}

// beginAttempt counts an attempt to prove name's password from ip. It returns a
// *ThrottledError when the address is at one of its limits; when the username has failed
// MaxFailures times it first waits the username's progressive delay (or until ctx ends).
func (a *Auth) beginAttempt(ctx context.Context, name, ip string) (*authAttempt, error) {
	at := &authAttempt{a: a, at: a.now(), keys: a.throttleKeys(name, ip)}
	wait, over := a.throttle.begin(at.at, a.opts.FailureWindow, at.keys)
	if wait > 0 {
		return nil, &ThrottledError{RetryAfter: int(math.Ceil(wait.Seconds()))}
	}
	if over >= 0 {
		if err := a.opts.Sleep(ctx, a.failureDelay(over)); err != nil {
			at.release()
			return nil, err
		}
	}
	return at, nil
}

// failureDelay is the progressive delay of a username over failures past MaxFailures: 1 s,
// doubling, at most MaxDelay.
func (a *Auth) failureDelay(over int) time.Duration {
	return min(time.Second<<min(over, 20), a.opts.MaxDelay)
}

// check runs the password check f in one of the MaxChecks slots; when none frees up within
// CheckWait it gives a *BusyError. An error (busy, the store failed) releases the attempt.
func (at *authAttempt) check(ctx context.Context, f func() (bool, error)) (bool, error) {
	if err := at.a.acquireCheck(ctx); err != nil {
		at.release()
		return false, err
	}
	ok, err := f()
	<-at.a.checks
	if err != nil {
		at.release()
	}
	return ok, err
}

func (a *Auth) acquireCheck(ctx context.Context) error {
	select {
	case a.checks <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(a.opts.CheckWait)
	defer t.Stop()
	select {
	case a.checks <- struct{}{}:
		return nil
	case <-t.C:
		return &BusyError{RetryAfter: 1}
	case <-ctx.Done():
		return ctx.Err()
	}
}

// succeed forgets the username's failures and takes the attempt back from the address's.
func (at *authAttempt) succeed() {
	if !at.ended {
		at.ended = true
		at.a.throttle.succeed(at.at, at.keys)
	}
}

// release takes back an attempt whose password was not checked.
func (at *authAttempt) release() {
	if !at.ended {
		at.ended = true
		at.a.throttle.release(at.at, at.keys)
	}
}

func authSleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// dummy is a hash to check passwords of unknown users against, made once with the same costs.
func (a *Auth) dummy() string {
	a.dummyOnce.Do(func() {
		a.dummyHash, _ = authHashPassword(authDummyPwd, a.opts.Argon2)
	})
	return a.dummyHash
}

func authPrincipal(u User, s authSession, via string) *Principal {
	return &Principal{
		Username: u.Username, DisplayName: u.DisplayName, Roles: append([]string{}, u.Roles...),
		Department: u.Department, SessionID: s.ID, Via: via, CSRF: s.CSRF, ExpiresAt: s.Expires,
	}
}

// Authenticate resolves a session token to its principal; via says how the token came
// ("cookie" or "bearer"). An unknown, expired or revoked session, or a disabled or deleted user,
// gives ErrUnauthenticated. Everything is read afresh (three lookups by _id), so a revoke or a
// role change applies to the next request.
func (a *Auth) Authenticate(ctx context.Context, token, via string) (*Principal, error) {
	if b, err := base64.RawURLEncoding.DecodeString(token); err != nil || len(b) != authTokenBytes {
		return nil, fmt.Errorf("authenticate: malformed token: %w", ErrUnauthenticated)
	}
	var s authSession
	if err := a.st.Get(ctx, authSessionsCollection, authSessionID(token), &s); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil, fmt.Errorf("authenticate: no such session: %w", ErrUnauthenticated)
		}
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if s.Revoked {
		return nil, fmt.Errorf("authenticate: session ended: %w", ErrUnauthenticated)
	}
	if !a.now().Before(s.Expires) {
		return nil, fmt.Errorf("authenticate: session expired: %w", ErrUnauthenticated)
	}
	var rev authRevocation
	err := a.st.Get(ctx, authRevocationsCollection, s.Username, &rev)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if err == nil && rev.Epoch != s.Epoch && rev.Keep != s.ID {
		return nil, fmt.Errorf("authenticate: session revoked: %w", ErrUnauthenticated)
	}
	u, err := a.getUser(ctx, s.Username)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("authenticate: user %q is gone: %w", s.Username, ErrUnauthenticated)
	}
	if err != nil {
		return nil, fmt.Errorf("authenticate: %w", err)
	}
	if u.Disabled {
		return nil, fmt.Errorf("authenticate: user %q is disabled: %w", s.Username, ErrUnauthenticated)
	}
	return authPrincipal(u, s, via), nil
}

// Logout ends the session of token. Ending an unknown or already ended session is no error.
func (a *Auth) Logout(ctx context.Context, token string) error {
	return a.LogoutSession(ctx, authSessionID(token))
}

// LogoutSession ends the session with the given id (Principal.SessionID): the API holds the
// principal of a request, not its token. Ending an unknown or already ended session is no error.
func (a *Auth) LogoutSession(ctx context.Context, sessionID string) error {
	var s authSession
	if err := a.st.Get(ctx, authSessionsCollection, sessionID, &s); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		return fmt.Errorf("logout: %w", err)
	}
	if s.Revoked {
		return nil
	}
	s.Revoked = true
	if err := a.st.Set(ctx, authSessionsCollection, sessionID, s); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	if err := a.record(ctx, &Principal{Username: s.Username}, "logout", "user", s.Username, nil, nil); err != nil {
		return fmt.Errorf("logout: %w", err)
	}
	return nil
}

// RevokeUser ends every session of a user at once, without looking for them: it starts a new
// revocation epoch that the user's existing sessions do not carry. Users may end their own
// sessions; anyone else's need system.admin. ErrNotFound when there is no such user.
func (a *Auth) RevokeUser(ctx context.Context, actor *Principal, username string) error {
	name := authNormalizeName(username)
	if actor == nil {
		return fmt.Errorf("revoke sessions of %q: %w", name, ErrUnauthenticated)
	}
	if actor.Username != name {
		if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
			return fmt.Errorf("revoke sessions of %q: %w", name, err)
		}
	}
	if _, err := a.getUser(ctx, name); err != nil {
		return fmt.Errorf("revoke sessions of %q: %w", name, err)
	}
	if err := a.revokeSessions(ctx, name, ""); err != nil {
		return fmt.Errorf("revoke sessions of %q: %w", name, err)
	}
	if err := a.record(ctx, actor, "user.revoke", "user", name, nil, nil); err != nil {
		return fmt.Errorf("revoke sessions of %q: %w", name, err)
	}
	return nil
}

// revokeSessions ends all sessions of name except keep (a session id, or "").
func (a *Auth) revokeSessions(ctx context.Context, name, keep string) error {
	epoch, err := authRandom(16)
	if err != nil {
		return err
	}
	return a.st.Set(ctx, authRevocationsCollection, name, authRevocation{Epoch: epoch, Keep: keep, At: a.now()})
}

// PruneSessions deletes expired and ended sessions and returns how many. It reads them from the
// sessions' indexes by expiry and by revocation (kernelIndexes), not the whole collection;
// run it now and then (the scheduler does), not per request.
func (a *Auth) PruneSessions(ctx context.Context) (int, error) {
	now := a.now()
	var stale []string
	seen := map[string]bool{}
	for _, q := range staleSessionQueries(now) {
		err := a.st.QueryEach(ctx, authSessionsCollection, q, func(raw bson.Raw) error {
			if id, ok := raw.Lookup("_id").StringValueOK(); ok && !seen[id] {
				seen[id] = true
				stale = append(stale, id)
			}
			return nil
		})
		if err != nil {
			return 0, fmt.Errorf("prune sessions: %w", err)
		}
	}
	n := 0
	for _, id := range stale {
		err := a.st.Delete(ctx, authSessionsCollection, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("prune sessions: %w", err)
		}
		n++
	}
	return n, nil
}

// staleSessionQueries are the queries of PruneSessions: the ids of the sessions expired by
// now, then of those ended by a logout.
func staleSessionQueries(now time.Time) []store.Query {
	return []store.Query{
		{Where: store.Lte("expires", now), Sort: []store.SortKey{{Path: "expires"}}, Limit: 1000, Fields: []string{"_id"}},
		{Where: store.Eq("revoked", true), Limit: 1000, Fields: []string{"_id"}},
	}
}

// authThrottle counts login attempts per key (username, username from an address, address)
// in memory, over a sliding window. An attempt is counted when it starts, so parallel guesses
// cannot overtake the count; a success clears the username's counts and takes the attempt back
// from the address's.
type authThrottle struct {
	mu     sync.Mutex
	hits   map[string][]time.Time // oldest first
	begins int
}

type authThrottleKey struct {
	key   string
	limit int
	soft  bool // past the limit attempts are delayed, not refused
	clear bool // a success forgets the key's attempts
}

// authThrottlePruneEvery is how many attempts pass between sweeps of keys whose window passed.
const authThrottlePruneEvery = 256

// begin records an attempt at now under every key, or, if a hard key is at its limit, records
// nothing and returns how long until its oldest counted failure leaves the window. over is how
// many attempts past its limit a soft key already holds (-1 when none is at its limit).
func (t *authThrottle) begin(now time.Time, window time.Duration, keys []authThrottleKey) (wait time.Duration, over int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.hits == nil {
		t.hits = map[string][]time.Time{}
	}
	if t.begins++; t.begins%authThrottlePruneEvery == 0 {
		for k, h := range t.hits {
			if len(h) == 0 || !now.Before(h[len(h)-1].Add(window)) {
				delete(t.hits, k)
			}
		}
	}
	over = -1
	for _, k := range keys {
		h := t.hits[k.key]
		for len(h) > 0 && !now.Before(h[0].Add(window)) {
			h = h[1:]
		}
		t.hits[k.key] = h
		switch {
		case len(h) < k.limit:
		case k.soft:
			over = max(over, len(h)-k.limit)
		default:
			wait = max(wait, h[len(h)-k.limit].Add(window).Sub(now))
		}
	}
	if wait > 0 {
		return max(wait, time.Second), -1
	}
	for _, k := range keys {
		t.hits[k.key] = append(t.hits[k.key], now)
	}
	return 0, over
}

// succeed clears the keys that a success clears and takes this attempt back from the others.
func (t *authThrottle) succeed(at time.Time, keys []authThrottleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		if k.clear {
			delete(t.hits, k.key)
		} else {
			t.hits[k.key] = authRemoveOne(t.hits[k.key], at)
		}
	}
}

// release takes back an attempt that did not get to check the password (the store failed).
func (t *authThrottle) release(at time.Time, keys []authThrottleKey) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, k := range keys {
		t.hits[k.key] = authRemoveOne(t.hits[k.key], at)
	}
}

func authRemoveOne(h []time.Time, at time.Time) []time.Time {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Equal(at) {
			return append(h[:i:i], h[i+1:]...)
		}
	}
	return h
}
