package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

// TestHardening14_LoginSlowsInsteadOfLockingOut: failed sign-ins from anywhere slow a
// username's attempts (1 s, doubling, at most MaxDelay) but never lock it out, so guessing
// admin's password from other addresses cannot keep admin out (issue 7 item 14).
func TestHardening14_LoginSlowsInsteadOfLockingOut(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	guess := func(i int) {
		t.Helper()
		ip := fmt.Sprintf("198.51.100.%d", i)
		if _, _, err := e.auth.Login(ctx, "alice", "wrong-pass-1", ip); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("guess %d from %s: %v", i, ip, err)
		}
	}
	for i := range 5 {
		guess(i)
	}
	if d := e.sleeps.take(); len(d) != 0 {
		t.Fatalf("delays %v before MaxFailures", d)
	}
	// The right password from the user's own address still signs in, after a delay.
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", "203.0.113.1"); err != nil {
		t.Fatalf("right password after 5 failures from other addresses: %v, want a session", err)
	}
	if d := e.sleeps.take(); !slices.Equal(d, []time.Duration{time.Second}) {
		t.Fatalf("delays %v, want [1s]", d)
	}
	// The success cleared the count; failures past MaxFailures double the delay up to MaxDelay.
	for i := range 10 {
		guess(10 + i)
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second, 8 * time.Second, 10 * time.Second}
	if d := e.sleeps.take(); !slices.Equal(d, want) {
		t.Fatalf("delays %v, want %v", d, want)
	}
	if _, _, err := e.auth.Login(ctx, "alice", "password-1", ""); err != nil {
		t.Fatalf("right password after 10 failures: %v", err)
	}
	// A client that leaves during the delay is not counted as a failure.
	for i := range 5 {
		guess(30 + i)
	}
	gone, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := e.auth.Login(gone, "alice", "wrong-pass-1", "198.51.100.99"); !errors.Is(err, context.Canceled) {
		t.Fatalf("attempt whose client left: %v, want context.Canceled", err)
	}
	e.sleeps.take()
	guess(40)
	if d := e.sleeps.take(); !slices.Equal(d, []time.Duration{time.Second}) {
		t.Fatalf("delays %v after an uncounted attempt, want [1s]", d)
	}
}

// TestHardening14_PasswordChecksCapped: at most MaxChecks password checks (argon2, 19 MiB each)
// run at once; one more waits CheckWait, then gets a *BusyError that is not counted as a
// failure (issue 7 item 14).
func TestHardening14_PasswordChecksCapped(t *testing.T) {
	e := newAuthTestEnv(t)
	ctx := context.Background()
	e.user(t, "alice")
	e.auth.opts.CheckWait = time.Millisecond
	if cap(e.auth.checks) != 4 {
		t.Fatalf("%d check slots, want 4", cap(e.auth.checks))
	}
	for range cap(e.auth.checks) {
		e.auth.checks <- struct{}{} // four checks running
	}
	for _, user := range []string{"alice", "nobody"} {
		_, _, err := e.auth.Login(ctx, user, "password-1", "203.0.113.5")
		var be *BusyError
		if !errors.As(err, &be) || !errors.Is(err, ErrBusy) || be.RetryAfter < 1 {
			t.Fatalf("login of %s with every slot taken: %v, want a BusyError", user, err)
		}
	}
	<-e.auth.checks // one check ends: its slot serves the next attempt
	e.login(t, "admin", "admin-pass-1")
	// The refused attempts were not counted: five more failures from that address are allowed.
	for i := range 5 {
		if _, _, err := e.auth.Login(ctx, "alice", "wrong-pass-1", "203.0.113.5"); !errors.Is(err, ErrUnauthenticated) {
			t.Fatalf("failure %d: %v", i+1, err)
		}
	}
}
