package forms

import (
	"context"

	"tracecraft/engine"
)

// What a caller may do, as the answers about apps and forms say it (App.Can, Form.Can,
// Form.CanTransitions), so a client offers only what the server would allow. They are the
// checks the actions themselves make before a record is read: a row scope or a transition's
// condition can still refuse one record.

// ActImport is importing records: it takes the create action (planImport).
const ActImport = "import"

// App actions App.Can lists.
const (
	AppCanRead   = "read"   // engine.PermAppRead
	AppCanDesign = "design" // engine.PermAppDesign
)

// recordActions are the actions Form.Can may list, in the order it lists them.
var recordActions = []string{ActCreate, ActRead, ActUpdate, ActDelete, ActExport, ActImport}

// appCan lists the app actions p holds on app.
func (s *Service) appCan(ctx context.Context, p *engine.Principal, app string) []string {
	out := []string{}
	if s.k.Auth.Can(ctx, p, app, engine.PermAppRead) {
		out = append(out, AppCanRead)
	}
	if s.k.Auth.Can(ctx, p, app, engine.PermAppDesign) {
		out = append(out, AppCanDesign)
	}
	return out
}

// formCan fills f.Can with the record actions p holds on the form's records under the latest
// published version's permissions (c, nil when the form has never been published: no record
// action is possible then), and f.CanTransitions with the status transitions of that version p
// may take (update, and one of the transition's roles if it names any). App designers hold
// every action.
func (s *Service) formCan(ctx context.Context, p *engine.Principal, f *Form, c *Compiled) {
	f.Can, f.CanTransitions = []string{}, []string{}
	if c == nil {
		return
	}
	acc := s.accessFor(ctx, p, c)
	for _, act := range recordActions {
		ok := acc.can(act)
		switch act {
		case ActExport:
			ok = acc.can(ActRead) && acc.can(ActExport) // PrepareExport
		case ActImport:
			ok = acc.can(ActCreate) // planImport
		}
		if ok {
			f.Can = append(f.Can, act)
		}
	}
	if c.Def.Status == nil || !acc.can(ActUpdate) {
		return
	}
	for _, t := range c.Def.Status.Transitions {
		if len(t.Roles) == 0 || acc.full || anyOf(p.Roles, t.Roles) { // Transition
			f.CanTransitions = append(f.CanTransitions, t.Key)
		}
	}
}

// latestCompiled is the form's latest published version compiled, or nil when it has none
// (or it cannot be read: the answer then offers no record action).
func (s *Service) latestCompiled(ctx context.Context, f *Form) *Compiled {
	if f.Published == 0 {
		return nil
	}
	c, err := s.Compiled(ctx, f.App, f.Key, 0)
	if err != nil {
		s.k.Log.Warn("form answer: latest version unreadable", "form", f.ID, "err", err)
		return nil
	}
	return c
}
