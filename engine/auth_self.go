package engine

import (
	"context"
	"fmt"
)

func init() {
	RegisterMessages(map[string]Text{
		"wrong_password": {ZH: "当前密码不正确", EN: "the current password is wrong"},
	})
}

// ChangeOwnPassword changes the signed-in user's password: current must be their password now
// ("current": "wrong_password" if not), next must satisfy the policy (field "new"). A wrong
// current password counts as a failed login, so a stolen session cannot be used to guess the
// password faster than the login form allows: it is slowed and throttled as logins are. The
// caller's session stays, every other session of the user ends.
func (a *Auth) ChangeOwnPassword(ctx context.Context, p *Principal, current, next string) error {
	if p == nil || p.Username == "" {
		return fmt.Errorf("change own password: %w", ErrUnauthenticated)
	}
	name := p.Username
	at, err := a.beginAttempt(ctx, name, p.IP)
	if err != nil {
		return fmt.Errorf("change password of %q: %w", name, err)
	}
	ok, err := at.check(ctx, func() (bool, error) { return a.verifyStoredPassword(ctx, name, current) })
	if err != nil {
		return fmt.Errorf("change password of %q: %w", name, err) // not counted: the password was not checked
	}
	var fe FieldErrors
	if ok {
		at.succeed()
	} else {
		fe.Add("current", "wrong_password", nil)
	}
	if pe, isFE := AsFieldErrors(authCheckPassword(next)); isFE {
		for _, f := range pe {
			f.Path = "new"
			fe = append(fe, f)
		}
	}
	if !ok {
		after := map[string]any{"reason": "wrong_current_password"}
		if err := a.record(ctx, p, "login.failed", "user", name, nil, after); err != nil {
			return fmt.Errorf("change password of %q: %w (%v)", name, fe, err)
		}
	}
	if err := fe.Err(); err != nil {
		return fmt.Errorf("change password of %q: %w", name, err)
	}
	if err := a.replacePassword(ctx, p, name, next, p.SessionID); err != nil {
		return fmt.Errorf("change password of %q: %w", name, err)
	}
	return nil
}
