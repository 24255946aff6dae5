package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
)

// Footprint is how much disk the embedded store's database takes, measured after its WAL was
// checkpointed into the main file: Bytes is the pages in use (page count less the free list),
// so the number does not depend on when SQLite last vacuumed. Collections splits it by
// collection (each FerretDB table with its indexes), largest first.
type Footprint struct {
	Bytes       int64
	Collections []CollectionFootprint
}

// CollectionFootprint is one collection's share of a Footprint: Bytes in all, of which Indexes
// in its SQLite indexes, of which IDIndexes in the two on _id (FerretDB's unique one and the
// store's); the rest are query indexes (EnsureIndexes).
type CollectionFootprint struct {
	Name      string
	Bytes     int64
	Indexes   int64
	IDIndexes int64
}

// Footprint checkpoints the embedded store's WAL (TRUNCATE) and measures its database file.
// MongoDB has no such measure: it answers an error.
func (s *Store) Footprint(ctx context.Context) (Footprint, error) {
	if s.emb == nil {
		return Footprint{}, errors.New("footprint: only the embedded store has a data folder to measure")
	}
	db, err := s.emb.sql()
	if err != nil {
		return Footprint{}, fmt.Errorf("footprint: %w", err)
	}
	var busy, logPages, moved int64
	if err := db.QueryRowContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`).Scan(&busy, &logPages, &moved); err != nil {
		return Footprint{}, fmt.Errorf("footprint: checkpoint: %w", err)
	}
	var pages, free, size int64
	for q, v := range map[string]*int64{`PRAGMA page_count`: &pages, `PRAGMA freelist_count`: &free, `PRAGMA page_size`: &size} {
		if err := db.QueryRowContext(ctx, q).Scan(v); err != nil {
			return Footprint{}, fmt.Errorf("footprint: %s: %w", q, err)
		}
	}
	fp := Footprint{Bytes: (pages - free) * size}
	// dbstat gives each table's and index's pages; FerretDB's catalogue maps tables to
	// collections, and an index is counted with its table.
	rows, err := db.QueryContext(ctx, `SELECT c.name, SUM(d.pgsize), SUM(CASE WHEN m.type = 'index' THEN d.pgsize ELSE 0 END),
		SUM(CASE WHEN m.type = 'index' AND m.name IN (c.table_name || '__id_', c.table_name || ?) THEN d.pgsize ELSE 0 END)
		FROM dbstat d JOIN sqlite_schema m ON m.name = d.name
		JOIN _ferretdb_collections c ON c.table_name = m.tbl_name
		GROUP BY c.name`, idIndexSuffix)
	if err != nil {
		return fp, nil // no dbstat in this build: the total alone
	}
	defer rows.Close()
	for rows.Next() {
		var c CollectionFootprint
		if err := rows.Scan(&c.Name, &c.Bytes, &c.Indexes, &c.IDIndexes); err != nil {
			return Footprint{}, fmt.Errorf("footprint: %w", err)
		}
		fp.Collections = append(fp.Collections, c)
	}
	if err := rows.Err(); err != nil {
		return Footprint{}, fmt.Errorf("footprint: %w", err)
	}
	sort.Slice(fp.Collections, func(i, j int) bool { return fp.Collections[i].Bytes > fp.Collections[j].Bytes })
	return fp, nil
}
