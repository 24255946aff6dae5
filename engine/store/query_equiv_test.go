package store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/big"
	"math/rand/v2"
	"os"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The equivalence test: random documents of every type (Unicode strings, int32, int64 and
// doubles mixed in one field, bools, nulls, missing fields, dates across time zones, ObjectIDs,
// nested documents, arrays) and random queries, each answered three ways — the SQL compiler on
// the store's SQLite file, the MongoDB form evaluated by FerretDB itself, and a brute-force
// evaluation in Go written here apart from both compilers. Pages (ids, order, the documents'
// bytes, cursors followed to the end), capped counts and aggregations must agree. FerretDB's
// $group is only right for one key and one count or sum, so only those aggregations are checked
// against it; every aggregation is checked against the brute force.

// openTestStore opens an embedded store in a short temporary folder.
func openTestStore(t testing.TB) *Store {
	t.Helper()
	dir, err := os.MkdirTemp("", "tcq")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	s, err := Open(context.Background(), Options{DataDir: dir, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

var equivStrings = []string{
	"", "a", "A", "ab", "abc", "b", "Z", "z", "lot-1", "lot-10", "lot-2", "LOT-1",
	"É", "é", "e\u0301", "Ésope", "éclair", "straße", "STRASSE", "ẞ", "K", "\u212a", "k",
	"σοφία", "ΣΟΦΊΑ", "ς", "批次", "批次-07", "检验", "😀", "😀 ok", "a<b&c>", "tab\there",
	"line\nbreak", "quote\"s", "back\\slash", "\u2028sep", "  padded ", "ǅ", "ǆ", "Ǆ",
}

var equivZones = []string{"UTC", "Asia/Shanghai", "America/New_York", "Asia/Kolkata", "Pacific/Chatham", "Europe/London"}

// equivDates are instants around the edges a bucket can get wrong: midnights in several zones,
// daylight-saving changes, year and ISO-week boundaries, dates before 1970 and before
// Shanghai's last offset change (1991).
func equivDates() []time.Time {
	var out []time.Time
	for _, z := range equivZones {
		loc, _ := time.LoadLocation(z)
		for _, d := range []time.Time{
			time.Date(2026, 1, 1, 0, 0, 0, 0, loc), time.Date(2025, 12, 31, 23, 59, 59, 999e6, loc),
			time.Date(2026, 3, 8, 2, 30, 0, 0, loc), time.Date(2026, 11, 1, 1, 30, 0, 0, loc),
			time.Date(2026, 3, 29, 1, 0, 0, 0, loc), time.Date(2020, 12, 28, 0, 0, 0, 0, loc),
			time.Date(2021, 1, 3, 23, 0, 0, 0, loc), time.Date(1988, 4, 10, 1, 0, 0, 0, loc),
			time.Date(1969, 12, 31, 23, 59, 59, 0, loc), time.Date(2024, 2, 29, 12, 0, 0, 0, loc),
			time.Date(2026, 6, 30, 23, 30, 0, 0, loc), time.Date(2026, 7, 1, 0, 30, 0, 0, loc),
		} {
			out = append(out, d.UTC().Truncate(time.Millisecond))
		}
	}
	return out
}

type equivGen struct {
	r     *rand.Rand
	dates []time.Time
	oids  []bson.ObjectID
}

func newEquivGen(seed uint64) *equivGen {
	g := &equivGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), dates: equivDates()}
	for i := range 12 {
		var id bson.ObjectID
		id[0], id[11] = byte(i*17), byte(255-i)
		id[5] = byte(i % 3)
		g.oids = append(g.oids, id)
	}
	return g
}

func (g *equivGen) str() string { return equivStrings[g.r.IntN(len(equivStrings))] }

func (g *equivGen) num() any {
	switch g.r.IntN(9) {
	case 0:
		return int32(g.r.IntN(21) - 10)
	case 1:
		return int64(g.r.IntN(21) - 10)
	case 2:
		return float64(g.r.IntN(21) - 10) // integral doubles: 3.0 beside int 3
	case 3:
		return float64(g.r.IntN(2001)-1000) / 8
	case 4:
		return []any{int64(1) << 53, int64(1)<<53 + 1, float64(1 << 53), -int64(1) << 60, int32(math.MaxInt32), 1e300, -1e-300, 0.1, 0.2}[g.r.IntN(9)]
	case 5:
		return int32(g.r.IntN(5))
	case 6:
		return 2.5
	default:
		return float64(g.r.IntN(5))
	}
}

func (g *equivGen) date() time.Time { return g.dates[g.r.IntN(len(g.dates))] }

func (g *equivGen) oid() bson.ObjectID { return g.oids[g.r.IntN(len(g.oids))] }

// scalarOfAnyType is a value of a random type, for the field that mixes them.
func (g *equivGen) anyScalar() any {
	switch g.r.IntN(7) {
	case 0:
		return g.str()
	case 1:
		return g.num()
	case 2:
		return g.r.IntN(2) == 0
	case 3:
		return g.date()
	case 4:
		return g.oid()
	case 5:
		return nil
	}
	return []any{int32(1), "1", true, false, 0.0, ""}[g.r.IntN(6)]
}

// maybe gives v, null or nothing (missing).
func (g *equivGen) put(d bson.D, key string, v func() any) bson.D {
	switch g.r.IntN(10) {
	case 0:
		return d
	case 1:
		return append(d, bson.E{Key: key, Value: nil})
	}
	return append(d, bson.E{Key: key, Value: v()})
}

func (g *equivGen) doc(i int) bson.D {
	d := bson.D{{Key: "_id", Value: fmt.Sprintf("d%04d", (i*7919)%10000)}}
	d = g.put(d, "s", func() any { return g.str() })
	d = g.put(d, "n", func() any { return g.num() })
	d = g.put(d, "b", func() any { return g.r.IntN(2) == 0 })
	d = g.put(d, "d", func() any { return g.date() })
	d = g.put(d, "o", func() any { return g.oid() })
	d = g.put(d, "mix", g.anyScalar)
	d = g.put(d, "nest", func() any {
		var n bson.D
		n = g.put(n, "k", func() any { return g.str() })
		n = g.put(n, "v", func() any { return g.num() })
		n = g.put(n, "deep", func() any {
			return bson.D{{Key: "x", Value: int32(g.r.IntN(4))}, {Key: "when", Value: g.date()}}
		})
		return n
	})
	d = g.put(d, "tags", func() any {
		n := g.r.IntN(4)
		a := bson.A{}
		for range n {
			switch g.r.IntN(8) {
			case 0:
				a = append(a, nil)
			case 1:
				a = append(a, int32(g.r.IntN(3)))
			default:
				a = append(a, g.str())
			}
		}
		return a
	})
	d = g.put(d, "parts", func() any {
		t := g.date().In(time.UTC)
		return bson.D{{Key: "month", Value: t.Format("2006-01")}, {Key: "year", Value: t.Format("2006")}}
	})
	if g.r.IntN(4) == 0 {
		// Fields the queries never name still have to come back intact.
		d = append(d, bson.E{Key: "bin", Value: bson.Binary{Subtype: 0x80, Data: []byte{0, 1, 2, byte(i)}}},
			bson.E{Key: "ts", Value: bson.Timestamp{T: uint32(i), I: 7}},
			bson.E{Key: "re", Value: bson.Regex{Pattern: "^a.*", Options: "i"}},
			bson.E{Key: "rows", Value: bson.A{bson.D{{Key: "sku", Value: "X"}, {Key: "q", Value: 2.5}}, "loose", bson.D{{Key: "q", Value: int32(1)}}}})
	}
	return d
}

// ---- brute force: the model's semantics, evaluated on BSON in Go ----

// bfVal is a value as the brute force reads it.
type bfVal struct {
	t   bson.Type // 0: missing
	raw bson.RawValue
}

func bfLookup(doc bson.Raw, path string) bfVal {
	cur := doc
	segs := strings.Split(path, ".")
	for i, s := range segs {
		v, err := cur.LookupErr(s)
		if err != nil {
			return bfVal{}
		}
		if i == len(segs)-1 {
			return bfVal{t: v.Type, raw: v}
		}
		if v.Type != bson.TypeEmbeddedDocument {
			return bfVal{}
		}
		cur = v.Document()
	}
	return bfVal{}
}

func bfRank(t bson.Type) int {
	switch t {
	case 0, bson.TypeNull:
		return 1
	case bson.TypeInt32, bson.TypeInt64, bson.TypeDouble:
		return 2
	case bson.TypeString:
		return 3
	case bson.TypeEmbeddedDocument:
		return 4
	case bson.TypeArray:
		return 5
	case bson.TypeBinary:
		return 6
	case bson.TypeObjectID:
		return 7
	case bson.TypeBoolean:
		return 8
	case bson.TypeDateTime:
		return 9
	case bson.TypeTimestamp:
		return 10
	case bson.TypeRegex:
		return 11
	}
	panic(fmt.Sprint("type ", t))
}

func bfNum(v bson.RawValue) *big.Float {
	switch v.Type {
	case bson.TypeInt32:
		return new(big.Float).SetInt64(int64(v.Int32()))
	case bson.TypeInt64:
		return new(big.Float).SetInt64(v.Int64())
	}
	return big.NewFloat(v.Double())
}

// bfCmp compares two values MongoDB's way for the scalar types (ranks first).
func bfCmp(a, b bfVal) int {
	ra, rb := bfRank(a.t), bfRank(b.t)
	if ra != rb {
		return cmpInt(ra, rb)
	}
	switch ra {
	case 1:
		return 0
	case 2:
		return bfNum(a.raw).Cmp(bfNum(b.raw))
	case 3:
		return strings.Compare(a.raw.StringValue(), b.raw.StringValue())
	case 7:
		x, y := a.raw.ObjectID(), b.raw.ObjectID()
		return bytes.Compare(x[:], y[:])
	case 8:
		return cmpInt(b2i(a.raw.Boolean()), b2i(b.raw.Boolean()))
	case 9:
		return cmpInt64(a.raw.DateTime(), b.raw.DateTime())
	}
	panic("bfCmp: no order for rank " + fmt.Sprint(ra))
}

func cmpInt(a, b int) int { return cmpInt64(int64(a), int64(b)) }

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// bfOperand makes a query operand into a bfVal.
func bfOperand(v any) bfVal {
	d, err := bson.Marshal(bson.D{{Key: "v", Value: v}})
	if err != nil {
		panic(err)
	}
	rv := bson.Raw(d).Lookup("v")
	if rv.Type == bson.TypeNull {
		return bfVal{t: bson.TypeNull}
	}
	return bfVal{t: rv.Type, raw: rv}
}

func bfScalarMatch(v bfVal, op Op, operand any) bool {
	switch op {
	case OpEq, OpNe, OpGt, OpGte, OpLt, OpLte:
		x := bfOperand(operand)
		if bfRank(v.t) != bfRank(x.t) {
			return op == OpNe
		}
		if bfRank(v.t) > 3 && !slices.Contains([]int{7, 8, 9}, bfRank(v.t)) {
			return op == OpNe // documents, arrays: never equal to a scalar operand
		}
		c := bfCmp(v, x)
		switch op {
		case OpEq:
			return c == 0
		case OpNe:
			return c != 0
		case OpGt:
			return c > 0
		case OpGte:
			return c >= 0
		case OpLt:
			return c < 0
		}
		return c <= 0
	case OpIn, OpNin:
		in := false
		for _, o := range operand.([]any) {
			in = in || bfScalarMatch(v, OpEq, o)
		}
		return in == (op == OpIn)
	case OpBetween:
		vs := operand.([]any)
		return bfScalarMatch(v, OpGte, vs[0]) && bfScalarMatch(v, OpLte, vs[1])
	case OpContains:
		return v.t == bson.TypeString && regexp.MustCompile("(?i)"+regexp.QuoteMeta(operand.(string))).MatchString(v.raw.StringValue())
	case OpStartsWith:
		return v.t == bson.TypeString && strings.HasPrefix(v.raw.StringValue(), operand.(string))
	case OpEmpty:
		return bfRank(v.t) == 1 || v.t == bson.TypeString && v.raw.StringValue() == ""
	case OpNotEmpty:
		return !bfScalarMatch(v, OpEmpty, nil)
	}
	panic(op)
}

func bfMatch(doc bson.Raw, c Cond) bool {
	switch {
	case c.And != nil:
		for _, k := range c.And {
			if !bfMatch(doc, k) {
				return false
			}
		}
		return true
	case c.Or != nil:
		for _, k := range c.Or {
			if bfMatch(doc, k) {
				return true
			}
		}
		return false
	case c.Path == "":
		return true
	}
	v := bfLookup(doc, c.Path)
	if !c.Each {
		return bfScalarMatch(v, c.Op, c.Value)
	}
	var elems []bfVal
	if v.t == bson.TypeArray {
		vals, _ := v.raw.Array().Values()
		for _, e := range vals {
			elems = append(elems, bfVal{t: e.Type, raw: e})
		}
	}
	anyElem := func(op Op, operand any) bool {
		for _, e := range elems {
			if bfScalarMatch(e, op, operand) {
				return true
			}
		}
		return false
	}
	nullOperand := func() bool {
		switch c.Op {
		case OpEq, OpNe:
			return c.Value == nil
		}
		for _, o := range c.Value.([]any) {
			if o == nil {
				return true
			}
		}
		return false
	}
	switch c.Op {
	case OpEmpty:
		return bfRank(v.t) == 1 || v.t == bson.TypeArray && len(elems) == 0
	case OpNotEmpty:
		return !(bfRank(v.t) == 1 || v.t == bson.TypeArray && len(elems) == 0)
	case OpEq, OpIn:
		return bfRank(v.t) == 1 && nullOperand() || anyElem(c.Op, c.Value)
	case OpNe:
		return !(bfRank(v.t) == 1 && nullOperand() || anyElem(OpEq, c.Value))
	case OpNin:
		return !(bfRank(v.t) == 1 && nullOperand() || anyElem(OpIn, c.Value))
	}
	return anyElem(c.Op, c.Value)
}

// bfQuery answers a query from all documents: the matching ids in order.
func bfQuery(docs []bson.Raw, q Query) []bson.Raw {
	var out []bson.Raw
	for _, d := range docs {
		if bfMatch(d, q.Where) {
			out = append(out, d)
		}
	}
	idDesc := false
	if len(q.Sort) > 0 {
		idDesc = q.Sort[len(q.Sort)-1].Desc
	}
	sort.SliceStable(out, func(i, j int) bool {
		for _, k := range q.Sort {
			if k.Path == "_id" {
				break
			}
			c := bfCmp(bfLookup(out[i], k.Path), bfLookup(out[j], k.Path))
			if k.Desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		c := strings.Compare(out[i].Lookup("_id").StringValue(), out[j].Lookup("_id").StringValue())
		if idDesc {
			c = -c
		}
		return c < 0
	})
	return out
}

// ---- random queries ----

var scalarFields = []string{"s", "n", "b", "d", "o", "mix", "nest.k", "nest.v", "nest.deep.x", "nest.deep.when", "parts.month", "_id"}

func (g *equivGen) operand(field string) any {
	if field == "_id" {
		return fmt.Sprintf("d%04d", g.r.IntN(10000))
	}
	if g.r.IntN(6) == 0 {
		return g.anyScalar() // often of another type than the field's: type brackets
	}
	switch field {
	case "s", "nest.k", "tags":
		return g.str()
	case "n", "nest.v":
		return g.num()
	case "b":
		return g.r.IntN(2) == 0
	case "d", "nest.deep.when":
		if g.r.IntN(2) == 0 {
			return bson.NewDateTimeFromTime(g.date())
		}
		return g.date()
	case "o":
		return g.oid()
	case "nest.deep.x":
		return []any{0, int32(1), int64(2), 3.0, 1.5}[g.r.IntN(5)]
	case "parts.month":
		return g.date().Format("2006-01")
	}
	return g.anyScalar()
}

func (g *equivGen) nonNil(field string) any {
	for {
		if v := g.operand(field); v != nil {
			return v
		}
	}
}

func (g *equivGen) leaf() Cond {
	if g.r.IntN(6) == 0 {
		ops := []Op{OpEq, OpNe, OpIn, OpNin, OpContains, OpStartsWith, OpEmpty, OpNotEmpty, OpGt, OpLte}
		op := ops[g.r.IntN(len(ops))]
		c := g.leafOn("tags", op)
		c.Each = true
		return c
	}
	f := scalarFields[g.r.IntN(len(scalarFields))]
	ops := []Op{OpEq, OpNe, OpGt, OpGte, OpLt, OpLte, OpIn, OpNin, OpBetween, OpContains, OpStartsWith, OpEmpty, OpNotEmpty}
	op := ops[g.r.IntN(len(ops))]
	if f == "_id" && (op == OpEmpty || op == OpNotEmpty) {
		op = OpEq
	}
	return g.leafOn(f, op)
}

func (g *equivGen) leafOn(f string, op Op) Cond {
	switch op {
	case OpEq, OpNe:
		if f != "_id" && g.r.IntN(5) == 0 {
			return Cond{Path: f, Op: op}
		}
		return Cond{Path: f, Op: op, Value: g.operand(f)}
	case OpGt, OpGte, OpLt, OpLte:
		return Cond{Path: f, Op: op, Value: g.nonNil(f)}
	case OpIn, OpNin:
		var vs []any
		for range 1 + g.r.IntN(4) {
			if f != "_id" && g.r.IntN(5) == 0 {
				vs = append(vs, nil)
			} else {
				vs = append(vs, g.operand(f))
			}
		}
		return Cond{Path: f, Op: op, Value: vs}
	case OpBetween:
		a := g.nonNil(f)
		for {
			b := g.nonNil(f)
			if bfRank(bfOperand(a).t) == bfRank(bfOperand(b).t) {
				if bfCmp(bfOperand(a), bfOperand(b)) > 0 {
					a, b = b, a
				}
				return Cond{Path: f, Op: op, Value: []any{a, b}}
			}
		}
	case OpContains, OpStartsWith:
		s := g.str()
		if s != "" && g.r.IntN(2) == 0 {
			rs := []rune(s)
			i := g.r.IntN(len(rs))
			s = string(rs[i:min(len(rs), i+1+g.r.IntN(3))])
			if op == OpStartsWith {
				s = string(rs[:1+g.r.IntN(len(rs))])
			}
		}
		return Cond{Path: f, Op: op, Value: s}
	}
	return Cond{Path: f, Op: op}
}

func (g *equivGen) cond(depth int) Cond {
	if depth > 2 || g.r.IntN(3) > 0 {
		return g.leaf()
	}
	n := 2 + g.r.IntN(2)
	var kids []Cond
	for range n {
		kids = append(kids, g.cond(depth+1))
	}
	if g.r.IntN(2) == 0 {
		return And(kids...)
	}
	return Or(kids...)
}

var sortFields = []string{"s", "n", "b", "d", "o", "mix", "nest.k", "nest.v", "nest.deep.when", "parts.month"}

func (g *equivGen) query() Query {
	q := Query{Limit: 1 + g.r.IntN(8)}
	if g.r.IntN(2) == 0 {
		q.Limit = 20 + g.r.IntN(80)
	}
	if g.r.IntN(8) > 0 {
		q.Where = g.cond(0)
	}
	for range g.r.IntN(3) {
		f := sortFields[g.r.IntN(len(sortFields))]
		if !slices.ContainsFunc(q.Sort, func(k SortKey) bool { return k.Path == f }) {
			q.Sort = append(q.Sort, SortKey{Path: f, Desc: g.r.IntN(2) == 0})
		}
	}
	if g.r.IntN(6) == 0 {
		q.Sort = append(q.Sort, SortKey{Path: "_id", Desc: g.r.IntN(2) == 0})
	}
	if g.r.IntN(4) == 0 {
		q.Fields = [][]string{{"s"}, {"nest.k", "n"}, {"nest.deep.x", "tags", "rows.sku"}, {"mix", "nest"}}[g.r.IntN(4)]
	}
	return q
}

// ---- the test ----

// equivFixture is a store filled with random documents and all of them as BSON.
type equivFixture struct {
	s    *Store
	gen  *equivGen
	docs []bson.Raw
}

const equivColl = "equiv"

func newEquivFixture(t *testing.T, n int) *equivFixture {
	t.Helper()
	return fillEquiv(t, openTestStore(t), n)
}

func fillEquiv(t *testing.T, s *Store, n int) *equivFixture {
	t.Helper()
	ctx := context.Background()
	g := newEquivGen(20261205)
	var batch []any
	for i := range n {
		batch = append(batch, g.doc(i))
	}
	c, err := s.Collection(ctx, equivColl)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InsertMany(ctx, batch); err != nil {
		t.Fatal(err)
	}
	f := &equivFixture{s: s, gen: g}
	cur, err := c.Find(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for cur.Next(ctx) {
		f.docs = append(f.docs, bson.Raw(append([]byte(nil), cur.Current...)))
	}
	if len(f.docs) != n {
		t.Fatalf("stored %d of %d documents", len(f.docs), n)
	}
	return f
}

// allPages follows a query's cursors to the end, or for maxPages pages.
func allPages(q Query, maxPages int, run func(*qplan) (*Page, error)) ([][]bson.Raw, error) {
	var pages [][]bson.Raw
	for range maxPages {
		p, err := planQuery(q)
		if err != nil {
			return nil, err
		}
		page, err := run(p)
		if err != nil {
			return nil, err
		}
		pages = append(pages, page.Docs)
		if page.Next == "" {
			return pages, nil
		}
		q.After = page.Next
	}
	return pages, nil
}

func ids(docs []bson.Raw) []string {
	out := []string{}
	for _, d := range docs {
		out = append(out, d.Lookup("_id").StringValue())
	}
	return out
}

func describe(q Query) string {
	return fmt.Sprintf("where=%s sort=%v limit=%d fields=%v", condString(q.Where), q.Sort, q.Limit, q.Fields)
}

func condString(c Cond) string {
	switch {
	case c.And != nil || c.Or != nil:
		kids, op := c.And, " AND "
		if c.Or != nil {
			kids, op = c.Or, " OR "
		}
		var parts []string
		for _, k := range kids {
			parts = append(parts, condString(k))
		}
		return "(" + strings.Join(parts, op) + ")"
	case c.Path == "":
		return "all"
	}
	each := ""
	if c.Each {
		each = "[each]"
	}
	return fmt.Sprintf("%s%s %s %#v", c.Path, each, c.Op, c.Value)
}

// TestQueryEquivalence: SQL, FerretDB's own evaluation of the MongoDB form and a brute force
// in Go give the same pages, in the same order, with the same documents, and the same counts.
func TestQueryEquivalence(t *testing.T) {
	f := newEquivFixture(t, 260)
	ctx := context.Background()
	// FerretDB evaluates a find in Go over every document (~30 ms here): keep the count modest.
	queries := 120
	if testing.Short() || raceDetector {
		queries = 25
	}
	nonEmpty := 0
	for i := range queries {
		q := f.gen.query()
		want := bfQuery(f.docs, q)
		total := len(want)
		if len(want) > 0 {
			nonEmpty++
		}
		// Five pages at most: FerretDB takes ~30 ms a page over these documents.
		sqlPages, err := allPages(q, 5, func(p *qplan) (*Page, error) { return f.s.querySQL(ctx, equivColl, p) })
		if err != nil {
			t.Fatalf("query %d %s: sql: %v", i, describe(q), err)
		}
		mongoPages, err := allPages(q, 5, func(p *qplan) (*Page, error) { return f.s.queryMongo(ctx, equivColl, p) })
		if err != nil {
			t.Fatalf("query %d %s: ferretdb: %v", i, describe(q), err)
		}
		var sqlDocs, mongoDocs []bson.Raw
		for _, p := range sqlPages {
			if len(p) > q.Limit {
				t.Fatalf("query %d: a page of %d, limit %d", i, len(p), q.Limit)
			}
			sqlDocs = append(sqlDocs, p...)
		}
		for _, p := range mongoPages {
			mongoDocs = append(mongoDocs, p...)
		}
		if seen := 5 * q.Limit; len(want) > seen {
			want = want[:seen]
		}
		if got, w := ids(sqlDocs), ids(want); !slices.Equal(got, w) {
			t.Fatalf("query %d %s:\n sql   %v\n brute %v", i, describe(q), got, w)
		}
		if got, w := ids(mongoDocs), ids(want); !slices.Equal(got, w) {
			t.Fatalf("query %d %s:\n ferretdb %v\n brute    %v", i, describe(q), got, w)
		}
		if len(sqlPages) != len(mongoPages) {
			t.Fatalf("query %d: %d pages in SQL, %d from FerretDB", i, len(sqlPages), len(mongoPages))
		}
		for j := range sqlDocs {
			if !bytes.Equal(sqlDocs[j], mongoDocs[j]) {
				t.Fatalf("query %d %s: document %d differs:\n sql      %s\n ferretdb %s", i, describe(q), j, sqlDocs[j], mongoDocs[j])
			}
		}
		for k, limit := range []int64{0, 1, int64(total), int64(total) + 1, 7} {
			w, err := planWhere(q.Where, "where")
			if err != nil {
				t.Fatal(err)
			}
			wantN := int64(total)
			if limit > 0 && wantN > limit {
				wantN = limit
			}
			nSQL, err := f.s.countSQL(ctx, equivColl, w, limit)
			if err != nil {
				t.Fatal(err)
			}
			nMongo := wantN
			if k == i%5 {
				if nMongo, err = f.s.countMongo(ctx, equivColl, w, limit); err != nil {
					t.Fatal(err)
				}
			}
			if nSQL != wantN || nMongo != wantN {
				t.Fatalf("query %d %s: count capped at %d: sql %d, ferretdb %d, brute %d", i, describe(q), limit, nSQL, nMongo, wantN)
			}
		}
	}
	if nonEmpty < queries/3 {
		t.Fatalf("only %d of %d queries matched anything: the generator does not test much", nonEmpty, queries)
	}
}

// ---- aggregation ----

type bfGroup struct {
	key  []bfVal
	keys []any
	docs []bson.Raw
	vals []any
}

func bfNorm(v bfVal) any {
	switch bfRank(v.t) {
	case 1:
		return nil
	case 2:
		f, _ := bfNum(v.raw).Float64()
		if v.t != bson.TypeDouble {
			if v.t == bson.TypeInt32 {
				return int64(v.raw.Int32())
			}
			if x := v.raw.Int64(); x > 1<<53 || x < -(1<<53) {
				return x
			}
			return int64(f)
		}
		if f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
			return int64(f)
		}
		return f
	case 3:
		return v.raw.StringValue()
	case 7:
		return v.raw.ObjectID()
	case 8:
		return v.raw.Boolean()
	case 9:
		return v.raw.Time().UTC()
	}
	panic("bfNorm")
}

func bfBucket(v bfVal, b Bucket, loc *time.Location) bfVal {
	if v.t != bson.TypeDateTime {
		return bfVal{}
	}
	t := v.raw.Time().In(loc)
	var s string
	switch b {
	case BucketDay:
		s = t.Format("2006-01-02")
	case BucketWeek:
		y, w := t.ISOWeek()
		s = fmt.Sprintf("%04d-W%02d", y, w)
	case BucketMonth:
		s = t.Format("2006-01")
	case BucketQuarter:
		s = fmt.Sprintf("%04d-Q%d", t.Year(), (int(t.Month())+2)/3)
	case BucketYear:
		s = t.Format("2006")
	}
	return bfOperand(s)
}

// bfTyped is v if it has the measure's type.
func bfTyped(v bfVal, of ValueType) (bfVal, bool) {
	want := map[ValueType]int{TypeNumber: 2, TypeString: 3, TypeObjectID: 7, TypeBool: 8, TypeDate: 9}[of]
	return v, bfRank(v.t) == want
}

func bfAggregate(docs []bson.Raw, a Aggregation) []Group {
	var groups []*bfGroup
	for _, d := range docs {
		if !bfMatch(d, a.Where) {
			continue
		}
		var key []bfVal
		for _, k := range a.GroupBy {
			v := bfLookup(d, k.Path)
			if k.Bucket != "" {
				loc := k.Zone
				if loc == nil {
					loc = time.UTC
				}
				v = bfBucket(v, k.Bucket, loc)
			}
			key = append(key, v)
		}
		var g *bfGroup
		for _, x := range groups {
			same := true
			for i := range key {
				same = same && bfCmp(x.key[i], key[i]) == 0
			}
			if same {
				g = x
				break
			}
		}
		if g == nil {
			g = &bfGroup{key: key}
			for _, k := range key {
				g.keys = append(g.keys, bfNorm(k))
			}
			groups = append(groups, g)
		}
		g.docs = append(g.docs, d)
	}
	// Measures.
	for _, g := range groups {
		for _, m := range a.Measures {
			of := m.Of
			if of == "" {
				of = TypeNumber
				if m.Op == AggCountDistinct {
					of = TypeString
				}
			}
			var typed []bfVal
			for _, d := range g.docs {
				if v, ok := bfTyped(bfLookup(d, m.Path), of); ok {
					typed = append(typed, v)
				}
			}
			switch m.Op {
			case AggCount:
				g.vals = append(g.vals, int64(len(g.docs)))
			case AggCountDistinct:
				var distinct []bfVal
				for _, v := range typed {
					if !slices.ContainsFunc(distinct, func(x bfVal) bool { return bfCmp(x, v) == 0 }) {
						distinct = append(distinct, v)
					}
				}
				g.vals = append(g.vals, int64(len(distinct)))
			case AggSum, AggAvg:
				sum := new(big.Float).SetPrec(200)
				for _, v := range typed {
					sum.Add(sum, bfNum(v.raw))
				}
				f, _ := sum.Float64()
				switch {
				case m.Op == AggSum:
					g.vals = append(g.vals, f)
				case len(typed) == 0:
					g.vals = append(g.vals, nil)
				default:
					q, _ := new(big.Float).SetPrec(200).Quo(sum, big.NewFloat(float64(len(typed)))).Float64()
					g.vals = append(g.vals, q)
				}
			case AggMin, AggMax:
				if len(typed) == 0 {
					g.vals = append(g.vals, nil)
					continue
				}
				best := typed[0]
				for _, v := range typed[1:] {
					c := bfCmp(v, best)
					if m.Op == AggMin && c < 0 || m.Op == AggMax && c > 0 {
						best = v
					}
				}
				g.vals = append(g.vals, bfNorm(best))
			}
		}
	}
	// Having, over the named keys and measures.
	lookup := func(g *bfGroup, name string) bfVal {
		for i, k := range a.GroupBy {
			if k.Name == name {
				return g.key[i]
			}
		}
		for i, m := range a.Measures {
			if m.Name == name {
				return bfOperand(g.vals[i])
			}
		}
		panic(name)
	}
	var kept []*bfGroup
	for _, g := range groups {
		doc := bson.D{}
		for _, k := range a.GroupBy {
			if v := lookup(g, k.Name); v.t != 0 {
				doc = append(doc, bson.E{Key: k.Name, Value: v.raw})
			}
		}
		for i, m := range a.Measures {
			doc = append(doc, bson.E{Key: m.Name, Value: g.vals[i]})
		}
		raw, _ := bson.Marshal(doc)
		if bfMatch(raw, a.Having) {
			kept = append(kept, g)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool {
		for _, s := range a.Sort {
			c := bfCmp(lookup(kept[i], s.Path), lookup(kept[j], s.Path))
			if s.Desc {
				c = -c
			}
			if c != 0 {
				return c < 0
			}
		}
		for x := range a.GroupBy {
			if c := bfCmp(kept[i].key[x], kept[j].key[x]); c != 0 {
				return c < 0
			}
		}
		return false
	})
	out := []Group{}
	for _, g := range kept {
		out = append(out, Group{Keys: g.keys, Values: g.vals})
	}
	return out
}

func (g *equivGen) aggregation() Aggregation {
	var a Aggregation
	if g.r.IntN(3) > 0 {
		a.Where = g.cond(1)
	}
	keyPaths := []string{"s", "b", "n", "mix", "nest.k", "o", "parts.month", "nest.deep.x"}
	for i := range g.r.IntN(3) {
		k := GroupKey{Name: fmt.Sprint("k", i)}
		if g.r.IntN(3) == 0 {
			k.Path = []string{"d", "nest.deep.when"}[g.r.IntN(2)]
			k.Bucket = []Bucket{BucketDay, BucketWeek, BucketMonth, BucketQuarter, BucketYear}[g.r.IntN(5)]
			if z := equivZones[g.r.IntN(len(equivZones))]; z != "UTC" || g.r.IntN(2) == 0 {
				k.Zone, _ = time.LoadLocation(z)
			}
		} else {
			k.Path = keyPaths[g.r.IntN(len(keyPaths))]
		}
		a.GroupBy = append(a.GroupBy, k)
	}
	measures := []Measure{
		{Op: AggCount}, {Op: AggSum, Path: "n"}, {Op: AggAvg, Path: "nest.v"}, {Op: AggMin, Path: "n"},
		{Op: AggMax, Path: "n"}, {Op: AggMin, Path: "d", Of: TypeDate}, {Op: AggMax, Path: "s", Of: TypeString},
		{Op: AggCountDistinct, Path: "s"}, {Op: AggCountDistinct, Path: "mix", Of: TypeNumber},
		{Op: AggCountDistinct, Path: "b", Of: TypeBool}, {Op: AggSum, Path: "mix"}, {Op: AggMax, Path: "mix", Of: TypeDate},
		{Op: AggCountDistinct, Path: "o", Of: TypeObjectID}, {Op: AggMin, Path: "nest.k", Of: TypeString},
	}
	for i := range g.r.IntN(4) {
		m := measures[g.r.IntN(len(measures))]
		m.Name = fmt.Sprint("m", i)
		a.Measures = append(a.Measures, m)
	}
	if len(a.Measures) > 0 && g.r.IntN(3) == 0 {
		m := a.Measures[0]
		switch m.Op {
		case AggCount, AggCountDistinct:
			a.Having = Gte(m.Name, 1+g.r.IntN(3))
		case AggSum, AggAvg:
			a.Having = Or(Gt(m.Name, float64(g.r.IntN(10))-3), Eq(m.Name, nil))
		}
	}
	if len(a.GroupBy) > 0 && g.r.IntN(3) == 0 && a.Having.Path == "" {
		a.Having = NotEmpty(a.GroupBy[0].Name)
	}
	var names []string
	for _, k := range a.GroupBy {
		names = append(names, k.Name)
	}
	for _, m := range a.Measures {
		names = append(names, m.Name)
	}
	if len(names) > 0 && g.r.IntN(2) == 0 {
		a.Sort = []SortKey{{Path: names[g.r.IntN(len(names))], Desc: g.r.IntN(2) == 0}}
	}
	if g.r.IntN(4) == 0 {
		a.Limit = 1 + g.r.IntN(5)
	}
	return a
}

func sameNumber(a, b float64) bool {
	return a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b))
}

// sameRead: SQLite reads a double beyond 1e±80 to within a unit in the last place
// (query_encoding.go), so the SQL path's keys and min/max of such numbers may differ that much.
func sameRead(got, want any) bool {
	g, ok1 := got.(float64)
	w, ok2 := want.(float64)
	if !ok1 || !ok2 || w == 0 || math.Abs(w) < 1e80 && math.Abs(w) > 1e-80 {
		return false
	}
	return math.Abs(g-w) <= 2*math.Abs(math.Nextafter(w, 0)-w)
}

func sameGroups(got, want []Group) string {
	if len(got) != len(want) {
		return fmt.Sprintf("%d groups, want %d", len(got), len(want))
	}
	for i := range got {
		for j := range want[i].Keys {
			if fmt.Sprintf("%T %v", got[i].Keys[j], got[i].Keys[j]) != fmt.Sprintf("%T %v", want[i].Keys[j], want[i].Keys[j]) && !sameRead(got[i].Keys[j], want[i].Keys[j]) {
				return fmt.Sprintf("group %d key %d: %T %v, want %T %v", i, j, got[i].Keys[j], got[i].Keys[j], want[i].Keys[j], want[i].Keys[j])
			}
		}
		for j := range want[i].Values {
			g, w := got[i].Values[j], want[i].Values[j]
			gf, ok1 := g.(float64)
			wf, ok2 := w.(float64)
			if ok1 && ok2 && (sameNumber(gf, wf) || sameRead(g, w)) {
				continue
			}
			if fmt.Sprintf("%T %v", g, g) != fmt.Sprintf("%T %v", w, w) {
				return fmt.Sprintf("group %d (keys %v) value %d: %T %v, want %T %v", i, want[i].Keys, j, g, g, w, w)
			}
		}
	}
	return ""
}

// TestAggregateEquivalence: SQL GROUP BY and a brute force in Go give the same groups, keys
// and numbers; where FerretDB's $group is right (one plain key, one count or sum), FerretDB's
// answer is the same too.
func TestAggregateEquivalence(t *testing.T) {
	f := newEquivFixture(t, 260)
	ctx := context.Background()
	runs := 250
	if testing.Short() || raceDetector {
		runs = 80
	}
	ferret := 0
	for i := range runs {
		a := f.gen.aggregation()
		p, err := planAggregation(a)
		if err != nil {
			t.Fatalf("aggregation %d: %v", i, err)
		}
		want := bfAggregate(f.docs, a)
		limit := p.limit
		truncated := len(want) > limit
		if truncated {
			want = want[:limit]
		}
		got, err := f.s.aggregateSQL(ctx, equivColl, p)
		if err != nil {
			t.Fatalf("aggregation %d %+v: sql: %v", i, a, err)
		}
		if msg := sameGroups(got.Groups, want); msg != "" || got.Truncated != truncated {
			t.Fatalf("aggregation %d %+v (where %s):\n sql: %s (truncated %v, want %v)\n got  %v\n want %v", i, a, condString(a.Where), msg, got.Truncated, truncated, got.Groups, want)
		}
		if simpleGroup(p) {
			ferret++
			fg, err := f.s.aggregateMongo(ctx, equivColl, p, true)
			if err != nil {
				t.Fatalf("aggregation %d %+v: ferretdb: %v", i, a, err)
			}
			if msg := sameGroups(fg.Groups, want); msg != "" {
				t.Fatalf("aggregation %d %+v (where %s):\n ferretdb: %s\n got  %v\n want %v", i, a, condString(a.Where), msg, fg.Groups, want)
			}
		}
	}
	if ferret < runs/10 {
		t.Fatalf("only %d aggregations were checked against FerretDB", ferret)
	}
}

// quietLogger drops the store's logs in tests.
func quietLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// TestQueryEquivalenceMongoDB runs the model's MongoDB form on a real MongoDB (given by
// TRACECRAFT_TEST_MONGO_URI) against the brute force: pages, counts, and every aggregation with
// its full pipeline (on FerretDB only the simple ones can run).
func TestQueryEquivalenceMongoDB(t *testing.T) {
	uri := os.Getenv("TRACECRAFT_TEST_MONGO_URI")
	if uri == "" {
		t.Skip("TRACECRAFT_TEST_MONGO_URI is not set")
	}
	ctx := context.Background()
	db := fmt.Sprintf("tcq_%d", time.Now().UnixNano())
	s, err := Open(ctx, Options{MongoURI: uri, Database: db, Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = s.Database().Drop(context.Background())
		_ = s.Close(context.Background())
	})
	f := fillEquiv(t, s, 260)
	err = s.EnsureIndexes(ctx, equivColl, []IndexSpec{{Keys: []IndexKey{{Path: "s"}, {Path: "d", Desc: true}}}, {Keys: []IndexKey{{Path: "n"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 200 {
		q := f.gen.query()
		want := bfQuery(f.docs, q)
		total := len(want)
		pages, err := allPages(q, 5, func(p *qplan) (*Page, error) { return s.queryMongo(ctx, equivColl, p) })
		if err != nil {
			t.Fatalf("query %d %s: %v", i, describe(q), err)
		}
		var got []bson.Raw
		for _, p := range pages {
			got = append(got, p...)
		}
		if seen := 5 * q.Limit; len(want) > seen {
			want = want[:seen]
		}
		if g, w := ids(got), ids(want); !slices.Equal(g, w) {
			t.Fatalf("query %d %s:\n mongodb %v\n brute   %v", i, describe(q), g, w)
		}
		w, _ := planWhere(q.Where, "where")
		if n, err := s.countMongo(ctx, equivColl, w, 0); err != nil || n != int64(total) {
			t.Fatalf("query %d %s: count %d (%v), want %d", i, describe(q), n, err, total)
		}
	}
	for i := range 200 {
		a := f.gen.aggregation()
		res, err := s.Aggregate(ctx, equivColl, a)
		if err != nil {
			t.Fatalf("aggregation %d %+v: %v", i, a, err)
		}
		want := bfAggregate(f.docs, a)
		limit := a.Limit
		if limit == 0 {
			limit = DefaultGroupLimit
		}
		if len(want) > limit {
			want = want[:limit]
		}
		if msg := sameGroups(res.Groups, want); msg != "" {
			t.Fatalf("aggregation %d %+v (where %s):\n mongodb: %s\n got  %v\n want %v", i, a, condString(a.Where), msg, res.Groups, want)
		}
	}
}
