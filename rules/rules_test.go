package rules

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// TestCompileErrors: a mistake in a rule is refused when it is saved, naming the place —
// the meta-schema's member, the trigger's field, an expression's line and column.
func TestCompileErrors(t *testing.T) {
	e := newTestEnv(t, Options{})
	sys := engine.SystemPrincipal()
	for _, c := range []struct{ name, def, path, want string }{
		{"unknown member", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}],"extra":1}`, "/extra", ""},
		{"unknown trigger", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"hourly"},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/trigger/on", ""},
		{"unknown form", `{"key":"r","label":{"zh-CN":"r"},"form":"nope","trigger":{"on":"created"},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/form", ""},
		{"condition", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"condition":"record.qty >\n  > 3","actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/condition", "line 2, column"},
		{"condition not bool", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"condition":"'yes'","actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/condition", "line 1, column 1"},
		{"action expr", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"actions":[{"type":"create_record","params":{"form":"ncr","values":{"lot":"record.lot +"}}}]}`, "/actions/0/params/values/lot", "line 1, column"},
		{"action form", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"actions":[{"type":"create_record","params":{"form":"nope","values":{"lot":"record.lot"}}}]}`, "/actions/0/params/form", ""},
		{"action params", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'","cc":1}}]}`, "/actions/0/params/cc", ""},
		{"status", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"status_changed","to":3},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/trigger/to", ""},
		{"field of field_changed", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"field_changed","field":"nope"},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/trigger/field", ""},
		{"date field not a date", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"date","field":"lot","days":-30},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/trigger/field", ""},
		{"date field not filterable", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"date","field":"made_on","days":365},"actions":[{"type":"notify","params":{"to":["wang"],"title":"'x'"}}]}`, "/trigger/field", "filterable"},
		{"webhook url", `{"key":"r","label":{"zh-CN":"r"},"form":"lot","trigger":{"on":"created"},"actions":[{"type":"webhook","params":{"url":"ftp://x"}}]}`, "/actions/0/params/url", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(c.def), 0)
			fe, ok := engine.AsFieldErrors(err)
			if !ok {
				t.Fatalf("want field errors, got %v", err)
			}
			for _, f := range fe {
				if f.Path == c.path && strings.Contains(fmt.Sprint(f.Params["detail"])+fieldErrorsText(fe), c.want) {
					return
				}
			}
			t.Fatalf("want an error at %s (%q), got %+v", c.path, c.want, fe)
		})
	}
}

// TestCreatedNotifiesRoles: a rule on created with a condition notifies each member of a role
// once; a record the condition refuses is in the run log as such; read marks clear the count.
func TestCreatedNotifiesRoles(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"big_lot","label":{"zh-CN":"大批次"},"form":"lot","trigger":{"on":"created"},
	  "condition":"record.qty > 100",
	  "actions":[{"type":"notify","params":{"roles":["warehouse"],"title":"concat('大批次 ', record.lot)"}}]}`)
	e.lot(t, forms.Values{"lot": "L1", "qty": 50})
	big := e.lot(t, forms.Values{"lot": "L2", "qty": 500})
	e.drain(t)
	for _, u := range []string{"wang", "li"} {
		l := e.notifications(t, u)
		if len(l.Items) != 1 || l.Unread != 1 || l.Items[0].Title != "大批次 L2" || l.Items[0].Record != big.ID || l.Items[0].Form != "lot" {
			t.Fatalf("%s: %+v", u, l)
		}
	}
	if l := e.notifications(t, "zhao"); len(l.Items) != 0 {
		t.Fatalf("zhao is not in the warehouse: %+v", l)
	}
	runs := e.runs(t, "big_lot")
	outcomes := []string{}
	for _, r := range runs {
		outcomes = append(outcomes, r.Outcome)
	}
	slices.Sort(outcomes)
	if !slices.Equal(outcomes, []string{OutcomeConditionFalse, OutcomeFired}) {
		t.Fatalf("runs: %v", outcomes)
	}
	wang := e.user("wang")
	l := e.notifications(t, "wang")
	if _, err := e.rs.MarkRead(e.ctx, e.user("li"), []string{l.Items[0].ID}, false); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("li marks wang's notification: %v", err)
	}
	if n, err := e.rs.MarkRead(e.ctx, wang, nil, true); err != nil || n != 1 {
		t.Fatalf("mark all read: %d %v", n, err)
	}
	if l := e.notifications(t, "wang"); l.Unread != 0 || !l.Items[0].Read {
		t.Fatalf("after read: %+v", l)
	}
}

// TestFieldChangedStatusAndCreate: a failed QC result (field changed from → to) holds the lot
// (set status); entering held (status changed) opens a non-conformance report with fields
// mapped by expressions. Another change of the field does not fire.
func TestFieldChangedStatusAndCreate(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"qc_fail_hold","label":{"zh-CN":"不合格冻结"},"form":"lot","trigger":{"on":"field_changed","field":"qc","from":"pending","to":"fail"},
	  "actions":[{"type":"set_status","params":{"status":"held"}}]}`)
	e.rule(t, `{"key":"held_ncr","label":{"zh-CN":"冻结开 NCR"},"form":"lot","trigger":{"on":"status_changed","to":"held"},
	  "actions":[{"type":"create_record","params":{"form":"ncr","values":{"lot":"record.lot","reason":"concat('QC ', record.qc, ' by ', user.username)"}}}]}`)
	sys := engine.SystemPrincipal()
	a := e.lot(t, forms.Values{"lot": "A1", "qc": "pending"})
	b := e.lot(t, forms.Values{"lot": "B1", "qc": "other"})
	e.drain(t)
	if _, err := e.fs.Update(e.ctx, sys, testApp, "lot", a.ID, a.Rev, forms.Values{"qc": "fail"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Update(e.ctx, sys, testApp, "lot", b.ID, b.Rev, forms.Values{"qc": "fail"}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	ra, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "lot", a.ID)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "lot", b.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ra.Status != "held" || rb.Status != "ok" {
		t.Fatalf("statuses: A1 %s (want held), B1 %s (from other: no match)", ra.Status, rb.Status)
	}
	var ncrs []*engine.RecordRef
	if err := e.k.Records.EachRecord(e.ctx, testApp, "ncr", store.Eq("data.lot", "A1"), func(r *engine.RecordRef) error {
		ncrs = append(ncrs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(ncrs) != 1 || ncrs[0].Data["reason"] != "QC fail by rule:qc_fail_hold@1" {
		t.Fatalf("ncrs: %+v", ncrs)
	}
	runs := e.runs(t, "held_ncr")
	if len(runs) != 1 || runs[0].Depth != 1 || runs[0].Outcome != OutcomeFired || runs[0].Actions[0].Result["record"] != ncrs[0].ID {
		t.Fatalf("held_ncr runs: %+v", runs)
	}
}

// TestUpdatedAndDeleted: updated and deleted triggers, with previous in the condition.
func TestUpdatedAndDeleted(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"qty_drop","label":{"zh-CN":"数量减少"},"form":"lot","trigger":{"on":"updated"},
	  "condition":"previous != nil && record.qty < previous.qty",
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"concat('减少 ', string(previous.qty - record.qty))"}}]}`)
	e.rule(t, `{"key":"gone","label":{"zh-CN":"删除"},"form":"lot","trigger":{"on":"deleted"},
	  "actions":[{"type":"notify","params":{"to":["zhao"],"title":"concat('删除 ', record.lot)"}}]}`)
	sys := engine.SystemPrincipal()
	r := e.lot(t, forms.Values{"lot": "C1", "qty": 10})
	r, err := e.fs.Update(e.ctx, sys, testApp, "lot", r.ID, r.Rev, forms.Values{"qty": 20})
	if err != nil {
		t.Fatal(err)
	}
	r, err = e.fs.Update(e.ctx, sys, testApp, "lot", r.ID, r.Rev, forms.Values{"qty": 15})
	if err != nil {
		t.Fatal(err)
	}
	// Delivered before the delete: a notification is rendered with the fields its recipient
	// may see of the record as it is when the rule fires (a deleted one shows none).
	e.drain(t)
	if _, err := e.fs.Delete(e.ctx, sys, testApp, "lot", r.ID, r.Rev); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if l := e.notifications(t, "wang"); len(l.Items) != 1 || l.Items[0].Title != "减少 5" {
		t.Fatalf("wang: %+v", l.Items)
	}
	// The lot is gone: its fields can no longer be judged for zhao, who reads none.
	if l := e.notifications(t, "zhao"); len(l.Items) != 1 || l.Items[0].Title != "删除 "+hiddenPlaceholder {
		t.Fatalf("zhao: %+v", l.Items)
	}
}

// TestDepthCap: a rule that updates its own form fires itself; the chain stops at the cap and
// the run log says why.
func TestDepthCap(t *testing.T) {
	e := newTestEnv(t, Options{MaxDepth: 3})
	e.rule(t, `{"key":"bump","label":{"zh-CN":"自增"},"form":"lot","trigger":{"on":"updated"},
	  "actions":[{"type":"set_fields","params":{"values":{"qty":"record.qty + 1"}}}]}`)
	sys := engine.SystemPrincipal()
	r := e.lot(t, forms.Values{"lot": "D1", "qty": 0})
	if _, err := e.fs.Update(e.ctx, sys, testApp, "lot", r.ID, r.Rev, forms.Values{"qty": 10}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	got, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "lot", r.ID)
	if err != nil {
		t.Fatal(err)
	}
	// The person's update (depth 0) and the rule's own updates at depths 1 and 2 fire; the
	// update at depth 3 is capped.
	if got.Data["qty"] != float64(13) {
		t.Fatalf("qty %v, want 13", got.Data["qty"])
	}
	runs := e.runs(t, "bump")
	if len(runs) != 4 || runs[0].Outcome != OutcomeDepthCapped || runs[0].Depth != 3 || !strings.Contains(runs[0].Reason, "cap is 3") {
		t.Fatalf("runs: %+v", runs)
	}
	for _, r := range runs[1:] {
		if r.Outcome != OutcomeFired {
			t.Fatalf("run %+v", r)
		}
	}
}

// TestDryRun evaluates the draft on a record and writes nothing.
func TestDryRun(t *testing.T) {
	e := newTestEnv(t, Options{})
	e.rule(t, `{"key":"expiry","label":{"zh-CN":"效期预警"},"form":"lot","trigger":{"on":"date","field":"expiry_date","days":-30},
	  "condition":"daysBetween(today(), date(record.expiry_date)) <= 30",
	  "actions":[{"type":"notify","params":{"roles":["warehouse"],"title":"concat('临期 ', record.lot)"}},
	             {"type":"webhook","params":{"url":"http://127.0.0.1:1/x","secret":"s3cret"}}]}`)
	r := e.lot(t, forms.Values{"lot": "E1", "expiry_date": e.day(45)})
	e.drain(t)
	out, err := e.rs.DryRun(e.ctx, engine.SystemPrincipal(), testApp, "expiry", DryRunInput{Record: r.ID})
	if err != nil {
		t.Fatal(err)
	}
	if out.Condition || out.InWindow == nil || *out.InWindow || out.Due != e.day(15) {
		t.Fatalf("45 days out: %+v", out)
	}
	r2 := e.lot(t, forms.Values{"lot": "E2", "expiry_date": e.day(45)})
	e.drain(t) // its created event is evaluated on the day it was made (not in the window)
	e.clock.Add(20 * 24 * 3600e9)
	out, err = e.rs.DryRun(e.ctx, engine.SystemPrincipal(), testApp, "expiry", DryRunInput{Record: r2.ID})
	if err != nil {
		t.Fatal(err)
	}
	if !out.Condition || !*out.InWindow || len(out.Actions) != 2 || out.Actions[0].Params["title"] != "临期 E2" || out.Actions[1].Params["secret"] != "…" {
		t.Fatalf("25 days out: %+v", out)
	}
	if l := e.notifications(t, "wang"); len(l.Items) != 0 {
		t.Fatalf("a dry run notified: %+v", l.Items)
	}
}

// fieldErrorsText is the errors' English text.
func fieldErrorsText(fe engine.FieldErrors) string { return fe.Error() }
