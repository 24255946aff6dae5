package api

import (
	"context"

	"github.com/gofiber/fiber/v2"

	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// CreatedRecord is the answer to a record create: the record and, when a published flow starts
// on its form's new records, Flows "pending". Such flows start asynchronously, shortly after
// this answer (usually within a fraction of a second; their trigger conditions are judged
// then): …/records/{id}/flows lists them once started, and an empty list right after the
// create does not mean that no flow applies.
type CreatedRecord struct {
	*forms.Record
	Flows string `json:"flows,omitempty"`
}

// createdRecord makes the answer to the create of r.
func (s *Server) createdRecord(ctx context.Context, r *forms.Record) CreatedRecord {
	out := CreatedRecord{Record: r}
	if s.flows == nil {
		return out
	}
	starts, err := s.flows.StartsOnCreate(ctx, r.App, r.Form)
	if err != nil {
		// The record is stored; a flow may still start. Say so rather than fail the create.
		s.log.Warn("flows on create not known", "app", r.App, "form", r.Form, "err", err)
		starts = true
	}
	if starts {
		out.Flows = "pending"
	}
	return out
}

// StartInput starts a flow on a record.
type StartInput struct {
	Record string `json:"record"`
}

// Validate checks the record is named.
func (in *StartInput) Validate() error {
	if in.Record == "" {
		return engine.Invalid("record", "required", nil)
	}
	return nil
}

// BatchInput approves several tasks at once. Signature is one handwritten signature (an image
// the caller uploaded) put on every task's approval (使用同一签名批量审批); without it, tasks
// whose node requires a signature are skipped (code signature_required).
type BatchInput struct {
	Tasks     []string `json:"tasks"`
	Comment   string   `json:"comment,omitempty"`
	Signature string   `json:"signature,omitempty"`
}

// Validate checks there are 1 to workflow.MaxBatch tasks.
func (in *BatchInput) Validate() error {
	if len(in.Tasks) == 0 {
		return engine.Invalid("tasks", "required", nil)
	}
	if len(in.Tasks) > workflow.MaxBatch {
		return engine.Invalid("tasks", "too_many", map[string]any{"max": workflow.MaxBatch})
	}
	return nil
}

// WithdrawInput withdraws an instance.
type WithdrawInput struct {
	Comment string `json:"comment,omitempty"`
}

func (s *Server) workflowRoutes() []Route {
	w := s.flows
	const flowBase = "/api/v1/apps/:app/flows/:flow"
	routes := definitionRoutes(definitionAPI[workflow.Flow, workflow.FlowVersion]{
		plural: "flows", param: "flow", noun: "flow", in: workflow.Definition{},
		list: w.ListFlows, get: w.GetFlow, save: w.SaveDraft, publish: w.Publish, versions: w.Versions,
		publishSummary: "Publish the draft as the flow's next version (running instances keep theirs)",
	})
	return append(routes, []Route{
		{Method: "POST", Path: flowBase + "/start", Tag: "flows", Summary: "Start the flow on a record", In: StartInput{}, Out: workflow.Instance{}, Status: 201,
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in StartInput
				if err := bind(c, &in); err != nil {
					return err
				}
				inst, err := w.Start(c.UserContext(), p, c.Params("app"), c.Params("flow"), in.Record)
				if err != nil {
					return err
				}
				return c.Status(201).JSON(inst)
			}},
		{Method: "GET", Path: "/api/v1/inbox", Tag: "inbox", Summary: "Your tasks: box todo (待我处理), done (我已处理), initiated (我发起的) or cc (抄送我), newest first", Out: []workflow.InboxItem{},
			Query: []Param{{Name: "box", Description: "todo | done | initiated | cc (default todo)"}, {Name: "limit", Type: "integer"}, {Name: "before", Description: "continue after this task id"}},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var fe engine.FieldErrors
				limit := intQuery(c, "limit", 0, 1, 200, &fe)
				if err := fe.Err(); err != nil {
					return err
				}
				box := c.Query("box", "todo")
				items, err := w.Inbox(c.UserContext(), p, box, limit, c.Query("before"))
				if err != nil {
					return err
				}
				return c.JSON(nonNil(items))
			}},
		{Method: "GET", Path: "/api/v1/inbox/counts", Tag: "inbox", Summary: "How many tasks each box holds", Out: workflow.InboxCounts{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				n, err := w.Counts(c.UserContext(), p)
				if err != nil {
					return err
				}
				return c.JSON(n)
			}},
		{Method: "GET", Path: "/api/v1/tasks/:task", Tag: "inbox", Summary: "A task with its instance, the record's fields this node shows, and what you may do", Out: workflow.TaskView{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				v, err := w.TaskView(c.UserContext(), p, c.Params("task"))
				if err != nil {
					return err
				}
				return c.JSON(v)
			}},
		{Method: "POST", Path: "/api/v1/tasks/:task/actions", Tag: "inbox", Summary: "Act on a task: approve, reject, return, transfer, add_signer or submit", In: workflow.ActInput{}, Out: workflow.Instance{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in workflow.ActInput
				if err := bind(c, &in); err != nil {
					return err
				}
				inst, err := w.Act(c.UserContext(), p, c.Params("task"), in)
				if err != nil {
					return err
				}
				return c.JSON(inst)
			}},
		{Method: "POST", Path: "/api/v1/tasks/batch-approve", Tag: "inbox", Summary: "Approve several tasks; each has its own result", In: BatchInput{}, Out: []workflow.BatchResult{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in BatchInput
				if err := bind(c, &in); err != nil {
					return err
				}
				res, err := w.BatchApprove(c.UserContext(), p, in.Tasks, in.Comment, in.Signature, langOf(c))
				if err != nil {
					return err
				}
				return c.JSON(res)
			}},
		{Method: "GET", Path: "/api/v1/instances/:id", Tag: "inbox", Summary: "A flow instance with its tasks and timeline", Out: workflow.Instance{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				inst, err := w.Instance(c.UserContext(), p, c.Params("id"))
				if err != nil {
					return err
				}
				return c.JSON(inst)
			}},
		{Method: "POST", Path: "/api/v1/instances/:id/withdraw", Tag: "inbox", Summary: "Withdraw your instance (until someone has acted)", In: WithdrawInput{}, Out: workflow.Instance{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in WithdrawInput
				if len(c.Body()) > 0 {
					if err := bind(c, &in); err != nil {
						return err
					}
				}
				inst, err := w.Withdraw(c.UserContext(), p, c.Params("id"), in.Comment)
				if err != nil {
					return err
				}
				return c.JSON(inst)
			}},
		{Method: "POST", Path: "/api/v1/instances/:id/comments", Tag: "inbox", Summary: "Comment on an instance (with attachments and a drawn signature)", In: workflow.ActInput{}, Out: workflow.Instance{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in workflow.ActInput
				if err := bind(c, &in); err != nil {
					return err
				}
				inst, err := w.Comment(c.UserContext(), p, c.Params("id"), in)
				if err != nil {
					return err
				}
				return c.JSON(inst)
			}},
		{Method: "GET", Path: "/api/v1/apps/:app/forms/:form/records/:id/flows", Tag: "inbox", Summary: "The flow instances of a record, with their timelines", Out: []workflow.Instance{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				list, err := w.InstancesOfRecord(c.UserContext(), p, c.Params("app"), c.Params("form"), c.Params("id"))
				if err != nil {
					return err
				}
				return c.JSON(nonNil(list))
			}},
		{Method: "GET", Path: "/api/v1/me/delegation", Tag: "inbox", Summary: "Your delegation while away (null when none)", Out: workflow.Delegation{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				d, err := w.GetDelegation(c.UserContext(), p)
				if err != nil {
					return err
				}
				return c.JSON(d)
			}},
		{Method: "PUT", Path: "/api/v1/me/delegation", Tag: "inbox", Summary: "Hand your new tasks to someone else between from and until", In: workflow.Delegation{}, Out: OK{},
			Handle: func(c *fiber.Ctx, p *engine.Principal) error {
				var in workflow.Delegation
				if err := bind(c, &in); err != nil {
					return err
				}
				if err := w.SetDelegation(c.UserContext(), p, in); err != nil {
					return err
				}
				return c.JSON(OK{OK: true})
			}},
	}...)
}
