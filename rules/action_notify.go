package rules

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"tracecraft/engine"
)

// notifyParams: {"to": ["wang"], "roles": ["warehouse"], "title": "expression", "body":
// "expression"} puts an in-app notification, linked to the record, in the notification centre
// of each user named and each member of the roles named (kernel action notify.inapp). Title and
// body are expressions: concat("批次 ", record.lot, " 将于 ", record.expiry_date, " 到期").
// Recipients are resolved when the rule fires: only enabled users who may read the record, and
// title and body are rendered for each with only the fields they may see (hiddenPlaceholder
// for the others).
type notifyParams struct {
	To    []string `json:"to,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Title string   `json:"title"`
	Body  string   `json:"body,omitempty"`
}

// Limits of a notify action's recipient lists.
const (
	maxNotifyTo    = 50
	maxNotifyRoles = 20
)

// maxRecipients is the most users one notify or email action reaches in a run (the first by
// username); the run log's result says when there were more.
const maxRecipients = 200

// capRecipients is users cut at maxRecipients, and whether it was cut.
func capRecipients(users []engine.User) ([]engine.User, bool) {
	if len(users) > maxRecipients {
		return users[:maxRecipients], true
	}
	return users, false
}

// capNote tells in an action's result that its recipients were cut at maxRecipients.
func capNote(out map[string]any, all int, capped bool) {
	if !capped {
		return
	}
	out["recipients"], out["cap"], out["capped"] = all, maxRecipients, true
	out["note"] = fmt.Sprintf("%d users were recipients; the cap is %d: only the first %d by username were reached", all, maxRecipients, maxRecipients)
}

// hiddenPlaceholder is what a notification shows for a field its recipient may not see.
const hiddenPlaceholder = "—"

// renderParam is the member of notify.inapp's params that carries the per-recipient renderer
// of a rule's notification. It lives only in memory: the run log and dry runs leave it out
// (redact).
const renderParam = "_render"

// notifyRender renders a notification's title and body with only the record fields in
// visible.
type notifyRender func(ctx context.Context, visible []string) (title, body string, err error)

func init() {
	registerActionKind("notify", actionKind{kernel: NotifyAction,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p notifyParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if err := checkMessage(p.To, p.Roles, "title", p.Title); err != nil {
				return nil, err
			}
			return compileMessage(cc, p.To, p.Roles, "title", p.Title, p.Body), nil
		}})
}

// checkMessage checks what notify and email require: someone to send to, within the limits,
// and a heading (notify's title, email's subject) under headingKey.
func checkMessage(to, roles []string, headingKey, heading string) error {
	if len(to) == 0 && len(roles) == 0 {
		return engine.Invalid("/to", "required", nil)
	}
	if len(to) > maxNotifyTo {
		return engine.Invalid("/to", "too_many", map[string]any{"max": maxNotifyTo})
	}
	if len(roles) > maxNotifyRoles {
		return engine.Invalid("/roles", "too_many", map[string]any{"max": maxNotifyRoles})
	}
	if heading == "" {
		return engine.Invalid("/"+headingKey, "required", nil)
	}
	return nil
}

// compileMessage compiles the heading (under headingKey) and the optional body of notify or
// email into their params (renderedParams).
func compileMessage(cc *compileCtx, to, roles []string, headingKey, heading, body string) prepared {
	h := cc.expr("/"+headingKey, heading, engine.ExprString)
	var b *engine.Program
	if body != "" {
		b = cc.expr("/body", body, engine.ExprString)
	}
	return renderedParams(to, roles, headingKey, h, b)
}

// renderedParams makes the params of a message to people (notify, email): to, roles, the title
// (under titleKey) and body rendered with every field for the run log, and the renderer that
// renders them for each recipient with only the fields they may see.
func renderedParams(to, roles []string, titleKey string, title, body *engine.Program) prepared {
	render := func(ctx context.Context, vars map[string]any) (string, string, error) {
		t, err := title.Eval(ctx, vars)
		if err != nil {
			return "", "", fmt.Errorf("%s: %w", titleKey, err)
		}
		ts, _ := t.(string)
		var bs string
		if body != nil {
			b, err := body.Eval(ctx, vars)
			if err != nil {
				return "", "", fmt.Errorf("body: %w", err)
			}
			bs, _ = b.(string)
		}
		return ts, bs, nil
	}
	return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
		// Rendered with every field for the run log (read by the app's designers, who see
		// every field); each recipient gets its own rendering.
		t, b, err := render(ctx, vars)
		if err != nil {
			return nil, err
		}
		out := map[string]any{"to": anyList(to), "roles": anyList(roles), titleKey: t}
		if body != nil {
			out["body"] = b
		}
		out[renderParam] = notifyRender(func(ctx context.Context, visible []string) (string, string, error) {
			return render(ctx, visibleVars(vars, visible))
		})
		return out, nil
	}
}

// visibleVars is vars with the record fields outside visible (in record and previous)
// replaced by hiddenPlaceholder.
func visibleVars(vars map[string]any, visible []string) map[string]any {
	out := maps.Clone(vars)
	for _, name := range []string{"record", "previous"} {
		data, ok := vars[name].(map[string]any)
		if !ok {
			continue
		}
		shown := make(map[string]any, len(data))
		for k, v := range data {
			if slices.Contains(visible, k) {
				shown[k] = v
			} else {
				shown[k] = hiddenPlaceholder
			}
		}
		out[name] = shown
	}
	return out
}

// NotifyAction is the kernel action that puts in-app notifications.
const NotifyAction = "notify.inapp"

// registerNotify puts notify.inapp on the kernel: params to and roles (lists of names), title
// and body (text). The run's key makes it idempotent: one notification per key and user.
// Recipients are the enabled users named or in the roles named; for a record, only those who
// may read it now (engine.Records.GetRecord as them), and a rule's title and body are rendered
// for each with the fields engine.Records.VisibleFields lets them see.
func (s *Service) registerNotify() {
	s.k.Actions.Register(NotifyAction, engine.Action{
		ID: NotifyAction, Label: engine.Text{ZH: "站内通知", EN: "In-app notification"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			if len(stringList(params["to"])) == 0 && len(stringList(params["roles"])) == 0 {
				return engine.Invalid("to", "required", nil)
			}
			return nil
		},
		Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
			all, err := s.recipients(ctx, stringList(ac.Params["to"]), stringList(ac.Params["roles"]))
			if err != nil {
				return nil, err
			}
			users, capped := capRecipients(all)
			if capped {
				s.k.Log.Warn("rule notification capped", "app", ac.App, "key", ac.Key, "recipients", len(all), "cap", maxRecipients)
			}
			title, _ := ac.Params["title"].(string)
			body, _ := ac.Params["body"].(string)
			render, _ := ac.Params[renderParam].(notifyRender)
			key := ac.Key
			if key == "" {
				key = newRunID(s.now())
			}
			var ns []Notification
			for _, u := range users {
				n := Notification{User: u.Username, App: ac.App, Form: ac.Form, Record: ac.Record}
				var ok bool
				if n.Title, n.Body, ok, err = s.messageFor(ctx, ac, u, title, body, render); err != nil {
					return nil, err
				}
				if ok {
					ns = append(ns, n)
				}
			}
			made, err := s.notify(ctx, key, ns)
			if err != nil {
				return nil, err
			}
			names := make([]string, len(ns))
			for i, n := range ns {
				names[i] = n.User
			}
			out := map[string]any{"users": anyList(names), "made": made}
			capNote(out, len(all), capped)
			return out, nil
		},
	})
}

// messageFor is the heading and body user u gets of a notify or email run: the params' text,
// or, with a rule's renderer, its rendering with only the fields u may see (read as u: what
// lookup() finds too, also without a record, as when a schedule fires). ok is false when u may
// not read the run's record: u gets nothing.
func (s *Service) messageFor(ctx context.Context, ac engine.ActionContext, u engine.User, heading, body string, render notifyRender) (string, string, bool, error) {
	var visible []string
	if ac.Record != "" {
		v, ok, err := s.recordView(ctx, u, ac.App, ac.Form, ac.Record)
		if err != nil || !ok {
			return "", "", false, err
		}
		visible = v
	}
	if render == nil {
		return heading, body, true, nil
	}
	h, b, err := render(s.withLookup(ctx, ac.App, principalOf(u)), visible)
	if err != nil {
		// An expression over a placeholder (arithmetic on a hidden number): the message
		// still goes, and still points at the record.
		return hiddenPlaceholder, "", true, nil
	}
	return h, b, true, nil
}

// recordView tells whether user u may read record app/form/id through the record read path,
// and which of its fields u may see. A deleted record is shown to the app's readers with no
// fields.
func (s *Service) recordView(ctx context.Context, u engine.User, app, form, id string) ([]string, bool, error) {
	p := principalOf(u)
	_, err := s.k.Records.GetRecord(ctx, p, app, form, id)
	if errors.Is(err, engine.ErrNotFound) {
		if err := s.k.Auth.Require(ctx, p, app, engine.PermAppRead); err != nil {
			return nil, false, nil
		}
		return nil, true, nil
	}
	if errors.Is(err, engine.ErrForbidden) || errors.Is(err, engine.ErrUnauthenticated) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("notify %s: %w", u.Username, err)
	}
	view, err := s.k.Records.VisibleFields(ctx, p, app, form, id)
	if errors.Is(err, engine.ErrNotFound) {
		return nil, true, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("notify %s: %w", u.Username, err)
	}
	return view.Fields, true, nil
}

// recipients are the enabled users named and the enabled members of the roles named, each
// once, by username. A name with no user (yet) is left out.
func (s *Service) recipients(ctx context.Context, to, roles []string) ([]engine.User, error) {
	var out []engine.User
	for _, name := range to {
		u, err := s.k.Auth.GetUser(ctx, name)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("notify: %w", err)
		}
		if !u.Disabled {
			out = append(out, u)
		}
	}
	if len(roles) > 0 {
		users, err := s.k.Auth.ListUsers(ctx, engine.SystemPrincipal())
		if err != nil {
			return nil, fmt.Errorf("notify roles: %w", err)
		}
		for _, u := range users {
			if u.Disabled {
				continue
			}
			for _, r := range u.Roles {
				if slices.Contains(roles, r) {
					out = append(out, u)
					break
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b engine.User) int { return strings.Compare(a.Username, b.Username) })
	return slices.CompactFunc(out, func(a, b engine.User) bool { return a.Username == b.Username }), nil
}

func stringList(v any) []string {
	switch l := v.(type) {
	case []string:
		return l
	case []any:
		out := make([]string, 0, len(l))
		for _, x := range l {
			if s, ok := x.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

func anyList(l []string) []any {
	out := make([]any, len(l))
	for i, s := range l {
		out[i] = s
	}
	return out
}
