package rules

import (
	"errors"
	"strings"
	"testing"

	"tracecraft/engine"
)

// TestVersions: a rule's published versions, newest first, with the webhook secret masked;
// an unknown rule is not found and someone who may not design the app is refused.
func TestVersions(t *testing.T) {
	e := newTestEnv(t, Options{})
	sys := engine.SystemPrincipal()
	const def = `{"key": "hook", "label": {"zh-CN": "回调"}, "form": "lot", "trigger": {"on": "created"}, "condition": "COND",
	  "actions": [{"type": "webhook", "params": {"url": "https://example.com/hook", "secret": "s3cret-value"}}]}`
	e.rule(t, strings.Replace(def, "COND", "record.qty > 1", 1))
	r, err := e.rs.GetRule(e.ctx, sys, testApp, "hook")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(strings.Replace(strings.Replace(def, "COND", "record.qty > 2", 1), "s3cret-value", "…", 1)), r.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.rs.Publish(e.ctx, sys, testApp, "hook"); err != nil {
		t.Fatal(err)
	}

	vs, err := e.rs.Versions(e.ctx, sys, testApp, "hook")
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) != 2 || vs[0].Number != 2 || vs[1].Number != 1 || vs[0].Definition.Condition != "record.qty > 2" || vs[1].Definition.Condition != "record.qty > 1" {
		t.Fatalf("versions: %+v", vs)
	}
	for _, v := range vs {
		if got := string(v.Definition.Actions[0].Params); strings.Contains(got, "s3cret") || !strings.Contains(got, `"…"`) {
			t.Errorf("version %d shows the secret: %s", v.Number, got)
		}
	}

	if _, err := e.rs.Versions(e.ctx, sys, testApp, "nope"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("unknown rule: %v", err)
	}
	if _, err := e.rs.Versions(e.ctx, e.user("wang"), testApp, "hook"); !errors.Is(err, engine.ErrForbidden) {
		t.Errorf("a reader of the app: %v", err)
	}
}
