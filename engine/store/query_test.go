package store

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// fillRecords inserts n record-like documents through FerretDB.
func fillRecords(t testing.TB, s *Store, coll string, n int) {
	t.Helper()
	if err := FillBenchRecords(context.Background(), s, coll, n); err != nil {
		t.Fatal(err)
	}
}

// TestQueryExplainUsesIndex: a filtered, sorted page on indexed fields is read from the index
// in order — SQLite neither scans the table nor sorts it — and so is the next page.
func TestQueryExplainUsesIndex(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 2000)
	err := s.EnsureIndexes(ctx, "recs", []IndexSpec{
		{Keys: []IndexKey{{Path: "status"}, {Path: "created_at", Desc: true}}},
		{Keys: []IndexKey{{Path: "data.qty"}}},
		{Keys: []IndexKey{{Path: "_id"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    Query
	}{
		{"equality on one key, sorted by the next", Query{Where: Eq("status", "open"), Sort: []SortKey{{Path: "created_at", Desc: true}}, Limit: 50}},
		{"range and sort on one key", Query{Where: Gt("data.qty", 100), Sort: []SortKey{{Path: "data.qty"}}, Limit: 50}},
		{"range between", Query{Where: Between("data.qty", 10, 20.5), Sort: []SortKey{{Path: "data.qty", Desc: true}}}},
		{"sorted by _id", Query{Sort: []SortKey{{Path: "_id", Desc: true}}, Limit: 50}},
		{"prefix of _id", Query{Where: StartsWith("_id", "R00012"), Limit: 50}},
		{"in on the leading key", Query{Where: In("status", "open"), Sort: []SortKey{{Path: "created_at", Desc: true}}}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page, err := s.Query(ctx, "recs", c.q)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Docs) == 0 || page.Next == "" {
				t.Fatalf("%d documents, next %q: the case does not page", len(page.Docs), page.Next)
			}
			for _, q := range []Query{c.q, withAfter(c.q, page.Next)} {
				plan, err := s.Explain(ctx, "recs", q)
				if err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(plan, "USING INDEX recs_") || !strings.Contains(plan, "_tcq_") {
					t.Errorf("plan does not use a query index (after=%v):\n%s", q.After != "", plan)
				}
				if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN recs_") && !strings.Contains(plan, "USING INDEX") {
					t.Errorf("plan sorts or scans the table (after=%v):\n%s", q.After != "", plan)
				}
			}
		})
	}
	// Without the index the same page scans and sorts: the test above can fail.
	if err := s.EnsureIndexes(ctx, "recs", nil); err != nil {
		t.Fatal(err)
	}
	plan, err := s.Explain(ctx, "recs", cases[0].q)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "USE TEMP B-TREE FOR ORDER BY") {
		t.Fatalf("without indexes the page should be sorted:\n%s", plan)
	}
}

func withAfter(q Query, after string) Query { q.After = after; return q }

// TestEnsureIndexesIsTheDeclaredSet: declaring again is a no-op, a changed declaration drops
// the indexes no longer declared, and the SQLite index expressions are the query's.
func TestEnsureIndexesIsTheDeclaredSet(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 10)
	names := func() []string {
		db, err := s.emb.sql()
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND name LIKE '%tcq%' ORDER BY name`)
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err != nil {
				t.Fatal(err)
			}
			out = append(out, n)
		}
		return out
	}
	a := IndexSpec{Keys: []IndexKey{{Path: "status"}, {Path: "created_at", Desc: true}}}
	b := IndexSpec{Keys: []IndexKey{{Path: "data.qty"}}}
	if err := s.EnsureIndexes(ctx, "recs", []IndexSpec{a, b}); err != nil {
		t.Fatal(err)
	}
	first := names()
	if len(first) != 2 {
		t.Fatalf("indexes %v, want 2", first)
	}
	if err := s.EnsureIndexes(ctx, "recs", []IndexSpec{b, a, a}); err != nil {
		t.Fatal(err)
	}
	if again := names(); fmt.Sprint(again) != fmt.Sprint(first) {
		t.Fatalf("declaring again changed the indexes: %v, then %v", first, again)
	}
	if err := s.EnsureIndexes(ctx, "recs", []IndexSpec{b}); err != nil {
		t.Fatal(err)
	}
	if left := names(); len(left) != 1 {
		t.Fatalf("after dropping a from the declaration: %v", left)
	}
	for _, bad := range []IndexSpec{{}, {Keys: []IndexKey{{Path: "_id"}, {Path: "a"}}}, {Keys: []IndexKey{{Path: "a.$b"}}}} {
		if err := s.EnsureIndexes(ctx, "recs", []IndexSpec{bad}); !errors.Is(err, ErrInvalidQuery) {
			t.Errorf("index %+v: %v, want ErrInvalidQuery", bad, err)
		}
	}
	// The index FerretDB's own _id lookups use is not ours to drop.
	db, _ := s.emb.sql()
	var n int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'index' AND name LIKE '%_tc_id'`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("the _id index: %d, %v", n, err)
	}
}

// TestQueryReadPool: queries run on read-only connections to the store's WAL-mode file,
// apart from the writer.
func TestQueryReadPool(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 3)
	db, table, ok, err := s.emb.table(ctx, "recs")
	if err != nil || !ok {
		t.Fatalf("table: %v %v", ok, err)
	}
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal mode %q, %v", mode, err)
	}
	if _, err := db.ExecContext(ctx, "DELETE FROM "+quoteIdent(table)); err == nil {
		t.Fatal("a read connection deleted rows")
	}
	if st := db.Stats(); st.MaxOpenConnections != readPoolSize {
		t.Fatalf("read pool of %d connections, want %d", st.MaxOpenConnections, readPoolSize)
	}
	// A write through FerretDB is seen by the next query.
	if err := s.Put(ctx, "recs", "new", bson.D{{Key: "status", Value: "fresh"}}); err != nil {
		t.Fatal(err)
	}
	page, err := s.Query(ctx, "recs", Query{Where: Eq("status", "fresh")})
	if err != nil || len(page.Docs) != 1 {
		t.Fatalf("fresh document: %v %v", page, err)
	}
}

// TestQueryMissingCollection: a query of a collection that does not exist is empty and does not
// create it.
func TestQueryMissingCollection(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	for range 2 { // before the database file exists, then after
		page, err := s.Query(ctx, "nothing", Query{Where: Eq("a", 1)})
		if err != nil || len(page.Docs) != 0 || page.Next != "" {
			t.Fatalf("page %+v, %v", page, err)
		}
		n, err := s.QueryCount(ctx, "nothing", Cond{}, 10)
		if err != nil || n.N != 0 {
			t.Fatalf("count %+v, %v", n, err)
		}
		res, err := s.Aggregate(ctx, "nothing", Aggregation{Measures: []Measure{{Name: "n", Op: AggCount}}})
		if err != nil || len(res.Groups) != 0 {
			t.Fatalf("aggregate %+v, %v", res, err)
		}
		if _, err := s.Collection(ctx, "other"); err != nil {
			t.Fatal(err)
		}
	}
	names, err := s.db.ListCollectionNames(ctx, bson.D{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if n == "nothing" {
			t.Fatal("a query created the collection")
		}
	}
}

// TestQueryRefusals: what the store refuses, and where the message says the mistake is.
func TestQueryRefusals(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 5)
	cases := []struct {
		q    Query
		want string
	}{
		{Query{Where: Eq("data.$where", 1)}, `where.path: path "data.$where": "$where" is not a field name`},
		{Query{Where: Eq("a..b", 1)}, `"" is not a field name`},
		{Query{Where: Eq("tags.0", 1)}, `"0" is not a field name`},
		{Query{Where: Eq("_id.x", "a")}, `_id is a string`},
		{Query{Where: Gt("n", nil)}, `where.value: gt needs a value, not nil`},
		{Query{Where: Eq("n", math.NaN())}, `NaN and infinities are not values`},
		{Query{Where: Lt("n", math.Inf(-1))}, `NaN and infinities are not values`},
		{Query{Where: Eq("n", []int{1})}, `[]int is not a value a query can compare`},
		{Query{Where: Eq("n", bson.D{{Key: "$gt", Value: 1}})}, `bson.D is not a value`},
		{Query{Where: Eq("s", "\xff")}, `not valid UTF-8`},
		{Query{Where: Between("n", 1, "2")}, `between needs two values of one type, not number and string`},
		{Query{Where: Between("n", 1, 2).Elements()}, `where.each: between is not defined on array elements`},
		{Query{Where: In("n")}, `in needs a list of 1 to 1000 values`},
		{Query{Where: Cond{Path: "n", Op: "regex", Value: ".*"}}, `where.op: unknown operator "regex"`},
		{Query{Where: And(Eq("a", 1), Cond{Path: "b"})}, `where.and.1.op: no operator`},
		{Query{Where: Cond{Path: "a", Op: OpEq, And: []Cond{Eq("b", 1)}}}, `not several`},
		{Query{Where: Or()}, `where.or: no conditions`},
		{Query{Where: Eq("_id", 5)}, `_id is compared with strings only`},
		{Query{Where: Empty("tags").Elements(), Sort: []SortKey{{Path: "_id"}, {Path: "a"}}}, `sort.0.path: _id is unique`},
		{Query{Sort: []SortKey{{Path: "a"}, {Path: "a"}}}, `sorted by twice`},
		{Query{Limit: MaxQueryLimit + 1}, `limit must be 1 to 10000`},
		{Query{Fields: []string{"data", "data.qty"}}, `"data.qty" overlaps another field`},
		{Query{Fields: []string{"data.qty", "data"}}, `"data" overlaps another field`},
	}
	for _, c := range cases {
		_, err := s.Query(ctx, "recs", c.q)
		if !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("query %+v:\n got  %v\n want ErrInvalidQuery with %q", c.q, err, c.want)
		}
	}
	aggs := []struct {
		a    Aggregation
		want string
	}{
		{Aggregation{GroupBy: []GroupKey{{Name: "k", Path: "d", Bucket: "hour"}}}, `unknown bucket "hour"`},
		{Aggregation{GroupBy: []GroupKey{{Name: "k", Path: "d", Zone: time.UTC}}}, `a zone needs a bucket`},
		{Aggregation{GroupBy: []GroupKey{{Name: "k", Path: "a"}}, Measures: []Measure{{Name: "k", Op: AggCount}}}, `"k" names two things`},
		{Aggregation{Measures: []Measure{{Name: "_n", Op: AggCount}}}, `"_n" is not a name`},
		{Aggregation{Measures: []Measure{{Name: "n", Op: AggSum, Path: "a", Of: TypeString}}}, `sum does not measure "string" values`},
		{Aggregation{Measures: []Measure{{Name: "n", Op: AggCount, Path: "a"}}}, `count counts documents`},
		{Aggregation{Measures: []Measure{{Name: "n", Op: AggCount}}, Having: Gt("m", 1)}, `"m" is not a key or measure name`},
		{Aggregation{Measures: []Measure{{Name: "n", Op: AggCount}}, Sort: []SortKey{{Path: "x"}}}, `"x" is not a key or measure name`},
	}
	for _, c := range aggs {
		_, err := s.Aggregate(ctx, "recs", c.a)
		if !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("aggregation %+v:\n got  %v\n want ErrInvalidQuery with %q", c.a, err, c.want)
		}
	}
}

// TestQueryRefusesNonScalarOrder: a sort or group key that meets a document or an array is
// refused on both paths (MongoDB orders those by content, SQL would by their JSON text).
func TestQueryRefusesNonScalarOrder(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 3)
	if err := s.Put(ctx, "recs", "odd", bson.D{{Key: "status", Value: bson.D{{Key: "x", Value: 1}}}}); err != nil {
		t.Fatal(err)
	}
	p, err := planQuery(Query{Sort: []SortKey{{Path: "status"}}})
	if err != nil {
		t.Fatal(err)
	}
	for name, run := range map[string]func(*qplan) (*Page, error){
		"sql":   func(p *qplan) (*Page, error) { return s.querySQL(ctx, "recs", p) },
		"mongo": func(p *qplan) (*Page, error) { return s.queryMongo(ctx, "recs", p) },
	} {
		if _, err := run(p); !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), `sort key "status" meets a document value`) {
			t.Errorf("%s: %v", name, err)
		}
	}
	_, err = s.Aggregate(ctx, "recs", Aggregation{GroupBy: []GroupKey{{Name: "st", Path: "status"}}})
	if !errors.Is(err, ErrInvalidQuery) || !strings.Contains(err.Error(), `group key "st" meets a document value`) {
		t.Errorf("aggregate: %v", err)
	}
}

// TestQueryCursorTampering: a cursor carries scalars only and belongs to one order; an edited
// or foreign cursor is refused, never read as anything but values.
func TestQueryCursorTampering(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 30)
	q := Query{Sort: []SortKey{{Path: "data.qty", Desc: true}}, Limit: 5}
	page, err := s.Query(ctx, "recs", q)
	if err != nil || page.Next == "" {
		t.Fatalf("%v %v", page, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(page.Next)
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	bad := []string{
		"%%%",
		enc(`{"$gt":""}`),
		enc(strings.Replace(string(raw), `"data.qty-,_id-"`, `"status,"`, 1)),
		enc(`["data.qty-,_id-",["o",{"$ne":1}],["s","R0000001"]]`),
		enc(`["data.qty-,_id-",["f",1],["s",{"$gt":""}]]`),
		enc(`["data.qty-,_id-",["f",1],["b",true]]`),
		enc(`["data.qty-,_id-",["i","1.5"],["s","R1"]]`),
		enc(`["data.qty-,_id-",["o","XYZ"],["s","R1"]]`),
		enc(`["data.qty-,_id-",["f",1]]`),
		enc(`["data.qty-,_id-",["f",1],["s","R1"],["s","R2"]]`),
		enc(`["data.qty-,_id-",["f","1"],["s","R1"]]`),
		enc(`["data.qty-,_id-",["z",0],["s","R1"]]`),
	}
	if !strings.Contains(string(raw), `"data.qty-,_id-"`) {
		t.Fatalf("the cursor's order is not what the test edits: %s", raw)
	}
	for _, c := range bad {
		if _, err := s.Query(ctx, "recs", withAfter(q, c)); !errors.Is(err, ErrBadCursor) {
			t.Errorf("cursor %q: %v, want ErrBadCursor", c, err)
		}
	}
	// Another order's cursor is refused even when it would decode.
	other := Query{Sort: []SortKey{{Path: "status"}}, Limit: 5, After: page.Next}
	if _, err := s.Query(ctx, "recs", other); !errors.Is(err, ErrBadCursor) {
		t.Errorf("foreign cursor: %v", err)
	}
	// A well-formed edited cursor is just another position.
	moved := enc(`["data.qty-,_id-",["f",100],["s","R0000000"]]`)
	if _, err := s.Query(ctx, "recs", withAfter(q, moved)); err != nil {
		t.Errorf("edited position: %v", err)
	}
}

// TestQueryDecoderMatchesFerretDB: the SQL path's documents are byte for byte what FerretDB
// returns, for every type FerretDB stores and strings that need escaping.
func TestQueryDecoderMatchesFerretDB(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	c, err := s.Collection(ctx, "kinds")
	if err != nil {
		t.Fatal(err)
	}
	strs := []string{"", "plain", "\"quoted\"", `back\slash`, "<tag>&amp;", "\u2028\u2029", "\x01\x1f", "tab\tnl\ncr\r",
		"é批次😀", "\ufffd", "a\u0000b"}
	var docs []any
	for i, str := range strs {
		docs = append(docs, bson.D{
			{Key: "_id", Value: fmt.Sprintf("k%02d", i)},
			{Key: "s", Value: str},
			{Key: "i32", Value: int32(-i)}, {Key: "i64", Value: int64(1)<<62 + int64(i)},
			{Key: "f", Value: []float64{0, -0.0, 1.5, 1e300, -1e-300, 3, 0.1 + 0.2, math.MaxFloat64, math.SmallestNonzeroFloat64, 1e21, 1e-7}[i]},
			{Key: "b", Value: i%2 == 0}, {Key: "null", Value: nil},
			{Key: "d", Value: bson.DateTime(int64(i*86_400_000) - 1)},
			{Key: "oid", Value: bson.ObjectID{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}},
			{Key: "bin", Value: bson.Binary{Subtype: byte(i), Data: []byte(str)}},
			{Key: "ts", Value: bson.Timestamp{T: uint32(i), I: 1}},
			{Key: "re", Value: bson.Regex{Pattern: "^" + strings.ReplaceAll(str, "\x00", ""), Options: "im"}},
			{Key: "doc", Value: bson.D{{Key: "k", Value: str}, {Key: "in", Value: bson.D{{Key: "deep", Value: bson.A{}}}}}},
			{Key: "arr", Value: bson.A{str, int32(i), nil, bson.D{{Key: "x", Value: true}}, bson.A{}}},
			{Key: fmt.Sprint("key", i), Value: i},
		})
	}
	// FerretDB writes keys unescaped (a key with a quote or a backslash is refused, one with a
	// control character is stored unreadable) and refuses nested arrays, so the keys here are
	// plain and the array holds no array.
	for _, d := range docs {
		d := d.(bson.D)
		d[len(d)-2].Value = d[len(d)-2].Value.(bson.A)[:4]
		if _, err := c.InsertOne(ctx, d); err != nil {
			t.Fatalf("insert %v: %v", d[0].Value, err)
		}
	}
	p, err := planQuery(Query{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.querySQL(ctx, "kinds", p)
	if err != nil {
		t.Fatal(err)
	}
	want, err := s.queryMongo(ctx, "kinds", p)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Docs) != len(want.Docs) || len(got.Docs) != len(strs) {
		t.Fatalf("%d documents in SQL, %d from FerretDB", len(got.Docs), len(want.Docs))
	}
	for i := range got.Docs {
		if string(got.Docs[i]) != string(want.Docs[i]) {
			t.Errorf("document %d:\n sql      %s\n ferretdb %s", i, got.Docs[i], want.Docs[i])
		}
	}
}

// TestContainsFold is Go's (?i) regexp matching, which FerretDB's $regex uses.
func TestContainsFold(t *testing.T) {
	for _, c := range []struct {
		s, sub string
		want   bool
	}{
		{"Straße", "STRASSE", false}, {"Straße", "straße", true}, {"ẞ", "ß", true}, {"\u212a", "k", true},
		{"ΣΟΦΊΑ", "σοφία", true}, {"σ", "ς", true}, {"abc", "", true}, {"", "a", false}, {"ǅ", "ǆ", true},
		{"批次-07", "次-0", true}, {"e\u0301", "é", false}, {"ÉCLAIR", "éc", true},
	} {
		if got := containsFold(c.s, c.sub); got != c.want {
			t.Errorf("containsFold(%q, %q) = %v", c.s, c.sub, got)
		}
	}
}
