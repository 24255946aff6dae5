// Package workflow is the approval engine: flow definitions attached to forms (a graph of
// start, approval, fill, condition, parallel, join, notify, action and end nodes), their frozen
// versions, instances with their tasks, the inbox, timers and events. It does not import the
// form engine: it reads and writes records through engine.Records and meets the rest of the
// system through the kernel's bus, scheduler, registries and auth.
package workflow

import (
	"time"

	"tracecraft/engine"
)

// Node types.
const (
	NodeStart     = "start"
	NodeApproval  = "approval"  // 审批人
	NodeFill      = "fill"      // 办理人: edits fields, then submits
	NodeCondition = "condition" // 条件分支
	NodeParallel  = "parallel"  // 并行分支
	NodeJoin      = "join"      // where parallel branches meet
	NodeNotify    = "notify"    // 抄送人
	NodeAction    = "action"    // 自动操作
	NodeEnd       = "end"
)

// Approval modes.
const (
	ModeSingle   = "single"   // one approver (the first assignee)
	ModeAny      = "any"      // 或签: the first decision of any assignee decides
	ModeAll      = "all"      // 会签: every assignee must approve; one rejection rejects
	ModeSequence = "sequence" // 依次审批: assignees one after another, in order
	ModePercent  = "percent"  // percentage vote: approved when Percent of assignees approve
)

// Definition is a flow definition document as analysts write it.
type Definition struct {
	Key  string      `json:"key"`
	Name engine.Text `json:"name"`
	// Form is the key of the form (in the same app) whose records the flow runs on.
	Form string `json:"form"`
	// Trigger says when an instance starts: "create" (when a record is created, if When holds)
	// or "manual" (someone starts it on a record).
	Trigger Trigger `json:"trigger"`
	Nodes   []Node  `json:"nodes"`
}

// Trigger starts instances.
type Trigger struct {
	On   string `json:"on"`             // create | manual
	When string `json:"when,omitempty"` // an expression over the record
}

// Node is one node of the graph. Which fields apply depends on Type.
type Node struct {
	ID   string      `json:"id"`
	Type string      `json:"type"`
	Name engine.Text `json:"name,omitzero"`
	// Next is the following node (all types but condition, parallel and end).
	Next string `json:"next,omitempty"`

	// approval, fill, notify
	Mode      string     `json:"mode,omitempty"`    // approval: single any all sequence percent
	Percent   int        `json:"percent,omitempty"` // mode percent: 1..100
	Assignees []Assignee `json:"assignees,omitempty"`
	// OnEmpty: what happens when the assignees resolve to nobody: skip (pass the node),
	// admin (give it to the administrators), fail (the instance fails).
	OnEmpty string      `json:"onEmpty,omitempty"`
	Fields  *NodeFields `json:"fields,omitempty"`
	Timers  *Timers     `json:"timers,omitempty"`
	// RejectTo: approval nodes: "end" (default: the instance ends rejected) or a node id to
	// return to on rejection.
	RejectTo string `json:"rejectTo,omitempty"`
	// RequireSignature (approval, fill): which decisions on the node's tasks need the acting
	// person's handwritten signature (see SignatureRule).
	RequireSignature SignatureRule `json:"requireSignature,omitzero"`

	// condition
	Branches []Branch `json:"branches,omitempty"`
	Default  string   `json:"default,omitempty"`

	// parallel: the first node of each branch, and the join node where they meet.
	Paths []string `json:"paths,omitempty"`
	Join  string   `json:"join,omitempty"`

	// action: a registered action id (e.g. "record.set_fields", "record.create") and its params.
	Action string         `json:"action,omitempty"`
	Params map[string]any `json:"params,omitempty"`

	// end: the instance's outcome (approved or rejected) and the record status to set, if any.
	Outcome   string `json:"outcome,omitempty"`
	SetStatus string `json:"setStatus,omitempty"`
}

// Assignee is one way to find the people of a node.
type Assignee struct {
	// Kind: user (Users), role (Role), dept_head (the head of the initiator's department,
	// Levels up: 1 = own department), field (a user field of the record), manager (the
	// initiator's manager), initiator.
	Kind   string   `json:"kind"`
	Users  []string `json:"users,omitempty"`
	Role   string   `json:"role,omitempty"`
	Levels int      `json:"levels,omitempty"`
	Field  string   `json:"field,omitempty"`
}

// Branch is one condition branch: taken when When holds (branches are tried in order).
type Branch struct {
	Name engine.Text `json:"name,omitzero"`
	When string      `json:"when"`
	Next string      `json:"next"`
}

// NodeFields says which record fields a node's assignees see and may edit. Nil Visible means
// all fields; Editable fields must be visible.
type NodeFields struct {
	Visible  []string `json:"visible,omitempty"`
	Editable []string `json:"editable,omitempty"`
}

// Timers remind and act when a node waits too long.
type Timers struct {
	// RemindAfter sends a reminder after this long (Go duration: "4h", "30m").
	RemindAfter string `json:"remindAfter,omitempty"`
	// After this long the node's tasks are overdue (EventTaskOverdue) and Action, if any,
	// happens: approve (auto-approve), return (to the previous node), escalate (add
	// Escalate's people as assignees).
	TimeoutAfter string     `json:"timeoutAfter,omitempty"`
	Action       string     `json:"action,omitempty"`
	Escalate     []Assignee `json:"escalate,omitempty"`
	// WorkingHours counts only 09:00–18:00, Monday to Friday, in the scheduler's time zone.
	WorkingHours bool `json:"workingHours,omitempty"`
}

// Instance states.
const (
	StateRunning   = "running"
	StateApproved  = "approved"
	StateRejected  = "rejected"
	StateWithdrawn = "withdrawn"
	StateFailed    = "failed"
)

// Task states.
const (
	TaskPending     = "pending"
	TaskWaiting     = "waiting" // sequence mode / add-signer-after: not yet this person's turn
	TaskApproved    = "approved"
	TaskRejected    = "rejected"
	TaskReturned    = "returned"
	TaskTransferred = "transferred"
	TaskCancelled   = "cancelled" // closed because the node was decided by others
	TaskDone        = "done"      // fill submitted
	TaskCC          = "cc"        // notify: for reading only
)

// Instance is one run of a flow on one record. It holds its tasks, so every change of an
// instance is one revisioned write: of racing actions exactly one wins (store.Update), which
// is what makes "exactly one decision" and "never advances twice" hold on every backend.
type Instance struct {
	ID        string    `json:"id" bson:"_id"`
	Rev       int64     `json:"rev" bson:"_rev"`
	App       string    `json:"app" bson:"app"`
	Flow      string    `json:"flow" bson:"flow"`
	Version   int       `json:"version" bson:"version"`
	Form      string    `json:"form" bson:"form"`
	Record    string    `json:"record" bson:"record"`
	Initiator string    `json:"initiator" bson:"initiator"`
	State     string    `json:"state" bson:"state"`
	Active    []string  `json:"active" bson:"active"` // node ids waiting now
	Tasks     []Task    `json:"tasks" bson:"tasks"`
	Timeline  []Step    `json:"timeline" bson:"timeline"`
	Visits    int       `json:"-" bson:"visits"` // node entries so far: numbers timer and task ids
	Started   time.Time `json:"started" bson:"started"`
	Finished  time.Time `json:"finished,omitzero" bson:"finished,omitempty"`
	Title     string    `json:"title,omitempty" bson:"title,omitempty"`
	// Depth is the chain depth of the write that started the instance (engine.ChainDepth:
	// 0 for a person's or a job's write, n for one n automatic actions deep). Every write the
	// instance makes later (automatic actions, record edits, the end's status, timers) is
	// made at this depth at least, so a rule whose action starts a flow that fires the rule
	// again is still stopped by the rules' cap.
	Depth int `json:"-" bson:"chain_depth,omitempty"`
}

// Task is one person's part in one visit of a node.
type Task struct {
	ID       string    `json:"id" bson:"id"`
	Node     string    `json:"node" bson:"node"`
	Visit    int       `json:"visit" bson:"visit"`
	Kind     string    `json:"kind" bson:"kind"` // approval fill notify
	Assignee string    `json:"assignee" bson:"assignee"`
	OnBehalf string    `json:"onBehalfOf,omitempty" bson:"on_behalf,omitempty"` // delegation
	Order    int       `json:"order" bson:"order"`                              // sequence mode
	State    string    `json:"state" bson:"state"`
	Created  time.Time `json:"created" bson:"created"`
	Acted    time.Time `json:"acted,omitzero" bson:"acted,omitempty"`
	Comment  string    `json:"comment,omitempty" bson:"comment,omitempty"`
}

// Step is one line of an instance's timeline: who did what, when, with what comment.
type Step struct {
	At          time.Time `json:"at" bson:"at"`
	Actor       string    `json:"actor" bson:"actor"`
	Action      string    `json:"action" bson:"action"` // start approve reject return transfer add_signer withdraw comment fill enter skip timeout remind end
	Node        string    `json:"node,omitempty" bson:"node,omitempty"`
	Task        string    `json:"task,omitempty" bson:"task,omitempty"`
	Comment     string    `json:"comment,omitempty" bson:"comment,omitempty"`
	Signature   string    `json:"signature,omitempty" bson:"signature,omitempty"`     // uploaded file id
	Attachments []string  `json:"attachments,omitempty" bson:"attachments,omitempty"` // uploaded file ids
	Target      string    `json:"target,omitempty" bson:"target,omitempty"`           // transfer/add-signer user, return node
	// ErrorID is set on a failure's step (error, edit_failed): its Comment says what failed in
	// neutral words, and the cause, which may quote record values, is in the server's log
	// under this id.
	ErrorID string `json:"errorId,omitempty" bson:"errorId,omitempty"`
	// Data is the record edit an approve or submit made (written to the record after the step
	// is stored).
	Data map[string]any `json:"data,omitempty" bson:"data,omitempty"`
}

// Event types the engine publishes on the kernel bus.
const (
	EventStarted     = "flow.started"
	EventFinished    = "flow.finished" // Data: outcome approved | rejected | withdrawn | failed
	EventNodeEntered = "flow.node_entered"
	EventNodeLeft    = "flow.node_left"
	EventTaskCreated = "flow.task_created"
	// EventTaskOverdue: a node's timeoutAfter passed with its tasks still open (Data: node,
	// visit, action — the timeout action, "" for none — and assignees, those still pending).
	EventTaskOverdue = "flow.task_overdue"
)
