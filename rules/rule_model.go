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
}

// The triggers of a rule (Trigger.On).
const (
	OnCreated       = "created"
	OnUpdated       = "updated"
	OnDeleted       = "deleted"
	OnStatusChanged = "status_changed"
	OnFieldChanged  = "field_changed"
	OnDate          = "date"
)

// Trigger is when a rule is evaluated.
type Trigger struct {
	On string `json:"on"`
	// Field is the field of field_changed and date.
	Field string `json:"field,omitempty"`
	// From and To narrow field_changed to a value before and after (absent: any); To narrows
	// status_changed to the status entered.
	From json.RawMessage `json:"from,omitempty"`
	To   json.RawMessage `json:"to,omitempty"`
	// Days is date's offset from the field's date: -30 is 30 days before it.
	Days int `json:"days,omitempty"`
	// Window is how many days past the due day (field + Days) a record the rule has not fired
	// for still makes it fire (a record created late, a sweep missed). Absent: up to the
	// field's date itself for an offset before it, defaultWindow days otherwise.
	Window *int `json:"window,omitempty"`
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
