// Package browsertest drives the web app in Debian's Chromium (chromedp) against a real server
// on a fresh store, as a person would: sign in, the workbench, an app's forms, a record filled
// and saved — on a desktop and on a 390×844 phone — saving a screenshot per step.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

// chromium finds the browser: TRACECRAFT_CHROMIUM, else chromium on PATH. Without one the test
// fails (it never skips: the test command needs the browser; .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TRACECRAFT_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: apt-get install chromium fonts-noto-cjk (.ci/run does) or set TRACECRAFT_CHROMIUM")
	return ""
}

// screensDir is the folder of one test's screenshots, sub under TRACECRAFT_SCREENS (else under
// tracecraft-screens in the temporary folder), emptied at the start: only its own, so the
// tests of one run keep each other's.
func screensDir(t *testing.T, sub string) string {
	base := os.Getenv("TRACECRAFT_SCREENS")
	if base == "" {
		base = filepath.Join(os.TempDir(), "tracecraft-screens")
	}
	dir := filepath.Join(base, sub)
	if err := os.RemoveAll(dir); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// plantWithReceipt starts the server with the web app and makes the app plant (一号工厂) with
// the receipt form of testdata/receipt.json, published; it returns the server and the
// administrator's client.
func plantWithReceipt(t *testing.T) (*apitest.Server, *apitest.Client) {
	t.Helper()
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{
		"key": "plant", "name": map[string]string{"zh-CN": "一号工厂", "en": "Plant 1"},
		"description": map[string]string{"zh-CN": "收货、生产与质检", "en": "Receiving, production and QC"},
	}, 201, nil)
	def, err := os.ReadFile(filepath.Join("testdata", "receipt.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", def); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/receipt/publish", nil, 201, nil)
	return s, admin
}

// plantWithStaff starts the server with the web app and makes the app plant, a role staff that
// may open it, a user of that role per entry of users (username → display name; password
// "passw0rd-" and the username) and the form def (key form), published; it returns the server
// and the administrator's client.
func plantWithStaff(t *testing.T, def, form string, users map[string]string) (*apitest.Server, *apitest.Client) {
	t.Helper()
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "一号工厂"}}, 201, nil)
	admin.Do("PUT", "/api/v1/roles/staff", map[string]any{"label": map[string]string{"zh-CN": "员工"}, "rev": 0,
		"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read"}}}}, 200, nil)
	for name, display := range users {
		admin.Do("POST", "/api/v1/users", map[string]any{"username": name, "displayName": display, "roles": []string{"staff"}, "password": "passw0rd-" + name}, 201, nil)
	}
	if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", []byte(def)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/"+form+"/publish", nil, 201, nil)
	return s, admin
}

// viewport is a screen the app is tried on.
type viewport struct {
	name          string
	width, height int64
	mobile        bool
}

var viewports = []viewport{
	{name: "desktop", width: 1366, height: 900},
	{name: "phone", width: 390, height: 844, mobile: true},
}

// TestOperatorFillsAForm (issue 9): an operator signs in, opens the workbench, the app, the
// receipt form's list, fills a new record — a sub-table row, and a scan field typed by a
// keyboard-wedge scanner (keys sent to the page with no input focused, ending with Enter), which
// fills the fields its GS1 map names before the record is saved —
// saves it, sees it in the list and opens it; the approver approves it in the inbox, and the
// list shows it released.
func TestOperatorFillsAForm(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "operator")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithReceipt(t)
	flow, err := os.ReadFile(filepath.Join("testdata", "release.json"))
	if err != nil {
		t.Fatal(err)
	}
	if res := admin.Raw("POST", "/api/v1/apps/plant/flows", "application/json", flow); res.Status != 201 {
		t.Fatalf("create flow: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/flows/release/publish", nil, 201, nil)

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			material := "小麦粉-" + vp.name
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))

			b.run("open the app", chromedp.Navigate(s.URL+"/"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
			b.shot("01-sign-in")
			b.run("sign in",
				chromedp.SendKeys(chromedp.CSS("#login-username"), "admin"),
				chromedp.SendKeys(chromedp.CSS("#login-password"), apitest.AdminPassword),
				chromedp.Click(chromedp.CSS(`[data-test="login-submit"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-test="app-plant"]`)),
			)
			b.shot("02-workbench")

			b.run("open the app", chromedp.Click(chromedp.CSS(`[data-test="app-plant"]`)))
			if vp.mobile {
				b.run("open the forms menu", chromedp.Click(chromedp.CSS(`[data-test="open-forms"]`)),
					chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-test="form-receipt"]`)))
				b.shot("03-app-forms")
				b.run("open the receipt form", chromedp.Click(chromedp.CSS(`.el-drawer [data-test="form-receipt"]`)))
			} else {
				b.run("see the forms", chromedp.WaitVisible(chromedp.CSS(`[data-test="form-receipt"]`)))
				b.shot("03-app-forms")
				b.run("open the receipt form", chromedp.Click(chromedp.CSS(`[data-test="form-receipt"]`)))
			}
			b.run("see the record list", chromedp.WaitVisible(chromedp.CSS(`[data-test="form-title"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="total"]`)))
			b.shot("04-record-list")

			b.run("open a new record", chromedp.Click(chromedp.CSS(`[data-test="new-record"]`)), chromedp.WaitVisible(chromedp.CSS("#f-material")))
			b.shot("05-new-record")
			// A keyboard-wedge scanner: nothing has the focus, the scanner types the code and Enter.
			b.run("scan a GS1 code",
				chromedp.Evaluate[chromedp.Void](`document.activeElement && document.activeElement.blur(), null`),
				chromedp.KeyEvent("(01)09501101530003(17)261231(10)LOT-7"),
				chromedp.KeyEvent("\r"),
				chromedp.WaitVisible(chromedp.CSS(`[data-test="gs1-parsed"]`)),
			)
			scanned := b.value("#f-code")
			if scanned != "(01)09501101530003(17)261231(10)LOT-7" {
				t.Fatalf("scan field holds %q after the wedge scan", scanned)
			}
			// The fields the scan maps show their values at once, before the record is saved.
			b.waitText(`[data-test="scan-filled"]`, "商品条码、供应商批号、到期日")
			for sel, want := range map[string]string{"#f-gtin": "09501101530003", "#f-supplier_lot": "LOT-7", "#f-expiry": "2026-12-31"} {
				if got := b.value(sel); got != want {
					t.Fatalf("%s shows %q after the scan, want %q", sel, got, want)
				}
			}
			b.shot("05b-scanned")
			b.run("fill the form",
				chromedp.SendKeys(chromedp.CSS("#f-material"), material),
				chromedp.SendKeys(chromedp.CSS("#f-qty"), "1200"),
				chromedp.SendKeys(chromedp.CSS("#f-price"), "3.5"),
				chromedp.Click(chromedp.CSS(`[data-field="checks"] [data-test="add-row"]`)),
				chromedp.WaitVisible(chromedp.CSS("#f-checks-0-item")),
				chromedp.SendKeys(chromedp.CSS("#f-checks-0-item"), "水分"),
			)
			b.shot("06-record-filled")
			b.run("save", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
			list := `[data-test="record-table"]`
			if vp.mobile {
				list = `[data-test="record-cards"]`
			}
			b.waitText(list, material)
			b.shot("07-record-in-list")

			// The server computed the formula and the auto-number and filled the scan's fields.
			var got struct {
				Items []struct {
					ID   string         `json:"id"`
					Data map[string]any `json:"data"`
				} `json:"items"`
			}
			admin.Do("POST", "/api/v1/apps/plant/forms/receipt/records/query", map[string]any{
				"filters": []map[string]any{{"field": "material", "op": "eq", "value": material}},
			}, 200, &got)
			if len(got.Items) != 1 {
				t.Fatalf("records with material %q: %d", material, len(got.Items))
			}
			d := got.Items[0].Data
			if d["amount"] != 4200.0 || d["gtin"] != "09501101530003" || d["supplier_lot"] != "LOT-7" || d["expiry"] != "2026-12-31" || !strings.HasPrefix(fmt.Sprint(d["lot_no"]), "RM") {
				t.Fatalf("saved record: %v", d)
			}
			if rows, _ := d["checks"].([]any); len(rows) != 1 {
				t.Fatalf("sub-table rows: %v", d["checks"])
			}

			open := fmt.Sprintf(`[data-record="%s"]`, got.Items[0].ID)
			if !vp.mobile {
				open = list + " .el-table__row"
			}
			b.run("open the record", chromedp.Click(chromedp.CSS(open)), chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-field="gtin"]`)))
			b.waitText(`.el-drawer [data-field="amount"]`, "4,200.00")
			b.shot("08-record-drawer")

			// The flow starts just after the create (asynchronously): wait for its task.
			flows := "/api/v1/apps/plant/forms/receipt/records/" + got.Items[0].ID + "/flows"
			var insts []struct {
				ID    string `json:"id"`
				State string `json:"state"`
			}
			for i := 0; i < 200 && len(insts) == 0; i++ {
				admin.Do("GET", flows, nil, 200, &insts)
				if len(insts) == 0 {
					time.Sleep(50 * time.Millisecond)
				}
			}
			if len(insts) != 1 {
				t.Fatalf("flow instances of the new record: %v", insts)
			}
			b.run("open the inbox", chromedp.Navigate(s.URL+"/inbox/todo"), chromedp.WaitVisible(chromedp.CSS(`[data-task]`)))
			b.shot("09-inbox")
			b.run("open the task", chromedp.Click(chromedp.CSS(`[data-task]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="act-approve"]`)),
				chromedp.SendKeys(chromedp.CSS("#task-comment"), "水分合格，同意放行"))
			b.shot("10-task")
			b.run("approve", chromedp.Click(chromedp.CSS(`[data-test="act-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="box-todo"]`)))
			b.shot("11-inbox-after-approval")
			admin.Do("GET", flows, nil, 200, &insts)
			if insts[0].State != "approved" {
				t.Fatalf("flow after approval: %v", insts)
			}
			b.run("back to the list", chromedp.Navigate(s.URL+"/apps/plant/forms/receipt"), chromedp.WaitVisible(chromedp.CSS(list)))
			row := list // the desktop run's record is the only one in the table
			if vp.mobile {
				row = fmt.Sprintf(`[data-record="%s"]`, got.Items[0].ID)
			}
			b.waitText(row, "合格")
			b.shot("12-list-released")
			if !vp.mobile {
				// An edit: the quantity changes, the server recomputes the amount, the history shows it.
				b.run("open the record again", chromedp.Click(chromedp.CSS(list+" .el-table__row")), chromedp.WaitVisible(chromedp.CSS(`[data-test="edit-record"]`)), settled)
				b.run("edit it", chromedp.Click(chromedp.CSS(`[data-test="edit-record"]`)), chromedp.WaitVisible(chromedp.CSS("#f-qty")),
					chromedp.Click(chromedp.CSS("#f-qty")), chromedp.KeyEvent("a", chromedp.KeyModifiers(chromedp.ModifierCtrl)), chromedp.KeyEvent("1300"))
				b.shot("13-record-edit")
				b.run("save the edit", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
				b.waitText(`.el-drawer [data-field="amount"]`, "4,550.00")
				b.run("see its history", chromedp.Click(chromedp.CSS(`.el-drawer #tab-history`)))
				b.waitText(`.el-drawer`, "1,300.00 kg")
				b.shot("14-record-history")
				b.run("close the drawer", chromedp.Navigate(s.URL+"/apps/plant/forms/receipt"), chromedp.WaitVisible(chromedp.CSS(list)))
			}
			english := chromedp.Search(`//li[contains(@class, "el-select-dropdown__item")][normalize-space()="English"]`)
			b.run("open the languages", chromedp.Click(chromedp.CSS(`[data-test="language"]`)), chromedp.WaitVisible(english), settled)
			b.run("switch to English", chromedp.Click(english))
			b.waitText(`[data-test="form-title"]`, "Raw material receipt")
			b.waitText(`[data-test="total"]`, "in all")
			b.shot("15-english")
			b.noPageErrors()
		})
	}
}

// browser is one Chromium with a fresh profile, at one viewport.
type browser struct {
	t       *testing.T
	ctx     context.Context
	dir     string
	vp      viewport
	emulate []chromedp.EmulateViewportOption
	mu      sync.Mutex
	errors  []string
}

// newBrowser starts one; extra flags (a fake camera, say) join the usual ones.
func newBrowser(t *testing.T, bin string, vp viewport, dir string, extra ...chromedp.ExecAllocatorOption) *browser {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "zh-CN"),
		chromedp.WindowSize(int(vp.width), int(vp.height)),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	b := &browser{t: t, ctx: ctx, dir: dir, vp: vp}
	// Script errors and console errors (a Content-Security-Policy violation among them) fail
	// the test. Console starts the browser; its first context has no timeout, as chromedp asks.
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Asking who is signed in before signing in is answered 401 by design.
			if m.Source == "network" && strings.HasSuffix(m.URL, "/api/v1/me") && strings.Contains(m.Text, "401") {
				continue
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				b.mu.Lock()
				b.errors = append(b.errors, m.String()+" "+m.URL)
				b.mu.Unlock()
			}
		}
	}()
	b.emulate = []chromedp.EmulateViewportOption{chromedp.EmulatePortrait}
	if vp.mobile {
		b.emulate = append(b.emulate, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
	}
	b.run("set the viewport", chromedp.EmulateViewport(vp.width, vp.height, b.emulate...))
	return b
}

// settled waits until no element is in the middle of an enter transition (a menu still
// sliding open does not take a click yet).
var settled = chromedp.Poll[chromedp.Void](`!document.querySelector('[class*="-enter-active"]')`, chromedp.WithPollingInterval(50*time.Millisecond))

// stepTimeout bounds each step: the server may run under the race detector on two busy cores.
const stepTimeout = 60 * time.Second

func (b *browser) run(step string, actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		b.shot("failed")
		b.t.Fatalf("%s: %v (screenshot %s)", step, err, filepath.Join(b.dir, "failed.png"))
	}
}

// waitText waits until the element matching sel shows text.
func (b *browser) waitText(sel, text string) {
	b.t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); return !!el && el.innerText.includes(%q) })()`, sel, text)
	b.run("wait for "+text, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond)))
}

// value reads the value of the input matching sel.
func (b *browser) value(sel string) string {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// shot saves a screenshot of the whole page as NAME.png. The viewport is stretched to the
// page's height for the picture, so sticky bars sit where a person sees them, not mid-page.
func (b *browser) shot(name string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	height, err := chromedp.Run(ctx, chromedp.Evaluate[int64](`Math.ceil(document.documentElement.scrollHeight)`))
	var png []byte
	if err == nil {
		// Let transitions (drawers, messages) settle so the picture shows what a person sees.
		err = chromedp.Do(ctx, chromedp.EmulateViewport(b.vp.width, max(height, b.vp.height), b.emulate...), chromedp.Sleep(400*time.Millisecond))
	}
	if err == nil {
		png, err = chromedp.Run(ctx, chromedp.CaptureScreenshot())
	}
	if err == nil {
		err = chromedp.Do(ctx, chromedp.EmulateViewport(b.vp.width, b.vp.height, b.emulate...))
	}
	if err != nil {
		b.t.Errorf("screenshot %s: %v", name, err)
		return
	}
	if err := os.WriteFile(filepath.Join(b.dir, name+".png"), png, 0o644); err != nil {
		b.t.Error(err)
	}
}

func (b *browser) noPageErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.errors) > 0 {
		out, _ := json.MarshalIndent(b.errors, "", "  ")
		b.t.Fatalf("the page reported errors:\n%s", out)
	}
}
