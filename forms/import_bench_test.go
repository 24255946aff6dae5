package forms_test

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/forms"
)

// benchImportRows is the size of the import the benchmark runs: the most one import may hold.
const benchImportRows = forms.MaxImportRows

// benchImportCSV is a CSV file of n goods receipts (benchReceipt), headed by the field labels.
func benchImportCSV(n int) []byte {
	var b bytes.Buffer
	b.WriteString("供应商,重量,单价,等级,到货日期\n")
	grades := map[string]string{"a": "甲", "b": "乙", "c": "丙"}
	for i := range n {
		v := benchReceipt(i)
		fmt.Fprintf(&b, "%s,%v,%v,%s,%s\n", v["supplier"], v["weight"], v["price"], grades[v["grade"].(string)], v["received_on"])
	}
	return b.Bytes()
}

// BenchmarkImport imports a file of 10,000 goods receipts through the engine (Service.Import,
// which runs an import job to its end: every row checked, then written 500 at a time with their
// audit entries and events, all or nothing) and, in the same run, inserts the documents the
// engine stores for them with raw InsertMany calls of 500 into the form's own collection (whose
// query indexes every insert pays). import-s is the seconds an import takes (issue 8 item 5: ≤ 10 s), rows/s its rate, and
// import/raw how many times the raw inserts' time it takes.
func BenchmarkImport(b *testing.B) {
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	fs, st := benchEngine(b, benchReceiptDef)
	file := benchImportCSV(benchImportRows)
	var inImport, inRaw time.Duration
	for i := 0; b.Loop(); i++ {
		t0 := time.Now()
		rep, err := fs.Import(ctx, sys, benchApp, "receipt", forms.FormatCSV, bytes.NewReader(file), false, engine.LangZH)
		if err != nil || rep.Imported != benchImportRows {
			b.Fatalf("import: %+v %v", rep, err)
		}
		inImport += time.Since(t0)
		c, err := st.Collection(ctx, forms.RecordsCollection(benchApp, "receipt"))
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UTC()
		t1 := time.Now()
		docs := make([]any, 0, forms.ImportBatch)
		for r := range benchImportRows {
			docs = append(docs, benchRawReceipt(i*benchImportRows+r, now))
			if len(docs) == cap(docs) {
				if _, err := c.InsertMany(ctx, docs); err != nil {
					b.Fatal(err)
				}
				docs = docs[:0]
			}
		}
		inRaw += time.Since(t1)
	}
	b.ReportMetric(inImport.Seconds()/float64(b.N), "import-s")
	b.ReportMetric(float64(b.N*benchImportRows)/inImport.Seconds(), "rows/s")
	b.ReportMetric(float64(b.N*benchImportRows)/inRaw.Seconds(), "raw-rows/s")
	b.ReportMetric(float64(inImport)/float64(inRaw), "import/raw")
}
