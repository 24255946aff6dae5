package workflow

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"slices"
	"strings"
	"testing"

	"tracecraft/engine"
)

// uploadPNG uploads a small drawn PNG (a signature pad's output) to the test app as who.
func (e *testEnv) uploadPNG(t testing.TB, who string) string {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 40, 16))
	for x := 2; x < 38; x++ {
		img.Set(x, 8+x%5, color.Black)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	fi, err := e.fs.Upload(e.ctx, e.p(who), testApp, "signature.png", &b)
	if err != nil {
		t.Fatal(err)
	}
	return fi.ID
}

// signedFlow: bob's approval needs a signature to approve (not to reject or return), carol's
// fill needs one for every decision.
func signedFlow(key string) []byte {
	a1 := approval("a1", ModeSingle, "f1", "bob")
	a1.RequireSignature = SignatureRule{Decisions: []string{ActApprove}}
	f1 := Node{ID: "f1", Type: NodeFill, Next: "end", Assignees: []Assignee{{Kind: assignUser, Users: []string{"carol"}}},
		RequireSignature: SignatureRule{All: true}}
	return flowDef(key, "manual", "", startNode("a1"), a1, f1, endOK())
}

// compileNodes compiles the receipt flow start → nodes… → end given as JSON objects.
func (e *testEnv) compileNodes(t *testing.T, nodes ...map[string]any) error {
	t.Helper()
	all := append([]map[string]any{{"id": "start", "type": "start", "next": nodes[0]["id"]}}, nodes...)
	all = append(all, map[string]any{"id": "end", "type": "end"})
	raw, err := json.Marshal(map[string]any{"key": "q", "name": map[string]any{"zh-CN": "放行"}, "form": "receipt",
		"trigger": map[string]any{"on": "manual"}, "nodes": all})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.wf.Compile(e.ctx, testApp, raw)
	return err
}

// TestRequireSignatureCompiles: requireSignature is true or a list of the node's decisions, on
// approval and fill nodes only; a decision the node does not have is refused naming the node,
// and so is a timeout that would approve a node whose approval must be signed. A definition
// keeps the rule as written (true stays true, a list stays a list).
func TestRequireSignatureCompiles(t *testing.T) {
	e := newTestEnv(t, "", nil)
	bob := []any{map[string]any{"kind": "user", "users": []any{"bob"}}}
	node := func(typ string, extra map[string]any) map[string]any {
		n := map[string]any{"id": "qa_release", "type": typ, "next": "end", "assignees": bob}
		if typ == "notify" || typ == "action" {
			delete(n, "assignees")
		}
		if typ == "notify" {
			n["assignees"] = bob
		}
		for k, v := range extra {
			n[k] = v
		}
		return n
	}
	for _, ok := range []map[string]any{
		node("approval", map[string]any{"requireSignature": true}),
		node("approval", map[string]any{"requireSignature": []any{"approve", "return"}}),
		node("fill", map[string]any{"requireSignature": []any{"submit"}}),
		node("approval", map[string]any{"requireSignature": false}),
		node("approval", map[string]any{"requireSignature": []any{"reject"}, "timers": map[string]any{"timeoutAfter": "4h", "action": "approve"}}),
	} {
		if err := e.compileNodes(t, ok); err != nil {
			t.Errorf("%v: %v", ok, err)
		}
	}
	for _, c := range []struct {
		node       map[string]any
		path, code string
	}{
		{node("approval", map[string]any{"requireSignature": []any{"submit"}}), "/nodes/1/requireSignature/0", "flow.signature_decision"},
		{node("fill", map[string]any{"requireSignature": []any{"submit", "approve"}}), "/nodes/1/requireSignature/1", "flow.signature_decision"},
		{node("approval", map[string]any{"requireSignature": true, "timers": map[string]any{"timeoutAfter": "4h", "action": "approve"}}), "/nodes/1/timers/action", "flow.signature_auto_approve"},
	} {
		err := e.compileNodes(t, c.node)
		wantField(t, err, c.path, c.code)
		fe, _ := engine.AsFieldErrors(err)
		for _, lang := range []string{engine.LangZH, engine.LangEN} {
			if m := engine.Message(lang, fe[0].Code, fe[0].Params); !strings.Contains(m, "qa_release") {
				t.Errorf("%s message %q does not name the node", lang, m)
			}
		}
	}
	// The meta-schema: only approval and fill nodes, only true/false or a list of decisions.
	for _, bad := range []map[string]any{
		node("notify", map[string]any{"requireSignature": true}),
		node("approval", map[string]any{"requireSignature": "yes"}),
		node("approval", map[string]any{"requireSignature": []any{}}),
		node("approval", map[string]any{"requireSignature": []any{"transfer"}}),
	} {
		err := e.compileNodes(t, bad)
		fe, ok := engine.AsFieldErrors(err)
		if !ok || !slices.ContainsFunc(fe, func(f engine.FieldError) bool { return strings.HasPrefix(f.Path, "/nodes/1/requireSignature") }) {
			t.Errorf("%v: got %v, want an error at /nodes/1/requireSignature", bad["requireSignature"], err)
		}
	}
	// As written, through the stored draft.
	e.install(t, signedFlow("sig"))
	f, err := e.wf.GetFlow(e.ctx, engine.SystemPrincipal(), testApp, "sig")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(f.Draft.Nodes)
	for _, want := range []string{`"id":"a1"`, `"requireSignature":["approve"]`, `"requireSignature":true`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("stored draft lacks %s: %s", want, raw)
		}
	}
	if strings.Count(string(raw), "requireSignature") != 2 {
		t.Errorf("nodes without a rule carry one: %s", raw)
	}
}

// TestApproverMustSign: a decision the node requires signed is refused without a signature —
// a field error on signature, localised, and nothing changes — and so is a signature that is
// someone else's upload or not an image; transfer and withdraw need none; a signed decision
// puts the signature on its step, where the record's readers may download it.
func TestApproverMustSign(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, signedFlow("qa"))
	inst := e.start(t, "qa", map[string]any{"material": "flour"})
	task := e.taskOf(t, inst.ID, "bob", "a1")
	before := e.reload(t, inst.ID)

	v, err := e.wf.TaskView(e.ctx, e.p("bob"), task)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(v.SignatureFor, []string{ActApprove}) {
		t.Errorf("task view signatureFor %v, want [approve]", v.SignatureFor)
	}
	todo, err := e.wf.Inbox(e.ctx, e.p("bob"), BoxTodo, 0, "")
	if err != nil || len(todo) != 1 || !slices.Equal(todo[0].SignatureFor, []string{ActApprove}) {
		t.Fatalf("bob's todo %+v, %v", todo, err)
	}

	_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Comment: "released"})
	wantField(t, err, "signature", "flowrun.signature_required")
	fe, _ := engine.AsFieldErrors(err)
	zh, en := fe[0].Sentence(engine.LangZH), fe[0].Sentence(engine.LangEN)
	if !strings.HasPrefix(zh, "手写签名：此步骤必须") || !strings.HasPrefix(en, "Signature is required") {
		t.Errorf("messages %q / %q", zh, en)
	}
	carols := e.uploadPNG(t, "carol")
	_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Signature: carols})
	wantField(t, err, "signature", "flowrun.signature_not_own")
	bobsPDF := e.uploadFile(t, "bob", "scan.pdf")
	_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Signature: bobsPDF})
	wantField(t, err, "signature", "flowrun.signature_not_image")
	if after := e.reload(t, inst.ID); after.Rev != before.Rev || len(after.Timeline) != len(before.Timeline) {
		t.Fatalf("a refused action changed the instance: rev %d → %d", before.Rev, after.Rev)
	}

	// Transfer needs no signature; dave, who gets the task, must sign to approve.
	e.act(t, inst.ID, "bob", "a1", ActInput{Action: ActTransfer, ToUser: "dave"})
	_, err = e.wf.Act(e.ctx, e.p("dave"), e.taskOf(t, inst.ID, "dave", "a1"), ActInput{Action: ActApprove})
	wantField(t, err, "signature", "flowrun.signature_required")
	daves := e.uploadPNG(t, "dave")
	got := e.act(t, inst.ID, "dave", "a1", ActInput{Action: ActApprove, Comment: "放行", Signature: daves})
	i := slices.IndexFunc(got.Timeline, func(s Step) bool { return s.Action == stepApprove && s.Node == "a1" })
	if i < 0 || got.Timeline[i].Signature != daves || got.Timeline[i].Actor != "dave" {
		t.Fatalf("approve step %+v", got.Timeline)
	}
	if _, err := e.fs.Download(e.ctx, e.p("root"), testApp, daves, &bytes.Buffer{}); err != nil {
		t.Errorf("the record's reader cannot download the step's signature: %v", err)
	}

	// The fill node wants every decision signed: submit too.
	_, err = e.wf.Act(e.ctx, e.p("carol"), e.taskOf(t, inst.ID, "carol", "f1"), ActInput{Action: ActSubmit})
	wantField(t, err, "signature", "flowrun.signature_required")
	done := e.act(t, inst.ID, "carol", "f1", ActInput{Action: ActSubmit, Signature: carols})
	wantState(t, done, StateApproved)

	// bob's approval needs no signature to reject; the initiator withdraws without one.
	second := e.start(t, "qa", map[string]any{"material": "salt"})
	if _, err := e.wf.Withdraw(e.ctx, e.p("alice"), second.ID, "wrong lot"); err != nil {
		t.Fatalf("withdraw: %v", err)
	}
	third := e.start(t, "qa", map[string]any{"material": "sugar"})
	wantState(t, e.act(t, third.ID, "bob", "a1", ActInput{Action: ActReject, Comment: "moist"}), StateRejected)
}

// TestBatchApproveSignature: a batch without a signature skips (code signature_required, a
// reason in the caller's language) the tasks whose approval must be signed and approves the
// others; a batch signature that is not the approver's own is refused before any task; one
// signature of the approver's own is put on every task's approve step.
func TestBatchApproveSignature(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, signedFlow("qa"))
	e.install(t, flowDef("plain", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	signed1 := e.start(t, "qa", map[string]any{"material": "flour"})
	plain := e.start(t, "plain", map[string]any{"material": "salt"})
	signed2 := e.start(t, "qa", map[string]any{"material": "sugar"})
	tasks := []string{e.taskOf(t, signed1.ID, "bob", "a1"), e.taskOf(t, plain.ID, "bob", "a1"), e.taskOf(t, signed2.ID, "bob", "a1")}
	rev := e.reload(t, signed1.ID).Rev

	res, err := e.wf.BatchApprove(e.ctx, e.p("bob"), tasks, "ok", "", engine.LangZH)
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 3 || res[0].OK || !res[1].OK || res[2].OK || res[0].Code != "signature_required" || !strings.Contains(res[0].Message, "使用同一签名批量审批") {
		t.Fatalf("batch without a signature: %+v", res)
	}
	if e.reload(t, signed1.ID).Rev != rev {
		t.Fatal("a skipped task's instance changed")
	}
	wantState(t, e.reload(t, plain.ID), StateApproved)

	carols := e.uploadPNG(t, "carol")
	_, err = e.wf.BatchApprove(e.ctx, e.p("bob"), []string{tasks[0], tasks[2]}, "ok", carols, engine.LangEN)
	wantField(t, err, "signature", "flowrun.signature_not_own")
	if e.reload(t, signed1.ID).Rev != rev {
		t.Fatal("a refused batch changed an instance")
	}

	bobs := e.uploadPNG(t, "bob")
	res, err = e.wf.BatchApprove(e.ctx, e.p("bob"), []string{tasks[0], tasks[2]}, "批量放行", bobs, engine.LangEN)
	if err != nil || len(res) != 2 || !res[0].OK || !res[1].OK {
		t.Fatalf("signed batch: %+v, %v", res, err)
	}
	for _, id := range []string{signed1.ID, signed2.ID} {
		inst := e.reload(t, id)
		i := slices.IndexFunc(inst.Timeline, func(s Step) bool { return s.Action == stepApprove && s.Node == "a1" })
		if i < 0 || inst.Timeline[i].Signature != bobs || inst.Timeline[i].Comment != "批量放行" {
			t.Errorf("%s approve step without the batch signature: %+v", id, inst.Timeline)
		}
	}
}

// TestBatchResultNamesTheLabel: a task's field error in a batch result names the field by the
// label the refusing engine gave it, in the caller's language, and keeps the path for programs.
func TestBatchResultNamesTheLabel(t *testing.T) {
	e := newTestEnv(t, "", nil)
	labelled := engine.FieldErrors{{Path: "qa_sign", Code: "required", Label: engine.Text{ZH: "质检签名", EN: "QA signature"}}}
	r := e.wf.batchResult("t1", labelled, engine.LangZH)
	if r.Code != "invalid" || len(r.Fields) != 1 || r.Fields[0].Field != "qa_sign" || r.Fields[0].Label != "质检签名" ||
		r.Fields[0].Message != "质检签名：必填" || !strings.HasSuffix(r.Message, ": 质检签名：必填") {
		t.Fatalf("zh: %+v", r)
	}
	if r := e.wf.batchResult("t1", labelled, engine.LangEN); r.Fields[0].Message != "QA signature is required" || strings.Contains(r.Message, "qa_sign") {
		t.Fatalf("en: %+v", r)
	}
	bare := engine.FieldErrors{{Path: "comment", Code: "required"}}
	if r := e.wf.batchResult("t1", bare, engine.LangEN); r.Fields[0].Label != "" || !strings.HasSuffix(r.Message, ": comment is required") {
		t.Fatalf("unlabelled: %+v", r)
	}
}
