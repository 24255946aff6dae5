package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	"tracecraft/engine"
)

// notifyParams: {"to": ["wang"], "roles": ["warehouse"], "title": "expression", "body":
// "expression"} puts an in-app notification, linked to the record, in the notification centre
// of each user named and each member of the roles named (kernel action notify.inapp). Title and
// body are expressions: concat("批次 ", record.lot, " 将于 ", record.expiry_date, " 到期").
type notifyParams struct {
	To    []string `json:"to,omitempty"`
	Roles []string `json:"roles,omitempty"`
	Title string   `json:"title"`
	Body  string   `json:"body,omitempty"`
}

func init() {
	registerActionKind("notify", actionKind{kernel: NotifyAction,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p notifyParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if len(p.To) == 0 && len(p.Roles) == 0 {
				return nil, engine.Invalid("/to", "required", nil)
			}
			if p.Title == "" {
				return nil, engine.Invalid("/title", "required", nil)
			}
			title := cc.expr("/title", p.Title, engine.ExprString)
			var body *engine.Program
			if p.Body != "" {
				body = cc.expr("/body", p.Body, engine.ExprString)
			}
			return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
				out := map[string]any{"to": anyList(p.To), "roles": anyList(p.Roles)}
				t, err := title.Eval(ctx, vars)
				if err != nil {
					return nil, fmt.Errorf("title: %w", err)
				}
				out["title"] = t
				if body != nil {
					b, err := body.Eval(ctx, vars)
					if err != nil {
						return nil, fmt.Errorf("body: %w", err)
					}
					out["body"] = b
				}
				return out, nil
			}, nil
		}})
}

// NotifyAction is the kernel action that puts in-app notifications.
const NotifyAction = "notify.inapp"

// registerNotify puts notify.inapp on the kernel: params to and roles (lists of names), title
// and body (text). The run's key makes it idempotent: one notification per key and user.
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
			users, err := s.recipients(ctx, stringList(ac.Params["to"]), stringList(ac.Params["roles"]))
			if err != nil {
				return nil, err
			}
			title, _ := ac.Params["title"].(string)
			body, _ := ac.Params["body"].(string)
			key := ac.Key
			if key == "" {
				key = newRunID(s.now())
			}
			n, err := s.notify(ctx, key, users, Notification{App: ac.App, Form: ac.Form, Record: ac.Record, Title: title, Body: body})
			if err != nil {
				return nil, err
			}
			return map[string]any{"users": anyList(users), "made": n}, nil
		},
	})
}

// recipients are the users named and the enabled members of the roles named, each once.
func (s *Service) recipients(ctx context.Context, to, roles []string) ([]string, error) {
	out := slices.Clone(to)
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
					out = append(out, u.Username)
					break
				}
			}
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
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
