package browsertest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// adminSignIn opens url, signs in as username and waits for sel.
func (b *browser) adminSignIn(url, username, password, sel string) {
	b.t.Helper()
	b.run("open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("#login-username")))
	b.run("sign in as "+username,
		chromedp.SendKeys(chromedp.CSS("#login-username"), username),
		chromedp.SendKeys(chromedp.CSS("#login-password"), password),
		chromedp.Click(chromedp.CSS(`[data-test="login-submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(sel)),
	)
}

// adminPick opens the select matching sel and clicks its showing option whose text
// contains text.
func (b *browser) adminPick(sel, text string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const o = [...document.querySelectorAll('.el-select-dropdown__item')].find((e) => e.offsetParent && e.innerText.includes(%q));
		if (!o) return false;
		o.click();
		return true;
	})()`, text)
	b.run("pick "+text, chromedp.Click(chromedp.CSS(sel)), settled, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond)))
}

// adminLacks fails the test when the page's text shows any of texts.
func (b *browser) adminLacks(where string, texts ...string) {
	b.t.Helper()
	body := adminEval[string](b, `document.body.innerText`)
	for _, s := range texts {
		if strings.Contains(body, s) {
			b.t.Errorf("%s: the page shows %q", where, s)
		}
	}
}

// adminNoLoadingMask waits until no loading mask covers the page (one fading out still takes clicks).
var adminNoLoadingMask = chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-loading-mask')].some((e) => getComputedStyle(e).display !== 'none')`, chromedp.WithPollingInterval(100*time.Millisecond))

// adminNoOverlay waits until no dialog or drawer overlay is showing (one fading out still takes clicks).
var adminNoOverlay = chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-overlay')].some((e) => getComputedStyle(e).display !== 'none')`, chromedp.WithPollingInterval(100*time.Millisecond))

// adminTab opens a section of 管理 by its tab, clicking it until the address is the section's
// (a click landing while the page is laid out again after a screenshot can miss).
func adminTab(section string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
		if (location.pathname.startsWith('/admin/%[1]s')) return true;
		document.querySelector('[data-test="admin-%[1]s"]')?.click();
		return false;
	})()`, section), chromedp.WithPollingInterval(200*time.Millisecond))
}

// adminEval evaluates js in the page and returns its value.
func adminEval[T any](b *browser, js string) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// TestAdminHidesAFieldFromARole (issue 9, admin): an administrator opens 管理 from the top bar,
// creates a role that may use the app and a user holding it, and in the permission matrix
// grants the role 查看 on the receipt form and saves (the draft is saved and published). The
// user signs in (no 管理 for them) and sees the unit price's column and value in the record
// list. The administrator hides the unit price from the role in the matrix's field rules and
// saves; the user's list, reloaded, shows neither the column nor the price (nor the amount,
// a formula over it) anywhere on the page, and the record drawer does not show it either. On
// a desktop and on a 390×844 phone, each with its own role and user; a screenshot per step.
func TestAdminHidesAFieldFromARole(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "admin")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithReceipt(t)
	var rec struct {
		ID string `json:"id"`
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records", map[string]any{"data": map[string]any{"material": "黑麦粉", "qty": 10, "price": 8.76}}, 201, &rec)

	people := map[string]struct{ role, label, user, name string }{
		"desktop": {"inspector-desktop", "质检员甲", "qc-desktop", "王质检"},
		"phone":   {"inspector-phone", "质检员乙", "qc-phone", "李质检"},
	}
	const password = "Passw0rd-long"
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			who := people[vp.name]
			dir := filepath.Join(screens, vp.name)
			b := newBrowser(t, bin, vp, dir)
			b.signInAt(s.URL+"/", `[data-test="nav-admin"]`)
			b.shot("01-workbench-with-admin")
			b.run("open 管理", chromedp.Click(chromedp.CSS(`[data-test="nav-admin"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="user-table"]`)))
			b.waitURL("/admin/users")
			b.waitText(`[data-test="user-table"]`, "admin")
			b.shot("02-users")

			// A role that may use the app.
			b.run("open roles", adminTab("roles"), chromedp.WaitVisible(chromedp.CSS(`[data-test="role-new"]`)))
			b.waitText(`[data-test="role-table"]`, "系统管理员")
			b.run("new role", chromedp.Click(chromedp.CSS(`[data-test="role-new"]`)), chromedp.WaitVisible(chromedp.CSS("#role-name")), settled,
				b.typeInto("#role-name", who.role), b.typeInto("#role-label-zh", who.label), b.typeInto("#role-label-en", "Inspector"),
				chromedp.Click(chromedp.CSS(`[data-test="grant-add"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="grant-0-app.read"]`)),
				chromedp.Click(chromedp.CSS(`[data-test="grant-0-app.read"]`)),
			)
			b.shot("03-role-dialog")
			b.run("save the role", chromedp.Click(chromedp.CSS(`[data-test="role-save"]`)))
			b.waitText(`[data-test="role-table"]`, who.label)
			b.waitText(`[data-test="role-table"]`, "一号工厂：使用应用")
			b.shot("04-roles")

			// A user holding it.
			b.run("open users", adminNoOverlay, adminTab("users"), chromedp.WaitVisible(chromedp.CSS(`[data-test="user-new"]`)))
			b.run("new user", chromedp.Click(chromedp.CSS(`[data-test="user-new"]`)), chromedp.WaitVisible(chromedp.CSS("#user-username")), settled,
				b.typeInto("#user-username", who.user), b.typeInto("#user-name", who.name), b.typeInto("#user-password", password))
			b.adminPick(`[data-test="user-roles"]`, who.label)
			b.run("close the roles menu", chromedp.Click(chromedp.CSS("#user-name")), settled)
			b.shot("05-user-dialog")
			b.run("save the user", chromedp.Click(chromedp.CSS(`[data-test="user-save"]`)))
			b.waitText(`[data-test="user-table"]`, who.name)
			b.shot("06-users-with-new")

			// The matrix: the role may read the receipt form.
			cell := fmt.Sprintf("cell-%s-receipt", who.role)
			b.run("open the matrix", adminNoOverlay, adminTab("matrix"),
				chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-test="%s-read"]`, cell))))
			b.waitURL("/admin/matrix/plant")
			b.run("wait for the matrix to load", adminNoLoadingMask)
			b.run("grant read", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="%s-read"]`, cell))), chromedp.WaitVisible(chromedp.CSS(`[data-test="matrix-dirty"]`)))
			b.shot("07-matrix-read")
			b.run("save the matrix", chromedp.Click(chromedp.CSS(`[data-test="matrix-save"]`)))
			b.waitText("body", "已保存并发布")
			b.run("saved", chromedp.WaitNotPresent(chromedp.CSS(`[data-test="matrix-dirty"]`)))
			b.shot("08-matrix-saved")

			// The user sees the unit price.
			u := newBrowser(t, bin, vp, dir)
			list := `[data-test="record-table"]`
			if vp.mobile {
				list = `[data-test="record-cards"]`
			}
			u.adminSignIn(s.URL+"/apps/plant/forms/receipt", who.user, password, list)
			u.waitText(list, "黑麦粉")
			u.waitText("body", "8.76")
			if adminEval[bool](u, `!!document.querySelector('[data-test="nav-admin"]')`) {
				t.Error("a user without system.admin sees 管理")
			}
			if !vp.mobile {
				u.waitText(list+" thead", "单价")
			}
			u.shot("09-user-sees-price")
			// A reader is offered reading only: no 新增, 导入, 导出, choosing rows, nor designing forms.
			offered := []string{`[data-test="new-record"]`, `[data-test="import"]`, `[data-test="export"]`, `[data-test="select-mode"]`,
				list + ` .el-table-column--selection`, `[data-test="new-form"]`, `[data-test^="design-"]`}
			for _, sel := range offered {
				if adminEval[bool](u, fmt.Sprintf(`!!document.querySelector(%q)`, sel)) {
					t.Errorf("a reader is offered %s", sel)
				}
			}
			if !vp.mobile && !adminEval[bool](u, `!!document.querySelector('[data-test="form-receipt"]')`) {
				t.Error("the reader's navigation lacks the receipt form")
			}

			// The administrator hides it from the role.
			b.run("open the field rules", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="rules-%s-receipt"]`, who.role))),
				chromedp.WaitVisible(chromedp.CSS(`[data-test="rule-price-hidden"]`)), settled)
			b.run("hide the price", chromedp.Click(chromedp.CSS(`[data-test="rule-price-hidden"]`)))
			b.shot("10-field-rules")
			b.run("close the field rules", chromedp.Click(chromedp.CSS(`[data-test="rules-done"]`)),
				chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-overlay')].some((e) => getComputedStyle(e).display !== 'none')`, chromedp.WithPollingInterval(100*time.Millisecond)))
			b.run("save the matrix again", chromedp.Click(chromedp.CSS(`[data-test="matrix-save"]`)),
				chromedp.WaitNotPresent(chromedp.CSS(`[data-test="matrix-dirty"]`)))
			b.shot("11-matrix-hidden")
			// Saved in the draft and published: the latest version hides the price from the role.
			var vs []struct {
				Definition struct {
					Permissions map[string]struct {
						Actions []string `json:"actions"`
						Hidden  []string `json:"hidden"`
					} `json:"permissions"`
				} `json:"definition"`
			}
			admin.Do("GET", "/api/v1/apps/plant/forms/receipt/versions", nil, 200, &vs)
			if p := vs[len(vs)-1].Definition.Permissions[who.role]; !slices.Equal(p.Actions, []string{"read"}) || !slices.Equal(p.Hidden, []string{"price"}) {
				t.Fatalf("latest version's permission of %s: %+v", who.role, p)
			}

			// The user's list, reloaded, has no price anywhere; nor has the record drawer.
			u.run("reload the list", chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(list)))
			u.waitText(list, "黑麦粉")
			u.adminLacks("the list", "单价", "8.76", "87.60", "金额")
			u.shot("12-user-list-without-price")
			open := fmt.Sprintf(`[data-record="%s"]`, rec.ID)
			if !vp.mobile {
				open = list + " .el-table__row"
			}
			u.run("open the record", adminNoOverlay, chromedp.Click(chromedp.CSS(open)), chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-field="material"]`)))
			u.waitText(".el-drawer", "黑麦粉")
			if adminEval[bool](u, `!!document.querySelector('.el-drawer [data-field="price"], .el-drawer [data-field="amount"]')`) {
				t.Error("the record drawer shows the hidden price")
			}
			u.adminLacks("the drawer", "单价", "8.76", "87.60")
			for _, sel := range []string{`[data-test="edit-record"]`, `[data-test="delete-record"]`, `[data-test="record-transition"]`} {
				if adminEval[bool](u, fmt.Sprintf(`!!document.querySelector('.el-drawer %s')`, sel)) {
					t.Errorf("the reader's drawer offers %s", sel)
				}
			}
			u.shot("13-user-drawer-without-price")

			// The rest of 管理: a department, the audit log and its verify report, failed deliveries.
			dept := "qa-" + vp.name
			b.run("open departments", adminNoOverlay, adminTab("departments"), chromedp.WaitVisible(chromedp.CSS(`[data-test="dept-new"]`)), adminNoLoadingMask)
			b.run("new department", chromedp.Click(chromedp.CSS(`[data-test="dept-new"]`)), chromedp.WaitVisible(chromedp.CSS("#dept-id")), settled,
				b.typeInto("#dept-id", dept), b.typeInto("#dept-name-zh", "质量部"), b.typeInto("#dept-name-en", "Quality"),
				chromedp.Click(chromedp.CSS(`[data-test="dept-save"]`)), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-dept="%s"]`, dept))))
			b.shot("14-departments")
			b.run("open the audit log", adminNoOverlay, adminTab("audit"), chromedp.WaitVisible(chromedp.CSS(`[data-test="audit-table"]`)))
			b.waitText(`[data-test="audit-table"]`, "department.create")
			b.run("filter by action", b.typeInto(`[data-test="audit-action"]`, "department.*"), chromedp.Click(chromedp.CSS(`[data-test="audit-search"]`)),
				chromedp.Poll[chromedp.Void](`(() => { const rows = [...document.querySelectorAll('[data-test="audit-table"] .el-table__row')]; return rows.length > 0 && rows.every((r) => r.innerText.includes('department.create')) })()`, chromedp.WithPollingInterval(100*time.Millisecond)))
			b.run("verify the chain", chromedp.Click(chromedp.CSS(`[data-test="audit-verify"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="audit-report"]`)))
			b.waitText(`[data-test="audit-report"]`, "完好")
			b.shot("15-audit-verified")
			b.run("open an entry", chromedp.Click(chromedp.CSS(`[data-test="audit-table"] .el-table__row`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="audit-detail"]`)))
			b.waitText(`[data-test="audit-detail"]`, "department.create")
			b.shot("16-audit-entry")
			b.run("open failed deliveries", chromedp.Navigate(s.URL+"/admin/deliveries"), chromedp.WaitVisible(chromedp.CSS(`[data-test="delivery-table"]`)), adminNoLoadingMask)
			b.shot("17-deliveries")
			u.noPageErrors()
			b.noPageErrors()
		})
	}
}
