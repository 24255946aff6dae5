package rules

import (
	"encoding/json"
	"time"

	"tracecraft/engine"
)

// Definition is a rule as an analyst writes it (schema/rule.schema.json): when Trigger happens
// to a record of Form and Condition holds, Actions run in order.
type Definition struct {
	Key   string      `json:"key"`
	Label engine.Text `json:"label"`
	Form  string      `json:"form"`
	// Trigger says which record changes (or which day) the rule answers.
	Trigger Trigger `json:"trigger"`
	// Condition is an expression over record, previous, status, user and rule (see
	// conditionEnv); empty: always.
	Condition string      `json:"condition,omitempty"`
	Actions   []ActionDef `json:"actions"`
	// Disabled switches the rule off: a published version with it set does not run at all (no
	// evaluation, no run log entry). Publish a version without it to switch the rule on again.
	Disabled bool `json:"disabled,omitempty"`
}

// The triggers of a rule (Trigger.On).
const (
	OnCreated       = "created"
	OnUpdated       = "updated"
	OnDeleted       = "deleted"
	OnStatusChanged = "status_changed"
	OnFieldChanged  = "field_changed"
	OnDate          = "date"
	OnFlowFinished  = "flow_finished"
	OnNodeEntered   = "node_entered"
	OnTaskOverdue   = "task_overdue"
	OnSchedule      = "schedule"
)

// Trigger is when a rule is evaluated.
type Trigger struct {
	On string `json:"on"`
	// Field is the field of field_changed and date.
	Field string `json:"field,omitempty"`
	// From and To narrow field_changed to a value before and after (absent: any), and
	// status_changed to the status left and entered (strings).
	From json.RawMessage `json:"from,omitempty"`
	To   json.RawMessage `json:"to,omitempty"`
	// Days is date's offset from the field's date: -30 is 30 days before it.
	Days int `json:"days,omitempty"`
	// Window is how many days past the due day (field + Days) a record the rule has not fired
	// for still makes it fire (a record created late, a sweep missed). Absent: up to the
	// field's date itself for an offset before it, defaultWindow days otherwise.
	Window *int `json:"window,omitempty"`
	// Flow narrows the flow triggers (flow_finished, node_entered, task_overdue) to the
	// instances of one flow (its key); absent: any flow on the rule's form.
	Flow string `json:"flow,omitempty"`
	// Outcome narrows flow_finished to one outcome: approved, rejected, withdrawn or failed.
	Outcome string `json:"outcome,omitempty"`
	// Node is the node id of node_entered (required) and task_overdue (absent: any node).
	Node string `json:"node,omitempty"`
	// Cron is schedule's cron spec: five fields (minute hour day-of-month month
	// day-of-week) or a descriptor (@hourly, @daily, @weekly, @monthly), read in Timezone.
	Cron string `json:"cron,omitempty"`
	// Timezone is schedule's IANA time zone ("Asia/Shanghai"); absent: the plant's.
	Timezone string `json:"timezone,omitempty"`
	// Match makes a schedule rule run once per record of its form that matches every filter
	// (at most Options.MaxRecords records a firing); absent: once per firing, on no record.
	// Each filter's field must be indexed (x-filterable).
	Match []Filter `json:"match,omitempty"`
}

// Filter is one condition on the records of a form, answered by the store's indexed query
// model: Field (a top-level field, indexed) Op Value, where Value is an expression over the
// rule's variables (absent for empty and notEmpty; a list for in).
type Filter struct {
	Field string `json:"field"`
	Op    string `json:"op"`
	Value string `json:"value,omitempty"`
}

// ActionDef is one action of a rule: a type of this package (actionKinds) and its params.
type ActionDef struct {
	Type   string          `json:"type"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Rule is a rule's draft and how far it is published.
type Rule struct {
	ID        string     `json:"id" bson:"_id"` // app/key
	App       string     `json:"app" bson:"app"`
	Key       string     `json:"key" bson:"key"`
	Form      string     `json:"form" bson:"form"`
	Draft     Definition `json:"draft" bson:"-"`
	DraftJSON string     `json:"-" bson:"draft"`
	Published int        `json:"published" bson:"published"` // 0: never published
	UpdatedBy string     `json:"updatedBy" bson:"updated_by"`
	UpdatedAt time.Time  `json:"updatedAt" bson:"updated_at"`
	Rev       int64      `json:"rev" bson:"_rev"`
}

// RuleVersion is a published, immutable version of a rule. Runs name the version they ran.
type RuleVersion struct {
	ID          string     `json:"id" bson:"_id"` // app/key@n
	App         string     `json:"app" bson:"app"`
	Key         string     `json:"key" bson:"key"`
	Form        string     `json:"form" bson:"form"`
	Number      int        `json:"version" bson:"version"`
	Definition  Definition `json:"definition" bson:"-"`
	DefJSON     string     `json:"-" bson:"definition"`
	PublishedBy string     `json:"publishedBy" bson:"published_by"`
	PublishedAt time.Time  `json:"publishedAt" bson:"published_at"`
	// Unchanged is set on the answer to a publish whose draft had not changed: no version
	// was made.
	Unchanged bool `json:"unchanged,omitempty" bson:"-"`
}
