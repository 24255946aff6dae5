package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// benchStorageForm is the form the storage measurement fills: eight fields, among them an
// auto-number, a formula and a date (whose parts are stored with the record); the three a
// receiving list is searched by (lot, supplier, date) are filterable, so they have indexes.
const benchStorageForm = `{"key":"receipt","name":{"zh-CN":"收货"},"schema":{"type":"object","required":["material","qty"],"properties":{
	"lot":{"x-type":"autonumber","x-label":{"zh-CN":"批次"},"x-filterable":true,"x-options":{"pattern":"RM{yyMMdd}{seq:6}","reset":"day"}},
	"material":{"x-type":"text","x-label":{"zh-CN":"原料"}},
	"supplier":{"x-type":"text","x-label":{"zh-CN":"供应商"},"x-filterable":true},
	"qty":{"x-type":"number","x-label":{"zh-CN":"数量"},"minimum":0},
	"price":{"x-type":"money","x-label":{"zh-CN":"单价"}},
	"amount":{"x-type":"formula","x-label":{"zh-CN":"金额"},"x-options":{"expr":"qty * price"}},
	"grade":{"x-type":"select","x-label":{"zh-CN":"等级"},"x-options":{"options":[{"value":"a","label":{"zh-CN":"一级"}},{"value":"b","label":{"zh-CN":"二级"}}]}},
	"received":{"x-type":"date","x-label":{"zh-CN":"收货日期"},"x-filterable":true}}}}`

// benchStorage creates records records of an eight-field form through the form engine on a
// fresh embedded store — with the flow engine subscribed, as the server runs — lets the bus
// deliver their events, and reports the bytes the data folder's database holds per record,
// and which collections hold them.
// When keep is set the data folder is made there and kept, for a look with the sqlite3 shell.
func benchStorage(ctx context.Context, stdout io.Writer, records int, keep string, sync store.Sync) error {
	dir := keep
	if dir == "" {
		tmp, err := os.MkdirTemp("", "tcstorage")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	st, err := store.Open(ctx, store.Options{DataDir: dir, Logger: log, Synchronous: sync})
	if err != nil {
		return err
	}
	k := engine.NewKernel(st, engine.KernelOptions{Log: log, AuditKey: []byte("bench-audit-key-0123456789abcdef")})
	fsvc := forms.New(k, forms.Options{})
	workflow.New(k, workflow.Options{})
	if err := k.Start(ctx); err != nil {
		return err
	}
	defer k.Close(context.Background())
	sys := engine.SystemPrincipal()
	if _, err := fsvc.CreateApp(ctx, sys, forms.AppInput{Key: "plant", Name: engine.Text{ZH: "工厂", EN: "Plant"}}); err != nil {
		return err
	}
	if _, err := fsvc.SaveDraft(ctx, sys, "plant", []byte(benchStorageForm), 0); err != nil {
		return err
	}
	if _, err := fsvc.Publish(ctx, sys, "plant", "receipt"); err != nil {
		return err
	}
	empty, err := st.Footprint(ctx)
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range records {
		in := forms.Values{"material": "面粉 T65", "supplier": fmt.Sprintf("供应商 %03d", i%200), "qty": float64(i % 1000),
			"price": 3.5, "grade": "a", "received": "2026-11-25"}
		if _, err := fsvc.Create(ctx, sys, "plant", "receipt", in); err != nil {
			return err
		}
	}
	elapsed := time.Since(start)
	if err := k.Bus.Drain(ctx); err != nil {
		return err
	}
	fp, err := st.Footprint(ctx)
	if err != nil {
		return err
	}
	per := float64(fp.Bytes-empty.Bytes) / float64(records)
	var query int64
	for _, c := range fp.Collections {
		query += c.Indexes - c.IDIndexes
	}
	for _, c := range empty.Collections {
		query -= c.Indexes - c.IDIndexes
	}
	fmt.Fprintf(stdout, "\nstorage: %d records of an 8-field form (with the flow engine subscribed), created in %s\n", records, elapsed.Round(time.Millisecond))
	fmt.Fprintf(stdout, "  %.0f bytes a record: database pages in use after a WAL checkpoint, less the empty app's %d\n", per, empty.Bytes)
	fmt.Fprintf(stdout, "  %.0f bytes a record without the query indexes of the form's lists and the audit log (%.0f)\n", per-float64(query)/float64(records), float64(query)/float64(records))
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "  collection\tbytes\tbytes/record\t_id indexes\tquery indexes\t")
	for _, c := range fp.Collections {
		if c.Bytes < 16*int64(records) {
			continue // catalogues and definitions
		}
		r := float64(records)
		fmt.Fprintf(tw, "  %s\t%d\t%.0f\t%.0f\t%.0f\t\n", c.Name, c.Bytes, float64(c.Bytes)/r, float64(c.IDIndexes)/r, float64(c.Indexes-c.IDIndexes)/r)
	}
	return tw.Flush()
}
