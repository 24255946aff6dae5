package forms

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// RecordAllows implements engine.Records.RecordAllows: the checks an action on the record
// makes before it changes anything (the action granted, its row scope covering the record).
func (a recordsAPI) RecordAllows(ctx context.Context, p *engine.Principal, app, form, id, action string) error {
	if p == nil {
		return engine.ErrUnauthenticated
	}
	d, _, acc, err := a.s.readable(ctx, p, app, form, id, false)
	if err != nil {
		return err
	}
	if err := acc.require(action); err != nil {
		return err
	}
	if !acc.allows(ctx, action, d) {
		return engine.ErrForbidden
	}
	return nil
}

// statusHistoryMaxRevs bounds the revisions StatusHistory reads: a record changed more often
// than that shows the first changes only.
const statusHistoryMaxRevs = 2000

// StatusHistory implements engine.Records.StatusHistory: it walks the record's revisions a
// page at a time, oldest first, and keeps its creation and the revisions whose status differs
// from the one before; the labels are those of the form's latest version.
func (a recordsAPI) StatusHistory(ctx context.Context, app, form, id string, limit int) ([]engine.StatusChange, error) {
	c, err := a.s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, err
	}
	labels := map[string]engine.Text{}
	if c.Def.Status != nil {
		for _, st := range c.Def.Status.States {
			labels[st.Key] = st.Label
		}
	}
	coll := RecordsCollection(app, form)
	out := []engine.StatusChange{}
	prev := ""
	const page = 200
	for from := int64(1); from <= statusHistoryMaxRevs && len(out) < limit; {
		revs, err := a.s.st.RevisionsFrom(ctx, coll, id, from, page)
		if err != nil {
			return nil, fmt.Errorf("status history of %s: %w", id, err)
		}
		if len(revs) == 0 && from == 1 {
			return nil, fmt.Errorf("status history of %s: %w", id, engine.ErrNotFound)
		}
		for _, r := range revs {
			var d recordDoc
			if err := bson.Unmarshal(r.Doc, &d); err != nil {
				return nil, fmt.Errorf("status history of %s: %w", id, err)
			}
			switch {
			case d.Rev == 1:
				out = append(out, engine.StatusChange{At: d.CreatedAt.UTC(), Created: true, Status: d.Status, Label: labels[d.Status]})
			case d.Status != prev && len(out) < limit:
				out = append(out, engine.StatusChange{At: d.UpdatedAt.UTC(), Status: d.Status, Label: labels[d.Status]})
			}
			prev = d.Status
			from = d.Rev + 1
		}
		if len(revs) < page {
			break
		}
	}
	return out, nil
}
