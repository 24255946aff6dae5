package store

import (
	"context"
	"database/sql"
	"errors"
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
//   - heavy reads — aggregations, and pages and counts whose plan scans the table, sorts it,
//     or reads an index range open at one end while it filters on a field that index does
//     not hold (it may read to the end of the index to find a few matches) — run at most
//     heavySlots at a time (half the cores, at least one), the others waiting their turn in
//     order, for as long as their context lives;
//   - light reads — pages and counts read from a bounded part of an index (a seek: by _id,
//     by an indexed equality or a range with both ends, or an open range whose every match
//     counts), and any page or count of a table of at most lightRows rows — never wait for a
//     heavy one. A list of a small form and its count never wait behind an aggregation.
//
// Writes go through FerretDB's own connections and reads by _id through FerretDB too, so
// neither waits for the read pool; what the bound buys them is a free core. A statement's kind
// comes from SQLite's plan of it, asked once per statement text and remembered until the
// collection's indexes change (EnsureIndexes); a table's size is asked when the plan is heavy
// (max(rowid), a seek: FerretDB's tables have rowids, and a table holds at most that many
// rows).

// heavySlots is how many heavy reads run at once.
var heavySlots = max(1, runtime.GOMAXPROCS(0)/2)

// lightConns are the read pool's connections beyond the heavy slots: enough for a few light
// reads side by side while the heavy ones run.
const lightConns = 4

// lightRows is the most rows a table may hold for every read of it to be light: reading
// that many documents costs about what a seek does.
var lightRows int64 = 1000

// maxPlans bounds the remembered plans; past it the memory starts again (statement texts vary
// with the shape of a query, not its values, so this is rarely reached).
const maxPlans = 4096

// readGate admits heavy reads heavySlots at a time and remembers which page statements are
// heavy.
type readGate struct {
	heavy chan struct{}

	mu    sync.Mutex
	plans map[string]bool // statement text → heavy
	// gen counts forget's calls: a plan asked before one is not remembered after it (it may
	// predate the indexes made or dropped).
	gen uint64
	// indexes holds the text of the indexes plans use (name → CREATE INDEX text); names are
	// hashes of what the index holds, so the text of a name never changes.
	indexes map[string]string
	// explained, when set (tests), runs between a plan's EXPLAIN and its remembering.
	explained func()
}

func newReadGate() *readGate {
	return &readGate{heavy: make(chan struct{}, heavySlots), plans: map[string]bool{}, indexes: map[string]string{}}
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

// row runs a statement of one row (a count), after a heavy slot when heavy, and scans it into
// dest. The context ends it where it stands: the driver interrupts SQLite (sqlite3_interrupt)
// when the context is done while the statement runs, and the read returns the context's error.
func (g *readGate) row(ctx context.Context, db *sql.DB, q *sqlQuery, heavy bool, dest ...any) error {
	release, err := g.enter(ctx, heavy)
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
	g.gen++
	g.mu.Unlock()
}

// heavyRead reports whether statement q — a page (capped), or a count, capped or not
// (uncapped) — over table, with condition w, is heavy: its plan is (heavyStatement), and the
// table may hold more than lightRows rows.
func (g *readGate) heavyRead(ctx context.Context, db *sql.DB, q *sqlQuery, table string, w *cnode, uncapped bool) (bool, error) {
	heavy, err := g.heavyStatement(ctx, db, q, w, uncapped)
	if err != nil || !heavy {
		return heavy, err
	}
	var top sql.NullInt64
	if err := db.QueryRowContext(ctx, "SELECT max(rowid) FROM "+quoteIdent(table)).Scan(&top); err != nil {
		return false, fmt.Errorf("size of %s: %w", table, err)
	}
	return top.Int64 > lightRows, nil
}

// heavyStatement reports whether SQLite's plan for statement q, with condition w, is heavy:
// it scans a table or sorts in a temporary B-tree (heavyPlan), or it reads an index range open
// at one end (openRange) and then filters on a field that index does not hold, or counts every
// match (uncapped) — either may read to the index's end. The answer is remembered per
// statement text, unless the indexes changed (forget) while it was asked.
func (g *readGate) heavyStatement(ctx context.Context, db *sql.DB, q *sqlQuery, w *cnode, uncapped bool) (bool, error) {
	text := q.String()
	g.mu.Lock()
	heavy, ok := g.plans[text]
	gen := g.gen
	g.mu.Unlock()
	if ok {
		return heavy, nil
	}
	var plan strings.Builder
	if err := explainSQL(ctx, db, q, &plan); err != nil {
		return false, fmt.Errorf("plan: %w", err)
	}
	heavy = heavyPlan(plan.String())
	if index, open := openRange(plan.String()); !heavy && open {
		heavy = uncapped
		if !heavy {
			held, err := g.indexText(ctx, db, index)
			if err != nil {
				return false, fmt.Errorf("plan: %w", err)
			}
			heavy = !holdsAll(held, w)
		}
	}
	if g.explained != nil {
		g.explained()
	}
	g.mu.Lock()
	if g.gen == gen {
		if len(g.plans) >= maxPlans {
			clear(g.plans)
		}
		g.plans[text] = heavy
	}
	g.mu.Unlock()
	return heavy, nil
}

// indexText is the CREATE INDEX text of index name.
func (g *readGate) indexText(ctx context.Context, db *sql.DB, name string) (string, error) {
	g.mu.Lock()
	text, ok := g.indexes[name]
	g.mu.Unlock()
	if ok {
		return text, nil
	}
	var sqlText sql.NullString
	err := db.QueryRowContext(ctx, `SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?`, name).Scan(&sqlText)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil // dropped since: it holds nothing
	}
	if err != nil {
		return "", err
	}
	g.mu.Lock()
	if len(g.indexes) >= maxPlans {
		clear(g.indexes)
	}
	g.indexes[name] = sqlText.String
	g.mu.Unlock()
	return sqlText.String, nil
}

// holdsAll tells whether the index whose text is index holds every field w filters on (so
// that no row it yields is dropped by a condition it cannot check). _id is in every index.
func holdsAll(index string, w *cnode) bool {
	if w == nil {
		return true
	}
	if w.leaf != nil {
		return w.leaf.path.isID() || !w.leaf.each && strings.Contains(index, valueExpr(w.leaf.path))
	}
	for _, n := range append(append([]*cnode{}, w.and...), w.or...) {
		if !holdsAll(index, n) {
			return false
		}
	}
	return true
}

// openRange finds, in a plan, a search of an index over a range open at one end: its
// constraint has a bound on one side (> or <), not both, and no equality on a field (a field's
// equality is two: its rank and its value; a range is its rank's equality and its value's
// bound). Such a read goes from the bound to the index's end. It returns the index's name.
func openRange(plan string) (index string, open bool) {
	for _, line := range strings.Split(plan, "\n") {
		if !strings.HasPrefix(line, "SEARCH ") || strings.Contains(line, idIndexSuffix+" (") {
			continue
		}
		at := strings.Index(line, " INDEX ")
		paren := strings.LastIndex(line, " (")
		if at < 0 || paren < at {
			continue
		}
		cons := line[paren:]
		lt, gt := strings.Contains(cons, "<?"), strings.Contains(cons, ">?")
		if lt != gt && strings.Count(cons, "=?") < 2 {
			return line[at+len(" INDEX ") : paren], true
		}
	}
	return "", false
}

// heavyPlan reads an EXPLAIN QUERY PLAN (one step a line). A seek on _id's own index (the
// query names some ids) is light even when its few matches are then sorted. The scan of a
// count's subquery (its capped matches) is not a scan of a table.
func heavyPlan(plan string) bool {
	if strings.Contains(plan, idIndexSuffix+" (") {
		return false
	}
	for _, line := range strings.Split(plan, "\n") {
		if strings.HasPrefix(line, "SCAN ") && !strings.Contains(line, "VIRTUAL TABLE") && !strings.HasPrefix(line, "SCAN (subquery") ||
			strings.Contains(line, "TEMP B-TREE") {
			return true
		}
	}
	return false
}
