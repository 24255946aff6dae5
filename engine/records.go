package engine

import "context"

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
	// (flows and rules that decide a status call it; it is audited like any write).
	SetRecordStatus(ctx context.Context, p *Principal, app, form, id string, status string) (*RecordRef, error)
	// FieldKeys lists a form's top-level fields with their x-type, in form order.
	FieldKeys(ctx context.Context, app, form string) ([]FieldRef, error)
}

// FieldRef names one field of a form.
type FieldRef struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Label Text   `json:"label"`
}
