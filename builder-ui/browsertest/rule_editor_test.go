package browsertest

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tracecraft/api/apitest"
)

// ruleRuns is what the test reads of GET …/rules/{rule}/runs.
type ruleRuns struct {
	Items []struct {
		Record  string `json:"record"`
		Outcome string `json:"outcome"`
		Actions []struct {
			Type   string         `json:"type"`
			Params map[string]any `json:"params"`
			Error  string         `json:"error"`
		} `json:"actions"`
	} `json:"items"`
}

// clickShown clicks the first element matching sel that shows (a menu item of a dropdown that
// has just opened).
func (b *browser) clickShown(sel string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const o = [...document.querySelectorAll(%q)].find((e) => e.offsetParent);
		if (!o) return false;
		o.click();
		return true;
	})()`, sel)
	b.run("click "+sel, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond)), settled)
}

// rulesPlant is plantWithReceipt with the people of the rule editor's tests: ann, an analyst
// (a designer of the app, not an administrator), and wang of the staff, who reads the receipts
// (a notification reaches only readers of its record). filterable marks fields of the receipt
// form x-filterable (indexed, for date triggers and matches) before it is published again.
func rulesPlant(t *testing.T, filterable ...string) (*apitest.Server, *apitest.Client) {
	t.Helper()
	s, admin := plantWithReceipt(t)
	admin.Do("PUT", "/api/v1/roles/analyst", map[string]any{"label": map[string]string{"zh-CN": "分析员"}, "rev": 0,
		"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read", "app.design"}}}}, 200, nil)
	admin.Do("PUT", "/api/v1/roles/staff", map[string]any{"label": map[string]string{"zh-CN": "员工"}, "rev": 0,
		"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read"}}}}, 200, nil)
	admin.Do("POST", "/api/v1/users", map[string]any{"username": "ann", "displayName": "分析员安", "roles": []string{"analyst"}, "password": "passw0rd-ann"}, 201, nil)
	admin.Do("POST", "/api/v1/users", map[string]any{"username": "wang", "displayName": "质检王", "roles": []string{"staff"}, "password": "passw0rd-wang"}, 201, nil)
	var form struct {
		Rev   int64          `json:"rev"`
		Draft map[string]any `json:"draft"`
	}
	admin.Do("GET", "/api/v1/apps/plant/forms/receipt", nil, 200, &form)
	props := form.Draft["schema"].(map[string]any)["properties"].(map[string]any)
	for _, f := range filterable {
		props[f].(map[string]any)["x-filterable"] = true
	}
	form.Draft["permissions"] = map[string]any{"staff": map[string]any{"actions": []string{"read"}}, "analyst": map[string]any{"actions": []string{"create", "read", "update"}}}
	admin.Do("PUT", fmt.Sprintf("/api/v1/apps/plant/forms/receipt?rev=%d", form.Rev), form.Draft, 200, nil)
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/publish", nil, 201, nil)
	return s, admin
}

// TestAnalystWritesARule (issue 10, rule editor): on the published receipt form, an analyst
// (a designer of the app, not an administrator) opens 规则 from the app's navigation, makes a
// new rule — 当 原料收货 的记录 新增 时, 如果 qty > 1000, 则 通知 wang — first typing a broken
// condition: saving shows the engine's error under the condition with its line and column;
// fixes it and saves; a condition broken again is checked live (no save pressed) and mended;
// the rows show the condition typed in 高级; a dry run on a record with qty 1500 shows the
// condition holds and the notification it would send; publishes version 1. A record created
// through the API with qty 2000 makes the rule run: wang gets the notification (API), the run
// log tab shows the run and its record link opens the record; the list shows the rule's
// summary; 启用 switched off and published makes version 2, disabled, marked 已停用 in the list.
// On a 390×844 phone the list and the sentence (stacked) are usable.
func TestAnalystWritesARule(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "rule-editor")
	t.Logf("screenshots: %s", screens)

	s, admin := rulesPlant(t)
	var sample struct {
		ID string `json:"id"`
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "白砂糖", "qty": 1500}}, 201, &sample)
	const rulePath = "/api/v1/apps/plant/rules/receipt_rule"

	t.Run("desktop", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[0], filepath.Join(screens, "desktop"))
		b.signInAs(s.URL, "ann")
		b.run("open the app", chromedp.Navigate(s.URL+"/apps/plant"), chromedp.WaitVisible(chromedp.CSS(`[data-test="nav-rules"]`)))
		b.run("open 规则", chromedp.Click(chromedp.CSS(`[data-test="nav-rules"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rules-empty"]`)))
		b.waitURL("/apps/plant/rules")
		b.shot("01-no-rules")

		b.run("新建规则", chromedp.Click(chromedp.CSS(`[data-test="new-rule"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
		b.waitURL("/apps/plant/rules/new/design")
		b.waitText(`[data-test="rule-status"]`, "新规则")
		b.waitText(`[data-test="rule-form"]`, "原料收货")
		b.waitText(`[data-test="trigger-on"]`, "新增")
		b.run("name it", b.typeInto("#rule-label-zh", "大批量收货提醒"))

		// 则 通知 wang: 大批量收货 {material} {qty} kg.
		b.run("add an action", chromedp.Click(chromedp.CSS(`[data-test="add-action"]`)))
		b.clickShown(`[data-test="add-action-notify"]`)
		b.run("see the notify card", chromedp.WaitVisible(chromedp.CSS(`[data-test="action-0"][data-type="notify"]`)))
		b.pickPerson("#notify-to-0", "wang", "wang")
		b.run("write the title", b.typeInto(`[data-test="notify-title"]`, "大批量收货 "))
		b.run("insert the material", chromedp.Click(chromedp.CSS(`[data-test="notify-title-insert-material"]`)))
		b.run("and the quantity", chromedp.SendKeys(chromedp.CSS(`[data-test="notify-title"]`), " {qty} kg"))

		// 如果: a broken condition typed in 高级; saving names the place.
		b.run("高级", chromedp.Click(chromedp.CSS(`[data-test="condition-mode"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="condition-input"]`)))
		b.run("type a broken condition", b.typeInto(`[data-test="condition-input"]`, "record.qty >"))
		b.run("save", chromedp.Click(chromedp.CSS(`[data-test="rule-save"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="condition"] [data-test="expr-error"][data-pointer="/condition"]`)))
		b.waitText(`[data-test="condition"] [data-test="expr-error-place"]`, "第 1 行")
		if !b.eval(`document.querySelector('[data-test="condition"] .rx__caret')?.innerText.includes('^') === true`) {
			t.Fatal("the error shows no caret under its place")
		}
		b.waitText(`[data-test="rule-status"]`, "新规则")
		b.shot("02-condition-error")
		b.noPageErrorsBut("400")

		b.run("fix it", b.typeInto(`[data-test="condition-input"]`, "record.qty > 1000"))
		b.run("save", chromedp.Click(chromedp.CSS(`[data-test="rule-save"]`)))
		b.waitURL("/apps/plant/rules/receipt_rule/design")
		b.waitText(`[data-test="rule-status"]`, "草稿")
		b.run("no error left", chromedp.WaitNotPresent(chromedp.CSS(`[data-test="expr-error"]`)))

		// Checked live: broken again, the error shows with no save pressed; mended, it goes.
		b.run("break it again", b.typeInto(`[data-test="condition-input"]`, "record.qty >> 1000"),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="condition"] [data-test="expr-error"]`)))
		b.shot("03-live-check")
		b.run("mend it", b.typeInto(`[data-test="condition-input"]`, "record.qty > 1000"), chromedp.WaitNotPresent(chromedp.CSS(`[data-test="expr-error"]`)))
		b.waitText(`[data-test="rule-status"]`, "草稿")
		b.noPageErrorsBut("400")

		// The rows show what was typed.
		b.run("back to rows", chromedp.Click(chromedp.CSS(`[data-test="condition-mode"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="cond-row-0"]`)))
		b.waitText(`[data-test="cond-field-0"]`, "数量")
		b.waitText(`[data-test="cond-op-0"]`, "大于")
		if v := b.value(`[data-test="cond-value-0"]`); v != "1000" {
			t.Fatalf("the row's value: %q", v)
		}
		b.shot("04-sentence")

		var draft struct {
			Draft struct {
				Condition string `json:"condition"`
				Actions   []struct {
					Params struct {
						To    []string `json:"to"`
						Title string   `json:"title"`
					} `json:"params"`
				} `json:"actions"`
			} `json:"draft"`
		}
		admin.Do("GET", rulePath, nil, 200, &draft)
		if d := draft.Draft; d.Condition != "record.qty > 1000" || len(d.Actions) != 1 || strings.Join(d.Actions[0].Params.To, ",") != "wang" ||
			d.Actions[0].Params.Title != `concat("大批量收货 ", record.material, " ", record.qty, " kg")` {
			t.Fatalf("the saved draft: %+v", d)
		}

		// 试运行 on the sample record (qty 1500).
		b.run("试运行", chromedp.Click(chromedp.CSS(`#tab-dry`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="record-picker"]`)))
		b.run("open the records", chromedp.Click(chromedp.CSS(`[data-test="record-picker"]`)))
		b.clickShown(fmt.Sprintf(`.el-select-dropdown__item[data-record=%q]`, sample.ID))
		b.run("run it", chromedp.Click(chromedp.CSS(`[data-test="dry-run-go"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="dry-run-result"]`)))
		b.waitText(`[data-test="dry-run-condition"]`, "条件成立")
		b.waitText(`[data-test="dry-run-action-0"]`, "通知 wang：大批量收货 白砂糖 1500 kg")
		b.shot("05-dry-run")

		b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="rule-publish"]`)))
		b.waitText(`[data-test="rule-status"]`, "已发布第 1 版")
		b.noPageErrorsBut("400")

		// A record with qty 2000 makes the rule run.
		var big struct {
			ID string `json:"id"`
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "玉米淀粉", "qty": 2000}}, 201, &big)
		var runs ruleRuns
		for range 300 {
			if admin.Do("GET", rulePath+"/runs", nil, 200, &runs); len(runs.Items) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(runs.Items) != 1 || runs.Items[0].Outcome != "fired" || runs.Items[0].Record != big.ID {
			t.Fatalf("runs: %+v", runs)
		}
		wang := s.Login(t, "wang", "passw0rd-wang")
		var got notificationPage
		for range 300 {
			if wang.Do("GET", "/api/v1/notifications", nil, 200, &got); len(got.Items) > 0 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if len(got.Items) != 1 || got.Items[0].Title != "大批量收货 玉米淀粉 2000 kg" || got.Items[0].Record != big.ID {
			t.Fatalf("wang's notifications: %+v (runs %+v)", got, runs)
		}

		b.run("运行日志", chromedp.Click(chromedp.CSS(`#tab-runs`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="run"]`)))
		b.waitText(`[data-test="run"]`, "已执行")
		b.waitText(`[data-test="run"]`, "第 1 版")
		b.waitText(`[data-test="run-action-0"]`, "通知 wang：大批量收货 玉米淀粉 2000 kg")
		// The record is named by its title (the lot number), not its id.
		b.run("the record's title", chromedp.Poll[chromedp.Void](`/^记录 RM\d{10}$/.test(document.querySelector('[data-test="run-record"]').innerText.trim())`, chromedp.WithPollingInterval(100*time.Millisecond)))
		b.shot("06-run-log")
		b.run("open the record", chromedp.Click(chromedp.CSS(`[data-test="run-record"]`)))
		b.waitURL("/apps/plant/forms/receipt")
		b.run("the record opens", chromedp.WaitVisible(chromedp.CSS(`[data-test="record-drawer"]`)))
		b.waitText(`[data-test="record-drawer"]`, "玉米淀粉")

		b.run("the list", chromedp.Navigate(s.URL+"/apps/plant/rules"), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-row"]`)))
		b.waitText(`[data-test="rule-row"]`, "大批量收货提醒")
		b.waitText(`[data-test="rule-row"]`, "新增记录时")
		b.waitText(`[data-test="rule-row"]`, "第 1 版")
		b.waitText(`[data-test="rule-draft-state"]`, "已发布")
		b.shot("07-list")

		// 启用 off and published: version 2 is disabled, and the list says so.
		b.run("open the rule", chromedp.Click(chromedp.CSS(`[data-test="rule-row"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-enabled"].is-checked`)))
		b.run("switch it off", chromedp.Click(chromedp.CSS(`[data-test="rule-enabled"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-enabled"]:not(.is-checked)`)))
		b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="rule-publish"]`)))
		b.waitText(`[data-test="rule-status"]`, "已发布第 2 版")
		var versions []struct {
			Version    int `json:"version"`
			Definition struct {
				Disabled bool `json:"disabled"`
			} `json:"definition"`
		}
		admin.Do("GET", rulePath+"/versions", nil, 200, &versions)
		if len(versions) != 2 || versions[0].Version != 2 || !versions[0].Definition.Disabled || versions[1].Definition.Disabled {
			t.Fatalf("versions: %+v", versions)
		}
		b.run("back to the list", chromedp.Click(chromedp.CSS(`.re__back`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-off"]`)))
		b.waitText(`[data-test="rule-row"]`, "第 2 版")
		b.waitText(`[data-test="rule-off"]`, "已停用")
		b.noPageErrorsBut("400")
	})

	t.Run("phone", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[1], filepath.Join(screens, "phone"))
		b.signInAs(s.URL, "ann")
		b.run("open the app", chromedp.Navigate(s.URL+"/apps/plant"), chromedp.WaitVisible(chromedp.CSS(`[data-test="open-forms"]`)))
		b.run("open the menu", chromedp.Click(chromedp.CSS(`[data-test="open-forms"]`)), settled, chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-test="nav-rules"]`)))
		b.run("open 规则", chromedp.Click(chromedp.CSS(`.el-drawer [data-test="nav-rules"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-row"]`)), noOverlay)
		b.waitText(`[data-test="rule-row"]`, "第 2 版")
		b.shot("01-list")
		b.run("open the rule", chromedp.Click(chromedp.CSS(`[data-test="rule-row"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-sentence"]`)))
		b.waitText(`[data-test="rule-status"]`, "已发布第 2 版")
		b.shot("02-sentence")
		// The sentence stacks: each part takes the phone's width, nothing runs off the screen.
		if !b.eval(`document.documentElement.scrollWidth <= window.innerWidth + 1`) {
			t.Fatal("the editor is wider than the phone")
		}
		if !b.eval(`(() => { const r = document.querySelector('[data-test="rule-form"]').getBoundingClientRect(); return r.width > 250 })()`) {
			t.Fatal("the form picker does not take the phone's width")
		}
		if !b.eval(`(() => { const r = document.querySelector('[data-test="cond-field-0"]').getBoundingClientRect(); return r.width > 250 && r.right <= window.innerWidth })()`) {
			t.Fatal("the condition's field picker does not take the phone's width")
		}
		b.run("运行日志", chromedp.Click(chromedp.CSS(`#tab-runs`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="run"]`)))
		b.shot("03-run-log")
		b.noPageErrors()
	})
}
