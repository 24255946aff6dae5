package engine

import (
	"context"
	"fmt"
	"strings"
)

// Member is a user as a people picker shows them: no roles, department or e-mail.
type Member struct {
	Username    string `json:"username"`
	DisplayName string `json:"displayName"`
}

// Bounds of one AppMembers answer.
const (
	DefaultMembers = 20
	MaxMembers     = 50
)

// AppMembers lists the active users who are members of app — they hold app.read or app.design
// there, as the workflow engine requires of a transfer, an added signer or a delegate — whose
// username or display name contains q (case-insensitive), by username, at most limit of them
// (DefaultMembers when limit is 0, never more than MaxMembers). actor must be a member of app:
// a picker shows the people one works with, not the user list (that is the administrator's).
// Users are few, so this reads the whole collection, like ListUsers.
func (a *Auth) AppMembers(ctx context.Context, actor *Principal, app, q string, limit int) ([]Member, error) {
	if actor == nil {
		return nil, ErrUnauthenticated
	}
	member := func(roles []string) (bool, error) {
		ok, err := a.rolesAllow(ctx, roles, app, PermAppRead)
		if err != nil || ok {
			return ok, err
		}
		return a.rolesAllow(ctx, roles, app, PermAppDesign)
	}
	ok, err := member(actor.Roles)
	if err != nil {
		return nil, fmt.Errorf("members of app %q: %w", app, err)
	}
	if !ok {
		return nil, fmt.Errorf("%s may not list the members of app %q: %w", actor.Username, app, ErrForbidden)
	}
	if limit <= 0 {
		limit = DefaultMembers
	}
	limit = min(limit, MaxMembers)
	q = strings.ToLower(strings.TrimSpace(q))
	users, err := a.allUsers(ctx)
	if err != nil {
		return nil, fmt.Errorf("members of app %q: %w", app, err)
	}
	out := []Member{}
	for _, u := range users {
		if u.Disabled || q != "" && !strings.Contains(u.Username, q) && !strings.Contains(strings.ToLower(u.DisplayName), q) {
			continue
		}
		ok, err := member(u.Roles)
		if err != nil {
			return nil, fmt.Errorf("members of app %q: %w", app, err)
		}
		if ok {
			out = append(out, Member{Username: u.Username, DisplayName: u.DisplayName})
			if len(out) == limit {
				break
			}
		}
	}
	return out, nil
}
