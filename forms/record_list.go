package forms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Filter is one condition of a list: Field is a field key, a date part ("made_on.month") or a
// system field (id, status, createdBy, createdAt, updatedBy, updatedAt).
type Filter struct {
	Field string `json:"field"`
	Op    string `json:"op"` // eq ne gt gte lt lte in contains between empty notEmpty
	Value any    `json:"value,omitempty"`
}

// SortKey orders a list by one field.
type SortKey struct {
	Field string `json:"field"`
	Desc  bool   `json:"desc,omitempty"`
}

// ListQuery asks for one page of a form's records.
type ListQuery struct {
	Filters []Filter `json:"filters,omitempty"`
	Sort    *SortKey `json:"sort,omitempty"`
	Limit   int      `json:"limit,omitempty"`
	Cursor  string   `json:"cursor,omitempty"`
	Fields  []string `json:"fields,omitempty"`
	Deleted bool     `json:"deleted,omitempty"`
}

// ListResult is one page: Next is the cursor of the next page ("" on the last). Total counts
// the matching records exactly up to CountCap; past it TotalEstimated is set and Total is the cap.
type ListResult struct {
	Items          []*Record `json:"items"`
	Next           string    `json:"next,omitempty"`
	Total          int64     `json:"total"`
	TotalEstimated bool      `json:"totalEstimated,omitempty"`
}

// List limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
	CountCap     = 10_000
)

var systemFields = map[string]string{
	"id": "_id", "status": "status", "createdBy": "created_by", "createdAt": "created_at",
	"updatedBy": "updated_by", "updatedAt": "updated_at", "version": "version",
}

// List returns one page of records matching the query that the caller may read, without
// hidden fields. The filters, the row scopes that conditions can express (own, department,
// all), the sort, the keyset cursor, the projection and the capped count all go to the store's
// query model (st.Query, st.QueryCount): on MongoDB a filter served by the indexes declared on
// publish (record_index.go), on the embedded store SQL over the same indexes. Only rows of a
// role whose scope is an expression are checked here one by one (listChecked).
func (s *Service) List(ctx context.Context, p *engine.Principal, app, form string, q ListQuery) (*ListResult, error) {
	c, err := s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, err
	}
	acc := s.accessFor(ctx, p, c)
	if err := acc.require(ActRead); err != nil {
		return nil, err
	}
	lq, err := s.compileQuery(c, acc, &q)
	if err != nil {
		return nil, err
	}
	if lq.none {
		return &ListResult{Items: []*Record{}}, nil
	}
	coll := RecordsCollection(app, form)
	if lq.rowCheck {
		return s.listChecked(ctx, coll, acc, q, lq)
	}
	sq := lq.query(q.Limit, q.Cursor)
	if len(q.Fields) > 0 && !acc.exprScoped() {
		// The system fields a record carries, and the named fields; hidden fields are checked
		// by compileQuery (never named) and removed by visible.
		sq.Fields = append([]string{"_rev", "app", "form", "version", "status", "owner", "dept",
			"created_by", "created_at", "updated_by", "updated_at", "deleted"}, dataPaths(q.Fields)...)
	}
	page, err := s.st.Query(ctx, coll, sq)
	if err != nil {
		return nil, listError(err)
	}
	res := &ListResult{Items: make([]*Record, 0, len(page.Docs)), Next: page.Next}
	for _, raw := range page.Docs {
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		rec := d.record()
		rec.Data = project(acc.visible(ctx, &d, rec.Data), q.Fields)
		res.Items = append(res.Items, rec)
	}
	if q.Cursor == "" && page.Next == "" {
		// The whole match is on this page: no count needed.
		res.Total = int64(len(res.Items))
		return res, nil
	}
	n, err := s.st.QueryCount(ctx, coll, lq.where, CountCap)
	if err != nil {
		return nil, listError(err)
	}
	res.Total, res.TotalEstimated = n.N, n.Capped
	return res, nil
}

// listChecked answers List when some reading role's row scope is an expression, which no
// store condition can express: it reads the filtered, sorted match in chunks through the
// store's query and keeps the rows acc.allows, counting every readable row from the cursor on
// (a count over rows the user may not read would leak them; it is a lower bound after a
// cursor). The page's Next is the store's cursor after its last row.
func (s *Service) listChecked(ctx context.Context, coll string, acc *access, q ListQuery, lq *listQuery) (*ListResult, error) {
	const chunk = 500
	res := &ListResult{Items: []*Record{}}
	after := q.Cursor
	var lastFrom string // the cursor of the chunk holding the page's last row
	lastAt, more := -1, false
	for {
		page, err := s.st.Query(ctx, coll, lq.query(chunk, after))
		if err != nil {
			return nil, listError(err)
		}
		for i, raw := range page.Docs {
			var d recordDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return nil, err
			}
			if !acc.allows(ctx, ActRead, &d) {
				continue
			}
			res.Total++
			if len(res.Items) == q.Limit {
				more = true
				continue
			}
			rec := d.record()
			rec.Data = project(acc.visible(ctx, &d, rec.Data), q.Fields)
			res.Items = append(res.Items, rec)
			lastFrom, lastAt = after, i
		}
		if page.Next == "" {
			break
		}
		after = page.Next
	}
	res.TotalEstimated = q.Cursor != ""
	if more && lastAt >= 0 {
		// The store's cursor right after the page's last row: its chunk again, cut there.
		sq := lq.query(lastAt+1, lastFrom)
		sq.Fields = []string{"_id"}
		page, err := s.st.Query(ctx, coll, sq)
		if err != nil {
			return nil, listError(err)
		}
		res.Next = page.Next
	}
	return res, nil
}

var errStop = fmt.Errorf("stop")

// listError turns the store's refusals into the list's own errors: a cursor that is not one of
// this list's, or a query the store cannot answer (such as a sort over a field holding lists).
func listError(err error) error {
	var qe *store.QueryError
	switch {
	case errors.Is(err, store.ErrBadCursor):
		return engine.Invalid("cursor", "invalid_format", map[string]any{"detail": "not a cursor of this list"})
	case errors.As(err, &qe):
		return engine.Invalid("filters", "invalid_format", map[string]any{"detail": qe.Msg})
	}
	return err
}

// dataPaths are the stored paths of field keys.
func dataPaths(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = "data." + k
	}
	return out
}

type sortSpec struct {
	SortKey
	store string
}

// listQuery is a checked list query in the store's terms.
type listQuery struct {
	where    store.Cond // filters, deleted or not, and the row scopes conditions express
	sort     sortSpec
	none     bool // the row scopes allow no row at all
	rowCheck bool // rows must still be checked one by one (expression scopes)
}

// query is the store query of one page of the list.
func (lq *listQuery) query(limit int, after string) store.Query {
	return store.Query{Where: lq.where, Sort: []store.SortKey{{Path: lq.sort.store, Desc: lq.sort.Desc}}, Limit: limit, After: after}
}

// compileQuery checks the query and turns its filters and the caller's row scopes into a
// store condition.
func (s *Service) compileQuery(c *Compiled, acc *access, q *ListQuery) (*listQuery, error) {
	var fe engine.FieldErrors
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit > MaxLimit {
		fe.Add("limit", "too_big", map[string]any{"max": MaxLimit})
	}
	var ands []store.Cond
	if q.Deleted {
		if !acc.full && !acc.can(ActDelete) {
			return nil, engine.ErrForbidden
		}
		// The rows must be in the delete action's scope too: scopeCond adds it, and allows
		// checks it of each deleted record.
		acc.deleted = true
		ands = append(ands, store.Ne("deleted", nil))
	} else {
		ands = append(ands, store.Eq("deleted", nil))
	}
	if hidden := s.importsHidden(RecordsCollection(c.App, c.Key)); len(hidden) > 0 {
		ands = append(ands, store.Nin("import", hidden...)) // imports still being written
	}
	for i, f := range q.Filters {
		path := fmt.Sprintf("filters.%d", i)
		storePath, kind, ok := s.resolveField(c, acc, f.Field)
		if !ok {
			fe.Add(path+".field", "not_found", map[string]any{"value": f.Field})
			continue
		}
		cond, err := condition(storePath, kind, f.Op, f.Value)
		if err != nil {
			fe = append(fe, prefixErrors(asFieldErrors(err, ""), path)...)
			continue
		}
		ands = append(ands, cond)
	}
	lq := &listQuery{sort: sortSpec{SortKey: SortKey{Field: "id", Desc: true}, store: "_id"}}
	if q.Sort != nil {
		storePath, kind, ok := s.resolveField(c, acc, q.Sort.Field)
		if !ok {
			fe.Add("sort.field", "not_found", map[string]any{"value": q.Sort.Field})
		} else if kind == "list" {
			// A list has no order of its own (MongoDB sorts by its least or greatest element,
			// SQL could only by its JSON text).
			fe.Add("sort.field", "not_sortable", map[string]any{"value": q.Sort.Field})
		}
		lq.sort = sortSpec{SortKey: *q.Sort, store: storePath}
	}
	for i, f := range q.Fields {
		if _, ok := c.byKey[f]; !ok || acc.hidden[f] {
			fe.Add(fmt.Sprintf("fields.%d", i), "not_found", map[string]any{"value": f})
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	scope, none, check := acc.scopeCond()
	if scope != nil {
		ands = append(ands, *scope)
	}
	lq.where, lq.none, lq.rowCheck = store.And(ands...), none, check
	return lq, nil
}

// scopeCond is the store condition of the rows the caller's row scopes allow reading (nil:
// all), whether they allow none, and whether rows must still be checked one by one with
// allows (expression scopes cannot be expressed as conditions). A listing of deleted records
// needs the delete action's scope as well, as allows does of each deleted record.
func (a *access) scopeCond() (*store.Cond, bool, bool) {
	read, none, check := a.actionScope(ActRead)
	if !a.deleted || none {
		return read, none, check
	}
	del, delNone, delCheck := a.actionScope(ActDelete)
	switch {
	case delNone:
		return nil, true, false
	case read == nil:
		return del, false, check || delCheck
	case del == nil:
		return read, false, check || delCheck
	}
	both := store.And(*read, *del)
	return &both, false, check || delCheck
}

// actionScope is scopeCond for one action.
func (a *access) actionScope(action string) (*store.Cond, bool, bool) {
	if a.full {
		return nil, false, false
	}
	var ors []store.Cond
	for _, cp := range a.scopes[action] {
		switch cp.Scope {
		case "", "all":
			return nil, false, false
		case "own":
			ors = append(ors, store.Eq("owner", a.p.Username))
		case "department":
			if a.p.Department != "" {
				ors = append(ors, store.Eq("dept", a.p.Department))
			}
		case "expr":
			return nil, false, true // check every row in Go
		}
	}
	if len(ors) == 0 {
		return nil, true, false
	}
	if len(ors) == 1 {
		return &ors[0], false, false
	}
	c := store.Or(ors...)
	return &c, false, false
}

// exprScoped tells whether a role the caller reads by has an expression scope, which reads
// every field of a record (so a list does not project them away before visible).
func (a *access) exprScoped() bool {
	for _, action := range []string{ActRead, ActDelete} {
		for _, cp := range a.scopes[action] {
			if cp.Scope == "expr" {
				return true
			}
		}
	}
	return false
}

// resolveField maps a query field to its stored path and its value kind.
func (s *Service) resolveField(c *Compiled, acc *access, name string) (string, string, bool) {
	if sf, ok := systemFields[name]; ok {
		kind := "string"
		if strings.HasSuffix(name, "At") {
			kind = "time"
		} else if name == "version" {
			kind = "number"
		}
		return sf, kind, true
	}
	key, part, hasPart := strings.Cut(name, ".")
	f, ok := c.byKey[key]
	if !ok || acc.hidden[key] {
		return "", "", false
	}
	if hasPart {
		switch part {
		case "day", "week", "month", "quarter", "year":
			if f.Type == "date" || f.Type == "datetime" {
				return "parts." + key + "." + part, "string", true
			}
		}
		return "", "", false
	}
	kind := "string"
	switch f.Impl().ExprType(f).Kind {
	case engine.ExprNumber, engine.ExprInt:
		kind = "number"
	case engine.ExprBool:
		kind = "bool"
	case engine.ExprTime:
		kind = "time"
	case engine.ExprList:
		kind = "list"
	}
	return "data." + key, kind, true
}

// condition builds one filter condition, converting the value to the field's kind. A list
// field (multi-choice, attachments) is matched by its elements, as MongoDB matches arrays.
func condition(path, kind, op string, v any) (store.Cond, error) {
	list := kind == "list"
	conv := func(x any) (any, error) { return convertFilterValue(kind, x) }
	each := func(c store.Cond) store.Cond {
		if list {
			return c.Elements()
		}
		return c
	}
	one := func(mk func(string, any) store.Cond) (store.Cond, error) {
		x, err := conv(v)
		if err != nil {
			return store.Cond{}, err
		}
		return each(mk(path, x)), nil
	}
	switch op {
	case "eq":
		return one(store.Eq)
	case "ne":
		return one(store.Ne)
	case "gt":
		return one(store.Gt)
	case "gte":
		return one(store.Gte)
	case "lt":
		return one(store.Lt)
	case "lte":
		return one(store.Lte)
	case "in":
		vs, ok := v.([]any)
		if !ok || len(vs) == 0 || len(vs) > 500 {
			return store.Cond{}, engine.Invalid("value", "wrong_type", map[string]any{"want": "array of 1 to 500 values"})
		}
		xs := make([]any, len(vs))
		for i, e := range vs {
			x, err := conv(e)
			if err != nil {
				return store.Cond{}, err
			}
			xs[i] = x
		}
		return each(store.In(path, xs...)), nil
	case "between":
		vs, ok := v.([]any)
		if !ok || len(vs) != 2 {
			return store.Cond{}, engine.Invalid("value", "wrong_type", map[string]any{"want": "[from, to]"})
		}
		lo, err := conv(vs[0])
		if err != nil {
			return store.Cond{}, err
		}
		hi, err := conv(vs[1])
		if err != nil {
			return store.Cond{}, err
		}
		if list {
			return store.And(store.Gte(path, lo).Elements(), store.Lte(path, hi).Elements()), nil
		}
		if fmt.Sprintf("%T", lo) != fmt.Sprintf("%T", hi) {
			return store.Cond{}, engine.Invalid("value", "wrong_type", map[string]any{"want": "[from, to] of one type"})
		}
		return store.Between(path, lo, hi), nil
	case "contains":
		str, ok := v.(string)
		if !ok || str == "" {
			return store.Cond{}, engine.Invalid("value", "wrong_type", map[string]any{"want": "text"})
		}
		if list {
			return store.Eq(path, str).Elements(), nil
		}
		return store.Contains(path, str), nil
	case "empty":
		return each(store.Empty(path)), nil
	case "notEmpty":
		return each(store.NotEmpty(path)), nil
	}
	return store.Cond{}, engine.Invalid("op", "one_of", map[string]any{"values": "eq, ne, gt, gte, lt, lte, in, contains, between, empty, notEmpty"})
}

func convertFilterValue(kind string, v any) (any, error) {
	switch kind {
	case "number":
		// The number field's own parsing: JSON and Go numbers and numeric text alike.
		x, empty, err := parseNumberInput(v)
		if err != nil || empty {
			return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "number"})
		}
		return x, nil
	case "bool":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "boolean"})
	case "time":
		str, ok := v.(string)
		if ok {
			if t, err := time.Parse(time.RFC3339Nano, str); err == nil {
				return t.UTC(), nil
			}
			if t, err := time.Parse("2006-01-02", str); err == nil {
				return t.UTC(), nil
			}
		}
		return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "date-time (RFC 3339)"})
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case float64, bool:
		return x, nil
	}
	return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "text"})
}

// project keeps only the named fields (all when none are named).
func project(data Values, fields []string) Values {
	if len(fields) == 0 {
		return data
	}
	out := Values{}
	for _, f := range fields {
		if v, ok := data[f]; ok {
			out[f] = v
		}
	}
	return out
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"not_sortable": {ZH: "字段 {value} 存放多个值，不能用于排序", EN: "field {value} holds several values and cannot sort a list"},
	})
}
