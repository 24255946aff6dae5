package browsertest

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"tracecraft/api"
	"tracecraft/api/apitest"
)

const inboxFormDef = `{
  "key": "sample",
  "name": {"zh-CN": "来料样品", "en": "Incoming sample"},
  "titleField": "product",
  "schema": {"type": "object", "required": ["product"], "properties": {
    "product": {"x-type": "text", "x-label": {"zh-CN": "产品", "en": "Product"}},
    "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}}
  }},
  "permissions": {"staff": {"actions": ["create", "read", "update"]}}
}`

// Two approval steps: 质检初审 by amy, then 经理复核 by ben.
const inboxFlowDef = `{
  "key": "review", "name": {"zh-CN": "样品审批", "en": "Sample review"}, "form": "sample", "trigger": {"on": "create"},
  "nodes": [
    {"id": "start", "type": "start", "next": "check"},
    {"id": "check", "type": "approval", "name": {"zh-CN": "质检初审", "en": "QC check"}, "mode": "any",
     "assignees": [{"kind": "user", "users": ["amy"]}], "next": "sign"},
    {"id": "sign", "type": "approval", "name": {"zh-CN": "经理复核", "en": "Manager review"}, "mode": "any",
     "assignees": [{"kind": "user", "users": ["ben"]}], "next": "done"},
    {"id": "done", "type": "end", "outcome": "approved"}]}`

// inboxInstance is what the test reads of a flow instance.
type inboxInstance struct {
	ID     string   `json:"id"`
	State  string   `json:"state"`
	Active []string `json:"active"`
	Tasks  []struct {
		ID       string `json:"id"`
		Node     string `json:"node"`
		Assignee string `json:"assignee"`
		State    string `json:"state"`
	} `json:"tasks"`
	Timeline []struct {
		Action    string `json:"action"`
		Actor     string `json:"actor"`
		Node      string `json:"node"`
		Target    string `json:"target"`
		Signature string `json:"signature"`
	} `json:"timeline"`
}

// pending is the id of user's pending task at node ("" when there is none).
func (in *inboxInstance) pending(user, node string) string {
	for _, t := range in.Tasks {
		if t.Assignee == user && t.Node == node && t.State == "pending" {
			return t.ID
		}
	}
	return ""
}

// taskState is the state of the task id.
func (in *inboxInstance) taskState(id string) string {
	for _, t := range in.Tasks {
		if t.ID == id {
			return t.State
		}
	}
	return ""
}

// TestApproverWorksTheInbox (issue 9 item 5): on a flow of two approval steps (质检初审 by amy,
// 经理复核 by ben), with records the initiator ivan filed: amy approves one with a handwritten
// signature (drawn with real mouse events on a desktop, touch events on a 390×844 phone) and
// transfers another to ben (picked in the people picker); ben returns the signed one to the
// first step; amy batch-approves three tasks of which one was withdrawn meanwhile (the dialog
// shows two approved, one failed with its reason) and delegates her tasks to ben while away;
// ivan withdraws a fourth from 我发起的. Each step checks the server's state through the API
// and saves screenshots.
func TestApproverWorksTheInbox(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "inbox")
	t.Logf("screenshots: %s", screens)

	s := apitest.StartWith(t, apitest.Options{API: func(o *api.Options) { o.UI = uiFiles() }})
	admin := s.Admin(t)
	admin.Do("POST", "/api/v1/apps", map[string]any{"key": "plant", "name": map[string]string{"zh-CN": "一号工厂", "en": "Plant 1"}}, 201, nil)
	admin.Do("PUT", "/api/v1/roles/staff", map[string]any{"label": map[string]string{"zh-CN": "员工"}, "rev": 0,
		"grants": []map[string]any{{"app": "plant", "actions": []string{"app.read"}}}}, 200, nil)
	people := map[string]string{"ivan": "伊万", "amy": "王艾米", "ben": "李本"}
	for name, display := range people {
		admin.Do("POST", "/api/v1/users", map[string]any{"username": name, "displayName": display, "roles": []string{"staff"}, "password": "passw0rd-" + name}, 201, nil)
	}
	if res := admin.Raw("POST", "/api/v1/apps/plant/forms", "application/json", []byte(inboxFormDef)); res.Status != 201 {
		t.Fatalf("create form: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/forms/sample/publish", nil, 201, nil)
	if res := admin.Raw("POST", "/api/v1/apps/plant/flows", "application/json", []byte(inboxFlowDef)); res.Status != 201 {
		t.Fatalf("create flow: %d %s", res.Status, res.Body)
	}
	admin.Do("POST", "/api/v1/apps/plant/flows/review/publish", nil, 201, nil)
	ivan := s.Login(t, "ivan", "passw0rd-ivan")
	amyAPI := s.Login(t, "amy", "passw0rd-amy")

	instance := func(t *testing.T, id string) *inboxInstance {
		t.Helper()
		var in inboxInstance
		admin.Do("GET", "/api/v1/instances/"+id, nil, 200, &in)
		return &in
	}
	// file has ivan create a record; its flow starts just after the create: wait for amy's task.
	file := func(t *testing.T, product string) *inboxInstance {
		t.Helper()
		var rec struct {
			ID string `json:"id"`
		}
		ivan.Do("POST", "/api/v1/apps/plant/forms/sample/records", map[string]any{"data": map[string]any{"product": product, "qty": 12}}, 201, &rec)
		for range 200 {
			var list []inboxInstance
			admin.Do("GET", "/api/v1/apps/plant/forms/sample/records/"+rec.ID+"/flows", nil, 200, &list)
			if len(list) == 1 && list[0].pending("amy", "check") != "" {
				return &list[0]
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("no task for amy on %s", product)
		return nil
	}

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			r1 := file(t, "面粉样品-"+vp.name+"-转交")
			r2 := file(t, "奶粉样品-"+vp.name+"-退回")
			r3 := file(t, "白糖样品-"+vp.name+"-批量")
			r4 := file(t, "黄油样品-"+vp.name+"-撤回")
			r5 := file(t, "食盐样品-"+vp.name+"-已撤回")
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))

			// amy approves r2 with a signature drawn on the pad.
			b.signInAs(s.URL, "amy")
			b.run("open the inbox", chromedp.Navigate(s.URL+"/inbox/todo"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, r5.pending("amy", "check")))), inboxLoaded)
			b.shot("01-amy-todo")
			t2 := r2.pending("amy", "check")
			// Each card is titled by its record (the form's titleField) with its quantity.
			card := fmt.Sprintf(`document.querySelector('[data-task="%s"]')`, t2)
			if !b.eval(card + `.querySelector('[data-test="card-title"]').textContent.trim() === '奶粉样品-` + vp.name + `-退回' && ` +
				card + `.querySelector('[data-test="card-fields"]').textContent.includes('数量：12') && ` +
				card + `.querySelector('[data-test="card-flow"]').textContent.includes('样品审批 · 质检初审')`) {
				t.Fatal("r2's card is not titled by its product, with its quantity and the flow's step")
			}
			b.run("open r2's task", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, t2))), chromedp.WaitVisible(chromedp.CSS(`[data-test="act-approve"]`)))
			b.run("write a comment and open the signature pad",
				chromedp.SendKeys(chromedp.CSS("#task-comment"), "外观、气味正常"),
				chromedp.Click(chromedp.CSS(`[data-test="sign-toggle"]`)),
				chromedp.WaitVisible(chromedp.CSS(`[data-test="signature-canvas"]`)),
			)
			b.sign(`[data-test="signature-canvas"]`)
			b.waitText(".sig", "已签名")
			if blank := b.eval(`(() => { const c = document.querySelector('[data-test="signature-canvas"]'); const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; for (let i = 0; i < d.length; i += 4) if (d[i] < 128) return false; return true })()`); blank {
				t.Fatal("the signature pad shows no stroke after drawing")
			}
			b.shot("02-amy-signs")
			b.run("approve", chromedp.Click(chromedp.CSS(`[data-test="act-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="box-todo"]`)), inboxLoaded)
			in2 := instance(t, r2.ID)
			if in2.taskState(t2) != "approved" || in2.pending("ben", "sign") == "" {
				t.Fatalf("r2 after amy's approval: %+v", in2.Tasks)
			}
			signature := ""
			for _, st := range in2.Timeline {
				if st.Action == "approve" && st.Actor == "amy" {
					signature = st.Signature
				}
			}
			if signature == "" {
				t.Fatalf("amy's approval carries no signature: %+v", in2.Timeline)
			}
			if res := amyAPI.Raw("GET", "/api/v1/apps/plant/files/"+signature, "", nil); res.Status != 200 || len(res.Body) < 8 || string(res.Body[1:4]) != "PNG" {
				t.Fatalf("the signature file: %d, %d bytes", res.Status, len(res.Body))
			}

			// amy transfers r1 to ben, picked in the people picker.
			t1 := r1.pending("amy", "check")
			b.run("open r1's task", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, t1))), chromedp.WaitVisible(chromedp.CSS(`[data-test="act-transfer"]`)))
			b.shot("03-amy-task")
			b.run("open 转交", chromedp.Click(chromedp.CSS(`[data-test="act-transfer"]`)), chromedp.WaitVisible(chromedp.CSS(`#pick-user`)), settled)
			b.pickPerson("#pick-user", "李", "ben")
			b.shot("04-amy-transfers")
			b.run("transfer", chromedp.Click(chromedp.CSS(`[data-test="pick-confirm"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="box-todo"]`)), inboxLoaded)
			in1 := instance(t, r1.ID)
			if in1.taskState(t1) != "transferred" || in1.pending("ben", "check") == "" || in1.State != "running" {
				t.Fatalf("r1 after the transfer: %+v", in1.Tasks)
			}
			b.shot("05-amy-todo-after-transfer")

			// ben returns r2 to the first step.
			b.signInAs(s.URL, "ben")
			b2 := in2.pending("ben", "sign")
			b.run("open ben's inbox", chromedp.Navigate(s.URL+"/inbox/todo"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, b2))), inboxLoaded)
			b.shot("06-ben-todo")
			b.run("open r2's task", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, b2))), chromedp.WaitVisible(chromedp.CSS(`[data-test="act-return"]`)))
			b.run("see amy's signature in the timeline", chromedp.WaitVisible(chromedp.CSS(`[data-test="step-signature"]`)),
				chromedp.Poll[chromedp.Void](`document.querySelector('[data-test="step-signature"]').naturalWidth > 0`, chromedp.WithPollingInterval(100*time.Millisecond)))
			b.shot("07-ben-task")
			b.run("open 退回", chromedp.Click(chromedp.CSS(`[data-test="act-return"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-step="check"]`)), settled)
			// The server names the steps: the first approval and the initiator.
			if steps := b.eval(`[...document.querySelectorAll('[data-step]')].map((e) => e.dataset.step).join(',') === 'check,start'`); !steps {
				t.Fatal("the return dialog does not offer check, start")
			}
			b.run("pick 质检初审", chromedp.Click(chromedp.CSS(`[data-step="check"]`)))
			b.shot("08-ben-returns")
			b.run("return", chromedp.Click(chromedp.CSS(`[data-test="pick-confirm"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="box-todo"]`)), inboxLoaded)
			in2 = instance(t, r2.ID)
			if !slices.Equal(in2.Active, []string{"check"}) || in2.taskState(b2) != "returned" || in2.pending("amy", "check") == "" {
				t.Fatalf("r2 after the return: active %v, tasks %+v", in2.Active, in2.Tasks)
			}

			// amy batch-approves r2 (back with her), r3 and r5; ivan withdraws r5 before she confirms.
			b.signInAs(s.URL, "amy")
			picks := []string{in2.pending("amy", "check"), r3.pending("amy", "check"), r5.pending("amy", "check")}
			b.run("open the inbox", chromedp.Navigate(s.URL+"/inbox/todo"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-pick="%s"]`, picks[0]))), inboxLoaded)
			for _, id := range picks {
				b.run("pick "+id, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-pick="%s"]`, id))))
			}
			b.waitText(`[data-test="batch-bar"]`, "已选 3 项")
			b.shot("09-amy-picks")
			ivan.Do("POST", "/api/v1/instances/"+r5.ID+"/withdraw", map[string]any{"comment": "填错了"}, 200, nil)
			b.run("batch approve", chromedp.Click(chromedp.CSS(`[data-test="batch-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-confirm"]`)), settled)
			b.shot("10-amy-batch-confirm")
			b.run("confirm", chromedp.Click(chromedp.CSS(`[data-test="batch-confirm"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-summary"]`)))
			b.waitText(`[data-test="batch-summary"]`, "成功 2 个，失败 1 个")
			if failed := b.eval(fmt.Sprintf(`document.querySelector('[data-result="%s"]').classList.contains('is-failed')`, picks[2])); !failed {
				t.Fatal("the withdrawn instance's task is not shown failed")
			}
			b.shot("11-amy-batch-results")
			for _, r := range []*inboxInstance{r2, r3} {
				in := instance(t, r.ID)
				if in.State != "running" || !slices.Equal(in.Active, []string{"sign"}) || in.pending("ben", "sign") == "" {
					t.Fatalf("%s after the batch: %s %v", r.ID, in.State, in.Active)
				}
			}
			if in := instance(t, r5.ID); in.State != "withdrawn" {
				t.Fatalf("r5: %s", in.State)
			}
			b.run("close the results", chromedp.Click(chromedp.CSS(`[data-test="batch-close"]`)), noOverlay)

			// amy delegates her new tasks to ben for a week.
			b.run("open 委托", chromedp.Click(chromedp.CSS(`[data-test="open-delegation"]`)), chromedp.WaitVisible(chromedp.CSS(`#delegate-to`)), settled)
			b.pickPerson("#delegate-to", "ben", "ben")
			b.shot("12-amy-delegates")
			b.run("save the delegation", chromedp.Click(chromedp.CSS(`[data-test="delegate-save"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="delegation-note"]`)))
			b.shot("13-amy-delegating")
			var d struct {
				To    string    `json:"to"`
				From  time.Time `json:"from"`
				Until time.Time `json:"until"`
			}
			amyAPI.Do("GET", "/api/v1/me/delegation", nil, 200, &d)
			if d.To != "ben" || d.Until.Sub(d.From) < 6*24*time.Hour {
				t.Fatalf("amy's delegation: %+v", d)
			}
			amyAPI.Do("PUT", "/api/v1/me/delegation", map[string]any{"to": ""}, 200, nil)

			// ivan withdraws r4 (nobody has acted on it) from 我发起的; r1, which was transferred, offers no 撤回.
			b.signInAs(s.URL, "ivan")
			b.run("open 我发起的", chromedp.Navigate(s.URL+"/inbox/initiated"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-withdraw="%s"]`, r4.ID))), inboxLoaded)
			if offered := b.eval(fmt.Sprintf(`!!document.querySelector('[data-withdraw="%s"]')`, r1.ID)); offered {
				t.Fatal("withdraw is offered on an instance someone acted on")
			}
			b.shot("14-ivan-initiated")
			b.run("withdraw r4", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-withdraw="%s"]`, r4.ID))), chromedp.WaitVisible(chromedp.CSS(`.el-message-box`)), settled)
			b.run("give a reason", chromedp.SendKeys(chromedp.CSS(`.el-message-box input`), "数量填错"))
			b.shot("15-ivan-withdraw-confirm")
			b.run("confirm", chromedp.Click(chromedp.CSS(`.el-message-box .el-button--primary`)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`!document.querySelector('[data-withdraw="%s"]')`, r4.ID), chromedp.WithPollingInterval(100*time.Millisecond)))
			if in := instance(t, r4.ID); in.State != "withdrawn" {
				t.Fatalf("r4 after the withdrawal: %s", in.State)
			}
			b.shot("16-ivan-withdrawn")
			b.noPageErrors()
		})
	}
}

// inboxLoaded waits until the inbox's list has loaded (its loading mask would take a click).
var inboxLoaded = chromedp.Poll[chromedp.Void](`!!document.querySelector('.inbox__list') && !document.querySelector('.inbox__list .el-loading-mask')`, chromedp.WithPollingInterval(100*time.Millisecond))

// noOverlay waits until no dialog's overlay shows (one fading out would take the next click).
var noOverlay = chromedp.Poll[chromedp.Void](`![...document.querySelectorAll('.el-overlay')].some((e) => getComputedStyle(e).display !== 'none')`, chromedp.WithPollingInterval(100*time.Millisecond))

// signInAs ends the browser's session and signs in as user (password passw0rd-USER).
func (b *browser) signInAs(base, user string) {
	b.t.Helper()
	b.run("sign out", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := cdp.Call(ctx, t, network.ClearBrowserCookies, cdp.Empty{})
		return err
	}))
	b.run("open the sign-in page", chromedp.Navigate(base+"/login"), chromedp.WaitVisible(chromedp.CSS("#login-username")))
	b.run("sign in as "+user,
		chromedp.SendKeys(chromedp.CSS("#login-username"), user),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "passw0rd-"+user),
		chromedp.Click(chromedp.CSS(`[data-test="login-submit"]`)),
		chromedp.Poll[chromedp.Void](`location.pathname !== '/login'`, chromedp.WithPollingInterval(100*time.Millisecond)),
	)
}

// eval evaluates a boolean expression on the page.
func (b *browser) eval(js string) bool {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, stepTimeout)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](js))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", js, err)
	}
	return v
}

// pickPerson types query into the people picker sel and picks the person with username user.
func (b *browser) pickPerson(sel, query, user string) {
	b.t.Helper()
	b.run("search "+query, chromedp.Click(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), query))
	js := fmt.Sprintf(`(() => {
		const o = [...document.querySelectorAll('.el-select-dropdown__item[data-user=%q]')].find((e) => e.offsetParent);
		if (!o) return false;
		o.click();
		return true;
	})()`, user)
	b.run("pick "+user, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond)), settled)
}

// sign draws a signature (two strokes) on the canvas sel as a person would: with the mouse on
// a desktop, with a finger (touch events) on a phone.
func (b *browser) sign(sel string) {
	b.t.Helper()
	box := fmt.Sprintf(`(() => { const el = document.querySelector(%q); el.scrollIntoView({ block: 'center' }); const r = el.getBoundingClientRect(); return [r.left, r.top, r.width, r.height] })()`, sel)
	b.run("sign", chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		r, err := chromedp.Evaluate[[]float64](box)(ctx, t)
		if err != nil {
			return err
		}
		strokes := [][][2]float64{
			{{0.1, 0.7}, {0.2, 0.3}, {0.3, 0.65}, {0.4, 0.25}, {0.5, 0.6}},
			{{0.55, 0.5}, {0.65, 0.35}, {0.75, 0.6}, {0.9, 0.4}},
		}
		for _, stroke := range strokes {
			for i, pt := range stroke {
				x, y := r[0]+pt[0]*r[2], r[1]+pt[1]*r[3]
				// Several moves between the stroke's points, as a hand makes them.
				steps := 1
				if i > 0 {
					steps = 6
				}
				for k := 1; k <= steps; k++ {
					px, py := x, y
					if i > 0 {
						prev := stroke[i-1]
						f := float64(k) / float64(steps)
						px = r[0] + (prev[0]+(pt[0]-prev[0])*f)*r[2]
						py = r[1] + (prev[1]+(pt[1]-prev[1])*f)*r[3]
					}
					if err := b.pointer(ctx, t, i == 0, px, py); err != nil {
						return err
					}
					time.Sleep(15 * time.Millisecond)
				}
			}
			if err := b.pointerUp(ctx, t, r[0]+stroke[len(stroke)-1][0]*r[2], r[1]+stroke[len(stroke)-1][1]*r[3]); err != nil {
				return err
			}
		}
		return nil
	}))
}

// pointer presses (down) or moves the pointer to x, y: a finger on a phone, the left button on a desktop.
func (b *browser) pointer(ctx context.Context, t *chromedp.Target, down bool, x, y float64) error {
	if b.vp.mobile {
		typ := input.DispatchTouchEventTypeTouchMove
		if down {
			typ = input.DispatchTouchEventTypeTouchStart
		}
		one := 1.0
		_, err := cdp.Call(ctx, t, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: typ,
			TouchPoints: []*input.TouchPoint{{X: x, Y: y, RadiusX: &one, RadiusY: &one, Force: &one}}})
		return err
	}
	if down {
		if _, err := chromedp.MouseEvent(chromedp.MouseMoved, x, y)(ctx, t); err != nil {
			return err
		}
		_, err := chromedp.MouseEvent(chromedp.MousePressed, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1))(ctx, t)
		return err
	}
	_, err := chromedp.MouseEvent(chromedp.MouseMoved, x, y, chromedp.ButtonLeft, func(p *input.DispatchMouseEventParams) { p.Buttons = 1 })(ctx, t)
	return err
}

// pointerUp lifts the finger or releases the button at x, y.
func (b *browser) pointerUp(ctx context.Context, t *chromedp.Target, x, y float64) error {
	if b.vp.mobile {
		_, err := cdp.Call(ctx, t, input.DispatchTouchEvent, input.DispatchTouchEventParams{Type: input.DispatchTouchEventTypeTouchEnd, TouchPoints: []*input.TouchPoint{}})
		return err
	}
	_, err := chromedp.MouseEvent(chromedp.MouseReleased, x, y, chromedp.ButtonLeft, chromedp.ClickCount(1))(ctx, t)
	return err
}
