package forms

import (
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// ImportBatch is how many records an import writes with one store call (and their audit
// entries with another).
const ImportBatch = 500

// importWriteTimeout bounds the two store calls of one batch, which run to their end once begun
// (as Kernel.Commit's write does): a batch is never left between its entries and its records by
// a context that ends.
const importWriteTimeout = time.Minute

// putManyFunc stores documents in one call (store.Store.PutMany; tests pass one that fails).
type putManyFunc func(ctx context.Context, coll string, docs []any) (int, error)

// writeImport creates the records of the plan's rows under import batch batch, ImportBatch at a
// time: each row goes through the save pipeline again, drawing its auto-numbers (from blocks
// reserved ahead: Store.Draw); then the batch's audit entries — one per record, naming its write
// and carrying its record.created event — are appended in one insert (journal), and the records
// stored with another (put). The entries stay open: the caller settles the journal once the
// import is committed, or voids it when it takes the records back. written is told the records
// written after each batch. It returns how many were written, and the first error, with its row.
func (s *Service) writeImport(ctx context.Context, pl *importPlan, batch string, journal *engine.Journal, put putManyFunc, written func(n int)) (int, error) {
	c, p := pl.c, pl.p
	coll := RecordsCollection(c.App, c.Key)
	size := max(s.importBatch, 1)
	ws := make([]engine.Write, 0, size)
	docs := make([]any, 0, size)
	n, first, last := 0, 0, 0
	flush := func() error {
		if len(docs) == 0 {
			return nil
		}
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), importWriteTimeout)
		defer cancel()
		if err := journal.Append(wctx, ws); err != nil {
			return err
		}
		if _, err := put(wctx, coll, docs); err != nil {
			return err
		}
		n += len(docs)
		ws, docs = ws[:0], docs[:0]
		if written != nil {
			written(n)
		}
		return nil
	}
	var failed error
	pl.rows(func(row int, input Values) bool {
		if err := ctx.Err(); err != nil {
			failed = err
			return false
		}
		if len(docs) == 0 {
			first = row
		}
		last = row
		id := newID(s.now())
		data, err := s.prepareData(s.valueContext(ctx, p, c, id), c, pl.acc.rulesFor(ctx, newRecordStub(p, input), ActCreate), nil, input, true, true)
		if err == nil {
			err = s.bindFiles(ctx, c.App, c.Key, id, newFileUses(c.Fields, nil, data))
		}
		if err != nil {
			failed = fmt.Errorf("row %d: %w", row, err)
			return false
		}
		doc := s.newRecordDoc(p, c, id, data, batch)
		rec := doc.record()
		ws = append(ws, recordWrite(p, "record.create", EventCreated, rec, nil, rec.Data))
		docs = append(docs, doc)
		if len(docs) == size {
			if err := flush(); err != nil {
				failed = fmt.Errorf("%s: %w", rowSpan(first, row), err)
				return false
			}
		}
		return true
	})
	if failed == nil {
		if err := flush(); err != nil {
			failed = fmt.Errorf("%s: %w", rowSpan(first, last), err)
		}
	}
	if failed != nil {
		return n, fmt.Errorf("import into %s/%s: %w", c.App, c.Key, failed)
	}
	return n, nil
}

// rowSpan names the rows of a batch.
func rowSpan(first, last int) string {
	if first == last {
		return fmt.Sprintf("row %d", first)
	}
	return fmt.Sprintf("rows %d to %d", first, last)
}

// takeBack removes the records import batch wrote and voids their audit entries, so that their
// events are never delivered; the numbers they drew stay used. It runs even when ctx has ended
// (a stop is a common cause), and records the rollback in the audit log.
func (s *Service) takeBack(ctx context.Context, pl *importPlan, batch string, journal *engine.Journal, written int, cause error) error {
	ctx = context.WithoutCancel(ctx)
	removed, err := s.removeImportBatch(ctx, pl.c.App, pl.c.Key, batch)
	if err != nil {
		return err
	}
	if err := journal.Void(ctx, "import "+batch+" rolled back: "+cause.Error()); err != nil {
		// Their records are gone: the entries left open are voided by the audit's retries.
		s.k.Log.Error("audit entries of an import taken back not voided yet; retried later", "batch", batch, "err", err)
	}
	s.audit(ctx, pl.p, "record.import.rollback", "form", pl.c.App+"/"+pl.c.Key, nil, map[string]any{
		"batch": batch, "written": written, "removed": removed, "cause": cause.Error(),
	})
	return nil
}

// removeImportBatch deletes the records of import batch from app/form's collection, and their
// revisions, and says how many records it deleted.
func (s *Service) removeImportBatch(ctx context.Context, app, form, batch string) (int64, error) {
	name := RecordsCollection(app, form)
	var removed int64
	for _, coll := range []struct {
		name, field string
	}{{name, "import"}, {store.RevisionsCollection(name), "doc.import"}} {
		mc, err := s.st.Collection(ctx, coll.name)
		if err != nil {
			return 0, err
		}
		var n int64
		if h := s.importHooks.deleteBatch; h != nil {
			n, err = h(ctx, coll.name, coll.field, batch)
		} else {
			var res *mongo.DeleteResult
			if res, err = mc.DeleteMany(ctx, bson.D{{Key: coll.field, Value: batch}}); err == nil {
				n = res.DeletedCount
			}
		}
		if err != nil {
			return 0, fmt.Errorf("delete import %s from %s: %w", batch, coll.name, err)
		}
		if coll.name == name {
			removed = n
		}
	}
	return removed, nil
}
