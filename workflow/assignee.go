package workflow

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Assignee kinds.
const (
	assignUser      = "user"
	assignRole      = "role"
	assignDeptHead  = "dept_head"
	assignField     = "field"
	assignManager   = "manager"
	assignInitiator = "initiator"
)

// Delegation sends the tasks made for a person while away to someone else: a task created for
// the person within [From, Until) goes to To, with Task.OnBehalf set to the person, when To is
// a member of the task's app (else the task stays with the person). Delegations do not chain:
// To's own delegation does not apply to what is delegated to them.
type Delegation struct {
	To    string    `json:"to" bson:"to"`
	From  time.Time `json:"from" bson:"from"`
	Until time.Time `json:"until" bson:"until"`
}

// activeAt reports whether the delegation redirects tasks made at t.
func (d *Delegation) activeAt(t time.Time) bool {
	return d != nil && d.To != "" && !t.Before(d.From) && t.Before(d.Until)
}

// SetDelegation sets p's delegation; a zero To removes it. To must be another active user who
// is a member of at least one app p is a member of, and Until must come after From (a zero
// From means now).
func (s *Service) SetDelegation(ctx context.Context, p *engine.Principal, d Delegation) error {
	if p == nil {
		return engine.ErrUnauthenticated
	}
	d.To = strings.ToLower(strings.TrimSpace(d.To))
	if d.To == "" {
		err := s.st.Delete(ctx, delegationsColl, p.Username)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("remove delegation of %s: %w", p.Username, err)
		}
		s.auditf(ctx, p, "flow.delegate", "flow_delegation", p.Username, nil)
		return nil
	}
	var fe engine.FieldErrors
	if d.To == p.Username {
		fe.Add("to", "flowrun.same_user", map[string]any{"value": d.To})
	} else if u, err := s.k.Auth.GetUser(ctx, d.To); errors.Is(err, engine.ErrNotFound) || err == nil && u.Disabled {
		fe.Add("to", "not_found", map[string]any{"value": d.To})
	} else if err != nil {
		return fmt.Errorf("set delegation of %s: %w", p.Username, err)
	} else if shared, err := s.shareApp(ctx, p, principalOf(&u)); err != nil {
		return fmt.Errorf("set delegation of %s: %w", p.Username, err)
	} else if !shared {
		fe.Add("to", "flowrun.no_shared_app", map[string]any{"value": d.To})
	}
	if d.From.IsZero() {
		d.From = s.now()
	}
	d.From, d.Until = d.From.UTC().Truncate(time.Millisecond), d.Until.UTC().Truncate(time.Millisecond)
	if d.Until.IsZero() {
		fe.Add("until", "required", nil)
	} else if !d.Until.After(d.From) {
		fe.Add("until", "flowrun.bad_period", nil)
	}
	if err := fe.Err(); err != nil {
		return fmt.Errorf("set delegation of %s: %w", p.Username, err)
	}
	// One writer (the user), so last-writer-wins Set is right.
	if err := s.st.Set(ctx, delegationsColl, p.Username, d); err != nil {
		return fmt.Errorf("set delegation of %s: %w", p.Username, err)
	}
	s.auditf(ctx, p, "flow.delegate", "flow_delegation", p.Username, d)
	return nil
}

// principalOf is u as the subject of permission checks.
func principalOf(u *engine.User) *engine.Principal {
	return &engine.Principal{Username: u.Username, DisplayName: u.DisplayName, Roles: u.Roles, Department: u.Department}
}

// isMember reports whether p is a member of app: holds app.read or app.design there.
func (s *Service) isMember(ctx context.Context, p *engine.Principal, app string) bool {
	return s.canSeeFlows(ctx, p, app)
}

// shareApp reports whether a and b are both members of some app. The candidates are the apps
// their roles name in grants; "*" stands for "every app", and Can of app "*" holds only for a
// wildcard grant, so two wildcard members share it.
func (s *Service) shareApp(ctx context.Context, a, b *engine.Principal) (bool, error) {
	roles, err := s.k.Auth.ListRoles(ctx)
	if err != nil {
		return false, err
	}
	apps := map[string]bool{}
	for _, r := range roles {
		if slices.Contains(a.Roles, r.Name) || slices.Contains(b.Roles, r.Name) {
			for _, g := range r.Grants {
				apps[g.App] = true
			}
		}
	}
	for app := range apps {
		if s.isMember(ctx, a, app) && s.isMember(ctx, b, app) {
			return true, nil
		}
	}
	return false, nil
}

// GetDelegation gives p's delegation, or nil when there is none.
func (s *Service) GetDelegation(ctx context.Context, p *engine.Principal) (*Delegation, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	var d Delegation
	err := s.st.Get(ctx, delegationsColl, p.Username, &d)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get delegation of %s: %w", p.Username, err)
	}
	d.From, d.Until = d.From.UTC(), d.Until.UTC()
	return &d, nil
}

// resolver finds the people of assignee rules for one action on one instance, remembering
// what it read, so a retry after a lost race reads nothing twice.
type resolver struct {
	s     *Service
	ctx   context.Context
	now   time.Time
	inst  *Instance // app, form, record, initiator: the same on every retry
	users []engine.User
	byKey map[string]*engine.User // nil value: no such user
	deleg map[string]*Delegation
	rec   map[string]any
	stat  string
	recOK bool
	// edit is the record edit of the action being applied: it is written after the decision
	// is stored, so what the action goes on to read (conditions, field assignees) sees the
	// record as the edit will leave it.
	edit map[string]any
}

// world makes what apply may read for ev on inst (ev.now is the time); the record it shows
// carries ev's record edit, if any.
func (s *Service) world(ctx context.Context, inst *Instance, ev action) *world {
	snapshot := &Instance{App: inst.App, Form: inst.Form, Record: inst.Record, Initiator: inst.Initiator}
	r := &resolver{s: s, ctx: ctx, now: ev.now, inst: snapshot, byKey: map[string]*engine.User{}, deleg: map[string]*Delegation{},
		edit: ev.recordEdit()}
	return &world{ctx: ctx, loc: s.k.Scheduler.Location(), record: r.record, resolve: r.resolve, admins: r.admins, person: r.person,
		member: r.member}
}

// member reports whether the active user name is a member of the instance's app.
func (r *resolver) member(name string) (bool, error) {
	u, err := r.user(name)
	if err != nil || u == nil || u.Disabled {
		return false, err
	}
	return r.s.isMember(r.ctx, principalOf(u), r.inst.App), nil
}

func (r *resolver) record() (map[string]any, string, error) {
	if r.recOK {
		return r.rec, r.stat, nil
	}
	if r.s.k.Records == nil {
		return nil, "", errors.New("no record service (forms engine not wired)")
	}
	ref, err := r.s.k.Records.GetRecord(r.ctx, engine.SystemPrincipal(), r.inst.App, r.inst.Form, r.inst.Record)
	if err != nil {
		return nil, "", err
	}
	r.rec, r.stat, r.recOK = make(map[string]any, len(ref.Data)+len(r.edit)), ref.Status, true
	maps.Copy(r.rec, ref.Data)
	maps.Copy(r.rec, r.edit)
	return r.rec, r.stat, nil
}

func (r *resolver) user(name string) (*engine.User, error) {
	if u, ok := r.byKey[name]; ok {
		return u, nil
	}
	u, err := r.s.k.Auth.GetUser(r.ctx, name)
	if errors.Is(err, engine.ErrNotFound) {
		r.byKey[name] = nil
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r.byKey[name] = &u
	return &u, nil
}

func (r *resolver) allUsers() ([]engine.User, error) {
	if r.users != nil {
		return r.users, nil
	}
	us, err := r.s.k.Auth.ListUsers(r.ctx, engine.SystemPrincipal())
	if err != nil {
		return nil, err
	}
	r.users = us
	for i := range us {
		r.byKey[us[i].Username] = &us[i]
	}
	return us, nil
}

func (r *resolver) delegation(name string) (*Delegation, error) {
	if d, ok := r.deleg[name]; ok {
		return d, nil
	}
	var d Delegation
	err := r.s.st.Get(r.ctx, delegationsColl, name, &d)
	if errors.Is(err, store.ErrNotFound) {
		r.deleg[name] = nil
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("delegation of %s: %w", name, err)
	}
	r.deleg[name] = &d
	return &d, nil
}

// resolve turns assignee rules into people: active users only, each once, delegation applied.
func (r *resolver) resolve(specs []Assignee, inst *Instance) ([]assignment, error) {
	var names []string
	for _, a := range specs {
		switch a.Kind {
		case assignUser:
			names = append(names, a.Users...)
		case assignRole:
			us, err := r.allUsers()
			if err != nil {
				return nil, fmt.Errorf("users of role %s: %w", a.Role, err)
			}
			for _, u := range us {
				if slices.Contains(u.Roles, a.Role) {
					names = append(names, u.Username)
				}
			}
		case assignDeptHead:
			u, err := r.user(inst.Initiator)
			if err != nil {
				return nil, err
			}
			if u == nil || u.Department == "" {
				continue
			}
			heads, err := r.s.k.Auth.DepartmentHeads(r.ctx, u.Department, max(a.Levels, 1))
			if errors.Is(err, engine.ErrNotFound) {
				continue
			}
			if err != nil {
				return nil, err
			}
			names = append(names, heads...)
		case assignField:
			data, _, err := r.record()
			if err != nil {
				return nil, fmt.Errorf("assignee field %s: %w", a.Field, err)
			}
			switch v := data[a.Field].(type) {
			case string:
				names = append(names, v)
			case []any:
				for _, e := range v {
					if s, ok := e.(string); ok {
						names = append(names, s)
					}
				}
			case []string:
				names = append(names, v...)
			}
		case assignManager:
			u, err := r.user(inst.Initiator)
			if err != nil {
				return nil, err
			}
			if u != nil && u.Manager != "" {
				names = append(names, u.Manager)
			}
		case assignInitiator:
			names = append(names, inst.Initiator)
		default:
			return nil, fmt.Errorf("unknown assignee kind %q", a.Kind)
		}
	}
	return r.people(names)
}

// admins are the active holders of the admin role.
func (r *resolver) admins() ([]assignment, error) {
	us, err := r.allUsers()
	if err != nil {
		return nil, err
	}
	var names []string
	for _, u := range us {
		if slices.Contains(u.Roles, engine.RoleAdmin) {
			names = append(names, u.Username)
		}
	}
	return r.people(names)
}

// people keeps the active users among names, in order, each once, with delegations applied.
func (r *resolver) people(names []string) ([]assignment, error) {
	var out []assignment
	seen := map[string]bool{}
	for _, name := range names {
		name = strings.ToLower(strings.TrimSpace(name))
		if name == "" || seen[name] {
			continue
		}
		seen[name] = true
		a, ok, err := r.person(name)
		if err != nil {
			return nil, err
		}
		if !ok || slices.ContainsFunc(out, func(o assignment) bool { return o.User == a.User }) {
			continue
		}
		out = append(out, a)
	}
	return out, nil
}

// person is one active user as an assignee, delegation applied (to a delegate who is an
// active member of the instance's app); ok is false when there is no such active user.
func (r *resolver) person(name string) (assignment, bool, error) {
	u, err := r.user(name)
	if err != nil || u == nil || u.Disabled {
		return assignment{}, false, err
	}
	d, err := r.delegation(u.Username)
	if err != nil {
		return assignment{}, false, err
	}
	if d.activeAt(r.now) {
		if to, err := r.user(d.To); err != nil {
			return assignment{}, false, err
		} else if to != nil && !to.Disabled && r.s.isMember(r.ctx, principalOf(to), r.inst.App) {
			return assignment{User: to.Username, OnBehalf: u.Username}, true, nil
		}
	}
	return assignment{User: u.Username}, true, nil
}
