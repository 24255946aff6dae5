package main

import (
	"context"
	"fmt"
	"time"

	"tracecraft/engine/store"
)

// queryRounds is how many rounds the query measurement takes of each query; a round runs every
// contender in turn, and each keeps its fastest round. Best of rounds, interleaved, because the
// contenders are compared with each other: whatever else the machine is doing slows some
// rounds, and only a round left alone says what a query costs.
const queryRounds = 5

// queryReport is what the query measurement found: rates in queries a second (each a rate of
// its best round), at Small and Big records.
type queryReport struct {
	Small, Big           int
	PageStore, PagePlain [2]float64 // [0] at Small, [1] at Big
	GroupStore           float64    // at Big
	GroupPlain           float64
}

// queryDocsSmall is the smaller collection of the query measurement: 10,000 records, or a tenth
// of docs when that is less.
func queryDocsSmall(docs int) int { return min(10_000, docs/10) }

// measureQuery fills two collections of record-like documents (store.FillBenchRecords) — small
// and docs records — with the list indexes the forms engine declares, and times, n times each
// over queryRounds rounds, the filtered and sorted page of 50 (store.BenchPageQuery) through the
// query model and as plain SQL on the same file, at both sizes; and the group-by
// (store.BenchGroupBy) over the larger collection, n/20 times. Embedded store only: plain SQL
// needs the file.
func measureQuery(ctx context.Context, st *store.Store, n, docs int) (*queryReport, error) {
	if docs < 10_000 {
		return nil, fmt.Errorf("query measurement: --query-docs %d: at least 10000 (or 0 to skip it)", docs)
	}
	rep := &queryReport{Small: queryDocsSmall(docs), Big: docs}
	type side struct {
		coll  string
		plain *store.PlainSQL
	}
	var sides [2]side
	for i, size := range []int{rep.Small, rep.Big} {
		coll := fmt.Sprintf("bench_query_%d", size)
		if err := store.FillBenchRecords(ctx, st, coll, size); err != nil {
			return nil, err
		}
		if err := st.EnsureIndexes(ctx, coll, store.BenchListIndexes()); err != nil {
			return nil, err
		}
		plain, err := store.PlainSQLForBench(ctx, st, coll)
		if err != nil {
			return nil, err
		}
		sides[i] = side{coll, plain}
	}
	q, a := store.BenchPageQuery(), store.BenchGroupBy()
	page := func(coll string) func() error {
		return func() error {
			p, err := st.Query(ctx, coll, q)
			if err == nil && len(p.Docs) != q.Limit {
				err = fmt.Errorf("query measurement: a page of %d", len(p.Docs))
			}
			return err
		}
	}
	plainPage := func(p *store.PlainSQL) func() error {
		return func() error {
			got, err := p.Page(ctx)
			if err == nil && got != q.Limit {
				err = fmt.Errorf("query measurement: a plain page of %d", got)
			}
			return err
		}
	}
	group := func() error {
		res, err := st.Aggregate(ctx, sides[1].coll, a)
		if err == nil && len(res.Groups) != store.BenchSuppliers {
			err = fmt.Errorf("query measurement: %d groups", len(res.Groups))
		}
		return err
	}
	plainGroup := func() error {
		got, err := sides[1].plain.Group(ctx)
		if err == nil && got != store.BenchSuppliers {
			err = fmt.Errorf("query measurement: %d plain groups", got)
		}
		return err
	}
	pages := max(n/queryRounds, 1)
	groups := max(n/20/queryRounds, 1)
	contenders := []struct {
		fn    func() error
		count int
		rate  *float64
	}{
		{page(sides[0].coll), pages, &rep.PageStore[0]},
		{plainPage(sides[0].plain), pages, &rep.PagePlain[0]},
		{page(sides[1].coll), pages, &rep.PageStore[1]},
		{plainPage(sides[1].plain), pages, &rep.PagePlain[1]},
		{group, groups, &rep.GroupStore},
		{plainGroup, groups, &rep.GroupPlain},
	}
	// Round 0 warms the caches and counts for nothing.
	for round := 0; round <= queryRounds; round++ {
		for _, c := range contenders {
			start := time.Now()
			for range c.count {
				if err := c.fn(); err != nil {
					return nil, err
				}
			}
			if rate := float64(c.count) / time.Since(start).Seconds(); round > 0 && rate > *c.rate {
				*c.rate = rate
			}
		}
	}
	return rep, nil
}

// benchQuery measures the query model (measureQuery) and reports the ratios issue #8 sets as
// targets, each named in its line: the page at either size against plain SQL (the query
// model's own cost: ≥ 0.5, within 2× of plain SQL), the page at the larger size against the
// smaller (flat: ≥ 0.67, at most 1.5× the time), the group-by against plain SQL (≥ 0.67).
func benchQuery(ctx context.Context, st *store.Store, n, docs int, report func(string, float64, float64)) error {
	rep, err := measureQuery(ctx, st, n, docs)
	if err != nil {
		return err
	}
	for i, size := range []int{rep.Small, rep.Big} {
		report(fmt.Sprintf("query page of 50 at %d vs plain SQL (target ≥ 0.50)", size), rep.PageStore[i], rep.PagePlain[i])
	}
	report(fmt.Sprintf("query page of 50 at %d vs at %d (flat: target ≥ 0.67)", rep.Big, rep.Small), rep.PageStore[1], rep.PageStore[0])
	report(fmt.Sprintf("query group-by over %d vs plain SQL (target ≥ 0.67)", rep.Big), rep.GroupStore, rep.GroupPlain)
	return nil
}
