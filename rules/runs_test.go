package rules

import (
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/forms"
)

// TestFailingActionRetriedThenVisible: an action that fails is retried by the bus and then
// parked as a dead delivery; every attempt is in the run log with its error.
func TestFailingActionRetriedThenVisible(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"bad_status","label":{"zh-CN":"坏状态"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"set_status","params":{"status":"no_such_state"}}]}`)
	e.lot(t, forms.Values{"lot": "F1"})
	var dead []engine.Delivery
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		all, err := e.k.Bus.Failed(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		dead = dead[:0]
		for _, d := range all {
			if d.Subscriber == RecordsSubscriber && d.State == engine.DeliveryDead {
				dead = append(dead, d)
			}
		}
		if len(dead) > 0 {
			break
		}
	}
	if len(dead) != 1 || dead[0].Attempts != 3 || !strings.Contains(dead[0].Error, "bad_status") {
		t.Fatalf("dead deliveries: %+v", dead)
	}
	runs := e.runs(t, "bad_status")
	if len(runs) != 3 {
		t.Fatalf("%d runs, want one per attempt", len(runs))
	}
	for _, r := range runs {
		if r.Outcome != OutcomeFailed || r.Actions[0].Error == "" || !strings.Contains(r.Error, "action 0 (set_status)") {
			t.Fatalf("run %+v", r)
		}
	}
}

// TestPruneRuns deletes runs older than the cut-off only.
func TestPruneRuns(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"every","label":{"zh-CN":"每条"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"record.lot"}}]}`)
	e.lot(t, forms.Values{"lot": "P1"})
	e.drain(t)
	e.clock.Add(48 * time.Hour)
	e.lot(t, forms.Values{"lot": "P2"})
	e.drain(t)
	n, err := e.rs.PruneRuns(e.ctx, e.clock.Now().Add(-24*time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("pruned %d %v", n, err)
	}
	if runs := e.runs(t, "every"); len(runs) != 1 || !runs[0].At.Equal(e.clock.Now().UTC()) {
		t.Fatalf("left: %+v", runs)
	}
}
