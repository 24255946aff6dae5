package browsertest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tracecraft/api/apitest"
)

// a11yEveryDef is a form with a field of every type the designer's palette has (palette.ts:
// basicTypes and advancedTypes), laid out in two columns with a group, so the record form
// shows every widget the runtime has.
const a11yEveryDef = `{
  "key": "every",
  "name": {"zh-CN": "全部字段", "en": "Every field"},
  "titleField": "text",
  "schema": {"type": "object", "properties": {
    "text":        {"x-type": "text", "x-label": {"zh-CN": "单行文本", "en": "Text"}},
    "textarea":    {"x-type": "textarea", "x-label": {"zh-CN": "多行文本", "en": "Paragraph"}},
    "number":      {"x-type": "number", "x-label": {"zh-CN": "数字", "en": "Number"}, "x-options": {"unit": "kg"}},
    "money":       {"x-type": "money", "x-label": {"zh-CN": "金额", "en": "Money"}},
    "made_on":     {"x-type": "date", "x-label": {"zh-CN": "日期", "en": "Date"}},
    "datetime":    {"x-type": "datetime", "x-label": {"zh-CN": "日期时间", "en": "Date and time"}},
    "shift_at":    {"x-type": "time", "x-label": {"zh-CN": "时间", "en": "Time"}},
    "select":      {"x-type": "select", "x-label": {"zh-CN": "下拉选择", "en": "Select"}, "x-options": {"options": [{"value": "a", "label": {"zh-CN": "甲", "en": "A"}}, {"value": "b", "label": {"zh-CN": "乙", "en": "B"}}]}},
    "radio":       {"x-type": "radio", "x-label": {"zh-CN": "单选", "en": "Radio"}, "x-options": {"options": [{"value": "a", "label": {"zh-CN": "甲", "en": "A"}}, {"value": "b", "label": {"zh-CN": "乙", "en": "B"}}]}},
    "multiselect": {"x-type": "multiselect", "x-label": {"zh-CN": "多选下拉", "en": "Multi-select"}, "x-options": {"options": [{"value": "a", "label": {"zh-CN": "甲", "en": "A"}}, {"value": "b", "label": {"zh-CN": "乙", "en": "B"}}]}},
    "checkbox":    {"x-type": "checkbox", "x-label": {"zh-CN": "复选", "en": "Checkboxes"}, "x-options": {"options": [{"value": "a", "label": {"zh-CN": "甲", "en": "A"}}, {"value": "b", "label": {"zh-CN": "乙", "en": "B"}}]}},
    "switch":      {"x-type": "switch", "x-label": {"zh-CN": "开关", "en": "Switch"}},
    "person":      {"x-type": "user", "x-label": {"zh-CN": "人员", "en": "Person"}},
    "department":  {"x-type": "department", "x-label": {"zh-CN": "部门", "en": "Department"}},
    "subtable":    {"x-type": "subtable", "x-label": {"zh-CN": "子表单", "en": "Sub-table"},
                    "items": {"type": "object", "properties": {
                      "item": {"x-type": "text", "x-label": {"zh-CN": "项目", "en": "Item"}},
                      "qty":  {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}}}}},
    "relation":    {"x-type": "relation", "x-label": {"zh-CN": "关联收货", "en": "Receipt"}, "x-options": {"form": "receipt", "displayField": "material"}},
    "autonumber":  {"x-type": "autonumber", "x-label": {"zh-CN": "编号", "en": "Number"}, "x-options": {"pattern": "NO{yyMMdd}{seq:4}", "reset": "day"}},
    "formula":     {"x-type": "formula", "x-label": {"zh-CN": "公式", "en": "Formula"}, "x-options": {"expr": "number * 2", "result": "number"}},
    "scan":        {"x-type": "scan", "x-label": {"zh-CN": "扫码", "en": "Scan"}, "x-options": {"map": {"10": "text"}}},
    "signature":   {"x-type": "signature", "x-label": {"zh-CN": "签名", "en": "Signature"}},
    "location":    {"x-type": "location", "x-label": {"zh-CN": "定位", "en": "Location"}},
    "attachment":  {"x-type": "attachment", "x-label": {"zh-CN": "附件", "en": "Attachments"}},
    "image":       {"x-type": "image", "x-label": {"zh-CN": "图片", "en": "Images"}},
    "richtext":    {"x-type": "richtext", "x-label": {"zh-CN": "富文本", "en": "Rich text"}}
  }},
  "layout": {"columns": 2, "items": [
    {"kind": "field", "field": "autonumber"}, {"kind": "field", "field": "text"},
    {"kind": "field", "field": "scan", "span": 2},
    {"kind": "field", "field": "number"}, {"kind": "field", "field": "money"},
    {"kind": "field", "field": "formula"}, {"kind": "field", "field": "made_on"},
    {"kind": "group", "label": {"zh-CN": "时间", "en": "Times"}, "columns": 2, "items": [
      {"kind": "field", "field": "datetime"}, {"kind": "field", "field": "shift_at"}]},
    {"kind": "field", "field": "select"}, {"kind": "field", "field": "radio"},
    {"kind": "field", "field": "multiselect"}, {"kind": "field", "field": "checkbox"},
    {"kind": "field", "field": "switch"}, {"kind": "field", "field": "person"},
    {"kind": "field", "field": "department"}, {"kind": "field", "field": "relation"},
    {"kind": "field", "field": "subtable", "span": 2},
    {"kind": "field", "field": "textarea", "span": 2},
    {"kind": "field", "field": "richtext", "span": 2},
    {"kind": "field", "field": "signature"}, {"kind": "field", "field": "location"},
    {"kind": "field", "field": "attachment"}, {"kind": "field", "field": "image"}]}
}`

// a11yAuditJS looks at every visible interactive element of the page — buttons, links, form
// controls, elements with an interactive role or a tabindex ≥ 0 — and lists those without an
// accessible name (aria-labelledby, aria-label, a <label for> or wrapping label, title, or text)
// and those the keyboard cannot reach (tabindex -1 outside a widget with a roving focus: a tab
// list, radio group, menu … whose current item takes the focus). Each problem names the element
// by a CSS path, anchored at the nearest ancestor with an id or a data-test.
const a11yAuditJS = `(() => {
	const interactive = 'button, a[href], input, select, textarea, [role="button"], [role="switch"], [role="checkbox"], [role="tab"], [role="menuitem"], [role="combobox"], [tabindex]';
	const roving = '[role="tablist"], [role="radiogroup"], [role="menu"], [role="menubar"], [role="listbox"], [role="tree"], [role="grid"], [role="toolbar"]';
	const squash = (s) => (s || '').replace(/\s+/g, ' ').trim();
	const text = (el) => squash(el.innerText || el.textContent);
	const labelled = new Set(['INPUT', 'SELECT', 'TEXTAREA']);
	const nameOf = (el) => {
		const by = el.getAttribute('aria-labelledby');
		if (by) {
			const s = squash(by.split(/\s+/).map((id) => document.getElementById(id)).filter(Boolean).map(text).join(' '));
			if (s) return s;
		}
		const aria = squash(el.getAttribute('aria-label'));
		if (aria) return aria;
		if (el.labels && el.labels.length) {
			// A label's own aria-label names it (Element Plus puts a checkbox's there).
			const s = squash([...el.labels].map((l) => squash(l.getAttribute('aria-label')) || text(l)).join(' '));
			if (s) return s;
		}
		const title = squash(el.getAttribute('title'));
		if (title) return title;
		if (el.tagName === 'INPUT' && ['button', 'submit', 'reset'].includes(el.type)) return squash(el.value);
		if (labelled.has(el.tagName)) return '';
		const s = text(el);
		if (s) return s;
		const img = el.querySelector('img[alt]');
		return img ? squash(img.alt) : '';
	};
	const shown = (el) => {
		if (el.closest('[aria-hidden="true"], [inert]')) return false;
		if (!el.checkVisibility({ visibilityProperty: true })) return false;
		// Element Plus hides the native input of a checkbox, radio or switch at size 0 inside a
		// visible box: it is what takes the focus, so it counts when its box shows.
		const box = (e) => { const r = e.getBoundingClientRect(); return r.width > 0 && r.height > 0 };
		return box(el) || (el.tagName === 'INPUT' && el.parentElement && box(el.parentElement));
	};
	const reachable = (el) => {
		if (el.tabIndex >= 0) return true;
		// A spin button's step buttons stay out of the tab order (the ARIA spinbutton pattern):
		// the arrow keys step the focused input (Element Plus's input-number does).
		const spin = el.parentElement && el.parentElement.querySelector('[role="spinbutton"]');
		if (spin && spin.tabIndex >= 0) return true;
		// A popup menu or list box takes the focus from its trigger and moves it with the arrow
		// keys (Element Plus's dropdown menu does); a tab list, radio group, toolbar, grid or tree
		// in the page keeps one item (or itself) in the tab order.
		if (el.closest('[role="menu"], [role="menubar"], [role="listbox"]')) return true;
		const w = el.closest(roving);
		return !!w && (w.tabIndex >= 0 || w.hasAttribute('aria-activedescendant') || !!w.querySelector('[tabindex="0"]'));
	};
	const step = (el) => {
		let s = el.tagName.toLowerCase();
		const cls = [...el.classList].filter((c) => !c.startsWith('is-') && !/^(data-v-|_)/.test(c)).slice(0, 2);
		if (cls.length) s += '.' + cls.join('.');
		const same = el.parentElement ? [...el.parentElement.children].filter((c) => c.tagName === el.tagName) : [];
		if (same.length > 1) s += ':nth-of-type(' + (same.indexOf(el) + 1) + ')';
		return s;
	};
	// An anchor is an id of ours (Element Plus's generated el-id-… change from load to load) or a data-test.
	const anchor = (el) => el.id && !el.id.startsWith('el-id-') ? '#' + CSS.escape(el.id) : el.dataset && el.dataset.test ? '[data-test="' + el.dataset.test + '"]' : '';
	const pathOf = (el) => {
		const parts = [];
		for (let e = el; e && e !== document.body; e = e.parentElement) {
			const a = anchor(e);
			if (a) { parts.unshift(a); break }
			parts.unshift(step(e));
		}
		return parts.join(' > ');
	};
	const out = [];
	let seen = 0;
	for (const el of document.querySelectorAll(interactive)) {
		if (el.matches('[tabindex]') && !el.matches(interactive.replace(', [tabindex]', '')) && el.tabIndex < 0) continue;
		if (el.type === 'hidden' || el.disabled || el.getAttribute('aria-disabled') === 'true') continue;
		if (!shown(el)) continue;
		seen++;
		const problems = [];
		const name = nameOf(el);
		if (!name) problems.push('no accessible name');
		else if (/^[a-z][a-zA-Z]*(\.[a-zA-Z_]+)+$/.test(name)) problems.push('named by a message key: ' + name);
		if (!reachable(el)) problems.push('not reachable by keyboard (tabindex ' + el.getAttribute('tabindex') + ')');
		if (problems.length) out.push({ path: pathOf(el), problems, html: el.outerHTML.slice(0, 200) });
	}
	// Things that look clickable (a pointer cursor) but are no control and hold none: a mouse
	// can use them, a keyboard cannot.
	for (const el of document.querySelectorAll('body *')) {
		if (el.closest(interactive + ', label, [role="option"], svg') || el.querySelector(interactive)) continue;
		// A widget's drawn part beside its own hidden control (Element Plus's switch track by its
		// zero-size input, which takes the focus and the keys).
		if (el.parentElement && [...el.parentElement.children].some((c) => c.tagName === 'INPUT' && c.getBoundingClientRect().width === 0)) continue;
		if (getComputedStyle(el).cursor !== 'pointer' || (el.parentElement && getComputedStyle(el.parentElement).cursor === 'pointer')) continue;
		if (!shown(el)) continue;
		out.push({ path: pathOf(el), problems: ['clickable by mouse only'], html: el.outerHTML.slice(0, 200) });
	}
	return { seen, problems: out };
})()`

// a11yNoLoadingMask waits until no loading mask shows (one in a hidden tab pane does not).
var a11yNoLoadingMask = chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-loading-mask')].some((e) => e.checkVisibility())`, chromedp.WithPollingInterval(100*time.Millisecond))

// a11yProblem is one element the audit found wanting.
type a11yProblem struct {
	Path     string   `json:"path"`
	Problems []string `json:"problems"`
	HTML     string   `json:"html"`
}

// audit runs the audit on the page as it is, saves a screenshot named screen and adds what it
// found to found.
func (b *browser) audit(screen string, found map[string][]a11yProblem) {
	b.t.Helper()
	b.run("let "+screen+" settle", settled)
	got := b.auditPage(screen)
	b.t.Logf("%s: %d controls", screen, got.Seen)
	if got.Seen == 0 {
		b.t.Errorf("%s: no control to audit", screen)
	}
	b.shot(screen)
	if len(got.Problems) > 0 {
		found[b.vp.name+" "+screen] = got.Problems
	}
}

// a11yAudit is what the audit answers: how many controls it looked at, and the problems.
type a11yAudit struct {
	Seen     int           `json:"seen"`
	Problems []a11yProblem `json:"problems"`
}

func (b *browser) auditPage(screen string) a11yAudit {
	b.t.Helper()
	var got a11yAudit
	if err := json.Unmarshal([]byte(evalString(b, `JSON.stringify(`+a11yAuditJS+`)`)), &got); err != nil {
		b.t.Fatalf("audit %s: %v", screen, err)
	}
	return got
}

// auditSelfCheck puts controls the audit must refuse into the page — an icon-only button, a
// clickable div with no tabindex, an unlabelled input, a button taken out of the tab order, a
// button named by a message key (a missing translation), a span only a mouse can click — and
// two it must pass (a button named by aria-label, an input by its wrapping label), and checks
// the audit names exactly the six, then takes them out again.
func (b *browser) auditSelfCheck() {
	b.t.Helper()
	b.run("plant probes", chromedp.Evaluate[chromedp.Void](`(() => {
		const box = document.createElement('div');
		box.id = 'a11y-probes';
		box.innerHTML = '<button class="bad-icon"><svg width="16" height="16"></svg></button>' +
			'<div role="button" class="bad-div">删除</div><input class="bad-input"><button tabindex="-1" class="bad-tab">保存</button>' +
			'<button aria-label="records.removeRow" class="bad-key"></button><span class="bad-click" style="cursor: pointer">打印</span>' +
			'<button aria-label="关闭" class="ok-icon"><svg width="16" height="16"></svg></button><label>数量 <input class="ok-input"></label>';
		document.body.append(box);
		return null })()`))
	got := b.auditPage("self-check")
	b.run("remove probes", chromedp.Evaluate[chromedp.Void](`document.getElementById('a11y-probes').remove(), null`))
	var probes []string
	for _, p := range got.Problems {
		if strings.HasPrefix(p.Path, "#a11y-probes") {
			probes = append(probes, p.Path+": "+strings.Join(p.Problems, ", "))
		}
	}
	want := []string{
		"#a11y-probes > button.bad-icon:nth-of-type(1): no accessible name",
		"#a11y-probes > div.bad-div: not reachable by keyboard (tabindex null)",
		"#a11y-probes > input.bad-input: no accessible name",
		"#a11y-probes > button.bad-tab:nth-of-type(2): not reachable by keyboard (tabindex -1)",
		"#a11y-probes > button.bad-key:nth-of-type(3): named by a message key: records.removeRow",
		"#a11y-probes > span.bad-click: clickable by mouse only",
	}
	if !slices.Equal(probes, want) {
		b.t.Fatalf("the audit found in its probes\n  %s\nwant\n  %s", strings.Join(probes, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestEveryControlIsNamedAndReachable (issue 9: "keyboard use and labels on every control"):
// on a desktop and a 390×844 phone, the main screens — sign-in, workbench, app navigation,
// record list with its filters, a record form with a field of every palette type, the record
// drawer, the inbox and a task, the form designer with a field's properties, the flow designer
// with a node's drawer, the rule editor, the label designer with an element's properties, and
// every admin tab — are audited in the page: every visible button, link, form control and
// element with an interactive role or a tabindex has an accessible name and is reachable by
// the keyboard. Each failure is reported with its screen and a CSS path. The sign-in form
// submits on Enter, and Tab walks the record form's fields in the order they are shown.
func TestEveryControlIsNamedAndReachable(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "a11y")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithReceipt(t)
	if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", []byte(a11yEveryDef)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/every/publish", nil, 201, nil)
	flow := `{"key": "release", "name": {"zh-CN": "原料放行"}, "form": "receipt", "trigger": {"on": "create"}, "nodes": [
		{"id": "start", "type": "start", "next": "qa"},
		{"id": "qa", "type": "approval", "name": {"zh-CN": "质量审核"}, "mode": "any", "assignees": [{"kind": "user", "users": ["admin"]}], "next": "done"},
		{"id": "done", "type": "end", "outcome": "approved"}]}`
	if res := admin.Raw("POST", "/api/v1/apps/plant/flows", "application/json", []byte(flow)); res.Status != 201 {
		t.Fatalf("create flow: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/flows/release/publish", nil, 201, nil)
	var receipt, every struct {
		ID string `json:"id"`
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "小麦粉", "qty": 10, "price": 3.5}}, 201, &receipt)
	admin.Do("POST", "/api/v1/apps/plant/forms/every/records", map[string]any{"data": map[string]any{
		"text": "样品", "number": 3, "select": "a", "radio": "b", "multiselect": []string{"a"}, "checkbox": []string{"b"}, "switch": true,
		"made_on": "2026-05-01", "subtable": []map[string]any{{"item": "水分", "qty": 1}}, "relation": receipt.ID,
	}}, 201, &every)
	// The flow starts just after the create: wait for the task.
	var todo []struct {
		Task struct {
			ID string `json:"id"`
		} `json:"task"`
	}
	for i := 0; i < 200 && len(todo) == 0; i++ {
		admin.Do("GET", "/api/v1/inbox?box=todo", nil, 200, &todo)
		if len(todo) == 0 {
			time.Sleep(50 * time.Millisecond)
		}
	}
	if len(todo) == 0 {
		t.Fatal("no task for the receipt")
	}

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))
			found := map[string][]a11yProblem{}
			visit := func(screen, path, sel string, then ...chromedp.Action[chromedp.Void]) {
				t.Helper()
				b.run("open "+screen, append([]chromedp.Action[chromedp.Void]{chromedp.Navigate(s.URL + path), chromedp.WaitVisible(chromedp.CSS(sel)), a11yNoLoadingMask}, then...)...)
				b.audit(screen, found)
			}

			// Sign-in: audited, then submitted by Enter in the password box (no click).
			b.run("open the sign-in page", chromedp.Navigate(s.URL+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
			b.audit("01-sign-in", found)
			b.run("sign in with Enter",
				chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
				chromedp.SendKeys(chromedp.CSS("#login-password"), apitest.AdminPassword),
				chromedp.KeyEvent("\r"),
				chromedp.WaitVisible(chromedp.CSS(`[data-test="app-plant"]`)),
			)
			b.audit("02-workbench", found)
			b.run("open the user menu", chromedp.Click(chromedp.CSS(`[data-test="user-menu"]`)), settled)
			b.audit("02b-user-menu", found)
			b.auditSelfCheck()

			if vp.mobile {
				visit("03-app-navigation", "/apps/plant", `[data-test="open-forms"]`,
					chromedp.Click(chromedp.CSS(`[data-test="open-forms"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-test="form-every"]`)))
			} else {
				visit("03-app-navigation", "/apps/plant", `[data-test="form-every"]`)
			}
			list := `[data-test="record-table"]`
			if vp.mobile {
				list = `[data-test="record-cards"]`
			}
			visit("04-record-list", "/apps/plant/forms/every", list)
			b.pickOption(`[data-test="filter-field"]`, "单行文本")
			b.run("add a filter", chromedp.WaitVisible(chromedp.CSS(`[data-test="filter-value"]`)),
				chromedp.SendKeys(chromedp.CSS(`input[data-test="filter-value"], [data-test="filter-value"] input`), "样"),
				chromedp.Click(chromedp.CSS(`[data-test="filter-add"]`)))
			b.waitText(`[data-test="total"]`, "1")
			b.audit("04b-record-list-filtered", found)
			if !vp.mobile {
				b.run("open the column chooser", chromedp.Click(chromedp.CSS(`[data-test="columns"]`)), settled)
				b.audit("04c-record-list-columns", found)
			}
			visit("05-record-form", "/apps/plant/forms/every/new", "#f-text",
				chromedp.Click(chromedp.CSS(`[data-field="subtable"] [data-test="add-row"]`)), chromedp.WaitVisible(chromedp.CSS("#f-subtable-0-item")))
			b.tabOrder(`[data-test="record-form"]`)
			b.run("open the date picker", chromedp.Click(chromedp.CSS("#f-made_on")), chromedp.WaitVisible(chromedp.CSS(".el-date-picker")), settled)
			b.audit("05b-date-picker", found)
			visit("06-record-drawer", "/apps/plant/forms/every?open="+every.ID, `.el-drawer [data-field="text"]`)
			for _, tab := range []string{"flow", "history"} {
				b.run("open the drawer's "+tab, chromedp.Click(chromedp.CSS(".el-drawer #tab-"+tab)), settled)
				b.audit("06-record-drawer-"+tab, found)
			}
			visit("07-inbox", "/inbox/todo", `[data-task]`)
			// The task page is reached from its card (a task id may hold a dot, which the server
			// does not route to the app when it is typed as an address).
			b.run("open the task", chromedp.Click(chromedp.CSS(`[data-task]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="act-approve"]`)), a11yNoLoadingMask)
			b.audit("08-task", found)
			visit("09-form-designer", "/apps/plant/forms/every/design", `[data-field-key="number"]`,
				chromedp.Click(chromedp.CSS(`[data-field-key="number"]`)), settled)
			visit("10-flow-designer", "/apps/plant/flows/release/design", `[data-test="node-qa"]`)
			b.run("open the node's drawer", chromedp.Click(chromedp.CSS(`[data-test="node-qa"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="node-name"]`)))
			b.audit("11-flow-node-drawer", found)
			visit("12-rule-editor", "/apps/plant/rules/new/design?form=receipt", `[data-test="rule-sentence"]`)
			for i, tab := range []struct{ name, sel string }{
				{"users", `[data-test="user-table"]`}, {"departments", `[data-test="dept-new"]`}, {"roles", `[data-test="role-table"]`},
				{"matrix", `[data-test="matrix-save"]`}, {"printers", `[data-test="admin-printers"]`}, {"audit", `[data-test="audit-table"]`},
				{"deliveries", `[data-test="delivery-table"]`},
			} {
				visit(fmt.Sprintf("%d-admin-%s", 14+i, tab.name), "/admin/"+tab.name, tab.sel)
			}
			// 管理's sections all show, none past the screen's edge, on a 360 px phone too; in English also.
			b.adminTabsFit("zh-CN")
			english := chromedp.Search(`//li[contains(@class, "el-select-dropdown__item")][normalize-space()="English"]`)
			b.run("open the languages", chromedp.Navigate(s.URL+"/admin/users"), chromedp.WaitVisible(chromedp.CSS(`[data-test="user-table"]`)),
				chromedp.Click(chromedp.CSS(`[data-test="language"]`)), chromedp.WaitVisible(english), settled)
			b.run("switch to English", chromedp.Click(english))
			b.waitText(`[data-test="admin-users"]`, "Users")
			b.audit("14e-admin-users-en", found)
			b.adminTabsFit("en")
			b.run("back to Chinese", chromedp.Evaluate[chromedp.Void](`localStorage.clear(), null`))

			b.run("open a role", chromedp.Navigate(s.URL+"/admin/roles"), chromedp.WaitVisible(chromedp.CSS(`[data-test="role-new"]`)),
				chromedp.Click(chromedp.CSS(`[data-test="role-new"]`)), chromedp.WaitVisible(chromedp.CSS("#role-name")),
				chromedp.Click(chromedp.CSS(`[data-test="grant-add"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="grant-0-app.read"]`)))
			b.audit("21-admin-role-dialog", found)

			// Last: the label designer with an element added (it then asks before the page is left).
			if vp.mobile {
				visit("22-label-designer", "/apps/plant/labels/new/design?form=receipt", `[data-test="label-designer"]`)
			} else {
				visit("22-label-designer", "/apps/plant/labels/new/design?form=receipt", `[data-test="pal-qr"]`,
					chromedp.Click(chromedp.CSS(`[data-test="pal-qr"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="el-qr_1"]`)))
			}

			var lines []string
			for _, screen := range slices.Sorted(func(yield func(string) bool) {
				for k := range found {
					if !yield(k) {
						return
					}
				}
			}) {
				for _, p := range found[screen] {
					lines = append(lines, fmt.Sprintf("%s: %s: %s\n    %s", screen, p.Path, strings.Join(p.Problems, ", "), p.HTML))
				}
			}
			if len(lines) > 0 {
				t.Errorf("%d controls without a name or out of the keyboard's reach:\n%s", len(lines), strings.Join(lines, "\n"))
			}
			b.noPageErrors()
		})
	}
}

// tabOrder checks that Tab walks the fields of the form matching sel in the order a person
// reads them (row by row, left to right), reaching every field that has a control to focus.
func (b *browser) tabOrder(sel string) {
	b.t.Helper()
	// The fields in reading order: by the top of their box (within a few pixels is one row),
	// then left to right; each with whether it holds a control the keyboard can reach.
	fields := adminEval[[]string](b, fmt.Sprintf(`(() => {
		const form = document.querySelector(%q);
		const top = [...form.querySelectorAll('[data-field]')].filter((f) => !f.parentElement.closest('[data-field]'));
		const boxes = top.map((f) => ({ key: f.dataset.field, r: f.getBoundingClientRect(),
			focusable: [...f.querySelectorAll('input, select, textarea, button, [tabindex]')].some((e) => e.tabIndex >= 0 && !e.disabled && e.type !== 'hidden' && e.checkVisibility()) }));
		boxes.sort((a, b) => Math.abs(a.r.top - b.r.top) > 8 ? a.r.top - b.r.top : a.r.left - b.r.left);
		return boxes.filter((x) => x.focusable).map((x) => x.key);
	})()`, sel))
	if len(fields) < 10 {
		b.t.Fatalf("the record form shows only %d focusable fields: %v", len(fields), fields)
	}
	// Focus the first field's first control, then Tab until the focus leaves the fields.
	b.run("focus the first field", chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`(() => {
		const f = document.querySelector(%q + ' [data-field="' + %q + '"]');
		[...f.querySelectorAll('input, select, textarea, button, [tabindex]')].find((e) => e.tabIndex >= 0 && !e.disabled).focus();
		return null })()`, sel, fields[0])))
	current := fmt.Sprintf(`(() => {
		let f = null;
		for (let e = document.activeElement; e; e = e.parentElement) if (e.dataset && e.dataset.field && e.closest(%q)) f = e.dataset.field;
		return f || '';
	})()`, sel)
	visited := []string{fields[0]}
	for i := 0; i < 12*len(fields); i++ {
		b.run("press Tab", chromedp.KeyEvent("\t"))
		f := evalString(b, current)
		if f == "" {
			break
		}
		if f != visited[len(visited)-1] {
			visited = append(visited, f)
		}
	}
	if !slices.Equal(visited, fields) {
		b.t.Errorf("Tab walks the record form's fields as\n  %v\nwhile they show as\n  %v", visited, fields)
	}
}

// adminTabsFit checks that every section tab of 管理 shows whole inside the screen with no
// sideways scrolling, and that the top bar's language switch shows its text whole with every
// control of the bar on the screen, at the browser's width and, on a phone, at 360 px too (with
// a screenshot of each, named by lang).
func (b *browser) adminTabsFit(lang string) {
	b.t.Helper()
	widths := []int64{b.vp.width}
	if b.vp.mobile {
		widths = append(widths, 360)
	}
	for _, w := range widths {
		b.run("set the width", chromedp.EmulateViewport(w, b.vp.height, b.emulate...), chromedp.Navigate(strings.TrimSuffix(evalString(b, `location.origin`), "/")+"/admin/users"),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="user-table"]`)))
		bad := evalString(b, `(() => {
			const nav = document.querySelector('.adm__nav');
			const out = [];
			if (nav.scrollWidth > nav.clientWidth + 1) out.push('the tab row scrolls: ' + nav.scrollWidth + ' > ' + nav.clientWidth);
			if (document.documentElement.scrollWidth > window.innerWidth + 1) out.push('the page scrolls sideways: ' + document.documentElement.scrollWidth);
			for (const a of nav.querySelectorAll('[data-test^="admin-"]')) {
				const r = a.getBoundingClientRect();
				if (r.left < 0 || r.right > window.innerWidth + 0.5 || r.width === 0) out.push(a.dataset.test + ' at ' + Math.round(r.left) + '–' + Math.round(r.right));
				if (r.height < 36) out.push(a.dataset.test + ' is ' + Math.round(r.height) + ' px high');
			}
			return out.join('; ');
		})()`)
		if bad != "" {
			b.t.Errorf("管理's tabs at %d px (%s): %s", w, lang, bad)
		}
		// The top bar above them: the language switch's text shows whole (not "E…"), and no
		// control of the bar is pushed past the screen's edge.
		bar := evalString(b, `(() => {
			const out = [];
			const text = document.querySelector('.shell__bar [data-test="language"] .el-select__placeholder');
			if (!text) return 'no language switch in the top bar';
			if (!text.innerText.trim()) out.push('the language switch shows no text');
			if (text.scrollWidth > text.clientWidth) out.push('the language switch shows ' + JSON.stringify(text.innerText) + ' cut: ' + text.scrollWidth + ' > ' + text.clientWidth);
			for (const c of document.querySelector('.shell__bar').children) {
				const r = c.getBoundingClientRect();
				if (r.width > 0 && (r.left < 0 || r.right > window.innerWidth + 0.5)) out.push((c.dataset.test || c.className) + ' at ' + Math.round(r.left) + '–' + Math.round(r.right));
			}
			return out.join('; ');
		})()`)
		if bar != "" {
			b.t.Errorf("the top bar at %d px (%s): %s", w, lang, bar)
		}
		full := b.vp.width
		b.vp.width = w // shot takes the picture at the viewport's width
		b.shot(fmt.Sprintf("admin-tabs-%s-%d", lang, w))
		b.vp.width = full
	}
	b.run("restore the width", chromedp.EmulateViewport(b.vp.width, b.vp.height, b.emulate...))
}
