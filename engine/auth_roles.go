package engine

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// authRoleCacheTTL bounds how long a role read from the store is trusted. PutRole and DeleteRole
// clear this node's cache at once; the TTL is how soon other nodes see a change.
const authRoleCacheTTL = 30 * time.Second

// authActionPattern is the form of a granted action: "*", a dotted name, or a dotted prefix
// ending in ".*" ("record.*").
var authActionPattern = regexp.MustCompile(`^(\*|[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*(\.\*)?)$`)

// Grant allows actions in one app. App "*" means every app and the platform itself; App ""
// means the platform only (actions such as system.admin). An action "*" means every action,
// and "record.*" every action under "record.".
type Grant struct {
	App     string   `json:"app" bson:"app"`
	Actions []string `json:"actions" bson:"actions"`
}

// Role is a named set of grants that users hold. Rev is the stored revision: 0 for a new role
// in PutRole, else the revision the change is based on.
type Role struct {
	Name   string  `json:"name" bson:"_id"`
	Label  Text    `json:"label" bson:"label"`
	Grants []Grant `json:"grants" bson:"grants"`
	Rev    int64   `json:"rev" bson:"_rev"`
}

// authRoleDoc is a role as stored. A deleted role stays as a tombstone: revisioned documents
// keep their revision history, and a name deleted and created again continues it.
type authRoleDoc struct {
	Role    `bson:",inline"`
	Deleted bool `bson:"deleted,omitempty"`
}

// authAdminRole is the built-in role that may do everything. Its grants cannot be changed, so
// it is also known without reading the store.
func authAdminRole() Role {
	return Role{
		Name:   RoleAdmin,
		Label:  Text{ZH: "系统管理员", EN: "Administrator"},
		Grants: []Grant{{App: "*", Actions: []string{"*"}}},
	}
}

type authCachedRole struct {
	role *Role // nil: no such role
	at   time.Time
}

// loadRole gives the role called name, or nil when there is none (or it was deleted).
func (a *Auth) loadRole(ctx context.Context, name string) (*Role, error) {
	if name == RoleAdmin {
		r := authAdminRole()
		return &r, nil
	}
	now := time.Now()
	a.rolesMu.Lock()
	c, ok := a.roles[name]
	a.rolesMu.Unlock()
	if ok && now.Sub(c.at) < authRoleCacheTTL {
		return c.role, nil
	}
	var doc authRoleDoc
	err := a.st.Get(ctx, authRolesCollection, name, &doc)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("load role %q: %w", name, err)
	}
	var r *Role
	if err == nil && !doc.Deleted {
		r = &doc.Role
	}
	a.rolesMu.Lock()
	a.roles[name] = authCachedRole{role: r, at: now}
	a.rolesMu.Unlock()
	return r, nil
}

func (a *Auth) forgetRoles() {
	a.rolesMu.Lock()
	clear(a.roles)
	a.rolesMu.Unlock()
}

// rolesAllow reports whether any of roles grants action in app.
func (a *Auth) rolesAllow(ctx context.Context, roles []string, app, action string) (bool, error) {
	for _, name := range roles {
		r, err := a.loadRole(ctx, name)
		if err != nil {
			return false, err
		}
		if r != nil && r.allows(app, action) {
			return true, nil
		}
	}
	return false, nil
}

func (r *Role) allows(app, action string) bool {
	for _, g := range r.Grants {
		if g.App != "*" && g.App != app {
			continue
		}
		for _, ga := range g.Actions {
			if ga == "*" || ga == action {
				return true
			}
			if prefix, ok := strings.CutSuffix(ga, ".*"); ok && strings.HasPrefix(action, prefix+".") {
				return true
			}
		}
	}
	return false
}

// Can reports whether p may do action in app (app "" for platform actions such as
// system.admin), by the grants of p's roles. A nil principal may do nothing, and a role that
// cannot be read grants nothing.
//
// Can decides app-level permissions only. Field- and row-level rules (hide a field from a role,
// let a user see only their department's records) belong to the forms engine: it calls Can for
// the action first and then applies its own rules, which it keeps with the form definition, to
// the fields and records in question. Grant is the place to add such constraints if they ever
// need to live with roles (for example a Where expression per grant); Can would then return
// them instead of a bool through a new method, keeping this one as it is.
func (a *Auth) Can(ctx context.Context, p *Principal, app, action string) bool {
	ok, err := a.can(ctx, p, app, action)
	return ok && err == nil
}

func (a *Auth) can(ctx context.Context, p *Principal, app, action string) (bool, error) {
	if p == nil {
		return false, nil
	}
	return a.rolesAllow(ctx, p.Roles, app, action)
}

// Require is Can as an error: ErrUnauthenticated for a nil principal, ErrForbidden when the
// action is not granted, or the error of reading the roles.
func (a *Auth) Require(ctx context.Context, p *Principal, app, action string) error {
	if p == nil {
		return ErrUnauthenticated
	}
	ok, err := a.can(ctx, p, app, action)
	if err != nil {
		return err
	}
	if !ok {
		if app == "" {
			return fmt.Errorf("%s may not %s: %w", p.Username, action, ErrForbidden)
		}
		return fmt.Errorf("%s may not %s in app %q: %w", p.Username, action, app, ErrForbidden)
	}
	return nil
}

// PutRole creates a role (r.Rev 0) or changes one (r.Rev the revision it is based on; a stale
// one gives ErrConflict); actor needs system.admin. The admin role's grants cannot be changed,
// only its label.
func (a *Auth) PutRole(ctx context.Context, actor *Principal, r Role) (Role, error) {
	r.Name = authNormalizeName(r.Name)
	if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
		return Role{}, fmt.Errorf("put role %q: %w", r.Name, err)
	}
	var fe FieldErrors
	if !authNamePattern.MatchString(r.Name) {
		fe.Add("name", "auth.bad_name", nil)
	}
	r.Label.ZH, r.Label.EN = strings.TrimSpace(r.Label.ZH), strings.TrimSpace(r.Label.EN)
	if r.Label.ZH == "" && r.Label.EN == "" {
		fe.Add("label", "required", nil)
	}
	if r.Name == RoleAdmin {
		r.Grants = authAdminRole().Grants
	}
	if r.Grants == nil {
		r.Grants = []Grant{}
	}
	for i, g := range r.Grants {
		if g.App != "*" && g.App != "" && !authNamePattern.MatchString(g.App) {
			fe.Add(fmt.Sprintf("grants.%d.app", i), "auth.bad_app", map[string]any{"value": g.App})
		}
		if len(g.Actions) == 0 {
			fe.Add(fmt.Sprintf("grants.%d.actions", i), "required", nil)
		}
		for j, act := range g.Actions {
			if !authActionPattern.MatchString(act) {
				fe.Add(fmt.Sprintf("grants.%d.actions.%d", i, j), "auth.bad_action", map[string]any{"value": act})
			}
		}
	}
	if err := fe.Err(); err != nil {
		return Role{}, fmt.Errorf("put role %q: %w", r.Name, err)
	}
	defer a.forgetRoles()

	var cur authRoleDoc
	err := a.st.Get(ctx, authRolesCollection, r.Name, &cur)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return Role{}, fmt.Errorf("put role %q: %w", r.Name, err)
	}
	exists := err == nil
	var before any
	if exists && !cur.Deleted {
		before = cur.Role
	}
	base := r.Rev
	switch {
	case r.Rev == 0 && exists && !cur.Deleted:
		return Role{}, fmt.Errorf("put role %q: %w", r.Name, Invalid("name", "exists", nil))
	case r.Rev == 0 && exists:
		base = cur.Rev // a deleted role's name is used again
	case r.Rev > 0 && !exists:
		return Role{}, fmt.Errorf("put role %q: %w", r.Name, ErrNotFound)
	}
	action := "role.update"
	if base == 0 {
		action = "role.create"
		err = a.st.Create(ctx, authRolesCollection, r.Name, authRoleDoc{Role: r})
		if errors.Is(err, store.ErrDuplicate) {
			err = Invalid("name", "exists", nil)
		}
		r.Rev = 1
	} else {
		if before == nil {
			action = "role.create"
		}
		r.Rev, err = a.st.Update(ctx, authRolesCollection, r.Name, base, authRoleDoc{Role: r})
		err = authStoreErr(err)
	}
	if err != nil {
		return Role{}, fmt.Errorf("put role %q: %w", r.Name, err)
	}
	if err := a.record(ctx, actor, action, "role", r.Name, before, r); err != nil {
		return r, fmt.Errorf("put role %q: %w", r.Name, err)
	}
	return r, nil
}

// ListRoles lists the roles by name, the built-in admin role included.
func (a *Auth) ListRoles(ctx context.Context) ([]Role, error) {
	roles := []Role{}
	hasAdmin := false
	err := a.st.Find(ctx, authRolesCollection, nil, nil, func(raw bson.Raw) error {
		var d authRoleDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("decode role: %w", err)
		}
		if !d.Deleted {
			hasAdmin = hasAdmin || d.Name == RoleAdmin
			roles = append(roles, d.Role)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list roles: %w", err)
	}
	if !hasAdmin {
		roles = append(roles, authAdminRole())
	}
	sort.Slice(roles, func(i, j int) bool { return roles[i].Name < roles[j].Name })
	return roles, nil
}

// DeleteRole deletes a role; actor needs system.admin. The admin role and a role that a user
// still holds cannot be deleted (ErrConflict).
func (a *Auth) DeleteRole(ctx context.Context, actor *Principal, name string) error {
	name = authNormalizeName(name)
	if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	if name == RoleAdmin {
		return fmt.Errorf("delete role %q: %w", name, Coded(ErrConflict, "role_builtin", map[string]any{"role": name}))
	}
	defer a.forgetRoles()
	var cur authRoleDoc
	if err := a.st.Get(ctx, authRolesCollection, name, &cur); err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	if cur.Deleted {
		return fmt.Errorf("delete role %q: %w", name, ErrNotFound)
	}
	users, err := a.allUsers(ctx)
	if err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	var holders []string
	for _, u := range users {
		if slices.Contains(u.Roles, name) {
			holders = append(holders, u.Username)
		}
	}
	if len(holders) > 0 {
		return fmt.Errorf("delete role %q: %w", name, roleInUse(name, holders))
	}
	tomb := cur
	tomb.Deleted = true
	if _, err := a.st.Update(ctx, authRolesCollection, name, cur.Rev, tomb); err != nil {
		return fmt.Errorf("delete role %q: %w", name, authStoreErr(err))
	}
	if err := a.record(ctx, actor, "role.delete", "role", name, cur.Role, nil); err != nil {
		return fmt.Errorf("delete role %q: %w", name, err)
	}
	return nil
}

// roleInUseNames is how many holders a role_in_use answer names; the count says the rest.
const roleInUseNames = 10

// roleInUse is the conflict of deleting a role that users hold: it names them (the first
// roleInUseNames) and counts them, so the admin knows whom to take the role from.
func roleInUse(role string, holders []string) error {
	names := strings.Join(holders[:min(len(holders), roleInUseNames)], ", ")
	if len(holders) > roleInUseNames {
		names += ", …"
	}
	return Coded(ErrConflict, "role_in_use", map[string]any{"role": role, "count": len(holders), "users": names})
}

func init() {
	RegisterMessages(map[string]Text{
		"error.role_in_use":  {ZH: "角色“{role}”仍有 {count} 个用户在使用（{users}）：请先从这些用户中移除该角色，再删除", EN: "role “{role}” is still held by {count} user(s) ({users}): take it away from them first, then delete it"},
		"error.role_builtin": {ZH: "内置角色“{role}”不能删除", EN: "the built-in role “{role}” cannot be deleted"},
	})
}

// Department is a unit of the organisation; departments form a tree through Parent. Head is
// the username of its head, whom approval flows may ask. Rev is as in Role.
type Department struct {
	ID     string `json:"id" bson:"_id"`
	Name   Text   `json:"name" bson:"name"`
	Parent string `json:"parent,omitempty" bson:"parent,omitempty"`
	Head   string `json:"head,omitempty" bson:"head,omitempty"`
	Rev    int64  `json:"rev" bson:"_rev"`
}

// authMaxDepartmentDepth bounds walks up the department tree, so a cycle written to the store
// behind our back cannot loop forever.
const authMaxDepartmentDepth = 64

// PutDepartment creates a department (d.Rev 0) or changes one (d.Rev the revision it is based
// on); actor needs system.admin. The parent and head must exist, and the parent may not be the
// department itself or below it.
func (a *Auth) PutDepartment(ctx context.Context, actor *Principal, d Department) (Department, error) {
	d.ID = authNormalizeName(d.ID)
	if err := a.Require(ctx, actor, "", PermSystemAdmin); err != nil {
		return Department{}, fmt.Errorf("put department %q: %w", d.ID, err)
	}
	d.Parent, d.Head = authNormalizeName(d.Parent), authNormalizeName(d.Head)
	d.Name.ZH, d.Name.EN = strings.TrimSpace(d.Name.ZH), strings.TrimSpace(d.Name.EN)
	var fe FieldErrors
	if !authNamePattern.MatchString(d.ID) {
		fe.Add("id", "auth.bad_name", nil)
	}
	if d.Name.ZH == "" && d.Name.EN == "" {
		fe.Add("name", "required", nil)
	}
	if d.Parent != "" {
		for cur, depth := d.Parent, 0; cur != ""; depth++ {
			if cur == d.ID || depth >= authMaxDepartmentDepth {
				fe.Add("parent", "auth.dept_cycle", nil)
				break
			}
			var p Department
			err := a.st.Get(ctx, authDepartmentsCollection, cur, &p)
			if errors.Is(err, store.ErrNotFound) {
				if cur == d.Parent {
					fe.Add("parent", "not_found", map[string]any{"value": d.Parent})
				}
				break
			}
			if err != nil {
				return Department{}, fmt.Errorf("put department %q: %w", d.ID, err)
			}
			cur = p.Parent
		}
	}
	if d.Head != "" {
		if _, err := a.getUser(ctx, d.Head); errors.Is(err, store.ErrNotFound) {
			fe.Add("head", "not_found", map[string]any{"value": d.Head})
		} else if err != nil {
			return Department{}, fmt.Errorf("put department %q: %w", d.ID, err)
		}
	}
	if err := fe.Err(); err != nil {
		return Department{}, fmt.Errorf("put department %q: %w", d.ID, err)
	}
	var before any
	action := "department.create"
	var err error
	if d.Rev == 0 {
		err = a.st.Create(ctx, authDepartmentsCollection, d.ID, d)
		if errors.Is(err, store.ErrDuplicate) {
			err = Invalid("id", "exists", nil)
		}
		d.Rev = 1
	} else {
		action = "department.update"
		var cur Department
		if err := a.st.Get(ctx, authDepartmentsCollection, d.ID, &cur); err != nil {
			return Department{}, fmt.Errorf("put department %q: %w", d.ID, err)
		}
		before = cur
		d.Rev, err = a.st.Update(ctx, authDepartmentsCollection, d.ID, d.Rev, d)
		err = authStoreErr(err)
	}
	if err != nil {
		return Department{}, fmt.Errorf("put department %q: %w", d.ID, err)
	}
	if err := a.record(ctx, actor, action, "department", d.ID, before, d); err != nil {
		return d, fmt.Errorf("put department %q: %w", d.ID, err)
	}
	return d, nil
}

// ListDepartments lists every department, by id.
func (a *Auth) ListDepartments(ctx context.Context) ([]Department, error) {
	out, err := store.FindAll[Department](ctx, a.st, authDepartmentsCollection, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("list departments: %w", err)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// DepartmentExists reports whether there is a department with exactly this id (one lookup by
// _id; the id is not normalised, so a value that differs from the stored id does not match). It
// checks no permission: forms use it to check department pickers.
func (a *Auth) DepartmentExists(ctx context.Context, id string) (bool, error) {
	if id == "" {
		return false, nil
	}
	var d struct {
		ID string `bson:"_id"`
	}
	err := a.st.Get(ctx, authDepartmentsCollection, id, &d)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("department %q exists: %w", id, err)
	}
	return true, nil
}

// DepartmentHeads returns the heads of dept and of the departments above it, nearest first:
// levels departments at most (levels <= 0: up to the top). A department without a head counts as
// a level but adds no one; a head already listed is not listed again. ErrNotFound when dept does
// not exist.
func (a *Auth) DepartmentHeads(ctx context.Context, dept string, levels int) ([]string, error) {
	if levels <= 0 || levels > authMaxDepartmentDepth {
		levels = authMaxDepartmentDepth
	}
	heads := []string{}
	cur := authNormalizeName(dept)
	for i := 0; i < levels && cur != ""; i++ {
		var d Department
		err := a.st.Get(ctx, authDepartmentsCollection, cur, &d)
		if errors.Is(err, store.ErrNotFound) && i > 0 {
			break // a dangling parent ends the walk
		}
		if err != nil {
			return nil, fmt.Errorf("heads of department %q: %w", dept, err)
		}
		if d.Head != "" && !slices.Contains(heads, d.Head) {
			heads = append(heads, d.Head)
		}
		cur = d.Parent
	}
	return heads, nil
}
