package browsertest

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// notifyLotDef is a form with a date field marked x-filterable (what a date rule sweeps on);
// the warehouse role reads its records.
const notifyLotDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "titleField": "lot",
  "schema": {"type": "object", "properties": {
    "lot":         {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "expiry_date": {"x-type": "date", "x-filterable": true, "x-label": {"zh-CN": "到期日", "en": "Expiry"}}
  }},
  "permissions": {"warehouse": {"actions": ["read"]}}
}`

// notifyLotRule notifies the warehouse role of every new lot.
const notifyLotRule = `{"key": "new_lot", "label": {"zh-CN": "新批次入库", "en": "New lot"}, "form": "lot", "trigger": {"on": "created"},
  "actions": [{"type": "notify", "params": {"roles": ["warehouse"],
    "title": "concat('批次 ', record.lot, ' 已入库')", "body": "concat('到期日 ', record.expiry_date, ' <b>请核对</b>')"}}]}`

// notificationPage is what the test reads of GET /api/v1/notifications.
type notificationPage struct {
	Items []struct {
		ID     string `json:"id"`
		Record string `json:"record"`
		Title  string `json:"title"`
		Read   bool   `json:"read"`
	} `json:"items"`
	Unread int `json:"unread"`
}

// TestNotificationCentre (issue 10): a published rule notifies the warehouse role of each new
// lot; a warehouse user signs in (on a desktop, then another on a 390×844 phone), sees the count
// on the bell in the header, opens the centre (with the keyboard on the desktop) and sees the
// notifications newest first — the body's markup as text —, opens one: the record opens and the
// count drops; 全部已读 clears the count. The server's state is checked through the API.
func TestNotificationCentre(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "notifications")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithReceipt(t)
	admin.Do("PUT", "/api/v1/roles/warehouse", map[string]any{"label": map[string]string{"zh-CN": "仓库"}, "rev": 0,
		"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read"}}}}, 200, nil)
	users := map[string]string{"desktop": "wendy", "phone": "wang"}
	for _, u := range users {
		admin.Do("POST", "/api/v1/users", map[string]any{"username": u, "displayName": "仓管" + u, "roles": []string{"warehouse"}, "password": "passw0rd-" + u}, 201, nil)
	}
	if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", []byte(notifyLotDef)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/lot/publish", nil, 201, nil)
	admin.Do("POST", "/api/v1/apps/plant/rules", json.RawMessage(notifyLotRule), 201, nil)
	admin.Do("POST", "/api/v1/apps/plant/rules/new_lot/publish", nil, 201, nil)
	// The rule runs on the bus after each create, and two events may run at once: L-002 is
	// created once L-001's notifications are there, so that it is the newer one.
	records := map[string]string{}
	for i, lot := range []string{"L-001", "L-002"} {
		var rec struct {
			ID string `json:"id"`
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/lot/records", map[string]any{"data": map[string]any{"lot": lot, "expiry_date": "2030-01-01"}}, 201, &rec)
		records[lot] = rec.ID
		for _, u := range users {
			c := s.Login(t, u, "passw0rd-"+u)
			for range 300 {
				var p notificationPage
				if c.Do("GET", "/api/v1/notifications", nil, 200, &p); len(p.Items) > i {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			user := users[vp.name]
			api := s.Login(t, user, "passw0rd-"+user)
			list := func() notificationPage {
				var p notificationPage
				api.Do("GET", "/api/v1/notifications", nil, 200, &p)
				return p
			}
			// The rule runs on the bus after each create: wait for both notifications.
			var p notificationPage
			for range 300 {
				if p = list(); p.Unread == 2 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if p.Unread != 2 || len(p.Items) != 2 || p.Items[0].Title != "批次 L-002 已入库" {
				t.Fatalf("%s's notifications: %+v", user, p)
			}
			first := p.Items[1] // L-001, the older one

			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))
			b.signInAs(s.URL, user)
			b.waitText(`[data-test="notification-count"]`, "2")
			if !b.eval(`document.querySelector('[data-test="notifications"]').getAttribute('aria-label') === '通知，2 条未读'`) {
				t.Fatal("the bell's label does not say the unread count")
			}
			b.shot("1-count")

			bell := chromedp.CSS(`[data-test="notifications"]`)
			if vp.mobile {
				b.run("open the centre", chromedp.Click(bell))
			} else {
				b.run("open the centre with the keyboard", chromedp.Focus(bell), chromedp.KeyEvent("\r"))
			}
			b.run("see the notifications", chromedp.WaitVisible(chromedp.CSS(`[data-test="notification"]`)), settled)
			b.waitText(`[data-test="notification-centre"]`, "批次 L-001 已入库")
			if !b.eval(`[...document.querySelectorAll('[data-test="notification"]')].map((e) => e.dataset.id).join() === ` + jsString(p.Items[0].ID+","+p.Items[1].ID)) {
				t.Fatal("the centre does not list the notifications newest first")
			}
			// User text is text: the body's markup shows as it was written, no element made of it.
			b.waitText(`[data-test="notification-centre"]`, "<b>请核对</b>")
			if b.eval(`!!document.querySelector('[data-test="notification-centre"] b')`) {
				t.Fatal("the body was rendered as HTML")
			}
			b.shot("2-centre")

			b.run("open L-001", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-test="notification"][data-id=%q]`, first.ID))))
			b.waitURL("/apps/plant/forms/lot")
			b.run("the record opens", chromedp.WaitVisible(chromedp.CSS(`[data-test="record-drawer"]`)))
			b.waitText(`[data-test="record-drawer"]`, "L-001")
			if !b.eval(`new URLSearchParams(location.search).get('open') === ` + jsString(records["L-001"])) {
				t.Fatal("the notification did not open its record")
			}
			b.waitText(`[data-test="notification-count"]`, "1")
			// The closed centre leaves the page: the record's drawer is the page's first .el-drawer
			// (other tests look for it so).
			b.run("the centre leaves the page", chromedp.Poll[chromedp.Void](`document.querySelector('.el-drawer')?.matches('[data-test="record-drawer"]')`,
				chromedp.WithPollingInterval(100*time.Millisecond)))
			if p := list(); p.Unread != 1 || !p.Items[1].Read || p.Items[0].Read {
				t.Fatalf("after opening L-001: %+v", p)
			}
			b.shot("3-record")

			b.run("close the record", chromedp.KeyEvent("\x1b"), noOverlay)
			b.run("open the centre again", chromedp.Click(bell), chromedp.WaitVisible(chromedp.CSS(`[data-test="notifications-read-all"]`)), settled)
			b.run("全部已读", chromedp.Click(chromedp.CSS(`[data-test="notifications-read-all"]`)))
			b.run("the count is gone", chromedp.Poll[chromedp.Void](`!document.querySelector('[data-test="notification-count"]') && !document.querySelector('[data-test="notification"].is-unread')`,
				chromedp.WithPollingInterval(100*time.Millisecond)))
			if p := list(); p.Unread != 0 || !p.Items[0].Read || !p.Items[1].Read {
				t.Fatalf("after 全部已读: %+v", p)
			}
			if !b.eval(`document.querySelector('[data-test="notifications"]').getAttribute('aria-label') === '通知'`) {
				t.Fatal("the bell's label still counts unread notifications")
			}
			b.shot("4-all-read")
			b.noPageErrors()
		})
	}

	// Someone the rule never notified sees the empty centre.
	t.Run("empty", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[1], filepath.Join(screens, "empty"))
		b.signInAt(s.URL+"/", `[data-test="notifications"]`)
		b.run("open the centre", chromedp.Click(chromedp.CSS(`[data-test="notifications"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="notifications-empty"]`)), settled)
		if b.eval(`!!document.querySelector('[data-test="notification-count"]')`) {
			t.Fatal("a count on an empty centre")
		}
		b.shot("empty")

		// In English too.
		b.run("switch to English", chromedp.Evaluate[chromedp.Void](`localStorage.setItem('tc.lang', 'en')`), chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="notifications"]`)))
		if !b.eval(`document.querySelector('[data-test="notifications"]').getAttribute('aria-label') === 'Notifications'`) {
			t.Fatal("the bell is not named in English")
		}
		b.run("open the centre", chromedp.Click(chromedp.CSS(`[data-test="notifications"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="notifications-empty"]`)), settled)
		b.waitText(`[data-test="notification-centre"]`, "No notifications")
		b.waitText(`[data-test="notification-centre"]`, "Mark all read")
		b.shot("empty-en")
		b.noPageErrors()
	})
}

// jsString quotes s for a script.
func jsString(s string) string {
	out, _ := json.Marshal(s)
	return string(out)
}
