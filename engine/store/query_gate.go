package store

import (
	"context"
	"database/sql"
	"fmt"
	"runtime"
	"strings"
	"sync"
)

// Fairness on the embedded store. SQLite here is Go code (modernc.org/sqlite): a statement
// that reads every document of a large collection keeps a core busy for as long as it runs,
// and the Go scheduler shares the cores among all goroutines alike. Four such reads on a
// 2-core machine left reads by _id (which cross several goroutines: driver, FerretDB, SQLite)
// waiting behind them at every hop — about a tenth of their rate (BenchmarkFairness). So the
// compiled queries are split in two:
//
//   - heavy reads — counts, aggregations, and pages whose plan scans the table or sorts it —
//     run at most heavySlots at a time (half the cores, at least one), the others waiting
//     their turn in order, for as long as their context lives;
//   - light reads — pages read from an index (a seek: by _id, by an indexed equality or range)
//     — never wait for a heavy one.
//
// Writes go through FerretDB's own connections and reads by _id through FerretDB too, so
// neither waits for the read pool; what the bound buys them is a free core. A page's kind comes
// from SQLite's plan of its statement, asked once per statement text and remembered until the
// collection's indexes change (EnsureIndexes).

// heavySlots is how many heavy reads run at once.
var heavySlots = max(1, runtime.GOMAXPROCS(0)/2)

// lightConns are the read pool's connections beyond the heavy slots: enough for a few light
// reads side by side while the heavy ones run.
const lightConns = 4

// maxPlans bounds the remembered plans; past it the memory starts again (statement texts vary
// with the shape of a query, not its values, so this is rarely reached).
const maxPlans = 4096

// readGate admits heavy reads heavySlots at a time and remembers which page statements are
// heavy.
type readGate struct {
	heavy chan struct{}

	mu    sync.Mutex
	plans map[string]bool // statement text → heavy
}

func newReadGate() *readGate {
	return &readGate{heavy: make(chan struct{}, heavySlots), plans: map[string]bool{}}
}

// enter waits for a heavy slot (or returns at once for a light read) and returns the function
// that gives it back. A read whose context ends while it waits returns the context's error.
func (g *readGate) enter(ctx context.Context, heavy bool) (release func(), err error) {
	if !heavy {
		return func() {}, nil
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	select {
	case g.heavy <- struct{}{}:
		return func() { <-g.heavy }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// row runs a heavy statement of one row (a count) and scans it into dest. The context ends
// it where it stands: the driver interrupts SQLite (sqlite3_interrupt) when the context is done
// while the statement runs, and the read returns the context's error.
func (g *readGate) row(ctx context.Context, db *sql.DB, q *sqlQuery, dest ...any) error {
	release, err := g.enter(ctx, true)
	if err != nil {
		return err
	}
	defer release()
	err = db.QueryRowContext(ctx, q.String(), q.args...).Scan(dest...)
	if ctx.Err() != nil {
		return ctx.Err() // an interrupted statement's error says "interrupted"
	}
	return err
}

// forget drops the remembered plans: indexes were made or dropped.
func (g *readGate) forget() {
	g.mu.Lock()
	clear(g.plans)
	g.mu.Unlock()
}

// heavyPage reports whether a page statement is heavy: SQLite's plan for it scans a table
// (with or without walking an index in order: a scan may read every row to fill a page) or
// sorts the matches in a temporary B-tree. A plan of seeks only is light.
func (g *readGate) heavyPage(ctx context.Context, db *sql.DB, q *sqlQuery) (bool, error) {
	text := q.String()
	g.mu.Lock()
	heavy, ok := g.plans[text]
	g.mu.Unlock()
	if ok {
		return heavy, nil
	}
	var plan strings.Builder
	if err := explainSQL(ctx, db, q, &plan); err != nil {
		return false, fmt.Errorf("plan: %w", err)
	}
	heavy = heavyPlan(plan.String())
	g.mu.Lock()
	if len(g.plans) >= maxPlans {
		clear(g.plans)
	}
	g.plans[text] = heavy
	g.mu.Unlock()
	return heavy, nil
}

// heavyPlan reads an EXPLAIN QUERY PLAN (one step a line). A seek on _id's own index (the
// query names some ids) is light even when its few matches are then sorted.
func heavyPlan(plan string) bool {
	if strings.Contains(plan, idIndexSuffix+" (") {
		return false
	}
	for _, line := range strings.Split(plan, "\n") {
		if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "VIRTUAL TABLE") || strings.Contains(line, "TEMP B-TREE") {
			return true
		}
	}
	return false
}
