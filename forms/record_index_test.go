package forms

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// TestIssue08_IndexesFollowTheDefinition (issue 8, storage): publishing declares indexes only
// for what the form's lists use — the id and creation time always; status with a status
// model; owner and department with those row scopes; fields marked x-filterable and relation
// fields — and x-filterable on a field that cannot have an index is refused, naming it.
func TestIssue08_IndexesFollowTheDefinition(t *testing.T) {
	ctx := context.Background()
	s, st := listTestService(t, `{"key": "bare", "name": {"zh-CN": "甲"}, "schema": {"type": "object", "properties": {
		"name": {"x-type": "text", "x-label": {"zh-CN": "名称"}},
		"qty":  {"x-type": "number", "x-label": {"zh-CN": "数量"}}}}}`)
	sys := engine.SystemPrincipal()
	paths := func(form string) []string {
		t.Helper()
		c, err := s.Compiled(ctx, "qa", form, 0)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, spec := range listIndexes(c) {
			var keys []string
			for _, k := range spec.Keys {
				keys = append(keys, k.Path)
			}
			out = append(out, strings.Join(keys, "+"))
		}
		return out
	}
	if got, want := paths("bare"), []string{"_id", "created_at"}; !slices.Equal(got, want) {
		t.Fatalf("a form with nothing marked: indexes %v, want %v", got, want)
	}
	marked := `{"key": "marked", "name": {"zh-CN": "乙"},
	  "status": {"initial": "open", "states": [{"key": "open", "label": {"zh-CN": "开"}}], "transitions": []},
	  "permissions": {"clerk": {"actions": ["read"], "scope": "own"}, "lead": {"actions": ["read"], "scope": "department"}},
	  "schema": {"type": "object", "properties": {
		"name": {"x-type": "text", "x-label": {"zh-CN": "名称"}},
		"qty":  {"x-type": "number", "x-label": {"zh-CN": "数量"}, "x-filterable": true},
		"lot":  {"x-type": "relation", "x-label": {"zh-CN": "批次"}, "x-options": {"form": "bare"}},
		"note": {"x-type": "textarea", "x-label": {"zh-CN": "备注"}}}}}`
	if _, err := s.SaveDraft(ctx, sys, "qa", []byte(marked), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, sys, "qa", "marked"); err != nil {
		t.Fatal(err)
	}
	want := []string{"_id", "created_at", "status+created_at", "owner+created_at", "dept+created_at", "data.qty", "data.lot"}
	if got := paths("marked"); !slices.Equal(got, want) {
		t.Fatalf("a marked form: indexes %v, want %v", got, want)
	}
	// And they are what the store holds: a filtered, sorted page on the marked field is read
	// from its index; one on the unmarked name is not.
	if st.Kind() == store.KindEmbedded {
		coll := RecordsCollection("qa", "marked")
		plan, err := st.Explain(ctx, coll, store.Query{Where: store.Gte("data.qty", 5), Sort: []store.SortKey{{Path: "data.qty", Desc: true}}})
		if err != nil || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") {
			t.Fatalf("page by the marked field: %v\n%s", err, plan)
		}
		plan, err = st.Explain(ctx, coll, store.Query{Where: store.Gte("data.name", "a"), Sort: []store.SortKey{{Path: "data.name"}}})
		if err != nil || !strings.Contains(plan, "TEMP B-TREE") {
			t.Fatalf("page by the unmarked field should be sorted, not indexed: %v\n%s", err, plan)
		}
	}
	bad := strings.Replace(marked, `"x-type": "textarea", "x-label": {"zh-CN": "备注"}`, `"x-type": "textarea", "x-label": {"zh-CN": "备注"}, "x-filterable": true`, 1)
	_, err := s.SaveDraft(ctx, sys, "qa", []byte(strings.Replace(bad, `"marked"`, `"bad"`, 1)), 0)
	var fe engine.FieldErrors
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), "/schema/properties/note/x-filterable") {
		t.Fatalf("x-filterable on long text: %v", err)
	}
}
