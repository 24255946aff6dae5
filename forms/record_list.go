package forms

import (
	"context"
	"encoding/base64"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

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
// hidden fields. On MongoDB the server filters, sorts and pages (with indexes); on the embedded
// store, which scans for any filter but by id and sorts slowly (DESIGN.md), one scan filters
// and the page is sorted and cut here (listScan).
func (s *Service) List(ctx context.Context, p *engine.Principal, app, form string, q ListQuery) (*ListResult, error) {
	c, err := s.Compiled(ctx, app, form, 0)
	if err != nil {
		return nil, err
	}
	acc := s.accessFor(ctx, p, c)
	if err := acc.require(ActRead); err != nil {
		return nil, err
	}
	filter, sortKey, err := s.compileQuery(c, acc, &q)
	if err != nil {
		return nil, err
	}
	scope, rowCheck := acc.listFilter()
	if scope != nil {
		filter = append(filter, bson.E{Key: "$and", Value: bson.A{scope}})
	}
	if s.st.Kind() == store.KindEmbedded {
		return s.listScan(ctx, app, form, acc, q, filter, sortKey, rowCheck)
	}
	dir := 1
	if sortKey.Desc {
		dir = -1
	}
	page := filter
	if q.Cursor != "" {
		cf, err := cursorFilter(q.Cursor, sortKey.store, dir)
		if err != nil {
			return nil, err
		}
		page = append(append(bson.D(nil), filter...), bson.E{Key: "$and", Value: bson.A{cf}})
	}
	res := &ListResult{Items: []*Record{}}
	// Ties are broken by _id; sorting by _id itself must not name it twice (the embedded
	// store's FerretDB panics on a duplicated key and drops the connection).
	order := bson.D{{Key: sortKey.store, Value: dir}}
	if sortKey.store != "_id" {
		order = append(order, bson.E{Key: "_id", Value: dir})
	}
	opts := options.Find().SetSort(order)
	if !rowCheck {
		opts.SetLimit(int64(q.Limit + 1))
	}
	var last *recordDoc
	more := false
	var allowed int64 // with row checks, the rows of this page and after that the user may read
	err = s.st.Find(ctx, RecordsCollection(app, form), page, opts, func(raw bson.Raw) error {
		var d recordDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		if rowCheck && !acc.allows(ctx, ActRead, &d) {
			return nil
		}
		allowed++
		if len(res.Items) == q.Limit {
			more = true
			if rowCheck {
				return nil // keep counting: a count over rows the user may not read would leak them
			}
			return errStop
		}
		rec := d.record()
		rec.Data = project(acc.visible(ctx, &d, rec.Data), q.Fields)
		res.Items = append(res.Items, rec)
		last = &d
		return nil
	})
	if err != nil && err != errStop {
		return nil, err
	}
	if more && last != nil {
		res.Next = encodeCursor(sortValue(last, sortKey.store), last.ID)
	}
	if rowCheck {
		// Only the readable rows from the cursor on were seen: the total is a lower bound.
		res.Total, res.TotalEstimated = allowed, q.Cursor != ""
		return res, nil
	}
	n, err := s.count(ctx, app, form, filter)
	if err != nil {
		return nil, err
	}
	res.Total, res.TotalEstimated = n, n >= CountCap
	return res, nil
}

var errStop = fmt.Errorf("stop")

// count counts matches up to CountCap, so a count never costs more than the cap.
func (s *Service) count(ctx context.Context, app, form string, filter bson.D) (int64, error) {
	c, err := s.st.Collection(ctx, RecordsCollection(app, form))
	if err != nil {
		return 0, err
	}
	if filter == nil {
		filter = bson.D{}
	}
	return c.CountDocuments(ctx, filter, options.Count().SetLimit(CountCap))
}

type sortSpec struct {
	SortKey
	store string
}

// compileQuery checks the query and turns its filters into a store filter.
func (s *Service) compileQuery(c *Compiled, acc *access, q *ListQuery) (bson.D, sortSpec, error) {
	var fe engine.FieldErrors
	if q.Limit <= 0 {
		q.Limit = DefaultLimit
	}
	if q.Limit > MaxLimit {
		fe.Add("limit", "too_big", map[string]any{"max": MaxLimit})
	}
	filter := bson.D{}
	if q.Deleted {
		if !acc.full && !acc.can(ActDelete) {
			return nil, sortSpec{}, engine.ErrForbidden
		}
		// The rows must be in the delete action's scope too: listFilter adds it, and allows
		// checks it of each deleted record.
		acc.deleted = true
		filter = append(filter, bson.E{Key: "deleted", Value: bson.D{{Key: "$exists", Value: true}, {Key: "$ne", Value: nil}}})
	} else {
		filter = append(filter, bson.E{Key: "deleted", Value: nil})
	}
	var ands bson.A
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
	sk := sortSpec{SortKey: SortKey{Field: "id", Desc: true}, store: "_id"}
	if q.Sort != nil {
		storePath, _, ok := s.resolveField(c, acc, q.Sort.Field)
		if !ok {
			fe.Add("sort.field", "not_found", map[string]any{"value": q.Sort.Field})
		}
		sk = sortSpec{SortKey: *q.Sort, store: storePath}
	}
	for i, f := range q.Fields {
		if _, ok := c.byKey[f]; !ok || acc.hidden[f] {
			fe.Add(fmt.Sprintf("fields.%d", i), "not_found", map[string]any{"value": f})
		}
	}
	if err := fe.Err(); err != nil {
		return nil, sk, err
	}
	if len(ands) > 0 {
		filter = append(filter, bson.E{Key: "$and", Value: ands})
	}
	return filter, sk, nil
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

// condition builds one filter condition, converting the value to the field's kind.
func condition(path, kind, op string, v any) (bson.D, error) {
	conv := func(x any) (any, error) { return convertFilterValue(kind, x) }
	one := func(mop string) (bson.D, error) {
		x, err := conv(v)
		if err != nil {
			return nil, err
		}
		return bson.D{{Key: path, Value: bson.D{{Key: mop, Value: x}}}}, nil
	}
	switch op {
	case "eq":
		x, err := conv(v)
		if err != nil {
			return nil, err
		}
		return bson.D{{Key: path, Value: x}}, nil
	case "ne":
		return one("$ne")
	case "gt":
		return one("$gt")
	case "gte":
		return one("$gte")
	case "lt":
		return one("$lt")
	case "lte":
		return one("$lte")
	case "in":
		list, ok := v.([]any)
		if !ok || len(list) == 0 || len(list) > 500 {
			return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "array of 1 to 500 values"})
		}
		var xs bson.A
		for _, e := range list {
			x, err := conv(e)
			if err != nil {
				return nil, err
			}
			xs = append(xs, x)
		}
		return bson.D{{Key: path, Value: bson.D{{Key: "$in", Value: xs}}}}, nil
	case "between":
		list, ok := v.([]any)
		if !ok || len(list) != 2 {
			return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "[from, to]"})
		}
		lo, err := conv(list[0])
		if err != nil {
			return nil, err
		}
		hi, err := conv(list[1])
		if err != nil {
			return nil, err
		}
		return bson.D{{Key: path, Value: bson.D{{Key: "$gte", Value: lo}, {Key: "$lte", Value: hi}}}}, nil
	case "contains":
		str, ok := v.(string)
		if !ok || str == "" {
			return nil, engine.Invalid("value", "wrong_type", map[string]any{"want": "text"})
		}
		if kind == "list" {
			return bson.D{{Key: path, Value: str}}, nil
		}
		return bson.D{{Key: path, Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(str)}, {Key: "$options", Value: "i"}}}}, nil
	case "empty":
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: path, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: path, Value: nil}}, bson.D{{Key: path, Value: ""}}, bson.D{{Key: path, Value: bson.A{}}},
		}}}, nil
	case "notEmpty":
		return bson.D{{Key: path, Value: bson.D{{Key: "$exists", Value: true}, {Key: "$nin", Value: bson.A{nil, "", bson.A{}}}}}}, nil
	}
	return nil, engine.Invalid("op", "one_of", map[string]any{"values": "eq, ne, gt, gte, lt, lte, in, contains, between, empty, notEmpty"})
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

func sortValue(d *recordDoc, path string) any {
	switch path {
	case "_id":
		return d.ID
	case "status":
		return d.Status
	case "created_by":
		return d.CreatedBy
	case "created_at":
		return d.CreatedAt.UTC()
	case "updated_by":
		return d.UpdatedBy
	case "updated_at":
		return d.UpdatedAt.UTC()
	case "version":
		return d.Version
	}
	if key, ok := strings.CutPrefix(path, "data."); ok {
		return d.Data[key]
	}
	if rest, ok := strings.CutPrefix(path, "parts."); ok {
		key, part, _ := strings.Cut(rest, ".")
		dp := d.Parts[key]
		return map[string]string{"day": dp.Day, "week": dp.Week, "month": dp.Month, "quarter": dp.Quarter, "year": dp.Year}[part]
	}
	return nil
}

type cursorDoc struct {
	V  any    `bson:"v"`
	ID string `bson:"id"`
}

func encodeCursor(v any, id string) string {
	raw, _ := bson.Marshal(cursorDoc{V: v, ID: id})
	return base64.RawURLEncoding.EncodeToString(raw)
}

func decodeCursor(cur string) (cursorDoc, error) {
	raw, err := base64.RawURLEncoding.DecodeString(cur)
	var cd cursorDoc
	if err == nil {
		err = bson.Unmarshal(raw, &cd)
	}
	if err != nil || cd.ID == "" {
		return cursorDoc{}, engine.Invalid("cursor", "invalid_format", map[string]any{"detail": "not a cursor of this list"})
	}
	cd.V = plain(cd.V)
	switch cd.V.(type) {
	case nil, string, float64, bool, time.Time:
	default:
		// Only the scalar a list sorts by; anything else could carry query operators.
		return cursorDoc{}, engine.Invalid("cursor", "invalid_format", map[string]any{"detail": "not a cursor of this list"})
	}
	return cd, nil
}

// cursorFilter continues after the cursor's (value, id) in the sort order.
func cursorFilter(cur, path string, dir int) (bson.D, error) {
	cd, err := decodeCursor(cur)
	if err != nil {
		return nil, err
	}
	op := "$lt"
	if dir > 0 {
		op = "$gt"
	}
	if path == "_id" {
		return bson.D{{Key: "_id", Value: bson.D{{Key: op, Value: cd.ID}}}}, nil
	}
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: path, Value: bson.D{{Key: op, Value: cd.V}}}},
		bson.D{{Key: path, Value: bson.D{{Key: "$eq", Value: cd.V}}}, {Key: "_id", Value: bson.D{{Key: op, Value: cd.ID}}}},
	}}}, nil
}

// listScan answers List on the embedded store with one streamed scan and no server-side sort:
// it counts every match exactly and keeps only the page's records (plus one, to know whether
// another page follows), in a heap ordered by the sort key and then _id.
func (s *Service) listScan(ctx context.Context, app, form string, acc *access, q ListQuery, filter bson.D, sk sortSpec, rowCheck bool) (*ListResult, error) {
	var after *cursorDoc
	if q.Cursor != "" {
		cd, err := decodeCursor(q.Cursor)
		if err != nil {
			return nil, err
		}
		after = &cd
	}
	// less reports whether (v1, id1) comes before (v2, id2) in the list's order.
	less := func(v1 any, id1 string, v2 any, id2 string) bool {
		c := compareValues(v1, v2)
		if c == 0 {
			c = strings.Compare(id1, id2)
		}
		if sk.Desc {
			return c > 0
		}
		return c < 0
	}
	type cand struct {
		v   any
		id  string
		raw bson.Raw
	}
	keep := q.Limit + 1
	var page []cand // sorted, at most keep long
	var total int64
	path := strings.Split(sk.store, ".")
	err := s.st.Find(ctx, RecordsCollection(app, form), filter, nil, func(raw bson.Raw) error {
		if rowCheck {
			var d recordDoc
			if err := bson.Unmarshal(raw, &d); err != nil {
				return err
			}
			if !acc.allows(ctx, ActRead, &d) {
				return nil
			}
		}
		total++
		id, _ := raw.Lookup("_id").StringValueOK()
		var v any
		if rv, err := raw.LookupErr(path...); err == nil {
			var x any
			if err := rv.Unmarshal(&x); err == nil {
				v = plain(x)
			}
		}
		if after != nil && !less(after.V, after.ID, v, id) {
			return nil
		}
		if len(page) == keep && !less(v, id, page[keep-1].v, page[keep-1].id) {
			return nil
		}
		i := sort.Search(len(page), func(i int) bool { return less(v, id, page[i].v, page[i].id) })
		page = append(page, cand{})
		copy(page[i+1:], page[i:])
		page[i] = cand{v: v, id: id, raw: append(bson.Raw(nil), raw...)}
		if len(page) > keep {
			page = page[:keep]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	res := &ListResult{Items: []*Record{}, Total: total}
	for i, c := range page {
		if i == q.Limit {
			last := page[i-1]
			res.Next = encodeCursor(last.v, last.id)
			break
		}
		var d recordDoc
		if err := bson.Unmarshal(c.raw, &d); err != nil {
			return nil, err
		}
		rec := d.record()
		rec.Data = project(acc.visible(ctx, &d, rec.Data), q.Fields)
		res.Items = append(res.Items, rec)
	}
	return res, nil
}

// compareValues orders values as MongoDB does across types (missing and null, numbers, text,
// objects, lists, booleans, times) and within a type by value.
func compareValues(a, b any) int {
	ra, rb := typeRank(a), typeRank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case float64:
		y := b.(float64)
		switch {
		case x < y:
			return -1
		case x > y:
			return 1
		}
		return 0
	case string:
		return strings.Compare(x, b.(string))
	case bool:
		y := b.(bool)
		switch {
		case x == y:
			return 0
		case !x:
			return -1
		}
		return 1
	case time.Time:
		return x.Compare(b.(time.Time))
	}
	return strings.Compare(fmt.Sprint(a), fmt.Sprint(b))
}

func typeRank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case float64:
		return 1
	case string:
		return 2
	case map[string]any:
		return 3
	case []any:
		return 4
	case bool:
		return 5
	case time.Time:
		return 6
	}
	return 7
}
