package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// cmdBench measures the store primitives and the form engine against raw driver calls in one
// run, on a fresh store, and prints each as a ratio of its baseline. Speed targets are these
// ratios, not absolute times: they hold on any machine.
func cmdBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 2000, "operations per measurement")
	docs := fs.Int("docs", 100_000, "documents for the lookup measurement")
	mongoURI := fs.String("mongo-uri", "", "measure on this MongoDB instead of a temporary embedded store")
	records := fs.Int("records", 5000, "records for the storage measurement (embedded store only; 0 skips it)")
	storageOnly := fs.Bool("storage-only", false, "run only the storage measurement")
	sync := fs.String("sqlite-sync", string(store.DefaultSync), "the embedded store's synchronous setting: normal or full")
	storageDir := fs.String("storage-dir", "", "make the storage measurement's data folder here and keep it")
	importRows := fs.Int("import-rows", forms.MaxImportRows, "rows of the import measurement (0 skips it)")
	scan := fs.Bool("scan", false, "measure only the public scan page against /healthz (a served binary, loaded from this process)")
	scanClients := fs.Int("scan-clients", 8, "concurrent clients of the scan measurement")
	scanTime := fs.Duration("scan-time", 5*time.Second, "how long each path of the scan measurement is loaded")
	labels := fs.Bool("labels", false, "measure only rendering unique-QR labels to PDF, ZPL and TSPL against bare QR encoding")
	labelsN := fs.Int("labels-n", 10_000, "labels of the labels measurement")
	queryDocs := fs.Int("query-docs", 100_000, "records of the query measurement on the embedded store, beside a tenth as many (at most 10,000): pages and a group-by against plain SQL (0 skips it)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *queryDocs != 0 && *queryDocs < 10_000 {
		return fmt.Errorf("--query-docs %d: at least 10000, or 0 to skip the query measurement", *queryDocs)
	}
	syncMode, err := store.ParseSync(*sync)
	if err != nil {
		return fmt.Errorf("--sqlite-sync: %w", err)
	}
	if *labels {
		return benchLabels(ctx, stdout, *labelsN)
	}
	if *scan {
		return benchScan(ctx, stdout, *scanClients, *scanTime, 20_000)
	}
	if *storageOnly {
		return benchStorage(ctx, stdout, *records, *storageDir, syncMode)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := store.Options{MongoURI: *mongoURI, Logger: log, Database: fmt.Sprintf("tcbench_%d", time.Now().UnixNano()), Synchronous: syncMode}
	if *mongoURI == "" {
		dir, err := os.MkdirTemp("", "tcbench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		opts.DataDir = dir
	}
	st, err := store.Open(ctx, opts)
	if err != nil {
		return err
	}
	k := engine.NewKernel(st, engine.KernelOptions{Log: log})
	fsvc := forms.New(k, forms.Options{})
	wf := workflow.New(k, workflow.Options{})
	if err := k.Start(ctx); err != nil {
		return err
	}
	defer func() {
		if *mongoURI != "" {
			_ = st.Database().Drop(context.Background())
		}
		_ = k.Close(context.Background())
	}()

	fmt.Fprintf(stdout, "tracecraft bench on the %s store, %d operations each\n\n", st.Kind(), *n)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tops/s\tbaseline ops/s\tratio\t")
	report := func(name string, ops, base float64) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.2f\t\n", name, opsText(ops), opsText(base), ops/base)
	}
	rate := func(count int, fn func(i int) error) (float64, error) {
		start := time.Now()
		for i := 0; i < count; i++ {
			if err := fn(i); err != nil {
				return 0, err
			}
		}
		return float64(count) / time.Since(start).Seconds(), nil
	}
	doc := func(i int) bson.D {
		return bson.D{{Key: "lot", Value: fmt.Sprint("LOT-", i)}, {Key: "qty", Value: float64(i)}, {Key: "unit", Value: "kg"}}
	}
	raw, err := st.Collection(ctx, "bench_raw")
	if err != nil {
		return err
	}
	// Warm up the store (page cache, WAL) so the first measurement is not the slow one.
	if _, err := rate(*n/2, func(i int) error {
		_, err := raw.InsertOne(ctx, append(bson.D{{Key: "_id", Value: fmt.Sprint("w", i)}}, doc(i)...))
		return err
	}); err != nil {
		return err
	}
	rawInsert, err := rate(*n, func(i int) error {
		_, err := raw.InsertOne(ctx, append(bson.D{{Key: "_id", Value: fmt.Sprint("r", i)}}, doc(i)...))
		return err
	})
	if err != nil {
		return err
	}
	put, err := rate(*n, func(i int) error { return st.Put(ctx, "bench_put", fmt.Sprint("p", i), doc(i)) })
	if err != nil {
		return err
	}
	report("store Put (unique insert)", put, rawInsert)
	create, err := rate(*n, func(i int) error { return st.Create(ctx, "bench_rev", fmt.Sprint("c", i), doc(i)) })
	if err != nil {
		return err
	}
	report("store Create (revisioned)", create, rawInsert)
	next, err := rate(*n, func(i int) error { _, err := st.Next(ctx, "bench", 1); return err })
	if err != nil {
		return err
	}
	report("store Next (sequence)", next, rawInsert)

	// Lookups by _id stay flat as the collection grows.
	big, err := st.Collection(ctx, "bench_big")
	if err != nil {
		return err
	}
	batch := make([]any, 0, 1000)
	for i := 0; i < *docs; i++ {
		batch = append(batch, append(bson.D{{Key: "_id", Value: fmt.Sprintf("K%08d", i)}}, doc(i)...))
		if len(batch) == cap(batch) || i == *docs-1 {
			if _, err := big.InsertMany(ctx, batch); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	small := min(*docs, 1000)
	getSmall, err := rate(*n, func(i int) error {
		var out bson.M
		return st.Get(ctx, "bench_big", fmt.Sprintf("K%08d", (i*7919)%small), &out)
	})
	if err != nil {
		return err
	}
	getBig, err := rate(*n, func(i int) error {
		var out bson.M
		return st.Get(ctx, "bench_big", fmt.Sprintf("K%08d", (i*7919)%*docs), &out)
	})
	if err != nil {
		return err
	}
	report(fmt.Sprintf("Get by _id over %d docs (vs first %d)", *docs, small), getBig, getSmall)
	if err := benchFairness(ctx, st, *n, report); err != nil {
		return err
	}

	// A record through the form engine: validation, formula, auto-number, revision, audit, event.
	sys := engine.SystemPrincipal()
	if _, err := fsvc.CreateApp(ctx, sys, forms.AppInput{Key: "bench", Name: engine.Text{ZH: "基准", EN: "Bench"}}); err != nil {
		return err
	}
	def := []byte(`{"key":"receipt","name":{"zh-CN":"收货"},"schema":{"type":"object","required":["material","qty"],"properties":{
		"lot":{"x-type":"autonumber","x-label":{"zh-CN":"批次"},"x-options":{"pattern":"RM{yyMMdd}{seq:6}","reset":"day"}},
		"material":{"x-type":"text","x-label":{"zh-CN":"原料"}},
		"qty":{"x-type":"number","x-label":{"zh-CN":"数量"},"minimum":0},
		"price":{"x-type":"money","x-label":{"zh-CN":"单价"}},
		"amount":{"x-type":"formula","x-label":{"zh-CN":"金额"},"x-options":{"expr":"qty * price"}},
		"grade":{"x-type":"select","x-label":{"zh-CN":"等级"},"x-options":{"options":[{"value":"a","label":{"zh-CN":"一级"}},{"value":"b","label":{"zh-CN":"二级"}}]}},
		"received":{"x-type":"date","x-label":{"zh-CN":"收货日期"}}}}}`)
	if _, err := fsvc.SaveDraft(ctx, sys, "bench", def, 0); err != nil {
		return err
	}
	if _, err := fsvc.Publish(ctx, sys, "bench", "receipt"); err != nil {
		return err
	}
	record := func(i int) forms.Values {
		return forms.Values{"material": "面粉", "qty": float64(i % 1000), "price": 3.5, "grade": "a", "received": "2026-11-25"}
	}
	if err := benchCreates(ctx, st, fsvc, "bench", "receipt", *n, record, report); err != nil {
		return err
	}
	if *importRows > 0 {
		if err := benchImport(ctx, st, fsvc, "bench", "receipt", min(*importRows, forms.MaxImportRows), report); err != nil {
			return err
		}
	}

	// An approval: start + two single approvals through the flow engine, against three raw
	// writes (an insert and two replaces) of a document of the same size.
	for _, u := range []string{"bob", "carol"} {
		if _, err := k.Auth.CreateUser(ctx, sys, engine.UserInput{Username: u, DisplayName: u, Password: "bench-passw0rd"}); err != nil {
			return err
		}
	}
	flow := []byte(`{"key":"release","name":{"zh-CN":"放行"},"form":"receipt","trigger":{"on":"manual"},"nodes":[
		{"id":"start","type":"start","next":"a1"},
		{"id":"a1","type":"approval","assignees":[{"kind":"user","users":["bob"]}],"next":"a2"},
		{"id":"a2","type":"approval","assignees":[{"kind":"user","users":["carol"]}],"next":"end"},
		{"id":"end","type":"end","outcome":"approved"}]}`)
	if _, err := wf.SaveDraft(ctx, sys, "bench", flow, 0); err != nil {
		return err
	}
	if _, err := wf.Publish(ctx, sys, "bench", "release"); err != nil {
		return err
	}
	bob, carol := &engine.Principal{Username: "bob"}, &engine.Principal{Username: "carol"}
	flows := max(*n/10, 20)
	recs := make([]string, flows)
	for i := range recs {
		r, err := fsvc.Create(ctx, sys, "bench", "receipt", record(i))
		if err != nil {
			return err
		}
		recs[i] = r.ID
	}
	var size int
	approvals, err := rate(flows, func(i int) error {
		inst, err := wf.Start(ctx, sys, "bench", "release", recs[i])
		if err != nil {
			return err
		}
		if _, err := wf.Act(ctx, bob, inst.ID+".1", workflow.ActInput{Action: "approve"}); err != nil {
			return err
		}
		done, err := wf.Act(ctx, carol, inst.ID+".2", workflow.ActInput{Action: "approve"})
		if err == nil && i == 0 {
			raw, _ := bson.Marshal(done)
			size = len(raw)
		}
		return err
	})
	if err != nil {
		return err
	}
	rawInst, err := st.Collection(ctx, "bench_rawinst")
	if err != nil {
		return err
	}
	pad := bson.D{{Key: "pad", Value: string(make([]byte, size))}}
	rawFlows, err := rate(flows, func(i int) error {
		id := fmt.Sprint("i", i)
		if _, err := rawInst.InsertOne(ctx, append(bson.D{{Key: "_id", Value: id}}, pad...)); err != nil {
			return err
		}
		for range 2 {
			if _, err := rawInst.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, pad); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	report("flow start + 2 approvals vs 3 raw writes", approvals, rawFlows)
	if *mongoURI == "" && *queryDocs > 0 {
		if err := benchQuery(ctx, st, *n, *queryDocs, report); err != nil {
			return err
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\nratio = ops/s ÷ baseline ops/s, both measured in this run.")
	if *mongoURI == "" && *queryDocs > 0 {
		fmt.Fprintf(stdout, "query rows: each rate the best of %d rounds that run the queries in turn.\n", queryRounds)
	}
	if *mongoURI == "" && *records > 0 {
		return benchStorage(ctx, stdout, *records, *storageDir, syncMode)
	}
	return nil
}

// opsText writes a rate: whole operations a second, or two decimals below ten (a group-by over
// 100,000 records runs a few times a second).
func opsText(ops float64) string {
	if ops < 10 {
		return fmt.Sprintf("%.2f", ops)
	}
	return fmt.Sprintf("%.0f", ops)
}
