package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"tracecraft/engine"
)

// webhookParams: {"url": "https://erp.example.com/hooks/lots", "secret": "…", "body":
// {"lot": "record.lot"}} posts JSON to the URL, signed with HMAC-SHA256 of the body under the
// secret in the X-Tracecraft-Signature header ("sha256=<hex>"). Without body the JSON is
// {"rule", "app", "form", "record", "data"}. Each member of body is an expression. A failed
// call is retried with a growing wait (Options.WebhookAttempts, WebhookBackoff), then kept
// as a dead letter an administrator can replay (DeadWebhooks, ReplayWebhook).
type webhookParams struct {
	URL    string            `json:"url"`
	Secret string            `json:"secret,omitempty"`
	Body   map[string]string `json:"body,omitempty"`
}

// WebhookAction is the kernel action that calls webhooks.
const WebhookAction = "webhook.call"

func init() {
	registerActionKind("webhook", actionKind{kernel: WebhookAction,
		compile: func(cc *compileCtx, raw json.RawMessage) (prepared, error) {
			var p webhookParams
			if err := engine.DecodeStrict(raw, &p); err != nil {
				return nil, err
			}
			if err := checkWebhookURL(p.URL); err != nil {
				return nil, err
			}
			var body exprMap
			if p.Body != nil {
				body = cc.compileExprMap("/body", p.Body)
			}
			return func(ctx context.Context, vars map[string]any) (map[string]any, error) {
				var b any
				if body != nil {
					m, err := body.eval(ctx, vars)
					if err != nil {
						return nil, err
					}
					b = m
				} else {
					rule, _ := vars["rule"].(map[string]any)
					b = map[string]any{"rule": rule["key"], "app": vars["app"], "form": vars["form"], "record": vars["id"], "data": vars["record"]}
				}
				return map[string]any{"url": p.URL, "secret": p.Secret, "body": b}, nil
			}, nil
		}})
}

// checkWebhookURL accepts absolute http and https URLs.
func checkWebhookURL(s string) error {
	u, err := url.Parse(s)
	if s == "" {
		return engine.Invalid("/url", "required", nil)
	}
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return engine.Invalid("/url", "invalid_url", map[string]any{"value": s})
	}
	return nil
}

// registerWebhook puts webhook.call on the kernel: params url, secret and body (any JSON
// value). It only queues a delivery under the run's key (a run again finds it queued): the
// dispatcher makes the first attempt off the bus, retries are the webhook job's.
func (s *Service) registerWebhook() {
	s.k.Actions.Register(WebhookAction, engine.Action{
		ID: WebhookAction, Label: engine.Text{ZH: "调用 Webhook", EN: "Call a webhook"},
		Check: func(ctx context.Context, app string, params map[string]any) error {
			u, _ := params["url"].(string)
			return checkWebhookURL(u)
		},
		Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
			u, _ := ac.Params["url"].(string)
			secret, _ := ac.Params["secret"].(string)
			body, err := json.Marshal(ac.Params["body"])
			if err != nil {
				return nil, fmt.Errorf("webhook body: %w", err)
			}
			key := ac.Key
			if key == "" {
				key = newRunID(s.now())
			}
			// A rule's actor is rule:<key>@<version> (rulePrincipal): its retries stop when
			// the rule is switched off.
			var rule string
			if ac.Actor != nil {
				if r, ok := strings.CutPrefix(ac.Actor.Username, "rule:"); ok {
					rule, _, _ = strings.Cut(r, "@")
				}
			}
			d, err := s.queueWebhook(ctx, key, ac.App, rule, u, secret, body)
			if err != nil {
				return nil, err
			}
			return map[string]any{"delivery": d.ID, "state": d.State, "attempts": d.Attempts}, nil
		},
	})
}
