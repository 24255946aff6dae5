package printing

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// ActionPrint is the kernel action that prints a template for the record a flow or rule runs
// on: {"template": key} makes a PDF stored as a file and attached to the record's timeline;
// {"template": key, "output": "printer", "printer": name} sends it to a label printer.
const ActionPrint = "printing.print"

// registerAction puts "printing.print" on the kernel's actions.
func (e *Engine) registerAction() error {
	if _, dup := e.k.Actions.Get(ActionPrint); dup {
		return fmt.Errorf("action %s registered twice", ActionPrint)
	}
	e.k.Actions.Register(ActionPrint, engine.Action{
		ID:    ActionPrint,
		Label: engine.Text{ZH: "打印", EN: "Print"},
		Check: e.checkAction,
		Run:   e.runAction,
	})
	return nil
}

// actionParams reads the action's params.
func actionParams(params map[string]any) (key, output, printer string, err error) {
	var fe engine.FieldErrors
	key, _ = params["template"].(string)
	output, _ = params["output"].(string)
	printer, _ = params["printer"].(string)
	if key == "" {
		fe.Add("template", "required", nil)
	}
	switch output {
	case "", "file":
	case OutputPrinter:
		if printer == "" {
			fe.Add("printer", "required", nil)
		}
	default:
		fe.Add("output", "not_allowed", map[string]any{"value": output})
	}
	for k := range params {
		switch k {
		case "template", "output", "printer":
		default:
			fe.Add(k, "unknown_field", nil)
		}
	}
	return key, output, printer, fe.Err()
}

// checkAction checks the params when the rule or flow that uses the action is saved: the
// template exists in the app.
func (e *Engine) checkAction(ctx context.Context, app string, params map[string]any) error {
	key, output, _, err := actionParams(params)
	if err != nil {
		return err
	}
	if output == OutputPrinter && e.labelPrinters() == nil {
		return engine.Invalid("output", "not_allowed", map[string]any{"value": output})
	}
	if _, err := e.defs.Latest(ctx, app, key); errors.Is(err, store.ErrNotFound) {
		return engine.Invalid("template", "not_found", map[string]any{"value": key})
	} else if err != nil {
		return fmt.Errorf("check %s: %w", ActionPrint, err)
	}
	return nil
}

// runAction prints the template's latest published version for the record, as the action's
// actor. It is idempotent for one run key: the job's id is made from the key and the job is
// stored as pending before anything is printed, then finished. A run again finds the job: a
// finished one is the answer; a pending printer job is not sent again — the earlier run may
// have printed it in part or whole — but marked unknown, for a person to decide; a pending
// PDF is made again. A print that failed before anything was sent (a printer that cannot be
// reached) leaves no job, so a run again prints it; one the printer took in part is recorded
// as failed and is not sent again.
//
// A rule or flow runs the action as the system, and the PDF it attaches is readable by
// every reader of the record: such a print shows only the fields every role may see
// (pageSource.common).
func (e *Engine) runAction(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
	key, output, printer, err := actionParams(ac.Params)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(ac.App + "\x00" + ac.Key))
	jobID := "a" + hex.EncodeToString(sum[:13])
	var prev Job
	pendingRev := int64(0)
	switch err := e.st.Get(ctx, jobsCollection, jobID, &prev); {
	case err == nil && prev.Status == JobPending && strings.HasPrefix(prev.Output, "printer:"):
		prev.Status = JobUnknown
		prev.Error = "an earlier run of the action stopped while the job was being sent: check the printer's labels before printing again"
		if err := e.recordJob(ctx, ac.Actor, &prev); err != nil {
			return e.actionConflict(ctx, jobID, err)
		}
		return actionResult(&prev), nil
	case err == nil && prev.Status == JobPending:
		pendingRev = prev.Rev
	case err == nil:
		return actionResult(&prev), nil
	case !errors.Is(err, store.ErrNotFound):
		return nil, fmt.Errorf("%s: %w", ActionPrint, err)
	}
	c, err := e.published(ctx, ac.App, key)
	if err != nil {
		return nil, err
	}
	if c.Def.Form != ac.Form {
		return nil, engine.Invalid("template", "not_allowed", map[string]any{"value": key})
	}
	ctx, cancel := context.WithTimeout(ctx, e.opts.Timeout)
	defer cancel()
	ps := e.newPageSource(ac.Actor, c, []string{ac.Record}, "", "")
	if _, err := ps.count(ctx); err != nil {
		return nil, err
	}
	job := &Job{ID: jobID, App: ac.App, Template: key, Version: c.Version, Form: c.Def.Form, By: actorOf(ac.Actor), Key: ac.Key,
		Status: JobPending, Output: "file:", Records: []JobRecord{}, Rev: pendingRev}
	if output == OutputPrinter {
		job.Output = "printer:" + printer
	}
	if pendingRev == 0 {
		// Stored before anything is printed: a run again knows this one began.
		job.At = e.now().UTC()
		if err := e.st.Create(ctx, jobsCollection, jobID, job); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				// Run at the same time elsewhere: that run's job stands.
				return e.actionConflict(ctx, jobID, err)
			}
			return nil, fmt.Errorf("%s: %w", ActionPrint, err)
		}
		job.Rev = 1
	}
	if output == OutputPrinter {
		printers := e.labelPrinters()
		if printers == nil {
			e.dropPending(ctx, job)
			return nil, engine.Invalid("output", "not_allowed", map[string]any{"value": output})
		}
		if err := e.printLabels(ctx, ac.Actor, printers, printer, c, ps, ps.pages(ctx), job, false); err != nil {
			var ce *engine.CodedError
			switch {
			case job.Status == JobPending:
				e.dropPending(ctx, job) // nothing went to the printer
			case errors.As(err, &ce) && (ce.Code == "printer_failed_job" || ce.Code == "printer_unreachable"):
				// recorded as failed, with how far it went
			case engine.IsConflict(err) || errors.Is(err, store.ErrDuplicate):
				return e.actionConflict(ctx, jobID, err) // the job was changed meanwhile
			}
			return nil, err
		}
		return actionResult(job), nil
	}
	if e.opts.StoreFile == nil {
		return nil, fmt.Errorf("%s: no file store", ActionPrint)
	}
	out, err := e.writeFiles(ctx, ac.Actor, ac.App, &c.Def, ps.lang, ps.pages(ctx))
	if err != nil {
		return nil, err
	}
	defer out.Close()
	if out.files > 1 {
		return nil, engine.Coded(engine.ErrInvalid, "print_too_many", map[string]any{"max": LabelsPerFile})
	}
	name := fmt.Sprintf("%s-%s.pdf", key, ac.Record)
	file, err := e.opts.StoreFile(ctx, ac.Actor, ac.App, name, out)
	if err != nil {
		return nil, fmt.Errorf("%s: store the PDF: %w", ActionPrint, err)
	}
	if err := e.k.Records.AttachFiles(ctx, ac.Actor, ac.App, ac.Form, ac.Record, []string{file}); err != nil {
		return nil, fmt.Errorf("%s: attach the PDF: %w", ActionPrint, err)
	}
	job.Output, job.Labels, job.Records, job.Codes = "file:"+file, ps.labels, ps.seen, ps.codes
	job.Files, job.Size, job.SHA256, job.Status = 1, out.Size, out.sum, JobDone
	if err := e.recordJob(ctx, ac.Actor, job); err != nil {
		if engine.IsConflict(err) || errors.Is(err, store.ErrDuplicate) {
			return e.actionConflict(ctx, jobID, err)
		}
		return nil, err
	}
	return actionResult(job), nil
}

// actionConflict answers a run that met another run of the same key: that run's job, if it
// can be read.
func (e *Engine) actionConflict(ctx context.Context, jobID string, cause error) (map[string]any, error) {
	var done Job
	if err := e.st.Get(context.WithoutCancel(ctx), jobsCollection, jobID, &done); err == nil {
		return actionResult(&done), nil
	}
	return nil, cause
}

// dropPending removes a pending job that printed nothing, so that a run again prints.
func (e *Engine) dropPending(ctx context.Context, job *Job) {
	_ = e.st.Delete(context.WithoutCancel(ctx), jobsCollection, job.ID)
}

func actionResult(j *Job) map[string]any {
	status := j.Status
	if status == "" {
		status = JobDone
	}
	return map[string]any{"job": j.ID, "template": j.Template, "version": j.Version, "labels": j.Labels, "output": j.Output, "status": status}
}
