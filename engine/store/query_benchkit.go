package store

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// The query benchmarks' kit, shared by `go test -bench 'QueryPage|Aggregate'`
// (query_bench_test.go) and `tracecraft bench --query-docs` (cmd/tracecraft/bench_query.go), so
// both measure the same documents, indexes and queries: record-like documents, the list indexes
// the forms engine declares for such a form, a filtered and sorted page, a group-by, and the
// same two queries written by hand as plain SQL on the same SQLite file, each with its own
// plain expression index. For benchmarks and tests only.

// BenchSuppliers is how many distinct suppliers the benchmark documents have: the groups of
// BenchGroupBy over at least that many documents.
const BenchSuppliers = 97

// FillBenchRecords inserts n record-like documents into coll (ids R0000000…, a status of four,
// a creation time, and a data document of eight fields of several types), in batches of 1,000.
// The documents depend only on n: tests count on them.
func FillBenchRecords(ctx context.Context, s *Store, coll string, n int) error {
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	statuses := []string{"open", "approved", "rejected", "closed"}
	batch := make([]any, 0, 1000)
	for i := range n {
		batch = append(batch, bson.D{
			{Key: "_id", Value: fmt.Sprintf("R%07d", i)},
			{Key: "status", Value: statuses[i%len(statuses)]},
			{Key: "created_at", Value: base.Add(time.Duration(i*7919%n) * time.Minute)},
			{Key: "data", Value: bson.D{
				{Key: "qty", Value: float64(i%1000) / 4},
				{Key: "lot", Value: fmt.Sprintf("LOT-%05d", i%5000)},
				{Key: "supplier", Value: fmt.Sprintf("S%03d", i%BenchSuppliers)},
				{Key: "grade", Value: []string{"A", "B", "C"}[i%3]},
				{Key: "made_on", Value: base.Add(-time.Duration(i%400) * 24 * time.Hour)},
				{Key: "note", Value: "received in good order"},
				{Key: "ok", Value: i%5 != 0},
				{Key: "temp", Value: int32(i % 9)},
			}},
		})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := c.InsertMany(ctx, batch); err != nil {
				return fmt.Errorf("fill %s: %w", coll, err)
			}
			batch = batch[:0]
		}
	}
	return nil
}

// BenchListIndexes are the list indexes the forms engine declares for a form with a status
// model and one filterable field, supplier (forms.listIndexes): the id, the creation time,
// status then creation, the field.
func BenchListIndexes() []IndexSpec {
	created := IndexKey{Path: "created_at"}
	return []IndexSpec{
		{Keys: []IndexKey{{Path: "_id"}}},
		{Keys: []IndexKey{created}},
		{Keys: []IndexKey{{Path: "status"}, created}},
		{Keys: []IndexKey{{Path: "data.supplier"}}},
	}
}

// BenchPageQuery is the benchmarks' list page: the open records, newest first, 50.
func BenchPageQuery() Query {
	return Query{Where: Eq("status", "open"), Sort: []SortKey{{Path: "created_at", Desc: true}}, Limit: 50}
}

// BenchGroupBy is the benchmarks' group-by: records per supplier with the sum and the mean of
// the quantity.
func BenchGroupBy() Aggregation {
	return Aggregation{
		GroupBy:  []GroupKey{{Name: "supplier", Path: "data.supplier"}},
		Measures: []Measure{{Name: "n", Op: AggCount}, {Name: "qty", Op: AggSum, Path: "data.qty"}, {Name: "avg", Op: AggAvg, Path: "data.qty"}},
	}
}

// PlainSQL runs BenchPageQuery and BenchGroupBy as a person would write them by hand in SQL,
// on the store's own read pool over the same file, each against a plain expression index made
// for it: the baselines of the query benchmarks.
type PlainSQL struct {
	db          *sql.DB
	page, group string
}

// PlainSQLForBench makes the plain indexes on coll's table and returns its plain queries. Only
// on the embedded store.
func PlainSQLForBench(ctx context.Context, s *Store, coll string) (*PlainSQL, error) {
	if s.kind != KindEmbedded {
		return nil, fmt.Errorf("plain sql of %s: only on the embedded store", coll)
	}
	db, table, ok, err := s.emb.table(ctx, coll)
	if err != nil || !ok {
		return nil, fmt.Errorf("plain sql of %s: no table (%v)", coll, err)
	}
	w, err := s.emb.sql()
	if err != nil {
		return nil, err
	}
	// As the store's: status then creation then _id, ascending (read backwards for newest
	// first); the group key alone.
	indexes := map[string]string{
		"page":  `_ferretdb_sjson->>'$.status', _ferretdb_sjson->>'$.created_at', _ferretdb_sjson->>'$._id'`,
		"group": `_ferretdb_sjson->>'$.data.supplier'`,
	}
	for name, cols := range indexes {
		q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %s ON %s (%s)`, quoteIdent(table+"_plain_"+name), quoteIdent(table), cols)
		if _, err := w.ExecContext(ctx, q); err != nil {
			return nil, fmt.Errorf("plain sql of %s: %w", coll, err)
		}
	}
	t := quoteIdent(table)
	return &PlainSQL{
		db: db,
		page: `SELECT _ferretdb_sjson FROM ` + t + ` WHERE _ferretdb_sjson->>'$.status' = ?` +
			` ORDER BY _ferretdb_sjson->>'$.created_at' DESC, _ferretdb_sjson->>'$._id' DESC LIMIT 50`,
		group: `SELECT _ferretdb_sjson->>'$.data.supplier', count(*), total(_ferretdb_sjson->>'$.data.qty'), avg(_ferretdb_sjson->>'$.data.qty')` +
			` FROM ` + t + ` GROUP BY 1 ORDER BY 1`,
	}, nil
}

// Page reads the page of 50 (each document as its bytes) and returns how many it read.
func (p *PlainSQL) Page(ctx context.Context) (int, error) {
	rows, err := p.db.QueryContext(ctx, p.page, "open")
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var doc []byte
		if err := rows.Scan(&doc); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}

// Group runs the group-by and returns how many groups it read.
func (p *PlainSQL) Group(ctx context.Context) (int, error) {
	rows, err := p.db.QueryContext(ctx, p.group)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var k string
		var c int64
		var sum, avg float64
		if err := rows.Scan(&k, &c, &sum, &avg); err != nil {
			return n, err
		}
		n++
	}
	return n, rows.Err()
}
