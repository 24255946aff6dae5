package workflow

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// BenchmarkApproval runs instances of a two-node flow (start, approval by bob, approval by
// carol, end) through the engine: per instance a start and two approvals, i.e. three
// revisioned instance writes with their inbox projection, events and audit entries. In the
// same run it measures the baseline: three raw driver writes (one InsertOne, two ReplaceOne)
// of a document the size of the finished instance. The ratio engine/raw is reported as
// "x-raw". Records are created outside the timed part.
func BenchmarkApproval(b *testing.B) {
	e := newTestEnv(b, "", nil)
	e.install(b, flowDef("bench", "manual", "", startNode("a1"), approval("a1", ModeSingle, "a2", "bob"),
		approval("a2", ModeSingle, "end", "carol"), endNode("end", "", "")))
	ctx := context.Background()
	alice, bob, carol := e.p("alice"), e.p("bob"), e.p("carol")

	// The raw baseline writes a document shaped like a finished instance.
	sample := e.start(b, "bench", map[string]any{"material": "flour"})
	sample = e.act(b, sample.ID, "bob", "a1", ActInput{Action: ActApprove, Comment: "ok"})
	sample = e.act(b, sample.ID, "carol", "a2", ActInput{Action: ActApprove, Comment: "ok"})
	raw, err := bson.Marshal(sample)
	if err != nil {
		b.Fatal(err)
	}
	var doc bson.D
	if err := bson.Unmarshal(raw, &doc); err != nil {
		b.Fatal(err)
	}
	coll, err := e.st.Collection(ctx, "bench_raw_instances")
	if err != nil {
		b.Fatal(err)
	}

	var engineTime, rawTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		rec := e.record(b, map[string]any{"material": "flour", "qty": i})
		b.StartTimer()

		t0 := time.Now()
		inst, err := e.wf.Start(ctx, alice, testApp, "bench", rec)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := e.wf.Act(ctx, bob, inst.ID+".1", ActInput{Action: ActApprove}); err != nil {
			b.Fatal(err)
		}
		done, err := e.wf.Act(ctx, carol, inst.ID+".2", ActInput{Action: ActApprove})
		if err != nil {
			b.Fatal(err)
		}
		if done.State != StateApproved {
			b.Fatalf("instance %s", done.State)
		}
		t1 := time.Now()

		id := fmt.Sprintf("raw-%d", i)
		d := append(bson.D{{Key: "_id", Value: id}}, doc[1:]...)
		if _, err := coll.InsertOne(ctx, d); err != nil {
			b.Fatal(err)
		}
		for rev := 2; rev <= 3; rev++ {
			for j := range d {
				if d[j].Key == "_rev" {
					d[j].Value = int64(rev)
				}
			}
			if _, err := coll.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, d); err != nil {
				b.Fatal(err)
			}
		}
		t2 := time.Now()
		engineTime += t1.Sub(t0)
		rawTime += t2.Sub(t1)
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(engineTime.Nanoseconds())/n, "engine-ns/instance")
	b.ReportMetric(float64(rawTime.Nanoseconds())/n, "raw-ns/instance")
	b.ReportMetric(float64(engineTime)/float64(rawTime), "x-raw")
	b.ReportMetric(float64(len(raw)), "instance-bytes")
}
