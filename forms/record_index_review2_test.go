package forms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// indexedOn tells whether the records of qa/form have a list index on path: on the embedded
// store a page by it sorted by it is read from an index, on MongoDB an index starts with it.
func indexedOn(t *testing.T, st *store.Store, form, path string) bool {
	t.Helper()
	ctx, coll := context.Background(), RecordsCollection("qa", form)
	if st.Kind() == store.KindEmbedded {
		plan, err := st.Explain(ctx, coll, store.Query{Where: store.Gte(path, "a"), Sort: []store.SortKey{{Path: path}}})
		if err != nil {
			t.Fatal(err)
		}
		return !strings.Contains(plan, "TEMP B-TREE")
	}
	mc, err := st.Collection(ctx, coll)
	if err != nil {
		t.Fatal(err)
	}
	specs, err := mc.Indexes().ListSpecifications(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, sp := range specs {
		var keys bson.D
		if err := bson.Unmarshal(sp.KeysDocument, &keys); err == nil && len(keys) > 0 && keys[0].Key == path {
			return true
		}
	}
	return false
}

// Item 6: publishing made the draft's indexes before its version was stored: a publish that
// failed afterwards left the draft's index set live, without the published version's
// x-filterable indexes. They are made once the version is stored.
func TestIssue8Review2_FailedPublishKeepsIndexes(t *testing.T) {
	for _, b := range storetest.Backends() {
		t.Run(b.Name, func(t *testing.T) {
			e := review2Service(t, b.Open(t))
			def := func(marked string) string {
				return `{"key": "lot", "name": {"zh-CN": "批次"}, "schema": {"type": "object", "properties": {
				"code":     {"x-type": "text", "x-label": {"zh-CN": "批号"}` + map[bool]string{true: `, "x-filterable": true`}[marked == "code"] + `},
				"supplier": {"x-type": "text", "x-label": {"zh-CN": "供应商"}` + map[bool]string{true: `, "x-filterable": true`}[marked == "supplier"] + `}}}}`
			}
			f, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def("code")), 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.s.Publish(e.ctx, e.admin, "qa", "lot"); err != nil {
				t.Fatal(err)
			}
			if !indexedOn(t, e.s.st, "lot", "data.code") || indexedOn(t, e.s.st, "lot", "data.supplier") {
				t.Fatal("version 1: want an index on code only")
			}
			if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def("supplier")), f.Rev); err != nil {
				t.Fatal(err)
			}
			// The publish fails after the draft is checked, before its version is stored.
			pub := e.s.publishing("qa", "lot")
			pub.Before = func(context.Context, *engine.Version, *engine.Version) error { return errors.New("disk full") }
			if _, _, err := e.s.defs.Publish(e.ctx, e.admin, "qa", "lot", pub); err == nil {
				t.Fatal("the publish succeeded")
			}
			if !indexedOn(t, e.s.st, "lot", "data.code") || indexedOn(t, e.s.st, "lot", "data.supplier") {
				t.Fatal("after a publish that failed: the published version's indexes must stay (code), not the draft's (supplier)")
			}
			v, err := e.s.Publish(e.ctx, e.admin, "qa", "lot")
			if err != nil || v.Number != 2 {
				t.Fatalf("publish: %+v %v", v, err)
			}
			if indexedOn(t, e.s.st, "lot", "data.code") || !indexedOn(t, e.s.st, "lot", "data.supplier") {
				t.Fatal("version 2: want an index on supplier only")
			}
		})
	}
}

// Item 7: past 16 field indexes x-filterable was silently ignored (the field had no index); it
// is refused, naming the field, in both languages.
func TestIssue8Review2_TooManyFilterable(t *testing.T) {
	e := review2Service(t, storetest.New(t))
	var props []string
	for i := 1; i <= maxFieldIndexes; i++ {
		props = append(props, fmt.Sprintf(`"f%02d": {"x-type": "text", "x-label": {"zh-CN": "字段%d"}, "x-filterable": true}`, i, i))
	}
	def := func(extra string) string {
		return `{"key": "wide", "name": {"zh-CN": "宽表"}, "schema": {"type": "object", "properties": {` +
			strings.Join(append(append([]string{}, props...), extra), ", ") + `}}}`
	}
	// Sixteen, and a relation not marked over them: accepted (the relation is left unindexed).
	if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def(`"rel": {"x-type": "relation", "x-label": {"zh-CN": "来料"}, "x-options": {"form": "receipt"}}`)), 0); err != nil {
		t.Fatalf("16 filterable fields: %v", err)
	}
	_, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(strings.Replace(def(`"extra": {"x-type": "number", "x-label": {"zh-CN": "数量"}, "x-filterable": true}`), `"wide"`, `"wider"`, 1)), 0)
	fe, ok := engine.AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Path != "/schema/properties/extra/x-filterable" || fe[0].Code != "too_many_filterable" {
		t.Fatalf("a 17th filterable field: %v, want too_many_filterable on extra", err)
	}
	zh, en := engine.Message(engine.LangZH, fe[0].Code, fe[0].Params), engine.Message(engine.LangEN, fe[0].Code, fe[0].Params)
	if !strings.Contains(zh, "extra") || !strings.Contains(zh, "16") || !strings.Contains(en, "field extra") || !strings.Contains(en, "16") {
		t.Fatalf("messages: %q / %q", zh, en)
	}
}
