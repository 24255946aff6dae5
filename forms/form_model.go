// Package forms is the form engine: apps, form definitions (a JSON Schema for the data, a layout
// and x- extensions), their versions, field types, records, lists, permissions, import and
// export. It works without HTTP; the api package exposes it.
package forms

import (
	"encoding/json"
	"time"

	"tracecraft/engine"
)

// App is a namespace that holds forms, flows, rules, print templates, boards and roles.
type App struct {
	Key         string      `json:"key" bson:"_id"`
	Name        engine.Text `json:"name" bson:"name"`
	Description engine.Text `json:"description,omitzero" bson:"description,omitempty"`
	Icon        string      `json:"icon,omitempty" bson:"icon,omitempty"`
	CreatedBy   string      `json:"createdBy" bson:"created_by"`
	CreatedAt   time.Time   `json:"createdAt" bson:"created_at"`
	UpdatedAt   time.Time   `json:"updatedAt" bson:"updated_at"`
	Rev         int64       `json:"rev" bson:"_rev"`
	// Can lists what the caller may do in the app: read (its records, as forms grant) and
	// design (its definitions).
	Can []string `json:"can" bson:"-"`
}

// Definition is a form definition document as analysts write it and the API takes it. The data
// is described by Schema, a JSON Schema (draft 2020-12) object whose properties are the fields,
// each with our x- extensions (x-type, x-label, x-options, …).
type Definition struct {
	Key         string                `json:"key"`
	Name        engine.Text           `json:"name"`
	Description engine.Text           `json:"description,omitzero"`
	Group       engine.Text           `json:"group,omitzero"`
	Schema      json.RawMessage       `json:"schema"`
	Layout      *Layout               `json:"layout,omitempty"`
	TitleField  string                `json:"titleField,omitempty"`
	Status      *StatusModel          `json:"status,omitempty"`
	Permissions map[string]Permission `json:"permissions,omitempty"`
}

// Layout places fields on the form: items in a grid of Columns (1–4), groups and tabs.
type Layout struct {
	Columns int          `json:"columns,omitempty"`
	Items   []LayoutItem `json:"items"`
}

// LayoutItem is a field, a group (titled box with its own columns) or a set of tabs.
type LayoutItem struct {
	Kind    string       `json:"kind"` // field, group, tabs
	Field   string       `json:"field,omitempty"`
	Span    int          `json:"span,omitempty"`
	Label   engine.Text  `json:"label,omitzero"`
	Columns int          `json:"columns,omitempty"`
	Items   []LayoutItem `json:"items,omitempty"`
	Tabs    []LayoutTab  `json:"tabs,omitempty"`
}

// LayoutTab is one tab of a tabs item.
type LayoutTab struct {
	Label engine.Text  `json:"label"`
	Items []LayoutItem `json:"items"`
}

// StatusModel gives a form's records a typed status with named transitions.
type StatusModel struct {
	Initial     string       `json:"initial"`
	States      []State      `json:"states"`
	Transitions []Transition `json:"transitions"`
}

// State is one status value; Color is one of the product's status colours.
type State struct {
	Key   string      `json:"key"`
	Label engine.Text `json:"label"`
	Color string      `json:"color,omitempty"`
}

// Transition moves a record from one of From to To. Roles, when set, limit who may take it;
// When is an expression over the record that must hold.
type Transition struct {
	Key   string      `json:"key"`
	Label engine.Text `json:"label"`
	From  []string    `json:"from"`
	To    string      `json:"to"`
	Roles []string    `json:"roles,omitempty"`
	When  string      `json:"when,omitempty"`
}

// Permission is what one role may do with a form's records.
type Permission struct {
	// Actions: create, read, update, delete, export.
	Actions []string `json:"actions"`
	// Scope limits the rows: all (default), own, department, or expr with Condition.
	Scope     string `json:"scope,omitempty"`
	Condition string `json:"condition,omitempty"`
	// Hidden fields never appear in any answer; ReadOnly fields cannot be written.
	Hidden   []string `json:"hidden,omitempty"`
	ReadOnly []string `json:"readOnly,omitempty"`
}

// Form is a stored form: its editable draft and the number of its latest published version.
type Form struct {
	ID        string     `json:"id" bson:"_id"` // app/key
	App       string     `json:"app" bson:"app"`
	Key       string     `json:"key" bson:"key"`
	Draft     Definition `json:"draft" bson:"-"`
	DraftJSON string     `json:"-" bson:"draft"`
	Published int        `json:"published" bson:"published"` // 0: never published
	UpdatedBy string     `json:"updatedBy" bson:"updated_by"`
	UpdatedAt time.Time  `json:"updatedAt" bson:"updated_at"`
	Rev       int64      `json:"rev" bson:"_rev"`
	// Can lists the record actions the caller holds on the form (create, read, update,
	// delete, export, import) under the latest published version's permissions, before row
	// scopes; empty until the form is published.
	Can []string `json:"can" bson:"-"`
	// CanTransitions are the keys of that version's status transitions the caller may take.
	CanTransitions []string `json:"canTransitions" bson:"-"`
}

// Version is a published, immutable version of a form definition.
type Version struct {
	ID          string     `json:"id" bson:"_id"` // app/key@n
	App         string     `json:"app" bson:"app"`
	Key         string     `json:"key" bson:"key"`
	Number      int        `json:"version" bson:"version"`
	Definition  Definition `json:"definition" bson:"-"`
	DefJSON     string     `json:"-" bson:"definition"`
	PublishedBy string     `json:"publishedBy" bson:"published_by"`
	PublishedAt time.Time  `json:"publishedAt" bson:"published_at"`
	// Unchanged is set on the answer to a publish whose draft had not changed since this
	// version: no version was made.
	Unchanged bool `json:"unchanged,omitempty" bson:"-"`
}
