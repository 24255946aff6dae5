package main

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// benchImport imports a CSV file of rows goods receipts into app/form through the form engine
// (Service.Import, which runs an import job to its end: every row checked, then written
// forms.ImportBatch at a time with their audit entries and events, all or nothing), and then
// inserts the very document the engine stored, rows times, with raw InsertMany calls of
// forms.ImportBatch into the form's own collection, whose query indexes every insert pays. It
// reports both rates, and the import's seconds in the measurement's name.
func benchImport(ctx context.Context, st *store.Store, fsvc *forms.Service, app, form string, rows int, report func(string, float64, float64)) error {
	var file bytes.Buffer
	file.WriteString("原料,数量,单价,等级,收货日期\n")
	for i := range rows {
		fmt.Fprintf(&file, "面粉,%d,3.5,一级,2026-11-25\n", i%1000)
	}
	start := time.Now()
	rep, err := fsvc.Import(ctx, engine.SystemPrincipal(), app, form, forms.FormatCSV, bytes.NewReader(file.Bytes()), false, engine.LangZH)
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	took := time.Since(start)
	if rep.Imported != rows {
		return fmt.Errorf("import: %d of %d rows written: %+v", rep.Imported, rows, rep.Errors)
	}
	list, err := fsvc.List(ctx, engine.SystemPrincipal(), app, form, forms.ListQuery{Limit: 1})
	if err != nil || len(list.Items) == 0 {
		return fmt.Errorf("import: read back: %v", err)
	}
	var stored bson.D
	if err := st.Get(ctx, forms.RecordsCollection(app, form), list.Items[0].ID, &stored); err != nil {
		return err
	}
	own, err := st.Collection(ctx, forms.RecordsCollection(app, form))
	if err != nil {
		return err
	}
	rawStart := time.Now()
	docs := make([]any, 0, forms.ImportBatch)
	for i := range rows {
		docs = append(docs, append(bson.D{{Key: "_id", Value: fmt.Sprintf("rawimp%018d", i)}}, stored[1:]...))
		if len(docs) == cap(docs) || i == rows-1 {
			if _, err := own.InsertMany(ctx, docs); err != nil {
				return err
			}
			docs = docs[:0]
		}
	}
	raw := time.Since(rawStart)
	report(fmt.Sprintf("import of %d rows (%.1f s), rows/s vs raw InsertMany of %d", rows, took.Seconds(), forms.ImportBatch),
		float64(rows)/took.Seconds(), float64(rows)/raw.Seconds())
	return nil
}
