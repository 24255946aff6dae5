package api

import (
	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/rules"
)

// ReadInput marks notifications read: those in IDs, or all unread ones.
type ReadInput struct {
	IDs []string `json:"ids,omitempty"`
	All bool     `json:"all,omitempty"`
}

// Validate checks the input names something to mark.
func (in *ReadInput) Validate() error {
	if len(in.IDs) == 0 && !in.All {
		return engine.Invalid("ids", "required", nil)
	}
	if len(in.IDs) > 500 {
		return engine.Invalid("ids", "too_many", map[string]any{"max": 500})
	}
	return nil
}

// ReadResult says how many notifications a read mark changed.
type ReadResult struct {
	Changed int `json:"changed"`
}

// ruleRoutes are the rule engine's routes: rules of an app (designers), the run log and dry
// run, the user's notifications and the administrator's webhook dead letters.
func (s *Server) ruleRoutes() []Route {
	r := s.rules
	if r == nil {
		return nil
	}
	const ruleBase = "/api/v1/apps/:app/rules/:rule"
	routes := definitionRoutes(definitionAPI[rules.Rule, rules.RuleVersion]{
		plural: "rules", param: "rule", noun: "rule", read: engine.PermAppDesign, in: rules.Definition{},
		list: r.ListRules, get: r.GetRule, save: r.SaveDraft, publish: r.Publish, versions: r.Versions,
		publishSummary: "Publish the draft as the rule's next version, the one that runs",
	})
	return append(routes, []Route{
		{Method: "GET", Path: ruleBase + "/runs", Tag: "rules", AppAction: engine.PermAppDesign, Summary: "The rule's run log, newest first: trigger, version, record, outcome, actions, errors", Out: rules.RunList{},
			Query: []Param{{Name: "limit", Type: "integer"}, {Name: "next", Description: "continue from the previous page's next"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 50, 1, 200, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				l, err := r.Runs(c.UserContext(), p, c.Params("app"), c.Params("rule"), limit, c.Query("next"))
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
		{Method: "POST", Path: ruleBase + "/dry-run", Tag: "rules", AppAction: engine.PermAppDesign, Summary: "Evaluate the rule's draft on a record: the condition and what each action would be given; nothing is done", In: rules.DryRunInput{}, Out: rules.DryRun{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in rules.DryRunInput
				if err := bind(c, &in); err != nil {
					return err
				}
				out, err := r.DryRun(c.UserContext(), p, c.Params("app"), c.Params("rule"), in)
				if err != nil {
					return err
				}
				return c.JSON(out)
			}},
		{Method: "GET", Path: "/api/v1/notifications", Tag: "notifications", Summary: "Your notifications, newest first, with the unread count", Out: rules.NotificationList{},
			Query: []Param{{Name: "limit", Type: "integer"}, {Name: "next", Description: "continue from the previous page's next"}, {Name: "unread", Type: "boolean", Description: "only unread ones"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 50, 1, 200, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				l, err := r.Notifications(c.UserContext(), p, limit, c.Query("next"), c.QueryBool("unread"))
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
		{Method: "POST", Path: "/api/v1/notifications/read", Tag: "notifications", Summary: "Mark notifications read: ids, or all", In: ReadInput{}, Out: ReadResult{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in ReadInput
				if err := bind(c, &in); err != nil {
					return err
				}
				n, err := r.MarkRead(c.UserContext(), p, in.IDs, in.All)
				if err != nil {
					return err
				}
				return c.JSON(ReadResult{Changed: n})
			}},
		{Method: "GET", Path: "/api/v1/admin/webhooks/dead", Tag: "admin", Action: engine.PermSystemAdmin, Summary: "Webhook deliveries that failed every attempt (dead letters), a page at a time", Out: rules.WebhookList{},
			Query: []Param{{Name: "limit", Type: "integer"}, {Name: "next", Description: "continue from the previous page's next"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 50, 1, 200, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				l, err := r.DeadWebhooks(c.UserContext(), p, limit, c.Query("next"))
				if err != nil {
					return err
				}
				return c.JSON(l)
			}},
		{Method: "POST", Path: "/api/v1/admin/webhooks/:id/replay", Tag: "admin", Action: engine.PermSystemAdmin, Summary: "Replay a dead webhook delivery: a new round of attempts, the first one at once", Out: rules.WebhookDelivery{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				d, err := r.ReplayWebhook(c.UserContext(), p, c.Params("id"))
				if err != nil {
					return err
				}
				return c.JSON(d)
			}},
	}...)
}
