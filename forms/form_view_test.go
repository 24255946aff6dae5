package forms

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"tracecraft/engine"
)

// TestDefinitionLeavesOutHiddenFields (issue 9, admin): a field a role hides is not in the
// form's definition as that role's users read it — not in the published version's schema,
// required list or layout, nor in the draft — so the record list has no column for it; the
// permissions are left out for them; a designer reads the whole definition.
func TestDefinitionLeavesOutHiddenFields(t *testing.T) {
	e := newIOEnv(t)
	for _, r := range []engine.Role{
		{Name: "auditor", Label: engine.Text{ZH: "审计"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
		{Name: "clerk", Label: engine.Text{ZH: "文员"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
	} {
		if _, err := e.s.k.Auth.PutRole(e.ctx, e.admin, r); err != nil {
			t.Fatal(err)
		}
	}
	// A second version: cost required, placed in the layout and the title.
	def := strings.Replace(ioReceipt, `"required": ["material"]`, `"required": ["material", "cost"]`, 1)
	def = strings.Replace(def, `"permissions"`, `"layout": {"items": [{"kind": "field", "field": "material"}, {"kind": "group", "items": [{"kind": "field", "field": "cost"}, {"kind": "field", "field": "qty"}]}]},
  "titleField": "cost",
  "permissions"`, 1)
	form, err := e.s.GetForm(e.ctx, e.admin, "qa", "receipt")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def), form.Rev); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Publish(e.ctx, e.admin, "qa", "receipt"); err != nil {
		t.Fatal(err)
	}

	shows := func(d Definition) (fields []string, text string) {
		var s struct {
			Properties map[string]json.RawMessage `json:"properties"`
		}
		if err := json.Unmarshal(d.Schema, &s); err != nil {
			t.Fatal(err)
		}
		for k := range s.Properties {
			fields = append(fields, k)
		}
		slices.Sort(fields)
		b, _ := json.Marshal(d)
		return fields, string(b)
	}
	vs, err := e.s.Versions(e.ctx, e.auditor, "qa", "receipt")
	if err != nil || len(vs) != 2 {
		t.Fatalf("auditor's versions: %d %v", len(vs), err)
	}
	for _, v := range vs {
		fields, text := shows(v.Definition)
		if slices.Contains(fields, "cost") || strings.Contains(text, `"cost"`) || strings.Contains(text, "单价") {
			t.Errorf("version %d shows the hidden cost to the auditor: %s", v.Number, text)
		}
		if v.Definition.Permissions != nil {
			t.Errorf("version %d shows the permissions to the auditor", v.Number)
		}
		if !slices.Contains(fields, "material") || !slices.Contains(fields, "lines") {
			t.Errorf("version %d lost visible fields: %v", v.Number, fields)
		}
	}
	latest := vs[1].Definition
	if !strings.Contains(string(latest.Schema), `"count"`) {
		t.Errorf("sub-table columns for the auditor: %s", latest.Schema)
	}
	if !strings.Contains(string(latest.Schema), `"required":["material"]`) {
		t.Errorf("required for the auditor: %s", latest.Schema)
	}
	if latest.TitleField != "" || len(latest.Layout.Items) != 2 || len(latest.Layout.Items[1].Items) != 1 || latest.Layout.Items[1].Items[0].Field != "qty" {
		t.Errorf("layout for the auditor: %+v, title %q", latest.Layout, latest.TitleField)
	}
	// The schema keeps its field order.
	if i, j := strings.Index(string(latest.Schema), `"material"`), strings.Index(string(latest.Schema), `"lines"`); i < 0 || j < i {
		t.Errorf("order changed: %s", latest.Schema)
	}
	for _, f := range mustForms(t, e) {
		if _, text := shows(f.Draft); strings.Contains(text, `"cost"`) {
			t.Errorf("the auditor's list of forms shows the draft's cost: %s", text)
		}
	}
	if f, err := e.s.GetForm(e.ctx, e.auditor, "qa", "receipt"); err != nil || strings.Contains(string(f.Draft.Schema), `"cost"`) {
		t.Errorf("the auditor's form: %v %s", err, f.Draft.Schema)
	}

	// The clerk's role hides nothing: the whole schema, without the permissions.
	vs, err = e.s.Versions(e.ctx, e.clerk, "qa", "receipt")
	if err != nil {
		t.Fatal(err)
	}
	if fields, _ := shows(vs[1].Definition); !slices.Contains(fields, "cost") || vs[1].Definition.Permissions != nil {
		t.Errorf("clerk's definition: %v, permissions %v", fields, vs[1].Definition.Permissions)
	}
	// A designer reads everything.
	vs, err = e.s.Versions(e.ctx, e.admin, "qa", "receipt")
	if err != nil {
		t.Fatal(err)
	}
	if fields, _ := shows(vs[1].Definition); !slices.Contains(fields, "cost") || vs[1].Definition.Permissions["auditor"].Hidden == nil {
		t.Errorf("designer's definition: %v, %v", fields, vs[1].Definition.Permissions)
	}
}

func mustForms(t *testing.T, e *ioEnv) []Form {
	t.Helper()
	fs, err := e.s.ListForms(e.ctx, e.auditor, "qa")
	if err != nil || len(fs) != 1 {
		t.Fatalf("auditor's forms: %v %v", fs, err)
	}
	return fs
}

// TestRightsInForceJudgeOlderRecords (issue 9, admin): the permissions of the latest published
// version judge every record, whatever version it was written in: a role granted read later
// opens records written before, and a field hidden later is hidden on them too (their version
// still gives their fields).
func TestRightsInForceJudgeOlderRecords(t *testing.T) {
	e := newIOEnv(t)
	if _, err := e.s.k.Auth.PutRole(e.ctx, e.admin, engine.Role{Name: "viewer", Label: engine.Text{ZH: "查看"},
		Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	viewer := &engine.Principal{Username: "vic", Roles: []string{"viewer"}}
	old := e.create(t, Values{"material": "v1", "cost": 3.5})
	if _, err := e.s.Get(e.ctx, viewer, "qa", "receipt", old.ID); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("viewer before any grant: %v", err)
	}
	publish := func(perm string) {
		t.Helper()
		f, err := e.s.GetForm(e.ctx, e.admin, "qa", "receipt")
		if err != nil {
			t.Fatal(err)
		}
		def := strings.Replace(ioReceipt, `"permissions": {`, `"permissions": {"viewer": `+perm+`,`, 1)
		if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def), f.Rev); err != nil {
			t.Fatal(err)
		}
		if _, err := e.s.Publish(e.ctx, e.admin, "qa", "receipt"); err != nil {
			t.Fatal(err)
		}
	}
	publish(`{"actions": ["read"]}`)
	r, err := e.s.Get(e.ctx, viewer, "qa", "receipt", old.ID)
	if err != nil || r.Version != 1 || r.Data["cost"] != 3.5 {
		t.Fatalf("version 1 record read by a role granted in version 2: %+v %v", r, err)
	}
	publish(`{"actions": ["read"], "hidden": ["cost"]}`)
	r, err = e.s.Get(e.ctx, viewer, "qa", "receipt", old.ID)
	if err != nil || r.Data["cost"] != nil || r.Data["material"] != "v1" {
		t.Fatalf("version 1 record after cost was hidden in version 3: %+v %v", r, err)
	}
	fv, err := recordsAPI{e.s}.VisibleFields(e.ctx, viewer, "qa", "receipt", old.ID)
	if err != nil || !fv.Readable || slices.Contains(fv.Fields, "cost") {
		t.Fatalf("visible fields of the old record: %+v %v", fv, err)
	}
	vs, err := e.s.Versions(e.ctx, viewer, "qa", "receipt")
	if err != nil || strings.Contains(string(vs[0].Definition.Schema), `"cost"`) {
		t.Fatalf("version 1 as the viewer reads it: %v %s", err, vs[0].Definition.Schema)
	}
}
