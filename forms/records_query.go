package forms

import (
	"context"
	"fmt"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// eachRecordPage is how many records EachRecord reads at a time.
const eachRecordPage = 200

// EachRecord walks the records of a form that match where (see engine.Records), deleted ones
// left out, by _id a page at a time.
func (a recordsAPI) EachRecord(ctx context.Context, app, form string, where store.Cond, fn func(*engine.RecordRef) error) error {
	q := store.Query{Where: store.And(where, store.Empty("deleted")), Limit: eachRecordPage}
	err := a.s.st.QueryEach(ctx, RecordsCollection(app, form), q, func(raw bson.Raw) error {
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("decode record: %w", err)
		}
		return fn(refOf(d.record()))
	})
	if err != nil {
		return fmt.Errorf("records of %s/%s: %w", app, form, err)
	}
	return nil
}

// RecordPage reads one page of the records of a form that match q (see engine.Records),
// deleted ones left out.
func (a recordsAPI) RecordPage(ctx context.Context, app, form string, q store.Query) ([]*engine.RecordRef, string, error) {
	q.Where = store.And(q.Where, store.Empty("deleted"))
	page, err := a.s.st.Query(ctx, RecordsCollection(app, form), q)
	if err != nil {
		return nil, "", fmt.Errorf("records of %s/%s: %w", app, form, err)
	}
	out := make([]*engine.RecordRef, 0, len(page.Docs))
	for _, raw := range page.Docs {
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, "", fmt.Errorf("decode record: %w", err)
		}
		out = append(out, refOf(d.record()))
	}
	return out, page.Next, nil
}

// IndexedField tells whether listIndexes gives field an index of its own.
func (a recordsAPI) IndexedField(ctx context.Context, app, form, field string) (bool, error) {
	c, err := a.s.Compiled(ctx, app, form, 0)
	if err != nil {
		return false, err
	}
	for _, spec := range listIndexes(c) {
		if len(spec.Keys) == 1 && spec.Keys[0].Path == "data."+field {
			return true, nil
		}
	}
	return false, nil
}
