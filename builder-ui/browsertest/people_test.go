package browsertest

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const crewFormDef = `{
  "key": "crew", "name": {"zh-CN": "检验小组", "en": "Inspection crew"}, "titleField": "batch",
  "schema": {"type": "object", "properties": {
    "batch":      {"x-type": "text", "x-label": {"zh-CN": "批次", "en": "Batch"}},
    "inspectors": {"x-type": "user", "x-label": {"zh-CN": "检验员", "en": "Inspectors"}, "x-options": {"multiple": true}}
  }},
  "permissions": {"staff": {"actions": ["create", "read", "update"]}}
}`

// TestPickSeveralPeople (issue 9): a multiple user field of the record form picks people among
// the app's members: two by keyboard (type, Enter), one by click, one removed with Backspace
// and one with its chip's remove button, on a desktop and a 390×844 phone; the saved record
// holds the usernames chosen, in order.
func TestPickSeveralPeople(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "people")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithStaff(t, crewFormDef, "crew", map[string]string{"ivan": "伊万", "amy": "王艾米", "ben": "李本", "cai": "蔡晓"})

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))
			b.signInAs(s.URL, "ivan")
			b.run("open a new record", chromedp.Navigate(s.URL+"/apps/plant/forms/crew/new"), chromedp.WaitVisible(chromedp.CSS("#f-inspectors")))
			batch := "B-" + vp.name
			b.run("name the batch", chromedp.SendKeys(chromedp.CSS("#f-batch"), batch))
			option := func(user string) chromedp.Action[chromedp.Void] {
				// The search has answered: the first option shown is user.
				return chromedp.Poll[chromedp.Void](fmt.Sprintf(`[...document.querySelectorAll('.el-select-dropdown__item')].filter((e) => e.offsetParent)[0]?.dataset.user === %q`, user),
					chromedp.WithPollingInterval(100*time.Millisecond))
			}
			// The picker is opened by a click on its free space (its hidden input lies under the chips).
			search := func(query, user string, then ...chromedp.Action[chromedp.Void]) []chromedp.Action[chromedp.Void] {
				return append([]chromedp.Action[chromedp.Void]{chromedp.Click(chromedp.CSS(`[data-test="user-picker"]`)),
					chromedp.SendKeys(chromedp.CSS("#f-inspectors"), query), option(user)}, then...)
			}
			byKeys := func(query, user string) {
				b.run("pick "+user+" by keyboard", search(query, user, chromedp.SendKeys(chromedp.CSS("#f-inspectors"), kb.Enter), settled)...)
			}
			byClick := func(query, user string) {
				b.run("pick "+user+" by click", search(query, user,
					chromedp.Click(chromedp.CSS(fmt.Sprintf(`.el-select-dropdown__item[data-user=%q]`, user))), settled)...)
			}
			chips := func() []string {
				t.Helper()
				got := adminEval[[]string](b, `[...document.querySelectorAll('[data-chip]')].map((e) => e.dataset.chip)`)
				return got
			}
			byKeys("amy", "amy")
			byClick("李", "ben")
			byKeys("cai", "cai")
			if got := chips(); !slices.Equal(got, []string{"amy", "ben", "cai"}) {
				t.Fatalf("chips after picking three: %v", got)
			}
			b.shot("01-three-chosen")
			b.run("Backspace removes the last", chromedp.SendKeys(chromedp.CSS("#f-inspectors"), kb.Backspace), settled)
			if got := chips(); !slices.Equal(got, []string{"amy", "ben"}) {
				t.Fatalf("chips after Backspace: %v", got)
			}
			b.run("remove amy by her chip", chromedp.Click(chromedp.CSS(`[data-remove="amy"]`)), settled)
			if got := chips(); !slices.Equal(got, []string{"ben"}) {
				t.Fatalf("chips after removing amy: %v", got)
			}
			byClick("王", "amy")
			b.run("close the list", chromedp.SendKeys(chromedp.CSS("#f-inspectors"), kb.Escape), settled)
			b.waitText(`[data-test="user-picker"]`, "王艾米（amy）")
			b.shot("02-chosen")
			b.run("save", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
			var got struct {
				Items []struct {
					Data struct {
						Batch      string   `json:"batch"`
						Inspectors []string `json:"inspectors"`
					} `json:"data"`
				} `json:"items"`
			}
			q := map[string]any{"filters": []map[string]any{{"field": "batch", "op": "eq", "value": batch}}}
			for range 100 {
				admin.Do("POST", "/api/v1/apps/plant/forms/crew/records/query", q, 200, &got)
				if len(got.Items) > 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if len(got.Items) != 1 || !slices.Equal(got.Items[0].Data.Inspectors, []string{"ben", "amy"}) {
				t.Fatalf("saved: %+v, want inspectors ben and amy", got.Items)
			}
			b.shot("03-saved")
		})
	}
}
