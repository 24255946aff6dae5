package forms

import (
	"context"
	"slices"
	"strings"

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
	// it covers that record (visible). A sub-table column is hidden under its dotted path
	// ("lines.margin"): only formulas over hidden fields are, and only visible reads those keys.
	hidden   map[string]bool
	readOnly map[string]bool
	fields   []string
	// columns are the sub-table columns by their dotted paths ("lines.share").
	columns []string
	// initial is the status a new record starts in (row conditions may read it).
	initial string
	// deleted is set by compileQuery on a listing of deleted records: its rows need the
	// delete action's row scope as well as the read scope (scopeCond).
	deleted bool
}

// fieldRules are the fields one user may not see (hidden) or not write (readOnly) on one
// record: a write is judged by the roles that cover that record, so an "own" role can show and
// let the user write, on their own records, a field another role hides everywhere.
type fieldRules struct {
	hidden, readOnly map[string]bool
	// p is the writer: files they attach are checked against them (attachable).
	p *engine.Principal
	// after checks the data a write leaves against the row scopes of the write's action, so
	// a write cannot move a record out of (or create one outside) the writer's scope; nil
	// checks nothing (full access).
	after func(data Values) error
}

// rulesFor works out the field rules of record d for a write by action (create or update):
// a field is hidden when roles that let the user read d cover it and none of them shows it;
// read-only when no role that grants the action on d leaves it writable.
func (a *access) rulesFor(ctx context.Context, d *recordDoc, action string) fieldRules {
	r := fieldRules{hidden: map[string]bool{}, readOnly: map[string]bool{}, p: a.p}
	if a.full {
		return r
	}
	if action == ActCreate && d.Status == "" {
		stub := *d
		stub.Status = a.initial // what the record will start in
		d = &stub
	}
	r.after = func(data Values) error {
		after := *d
		after.Data = bson.M(data)
		return a.requireAfter(ctx, action, &after)
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
	if len(writers) == 0 {
		// A new record's values outside every create scope: that is for the scope check
		// (after) to say, not for field rules to turn into "read-only" on every field.
		writers = a.scopes[action]
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
	// A column is hidden by its dotted path (a formula over a hidden field); the errors of its
	// cells must not say what it is (labelErrors, withoutHiddenComputed).
	for _, path := range a.columns {
		shown := len(readers) == 0
		for _, cp := range readers {
			shown = shown || !cp.hidden[path]
		}
		if !shown {
			r.hidden[path] = true
		}
	}
	return r
}

func (s *Service) accessFor(ctx context.Context, p *engine.Principal, c *Compiled) *access {
	a := &access{p: p, actions: map[string]bool{}, scopes: map[string][]*compiledPerm{}, hidden: map[string]bool{}, readOnly: map[string]bool{}}
	for _, f := range c.Fields {
		a.fields = append(a.fields, f.Key)
		for _, col := range f.Fields {
			a.columns = append(a.columns, f.Key+"."+col.Key)
		}
	}
	if c.Def.Status != nil {
		a.initial = c.Def.Status.Initial
	}
	if s.k.Auth.Can(ctx, p, c.App, "app.design") {
		a.full = true
		return a
	}
	perms := s.permsInForce(ctx, c)
	for _, role := range p.Roles {
		cp, ok := perms[role]
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
		for _, col := range f.Fields {
			path := f.Key + "." + col.Key
			for _, cp := range a.scopes[ActRead] {
				if cp.hidden[path] {
					a.hidden[path] = true
				}
			}
		}
	}
	return a
}

// permsInForce are the permissions that judge a record of version c: those of the form's
// latest published version, whatever version the record was written in — a right granted or
// a field hidden by publishing applies to the records already there (the record's own version
// still gives its fields). c's own when it is the latest, a draft, or the latest cannot be read.
func (s *Service) permsInForce(ctx context.Context, c *Compiled) map[string]*compiledPerm {
	if c.Version == 0 {
		return c.perms
	}
	n, err := s.latestVersion(ctx, c.App, c.Key)
	if err != nil || n == c.Version {
		return c.perms
	}
	latest, err := s.Compiled(ctx, c.App, c.Key, n)
	if err != nil {
		return c.perms
	}
	return latest.perms
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

// allows tells whether the action is granted on this record by some role's row scope. A
// deleted record is read only where the delete action's scope covers it too: it is out of
// every list but the deleted one, which needs the delete action.
func (a *access) allows(ctx context.Context, action string, d *recordDoc) bool {
	if a.full {
		return true
	}
	if action == ActRead && d.Deleted != nil && !a.allows(ctx, ActDelete, d) {
		return false
	}
	for _, cp := range a.scopes[action] {
		if a.scopeMatches(ctx, cp, d) {
			return true
		}
	}
	return false
}

// requireAfter checks the state a write leaves (d as it will be stored) against the row
// scopes of the write's action, so that a write cannot move a record out of the writer's
// scope: action_out_of_scope (403) if none covers it.
func (a *access) requireAfter(ctx context.Context, action string, d *recordDoc) error {
	if a.allows(ctx, action, d) {
		return nil
	}
	return engine.Coded(engine.ErrForbidden, action+"_out_of_scope", nil)
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
		if shown {
			continue
		}
		if sub, col, ok := strings.Cut(k, "."); ok {
			withoutColumn(data, sub, col)
		} else {
			delete(data, k)
		}
	}
	return data
}

// withoutColumn removes column col from the rows of sub-table sub in data, on copies of the
// rows (data is changed, the rows it held are not).
func withoutColumn(data Values, sub, col string) {
	rows, ok := data[sub].([]any)
	if !ok {
		return
	}
	out := make([]any, len(rows))
	for i, r := range rows {
		row, ok := r.(map[string]any)
		if !ok {
			out[i] = r
			continue
		}
		cp := make(map[string]any, len(row))
		for k, v := range row {
			if k != col {
				cp[k] = v
			}
		}
		out[i] = cp
	}
	data[sub] = out
}

// hidesPart tells whether hidden hides field key or a column of it ("lines.margin").
func hidesPart(hidden map[string]bool, key string) bool {
	if hidden[key] {
		return true
	}
	for h := range hidden {
		if strings.HasPrefix(h, key+".") {
			return true
		}
	}
	return false
}

// hideFormulasOverHidden hides, in one role's permission, every formula that reads a field the
// role hides: its value would show what the field hides (margin = price - cost). That covers
// top-level formulas, sub-table columns that read the record (parent.cost) or a hidden sibling,
// and top-level formulas over a sub-table with a hidden column (sum(lines, .margin)). Hidden
// columns are keyed by their dotted path ("lines.margin"). It runs to a fixed point, so chains
// of formulas are followed whatever their order.
func hideFormulasOverHidden(c *Compiled, hidden map[string]bool) {
	// hides tells whether reading key k (a top-level field, with its rows) reads a hidden value.
	hides := func(k string) bool { return hidesPart(hidden, k) }
	hide := func(path string) bool {
		if hidden[path] {
			return false
		}
		hidden[path] = true
		return true
	}
	for changed := true; changed; {
		changed = false
		for _, f := range c.formulas {
			if d, ok := f.impl.(Dependent); ok && slices.ContainsFunc(d.Deps(f), hides) {
				changed = hide(f.Key) || changed
			}
		}
		for _, sub := range c.Fields {
			for _, col := range sub.Fields {
				d, ok := col.impl.(Dependent)
				if !ok {
					continue
				}
				path := sub.Key + "." + col.Key
				reads := slices.ContainsFunc(d.Deps(col), func(k string) bool { return hidden[sub.Key+"."+k] })
				keys, whole := parentDeps(col)
				reads = reads || slices.ContainsFunc(keys, hides)
				if whole {
					for h := range hidden {
						reads = reads || h != path
					}
				}
				if reads {
					changed = hide(path) || changed
				}
			}
		}
	}
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"error.create_out_of_scope": {ZH: "不能创建这条记录：按这些值，它不在您可以创建的数据范围内", EN: "you may not create this record: with these values it is outside the records you may create"},
		"error.update_out_of_scope": {ZH: "不能这样修改：修改后的记录将不在您可以修改的数据范围内", EN: "you may not make this change: it would move the record outside the records you may change"},
	})
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
