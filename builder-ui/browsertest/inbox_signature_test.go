package browsertest

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"tracecraft/api/apitest"
)

// signFlowDef is a QA release: amy's approval, published first without a signature rule.
const signFlowDef = `{
  "key": %q, "name": {"zh-CN": "QA 放行", "en": "QA release"}, "form": "sample", "trigger": {"on": "manual"},
  "nodes": [
    {"id": "start", "type": "start", "next": "qa"},
    {"id": "qa", "type": "approval", "name": {"zh-CN": "QA 放行", "en": "QA release"}, "mode": "single",
     "assignees": [{"kind": "user", "users": ["amy"]}], "next": "done"},
    {"id": "done", "type": "end", "outcome": "approved"}]}`

// TestApproverMustSign (issues 4/9, food QA sign-off), on a desktop and a 390×844 phone: the
// analyst turns on 需要手写签名 for 同意 only in the node drawer (the card says ✍ 签名（同意）)
// and publishes; amy's todo cards of that step carry ✍ 需签名; on the task page the pad is open
// and marked required, 同意 without a drawing is refused with the server's message under the
// pad and the task still pending; drawn (mouse / finger), it is approved with the signature on
// the step, which the initiator sees in the record's timeline. A batch of two such tasks without
// a signature skips both with their reason; 使用同一签名批量审批 with one drawing approves both,
// each step carrying it.
func TestApproverMustSign(t *testing.T) {
	bin := chromium(t)
	screens := screensDir(t, "inbox-signature")
	t.Logf("screenshots: %s", screens)

	s, admin := plantWithStaff(t, inboxFormDef, "sample", map[string]string{"ivan": "伊万", "amy": "王艾米"})
	ivan := s.Login(t, "ivan", "passw0rd-ivan")

	instance := func(t *testing.T, id string) *inboxInstance {
		t.Helper()
		var in inboxInstance
		admin.Do("GET", "/api/v1/instances/"+id, nil, 200, &in)
		return &in
	}
	approvedWith := func(t *testing.T, id string) string {
		t.Helper()
		in := instance(t, id)
		for _, st := range in.Timeline {
			if st.Action == "approve" && st.Actor == "amy" {
				return st.Signature
			}
		}
		return ""
	}

	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			flow := "release_" + vp.name
			if res := admin.Raw("POST", "/api/v1/apps/plant/flows", "application/json", fmt.Appendf(nil, signFlowDef, flow)); res.Status != 201 {
				t.Fatalf("create flow: %d %s", res.Status, res.Body)
			}
			admin.Do("POST", "/api/v1/apps/plant/flows/"+flow+"/publish", nil, 201, nil)
			b := newBrowser(t, bin, vp, filepath.Join(screens, vp.name))

			// The analyst asks for a signature to approve.
			b.signInAt(s.URL+"/apps/plant/flows/"+flow+"/design", `[data-test="node-qa"]`)
			b.run("open the node", chromedp.Click(chromedp.CSS(`[data-test="node-qa"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="require-signature"]`)), settled)
			b.run("turn on 需要手写签名", chromedp.Click(chromedp.CSS(`[data-test="require-signature"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="signature-decisions"]`)))
			b.run("only 同意", chromedp.Click(chromedp.CSS(`[data-test="signature-reject"]`)), chromedp.Click(chromedp.CSS(`[data-test="signature-return"]`)))
			b.run("show the switch", chromedp.ScrollIntoView(chromedp.CSS(`[data-test="require-signature"]`)))
			b.shot("01-designer-drawer")
			b.closeDrawer()
			b.waitText(`[data-test="node-qa"]`, "✍ 签名（同意）")
			b.shot("02-designer-card")
			b.run("publish", chromedp.Click(chromedp.CSS(`[data-test="flow-publish"]`)))
			b.waitText(`[data-test="flow-status"]`, "已发布第 2 版")
			var versions []flowVersion
			admin.Do("GET", "/api/v1/apps/plant/flows/"+flow+"/versions", nil, 200, &versions)
			i := slices.IndexFunc(versions, func(v flowVersion) bool { return v.Version == 2 })
			if i < 0 || fmt.Sprint(versions[i].Definition.Nodes[1]["requireSignature"]) != "[approve]" {
				t.Fatalf("version 2's qa node: %+v", versions)
			}

			// ivan files three samples on the flow.
			start := func(product string) *inboxInstance {
				var rec struct {
					ID string `json:"id"`
				}
				ivan.Do("POST", "/api/v1/apps/plant/forms/sample/records", map[string]any{"data": map[string]any{"product": product, "qty": 3}}, 201, &rec)
				var in inboxInstance
				ivan.Do("POST", "/api/v1/apps/plant/flows/"+flow+"/start", map[string]any{"record": rec.ID}, 201, &in)
				return &in
			}
			r1, r2, r3 := start("巴氏杀菌乳-"+vp.name), start("酸奶-"+vp.name), start("奶酪-"+vp.name)
			t1 := r1.pending("amy", "qa")

			b.signInAs(s.URL, "amy")
			b.run("open the inbox", chromedp.Navigate(s.URL+"/inbox/todo"), chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, t1))), inboxLoaded)
			if !b.eval(fmt.Sprintf(`document.querySelector('[data-task="%s"] [data-test="card-sign"]')?.textContent.includes('需签名')`, t1)) {
				t.Fatal("the card of a task that needs a signature carries no ✍ 需签名")
			}
			b.shot("03-amy-todo")

			// 同意 without a drawing: refused by the server, its message under the pad.
			b.run("open r1's task", chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-task="%s"]`, t1))), chromedp.WaitVisible(chromedp.CSS(`[data-test="signature-canvas"]`)))
			if b.eval(`!!document.querySelector('[data-test="sign-toggle"]')`) || !b.eval(`document.querySelector('[data-test="sign-required"]').textContent.includes('必填')`) {
				t.Fatal("the signature is not shown as required")
			}
			b.run("write a comment", chromedp.SendKeys(chromedp.CSS("#task-comment"), "CCP 杀菌温度记录已核对"))
			b.run("approve unsigned", chromedp.Click(chromedp.CSS(`[data-test="act-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="signature-error"]`)))
			b.waitText(`[data-test="signature-error"]`, "手写签名：此步骤必须本人手写签名")
			if in := instance(t, r1.ID); in.taskState(t1) != "pending" || in.State != "running" {
				t.Fatalf("the unsigned approval changed r1: %+v", in.Tasks)
			}
			b.run("show the error", chromedp.ScrollIntoView(chromedp.CSS(`[data-test="signature-error"]`)), settled)
			b.shot("04-amy-refused")
			b.noPageErrorsBut("400")

			b.sign(`[data-test="signature-canvas"]`)
			b.run("the error goes once signed", chromedp.WaitNotPresent(chromedp.CSS(`[data-test="signature-error"]`)))
			b.shot("05-amy-signed")
			b.run("approve", chromedp.Click(chromedp.CSS(`[data-test="act-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="box-todo"]`)), inboxLoaded)
			sig := approvedWith(t, r1.ID)
			if in := instance(t, r1.ID); in.State != "approved" || sig == "" {
				t.Fatalf("r1 after the signed approval: %s, signature %q", in.State, sig)
			}

			// A batch without a signature skips both tasks with their reason.
			picks := []string{r2.pending("amy", "qa"), r3.pending("amy", "qa")}
			for _, id := range picks {
				b.run("pick "+id, chromedp.Click(chromedp.CSS(fmt.Sprintf(`[data-pick="%s"]`, id))))
			}
			b.waitText(`[data-test="batch-bar"]`, "已选 2 项")
			b.run("batch approve", chromedp.Click(chromedp.CSS(`[data-test="batch-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-confirm"]`)), settled)
			b.waitText(`[data-test="batch-needs-sign"]`, "2 个需要手写签名")
			b.shot("06-amy-batch-unsigned")
			b.run("confirm unsigned", chromedp.Click(chromedp.CSS(`[data-test="batch-confirm"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-summary"]`)))
			b.waitText(`[data-test="batch-summary"]`, "成功 0 个，失败 2 个")
			b.waitText(fmt.Sprintf(`[data-result="%s"]`, picks[0]), "使用同一签名批量审批")
			b.shot("07-amy-batch-skipped")
			for _, r := range []*inboxInstance{r2, r3} {
				if in := instance(t, r.ID); in.State != "running" || approvedWith(t, r.ID) != "" {
					t.Fatalf("%s after the unsigned batch: %s", r.ID, in.State)
				}
			}
			b.run("close the results", chromedp.Click(chromedp.CSS(`[data-test="batch-close"]`)), noOverlay)

			// 使用同一签名批量审批: the failed tasks are still picked; one drawing for both.
			b.waitText(`[data-test="batch-bar"]`, "已选 2 项")
			b.run("batch approve again", chromedp.Click(chromedp.CSS(`[data-test="batch-approve"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-sign"]`)), settled)
			b.run("sign once for all", chromedp.Click(chromedp.CSS(`[data-test="batch-sign"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-dialog"] [data-test="signature-canvas"]`)), settled)
			if !b.eval(`document.querySelector('[data-test="batch-confirm"]').disabled`) {
				t.Fatal("the batch can be confirmed before the signature is drawn")
			}
			b.sign(`[data-test="batch-dialog"] [data-test="signature-canvas"]`)
			b.run("confirm becomes possible", chromedp.Poll[chromedp.Void](`!document.querySelector('[data-test="batch-confirm"]').disabled`, chromedp.WithPollingInterval(100*time.Millisecond)))
			b.shot("08-amy-batch-sign")
			b.run("confirm signed", chromedp.Click(chromedp.CSS(`[data-test="batch-confirm"]`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="batch-summary"]`)))
			b.waitText(`[data-test="batch-summary"]`, "成功 2 个，失败 0 个")
			b.shot("09-amy-batch-signed")
			s2, s3 := approvedWith(t, r2.ID), approvedWith(t, r3.ID)
			if s2 == "" || s2 != s3 {
				t.Fatalf("the batch's steps carry signatures %q and %q, want one", s2, s3)
			}
			b.run("close the results", chromedp.Click(chromedp.CSS(`[data-test="batch-close"]`)), noOverlay)

			// ivan, the initiator, sees amy's signature in r1's timeline.
			b.signInAs(s.URL, "ivan")
			rec := instanceRecord(t, admin, r1.ID)
			b.run("open r1's record", chromedp.Navigate(s.URL+"/apps/plant/forms/sample?open="+rec), chromedp.WaitVisible(chromedp.CSS(`.el-tabs`)), settled)
			b.run("open its flow tab", chromedp.Click(chromedp.CSS(`#tab-flow`)), chromedp.WaitVisible(chromedp.CSS(`[data-test="step-signature"]`)),
				chromedp.Poll[chromedp.Void](`document.querySelector('[data-test="step-signature"]').naturalWidth > 0`, chromedp.WithPollingInterval(100*time.Millisecond)))
			b.run("show the signature", chromedp.ScrollIntoView(chromedp.CSS(`[data-test="step-signature"]`)), settled)
			b.shot("10-ivan-timeline")
			b.noPageErrorsBut("400")
		})
	}
}

// flowVersion is what the test reads of a published flow version.
type flowVersion struct {
	Version    int `json:"version"`
	Definition struct {
		Nodes []map[string]any `json:"nodes"`
	} `json:"definition"`
}

// instanceRecord is the record id of a flow instance.
func instanceRecord(t *testing.T, c *apitest.Client, id string) string {
	t.Helper()
	var in struct {
		Record string `json:"record"`
	}
	c.Do("GET", "/api/v1/instances/"+id, nil, 200, &in)
	return in.Record
}
