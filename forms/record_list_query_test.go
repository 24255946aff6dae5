package forms

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// listIndexDef is the form of the index test: a number, a choice and a date beside text; the
// number is filterable and there is a status model, so both have their list indexes.
const listIndexDef = `{
  "key": "lots",
  "name": {"zh-CN": "批次"},
  "status": {"initial": "open", "states": [{"key": "open", "label": {"zh-CN": "开"}}, {"key": "closed", "label": {"zh-CN": "关"}}],
             "transitions": [{"key": "close", "label": {"zh-CN": "关闭"}, "from": ["open"], "to": "closed"}]},
  "schema": {
    "type": "object",
    "properties": {
      "name":    {"x-type": "text", "x-label": {"zh-CN": "名称"}},
      "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量"}, "x-filterable": true},
      "grade":   {"x-type": "select", "x-label": {"zh-CN": "等级"}, "x-options": {"options": [
                   {"value": "a", "label": {"zh-CN": "甲"}}, {"value": "b", "label": {"zh-CN": "乙"}}]}},
      "made_on": {"x-type": "date", "x-label": {"zh-CN": "生产日期"}}
    }
  }
}`

// TestIssue08_ListPageUsesIndex (issue 8, items 1 and 3): a form's lists go through the
// store's query model, and publishing declares the indexes they need, so a filtered, sorted
// page of a 2,000-record form is read from an index in order — not a scan of the form's
// records sorted afterwards, as every list on the embedded store was before. The pages are
// also checked against the records themselves: order, cursor, exact total.
func TestIssue08_ListPageUsesIndex(t *testing.T) {
	ctx := context.Background()
	s, st := listTestService(t, listIndexDef)
	sys := engine.SystemPrincipal()
	// 2,000 records written straight into the collection (the engine's create is not what is
	// tested here), in the engine's layout.
	const n = 2000
	coll := RecordsCollection("qa", "lots")
	mc, err := st.Collection(ctx, coll)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var docs []any
	for i := range n {
		at := t0.Add(time.Duration(i) * time.Minute)
		status := "open"
		if i%4 == 0 {
			status = "closed"
		}
		docs = append(docs, &recordDoc{ID: fmt.Sprintf("r%05d", i), Rev: 1, App: "qa", Form: "lots", Version: 1, Status: status,
			Data:  map[string]any{"name": fmt.Sprintf("LOT-%05d", i), "qty": float64(i % 100), "grade": []string{"a", "b"}[i%2]},
			Owner: "sam", CreatedBy: "sam", CreatedAt: at, UpdatedBy: "sam", UpdatedAt: at})
	}
	if _, err := mc.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}

	c, err := s.Compiled(ctx, "qa", "lots", 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		q     ListQuery
		want  func(i int) bool // which records match
		order func(a, b int) bool
		total int64
	}{
		{"qty ≥ 90 by qty descending",
			ListQuery{Filters: []Filter{{Field: "qty", Op: "gte", Value: 90}}, Sort: &SortKey{Field: "qty", Desc: true}, Limit: 50},
			func(i int) bool { return i%100 >= 90 },
			func(a, b int) bool { return a%100 > b%100 || a%100 == b%100 && a > b }, 200},
		{"open, newest first",
			ListQuery{Filters: []Filter{{Field: "status", Op: "eq", Value: "open"}}, Sort: &SortKey{Field: "createdAt", Desc: true}, Limit: 50},
			func(i int) bool { return i%4 != 0 },
			func(a, b int) bool { return a > b }, 1500},
		{"everything, in the default order",
			ListQuery{Limit: 50},
			func(i int) bool { return true },
			func(a, b int) bool { return a > b }, 2000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// The plan of the compiled query, first page and next.
			q := tc.q
			lq, err := s.compileQuery(c, &access{full: true}, &q)
			if err != nil {
				t.Fatal(err)
			}
			first, err := s.List(ctx, sys, "qa", "lots", tc.q)
			if err != nil {
				t.Fatal(err)
			}
			if first.Total != tc.total || first.TotalEstimated || len(first.Items) != 50 || first.Next == "" {
				t.Fatalf("first page: %d items of %d (estimated %v), next %q", len(first.Items), first.Total, first.TotalEstimated, first.Next)
			}
			if st.Kind() == store.KindEmbedded {
				for _, after := range []string{"", first.Next} {
					plan, err := st.Explain(ctx, coll, lq.query(q.Limit, after))
					if err != nil {
						t.Fatal(err)
					}
					if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") {
						t.Fatalf("the page (after %q) is not read from a list index in order:\n%s", after, plan)
					}
				}
			}
			// The pages are the matching records in order.
			var want []int
			for i := range n {
				if tc.want(i) {
					want = append(want, i)
				}
			}
			for a := 0; a < len(want); a++ {
				for b := a + 1; b < len(want); b++ {
					if tc.order(want[b], want[a]) {
						want[a], want[b] = want[b], want[a]
					}
				}
			}
			second, err := s.List(ctx, sys, "qa", "lots", ListQuery{Filters: tc.q.Filters, Sort: tc.q.Sort, Limit: 50, Cursor: first.Next})
			if err != nil {
				t.Fatal(err)
			}
			got := append(append([]*Record{}, first.Items...), second.Items...)
			for j, r := range got {
				if w := fmt.Sprintf("r%05d", want[j]); r.ID != w {
					t.Fatalf("row %d is %s, want %s", j, r.ID, w)
				}
			}
		})
	}
}

// listTestService is a started form engine on a fresh store with the app qa and the given
// form published.
func listTestService(t *testing.T, def string) (*Service, *store.Store) {
	t.Helper()
	ctx := context.Background()
	st := storetest.New(t)
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = k.Scheduler.Stop(ctx)
		_ = k.Bus.Close(ctx)
	})
	sys := engine.SystemPrincipal()
	if _, err := s.CreateApp(ctx, sys, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	f, err := s.SaveDraft(ctx, sys, "qa", []byte(def), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, sys, "qa", f.Key); err != nil {
		t.Fatal(err)
	}
	return s, st
}

// TestIssue08_ExprScopeListPages (issue 8, item 1): a role whose row scope is an expression
// cannot be a store condition, so its lists read the filtered, sorted match through the
// store's query and check each row; the pages it cuts must still continue one another by the
// store's cursor, with every readable row once and in order, and the total counts only
// readable rows.
func TestIssue08_ExprScopeListPages(t *testing.T) {
	const def = `{
  "key": "lot",
  "name": {"zh-CN": "批次"},
  "schema": {"type": "object", "properties": {
    "site": {"x-type": "text", "x-label": {"zh-CN": "厂区"}},
    "qty":  {"x-type": "number", "x-label": {"zh-CN": "数量"}}
  }},
  "permissions": {"siteops": {"actions": ["read"], "scope": "expr", "condition": "site == \"A\""}}
}`
	ctx := context.Background()
	s, st := listTestService(t, def)
	mc, err := st.Collection(ctx, RecordsCollection("qa", "lot"))
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 1, 8, 0, 0, 0, time.UTC)
	var docs []any
	for i := range 30 {
		site := "B"
		if i%3 == 0 {
			site = "A"
		}
		docs = append(docs, &recordDoc{ID: fmt.Sprintf("r%02d", i), Rev: 1, App: "qa", Form: "lot", Version: 1,
			Data: map[string]any{"site": site, "qty": float64(i)}, Owner: "kim", CreatedBy: "kim", CreatedAt: at, UpdatedBy: "kim", UpdatedAt: at})
	}
	if _, err := mc.InsertMany(ctx, docs); err != nil {
		t.Fatal(err)
	}
	sam := &engine.Principal{Username: "sam", Roles: []string{"siteops"}}
	q := ListQuery{Filters: []Filter{{Field: "qty", Op: "gte", Value: 3}}, Sort: &SortKey{Field: "qty", Desc: true}, Limit: 4}
	var got []string
	var totals []int64
	for range 5 {
		res, err := s.List(ctx, sam, "qa", "lot", q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res.Items {
			got = append(got, r.ID)
		}
		totals = append(totals, res.Total)
		if res.Next == "" {
			break
		}
		q.Cursor = res.Next
	}
	want := []string{"r27", "r24", "r21", "r18", "r15", "r12", "r09", "r06", "r03"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("pages %v, want %v", got, want)
	}
	// Readable rows from each page's cursor on: 9, then 5, then 1.
	if fmt.Sprint(totals) != "[9 5 1]" {
		t.Fatalf("totals %v", totals)
	}
}
