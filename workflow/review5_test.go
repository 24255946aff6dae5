package workflow

import (
	"bytes"
	"testing"

	"tracecraft/engine"
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
