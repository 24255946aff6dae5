package rules

import (
	"context"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"sync"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// batchForm has a cost the warehouse may not see; QA may not read batches at all.
const batchForm = `{
  "key": "batch", "name": {"zh-CN": "生产批"},
  "schema": {"type": "object", "properties": {
    "lot":  {"x-type": "text", "x-label": {"zh-CN": "批号"}},
    "cost": {"x-type": "number", "x-label": {"zh-CN": "成本"}}
  }},
  "permissions": {"warehouse": {"actions": ["read"], "hidden": ["cost"]}}
}`

// TestEmailAction: an email rule mails the members of its roles who may read the record, at
// their account's address, each with only the fields they may see; a failed send fails the
// run (and is retried); without a mail server the rule cannot be saved.
func TestEmailAction(t *testing.T) {
	srv := newSMTPServer(t)
	e := newFullEnv(t, Options{SMTP: SMTPOptions{Addr: srv.addr(), From: "Tracecraft <noreply@plant.test>"}}, nil)
	e.form(t, batchForm)
	sys := engine.SystemPrincipal()
	for _, u := range []engine.UserInput{
		{Username: "sun", Email: "sun@plant.test", Roles: []string{"warehouse"}},
		{Username: "qian", Email: "qian@plant.test", Roles: []string{"qa"}},
	} {
		u.Password = "password123"
		if _, err := e.k.Auth.CreateUser(e.ctx, sys, u); err != nil {
			t.Fatal(err)
		}
	}
	e.rule(t, `{"key":"batch_mail","label":{"zh-CN":"新批次邮件"},"form":"batch","trigger":{"on":"created"},
	  "actions":[{"type":"email","params":{"roles":["warehouse","qa"],"subject":"concat('批次 ', record.lot, ' 成本 ', string(record.cost))",
	    "body":"concat('批号：', record.lot, '\\n成本：', string(record.cost))"}}]}`)
	if _, err := e.fs.Create(e.ctx, sys, testApp, "batch", forms.Values{"lot": "B1", "cost": 12345}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	msgs := srv.messages()
	if len(msgs) != 1 || len(msgs[0].To) != 1 || msgs[0].To[0] != "sun@plant.test" || msgs[0].From != "noreply@plant.test" {
		t.Fatalf("messages: %+v", msgs)
	}
	m, err := mail.ReadMessage(strings.NewReader(msgs[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	subject, err := new(mime.WordDecoder).DecodeHeader(m.Header.Get("Subject"))
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(quotedprintable.NewReader(m.Body))
	if err != nil {
		t.Fatal(err)
	}
	if subject != "批次 B1 成本 "+hiddenPlaceholder || !strings.Contains(string(body), "成本："+hiddenPlaceholder) || !strings.Contains(string(body), "批号：B1") {
		t.Fatalf("subject %q body %q", subject, body)
	}
	if strings.Contains(msgs[0].Data, "12345") {
		t.Fatalf("the hidden cost went out: %s", msgs[0].Data)
	}
	runs := e.runs(t, "batch_mail")
	if len(runs) != 1 || runs[0].Outcome != OutcomeFired {
		t.Fatalf("runs %+v", runs)
	}
	res := runs[0].Actions[0].Result
	if users, _ := res["users"].([]any); len(users) != 1 || users[0] != "sun" {
		t.Fatalf("result %+v (wang and li have no address, qian may not read batches)", res)
	}
	// The server refuses: the run fails with the reason, and the message is not lost.
	srv.mu.Lock()
	srv.fail = true
	srv.mu.Unlock()
	if _, err := e.fs.Create(e.ctx, sys, testApp, "batch", forms.Values{"lot": "B2", "cost": 1}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	failed := 0
	for _, r := range e.runs(t, "batch_mail") {
		if r.Outcome == OutcomeFailed && strings.Contains(r.Error, "email") {
			failed++
		}
	}
	if failed == 0 || len(srv.messages()) != 1 {
		t.Fatalf("a refused send: %d failed runs, %d messages", failed, len(srv.messages()))
	}
	// Without a mail server an email rule is refused when it is saved.
	plain := newTestEnv(t, Options{})
	_, err = plain.rs.SaveDraft(plain.ctx, sys, testApp, []byte(`{"key":"m","label":{"zh-CN":"m"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"email","params":{"to":["wang"],"subject":"'x'"}}]}`), 0)
	if err == nil || !strings.Contains(err.Error(), "/actions/0/params") {
		t.Fatalf("email without SMTP: %v", err)
	}
}

// stockLotForm: lots of stock by material (indexed), with a quantity that is not indexed.
const stockLotForm = `{
  "key": "stock_lot", "name": {"zh-CN": "库存批次"},
  "schema": {"type": "object", "properties": {
    "material": {"x-type": "text", "x-filterable": true, "x-label": {"zh-CN": "物料"}},
    "qty":      {"x-type": "number", "x-label": {"zh-CN": "数量"}},
    "note":     {"x-type": "text", "x-label": {"zh-CN": "备注"}}
  }},
  "permissions": {"warehouse": {"actions": ["read", "update"]}}
}`

// TestUpdateRecordsAction: update_records sets fields of the records of another form found by
// an indexed query, each value an expression that may read target; at most MaxRecords, the
// cap in the run log; a run again updates no record twice; the writes carry the chain depth.
func TestUpdateRecordsAction(t *testing.T) {
	e := newFullEnv(t, Options{MaxRecords: 3}, nil)
	e.form(t, stockLotForm)
	sys := engine.SystemPrincipal()
	for i := range 5 {
		if _, err := e.fs.Create(e.ctx, sys, testApp, "stock_lot", forms.Values{"material": "SUGAR", "qty": float64(10 * (i + 1))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.fs.Create(e.ctx, sys, testApp, "stock_lot", forms.Values{"material": "SALT", "qty": 7}); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	e.rule(t, `{"key":"hold_material","label":{"zh-CN":"冻结物料"},"form":"ncr","trigger":{"on":"created"},
	  "actions":[{"type":"update_records","params":{"form":"stock_lot","match":[{"field":"material","op":"eq","value":"record.lot"}],
	    "values":{"note":"concat('冻结：', record.reason)","qty":"target.qty + 1"}}}]}`)
	e.rule(t, `{"key":"lot_changed","label":{"zh-CN":"批次变更"},"form":"stock_lot","trigger":{"on":"updated"},
	  "actions":[{"type":"notify","params":{"to":["wang"],"title":"concat(record.material, ' ', record.note)"}}]}`)
	ncr, err := e.fs.Create(e.ctx, sys, testApp, "ncr", forms.Values{"lot": "SUGAR", "reason": "异物"})
	if err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	updated := e.records(t, "stock_lot", store.Eq("data.note", "冻结：异物"))
	if len(updated) != 3 {
		t.Fatalf("updated %d records, want the cap of 3", len(updated))
	}
	sum := 0.0
	for _, r := range updated {
		q := r.Data["qty"].(float64)
		if int(q)%10 != 1 {
			t.Fatalf("quantity %v: want the stored quantity plus one", q)
		}
		sum += q
	}
	runs := e.runs(t, "hold_material")
	if len(runs) != 1 || runs[0].Outcome != OutcomeFired {
		t.Fatalf("runs %+v", runs)
	}
	res := runs[0].Actions[0].Result
	if res["updated"] != int32(3) && res["updated"] != int64(3) && res["updated"] != 3 || res["capped"] != true || !strings.Contains(res["note"].(string), "the cap is 3") {
		t.Fatalf("result %+v", res)
	}
	for _, r := range e.runs(t, "lot_changed") {
		if r.Depth != 1 || r.Actor != "rule:hold_material@1" {
			t.Fatalf("the updates' runs: %+v", r)
		}
	}
	// The same run again (a retry): the records it updated are claimed.
	c, err := e.rs.compiled(e.ctx, testApp, "hold_material", 1)
	if err != nil {
		t.Fatal(err)
	}
	got, err := e.k.Records.GetRecord(e.ctx, sys, testApp, "ncr", ncr.ID)
	if err != nil {
		t.Fatal(err)
	}
	in := &evalInput{trigger: "record.created", event: runs[0].Event, form: "ncr", id: ncr.ID, data: got.Data, actor: "system",
		key: "rule:" + engine.DefinitionVersionID(testApp, "hold_material", 1) + ":" + runs[0].Event}
	if _, err := e.rs.evaluate(e.ctx, c, in); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	again := 0.0
	for _, r := range e.records(t, "stock_lot", store.Eq("data.note", "冻结：异物")) {
		again += r.Data["qty"].(float64)
	}
	if again != sum {
		t.Fatalf("a run again updated records twice: sum %v", sum)
	}
	// Only indexed fields may be matched.
	_, err = e.rs.SaveDraft(e.ctx, sys, testApp, []byte(`{"key":"x","label":{"zh-CN":"x"},"form":"ncr","trigger":{"on":"created"},
	  "actions":[{"type":"update_records","params":{"form":"stock_lot","match":[{"field":"qty","op":"gt","value":"1"}],"values":{"note":"'x'"}}}]}`), 0)
	if err == nil || !strings.Contains(err.Error(), "/actions/0/params/match/0/field") || !strings.Contains(err.Error(), "filterable") {
		t.Fatalf("a match on a field without an index: %v", err)
	}
}

// TestGenericAction: the action type runs any kernel action by id with params and expression
// values (how rules use printing's print without importing it); the kernel action checks the
// params when the rule is saved; actions with a rule type of their own are refused.
func TestGenericAction(t *testing.T) {
	var mu sync.Mutex
	var calls []engine.ActionContext
	var depths []int
	e := newFullEnv(t, Options{}, func(k *engine.Kernel) {
		k.Actions.Register("test.print", engine.Action{ID: "test.print", Label: engine.Text{ZH: "打印", EN: "Print"},
			Check: func(ctx context.Context, app string, params map[string]any) error {
				if params["template"] == nil {
					return engine.Invalid("template", "required", nil)
				}
				return nil
			},
			Run: func(ctx context.Context, ac engine.ActionContext) (map[string]any, error) {
				mu.Lock()
				defer mu.Unlock()
				calls = append(calls, ac)
				depths = append(depths, engine.ChainDepth(ctx))
				return map[string]any{"job": "j1"}, nil
			}})
	})
	e.rule(t, `{"key":"label","label":{"zh-CN":"打标签"},"form":"lot","trigger":{"on":"created"},
	  "actions":[{"type":"action","params":{"id":"test.print","params":{"template":"lot_label","printer":"zebra1"},"values":{"copies":"record.qty"}}}]}`)
	r := e.lot(t, forms.Values{"lot": "P1", "qty": 3})
	e.drain(t)
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != 1 || calls[0].Record != r.ID || calls[0].Form != "lot" || calls[0].Params["template"] != "lot_label" ||
		calls[0].Params["printer"] != "zebra1" || fmt.Sprint(calls[0].Params["copies"]) != "3" || depths[0] != 1 {
		t.Fatalf("calls %+v depths %v", calls, depths)
	}
	if runs := e.runs(t, "label"); len(runs) != 1 || runs[0].Actions[0].Action != "test.print" || runs[0].Actions[0].Result["job"] != "j1" {
		t.Fatalf("runs %+v", runs)
	}
	sys := engine.SystemPrincipal()
	for _, c := range []struct{ params, path, want string }{
		{`{"id":"notify.inapp","params":{"to":["wang"],"title":"x"}}`, "/actions/0/params/id", "rule action type of its own"},
		{`{"id":"test.nope"}`, "/actions/0/params/id", ""},
		{`{"id":"test.print","params":{"printer":"zebra1"}}`, "/actions/0/params/params/template", ""},
		{`{"id":"test.print","params":{"template":"t"},"values":{"copies":"record.qty +"}}`, "/actions/0/params/values/copies", "line 1"},
	} {
		_, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(`{"key":"x","label":{"zh-CN":"x"},"form":"lot","trigger":{"on":"created"},
		  "actions":[{"type":"action","params":`+c.params+`}]}`), 0)
		fe, ok := engine.AsFieldErrors(err)
		if !ok {
			t.Fatalf("%s: %v", c.params, err)
		}
		found := false
		for _, f := range fe {
			found = found || f.Path == c.path && strings.Contains(fe.Error(), c.want)
		}
		if !found {
			t.Errorf("%s: want %s (%q), got %v", c.params, c.path, c.want, fe)
		}
	}
}
