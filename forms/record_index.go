package forms

import (
	"context"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// indexedTypes are the field types whose values lists filter and sort by most often: they get
// their indexes first, then the other top-level scalar fields in form order.
var indexedTypes = map[string]bool{
	"autonumber": true, "date": true, "datetime": true, "number": true, "money": true,
	"select": true, "radio": true, "relation": true, "user": true, "department": true, "scan": true,
}

// longTextTypes hold long text nobody sorts by: indexing them would copy every body into
// the index.
var longTextTypes = map[string]bool{"textarea": true, "richtext": true}

// maxFieldIndexes caps the field indexes of one form (each one costs writes; MongoDB allows
// 64 per collection).
const maxFieldIndexes = 16

// listIndexes are the query indexes of a form's lists: the id (the default order, newest
// first); creation and update times; status, creator, owner and department (row scopes own
// and department are equalities on the last two), each followed by creation; and the
// top-level scalar fields but long text. Each index ends with _id, the store's tie-break. A
// page filtered by one key and sorted by it, or filtered by status and sorted by creation, is
// read from an index in order. Every list also has the condition deleted = null, checked on
// the rows the index yields: an index led by deleted would not help, since the store reads
// null as a type, not a value (an equality on the type alone does not let the planner use the
// index's later keys).
func listIndexes(c *Compiled) []store.IndexSpec {
	created := store.IndexKey{Path: "created_at", Desc: true}
	specs := []store.IndexSpec{
		{Keys: []store.IndexKey{{Path: "_id", Desc: true}}}, // the default order
		{Keys: []store.IndexKey{created}},
		{Keys: []store.IndexKey{{Path: "updated_at", Desc: true}}},
		{Keys: []store.IndexKey{{Path: "status"}, created}},
		{Keys: []store.IndexKey{{Path: "created_by"}, created}},
		{Keys: []store.IndexKey{{Path: "owner"}, created}},
		{Keys: []store.IndexKey{{Path: "dept"}, created}},
	}
	var first, rest []store.IndexSpec
	for _, f := range c.Fields {
		if longTextTypes[f.Type] {
			continue
		}
		switch f.Impl().ExprType(f).Kind {
		case engine.ExprString, engine.ExprNumber, engine.ExprInt, engine.ExprBool, engine.ExprTime:
		default:
			continue // lists, sub-tables, objects: not sortable, matched by element
		}
		spec := store.IndexSpec{Keys: []store.IndexKey{{Path: "data." + f.Key}}}
		if indexedTypes[f.Type] {
			first = append(first, spec)
		} else {
			rest = append(rest, spec)
		}
	}
	fields := append(first, rest...)
	if len(fields) > maxFieldIndexes {
		fields = fields[:maxFieldIndexes]
	}
	return append(specs, fields...)
}

// ensureIndexes declares a form's list indexes (listIndexes) through the store: MongoDB
// indexes on MongoDB, SQLite expression indexes over the compiled query's expressions on the
// embedded store. Indexes an earlier version declared and this one does not are dropped.
func (s *Service) ensureIndexes(ctx context.Context, c *Compiled) error {
	return s.st.EnsureIndexes(ctx, RecordsCollection(c.App, c.Key), listIndexes(c))
}
