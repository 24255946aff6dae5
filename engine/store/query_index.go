package store

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// IndexKey is one key of an index: a path and its direction.
type IndexKey struct {
	Path string
	Desc bool
}

// IndexSpec declares one index for queries: its keys in order, then _id in the direction of the
// last key — the tie-break a Query adds — so a page filtered by equality on the leading keys
// and sorted by the rest comes out of the index in order.
type IndexSpec struct {
	Keys []IndexKey
}

// queryIndexTag marks the indexes EnsureIndexes owns (in SQLite "<table>_tcq_<hash>", in
// MongoDB "tcq_<hash>"); it drops those of them that are no longer declared.
const queryIndexTag = "tcq_"

// indexCols are the columns of a spec, as order columns.
func indexCols(spec IndexSpec, where string) ([]orderCol, error) {
	if len(spec.Keys) == 0 || len(spec.Keys) > maxSortKeys {
		return nil, qerr(where, "an index has 1 to %d keys", maxSortKeys)
	}
	var cols []orderCol
	idDesc := false
	seen := map[string]bool{}
	for i, k := range spec.Keys {
		fp, err := parsePath(k.Path, fmt.Sprintf("%s.keys.%d.path", where, i))
		if err != nil {
			return nil, err
		}
		if seen[fp.dotted] {
			return nil, qerr(where, "%q is a key twice", fp.dotted)
		}
		seen[fp.dotted] = true
		idDesc = k.Desc
		if fp.isID() {
			if i != len(spec.Keys)-1 {
				return nil, qerr(where, "_id is unique: it can only be the last key")
			}
			break
		}
		cols = append(cols, orderCol{rankExpr(fp), k.Desc}, orderCol{valueExpr(fp), k.Desc})
	}
	return append(cols, orderCol{idExpr, idDesc}), nil
}

// EnsureIndexes makes the collection's query indexes exactly the declared ones: on MongoDB as
// MongoDB indexes, on the embedded store as SQLite expression indexes on the collection's table
// whose expressions are the compiled query's (rank and value of each key, then _id), so the
// planner uses them for the conditions and the order. Indexes it made earlier that are no
// longer declared are dropped (they would only slow writes). The collection is created if it
// is missing. Building an index over a large collection holds writes for a while: declare
// indexes when a definition is published or at start-up, not per request.
func (s *Store) EnsureIndexes(ctx context.Context, coll string, specs []IndexSpec) error {
	type built struct {
		name string
		cols []orderCol
		spec IndexSpec
	}
	var want []built
	names := map[string]bool{}
	for i, spec := range specs {
		cols, err := indexCols(spec, fmt.Sprintf("indexes.%d", i))
		if err != nil {
			return fmt.Errorf("ensure indexes on %s: %w", coll, err)
		}
		var sig strings.Builder
		for _, c := range cols {
			fmt.Fprintf(&sig, "%s %v;", c.expr, c.desc)
		}
		sum := sha256.Sum256([]byte(sig.String()))
		name := queryIndexTag + hex.EncodeToString(sum[:6])
		if names[name] {
			continue
		}
		names[name] = true
		want = append(want, built{name: name, cols: cols, spec: spec})
	}
	c, err := s.Collection(ctx, coll)
	if err != nil {
		return err
	}
	if s.kind != KindEmbedded {
		var models []mongo.IndexModel
		for _, b := range want {
			var keys bson.D
			for _, k := range b.spec.Keys {
				dir := 1
				if k.Desc {
					dir = -1
				}
				keys = append(keys, bson.E{Key: k.Path, Value: dir})
			}
			if keys[len(keys)-1].Key != "_id" {
				keys = append(keys, bson.E{Key: "_id", Value: keys[len(keys)-1].Value})
			}
			if len(keys) == 1 {
				// {_id} alone: MongoDB's own _id index serves it both ways, and refuses a
				// second index on the same key under another name (IndexOptionsConflict).
				continue
			}
			models = append(models, mongo.IndexModel{Keys: keys, Options: options.Index().SetName(b.name)})
		}
		if len(models) > 0 {
			if _, err := c.Indexes().CreateMany(ctx, models); err != nil {
				return fmt.Errorf("ensure indexes on %s: %w", coll, err)
			}
		}
		specs, err := c.Indexes().ListSpecifications(ctx)
		if err != nil {
			return fmt.Errorf("ensure indexes on %s: %w", coll, err)
		}
		for _, sp := range specs {
			if strings.HasPrefix(sp.Name, queryIndexTag) && !names[sp.Name] {
				if err := c.Indexes().DropOne(ctx, sp.Name); err != nil {
					return fmt.Errorf("ensure indexes on %s: drop %s: %w", coll, sp.Name, err)
				}
			}
		}
		return nil
	}
	table, err := s.emb.tableOf(ctx, coll)
	if err != nil {
		return fmt.Errorf("ensure indexes on %s: %w", coll, err)
	}
	db, err := s.emb.sql()
	if err != nil {
		return err
	}
	// Plans made before the change may no longer be the plans (query_gate.go).
	defer s.emb.gate.forget()
	prefix := table + "_" + queryIndexTag
	for _, b := range want {
		var q strings.Builder
		fmt.Fprintf(&q, "CREATE INDEX IF NOT EXISTS %s ON %s (", quoteIdent(table+"_"+b.name), quoteIdent(table))
		for i, c := range b.cols {
			if i > 0 {
				q.WriteString(", ")
			}
			q.WriteString(c.expr)
			if c.desc {
				q.WriteString(" DESC")
			}
		}
		q.WriteString(")")
		if _, err := db.ExecContext(ctx, q.String()); err != nil {
			return fmt.Errorf("ensure indexes on %s: %w", coll, err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND substr(name, 1, ?) = ?`, table, len(prefix), prefix)
	if err != nil {
		return fmt.Errorf("ensure indexes on %s: %w", coll, err)
	}
	var stale []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return err
		}
		if !names[strings.TrimPrefix(n, table+"_")] {
			stale = append(stale, n)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, n := range stale {
		if _, err := db.ExecContext(ctx, "DROP INDEX IF EXISTS "+quoteIdent(n)); err != nil {
			return fmt.Errorf("ensure indexes on %s: drop %s: %w", coll, n, err)
		}
	}
	return nil
}
