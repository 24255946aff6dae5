package workflow

import (
	"bytes"
	"testing"
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
