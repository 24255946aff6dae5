package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// recheckFlow is a manual flow on receipts: one approval by the administrator.
const recheckFlow = `{
  "key": "recheck", "name": {"zh-CN": "复检", "en": "Re-inspection"}, "form": "receipt", "trigger": {"on": "manual"},
  "nodes": [
    {"id": "start", "type": "start", "next": "qa"},
    {"id": "qa", "type": "approval", "name": {"zh-CN": "复检审批", "en": "QA re-check"}, "mode": "any",
     "assignees": [{"kind": "user", "users": ["admin"]}], "next": "done"},
    {"id": "done", "type": "end", "outcome": "approved"}
  ]
}`

// storedRule is what the test reads of a rule version's definition.
type storedRule struct {
	Version    int `json:"version"`
	Definition struct {
		Trigger json.RawMessage `json:"trigger"`
		Actions []struct {
			Type   string          `json:"type"`
			Params json.RawMessage `json:"params"`
		} `json:"actions"`
	} `json:"definition"`
}

// sameJSON fails the test unless got and want are the same JSON value.
func sameJSON(t *testing.T, what string, got json.RawMessage, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("%s: want: %v", what, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("%s:\n got %s\nwant %s", what, got, want)
	}
}

// TestAnalystSchedulesARule (issue 10, rule editor: the newer kinds): with expiry and material
// marked filterable on the receipt form and a manual flow 复检 on it, an analyst builds a
// schedule rule — 定时, a spec the preview refuses, then 每天 08:00 from the common times in
// Asia/Shanghai, read back as 每天 08:00 with the next three times at 08:00, for each receipt
// whose 到期日 is within 7 days (an indexed field) — that notifies wang; saves and publishes it;
// the stored version is the definition the sentence shows, and a firing at the next 08:00
// notifies wang of the receipt due in 3 days only. A second rule, on new receipts, starts the
// flow 复检 and updates the receipts of the same material (update_records: a match on an
// indexed field, a value); published, a new receipt gets the flow and both receipts of its
// material the note. The list reads both triggers. On a 390×844 phone both rules' sentences
// stay within the screen, and in English a flow trigger (复检 reaching its approval node) with a
// print action does too.
func TestAnalystSchedulesARule(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "rule-schedule")
	t.Logf("screenshots: %s", screens)

	s, admin := rulesPlant(t, "expiry", "material")
	if res := admin.Raw("POST", "/api/v1/apps/plant/flows", "application/json", []byte(recheckFlow)); res.Status != 201 {
		t.Fatalf("create flow: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/flows/recheck/publish", nil, 201, nil)

	shanghai, err := time.LoadLocation("Asia/Shanghai")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().In(shanghai)
	var soon, later, sugar struct {
		ID string `json:"id"`
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "玉米淀粉", "qty": 200, "expiry": today.AddDate(0, 0, 3).Format(time.DateOnly)}}, 201, &soon)
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "食盐", "qty": 300, "expiry": today.AddDate(0, 0, 30).Format(time.DateOnly)}}, 201, &later)
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "白砂糖", "qty": 500}}, 201, &sugar)

	const base = "/api/v1/apps/plant/rules/"
	t.Run("desktop", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[0], filepath.Join(screens, "desktop"))
		b.signInAs(s.URL, "ann")
		b.run("新建规则", chromedp.Navigate(s.URL+"/apps/plant/rules/new/design"), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
		b.waitText(`[data-test="rule-form"]`, "原料收货")
		b.run("name it", b.typeInto("#rule-label-zh", "到期预警"))

		// 当 原料收货 定时: a spec the preview cannot read, then 每天 08:00 from the common times.
		b.pickOption(`[data-test="trigger-on"]`, "定时")
		b.run("the schedule", chromedp.WaitVisible(chromedp.CSS(`[data-test="schedule"]`)))
		if b.eval(`[...document.querySelectorAll('[data-test="sentence-when"] .rs-word')].some((e) => e.innerText.trim() === '的记录')`) {
			t.Fatal("a schedule reads 的记录")
		}
		b.run("a wrong hour", b.typeInto(`[data-test="trigger-cron"]`, "0 25 * * *"), chromedp.WaitVisible(chromedp.CSS(`[data-test="cron-bad"]`)))
		b.waitText(`[data-test="cron-bad"]`, "无法识别")
		b.run("the common times", chromedp.Click(chromedp.CSS(`[data-test="cron-presets"]`)))
		b.clickShown(`[data-test="cron-preset-daily8"]`)
		if v := b.value(`[data-test="trigger-cron"]`); v != "0 8 * * *" {
			t.Fatalf("the spec: %q", v)
		}
		b.pickOption(`[data-test="trigger-timezone"]`, "Asia/Shanghai")
		b.waitText(`[data-test="cron-words"]`, "每天 08:00")
		b.waitText(`[data-test="cron-preview"]`, "Asia/Shanghai")
		if !b.eval(`(() => { const l = [...document.querySelectorAll('[data-test="cron-next"] li')].map((e) => e.innerText.trim()); return l.length === 3 && l.every((x) => /^\d{4}-\d\d-\d\d 周. 08:00$/.test(x)) })()`) {
			t.Fatal("the next three times are not at 08:00")
		}

		// For each receipt whose 到期日 is within 7 days: the first row starts from the date field.
		b.run("for each record", chromedp.Click(chromedp.CSS(`[data-test="schedule-each"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="schedule-match-row-0"]`)))
		b.waitText(`[data-test="schedule-match-field-0"]`, "到期日")
		b.waitText(`[data-test="schedule-match-op-0"]`, "小于等于")
		if v := b.value(`[data-test="schedule-match-value-0"]`); v != "addDays(today(), 7)" {
			t.Fatalf("the row's value: %q", v)
		}

		b.run("add an action", chromedp.Click(chromedp.CSS(`[data-test="add-action"]`)))
		b.clickShown(`[data-test="add-action-notify"]`)
		b.pickPerson("#notify-to-0", "wang", "wang")
		b.run("write the title", b.typeInto(`[data-test="notify-title"]`, "到期预警 "))
		b.run("insert the material", chromedp.Click(chromedp.CSS(`[data-test="notify-title-insert-material"]`)))
		b.shot("01-schedule")

		b.run("save", chromedp.Click(chromedp.CSS(`[data-test="rule-save"]`)))
		b.waitURL("/apps/plant/rules/receipt_rule/design")
		b.waitText(`[data-test="rule-status"]`, "草稿")
		b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="rule-publish"]`)))
		b.waitText(`[data-test="rule-status"]`, "已发布第 1 版")
		b.noPageErrors()

		var vs []storedRule
		admin.Do("GET", base+"receipt_rule/versions", nil, 200, &vs)
		if len(vs) != 1 || len(vs[0].Definition.Actions) != 1 || vs[0].Definition.Actions[0].Type != "notify" {
			t.Fatalf("versions: %+v", vs)
		}
		sameJSON(t, "the schedule", vs[0].Definition.Trigger,
			`{"on": "schedule", "cron": "0 8 * * *", "timezone": "Asia/Shanghai", "match": [{"field": "expiry", "op": "lte", "value": "addDays(today(), 7)"}]}`)
		sameJSON(t, "the notification", vs[0].Definition.Actions[0].Params, `{"to": ["wang"], "roles": [], "title": "concat(\"到期预警 \", record.material)"}`)

		// The next 08:00 in Shanghai fires it for the receipt due in 3 days, not the one in 30.
		next := time.Date(today.Year(), today.Month(), today.Day(), 8, 0, 0, 0, shanghai)
		if !next.After(today) {
			next = next.AddDate(0, 0, 1)
		}
		res, err := s.Rules.RunSchedules(context.Background(), next.Add(time.Minute))
		if err != nil || res.Firings != 1 || res.Records != 1 || res.Fired != 1 {
			t.Fatalf("the firing at %s: %+v %v", next, res, err)
		}
		wang := s.Login(t, "wang", "passw0rd-wang")
		var got notificationPage
		for range 300 {
			if wang.Do("GET", "/api/v1/notifications", nil, 200, &got); len(got.Items) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(got.Items) != 1 || got.Items[0].Title != "到期预警 玉米淀粉" || got.Items[0].Record != soon.ID {
			t.Fatalf("wang's notifications: %+v", got)
		}

		// 当 原料收货 的记录 新增 时: start 复检, and mark the receipts of the same material.
		b.run("another rule", chromedp.Navigate(s.URL+"/apps/plant/rules/new/design"), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
		b.waitText(`[data-test="trigger-on"]`, "新增")
		b.run("name it", b.typeInto("#rule-label-zh", "来料复检"))
		b.run("add an action", chromedp.Click(chromedp.CSS(`[data-test="add-action"]`)))
		b.clickShown(`[data-test="add-action-start_flow"]`)
		b.pickOption(`[data-test="action-0"] [data-test="start-flow"]`, "复检")
		b.run("add another", chromedp.Click(chromedp.CSS(`[data-test="add-action"]`)))
		b.clickShown(`[data-test="add-action-update_records"]`)
		b.pickOption(`[data-test="action-1"] [data-test="update-form"]`, "原料收货")
		// 添加条件 is enabled once the target form's indexed fields are in (slow under load).
		b.run("a filter", chromedp.WaitVisible(chromedp.CSS(`[data-test="update-match-1-add"]:not([disabled])`)),
			chromedp.Click(chromedp.CSS(`[data-test="update-match-1-add"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="update-match-1-row-0"]`)))
		b.pickOption(`[data-test="update-match-1-field-0"]`, "原料")
		b.run("the same material", b.typeInto(`[data-test="update-match-1-value-0"]`, "record.material"))
		b.run("a value", chromedp.Click(chromedp.CSS(`[data-test="update-values-1-add"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="update-values-1-row-0"]`)))
		b.pickOption(`[data-test="update-values-1-key-0"]`, "备注")
		b.run("the note", b.typeInto(`[data-test="update-values-1-expr-0"]`, `"待复检"`))
		b.shot("02-update-records")
		b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="rule-publish"]`)))
		b.waitURL("/apps/plant/rules/receipt_rule_2/design")
		b.waitText(`[data-test="rule-status"]`, "已发布第 1 版")
		b.noPageErrors()

		admin.Do("GET", base+"receipt_rule_2/versions", nil, 200, &vs)
		if len(vs) != 1 || len(vs[0].Definition.Actions) != 2 || vs[0].Definition.Actions[0].Type != "start_flow" || vs[0].Definition.Actions[1].Type != "update_records" {
			t.Fatalf("versions: %+v", vs)
		}
		sameJSON(t, "the trigger", vs[0].Definition.Trigger, `{"on": "created"}`)
		sameJSON(t, "start_flow", vs[0].Definition.Actions[0].Params, `{"flow": "recheck"}`)
		sameJSON(t, "update_records", vs[0].Definition.Actions[1].Params,
			`{"form": "receipt", "match": [{"field": "material", "op": "eq", "value": "record.material"}], "values": {"note": "\"待复检\""}}`)

		// A new receipt of 白砂糖: the flow starts on it, both 白砂糖 receipts get the note.
		var fresh struct {
			ID string `json:"id"`
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "白砂糖", "qty": 800}}, 201, &fresh)
		var runs ruleRuns
		for range 300 {
			if admin.Do("GET", base+"receipt_rule_2/runs", nil, 200, &runs); len(runs.Items) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(runs.Items) != 1 || runs.Items[0].Outcome != "fired" || runs.Items[0].Record != fresh.ID {
			t.Fatalf("runs: %+v", runs)
		}
		var flows []struct {
			Flow string `json:"flow"`
		}
		admin.Do("GET", "/api/v1/apps/plant/forms/receipt/records/"+fresh.ID+"/flows", nil, 200, &flows)
		if len(flows) != 1 || flows[0].Flow != "recheck" {
			t.Fatalf("the new receipt's flows: %+v", flows)
		}
		for _, id := range []string{sugar.ID, fresh.ID} {
			var rec struct {
				Data map[string]any `json:"data"`
			}
			admin.Do("GET", "/api/v1/apps/plant/forms/receipt/records/"+id, nil, 200, &rec)
			if rec.Data["note"] != "待复检" {
				t.Fatalf("receipt %s: %v", id, rec.Data)
			}
		}

		b.run("the list", chromedp.Navigate(s.URL+"/apps/plant/rules"), chromedp.WaitVisible(chromedp.CSS(`[data-rule="receipt_rule_2"]`)))
		b.waitText(`[data-rule="receipt_rule"]`, "定时：每天 08:00（Asia/Shanghai），逐条处理“到期日”符合条件的记录")
		b.waitText(`[data-rule="receipt_rule_2"]`, "新增记录时")
		b.shot("03-list")

		// The run log names the schedule's firing; a flow trigger reads as a sentence (not saved).
		b.run("the run log", chromedp.Navigate(s.URL+"/apps/plant/rules/receipt_rule/design?tab=runs"), chromedp.WaitVisible(chromedp.CSS(`[data-test="run"]`)))
		b.waitText(`[data-test="run"]`, "定时 ")
		b.waitText(`[data-test="run-action-0"]`, "通知 wang：到期预警 玉米淀粉")
		b.shot("04-run-log")
		b.run("a flow trigger", chromedp.Navigate(s.URL+"/apps/plant/rules/new/design"), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
		b.pickOption(`[data-test="trigger-on"]`, "流程结束")
		b.pickOption(`[data-test="trigger-flow"]`, "复检")
		b.run("the outcomes", settled, chromedp.Click(chromedp.CSS(`[data-test="trigger-outcome"]`)))
		b.clickShown(`.el-select-dropdown__item:not(.is-disabled)[data-test="outcome-approved"]`)
		b.waitText(`[data-test="trigger-outcome"]`, "通过")
		b.shot("05-flow-finished")
		b.noPageErrors()
	})

	t.Run("phone", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[1], filepath.Join(screens, "phone"))
		b.signInAs(s.URL, "ann")
		for i, rule := range []string{"receipt_rule", "receipt_rule_2"} {
			b.run("open "+rule, chromedp.Navigate(s.URL+"/apps/plant/rules/"+rule+"/design"), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
			b.waitText(`[data-test="rule-status"]`, "已发布第 1 版")
			if rule == "receipt_rule" {
				b.waitText(`[data-test="cron-words"]`, "每天 08:00")
			} else {
				b.waitText(`[data-test="action-0"] [data-test="start-flow"]`, "复检")
			}
			b.shot(fmt.Sprintf("0%d-%s", i+1, rule))
			if !b.eval(`document.documentElement.scrollWidth <= window.innerWidth + 1`) {
				t.Fatalf("%s is wider than the phone", rule)
			}
		}

		// In English, a new rule on 复检 reaching its approval node that prints (not saved).
		b.pickOption(`[data-test="language"]`, "English")
		b.run("a new rule", chromedp.Navigate(s.URL+"/apps/plant/rules/new/design"), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
		b.pickOption(`[data-test="trigger-on"]`, "flow reaches node")
		b.pickOption(`[data-test="trigger-flow"]`, "Re-inspection")
		b.run("open the nodes", settled, chromedp.Click(chromedp.CSS(`[data-test="trigger-node"]`)))
		b.clickShown(`.el-select-dropdown__item[data-node="qa"]`)
		b.waitText(`[data-test="trigger-node"]`, "QA re-check")
		b.run("add an action", chromedp.Click(chromedp.CSS(`[data-test="add-action"]`)))
		b.clickShown(`[data-test="add-action-action"]`)
		b.waitText(`[data-test="action-0"]`, "Print template")
		b.waitText(`[data-test="action-0"] [data-test="action-id"]`, "Print · printing.print")
		b.shot("03-flow-trigger-print-en")
		if !b.eval(`document.documentElement.scrollWidth <= window.innerWidth + 1`) {
			t.Fatal("the flow trigger is wider than the phone")
		}
		b.noPageErrors()
	})
}
