package workflow

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
	"tracecraft/rules"
)

// Regression tests of the third security review, the workflow parts.

const review3Lot = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "schema": {"type": "object", "properties": {
    "lot": {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}}
  }},
  "status": {
    "initial": "ok",
    "states": [{"key": "ok", "label": {"zh-CN": "合格"}}, {"key": "held", "label": {"zh-CN": "冻结"}}],
    "transitions": [{"key": "release", "label": {"zh-CN": "放行"}, "from": ["held"], "to": "ok"}]
  }
}`

// TestReview3_ChainDepthThroughWorkflow: a flow that starts when a lot is created and holds
// it (by its end node's status, or by an action node), and a rule "a lot held ⇒ create a lot",
// fire each other. The bus hands the workflow engine a fresh context, so the depth of the
// rule's write was lost and the loop never stopped (hundreds of lots in seconds). Now the
// instance keeps the depth it started at: the rules' cap (3) stops the loop, with its reason
// in the run log, after exactly three rule-made lots.
func TestReview3_ChainDepthThroughWorkflow(t *testing.T) {
	for name, nodes := range map[string]string{
		"end_status": `[{"id":"start","type":"start","next":"done"},
		  {"id":"done","type":"end","outcome":"approved","setStatus":"held"}]`,
		"action_node": `[{"id":"start","type":"start","next":"hold"},
		  {"id":"hold","type":"action","action":"record.set_status","params":{"status":"held"},"next":"done"},
		  {"id":"done","type":"end","outcome":"approved"}]`,
	} {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			st := storetest.OpenEmbedded(t, storetest.TempDir(t))
			k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet,
				Auth: engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 64, Time: 1, Threads: 1}},
				Bus:  engine.BusOptions{MinBackoff: 20 * time.Millisecond, MaxAttempts: 3}})
			fs := forms.New(k, forms.Options{})
			ws := New(k, Options{TimerSpec: "@yearly"})
			rs := rules.New(k, rules.Options{SweepSpec: "@yearly", WebhookSpec: "@yearly"})
			enginetest.Start(t, k)
			sys := engine.SystemPrincipal()
			if _, err := fs.CreateApp(ctx, sys, forms.AppInput{Key: "fs", Name: engine.Text{ZH: "食品厂"}}); err != nil {
				t.Fatal(err)
			}
			if _, err := fs.SaveDraft(ctx, sys, "fs", []byte(review3Lot), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := fs.Publish(ctx, sys, "fs", "lot"); err != nil {
				t.Fatal(err)
			}
			flow := `{"key":"auto","name":{"zh-CN":"自动"},"form":"lot","trigger":{"on":"create"},"nodes":` + nodes + `}`
			if _, err := ws.SaveDraft(ctx, sys, "fs", []byte(flow), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := ws.Publish(ctx, sys, "fs", "auto"); err != nil {
				t.Fatal(err)
			}
			rule := `{"key":"again","label":{"zh-CN":"再建"},"form":"lot","trigger":{"on":"status_changed","to":"held"},
			  "actions":[{"type":"create_record","params":{"form":"lot","values":{"lot":"'loop'"}}}]}`
			if _, err := rs.SaveDraft(ctx, sys, "fs", []byte(rule), 0); err != nil {
				t.Fatal(err)
			}
			if _, err := rs.Publish(ctx, sys, "fs", "again"); err != nil {
				t.Fatal(err)
			}
			if _, err := fs.Create(ctx, sys, "fs", "lot", forms.Values{"lot": "seed"}); err != nil {
				t.Fatal(err)
			}
			// A loop never drains; a capped chain does, quickly.
			dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			derr := k.Bus.Drain(dctx)
			cancel()
			n := 0
			if err := k.Records.EachRecord(ctx, "fs", "lot", store.Empty("deleted"), func(*engine.RecordRef) error { n++; return nil }); err != nil {
				t.Fatal(err)
			}
			if derr != nil || n != 4 {
				t.Fatalf("%d lots (want the seed and 3 made by the rule), drain: %v — the chain depth is lost through the workflow engine", n, derr)
			}
			runs, err := rs.Runs(ctx, sys, "fs", "again", 200, "")
			if err != nil {
				t.Fatal(err)
			}
			var outcomes []string
			capped := 0
			for _, r := range runs.Items {
				outcomes = append(outcomes, fmt.Sprintf("%s@%d", r.Outcome, r.Depth))
				if r.Outcome == rules.OutcomeDepthCapped {
					capped++
					if !strings.Contains(r.Reason, "the cap is 3") {
						t.Errorf("capped run's reason: %q", r.Reason)
					}
				}
			}
			if capped != 1 || len(runs.Items) != 4 {
				t.Errorf("runs %v: want 3 fired at depths 0-2 and 1 depth_capped at 3", outcomes)
			}
		})
	}
}
