package workflow

import (
	"bytes"
	"errors"
	"testing"

	"tracecraft/engine"
	"tracecraft/forms"
)

// uploadFile uploads a small file to the test app as who and returns its id.
func (e *testEnv) uploadFile(t *testing.T, who, name string) string {
	t.Helper()
	fi, err := e.fs.Upload(e.ctx, e.p(who), testApp, name, bytes.NewReader([]byte("%PDF-1.4 "+name)))
	if err != nil {
		t.Fatal(err)
	}
	return fi.ID
}

// TestHardening07_Item4_FlowFilesBound (issue 7 item 4): a comment's or an action's files must
// be ones the actor may download — another user's upload is refused, by place — and once on
// the timeline the record's readers may download them.
func TestHardening07_Item4_FlowFilesBound(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.install(t, flowDef("f", "manual", "", startNode("a1"), approval("a1", ModeSingle, "end", "bob"), endOK()))
	inst := e.start(t, "f", map[string]any{"material": "flour"})
	bobs := e.uploadFile(t, "bob", "bob.pdf")
	alices := e.uploadFile(t, "alice", "alice.pdf")

	_, err := e.wf.Comment(e.ctx, e.p("alice"), inst.ID, ActInput{Comment: "x", Attachments: []string{alices, bobs}})
	wantField(t, err, "attachments.1", "not_found")
	// A signature is the signer's own drawing (signature.go): another's upload is refused.
	_, err = e.wf.Act(e.ctx, e.p("bob"), e.taskOf(t, inst.ID, "bob", "a1"), ActInput{Action: ActApprove, Signature: alices})
	wantField(t, err, "signature", "flowrun.signature_not_own")
	bobsSig := e.uploadPNG(t, "bob")

	if _, err := e.wf.Comment(e.ctx, e.p("alice"), inst.ID, ActInput{Comment: "see attached", Attachments: []string{alices}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.wf.Act(e.ctx, e.p("bob"), e.taskOf(t, inst.ID, "bob", "a1"), ActInput{Action: ActApprove, Signature: bobsSig, Attachments: []string{bobs}}); err != nil {
		t.Fatal(err)
	}
	// A reader of the record (root, an administrator) downloads both; a user who may not read
	// it does not.
	for _, id := range []string{alices, bobs, bobsSig} {
		if _, err := e.fs.Download(e.ctx, e.p("root"), testApp, id, &bytes.Buffer{}); err != nil {
			t.Errorf("the record's reader downloads %s: %v", id, err)
		}
	}
	if _, err := e.fs.Download(e.ctx, e.p("erin"), testApp, alices, &bytes.Buffer{}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("erin downloads a comment's attachment: %v", err)
	}
	// Bound to the timeline, they outlive the orphan collector.
	e.clock.Add(forms.FileOrphanAfter * 2)
	if _, err := e.fs.CollectFiles(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{alices, bobs, bobsSig} {
		if _, err := e.fs.Download(e.ctx, e.p("root"), testApp, id, &bytes.Buffer{}); err != nil {
			t.Errorf("%s was collected: %v", id, err)
		}
	}
}
