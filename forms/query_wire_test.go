package forms

import (
	"bytes"
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"

	"go.mongodb.org/mongo-driver/v2/event"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// wireBatch is the form of the two-paths test: each kind of row scope (own, department, an
// expression) and hidden fields, on a filterable number, a choice, a date and text.
const wireBatch = `{
  "key": "batch",
  "name": {"zh-CN": "生产批次", "en": "Batch"},
  "schema": {"type": "object", "properties": {
    "site":    {"x-type": "text", "x-label": {"zh-CN": "厂区", "en": "Site"}},
    "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Qty"}, "x-filterable": true},
    "grade":   {"x-type": "select", "x-label": {"zh-CN": "等级", "en": "Grade"}, "x-options": {"options": [
                 {"value": "a", "label": {"zh-CN": "甲"}}, {"value": "b", "label": {"zh-CN": "乙"}}]}},
    "made_on": {"x-type": "date", "x-label": {"zh-CN": "生产日期", "en": "Made on"}},
    "note":    {"x-type": "text", "x-label": {"zh-CN": "备注", "en": "Note"}},
    "cost":    {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}}
  }},
  "permissions": {
    "maker":   {"actions": ["read", "create", "export"], "scope": "own"},
    "lead":    {"actions": ["read", "export"], "scope": "department", "hidden": ["cost"]},
    "siteops": {"actions": ["read", "export"], "scope": "expr", "condition": "site == \"A\" || (qty ?? 0) > 40", "hidden": ["cost", "note"]}
  }
}`

// wireUsers are the readers of the test; hidden names the fields each may never see.
var wireUsers = []struct {
	p      *engine.Principal
	hidden []string
}{
	{&engine.Principal{Username: "amy", Roles: []string{"maker"}, Department: "d1"}, nil},
	{&engine.Principal{Username: "ben", Roles: []string{"maker"}, Department: "d2"}, nil},
	{&engine.Principal{Username: "dan", Roles: []string{"lead"}, Department: "d1"}, []string{"cost"}},
	{&engine.Principal{Username: "sam", Roles: []string{"siteops"}, Department: "d3"}, []string{"cost", "note"}},
	{&engine.Principal{Username: "eve", Roles: []string{"lead", "siteops"}, Department: "d2"}, []string{"cost"}},
}

// wireQueries are the lists each reader asks for, page by page.
var wireQueries = []ListQuery{
	{Limit: 7},
	{Filters: []Filter{{Field: "qty", Op: "gte", Value: 10}}, Sort: &SortKey{Field: "qty", Desc: true}, Limit: 5},
	{Filters: []Filter{{Field: "site", Op: "in", Value: []any{"A", "B"}}, {Field: "grade", Op: "eq", Value: "a"}}, Sort: &SortKey{Field: "made_on"}, Limit: 4},
	{Filters: []Filter{{Field: "note", Op: "contains", Value: "批"}}, Sort: &SortKey{Field: "createdAt", Desc: true}, Limit: 6},
	{Filters: []Filter{{Field: "qty", Op: "between", Value: []any{5, 45}}, {Field: "grade", Op: "notEmpty"}}, Sort: &SortKey{Field: "site"}, Limit: 3},
	{Filters: []Filter{{Field: "cost", Op: "gt", Value: 2}}, Sort: &SortKey{Field: "cost"}, Limit: 5},
	{Sort: &SortKey{Field: "note"}, Limit: 9},
}

// TestIssue08_PermissionsOnBothQueryPaths (issue 8, "permissions still apply on both paths"):
// the forms engine's lists, counts and exports answer the same through the embedded store's SQL
// and through the MongoDB form of the same queries evaluated by FerretDB itself
// (store.Options.QueryViaWire), for readers under each row scope — own, department, an
// expression, and two roles at once — and neither path ever gives a reader a field hidden from
// them: the same ids in the same order, page by page along the cursors, the same totals, the
// same export files. The records are written once; the second path reads them after a restart
// on the same data folder, and is shown to have gone through FerretDB (its find commands).
func TestIssue08_PermissionsOnBothQueryPaths(t *testing.T) {
	ctx := context.Background()
	dir := storetest.TempDir(t)
	coll := RecordsCollection("qa", "batch")

	var finds atomic.Int64
	monitor := &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		switch e.CommandName {
		case "find", "aggregate", "count":
			if name, ok := e.Command.Lookup(e.CommandName).StringValueOK(); ok && name == coll {
				finds.Add(1)
			}
		}
	}}
	open := func(viaWire bool) (*Service, *engine.Kernel) {
		st, err := store.Open(ctx, store.Options{DataDir: dir, Logger: storetest.Quiet, QueryViaWire: viaWire, Monitor: monitor})
		if err != nil {
			t.Fatal(err)
		}
		k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet})
		s := New(k, Options{})
		if err := k.Start(ctx); err != nil {
			t.Fatal(err)
		}
		return s, k
	}

	// The SQL path: the form, records written by four makers, the answers.
	s, k := open(false)
	sys := engine.SystemPrincipal()
	if _, err := s.CreateApp(ctx, sys, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(ctx, sys, "qa", []byte(wireBatch), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, sys, "qa", "batch"); err != nil {
		t.Fatal(err)
	}
	makers := []*engine.Principal{wireUsers[0].p, wireUsers[1].p,
		{Username: "cat", Roles: []string{"maker"}, Department: "d1"}, {Username: "fay", Roles: []string{"maker"}, Department: "d2"}}
	for i := range 48 {
		data := Values{"site": []string{"A", "B", "C"}[i%3], "made_on": fmt.Sprintf("2026-11-%02d", 1+(i*7)%28), "cost": float64(i%5) + 0.5}
		if i%7 != 3 {
			data["qty"] = float64((i * 13) % 50) // repeats: the sort's tie-break is exercised
		}
		if i%4 != 1 {
			data["grade"] = []string{"a", "b"}[i%2]
		}
		if i%3 != 2 {
			data["note"] = []string{"批次正常", "Batch ok", "返工批", "无"}[i%4]
		}
		if _, err := s.Create(ctx, makers[i%len(makers)], "qa", "batch", data); err != nil {
			t.Fatal(err)
		}
	}
	before := finds.Load()
	sqlAnswers := wireAnswers(t, s)
	sqlFinds := finds.Load() - before
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The wire path, on the same data folder.
	s, k = open(true)
	t.Cleanup(func() { _ = k.Close(ctx) })
	before = finds.Load()
	wireAnswers := wireAnswers(t, s)
	t.Logf("finds on the records: SQL path %d, wire path %d", sqlFinds, finds.Load()-before)
	if n := finds.Load() - before; n < sqlFinds+int64(len(wireAnswers)) {
		t.Fatalf("the wire path sent %d finds to FerretDB for %d answers (the SQL path %d): it did not take the wire", n, len(wireAnswers), sqlFinds)
	}

	keys := make([]string, 0, len(sqlAnswers))
	for key := range sqlAnswers {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		if sqlAnswers[key] != wireAnswers[key] {
			t.Errorf("%s\n  sql:  %s\n  wire: %s", key, sqlAnswers[key], wireAnswers[key])
		}
	}
	if len(wireAnswers) != len(sqlAnswers) {
		t.Errorf("%d answers on the wire path, %d on the SQL path", len(wireAnswers), len(sqlAnswers))
	}
}

// wireAnswers asks every reader every list (all pages), the count alone and an export, and
// gives each answer as text; it fails the test when an answer carries a field hidden from its
// reader.
func wireAnswers(t *testing.T, s *Service) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	for _, u := range wireUsers {
		for qi, q := range wireQueries {
			key := fmt.Sprintf("%s list %d", u.p.Username, qi)
			var b strings.Builder
			seen := 0
			for page := 0; ; page++ {
				res, err := s.List(ctx, u.p, "qa", "batch", q)
				if err != nil {
					fmt.Fprintf(&b, "error %v", err)
					break
				}
				fmt.Fprintf(&b, "[total %d %v:", res.Total, res.TotalEstimated)
				for _, r := range res.Items {
					for _, h := range u.hidden {
						if _, ok := r.Data[h]; ok {
							t.Errorf("%s: record %s carries the hidden field %s", key, r.ID, h)
						}
					}
					fmt.Fprintf(&b, " %s %v %v %v %v %v %v", r.ID, r.Data["site"], r.Data["qty"], r.Data["grade"], r.Data["made_on"], r.Data["note"], r.Data["cost"])
					seen++
				}
				b.WriteString("]")
				if res.Next == "" || page > 60 {
					break
				}
				q.Cursor = res.Next
			}
			out[key] = b.String()
			if qi == 0 && seen == 0 {
				t.Errorf("%s reads no record: the scopes are not exercised", u.p.Username)
			}

			var csv bytes.Buffer
			eq := q
			eq.Cursor, eq.Limit = "", 0
			n, err := s.Export(ctx, u.p, "qa", "batch", eq, FormatCSV, engine.LangEN, &csv)
			if err != nil {
				out[key+" export"] = "error " + err.Error()
				continue
			}
			header, _, _ := strings.Cut(csv.String(), "\n")
			for _, h := range u.hidden {
				label := map[string]string{"cost": "Cost", "note": "Note"}[h]
				if strings.Contains(header, label) {
					t.Errorf("%s export: the hidden column %s is in %q", key, label, header)
				}
			}
			out[key+" export"] = fmt.Sprintf("%d rows\n%s", n, csv.String())
		}
	}
	return out
}
