package forms

import (
	"context"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// longTextTypes hold long text nobody sorts by: indexing them would copy every body into
// the index.
var longTextTypes = map[string]bool{"textarea": true, "richtext": true}

// maxFieldIndexes caps the field indexes of one form (each one costs writes and space; MongoDB
// allows 64 per collection).
const maxFieldIndexes = 16

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"not_filterable": {ZH: "此类字段不能设为可筛选（子表列、长文本、多值字段）", EN: "this field cannot be filterable (sub-table column, long text, several values)"},
		"too_many_filterable": {ZH: "一个表单最多 {max} 个可筛选字段（关联字段也计入），字段「{field}」超出了上限",
			EN: "a form can have at most {max} filterable fields (relation fields count too): field {field} is over the limit"},
	})
}

// indexable reports whether a field can have a list index: a top-level field holding one
// scalar (lists, sub-tables and objects are matched by element and never sorted), not long
// text.
func indexable(f *Field) bool {
	if f.Parent != nil || longTextTypes[f.Type] {
		return false
	}
	switch f.Impl().ExprType(f).Kind {
	case engine.ExprString, engine.ExprNumber, engine.ExprInt, engine.ExprBool, engine.ExprTime:
		return true
	}
	return false
}

// checkFilterable refuses x-filterable on a field that cannot have an index, and on a field
// past the first maxFieldIndexes that would have one (fields marked x-filterable and relation
// fields, in form order, as listIndexes counts them): it would have no index, and lists by it
// would read every record.
func checkFilterable(fields []*Field, fe *engine.FieldErrors) {
	indexed := 0
	each(fields, func(f *Field) {
		if f.Impl() == nil {
			return
		}
		if f.Filterable && !indexable(f) {
			fe.Add(fieldPointer(f)+"/x-filterable", "not_filterable", map[string]any{"type": f.Type})
			return
		}
		if (f.Filterable || f.Type == "relation") && indexable(f) {
			if indexed++; indexed > maxFieldIndexes && f.Filterable {
				fe.Add(fieldPointer(f)+"/x-filterable", "too_many_filterable", map[string]any{"max": maxFieldIndexes, "field": f.Key})
			}
		}
	})
}

// listIndexes are the query indexes of a form's lists, each ending with _id (the store's
// tie-break), and only those its lists use — every index is written on every create and
// costs about 50 bytes a record:
//
//   - the id: the default order, newest first;
//   - the creation time: the list view's other system sort;
//   - status, then creation, when the form has a status model (a status filter, newest first);
//   - owner / department, then creation, when a role's row scope is own / department (those
//     scopes are equalities on them);
//   - each field marked x-filterable, and each relation field (a trace asks which records
//     point at one), in form order, at most maxFieldIndexes.
//
// Keys are ascending: SQLite reads an index backwards for the reverse order, and times and
// ids only grow, so new entries go to the end of an ascending index and fill its pages (at the
// front of a descending one they split them and leave pages half empty). A list by a field
// without an index is right, only slower: it reads the form's records. Every list also has
// the condition deleted = null, checked on the rows the index yields: an index led by deleted
// would not help, since the store reads null as a type, not a value.
func listIndexes(c *Compiled) []store.IndexSpec {
	created := store.IndexKey{Path: "created_at"}
	specs := []store.IndexSpec{
		{Keys: []store.IndexKey{{Path: "_id"}}},
		{Keys: []store.IndexKey{created}},
	}
	if c.Def.Status != nil {
		specs = append(specs, store.IndexSpec{Keys: []store.IndexKey{{Path: "status"}, created}})
	}
	scopes := map[string]bool{}
	for _, p := range c.Def.Permissions {
		scopes[p.Scope] = true
	}
	if scopes["own"] {
		specs = append(specs, store.IndexSpec{Keys: []store.IndexKey{{Path: "owner"}, created}})
	}
	if scopes["department"] {
		specs = append(specs, store.IndexSpec{Keys: []store.IndexKey{{Path: "dept"}, created}})
	}
	fields := 0
	for _, f := range c.Fields {
		if fields == maxFieldIndexes {
			break
		}
		if (f.Filterable || f.Type == "relation") && indexable(f) {
			specs = append(specs, store.IndexSpec{Keys: []store.IndexKey{{Path: "data." + f.Key}}})
			fields++
		}
	}
	return specs
}

// ensureIndexes declares a form's list indexes (listIndexes) through the store: MongoDB
// indexes on MongoDB, SQLite expression indexes over the compiled query's expressions on the
// embedded store. Indexes an earlier version declared and this one does not are dropped.
func (s *Service) ensureIndexes(ctx context.Context, c *Compiled) error {
	return s.st.EnsureIndexes(ctx, RecordsCollection(c.App, c.Key), listIndexes(c))
}
