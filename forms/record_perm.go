package forms

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// Record actions that permissions grant.
const (
	ActCreate = "create"
	ActRead   = "read"
	ActUpdate = "update"
	ActDelete = "delete"
	ActExport = "export"
)

// access is what one principal may do with one form's records: the union of the form
// permissions of the principal's roles. App designers may do everything.
type access struct {
	p       *engine.Principal
	full    bool
	actions map[string]bool
	scopes  map[string][]*compiledPerm // action → the permissions that grant it
	// hidden are the fields some reading role hides: they cannot be filtered, sorted, chosen
	// as columns or written. A record shows such a field only where a role that does not hide
	// it covers that record (visible).
	hidden   map[string]bool
	readOnly map[string]bool
	fields   []string
}

// fieldRules are the fields one user may not see (hidden) or not write (readOnly) on one
// record: a write is judged by the roles that cover that record, so an "own" role can show and
// let the user write, on their own records, a field another role hides everywhere.
type fieldRules struct{ hidden, readOnly map[string]bool }

// rulesFor works out the field rules of record d for a write by action (create or update):
// a field is hidden when roles that let the user read d cover it and none of them shows it;
// read-only when no role that grants the action on d leaves it writable.
func (a *access) rulesFor(ctx context.Context, d *recordDoc, action string) fieldRules {
	r := fieldRules{hidden: map[string]bool{}, readOnly: map[string]bool{}}
	if a.full {
		return r
	}
	var readers, writers []*compiledPerm
	for _, cp := range a.scopes[ActRead] {
		if a.scopeMatches(ctx, cp, d) {
			readers = append(readers, cp)
		}
	}
	for _, cp := range a.scopes[action] {
		if a.scopeMatches(ctx, cp, d) {
			writers = append(writers, cp)
		}
	}
	for _, k := range a.fields {
		shown := len(readers) == 0
		for _, cp := range readers {
			shown = shown || !cp.hidden[k]
		}
		writable := false
		for _, cp := range writers {
			writable = writable || !cp.readOnly[k] && !cp.hidden[k]
		}
		r.hidden[k] = !shown
		r.readOnly[k] = !writable || !shown
	}
	return r
}

func (s *Service) accessFor(ctx context.Context, p *engine.Principal, c *Compiled) *access {
	a := &access{p: p, actions: map[string]bool{}, scopes: map[string][]*compiledPerm{}, hidden: map[string]bool{}, readOnly: map[string]bool{}}
	for _, f := range c.Fields {
		a.fields = append(a.fields, f.Key)
	}
	if s.k.Auth.Can(ctx, p, c.App, "app.design") {
		a.full = true
		return a
	}
	for _, role := range p.Roles {
		cp, ok := c.perms[role]
		if !ok {
			continue
		}
		for act := range cp.actions {
			a.actions[act] = true
			a.scopes[act] = append(a.scopes[act], cp)
		}
	}
	// Read-only when every role that lets the user update marks it so; hidden (and so
	// read-only too) when any role that lets the user read hides it.
	for _, f := range c.Fields {
		for _, cp := range a.scopes[ActRead] {
			if cp.hidden[f.Key] {
				a.hidden[f.Key] = true
			}
		}
		roAll := len(a.scopes[ActUpdate]) > 0
		for _, cp := range a.scopes[ActUpdate] {
			roAll = roAll && (cp.readOnly[f.Key] || cp.hidden[f.Key])
		}
		if roAll || a.hidden[f.Key] {
			a.readOnly[f.Key] = true
		}
	}
	return a
}

// can tells whether the action is granted at all (before row scopes).
func (a *access) can(action string) bool { return a.full || a.actions[action] }

// require is can as an error.
func (a *access) require(action string) error {
	if a.can(action) {
		return nil
	}
	return engine.ErrForbidden
}

// allows tells whether the action is granted on this record by some role's row scope.
func (a *access) allows(ctx context.Context, action string, d *recordDoc) bool {
	if a.full {
		return true
	}
	for _, cp := range a.scopes[action] {
		if a.scopeMatches(ctx, cp, d) {
			return true
		}
	}
	return false
}

func (a *access) scopeMatches(ctx context.Context, cp *compiledPerm, d *recordDoc) bool {
	switch cp.Scope {
	case "", "all":
		return true
	case "own":
		return d.Owner == a.p.Username
	case "department":
		return a.p.Department != "" && d.Dept == a.p.Department
	case "expr":
		ok, err := cp.condition.EvalBool(ctx, conditionVars(d, a.p))
		return err == nil && ok
	}
	return false
}

// listFilter is the store filter that row scopes allow for reading, and whether rows must
// still be checked one by one (expression scopes cannot be pushed to the store).
func (a *access) listFilter() (bson.D, bool) {
	if a.full {
		return nil, false
	}
	var ors bson.A
	for _, cp := range a.scopes[ActRead] {
		switch cp.Scope {
		case "", "all":
			return nil, false
		case "own":
			ors = append(ors, bson.D{{Key: "owner", Value: a.p.Username}})
		case "department":
			if a.p.Department != "" {
				ors = append(ors, bson.D{{Key: "dept", Value: a.p.Department}})
			}
		case "expr":
			return nil, true // check every row in Go
		}
	}
	if len(ors) == 0 {
		return bson.D{{Key: "_id", Value: bson.D{{Key: "$exists", Value: false}}}}, false
	}
	return bson.D{{Key: "$or", Value: ors}}, false
}

// visible removes from data (in place) the fields the user may not see on this record: a
// field some reading role hides shows only if another reading role whose row scope covers the
// record leaves it visible.
func (a *access) visible(ctx context.Context, d *recordDoc, data Values) Values {
	if a.full || len(a.hidden) == 0 {
		return data
	}
	var covering []*compiledPerm
	for _, cp := range a.scopes[ActRead] {
		if a.scopeMatches(ctx, cp, d) {
			covering = append(covering, cp)
		}
	}
	for k := range a.hidden {
		shown := false
		for _, cp := range covering {
			if !cp.hidden[k] {
				shown = true
				break
			}
		}
		if !shown {
			delete(data, k)
		}
	}
	return data
}

// conditionVars are the variables of conditions over a stored record.
func conditionVars(d *recordDoc, p *engine.Principal) map[string]any {
	vars := map[string]any{}
	for k, v := range d.Data {
		vars[k] = plain(v)
	}
	vars["id"] = d.ID
	vars["status"] = d.Status
	if p != nil {
		roles := make([]any, len(p.Roles))
		for i, r := range p.Roles {
			roles[i] = r
		}
		vars["user"] = map[string]any{"username": p.Username, "department": p.Department, "roles": roles}
	}
	return vars
}
