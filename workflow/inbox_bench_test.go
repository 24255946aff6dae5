package workflow

import (
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// BenchmarkInboxPage reads a page of 20 of one person's done box among 5,000 inbox entries of
// 50 people, and the counts of their boxes, through the engine (the query model over the
// declared index). In the same run it reads the same page as the engine did before: the
// hand-built filter through FerretDB (a scan of the collection on the embedded store). The
// second reports how many times slower it is than the first as "x-slower".
func BenchmarkInboxPage(b *testing.B) {
	e := newTestEnv(b, "", nil)
	coll, err := e.st.Collection(e.ctx, inboxCollection)
	if err != nil {
		b.Fatal(err)
	}
	boxes := []string{BoxTodo, BoxDone, BoxInitiated, BoxCC}
	const n = 5_000
	batch := make([]any, 0, 1000)
	for i := range n {
		id := fmt.Sprintf("gone%06d.1", i)
		at := monday.Add(-time.Duration(i) * time.Minute)
		d := inboxDoc{ID: id, User: fmt.Sprintf("u%02d", i%50), Box: boxes[i/50%4], Sort: sortKey(at, id), InstRev: 1,
			Instance: fmt.Sprintf("gone%06d", i), App: testApp, Flow: "f", Title: "receipt of flour", Started: at, State: StateRunning}
		d.Task.ID, d.Task.Created = id, at
		batch = append(batch, d)
		if len(batch) == cap(batch) {
			if _, err := coll.InsertMany(e.ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
	p := e.p("alice")
	p.Username = "u07"
	var now, before time.Duration
	b.Run("query-model", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			items, err := e.wf.Inbox(e.ctx, p, BoxDone, 20, "")
			if err != nil || len(items) != 20 {
				b.Fatalf("%d items, %v", len(items), err)
			}
			if _, err := e.wf.Counts(e.ctx, p); err != nil {
				b.Fatal(err)
			}
		}
		now = time.Since(start) / time.Duration(b.N)
	})
	b.Run("hand-built-filter", func(b *testing.B) {
		start := time.Now()
		for b.Loop() {
			opts := options.Find().SetSort(bson.D{{Key: "sort", Value: -1}}).SetLimit(20)
			got := 0
			err := e.st.Find(e.ctx, inboxCollection, bson.D{{Key: "user", Value: p.Username}, {Key: "box", Value: BoxDone}}, opts, func(bson.Raw) error { got++; return nil })
			if err != nil || got != 20 {
				b.Fatalf("%d items, %v", got, err)
			}
			counts := 0
			err = e.st.Find(e.ctx, inboxCollection, bson.D{{Key: "user", Value: p.Username}}, options.Find().SetProjection(bson.D{{Key: "box", Value: 1}}), func(bson.Raw) error { counts++; return nil })
			if err != nil || counts != n/50 {
				b.Fatalf("%d counted, %v", counts, err)
			}
		}
		before = time.Since(start) / time.Duration(b.N)
		if now > 0 {
			b.ReportMetric(float64(before)/float64(now), "x-slower")
		}
	})
}
