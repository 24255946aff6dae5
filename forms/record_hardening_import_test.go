package forms

import (
	"strings"
	"testing"

	"tracecraft/engine"
)

// TestHardening06_ImportCheckedAgainstCreateScope (issue 7 item 6): an import is a create: a
// row outside the create scope refuses the import (dry run or not) with the create scope's
// code, and nothing is written.
func TestHardening06_ImportCheckedAgainstCreateScope(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "lot", scopeDef)
	ann := e.user(t, "ann", "site_a")
	for _, dry := range []bool{true, false} {
		_, err := e.s.Import(e.ctx, ann, "qa", "lot", FormatCSV, strings.NewReader("site,note\nA,fine\nB,elsewhere\n"), dry, engine.LangEN)
		wantCode(t, err, engine.ErrForbidden, "create_out_of_scope")
	}
	res, err := e.s.List(e.ctx, e.admin, "qa", "lot", ListQuery{})
	if err != nil || len(res.Items) != 0 {
		t.Fatalf("records after the refused imports: %v %v", res, err)
	}
	rep, err := e.s.Import(e.ctx, ann, "qa", "lot", FormatCSV, strings.NewReader("site,note\nA,fine\n"), false, engine.LangEN)
	if err != nil || rep.Imported != 1 {
		t.Fatalf("an import within the scope: %+v %v", rep, err)
	}
}
