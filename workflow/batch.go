package workflow

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"

	"tracecraft/engine"
)

// BatchResult is the outcome of one task of BatchApprove. A task that was not approved has a
// Code (not_found, forbidden, conflict, invalid, signature_required, unauthenticated or
// internal) and a Message in
// the caller's language; an invalid one names its bad inputs in Fields, an internal one has
// an ID that is also in the log. Nothing in it names the store's collections.
type BatchResult struct {
	Task    string       `json:"task"`
	OK      bool         `json:"ok"`
	Code    string       `json:"code,omitempty"`
	Message string       `json:"message,omitempty"`
	Fields  []BatchField `json:"fields,omitempty"`
	ID      string       `json:"id,omitempty"`
}

// BatchField is one bad input of a task BatchApprove could not approve.
type BatchField struct {
	Field string `json:"field"`
	Code  string `json:"code"`
	// Label names the field as the form does, in the caller's language, when the engine that
	// refused knows it; Message then names the field by it ("质检签名：必填").
	Label   string `json:"label,omitempty"`
	Message string `json:"message"`
}

// MaxBatch is the most tasks one BatchApprove takes.
const MaxBatch = 200

// BatchApprove approves each task with the same comment and reports each outcome, with its
// messages in lang (engine.LangZH or engine.LangEN). More than MaxBatch tasks is a field error
// on tasks (too_many) before any is approved. When ctx ends it stops before the next task and
// returns the outcomes so far with ctx's error.
//
// signature ("" for none) is one handwritten signature for the whole batch (使用同一签名批量
// 审批): it must be an image p uploaded (else a field error on signature before any task is
// approved), and it is bound to and shown on every task's approve step, as if p had signed
// each. Without it, a task whose node requires a signature to approve is skipped with code
// signature_required, and nothing of it changes.
func (s *Service) BatchApprove(ctx context.Context, p *engine.Principal, taskIDs []string, comment, signature, lang string) ([]BatchResult, error) {
	if len(taskIDs) > MaxBatch {
		return nil, fmt.Errorf("batch approve: %w", engine.Invalid("tasks", "too_many", map[string]any{"max": MaxBatch}))
	}
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	if signature != "" {
		if err := checkNote(ActInput{Signature: signature}); err != nil {
			return nil, fmt.Errorf("batch approve: %w", err)
		}
		if err := s.checkBatchSignature(ctx, p, taskIDs, signature); err != nil {
			return nil, fmt.Errorf("batch approve: %w", err)
		}
	}
	out := make([]BatchResult, 0, len(taskIDs))
	for _, id := range taskIDs {
		if err := ctx.Err(); err != nil {
			return out, fmt.Errorf("batch approve: stopped after %d of %d tasks: %w", len(out), len(taskIDs), err)
		}
		_, err := s.act(ctx, p, id, ActInput{Action: ActApprove, Comment: comment, Signature: signature})
		out = append(out, s.batchResult(id, err, lang))
	}
	return out, nil
}

// checkBatchSignature checks a batch's signature before any task is approved: an image p
// uploaded to the app of a task p may approve now (mayAct). Tasks p may not act on are not
// looked at — their own results say not_found or forbidden, whatever app they are in — and a
// signature good in one of p's apps lets the batch go on: a task of another app fails alone
// (act checks the signature again for each task, in its own app). Only a signature good for
// none of them (not p's own drawing, not an image) refuses the batch.
func (s *Service) checkBatchSignature(ctx context.Context, p *engine.Principal, taskIDs []string, signature string) error {
	var first error
	tried := map[string]bool{}
	for _, id := range taskIDs {
		inst, err := s.load(ctx, instanceOfTask(id))
		if err != nil || mayAct(inst, p, id, ActApprove) != nil || tried[inst.App] {
			continue
		}
		tried[inst.App] = true
		err = s.checkSignature(ctx, p, inst.App, signature)
		if err == nil {
			return nil
		}
		if _, ok := engine.AsFieldErrors(err); !ok {
			return err
		}
		if first == nil {
			first = err
		}
	}
	return first
}

// batchResult describes err, the outcome of approving task, in lang.
func (s *Service) batchResult(task string, err error, lang string) BatchResult {
	r := BatchResult{Task: task, OK: err == nil}
	if err == nil {
		return r
	}
	if fe, ok := engine.AsFieldErrors(err); ok {
		if len(fe) == 1 && fe[0].Path == "signature" && fe[0].Code == "flowrun.signature_required" {
			r.Code, r.Message = "signature_required", engine.Message(lang, "flowrun.batch.signature_required", nil)
			return r
		}
		r.Code, r.Message = "invalid", engine.Message(lang, "flowrun.batch.invalid", nil)
		for _, f := range fe {
			r.Fields = append(r.Fields, BatchField{Field: f.Path, Code: f.Code, Label: f.Label.In(lang), Message: f.Sentence(lang)})
		}
		if len(r.Fields) == 1 {
			if one := r.Fields[0]; one.Label != "" {
				r.Message += ": " + one.Message
			} else {
				r.Message += ": " + one.Field + " " + one.Message
			}
		}
		return r
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		r.Code = "not_found"
	case errors.Is(err, engine.ErrForbidden):
		r.Code = "forbidden"
	case errors.Is(err, engine.ErrUnauthenticated):
		r.Code = "unauthenticated"
	case engine.IsConflict(err):
		r.Code = "conflict"
	case errors.Is(err, engine.ErrInvalid):
		r.Code = "invalid"
	default:
		b := make([]byte, 6)
		_, _ = rand.Read(b)
		r.Code, r.ID = "internal", hex.EncodeToString(b)
		s.k.Log.Error("batch approve failed", "error_id", r.ID, "task", task, "err", err)
		r.Message = engine.Message(lang, "flowrun.batch.internal", map[string]any{"id": r.ID})
		return r
	}
	r.Message = engine.Message(lang, "flowrun.batch."+r.Code, nil)
	return r
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"flowrun.batch.not_found":       {ZH: "待办不存在", EN: "no such task"},
		"flowrun.batch.forbidden":       {ZH: "这不是你的待办", EN: "the task is not yours"},
		"flowrun.batch.unauthenticated": {ZH: "请先登录", EN: "sign in first"},
		"flowrun.batch.conflict":        {ZH: "该待办已被处理或流程已继续，请刷新后重试", EN: "the task was closed or the flow moved on meanwhile; reload and try again"},
		"flowrun.batch.invalid":         {ZH: "输入有误", EN: "invalid input"},
		"flowrun.batch.internal":        {ZH: "服务器内部错误，错误编号 {id}", EN: "internal error, id {id}"},
	})
}
