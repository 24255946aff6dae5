package engine

import "context"

// TaskGrants is how an engine that lets people see a record by other means than the form's
// permissions — the workflow engine, through an approver's open task — tells the form engine
// what it shows them, so that the files in those fields may be downloaded from the task page.
// The workflow engine sets it (Kernel.Grants) when it is made.
type TaskGrants interface {
	// TaskFields lists the top-level fields of record (app, form, id) that p's actionable tasks
	// on the record's flow instances show: a node's visible fields, within what the form's
	// field rules let p see (Records.VisibleFields). Open is whether p holds such a task at
	// all, which also shows p the instances' timelines (the files of comments and signatures).
	TaskFields(ctx context.Context, p *Principal, app, form, id string) (fields []string, open bool, err error)
}
