package engine

import (
	"context"
	"time"

	"tracecraft/engine/store"
)

// RecordRef is a record as engines other than forms see it.
type RecordRef struct {
	ID        string         `json:"id"`
	App       string         `json:"app"`
	Form      string         `json:"form"`
	Version   int            `json:"version"`
	Rev       int64          `json:"rev"`
	Status    string         `json:"status,omitempty"`
	Data      map[string]any `json:"data"`
	CreatedBy string         `json:"createdBy"`
}

// Records is how the other engines (workflow, rules, printing, reports) read and write records
// without importing the form engine, which provides it (Kernel.Records). Every call checks the
// principal's permissions like the API does; SystemPrincipal may do everything.
type Records interface {
	// GetRecord reads a record with all its fields (callers that show data to a user filter
	// fields themselves).
	GetRecord(ctx context.Context, p *Principal, app, form, id string) (*RecordRef, error)
	// UpdateRecord changes the given fields of a record at revision rev.
	UpdateRecord(ctx context.Context, p *Principal, app, form, id string, rev int64, data map[string]any) (*RecordRef, error)
	// CreateRecord creates a record in a form's latest version.
	CreateRecord(ctx context.Context, p *Principal, app, form string, data map[string]any) (*RecordRef, error)
	// SetRecordStatus sets a record's status to one of its form's states without a transition
	// (flows and rules that decide a status call it; it is audited like any write). The record
	// must be in p's update scope before and after (SystemPrincipal is in every scope).
	SetRecordStatus(ctx context.Context, p *Principal, app, form, id string, status string) (*RecordRef, error)
	// FieldKeys lists a form's top-level fields with their x-type, in form order.
	FieldKeys(ctx context.Context, app, form string) ([]FieldRef, error)
	// VisibleFields tells which fields of a record the form's field rules let p see, whether or
	// not p may read the record through the form: an engine that grants reading by other means
	// (a workflow task) shows no more than these. ErrNotFound when the record is gone.
	VisibleFields(ctx context.Context, p *Principal, app, form, id string) (FieldView, error)
	// AttachFiles binds uploaded files (ids from the app's file upload) to a record's flow
	// timeline, as comments' attachments and signatures: each must be a file p may download
	// (p's own upload, or one a record p can read shows), or the answer is field errors by
	// index. Readers of the record may then download them, and they are not collected as
	// orphans (uploads nothing holds are deleted after a day). Call it before storing the ids.
	AttachFiles(ctx context.Context, p *Principal, app, form, id string, files []string) error
	// FileMeta describes an uploaded file of app — who uploaded it, its type as sniffed from
	// its bytes, its size — without checking any permission (an engine that asks for a
	// person's own upload, such as a signature on a flow step, compares UploadedBy).
	// ErrNotFound when app has no such file.
	FileMeta(ctx context.Context, app, id string) (FileMeta, error)
	// RecordCards gives what list cards of other engines (inbox items) may show of records of
	// one form: for each id that is found, VisibleFields' view and the values of the title
	// field and of the fields a card may summarise, as text, limited to that view. The form is
	// compiled and p's access judged once for all ids; records are read one _id at a time.
	RecordCards(ctx context.Context, p *Principal, app, form string, ids []string) (map[string]RecordCard, error)
	// EachRecord calls fn with every record of a form (not deleted) that matches where, a
	// condition on "data.<field>", "status" …, through the store's query model a page at a
	// time. It checks no permission: it is for the system's own jobs (a rule's daily sweep).
	EachRecord(ctx context.Context, app, form string, where store.Cond, fn func(*RecordRef) error) error
	// RecordPage reads one page of the records of a form (not deleted) that match q.Where,
	// through the store's query model: at most q.Limit of them (store.DefaultQueryLimit when
	// 0), after q.After, in q.Sort's order; next continues it ("" on the last page). A caller
	// that wants one record asks for one. Like EachRecord it checks no permission.
	RecordPage(ctx context.Context, app, form string, q store.Query) (recs []*RecordRef, next string, err error)
	// IndexedField tells whether a list index of the form's latest version serves conditions
	// on a top-level field (it is x-filterable, or a relation), so a sweep by it reads no
	// more than the records it finds.
	IndexedField(ctx context.Context, app, form, field string) (bool, error)
	// FormFields describes the fields of version n of a form (0: the latest published one) for
	// engines that lay its records out (print templates): every top-level field with a
	// sub-table's columns and a relation's target form. ErrNotFound when there is none.
	FormFields(ctx context.Context, app, form string, n int) ([]FieldSpec, error)
	// RecordValues reads a record as p may read it (like the API: p's read permission and row
	// scope, else ErrForbidden or ErrNotFound) and gives the fields p may see — a hidden field
	// or sub-table column is absent — as a page prints them in lang: text for choices, users,
	// departments and relations (the related record's title), float64 for numbers and money,
	// "YYYY-MM-DD" for dates, RFC 3339 for datetimes, bool for switches, []map[string]any for
	// sub-table rows (their cells the same way), file ids ([]string) for images and files.
	RecordValues(ctx context.Context, p *Principal, app, form, id, lang string) (*RecordValues, error)
	// RecordAllows tells whether p may take action (ActionRead, ActionUpdate…) on record id:
	// the form grants it to one of p's roles and that role's row scope covers the record. nil
	// when it may; ErrForbidden when not; ErrNotFound when the record is gone or p may not
	// even read it (as GetRecord says).
	RecordAllows(ctx context.Context, p *Principal, app, form, id, action string) error
	// FormAllows tells whether the form (its latest published version) grants action to one of
	// p's roles at all, before any row scope: nil when it does (app designers hold every
	// action); ErrForbidden when not; the record list's error when the form is unknown or
	// has no published version.
	FormAllows(ctx context.Context, p *Principal, app, form, action string) error
	// StatusHistory gives the record's creation and each change of its status, oldest first,
	// with times and the states' labels — no field values, so a public page may show it. At
	// most limit entries (the newest are dropped). It checks no permission.
	StatusHistory(ctx context.Context, app, form, id string, limit int) ([]StatusChange, error)
}

// FileMeta describes an uploaded file (Records.FileMeta).
type FileMeta struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Size       int64     `json:"size"`
	Type       string    `json:"type"` // MIME type sniffed from the bytes at upload
	UploadedBy string    `json:"uploadedBy"`
	UploadedAt time.Time `json:"uploadedAt"`
}

// Record actions RecordAllows knows.
const (
	ActionRead   = "read"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// StatusChange is one step of a record's status history: its creation (Created) or a change
// to Status, at At.
type StatusChange struct {
	At      time.Time `json:"at"`
	Created bool      `json:"created,omitempty"`
	Status  string    `json:"status,omitempty"`
	Label   Text      `json:"label,omitzero"`
}

// FieldSpec describes one field of a form version (Records.FormFields).
type FieldSpec struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Label Text   `json:"label"`
	// Columns are a sub-table's columns.
	Columns []FieldSpec `json:"columns,omitempty"`
	// Target is the form a relation field points to (in the same app); Multiple that it holds
	// several records.
	Target   string `json:"target,omitempty"`
	Multiple bool   `json:"multiple,omitempty"`
}

// RecordValues is a record as Records.RecordValues gives it.
type RecordValues struct {
	ID      string `json:"id"`
	Form    string `json:"form"`
	Version int    `json:"version"`
	Status  string `json:"status,omitempty"`
	// Values are the visible fields by key, as text and plain values (see RecordValues).
	Values map[string]any `json:"values"`
	// Related are the ids of the records each visible relation field points to, by field key,
	// so that a caller can read their fields one level down.
	Related map[string][]string `json:"related,omitempty"`
}

// RecordCard is what the form's field rules let one principal see of one record on a card.
type RecordCard struct {
	View FieldView
	// TitleField is the form's title field (its titleField), "" when it has none.
	TitleField string
	// Fields are the values, as text, of the title field and of the fields a card may show
	// (short values: not sub-tables, files, rich text, relations or departments), in form
	// order; only fields in View.Fields and only those with a value.
	Fields []CardField
}

// CardField is one field of a record as a card shows it: its label and its value as text.
type CardField struct {
	Key   string `json:"key"`
	Label Text   `json:"label"`
	Value Text   `json:"value"`
}

// FieldView is what the form's field rules let one principal see of one record.
type FieldView struct {
	// Fields are the top-level fields p may see, in form order: all of them for the app's
	// designers; else those no form permission of p's roles hides, unless a reading role of p
	// whose row scope covers the record shows them.
	Fields []string `json:"fields"`
	// Readable: p may read the record through the form's own permissions (action and row scope).
	Readable bool `json:"readable"`
}

// FieldRef names one field of a form.
type FieldRef struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Label Text   `json:"label"`
	// Public is the field's x-public: a public page (a scanned item code) may show its value.
	Public bool `json:"public,omitempty"`
}
