package browsertest

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/chromedp"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

const mixFormDef = `{
  "key": "mix", "name": {"zh-CN": "配料", "en": "Mixing"},
  "schema": {"type": "object", "properties": {
    "qty":   {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
    "total": {"x-type": "formula", "x-label": {"zh-CN": "合计", "en": "Total"}, "x-options": {"expr": "qty * 2", "result": "number"}}
  }}
}`

// heldSaves pauses the page's draft saves (PUT …/forms/mix) in the browser: the first until
// release, the others not at all; puts counts them.
type heldSaves struct {
	mu      sync.Mutex
	puts    int
	held    chan fetch.RequestID
	release chan struct{}
}

// TestFormDesignerQueuesSaves (issue 9): while the formula check's quiet save is on its way
// (held in the browser), Ctrl+S and 发布 wait for it instead of being refused: the draft is
// saved twice, each time on the revision before it (no conflict), and the publish dialog opens
// on what was saved; version 1 holds the new formula.
func TestFormDesignerQueuesSaves(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "designer-queue")
	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "一号工厂"}}, 201, nil)
	if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", []byte(mixFormDef)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	var before struct {
		Rev int `json:"rev"`
	}
	admin.Do("GET", "/api/v1/apps/plant/forms/mix", nil, 200, &before)

	b := newBrowser(t, bin, viewports[0], filepath.Join(screens, "desktop"))
	b.signInAt(s.URL+"/apps/plant/forms/mix/design", `[data-field-key="total"]`)

	h := &heldSaves{held: make(chan fetch.RequestID, 1), release: make(chan struct{})}
	ctx, stop := context.WithCancel(b.ctx)
	defer stop()
	paused := chromedp.Events(ctx, fetch.RequestPaused)
	b.run("hold draft saves", chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, fetch.Enable, fetch.EnableParams{Patterns: []*fetch.RequestPattern{{URLPattern: "*/api/v1/apps/plant/forms/mix*"}}})
		return err
	}))
	go func() {
		for ev, err := range paused {
			if err != nil {
				return
			}
			go func() {
				if ev.Request.Method == "PUT" {
					h.mu.Lock()
					h.puts++
					first := h.puts == 1
					h.mu.Unlock()
					if first {
						h.held <- ev.RequestID
						select {
						case <-h.release:
						case <-ctx.Done():
							return
						}
					}
				}
				_ = chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
					_, err := cdp.Call(ctx, tg, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
					return err
				}))
			}()
		}
	}()
	puts := func() int {
		h.mu.Lock()
		defer h.mu.Unlock()
		return h.puts
	}

	b.run("change the formula and check it",
		chromedp.Click(chromedp.CSS(`[data-field-key="total"]`)),
		b.typeInto(`[data-test="formula-expr"]`, "qty * 3"),
		chromedp.Click(chromedp.CSS(`[data-test="formula-check"]`)),
	)
	select {
	case <-h.held:
	case <-time.After(stepTimeout):
		t.Fatal("the formula check sent no save")
	}
	b.run("Ctrl+S and 发布 while the check's save is on its way",
		chromedp.KeyEvent("s", chromedp.KeyModifiers(chromedp.ModifierCtrl)),
		chromedp.Click(chromedp.CSS(`[data-test="publish"]`)),
	)
	b.shot("01-saves-waiting")
	if n := puts(); n != 1 {
		t.Fatalf("%d saves sent while the first was held; want them to wait", n)
	}
	close(h.release)
	b.run("the publish dialog opens after the saves", chromedp.WaitVisible(chromedp.CSS(`[data-test="publish-confirm"]`)), settled)
	b.shot("02-publish-dialog")
	if n := puts(); n != 2 {
		t.Fatalf("draft saves sent: %d, want 2 (the check's, then Ctrl+S's)", n)
	}
	var after struct {
		Rev   int `json:"rev"`
		Draft struct {
			Schema struct {
				Properties map[string]struct {
					Options map[string]any `json:"x-options"`
				} `json:"properties"`
			} `json:"schema"`
		} `json:"draft"`
	}
	admin.Do("GET", "/api/v1/apps/plant/forms/mix", nil, 200, &after)
	if after.Rev != before.Rev+2 || after.Draft.Schema.Properties["total"].Options["expr"] != "qty * 3" {
		t.Fatalf("draft after the saves: rev %d (before %d), formula %v", after.Rev, before.Rev, after.Draft.Schema.Properties["total"].Options)
	}
	b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="publish-confirm"]`)))
	b.waitText(`body`, "已发布")
	var versions []struct {
		Version int `json:"version"`
	}
	admin.Do("GET", "/api/v1/apps/plant/forms/mix/versions", nil, 200, &versions)
	if len(versions) != 1 {
		t.Fatalf("versions: %+v", versions)
	}
	b.shot("03-published")
	b.noPageErrors() // nothing refused: a 409 would show here
}
