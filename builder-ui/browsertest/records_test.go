package browsertest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/xuri/excelize/v2"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

// lotRecord is a record of the lot form as the list API answers it.
type lotRecord struct {
	ID     string         `json:"id"`
	Rev    int64          `json:"rev"`
	Status string         `json:"status"`
	Data   map[string]any `json:"data"`
}

// TestOperatorImportsAndExports (issue 9 item 4, runtime): on a desktop an operator imports a
// CSV with one bad row — the dry run's preview marks the bad cell at its row and column and the
// commit is refused — then the fixed file, whose commit shows a progress bar until the rows are
// in the list; exports the filtered list as XLSX (the downloaded bytes open as a workbook with
// just the matching rows); deletes two rows and releases one with the bulk actions; picks a
// relation's record by typing its title, a department from the tree and an inspector from the
// app's members. On a 390×844 phone
// the list shows cards selectable by touch, and a location field takes the position from a
// fake geolocation: refused while permission is denied (the message says so), taken with its
// accuracy once granted.
func TestOperatorImportsAndExports(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "records")
	t.Logf("screenshots: %s", screens)

	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "一号工厂", "en": "Plant 1"}}, 201, nil)
	for _, form := range []string{"supplier", "lot"} {
		def, err := os.ReadFile(filepath.Join("testdata", form+".json"))
		if err != nil {
			t.Fatal(err)
		}
		if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", def); res.Status != 201 {
			t.Fatalf("create form %s: %d %s", form, res.Status, res.Body)
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/"+form+"/publish", nil, 201, nil)
	}
	var cofco lotRecord
	admin.Do("POST", "/api/v1/apps/plant/forms/supplier/records", map[string]any{"data": map[string]any{"name": "中粮面业", "city": "天津"}}, 201, &cofco)
	admin.Do("POST", "/api/v1/apps/plant/forms/supplier/records", map[string]any{"data": map[string]any{"name": "金龙鱼", "city": "上海"}}, 201, nil)
	admin.Do("PUT", "/api/v1/departments/plant", map[string]any{"name": map[string]string{"zh-CN": "工厂", "en": "Plant"}, "rev": 0}, 200, nil)
	admin.Do("PUT", "/api/v1/departments/qc", map[string]any{"name": map[string]string{"zh-CN": "质量部", "en": "QC"}, "parent": "plant", "rev": 0}, 200, nil)

	lots := func(filter ...map[string]any) []lotRecord {
		var got struct {
			Items []lotRecord `json:"items"`
		}
		q := map[string]any{"limit": 100}
		if len(filter) > 0 {
			q["filters"] = filter
		}
		admin.Do("POST", "/api/v1/apps/plant/forms/lot/records/query", q, 200, &got)
		return got.Items
	}
	files := t.TempDir()
	writeFile := func(name, body string) string {
		p := filepath.Join(files, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Row 4 of the sheet (the third data row) has a negative quantity.
	bad := writeFile("lots.csv", "原料,数量,等级\n小麦粉,100,一级\n黑麦粉,200,b\n玉米淀粉,-5,一级\n")
	fixed := writeFile("lots-fixed.csv", "原料,数量,等级\n小麦粉,100,一级\n黑麦粉,200,b\n玉米淀粉,50,一级\n")

	t.Run("desktop", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[0], filepath.Join(screens, "desktop"))
		table := `[data-test="record-table"]`
		b.signInAt(s.URL+"/apps/plant/forms/lot", table)
		b.shot("01-empty-list")

		// Import: the bad file is checked, its error shown at row 4, column 数量, nothing written.
		b.run("open the import", chromedp.Click(chromedp.CSS(`[data-test="import"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="import-choose"]`)))
		b.run("choose the bad file", chromedp.SetUploadFiles(chromedp.CSS(`[data-test="import-file"]`), []string{bad}, chromedp.NodeReady),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="import-errors"]`)))
		b.waitText(`[data-test="import-summary"]`, "共 3 行，1 行有问题")
		b.waitText(`[data-test="import-errors"] .el-table__row`, "4")
		b.waitText(`[data-test="import-errors"] .el-table__row`, "数量")
		b.run("see the bad cell in the preview", chromedp.WaitVisible(chromedp.CSS(`[data-test="import-preview"] tr[data-row="4"] td.imp__bad-cell[data-field="qty"]`)))
		b.waitText(`[data-test="import-preview"] tr[data-row="3"]`, "黑麦粉")
		b.waitText(`[data-test="import-preview"] tr[data-row="3"]`, "二级") // stored as the option, shown by its label
		b.shot("02-import-preview-errors")
		if !b.eval(`document.querySelector('[data-test="import-commit"]').disabled`) {
			t.Fatal("the import can be committed with an error in the file")
		}
		if n := len(lots()); n != 0 {
			t.Fatalf("the dry run wrote %d records", n)
		}

		// The fixed file: no error; the commit shows its progress until done.
		b.run("choose the fixed file", chromedp.SetUploadFiles(chromedp.CSS(`[data-test="import-file"]`), []string{fixed}, chromedp.NodeReady))
		b.waitText(`[data-test="import-summary"]`, "全部可以导入")
		b.shot("03-import-preview-ok")
		b.run("watch for the progress bar", chromedp.Evaluate[chromedp.Void](`(() => {
			window.__sawProgress = false;
			new MutationObserver((_, o) => { if (document.querySelector('[data-test="import-progress"] .el-progress')) { window.__sawProgress = true; o.disconnect() } })
				.observe(document.body, { childList: true, subtree: true });
			return null })()`))
		b.run("commit", chromedp.Click(chromedp.CSS(`[data-test="import-commit"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="import-done"]`)))
		if !b.eval(`window.__sawProgress`) {
			t.Fatal("no progress bar while the import ran")
		}
		b.waitText(`[data-test="import-done"]`, "已导入 3 条记录")
		b.shot("04-import-done")
		b.closeDialog(`[data-test="import-close"]`)
		b.waitText(table, "玉米淀粉")
		b.waitText(`[data-test="total"]`, "共 3 条")
		b.shot("05-list-imported")

		// Export what the list shows: filtered to 麦, as XLSX.
		b.pickOption(`[data-test="filter-field"]`, "原料")
		b.run("filter by 麦", chromedp.SendKeys(chromedp.CSS(`input[data-test="filter-value"], [data-test="filter-value"] input`), "麦"), chromedp.Click(chromedp.CSS(`[data-test="filter-add"]`)))
		b.waitText(`[data-test="total"]`, "共 2 条")
		downloads := t.TempDir()
		b.run("allow downloads", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads})
			return err
		}))
		b.run("open the export menu", chromedp.Click(chromedp.CSS(`[data-test="export"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="export-xlsx"]`)), settled)
		b.shot("06-export-menu")
		b.run("export xlsx", chromedp.Click(chromedp.CSS(`[data-test="export-xlsx"]`)))
		b.waitText(`.el-message`, "已导出 2 条记录")
		book := waitDownload(t, downloads, ".xlsx")
		rows := workbookRows(t, book)
		// The list's columns: the location field is not one of them, so not in the file.
		if len(rows) != 3 || !slices.Contains(rows[0], "原料") || slices.Contains(rows[0], "卸货位置") {
			t.Fatalf("exported rows: %q", rows)
		}
		var materials []string
		for _, r := range rows[1:] {
			materials = append(materials, r[slices.Index(rows[0], "原料")])
		}
		slices.Sort(materials)
		if !slices.Equal(materials, []string{"小麦粉", "黑麦粉"}) {
			t.Fatalf("exported materials %q, want the two matching 麦 (file %s)", materials, filepath.Base(book))
		}
		if !strings.HasPrefix(filepath.Base(book), "来料批次-") {
			t.Fatalf("export file name %q: want the form's name", filepath.Base(book))
		}
		b.run("clear the filter", chromedp.Click(chromedp.CSS(`.fbar__chips .el-button`)))
		b.waitText(`[data-test="total"]`, "共 3 条")

		// Bulk: delete two rows (each with its revision), then release the third.
		// The table's loading mask fades out after a load and takes clicks while it does.
		unmasked := chromedp.Poll[chromedp.Void](`!document.querySelector('[data-test="record-table"] .el-loading-mask')`, chromedp.WithPollingInterval(50*time.Millisecond))
		b.run("choose a row", unmasked, chromedp.Click(chromedp.CSS(table+` .el-table__body tr:nth-child(1) .el-checkbox`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="bulk-bar"]`)))
		b.waitText(`[data-test="bulk-count"]`, "已选 1 条")
		b.run("choose another", chromedp.Click(chromedp.CSS(table+` .el-table__body tr:nth-child(2) .el-checkbox`)))
		b.waitText(`[data-test="bulk-count"]`, "已选 2 条")
		b.shot("07-bulk-chosen")
		b.run("delete them", chromedp.Click(chromedp.CSS(`[data-test="bulk-delete"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-message-box`)), settled,
			chromedp.Click(chromedp.CSS(`.el-message-box__btns .el-button--primary`)))
		b.waitText(`[data-test="bulk-summary"]`, "成功 2 条，失败 0 条，跳过 0 条")
		b.shot("08-bulk-deleted")
		b.closeDialog(`[data-test="bulk-results-close"]`)
		b.waitText(`[data-test="total"]`, "共 1 条")
		left := lots()
		if len(left) != 1 {
			t.Fatalf("records after deleting two of three: %d", len(left))
		}
		b.run("choose the last row", unmasked, chromedp.Click(chromedp.CSS(table+` .el-table__body tr:nth-child(1) .el-checkbox`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="bulk-transition"]`)))
		b.run("release it", chromedp.Click(chromedp.CSS(`[data-test="bulk-transition"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-transition="release"]`)), settled,
			chromedp.Click(chromedp.CSS(`[data-transition="release"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-message-box`)), settled,
			chromedp.Click(chromedp.CSS(`.el-message-box__btns .el-button--primary`)))
		b.waitText(`[data-test="bulk-summary"]`, "成功 1 条")
		b.closeDialog(`[data-test="bulk-results-close"]`)
		b.waitText(table, "合格")
		if got := lots(); got[0].Status != "released" {
			t.Fatalf("status after the bulk release: %q", got[0].Status)
		}

		// A relation picked by typing its title; a department from the tree.
		b.run("open a new record", chromedp.Click(chromedp.CSS(`[data-test="new-record"]`)), chromedp.WaitVisible(chromedp.CSS("#f-material")))
		b.run("fill it", chromedp.SendKeys(chromedp.CSS("#f-material"), "高筋粉"), chromedp.SendKeys(chromedp.CSS("#f-qty"), "80"))
		option := fmt.Sprintf(`.el-select-dropdown__item[data-option="%s"]`, cofco.ID)
		b.run("search the supplier", chromedp.Click(chromedp.CSS("#f-supplier")), chromedp.SendKeys(chromedp.CSS("#f-supplier"), "中粮"), chromedp.WaitVisible(chromedp.CSS(option)))
		b.waitText(option, "中粮面业")
		b.shot("09-relation-search")
		b.run("pick it", chromedp.Click(chromedp.CSS(option)))
		b.waitText(`[data-field="supplier"]`, "中粮面业")
		qc := `.el-select-dropdown__item[data-department="qc"]`
		b.run("open the departments", chromedp.Click(chromedp.CSS("#f-dept")), chromedp.WaitVisible(chromedp.CSS(qc)), settled)
		b.waitText(qc, "质量部")
		b.shot("10-department-tree")
		b.run("pick 质量部", chromedp.Click(chromedp.CSS(qc)))
		b.waitText(`[data-field="dept"]`, "工厂 / 质量部")
		b.pickPerson("#f-inspector", "adm", "admin")
		b.shot("11-pickers-filled")
		b.run("save", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
		b.waitText(table, "高筋粉")
		// The list shows references by name: the supplier's title, the department's name.
		b.waitText(table, "中粮面业")
		b.waitText(table, "质量部")
		b.shot("12-list-references")
		got := lots(map[string]any{"field": "material", "op": "eq", "value": "高筋粉"})
		if len(got) != 1 || got[0].Data["supplier"] != cofco.ID || got[0].Data["dept"] != "qc" || got[0].Data["inspector"] != "admin" {
			t.Fatalf("saved record: %v (want supplier %s, dept qc, inspector admin)", got, cofco.ID)
		}
		// The drawer's 数据 names them too, and takes the record's transition.
		b.run("open the record", unmasked, chromedp.Click(chromedp.CSS(table+" .el-table__row")), chromedp.WaitVisible(chromedp.CSS(`.el-drawer [data-field="supplier"]`)))
		b.waitText(`.el-drawer [data-field="supplier"]`, "中粮面业")
		b.waitText(`.el-drawer [data-field="dept"]`, "质量部")
		b.shot("13-drawer-references")
		b.run("release it from the drawer", chromedp.Click(chromedp.CSS(`[data-test="record-transition"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-dropdown-menu [data-transition="release"]`)), settled,
			chromedp.Click(chromedp.CSS(`.el-dropdown-menu [data-transition="release"]`)), chromedp.WaitVisible(chromedp.CSS(`.el-message-box`)), settled,
			chromedp.Click(chromedp.CSS(`.el-message-box__btns .el-button--primary`)))
		b.waitText("body", "状态已变为“合格”")
		if got := lots(map[string]any{"field": "material", "op": "eq", "value": "高筋粉"}); got[0].Status != "released" {
			t.Fatalf("status after the drawer's release: %q", got[0].Status)
		}
		b.shot("14-drawer-released")
		b.noPageErrorsBut("/records/import") // the refused dry run is answered 200; a refused commit would be 422
	})

	t.Run("phone", func(t *testing.T) {
		b := newBrowser(t, bin, viewports[1], filepath.Join(screens, "phone"))
		cards := `[data-test="record-cards"]`
		b.signInAt(s.URL+"/apps/plant/forms/lot", cards)
		b.waitText(cards, "高筋粉")
		b.shot("01-cards")

		// A location: refused while permission is denied, then taken from the (fake) position.
		lat, lng, acc := 31.2304, 121.4737, 15.0
		permission := func(setting cdpbrowser.PermissionSetting) chromedp.Action[chromedp.Void] {
			return chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
				_, err := chromedp.Call(ctx, cdpbrowser.SetPermission, cdpbrowser.SetPermissionParams{
					Permission: &cdpbrowser.PermissionDescriptor{Name: "geolocation"}, Setting: setting, Origin: s.URL})
				return err
			})
		}
		b.run("fake the position", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, emulation.SetGeolocationOverride, emulation.SetGeolocationOverrideParams{Latitude: &lat, Longitude: &lng, Accuracy: &acc})
			return err
		}), permission(cdpbrowser.PermissionSettingDenied))
		b.run("open a new record", chromedp.Navigate(s.URL+"/apps/plant/forms/lot/new"), chromedp.WaitVisible(chromedp.CSS("#f-material")))
		b.run("fill it", chromedp.SendKeys(chromedp.CSS("#f-material"), "全麦粉"), chromedp.SendKeys(chromedp.CSS("#f-qty"), "30"))
		b.run("locate, denied", chromedp.ScrollIntoView(chromedp.CSS(`[data-test="locate"]`)), chromedp.Click(chromedp.CSS(`[data-test="locate"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="location-error"]`)))
		b.waitText(`[data-test="location-error"]`, "定位权限被拒绝")
		b.shot("02-location-denied")
		b.run("locate, granted", permission(cdpbrowser.PermissionSettingGranted), chromedp.Click(chromedp.CSS(`[data-test="locate"]`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="location-value"]`)))
		b.waitText(`[data-test="location-value"]`, "31.230400, 121.473700")
		b.waitText(`[data-test="location-accuracy"]`, "精度约 15 米")
		b.run("type the address", chromedp.SendKeys(chromedp.CSS(`input[data-test="location-address"], [data-test="location-address"] input`), "二号月台"))
		b.shot("03-location")
		b.run("save", chromedp.Click(chromedp.CSS(`[data-test="save-record"]`)))
		b.waitText(cards, "全麦粉")
		got := lots(map[string]any{"field": "material", "op": "eq", "value": "全麦粉"})
		if len(got) != 1 {
			t.Fatalf("records 全麦粉: %d", len(got))
		}
		if site, _ := got[0].Data["site"].(map[string]any); site["lat"] != lat || site["lng"] != lng || site["address"] != "二号月台" {
			t.Fatalf("saved location: %v", got[0].Data["site"])
		}

		// Cards chosen by touch for a bulk action.
		b.run("start choosing", chromedp.Poll[chromedp.Void](`!document.querySelector('[data-test="record-cards"] .el-loading-mask')`, chromedp.WithPollingInterval(50*time.Millisecond)),
			chromedp.Click(chromedp.CSS(`[data-test="select-mode"]`)))
		all := lots()
		for _, r := range all {
			b.run("tap a card", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-record="%s"]`, r.ID))))
		}
		b.waitText(`[data-test="bulk-count"]`, fmt.Sprintf("已选 %d 条", len(all)))
		b.shot("04-cards-chosen")
		b.run("leave choosing", chromedp.Click(chromedp.CSS(`[data-test="select-mode"]`)))
		b.run("open the import", chromedp.Click(chromedp.CSS(`[data-test="import"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="import-choose"]`)))
		b.run("choose the bad file", chromedp.SetUploadFiles(chromedp.CSS(`[data-test="import-file"]`), []string{bad}, chromedp.NodeReady),
			chromedp.WaitVisible(chromedp.CSS(`[data-test="import-preview"]`)))
		b.shot("05-import-preview")
		b.noPageErrors()
	})
}

// closeDialog clicks the button matching sel and waits until every overlay has faded (a
// fading one would take the next click).
func (b *browser) closeDialog(sel string) {
	b.t.Helper()
	b.run("close the dialog", chromedp.Click(chromedp.CSS(sel)),
		chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-overlay')].some((e) => getComputedStyle(e).display !== 'none')`, chromedp.WithPollingInterval(100*time.Millisecond)))
}

// waitDownload waits until dir holds a finished download ending in ext and returns its path.
func waitDownload(t *testing.T, dir, ext string) string {
	t.Helper()
	for range 600 {
		entries, _ := os.ReadDir(dir)
		for _, e := range entries {
			if strings.HasSuffix(e.Name(), ext) {
				return filepath.Join(dir, e.Name())
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("no %s file downloaded into %s", ext, dir)
	return ""
}

// workbookRows opens path as an XLSX workbook and returns the rows of its first sheet.
func workbookRows(t *testing.T, path string) [][]string {
	t.Helper()
	f, err := excelize.OpenFile(path)
	if err != nil {
		t.Fatalf("the export does not open as a workbook: %v", err)
	}
	defer f.Close()
	rows, err := f.GetRows(f.GetSheetList()[0])
	if err != nil {
		t.Fatal(err)
	}
	return rows
}
