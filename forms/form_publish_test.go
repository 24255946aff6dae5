package forms

import (
	"strings"
	"testing"
)

// TestPublishUnchangedDraftMakesNoVersion: publishing a draft that has not changed since the
// latest version answers that version, marked unchanged, and makes none; the draft keeps its
// revision, so the designer saves on with the one they hold.
func TestPublishUnchangedDraftMakesNoVersion(t *testing.T) {
	e := newIOEnv(t)
	before, err := e.s.Versions(e.ctx, e.admin, "qa", "receipt")
	if err != nil || len(before) == 0 {
		t.Fatalf("versions %d, %v", len(before), err)
	}
	last := before[len(before)-1].Number
	v, err := e.s.Publish(e.ctx, e.admin, "qa", "receipt")
	if err != nil || !v.Unchanged || v.Number != last {
		t.Fatalf("unchanged publish: %+v, %v", v, err)
	}
	form, err := e.s.GetForm(e.ctx, e.admin, "qa", "receipt")
	if err != nil || form.Published != last {
		t.Fatalf("form %+v, %v", form, err)
	}
	def := strings.Replace(ioReceipt, `"required": ["material"]`, `"required": ["material", "cost"]`, 1)
	if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def), form.Rev); err != nil {
		t.Fatal(err)
	}
	v, err = e.s.Publish(e.ctx, e.admin, "qa", "receipt")
	if err != nil || v.Unchanged || v.Number != last+1 {
		t.Fatalf("publish of a changed draft: %+v, %v", v, err)
	}
}
