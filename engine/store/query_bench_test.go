package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// Benchmarks of the query model on the embedded store against the same query written by hand
// as plain SQL on the same SQLite file (with its own plain expression index), in one run:
//
//	go test -run '^$' -bench 'QueryPage|Aggregate' -benchtime 200x ./engine/store/
//
// The ratios to read: page/store ÷ page/plain-sql at each size (the model's overhead: type
// ranks, decoding to BSON), page/store at 100,000 ÷ at 10,000 (flat: the index), and
// group/store ÷ group/plain-sql.

// benchStore fills collections of record-like documents once per run, with the list indexes
// the forms engine declares (query_benchkit.go).
type benchStore struct {
	s     *Store
	sizes map[int]string // size → collection
}

func newBenchStore(b *testing.B, sizes ...int) *benchStore {
	b.Helper()
	bs := &benchStore{s: openTestStore(b), sizes: map[int]string{}}
	ctx := context.Background()
	for _, n := range sizes {
		coll := fmt.Sprintf("bench%d", n)
		fillRecords(b, bs.s, coll, n)
		if err := bs.s.EnsureIndexes(ctx, coll, BenchListIndexes()); err != nil {
			b.Fatal(err)
		}
		bs.sizes[n] = coll
	}
	return bs
}

// plain is the same queries as hand-written SQL on the store's read pool (PlainSQLForBench).
func (bs *benchStore) plain(b *testing.B, coll string) *PlainSQL {
	b.Helper()
	p, err := PlainSQLForBench(context.Background(), bs.s, coll)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkQueryPage: the first page of 50 of a list filtered by status and sorted by creation
// time, newest first (BenchPageQuery), and the page after it (by cursor).
func BenchmarkQueryPage(b *testing.B) {
	sizes := []int{10_000, 100_000}
	bs := newBenchStore(b, sizes...)
	ctx := context.Background()
	q := BenchPageQuery()
	for _, n := range sizes {
		coll := bs.sizes[n]
		b.Run(fmt.Sprintf("store/%d", n), func(b *testing.B) {
			for b.Loop() {
				page, err := bs.s.Query(ctx, coll, q)
				if err != nil || len(page.Docs) != 50 {
					b.Fatalf("%v %v", page, err)
				}
			}
		})
		first, err := bs.s.Query(ctx, coll, q)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(fmt.Sprintf("store-next/%d", n), func(b *testing.B) {
			for b.Loop() {
				page, err := bs.s.Query(ctx, coll, withAfter(q, first.Next))
				if err != nil || len(page.Docs) != 50 {
					b.Fatalf("%v %v", page, err)
				}
			}
		})
		plain := bs.plain(b, coll)
		b.Run(fmt.Sprintf("plain-sql/%d", n), func(b *testing.B) {
			for b.Loop() {
				if got, err := plain.Page(ctx); err != nil || got != 50 {
					b.Fatalf("%d rows, %v", got, err)
				}
			}
		})
	}
}

// BenchmarkAggregate: documents per supplier with the sum and mean of a quantity, over
// 100,000 documents.
func BenchmarkAggregate(b *testing.B) {
	const n = 100_000
	bs := newBenchStore(b, n)
	ctx := context.Background()
	coll := bs.sizes[n]
	a := BenchGroupBy()
	b.Run(fmt.Sprintf("group-store/%d", n), func(b *testing.B) {
		for b.Loop() {
			res, err := bs.s.Aggregate(ctx, coll, a)
			if err != nil || len(res.Groups) != BenchSuppliers {
				b.Fatalf("%v %v", res, err)
			}
		}
	})
	// The plain query gets its own index on the key, as the store's has one.
	plain := bs.plain(b, coll)
	b.Run(fmt.Sprintf("group-plain-sql/%d", n), func(b *testing.B) {
		for b.Loop() {
			if got, err := plain.Group(ctx); err != nil || got != BenchSuppliers {
				b.Fatalf("%d groups, %v", got, err)
			}
		}
	})
	by := Aggregation{
		Where:    Eq("status", "open"),
		GroupBy:  []GroupKey{{Name: "month", Path: "data.made_on", Bucket: BucketMonth, Zone: shanghai(b)}},
		Measures: []Measure{{Name: "n", Op: AggCount}, {Name: "qty", Op: AggSum, Path: "data.qty"}},
	}
	b.Run(fmt.Sprintf("month-store/%d", n), func(b *testing.B) {
		for b.Loop() {
			if _, err := bs.s.Aggregate(ctx, coll, by); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func shanghai(b *testing.B) *time.Location {
	loc, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		b.Fatal(err)
	}
	return loc
}

// BenchmarkSJSONToBSON: reading one record-like document from FerretDB's JSON: with its header
// read (the first document of a page, or one whose header differs from the one before), and
// with the header of the document before (the rest of a page of one form's records).
func BenchmarkSJSONToBSON(b *testing.B) {
	s, ctx := openTestStore(b), context.Background()
	fillRecords(b, s, "one", 1)
	db, table, _, err := s.emb.table(ctx, "one")
	if err != nil {
		b.Fatal(err)
	}
	var text []byte
	if err := db.QueryRowContext(ctx, "SELECT CAST(_ferretdb_sjson AS BLOB) FROM "+quoteIdent(table)).Scan(&text); err != nil {
		b.Fatal(err)
	}
	for _, kept := range []bool{false, true} {
		name := "header-read"
		if kept {
			name = "header-kept"
		}
		b.Run(name, func(b *testing.B) {
			d := &sjDecoder{}
			b.SetBytes(int64(len(text)))
			for b.Loop() {
				if !kept {
					d.header = d.header[:0]
				}
				if _, err := d.decode(text, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
