package store

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The store's query model: one typed description of a filtered, sorted, paged query (Query), a
// capped count (QueryCount) and a grouping (Aggregation), compiled to a MongoDB filter or
// pipeline on MongoDB and to SQL over FerretDB's SQLite table on the embedded store
// (query_mongo.go, query_sql.go). Both compilers implement the semantics written here, which are
// MongoDB's for scalar fields; query_encoding.go says how the embedded store's documents are laid
// out and how the SQL keeps to them. docs/store.md is the guide for engines.
//
// Values are typed the way MongoDB types them: every stored value has a rank (rankNull …
// rankRegex, MongoDB's sort order of types), and a comparison only ever matches values of the
// operand's rank — `gt 5` matches numbers above 5, never a string or a date. Null and a missing
// field are the same value (rank 1): `eq nil` matches both, and both sort first.
//
// A path names a scalar (string, number, bool, date, ObjectID, null) unless the condition says
// Each: then the field holds an array and the condition is about its elements (any element
// matches; ne and nin: no element matches). A path must not run through an array on the way
// (a.b where a is an array): MongoDB would look into the array's documents, the SQL does not.

// Op is a condition's operator.
type Op string

// The operators of a condition.
const (
	OpEq         Op = "eq"         // equal (nil: null or missing)
	OpNe         Op = "ne"         // not eq
	OpGt         Op = "gt"         // greater, same type only
	OpGte        Op = "gte"        // greater or equal, same type only
	OpLt         Op = "lt"         // less, same type only
	OpLte        Op = "lte"        // less or equal, same type only
	OpIn         Op = "in"         // eq one of the values ([]any)
	OpNin        Op = "nin"        // not in
	OpBetween    Op = "between"    // gte the first and lte the second of two values ([]any) of one type
	OpContains   Op = "contains"   // a string that contains the text, ignoring case (Unicode simple folding)
	OpStartsWith Op = "startsWith" // a string that starts with the text (case-sensitive; uses an index)
	OpEmpty      Op = "empty"      // missing, null or "" (Each: missing, null or [])
	OpNotEmpty   Op = "notEmpty"   // not empty
)

// Cond is one node of a condition tree: a leaf compares the value at Path with Value by Op; a
// node with And or Or combines other conditions instead. The zero Cond matches every document.
type Cond struct {
	Path  string
	Op    Op
	Value any // a scalar; []any for in, nin and between; nil for empty and notEmpty
	// Each says Path holds an array and the condition is about its elements.
	Each bool
	And  []Cond
	Or   []Cond
}

// Eq is the condition path == v (v nil: the field is null or missing).
func Eq(path string, v any) Cond { return Cond{Path: path, Op: OpEq, Value: v} }

// Ne is the condition path != v.
func Ne(path string, v any) Cond { return Cond{Path: path, Op: OpNe, Value: v} }

// Gt is the condition path > v (values of v's type only).
func Gt(path string, v any) Cond { return Cond{Path: path, Op: OpGt, Value: v} }

// Gte is the condition path >= v (values of v's type only).
func Gte(path string, v any) Cond { return Cond{Path: path, Op: OpGte, Value: v} }

// Lt is the condition path < v (values of v's type only).
func Lt(path string, v any) Cond { return Cond{Path: path, Op: OpLt, Value: v} }

// Lte is the condition path <= v (values of v's type only).
func Lte(path string, v any) Cond { return Cond{Path: path, Op: OpLte, Value: v} }

// In is the condition "path equals one of vs".
func In(path string, vs ...any) Cond { return Cond{Path: path, Op: OpIn, Value: vs} }

// Nin is the condition "path equals none of vs".
func Nin(path string, vs ...any) Cond { return Cond{Path: path, Op: OpNin, Value: vs} }

// Between is the condition lo <= path <= hi (lo and hi of one type).
func Between(path string, lo, hi any) Cond {
	return Cond{Path: path, Op: OpBetween, Value: []any{lo, hi}}
}

// Contains is the condition "path is a string containing text, ignoring case".
func Contains(path, text string) Cond { return Cond{Path: path, Op: OpContains, Value: text} }

// StartsWith is the condition "path is a string starting with prefix".
func StartsWith(path, prefix string) Cond {
	return Cond{Path: path, Op: OpStartsWith, Value: prefix}
}

// Empty is the condition "path is missing, null or empty".
func Empty(path string) Cond { return Cond{Path: path, Op: OpEmpty} }

// NotEmpty is the condition "path has a value that is not empty".
func NotEmpty(path string) Cond { return Cond{Path: path, Op: OpNotEmpty} }

// And matches when every condition matches.
func And(cs ...Cond) Cond { return Cond{And: append([]Cond{}, cs...)} }

// Or matches when any condition matches.
func Or(cs ...Cond) Cond { return Cond{Or: append([]Cond{}, cs...)} }

// Elements makes a leaf condition about the elements of the array at its path.
func (c Cond) Elements() Cond { c.Each = true; return c }

// SortKey orders by one path (or, in an Aggregation, by a key's or a measure's name).
type SortKey struct {
	Path string
	Desc bool
}

// Query asks for one page of documents.
type Query struct {
	Where Cond
	// Sort orders the page; ties are broken by _id, in the direction of the last key (so the
	// order is total and a cursor can continue it). Empty: by _id ascending.
	Sort []SortKey
	// Limit is the page size: DefaultQueryLimit when 0, at most MaxQueryLimit.
	Limit int
	// After is the Next of the previous page: the page starts after that document.
	After string
	// Fields projects the documents to these paths (and _id); all fields when empty.
	Fields []string
}

// Page is one page of a Query: Next continues it, "" on the last page.
type Page struct {
	Docs []bson.Raw
	Next string
}

// Count is the result of QueryCount: N matching documents, exact unless Capped (then N is the cap).
type Count struct {
	N      int64
	Capped bool
}

// Query limits.
const (
	DefaultQueryLimit = 50
	MaxQueryLimit     = 10_000
	maxInValues       = 1_000
	maxLeaves         = 128
	maxDepth          = 16
	maxPathDepth      = 8
	maxPathLen        = 256
	maxSortKeys       = 4
	maxFields         = 128
)

// ErrInvalidQuery is the error of a query the store refuses; the message says what and where.
var ErrInvalidQuery = errors.New("invalid query")

// ErrBadCursor is the error of an After that is not a cursor of this query's order.
var ErrBadCursor = errors.New("not a cursor of this query")

// QueryError is a refused query: Where names the part ("where.and.1.value", "sort.0.path").
type QueryError struct {
	Where string
	Msg   string
}

func (e *QueryError) Error() string {
	if e.Where == "" {
		return "invalid query: " + e.Msg
	}
	return "invalid query: " + e.Where + ": " + e.Msg
}

// Is makes errors.Is(err, ErrInvalidQuery) hold.
func (e *QueryError) Is(target error) bool { return target == ErrInvalidQuery }

func qerr(where, format string, args ...any) error {
	return &QueryError{Where: where, Msg: fmt.Sprintf(format, args...)}
}

// Query returns one page of the documents of coll that match q.Where, in q.Sort's order.
// A missing collection has no documents.
func (s *Store) Query(ctx context.Context, coll string, q Query) (*Page, error) {
	p, err := planQuery(q)
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", coll, err)
	}
	var page *Page
	if s.sqlQueries() {
		page, err = s.querySQL(ctx, coll, p)
	} else {
		page, err = s.queryMongo(ctx, coll, p)
	}
	if err != nil {
		return nil, fmt.Errorf("query %s: %w", coll, err)
	}
	return page, nil
}

// QueryCount counts the documents of coll matching where, stopping at limit (no limit when
// limit <= 0): a count never costs more than its cap.
func (s *Store) QueryCount(ctx context.Context, coll string, where Cond, limit int64) (Count, error) {
	w, err := planWhere(where, "where")
	if err != nil {
		return Count{}, fmt.Errorf("count %s: %w", coll, err)
	}
	var n int64
	if s.sqlQueries() {
		n, err = s.countSQL(ctx, coll, w, limit)
	} else {
		n, err = s.countMongo(ctx, coll, w, limit)
	}
	if err != nil {
		return Count{}, fmt.Errorf("count %s: %w", coll, err)
	}
	return Count{N: n, Capped: limit > 0 && n >= limit}, nil
}

// sqlQueries reports whether queries are compiled to SQL: on the embedded store, unless
// Options.QueryViaWire sends them through FerretDB.
func (s *Store) sqlQueries() bool { return s.kind == KindEmbedded && !s.viaWire }

// fieldPath is a validated dotted path.
type fieldPath struct {
	dotted string
	segs   []string
}

// pathSeg is the pattern of one segment of a path: a name that is neither an operator ($…) nor
// an array index (digits only), so it means the same to MongoDB and in a SQLite JSON path.
var pathSeg = regexp.MustCompile(`^[A-Za-z0-9_]*[A-Za-z_][A-Za-z0-9_]*$`)

func parsePath(p, where string) (fieldPath, error) {
	if p == "" {
		return fieldPath{}, qerr(where, "empty path")
	}
	if len(p) > maxPathLen {
		return fieldPath{}, qerr(where, "path longer than %d bytes", maxPathLen)
	}
	segs := strings.Split(p, ".")
	if len(segs) > maxPathDepth {
		return fieldPath{}, qerr(where, "path %q deeper than %d", p, maxPathDepth)
	}
	for _, s := range segs {
		if !pathSeg.MatchString(s) {
			return fieldPath{}, qerr(where, "path %q: %q is not a field name (letters, digits and _, not only digits)", p, s)
		}
	}
	if segs[0] == "_id" && len(segs) > 1 {
		return fieldPath{}, qerr(where, "path %q: _id is a string, it has no fields", p)
	}
	return fieldPath{dotted: p, segs: segs}, nil
}

func (f fieldPath) isID() bool { return f.dotted == "_id" }

// Ranks: MongoDB's order of types (BSON comparison order). Null and missing are one rank.
const (
	rankNull      = 1
	rankNumber    = 2
	rankString    = 3
	rankObject    = 4
	rankArray     = 5
	rankBinData   = 6
	rankObjectID  = 7
	rankBool      = 8
	rankDate      = 9
	rankTimestamp = 10
	rankRegex     = 11
)

// rankName names a rank in messages.
func rankName(r int) string {
	switch r {
	case rankNull:
		return "null"
	case rankNumber:
		return "number"
	case rankString:
		return "string"
	case rankObject:
		return "document"
	case rankArray:
		return "array"
	case rankBinData:
		return "binary"
	case rankObjectID:
		return "ObjectID"
	case rankBool:
		return "bool"
	case rankDate:
		return "date"
	case rankTimestamp:
		return "timestamp"
	case rankRegex:
		return "regex"
	}
	return fmt.Sprint("rank ", r)
}

// scalar is an operand or a sort value, normalised: v is nil (rankNull), int64 or float64
// (rankNumber), string (rankString), the 24-digit hex of an ObjectID (rankObjectID), bool
// (rankBool) or the epoch milliseconds of a date (rankDate).
type scalar struct {
	rank int
	v    any
}

// maxExactFloat is 2^53: integral floats up to it are written as int64, so a number has one
// form whatever its stored type (3 and 3.0 are one value in both backends).
const maxExactFloat = 1 << 53

func numberScalar(f float64) scalar {
	if f == math.Trunc(f) && math.Abs(f) <= maxExactFloat {
		return scalar{rankNumber, int64(f)}
	}
	return scalar{rankNumber, f}
}

// toScalar normalises an operand.
func toScalar(v any, where string) (scalar, error) {
	switch x := v.(type) {
	case nil:
		return scalar{rankNull, nil}, nil
	case bool:
		return scalar{rankBool, x}, nil
	case string:
		if !utf8.ValidString(x) {
			return scalar{}, qerr(where, "string is not valid UTF-8")
		}
		return scalar{rankString, x}, nil
	case int:
		return scalar{rankNumber, int64(x)}, nil
	case int8:
		return scalar{rankNumber, int64(x)}, nil
	case int16:
		return scalar{rankNumber, int64(x)}, nil
	case int32:
		return scalar{rankNumber, int64(x)}, nil
	case int64:
		return scalar{rankNumber, x}, nil
	case uint8:
		return scalar{rankNumber, int64(x)}, nil
	case uint16:
		return scalar{rankNumber, int64(x)}, nil
	case uint32:
		return scalar{rankNumber, int64(x)}, nil
	case uint:
		if uint64(x) > math.MaxInt64 {
			return scalar{}, qerr(where, "number %d is out of range", x)
		}
		return scalar{rankNumber, int64(x)}, nil
	case uint64:
		if x > math.MaxInt64 {
			return scalar{}, qerr(where, "number %d is out of range", x)
		}
		return scalar{rankNumber, int64(x)}, nil
	case float32:
		return toScalar(float64(x), where)
	case float64:
		// The embedded store cannot hold NaN or infinities (FerretDB refuses them, and a NaN in
		// a command makes it drop the connection), so no query may name one.
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return scalar{}, qerr(where, "NaN and infinities are not values")
		}
		return numberScalar(x), nil
	case time.Time:
		return scalar{rankDate, x.UnixMilli()}, nil
	case bson.DateTime:
		return scalar{rankDate, int64(x)}, nil
	case bson.ObjectID:
		return scalar{rankObjectID, x.Hex()}, nil
	}
	return scalar{}, qerr(where, "%T is not a value a query can compare (string, number, bool, time, ObjectID or nil)", v)
}

// mongoValue is the operand as the MongoDB driver encodes it.
func (s scalar) mongoValue() any {
	switch s.rank {
	case rankDate:
		return bson.DateTime(s.v.(int64))
	case rankObjectID:
		id, _ := bson.ObjectIDFromHex(s.v.(string))
		return id
	}
	return s.v
}

// sqlValue is the operand as it is bound to a SQL parameter.
func (s scalar) sqlValue() any {
	if b, ok := s.v.(bool); ok {
		if b {
			return int64(1)
		}
		return int64(0)
	}
	return s.v
}

// leaf is a validated leaf condition.
type leaf struct {
	path fieldPath
	op   Op
	each bool
	vals []scalar // eq…lte: one; in, nin: several; between: two
	text string   // contains, startsWith
}

// cnode is a validated condition tree: a leaf, or an and/or of nodes. A nil *cnode matches all.
type cnode struct {
	leaf *leaf
	and  []*cnode
	or   []*cnode
}

// planWhere validates a condition tree.
func planWhere(c Cond, where string) (*cnode, error) {
	leaves := 0
	return planCond(c, where, 0, &leaves)
}

func planCond(c Cond, where string, depth int, leaves *int) (*cnode, error) {
	if depth > maxDepth {
		return nil, qerr(where, "conditions nested deeper than %d", maxDepth)
	}
	isLeaf := c.Path != "" || c.Op != "" || c.Value != nil || c.Each
	switch {
	case isLeaf && (c.And != nil || c.Or != nil), c.And != nil && c.Or != nil:
		return nil, qerr(where, "a condition is a leaf (path, op, value), an and or an or, not several")
	case c.And != nil || c.Or != nil:
		kids, name := c.And, "and"
		if c.Or != nil {
			kids, name = c.Or, "or"
		}
		if len(kids) == 0 {
			return nil, qerr(where+"."+name, "no conditions")
		}
		n := &cnode{}
		for i, k := range kids {
			kn, err := planCond(k, fmt.Sprintf("%s.%s.%d", where, name, i), depth+1, leaves)
			if err != nil {
				return nil, err
			}
			if kn == nil {
				return nil, qerr(fmt.Sprintf("%s.%s.%d", where, name, i), "empty condition")
			}
			if name == "and" {
				n.and = append(n.and, kn)
			} else {
				n.or = append(n.or, kn)
			}
		}
		return n, nil
	case !isLeaf:
		if depth == 0 {
			return nil, nil
		}
		return nil, qerr(where, "empty condition")
	}
	*leaves++
	if *leaves > maxLeaves {
		return nil, qerr(where, "more than %d conditions", maxLeaves)
	}
	l, err := planLeaf(c, where)
	if err != nil {
		return nil, err
	}
	return &cnode{leaf: l}, nil
}

func planLeaf(c Cond, where string) (*leaf, error) {
	p, err := parsePath(c.Path, where+".path")
	if err != nil {
		return nil, err
	}
	l := &leaf{path: p, op: c.Op, each: c.Each}
	if c.Each && p.isID() {
		return nil, qerr(where+".each", "_id is not an array")
	}
	vw := where + ".value"
	one := func(allowNull bool) error {
		s, err := toScalar(c.Value, vw)
		if err != nil {
			return err
		}
		if !allowNull && s.rank == rankNull {
			return qerr(vw, "%s needs a value, not nil", c.Op)
		}
		l.vals = []scalar{s}
		return nil
	}
	switch c.Op {
	case OpEq, OpNe:
		err = one(true)
	case OpGt, OpGte, OpLt, OpLte:
		err = one(false)
	case OpIn, OpNin:
		list, ok := c.Value.([]any)
		if !ok || len(list) == 0 || len(list) > maxInValues {
			return nil, qerr(vw, "%s needs a list of 1 to %d values", c.Op, maxInValues)
		}
		for i, v := range list {
			s, err := toScalar(v, fmt.Sprintf("%s.%d", vw, i))
			if err != nil {
				return nil, err
			}
			l.vals = append(l.vals, s)
		}
	case OpBetween:
		if c.Each {
			// MongoDB would match an array with one element above lo and another below hi.
			return nil, qerr(where+".each", "between is not defined on array elements; use gte and lte")
		}
		list, ok := c.Value.([]any)
		if !ok || len(list) != 2 {
			return nil, qerr(vw, "between needs [from, to]")
		}
		for i, v := range list {
			s, err := toScalar(v, fmt.Sprintf("%s.%d", vw, i))
			if err != nil {
				return nil, err
			}
			if s.rank == rankNull {
				return nil, qerr(fmt.Sprintf("%s.%d", vw, i), "between needs values, not nil")
			}
			l.vals = append(l.vals, s)
		}
		if l.vals[0].rank != l.vals[1].rank {
			return nil, qerr(vw, "between needs two values of one type, not %s and %s", rankName(l.vals[0].rank), rankName(l.vals[1].rank))
		}
	case OpContains, OpStartsWith:
		str, ok := c.Value.(string)
		if !ok {
			return nil, qerr(vw, "%s needs a string", c.Op)
		}
		if !utf8.ValidString(str) {
			return nil, qerr(vw, "string is not valid UTF-8")
		}
		l.text = str
	case OpEmpty, OpNotEmpty:
		if c.Value != nil {
			return nil, qerr(vw, "%s takes no value", c.Op)
		}
	case "":
		return nil, qerr(where+".op", "no operator")
	default:
		return nil, qerr(where+".op", "unknown operator %q (eq ne gt gte lt lte in nin between contains startsWith empty notEmpty)", c.Op)
	}
	if err != nil {
		return nil, err
	}
	if p.isID() {
		// _id is a string on every collection of ours (Put, Create and Set take string ids),
		// compared as such; the store has no index for any other reading of it.
		for i, v := range l.vals {
			if v.rank != rankString && !(v.rank == rankNull && (c.Op == OpNe || c.Op == OpNin)) {
				return nil, qerr(fmt.Sprintf("%s.%d", vw, i), "_id is compared with strings only")
			}
		}
		if c.Op == OpEmpty || c.Op == OpNotEmpty {
			return nil, qerr(where+".op", "_id is never empty")
		}
	}
	return l, nil
}

// sortCol is one validated sort key.
type sortCol struct {
	path fieldPath
	desc bool
}

// qplan is a validated Query.
type qplan struct {
	where  *cnode
	sort   []sortCol // without the _id tie-break
	idDesc bool      // the direction of the _id tie-break (or of the _id key)
	limit  int
	after  *cursor
	fields *projection // nil: whole documents
}

func planQuery(q Query) (*qplan, error) {
	p := &qplan{limit: q.Limit}
	var err error
	if p.where, err = planWhere(q.Where, "where"); err != nil {
		return nil, err
	}
	switch {
	case p.limit == 0:
		p.limit = DefaultQueryLimit
	case p.limit < 0 || p.limit > MaxQueryLimit:
		return nil, qerr("limit", "limit must be 1 to %d", MaxQueryLimit)
	}
	if len(q.Sort) > maxSortKeys {
		return nil, qerr("sort", "more than %d sort keys", maxSortKeys)
	}
	seen := map[string]bool{}
	for i, k := range q.Sort {
		w := fmt.Sprintf("sort.%d.path", i)
		fp, err := parsePath(k.Path, w)
		if err != nil {
			return nil, err
		}
		if seen[fp.dotted] {
			return nil, qerr(w, "%q is sorted by twice", fp.dotted)
		}
		seen[fp.dotted] = true
		if fp.isID() {
			if i != len(q.Sort)-1 {
				return nil, qerr(w, "_id is unique: it can only be the last sort key")
			}
			p.idDesc = k.Desc
			break
		}
		p.sort = append(p.sort, sortCol{path: fp, desc: k.Desc})
		p.idDesc = k.Desc
	}
	if len(q.Fields) > 0 {
		if p.fields, err = newProjection(q.Fields); err != nil {
			return nil, err
		}
	}
	if q.After != "" {
		if p.after, err = decodeCursor(q.After, p); err != nil {
			return nil, err
		}
	}
	return p, nil
}

// fingerprint names the order a cursor belongs to, so a cursor of one order is refused by
// another (a cursor only continues the order it was made in).
func (p *qplan) fingerprint() string {
	var b strings.Builder
	for _, k := range p.sort {
		b.WriteString(k.path.dotted)
		if k.desc {
			b.WriteString("-")
		}
		b.WriteString(",")
	}
	if p.idDesc {
		b.WriteString("_id-")
	}
	return b.String()
}

// projection is a validated Fields: a tree of the paths to keep.
type projection struct {
	kids map[string]*projection // nil: keep the whole value
}

func newProjection(fields []string) (*projection, error) {
	if len(fields) > maxFields {
		return nil, qerr("fields", "more than %d fields", maxFields)
	}
	root := &projection{kids: map[string]*projection{}}
	for i, f := range fields {
		w := fmt.Sprintf("fields.%d", i)
		fp, err := parsePath(f, w)
		if err != nil {
			return nil, err
		}
		n := root
		for j, seg := range fp.segs {
			last := j == len(fp.segs)-1
			k, ok := n.kids[seg]
			switch {
			case ok && (k.kids == nil || last):
				// MongoDB refuses "a" beside "a.b" (a path collision); so does the store.
				return nil, qerr(w, "%q overlaps another field", f)
			case ok:
				n = k
			case last:
				n.kids[seg] = &projection{}
			default:
				k = &projection{kids: map[string]*projection{}}
				n.kids[seg] = k
				n = k
			}
		}
	}
	return root, nil
}

// mongo is the projection document of the MongoDB form.
func (p *projection) mongo() bson.D {
	var out bson.D
	var walk func(n *projection, prefix string)
	walk = func(n *projection, prefix string) {
		for _, k := range sortedKeys(n.kids) {
			if n.kids[k].kids == nil {
				out = append(out, bson.E{Key: prefix + k, Value: 1})
			} else {
				walk(n.kids[k], prefix+k+".")
			}
		}
	}
	walk(p, "")
	return out
}
