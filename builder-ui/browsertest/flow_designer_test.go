package browsertest

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// pickOption opens the Element Plus select matching sel and clicks its option showing text.
func (b *browser) pickOption(sel, text string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => {
		const o = [...document.querySelectorAll('.el-select-dropdown__item')].find((e) => e.offsetParent && e.innerText.trim() === %q);
		if (!o) return false;
		o.click();
		return true;
	})()`, text)
	b.run("pick "+text,
		chromedp.Click(chromedp.CSS(sel)),
		chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond)),
	)
}

// closeDrawer clicks the drawer's 完成 and waits until it has slid away (its overlay would take the next click).
func (b *browser) closeDrawer() {
	b.t.Helper()
	b.run("close the drawer",
		chromedp.Click(chromedp.CSS(`[data-test="drawer-done"]`)),
		chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-overlay')].some((e) => getComputedStyle(e).display !== 'none')`, chromedp.WithPollingInterval(100*time.Millisecond)),
	)
}

// addNode clicks the "+" of block at index and picks kind from its menu.
func (b *browser) addNode(block string, index int, kind string) {
	b.t.Helper()
	b.run(fmt.Sprintf("add %s to %s at %d", kind, block, index),
		chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="add-%s-%d"]`, block, index))),
		settled,
		// Every "+" has its menu (kept in the page once opened), its items marked with the place
		// they add at: the item of this "+"'s menu is clicked once it shows (the menu of the
		// previous "+" may still be fading out, and clicking in it would add the node there).
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(() => {
			const shown = [...document.querySelectorAll('[data-test="add-kind-%s"][data-at="%s-%d"]')].filter((e) => e.offsetParent);
			if (shown.length !== 1) return false;
			shown[0].click();
			return true;
		})()`, kind, block, index), chromedp.WithPollingInterval(100*time.Millisecond)),
	)
}

// TestAnalystDesignsAFlow (issue 9, flow designer): on a published receipt form, an analyst
// opens a new flow, adds an approver (或签, the initiator's manager, a reminder after 24 h,
// qty editable), a condition branch with a condition the engine refuses — saving shows the
// compile error on the branch it names — fixes it, adds an approver inside the branch, saves
// and publishes version 1; the server holds it. A condition typed later is checked as it is
// typed. On a 390×844 phone the designer shows the
// published flow, reached from the form designer's 流程设计.
func TestAnalystDesignsAFlow(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "flow-designer")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithReceipt(t)

	t.Run("desktop", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[0], filepath.Join(screens, "desktop"))
		b.signInAt(s.URL+"/apps/plant/flows/new/design?form=receipt", `[data-test="flow-canvas"]`)
		b.waitText(`[data-test="node-start"]`, "发起人")
		b.shot("01-new-flow")

		// An approver: the initiator's manager, 或签, reminded after 24 hours, qty editable.
		b.addNode("root", 0, "approval")
		b.run("see the drawer", chromedp.WaitVisible(chromedp.CSS(`[data-test="node-name"]`)))
		b.run("name it", b.typeInto(`[data-test="node-name"]`, "质量经理审核"))
		b.run("add an assignee", chromedp.Click(chromedp.CSS(`[data-test="add-assignee"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="assignee-kind-0"]`)))
		b.pickOption(`[data-test="assignee-kind-0"]`, "直属主管")
		b.run("remind after 24h", b.typeInto(`[data-test="remind-after"]`, "24h"))
		b.run("qty editable", chromedp.Click(chromedp.CSS(`[data-test="editable-qty"]`)))
		b.shot("02-approver-drawer")
		b.closeDrawer()
		b.waitText(`[data-test="node-approval_1"]`, "直属主管 · 或签 · 24 小时未处理自动提醒")

		// A condition after it, with a condition the engine refuses.
		b.addNode("root", 1, "condition")
		b.run("write a bad condition", b.typeInto(`[data-test="branch-when"]`, "qty >"))
		b.closeDrawer()
		b.addNode("condition_1/b0", 0, "approval")
		b.run("add its assignee", settled, chromedp.Click(chromedp.CSS(`[data-test="add-assignee"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="assignee-kind-0"]`)))
		b.pickOption(`[data-test="assignee-kind-0"]`, "发起人本人")
		b.closeDrawer()
		b.run("save the draft", chromedp.Click(chromedp.CSS(`[data-test="flow-save"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="branch-condition_1-0"] [data-test="branch-problems"]`)))
		b.shot("03-compile-error-on-branch")
		b.noPageErrorsBut("400")

		b.run("fix the condition",
			chromedp.Click(chromedp.CSS(`[data-test="branch-condition_1-0"]`)),
			b.typeInto(`[data-test="branch-when"]`, "qty > 1000"),
		)
		b.closeDrawer()
		b.run("save the draft", chromedp.Click(chromedp.CSS(`[data-test="flow-save"]`)))
		b.waitURL("/apps/plant/flows/receipt_flow/design")
		b.waitText(`[data-test="flow-status"]`, "草稿")
		b.run("no problems left", chromedp.WaitNotPresent(chromedp.CSS(`[data-test="branch-problems"]`)))
		b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="flow-publish"]`)))
		b.waitText(`[data-test="flow-status"]`, "已发布第 1 版")
		b.shot("04-published")

		// Conditions are checked live: typing a broken one shows the engine's error on the branch
		// without pressing save; mending it clears the error.
		b.run("break the condition",
			chromedp.Click(chromedp.CSS(`[data-test="branch-condition_1-0"]`)),
			b.typeInto(`[data-test="branch-when"]`, "qty >> 1"),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="drawer-problems"]`)),
		)
		b.shot("05-live-check")
		b.run("mend the condition", b.typeInto(`[data-test="branch-when"]`, "qty > 1000"), chromedp.WaitNotPresent(chromedp.CSS(`[data-test="drawer-problems"]`)))
		b.closeDrawer()
		b.noPageErrorsBut("400")

		var versions []struct {
			Version    int `json:"version"`
			Definition struct {
				Nodes []struct {
					ID       string `json:"id"`
					Type     string `json:"type"`
					Mode     string `json:"mode"`
					Branches []struct {
						When string `json:"when"`
						Next string `json:"next"`
					} `json:"branches"`
					Default string `json:"default"`
				} `json:"nodes"`
			} `json:"definition"`
		}
		admin.Do("GET", "/api/v1/apps/plant/flows/receipt_flow/versions", nil, 200, &versions)
		if len(versions) != 1 {
			t.Fatalf("versions: %+v", versions)
		}
		var found bool
		for _, n := range versions[0].Definition.Nodes {
			if n.Type == "condition" {
				found = len(n.Branches) == 1 && n.Branches[0].When == "qty > 1000" && n.Branches[0].Next == "approval_2" && n.Default == "end"
			}
		}
		if !found {
			t.Fatalf("the published flow has not the condition designed: %+v", versions[0].Definition.Nodes)
		}
	})

	t.Run("phone", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[1], filepath.Join(screens, "phone"))
		// The form designer's 流程设计 leads to the form's flow.
		b.signInAt(s.URL+"/apps/plant/forms/receipt/design", `[data-test="view-flow"]`)
		b.run("open the flow designer", chromedp.Click(chromedp.CSS(`[data-test="view-flow"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="flow-canvas"]`)))
		b.waitURL("/apps/plant/flows/receipt_flow/design")
		b.waitText(`[data-test="flow-status"]`, "已发布第 1 版")
		b.run("see the branch", chromedp.WaitVisible(chromedp.CSS(`[data-test="branch-condition_1-0"]`)))
		b.shot("01-published-flow")
		b.noPageErrors()
	})
}
