package store

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	sqlite "modernc.org/sqlite"
)

// The SQL compiler: the query model as SQL over a collection's FerretDB table, run on the
// store's read-only pool of SQLite connections (query_encoding.go has the layout and the
// reasoning). Paths are validated names written into the SQL text (an expression index matches
// only the same text); every value is a bound parameter.

// readPoolSize bounds the read-only connections: the heavy reads' slots and a few light
// reads beside them (query_gate.go).
var readPoolSize = heavySlots + lightConns

func init() {
	// tc_contains_fold(s, sub): sub occurs in s, ignoring case the way FerretDB's $regex with
	// option i does (Go's regexp: Unicode simple case folding).
	sqlite.MustRegisterDeterministicScalarFunction("tc_contains_fold", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		s, ok1 := args[0].(string)
		sub, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return int64(0), nil
		}
		if containsFold(s, sub) {
			return int64(1), nil
		}
		return int64(0), nil
	})
	// tc_tzoff(ms, zone): the offset from UTC in milliseconds of the IANA zone at that instant.
	sqlite.MustRegisterDeterministicScalarFunction("tc_tzoff", 2, func(_ *sqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		ms, ok1 := args[0].(int64)
		name, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, nil
		}
		loc, err := zone(name)
		if err != nil {
			return nil, err
		}
		_, off := time.UnixMilli(ms).In(loc).Zone()
		return int64(off) * 1000, nil
	})
}

var zones sync.Map // name → *time.Location

func zone(name string) (*time.Location, error) {
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, err
	}
	zones.Store(name, l)
	return l, nil
}

// containsFold reports whether sub occurs in s under Unicode simple case folding (a rune
// matches every rune of its unicode.SimpleFold orbit, as in Go's (?i) regexps).
func containsFold(s, sub string) bool {
	if sub == "" {
		return true
	}
	for i := 0; i < len(s); {
		if hasPrefixFold(s[i:], sub) {
			return true
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return false
}

func hasPrefixFold(s, prefix string) bool {
	for prefix != "" {
		if s == "" {
			return false
		}
		r1, w1 := utf8.DecodeRuneInString(s)
		r2, w2 := utf8.DecodeRuneInString(prefix)
		if r1 != r2 && !sameFold(r1, r2) {
			return false
		}
		s, prefix = s[w1:], prefix[w2:]
	}
	return true
}

func sameFold(a, b rune) bool {
	for r := unicode.SimpleFold(a); r != a; r = unicode.SimpleFold(r) {
		if r == b {
			return true
		}
	}
	return false
}

// readCacheKiB is the page cache of each read connection: 500 pages of PageSize, the pages
// SQLite's default cache (2,000 KiB) holds at its default 4 KiB page size. Left at the
// default, the store's 16 KiB pages made it 125 pages, and a list page of 50 documents
// touches about half as many (each document on its own table page, with the index and
// interior pages above them): a few lists in turn pushed each other out, and
// BenchmarkQueryPage read 40 to 90 pages from the file for every page of 50, again and
// again (none with this cache). At most readPoolSize × 8 MiB, taken as pages are read.
const readCacheKiB = 500 * PageSize / 1024

// readers opens (once) the read-only pool on the store's SQLite file. FerretDB keeps the file
// in WAL mode, so these connections read the last committed state beside its writer without
// blocking it. Before the database has its first collection there is no file: ok is false.
func (e *embedded) readers() (db *sql.DB, ok bool, err error) {
	e.sqlMu.Lock()
	defer e.sqlMu.Unlock()
	if e.readDB != nil {
		return e.readDB, true, nil
	}
	file := filepath.Join(e.dir, e.dbName+".sqlite")
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) {
		return nil, false, nil
	}
	u := &url.URL{Scheme: "file", Path: file}
	u.RawQuery = fmt.Sprintf("mode=ro&_pragma=busy_timeout(10000)&_pragma=query_only(1)&_pragma=cache_size(-%d)", readCacheKiB)
	db, err = sql.Open("sqlite", u.String())
	if err != nil {
		return nil, false, err
	}
	db.SetMaxOpenConns(readPoolSize)
	db.SetMaxIdleConns(readPoolSize)
	e.readDB = db
	return db, true, nil
}

// table finds (and remembers) the SQLite table of a collection; ok is false when the
// collection does not exist (then it has no documents).
func (e *embedded) table(ctx context.Context, coll string) (db *sql.DB, table string, ok bool, err error) {
	db, ok, err = e.readers()
	if err != nil || !ok {
		return nil, "", false, err
	}
	if t, ok := e.tables.Load(coll); ok {
		return db, t.(string), true, nil
	}
	err = db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) || err != nil && strings.Contains(err.Error(), "no such table") {
		return nil, "", false, nil
	}
	if err != nil {
		return nil, "", false, err
	}
	e.tables.Store(coll, table)
	return db, table, true, nil
}

// withTable runs fn on the collection's table, once more with a fresh lookup if the table went
// away under a remembered name (the collection was dropped and made again).
func (s *Store) withTable(ctx context.Context, coll string, fn func(db *sql.DB, table string) error) (bool, error) {
	for attempt := 0; ; attempt++ {
		db, table, ok, err := s.emb.table(ctx, coll)
		if err != nil || !ok {
			return false, err
		}
		err = fn(db, table)
		if err != nil && attempt == 0 && strings.Contains(err.Error(), "no such table") {
			s.emb.tables.Delete(coll)
			continue
		}
		return true, err
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// sqlQuery builds one statement: text and its bound arguments.
type sqlQuery struct {
	b    strings.Builder
	args []any
}

func (q *sqlQuery) w(parts ...string) {
	for _, p := range parts {
		q.b.WriteString(p)
	}
}

func (q *sqlQuery) arg(v any) {
	q.b.WriteString("?")
	q.args = append(q.args, v)
}

func (q *sqlQuery) String() string { return q.b.String() }

// operand writes an operand. A double goes in as the JSON text FerretDB writes for it, turned
// into a REAL by SQLite itself: SQLite's text-to-real conversion (as compiled here) is off by a
// unit in the last place for some magnitudes beyond 1e±80, and a stored value is read through
// that same conversion, so an operand equal to a stored double must be converted the same way
// to compare equal.
func (q *sqlQuery) operand(x scalar) { q.bind(x.sqlValue()) }

// bind writes a parameter, a double as operand says.
func (q *sqlQuery) bind(v any) {
	if f, ok := v.(float64); ok {
		b, _ := json.Marshal(f)
		q.w("CAST(")
		q.arg(string(b))
		q.w(" AS REAL)")
		return
	}
	q.arg(v)
}

// cond writes a condition tree.
func (q *sqlQuery) cond(n *cnode) {
	switch {
	case n == nil:
		q.w("1")
	case n.and != nil:
		q.join(n.and, " AND ")
	case n.or != nil:
		q.join(n.or, " OR ")
	default:
		q.leaf(n.leaf)
	}
}

func (q *sqlQuery) join(ns []*cnode, sep string) {
	q.w("(")
	for i, n := range ns {
		if i > 0 {
			q.w(sep)
		}
		q.cond(n)
	}
	q.w(")")
}

func (q *sqlQuery) leaf(l *leaf) {
	r, v := rankExpr(l.path), valueExpr(l.path)
	if l.path.isID() && (l.op == OpEq || l.op == OpIn) && q.idSeek(l.vals) {
		// idSeek wrote the seek; the condition itself follows, so the meaning is the model's.
		defer q.w(")")
	}
	if !l.each {
		q.pair(r, v, l.op, l.vals, l.text)
		return
	}
	switch l.op {
	case OpEmpty, OpNotEmpty:
		if l.op == OpNotEmpty {
			q.w("NOT ")
		}
		q.w("(", r, " = 1 OR (", r, " = 5 AND ", v, " = '[]'))")
	case OpNe:
		q.w("NOT ")
		q.elements(l, OpEq)
	case OpNin:
		q.w("NOT ")
		q.elements(l, OpIn)
	default:
		q.elements(l, l.op)
	}
}

// idSeek writes, for _id equal to one of vals, the same equality on FerretDB's own expression
// of _id (the JSON text, compared with the value as FerretDB encodes it: Go's JSON) and an
// opening "(… AND ": that expression has an index in every collection (indexID: the one reads
// by _id use), so a read by _id through the query model seeks, with or without declared
// indexes. It writes nothing when a value is not a string (no _id can equal it).
func (q *sqlQuery) idSeek(vals []scalar) bool {
	for _, x := range vals {
		if _, ok := x.v.(string); !ok || x.rank != rankString {
			return false
		}
	}
	q.w("(", idJSONExpr, " IN (")
	for i, x := range vals {
		if i > 0 {
			q.w(", ")
		}
		b, _ := json.Marshal(x.v.(string))
		q.arg(string(b))
	}
	q.w(") AND ")
	return true
}

// elements writes "an element of the array matches" (and, for a null operand of eq or in,
// "or the field is null or missing", as MongoDB reads {a: null}).
func (q *sqlQuery) elements(l *leaf, op Op) {
	r := rankExpr(l.path)
	q.w("(")
	if op == OpEq || op == OpIn {
		for _, v := range l.vals {
			if v.rank == rankNull {
				q.w(r, " = 1 OR ")
				break
			}
		}
	}
	base := strings.TrimSuffix(typePath(l.path.segs), ".t")
	er := rankCase(fmt.Sprintf("json_extract(%s, '%s.i[' || e.key || '].t')", sjsonCol, base))
	q.w("(", r, " = 5 AND EXISTS (SELECT 1 FROM json_each(", sjsonCol, ", '", valuePath(l.path.segs), "') AS e WHERE ")
	q.pair(er, "COALESCE(e.value, '')", op, l.vals, l.text)
	q.w(")))")
}

// pair writes op over one (rank, value) pair of SQL expressions.
func (q *sqlQuery) pair(r, v string, op Op, vals []scalar, text string) {
	cmp := func(sqlOp string) {
		x := vals[0]
		q.w("(", r, " = ", strconv.Itoa(x.rank), " AND ", v, " ", sqlOp, " ")
		q.operand(x)
		q.w(")")
	}
	switch op {
	case OpEq:
		q.eq(r, v, vals[0])
	case OpNe:
		q.w("NOT ")
		q.eq(r, v, vals[0])
	case OpGt:
		cmp(">")
	case OpGte:
		cmp(">=")
	case OpLt:
		cmp("<")
	case OpLte:
		cmp("<=")
	case OpIn:
		q.in(r, v, vals)
	case OpNin:
		q.w("NOT ")
		q.in(r, v, vals)
	case OpBetween:
		q.w("(", r, " = ", strconv.Itoa(vals[0].rank), " AND ", v, " BETWEEN ")
		q.operand(vals[0])
		q.w(" AND ")
		q.operand(vals[1])
		q.w(")")
	case OpContains:
		q.w("(", r, " = 3 AND tc_contains_fold(", v, ", ")
		q.arg(text)
		q.w("))")
	case OpStartsWith:
		if text == "" {
			q.w("(", r, " = 3)")
			return
		}
		// A range, so an index serves it: every string starting with text is >= text and
		// < text+"\xff" (no UTF-8 string has the byte 0xff), and no other string is.
		q.w("(", r, " = 3 AND ", v, " >= ")
		q.arg(text)
		q.w(" AND ", v, " < ")
		q.arg(text + "\xff")
		q.w(")")
	case OpEmpty:
		q.w("(", r, " = 1 OR (", r, " = 3 AND ", v, " = ''))")
	case OpNotEmpty:
		q.w("NOT (", r, " = 1 OR (", r, " = 3 AND ", v, " = ''))")
	default:
		panic("store: unplanned operator " + string(op))
	}
}

func (q *sqlQuery) eq(r, v string, x scalar) {
	if x.rank == rankNull {
		q.w("(", r, " = 1)")
		return
	}
	q.w("(", r, " = ", strconv.Itoa(x.rank), " AND ", v, " = ")
	q.operand(x)
	q.w(")")
}

// in groups the values by rank: (rank = 2 AND value IN (…)) OR (rank = 3 AND value IN (…)).
func (q *sqlQuery) in(r, v string, vals []scalar) {
	var ranks []int
	byRank := map[int][]scalar{}
	for _, x := range vals {
		if _, ok := byRank[x.rank]; !ok {
			ranks = append(ranks, x.rank)
		}
		byRank[x.rank] = append(byRank[x.rank], x)
	}
	q.w("(")
	for i, rk := range ranks {
		if i > 0 {
			q.w(" OR ")
		}
		if rk == rankNull {
			q.w(r, " = 1")
			continue
		}
		q.w("(", r, " = ", strconv.Itoa(rk), " AND ", v, " IN (")
		for j, x := range byRank[rk] {
			if j > 0 {
				q.w(", ")
			}
			q.operand(x)
		}
		q.w("))")
	}
	q.w(")")
}

// orderCol is one column of an order: an expression and its direction.
type orderCol struct {
	expr string
	desc bool
}

// orderCols are the columns of a plan's order and the cursor's values in them: each key's rank
// and value, then _id. A key's rank is left out where the condition fixes it (status = 'open'
// leaves only strings): SQLite does not see that an expression pinned by an equality is
// constant, so ordering by it would sort the matches instead of reading them from the index.
func orderCols(p *qplan, c *cursor) ([]orderCol, []any) {
	pinned := pinnedRanks(p.where)
	var cols []orderCol
	var vals []any
	for i, k := range p.sort {
		if _, ok := pinned[k.path.dotted]; !ok {
			cols = append(cols, orderCol{rankExpr(k.path), k.desc})
			if c != nil {
				vals = append(vals, int64(c.keys[i].rank))
			}
		}
		cols = append(cols, orderCol{valueExpr(k.path), k.desc})
		if c != nil {
			v := c.keys[i].sqlValue()
			if c.keys[i].rank == rankNull {
				v = ""
			}
			vals = append(vals, v)
		}
	}
	cols = append(cols, orderCol{idExpr, p.idDesc})
	if c != nil {
		vals = append(vals, c.id.v)
	}
	return cols, vals
}

// pinnedRanks are the paths whose rank the condition fixes for every match: the leaves of its
// top-level and that admit values of one rank only.
func pinnedRanks(n *cnode) map[string]int {
	out := map[string]int{}
	var walk func(n *cnode)
	walk = func(n *cnode) {
		switch {
		case n == nil, n.or != nil:
		case n.and != nil:
			for _, k := range n.and {
				walk(k)
			}
		case !n.leaf.each:
			if r, ok := n.leaf.rank(); ok {
				out[n.leaf.path.dotted] = r
			}
		}
	}
	walk(n)
	return out
}

// rank is the one rank a leaf admits, if it admits only one.
func (l *leaf) rank() (int, bool) {
	switch l.op {
	case OpEq, OpGt, OpGte, OpLt, OpLte, OpBetween, OpIn:
		r := l.vals[0].rank
		for _, v := range l.vals {
			if v.rank != r {
				return 0, false
			}
		}
		return r, true
	case OpContains, OpStartsWith:
		return rankString, true
	}
	return 0, false
}

// after writes "comes after the cursor". When every column runs one way this is one row-value
// comparison, which SQLite answers by seeking in an index of those columns; otherwise the
// lexicographic expansion, led by a row-value bound on the first key that still seeks.
func (q *sqlQuery) after(cols []orderCol, vals []any) {
	op := func(desc bool) string {
		if desc {
			return "<"
		}
		return ">"
	}
	same := true
	for _, c := range cols {
		same = same && c.desc == cols[0].desc
	}
	row := func(cols []orderCol, vals []any, cmp string) {
		q.w("(")
		for i, c := range cols {
			if i > 0 {
				q.w(", ")
			}
			q.w(c.expr)
		}
		q.w(") ", cmp, " (")
		for i, v := range vals {
			if i > 0 {
				q.w(", ")
			}
			q.bind(v)
		}
		q.w(")")
	}
	if same {
		row(cols, vals, op(cols[0].desc))
		return
	}
	row(cols[:2], vals[:2], op(cols[0].desc)+"=")
	q.w(" AND (")
	for i := range cols {
		if i > 0 {
			q.w(" OR ")
		}
		q.w("(")
		for j := 0; j < i; j++ {
			q.w(cols[j].expr, " = ")
			q.bind(vals[j])
			q.w(" AND ")
		}
		q.w(cols[i].expr, " ", op(cols[i].desc), " ")
		q.bind(vals[i])
		q.w(")")
	}
	q.w(")")
}

// keyCols reports whether a page must select its sort values: only when the projection leaves
// them out of the documents (otherwise they are read from the documents, which costs less than
// two more expressions a row).
func (p *qplan) keyCols() bool {
	for _, k := range p.sort {
		if !p.fields.covers(k.path) {
			return true
		}
	}
	return false
}

// selectPage is the statement of one page: the document, then (keyCols) each key's rank and
// value.
func selectPage(table string, p *qplan) *sqlQuery {
	q := &sqlQuery{}
	// As a BLOB: the driver then hands over the bytes without making a string of them first.
	q.w("SELECT CAST(", sjsonCol, " AS BLOB)")
	if p.keyCols() {
		for _, k := range p.sort {
			q.w(", ", rankExpr(k.path), ", ", valueExpr(k.path))
		}
	}
	q.w(" FROM ", quoteIdent(table), " WHERE ")
	q.cond(p.where)
	cols, vals := orderCols(p, p.after)
	if p.after != nil {
		q.w(" AND ")
		q.after(cols, vals)
	}
	q.w(" ORDER BY ")
	for i, c := range cols {
		if i > 0 {
			q.w(", ")
		}
		q.w(c.expr)
		if c.desc {
			q.w(" DESC")
		}
	}
	q.w(" LIMIT ")
	q.arg(p.limit + 1)
	return q
}

func (s *Store) querySQL(ctx context.Context, coll string, p *qplan) (*Page, error) {
	page := &Page{Docs: []bson.Raw{}}
	_, err := s.withTable(ctx, coll, func(db *sql.DB, table string) error {
		page.Docs, page.Next = page.Docs[:0], ""
		q := selectPage(table, p)
		heavy, err := s.emb.gate.heavyRead(ctx, db, q, table, p.where, false)
		if err != nil {
			return err
		}
		release, err := s.emb.gate.enter(ctx, heavy)
		if err != nil {
			return err
		}
		defer release()
		rows, err := db.QueryContext(ctx, q.String(), q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		var text sql.RawBytes
		ranks := make([]int64, len(p.sort))
		vals := make([]any, len(p.sort))
		dest := []any{&text}
		cols := p.keyCols()
		if cols {
			for i := range p.sort {
				dest = append(dest, &ranks[i], &vals[i])
			}
		}
		var lastKeys []scalar
		d := sjDecoders.Get().(*sjDecoder)
		defer sjDecoders.Put(d)
		for rows.Next() {
			if len(page.Docs) == p.limit {
				next, err := pageCursor(p, page.Docs[len(page.Docs)-1], lastKeys)
				if err != nil {
					return err
				}
				page.Next = next
				break
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			doc, err := d.decode(text, p.fields)
			if err != nil {
				return err
			}
			keys := make([]scalar, len(p.sort))
			for i, k := range p.sort {
				if cols {
					keys[i] = sqlScalar(ranks[i], vals[i])
				} else {
					keys[i] = lookupScalar(doc, k.path)
				}
			}
			if err := checkSortValues(p, func(i int) scalar { return keys[i] }); err != nil {
				return err
			}
			page.Docs = append(page.Docs, doc)
			lastKeys = keys
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return page, nil
}

func (s *Store) countSQL(ctx context.Context, coll string, w *cnode, limit int64) (int64, error) {
	var n int64
	_, err := s.withTable(ctx, coll, func(db *sql.DB, table string) error {
		q := &sqlQuery{}
		if limit > 0 {
			q.w("SELECT count(*) FROM (SELECT 1 FROM ", quoteIdent(table), " WHERE ")
			q.cond(w)
			q.w(" LIMIT ")
			q.arg(limit)
			q.w(")")
		} else {
			q.w("SELECT count(*) FROM ", quoteIdent(table), " WHERE ")
			q.cond(w)
		}
		heavy, err := s.emb.gate.heavyRead(ctx, db, q, table, w, limit <= 0)
		if err != nil {
			return err
		}
		return s.emb.gate.row(ctx, db, q, heavy, &n)
	})
	return n, err
}

// Explain tells how the backend would run q: on the embedded store SQLite's query plan of the
// compiled statement, one step a line (see docs/store.md for reading it), on MongoDB the
// server's winning plan. For tests, benchmarks and operators checking that an index serves a
// list.
func (s *Store) Explain(ctx context.Context, coll string, q Query) (string, error) {
	p, err := planQuery(q)
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", coll, err)
	}
	if s.kind != KindEmbedded {
		find := bson.D{{Key: "find", Value: coll}, {Key: "filter", Value: mongoFilter(p.where)}, {Key: "sort", Value: mongoSort(p)}, {Key: "limit", Value: p.limit + 1}}
		var res bson.M
		if err := s.db.RunCommand(ctx, bson.D{{Key: "explain", Value: find}}).Decode(&res); err != nil {
			return "", fmt.Errorf("explain %s: %w", coll, err)
		}
		return fmt.Sprint(res["queryPlanner"]), nil
	}
	var plan strings.Builder
	ok, err := s.withTable(ctx, coll, func(db *sql.DB, table string) error {
		plan.Reset()
		sq := selectPage(table, p)
		return explainSQL(ctx, db, sq, &plan)
	})
	if err == nil && !ok {
		return "", fmt.Errorf("explain %s: %w", coll, ErrNotFound)
	}
	return plan.String(), err
}

func explainSQL(ctx context.Context, db *sql.DB, q *sqlQuery, out *strings.Builder) error {
	// EXPLAIN plans with the schema the connection last read, and explaining reads nothing:
	// read first, so that an index made or dropped since is seen.
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM sqlite_master").Scan(&n); err != nil {
		return err
	}
	rows, err := conn.QueryContext(ctx, "EXPLAIN QUERY PLAN "+q.String(), q.args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			return err
		}
		out.WriteString(detail)
		out.WriteString("\n")
	}
	return rows.Err()
}

// ---- aggregation ----

// zoneOffset writes the SQL of a zone's offset from UTC in milliseconds at the instant ms.
// A zone that has had one offset since its last change (most zones without daylight saving
// time, the plant's Asia/Shanghai among them) is a constant from that change on, so only older
// dates call into Go.
func (q *sqlQuery) zoneOffset(loc *time.Location, ms string) {
	if off, fixed := fixedOffset(loc); fixed {
		q.w(strconv.Itoa(off * 1000))
		return
	}
	start, end := time.Now().In(loc).ZoneBounds()
	if end.IsZero() {
		_, off := time.Now().In(loc).Zone()
		q.w("CASE WHEN ", ms, " >= ", strconv.FormatInt(start.UnixMilli(), 10), " THEN ", strconv.Itoa(off*1000), " ELSE tc_tzoff(", ms, ", ")
		q.arg(loc.String())
		q.w(") END")
		return
	}
	q.w("tc_tzoff(", ms, ", ")
	q.arg(loc.String())
	q.w(")")
}

// bucketFormats are strftime's formats of the buckets (a quarter is made from the month).
var bucketFormats = map[Bucket]string{BucketDay: "%Y-%m-%d", BucketWeek: "%G-W%V", BucketMonth: "%Y-%m", BucketYear: "%Y"}

// keyCols writes a group key's rank and value as the columns kNr and kNv.
func (q *sqlQuery) keyCols(i int, k akey) {
	r, v := rankExpr(k.path), valueExpr(k.path)
	n := strconv.Itoa(i)
	if k.bucket == "" {
		q.w(r, " AS k", n, "r, ", v, " AS k", n, "v")
		return
	}
	secs := func() {
		q.w("(", v, " + ")
		q.zoneOffset(k.zone, v)
		q.w(") / 1000.0, 'unixepoch'")
	}
	q.w("CASE WHEN ", r, " = 9 THEN 3 ELSE 1 END AS k", n, "r, CASE WHEN ", r, " = 9 THEN ")
	if k.bucket == BucketQuarter {
		q.w("strftime('%Y', ")
		secs()
		q.w(") || '-Q' || ((CAST(strftime('%m', ")
		secs()
		q.w(") AS INTEGER) + 2) / 3)")
	} else {
		q.w("strftime('", bucketFormats[k.bucket], "', ")
		secs()
		q.w(")")
	}
	q.w(" ELSE '' END AS k", n, "v")
}

// measureCol writes a measure as the column mN.
func (q *sqlQuery) measureCol(i int, m ameasure) {
	n := strconv.Itoa(i)
	if m.op == AggCount {
		q.w("count(*) AS m", n)
		return
	}
	typed := fmt.Sprintf("CASE WHEN %s = %d THEN %s END", rankExpr(m.path), m.rank, valueExpr(m.path))
	switch m.op {
	case AggCountDistinct:
		q.w("count(DISTINCT ", typed, ")")
	case AggSum:
		q.w("total(", typed, ")")
	case AggAvg:
		q.w("avg(", typed, ")")
	case AggMin:
		q.w("min(", typed, ")")
	case AggMax:
		q.w("max(", typed, ")")
	}
	q.w(" AS m", n)
}

// measurePair is the (rank, value) of a measure column, for Having and Sort. A constant rank
// is "" (nothing to compare or sort by: ORDER BY 2 would name a column).
func measurePair(i int, m ameasure) (string, string) {
	c := "m" + strconv.Itoa(i)
	switch m.op {
	case AggCount, AggCountDistinct, AggSum:
		return "", c
	}
	return fmt.Sprintf("CASE WHEN %s IS NULL THEN 1 ELSE %d END", c, m.rank), "COALESCE(" + c + ", '')"
}

// havingCond writes a Having over the group columns.
func (q *sqlQuery) havingCond(p *aplan, n *cnode) {
	switch {
	case n == nil:
		q.w("1")
	case n.and != nil || n.or != nil:
		kids, sep := n.and, " AND "
		if n.or != nil {
			kids, sep = n.or, " OR "
		}
		q.w("(")
		for i, k := range kids {
			if i > 0 {
				q.w(sep)
			}
			q.havingCond(p, k)
		}
		q.w(")")
	default:
		l := n.leaf
		i, isKey, _ := p.column(l.path.dotted)
		var r, v string
		if isKey {
			r, v = "k"+strconv.Itoa(i)+"r", "k"+strconv.Itoa(i)+"v"
		} else if r, v = measurePair(i, p.measures[i]); r == "" {
			r = strconv.Itoa(rankNumber)
		}
		q.pair(r, v, l.op, l.vals, l.text)
	}
}

func selectGroups(table string, p *aplan) *sqlQuery {
	q := &sqlQuery{}
	q.w("SELECT * FROM (SELECT ")
	cols := 0
	for i, k := range p.keys {
		if cols > 0 {
			q.w(", ")
		}
		q.keyCols(i, k)
		cols++
	}
	for i, m := range p.measures {
		if cols > 0 {
			q.w(", ")
		}
		q.measureCol(i, m)
		cols++
	}
	if cols == 0 {
		q.w("count(*) AS n")
	}
	q.w(" FROM ", quoteIdent(table), " WHERE ")
	q.cond(p.where)
	if len(p.keys) == 0 {
		// One group of everything — but none when nothing matched, as with MongoDB's $group.
		q.w(" HAVING count(*) > 0")
	} else {
		q.w(" GROUP BY ")
		for i := range p.keys {
			if i > 0 {
				q.w(", ")
			}
			n := strconv.Itoa(i)
			q.w("k", n, "r, k", n, "v")
		}
	}
	q.w(") WHERE ")
	q.havingCond(p, p.having)
	var order []orderCol
	sorted := map[string]bool{}
	for _, s := range p.sort {
		sorted[s.path.dotted] = true
		i, isKey, _ := p.column(s.path.dotted)
		if isKey {
			n := strconv.Itoa(i)
			order = append(order, orderCol{"k" + n + "r", s.desc}, orderCol{"k" + n + "v", s.desc})
			continue
		}
		r, v := measurePair(i, p.measures[i])
		if r != "" {
			order = append(order, orderCol{r, s.desc})
		}
		order = append(order, orderCol{v, s.desc})
	}
	for i, k := range p.keys {
		if !sorted[k.name] {
			n := strconv.Itoa(i)
			order = append(order, orderCol{"k" + n + "r", false}, orderCol{"k" + n + "v", false})
		}
	}
	if len(order) > 0 {
		q.w(" ORDER BY ")
		for i, c := range order {
			if i > 0 {
				q.w(", ")
			}
			q.w(c.expr)
			if c.desc {
				q.w(" DESC")
			}
		}
	}
	q.w(" LIMIT ")
	q.arg(p.limit + 1)
	return q
}

func (s *Store) aggregateSQL(ctx context.Context, coll string, p *aplan) (*AggResult, error) {
	res := &AggResult{Groups: []Group{}}
	_, err := s.withTable(ctx, coll, func(db *sql.DB, table string) error {
		res.Groups, res.Truncated = res.Groups[:0], false
		q := selectGroups(table, p)
		release, err := s.emb.gate.enter(ctx, true)
		if err != nil {
			return err
		}
		defer release()
		rows, err := db.QueryContext(ctx, q.String(), q.args...)
		if err != nil {
			return err
		}
		defer rows.Close()
		ncols := 2*len(p.keys) + len(p.measures)
		if ncols == 0 {
			ncols = 1
		}
		raw := make([]any, ncols)
		dest := make([]any, ncols)
		for i := range raw {
			dest[i] = &raw[i]
		}
		for rows.Next() {
			if len(res.Groups) == p.limit {
				res.Truncated = true
				break
			}
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			g := Group{Keys: make([]any, len(p.keys)), Values: make([]any, len(p.measures))}
			for i, k := range p.keys {
				rank, _ := raw[2*i].(int64)
				x := sqlScalar(rank, raw[2*i+1])
				if err := checkGroupKey(k, x); err != nil {
					return err
				}
				g.Keys[i] = groupValue(x)
			}
			for i, m := range p.measures {
				g.Values[i] = sqlMeasure(m, raw[2*len(p.keys)+i])
			}
			res.Groups = append(res.Groups, g)
		}
		return rows.Err()
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// sqlMeasure reads a measure column.
func sqlMeasure(m ameasure, v any) any {
	switch m.op {
	case AggCount, AggCountDistinct:
		n, _ := v.(int64)
		return n
	case AggSum, AggAvg:
		switch x := v.(type) {
		case float64:
			return x
		case int64:
			return float64(x)
		}
		if m.op == AggSum {
			return float64(0)
		}
		return nil
	}
	if v == nil {
		return nil
	}
	return groupValue(sqlScalar(int64(m.rank), v))
}

// ExplainAggregate is Explain for an Aggregation.
func (s *Store) ExplainAggregate(ctx context.Context, coll string, a Aggregation) (string, error) {
	p, err := planAggregation(a)
	if err != nil {
		return "", fmt.Errorf("explain %s: %w", coll, err)
	}
	if s.kind != KindEmbedded {
		var res bson.M
		cmd := bson.D{{Key: "aggregate", Value: coll}, {Key: "pipeline", Value: mongoPipeline(p, false)}, {Key: "explain", Value: true}}
		if err := s.db.RunCommand(ctx, cmd).Decode(&res); err != nil {
			return "", fmt.Errorf("explain %s: %w", coll, err)
		}
		return fmt.Sprint(res), nil
	}
	var plan strings.Builder
	ok, err := s.withTable(ctx, coll, func(db *sql.DB, table string) error {
		plan.Reset()
		return explainSQL(ctx, db, selectGroups(table, p), &plan)
	})
	if err == nil && !ok {
		return "", fmt.Errorf("explain %s: %w", coll, ErrNotFound)
	}
	return plan.String(), err
}
