package workflow

import (
	"bytes"
	"testing"

	"tracecraft/engine"
	"tracecraft/forms"
)

// A decision refused before anything changes — unsigned where the node asks for a signature,
// or editing a field the node does not let its assignees edit — binds none of its files: the
// record's readers (root) cannot download them.
func TestReview5_3_RefusedDecisionBindsNoFiles(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, signedFlow("qa"))
	inst := e.start(t, "qa", map[string]any{"material": "flour"})
	task := e.taskOf(t, inst.ID, "bob", "a1")
	bound := func(id string) bool {
		_, err := e.fs.Download(e.ctx, e.p("root"), testApp, id, &bytes.Buffer{})
		return err == nil
	}
	att := e.uploadFile(t, "bob", "report.pdf")
	if bound(att) {
		t.Fatal("precondition: root downloads an upload bound to nothing")
	}
	rev := e.reload(t, inst.ID).Rev

	_, err := e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Attachments: []string{att}})
	wantField(t, err, "signature", "flowrun.signature_required")
	if bound(att) {
		t.Error("the unsigned approval, refused, bound its attachment to the record")
	}

	sig := e.uploadPNG(t, "bob")
	_, err = e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Signature: sig, Attachments: []string{att},
		Data: map[string]any{"note": "edited"}})
	wantField(t, err, "data.note", "read_only")
	if bound(att) || bound(sig) {
		t.Error("the approval with an edit the node does not allow, refused, bound its files")
	}
	if e.reload(t, inst.ID).Rev != rev {
		t.Fatal("a refused decision changed the instance")
	}

	// Signed and without the edit, the same files are bound.
	if _, err := e.wf.Act(e.ctx, e.p("bob"), task, ActInput{Action: ActApprove, Signature: sig, Attachments: []string{att}}); err != nil {
		t.Fatal(err)
	}
	if !bound(att) || !bound(sig) {
		t.Error("the signed approval did not bind its files")
	}
}

// A node whose approval (or submission) must be signed cannot be skipped when nobody is found:
// onEmpty skip would pass it unsigned. It is refused when compiled, naming the node; a
// signature only for rejecting leaves skip alone, as does admin.
func TestReview5_4_SignedNodeCannotSkipOnEmpty(t *testing.T) {
	e := newTestEnv(t, "", nil)
	nobody := []any{map[string]any{"kind": "role", "role": "nobody"}}
	node := func(typ string, rule any, onEmpty string) map[string]any {
		return map[string]any{"id": "qa_release", "type": typ, "next": "end", "onEmpty": onEmpty,
			"assignees": nobody, "requireSignature": rule}
	}
	for _, n := range []map[string]any{
		node(NodeApproval, true, "skip"),
		node(NodeApproval, []any{"approve"}, "skip"),
		node(NodeFill, []any{"submit"}, "skip"),
	} {
		err := e.compileNodes(t, n)
		fe, ok := engine.AsFieldErrors(err)
		if !ok || len(fe) != 1 || fe[0].Path != "/nodes/1/onEmpty" || fe[0].Code != "flow.signature_on_empty" || fe[0].Params["node"] != "qa_release" {
			t.Errorf("%v: %v, want flow.signature_on_empty on /nodes/1/onEmpty", n, err)
			continue
		}
		if zh := engine.Message(engine.LangZH, fe[0].Code, fe[0].Params); zh == fe[0].Code || !bytes.Contains([]byte(zh), []byte("qa_release")) {
			t.Errorf("zh-CN message: %q", zh)
		}
	}
	for _, n := range []map[string]any{
		node(NodeApproval, []any{"reject"}, "skip"),
		node(NodeApproval, true, "admin"),
		node(NodeFill, true, "fail"),
	} {
		if err := e.compileNodes(t, n); err != nil {
			t.Errorf("%v: %v", n, err)
		}
	}
}

// A batch's signature is checked against the app of the first task the caller may act on: a
// first task of someone else (in another app) neither refuses the batch nor tells the caller
// anything of it, and a task of another app than the signature's fails alone.
func TestReview5_5_BatchSignatureJudgedOnTheCallersTasks(t *testing.T) {
	e := newTestEnv(t, "", nil)
	sys := engine.SystemPrincipal()
	const other = "qb"
	if _, err := e.fs.CreateApp(e.ctx, sys, forms.AppInput{Key: other, Name: engine.Text{ZH: "二厂质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.SaveDraft(e.ctx, sys, other, []byte(receiptForm), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.fs.Publish(e.ctx, sys, other, "receipt"); err != nil {
		t.Fatal(err)
	}
	roles, err := e.k.Auth.ListRoles(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roles {
		if r.Name == "qa" { // bob and carol are members of both apps
			r.Grants = append(r.Grants, engine.Grant{App: other, Actions: []string{engine.PermAppRead}})
			if _, err := e.k.Auth.PutRole(e.ctx, sys, r); err != nil {
				t.Fatal(err)
			}
		}
	}
	e.install(t, signedFlow("qa"))
	for flow, user := range map[string]string{"sc": "carol", "sb": "bob"} {
		a1 := approval("a1", ModeSingle, "end", user)
		a1.RequireSignature = SignatureRule{All: true}
		f, err := e.wf.SaveDraft(e.ctx, sys, other, flowDef(flow, "manual", "", startNode("a1"), a1, endOK()), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.wf.Publish(e.ctx, sys, other, f.Key); err != nil {
			t.Fatal(err)
		}
	}
	startOther := func(flow, user string) string {
		rec, err := e.fs.Create(e.ctx, sys, other, "receipt", forms.Values{"material": "flour"})
		if err != nil {
			t.Fatal(err)
		}
		inst, err := e.wf.Start(e.ctx, sys, other, flow, rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		return e.taskOf(t, inst.ID, user, "a1")
	}
	carolsOther := startOther("sc", "carol")
	mine := e.taskOf(t, e.start(t, "qa", map[string]any{"material": "sugar"}).ID, "bob", "a1")
	sig := e.uploadPNG(t, "bob") // uploaded to testApp

	// Carol's task in the other app first: bob's batch goes on, and carol's task is forbidden
	// — the same answer as for a task that does not exist would be (no signature error).
	res, err := e.wf.BatchApprove(e.ctx, e.p("bob"), []string{carolsOther, mine}, "ok", sig, engine.LangZH)
	if err != nil {
		t.Fatalf("a first task of someone else's in another app refused the batch: %v", err)
	}
	if len(res) != 2 || res[0].OK || res[0].Code != "forbidden" || !res[1].OK {
		t.Fatalf("results: %+v", res)
	}

	// Bob's own task in the other app first: the signature (uploaded to testApp) is no file
	// there, so that task fails alone; his task in testApp is approved.
	bobsOther := startOther("sb", "bob")
	mine2 := e.taskOf(t, e.start(t, "qa", map[string]any{"material": "salt"}).ID, "bob", "a1")
	res, err = e.wf.BatchApprove(e.ctx, e.p("bob"), []string{bobsOther, mine2}, "ok", sig, engine.LangEN)
	if err != nil {
		t.Fatalf("a task of another app than the signature's refused the batch: %v", err)
	}
	if len(res) != 2 || res[0].OK || res[0].Code != "invalid" || len(res[0].Fields) != 1 || res[0].Fields[0].Field != "signature" || !res[1].OK {
		t.Fatalf("results: %+v", res)
	}

	// A signature good for none of the caller's tasks still refuses the batch before any.
	carols := e.uploadPNG(t, "carol")
	mine3 := e.taskOf(t, e.start(t, "qa", map[string]any{"material": "rice"}).ID, "bob", "a1")
	_, err = e.wf.BatchApprove(e.ctx, e.p("bob"), []string{mine3}, "ok", carols, engine.LangEN)
	wantField(t, err, "signature", "flowrun.signature_not_own")
}
