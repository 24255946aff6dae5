package forms

import (
	"fmt"
	"reflect"
	"testing"

	"tracecraft/engine"
)

// TestHardening13_HistoryPaged (item 13): a record's history came back whole, however long.
// It is paged now — Limit revisions after the cursor, a Next cursor while more follow — and a
// page's first entry still shows its changes from the revision before the page.
func TestHardening13_HistoryPaged(t *testing.T) {
	e := newIOEnv(t)
	r := e.create(t, Values{"material": "v1", "cost": 1.0})
	for i := 2; i <= 7; i++ {
		var err error
		if r, err = e.s.Update(e.ctx, e.admin, "qa", "receipt", r.ID, r.Rev, Values{"material": fmt.Sprintf("v%d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	whole, err := e.s.History(e.ctx, e.admin, "qa", "receipt", r.ID, HistoryQuery{Limit: MaxHistoryLimit})
	if err != nil || len(whole.Items) != 7 || whole.Next != "" {
		t.Fatalf("whole history %+v, %v", whole, err)
	}
	var paged []HistoryEntry
	var cursors []string
	q := HistoryQuery{Limit: 3}
	for {
		page, err := e.s.History(e.ctx, e.admin, "qa", "receipt", r.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		paged = append(paged, page.Items...)
		cursors = append(cursors, page.Next)
		if page.Next == "" {
			break
		}
		q.Cursor = page.Next
	}
	if !reflect.DeepEqual(cursors, []string{"3", "6", ""}) {
		t.Fatalf("cursors %q", cursors)
	}
	if !reflect.DeepEqual(paged, whole.Items) {
		t.Fatalf("pages\n got %+v\nwant %+v", paged, whole.Items)
	}
	// Revision 4 opens the second page; it changed the material only.
	if c := paged[3].Changes; len(c) != 1 || c[0].Field != "material" || c[0].Before != "v3" || c[0].After != "v4" {
		t.Fatalf("rev 4 changes %+v", c)
	}
	// Hidden fields stay out of every page.
	page, err := e.s.History(e.ctx, e.auditor, "qa", "receipt", r.ID, HistoryQuery{Limit: 1})
	if err != nil || len(page.Items) != 1 || page.Next != "1" {
		t.Fatalf("auditor's page %+v, %v", page, err)
	}
	for _, c := range page.Items[0].Changes {
		if c.Field == "cost" {
			t.Fatal("the hidden cost shows in the history")
		}
	}
	// A record never updated has one revision: the record itself.
	fresh := e.create(t, Values{"material": "new"})
	if page, err := e.s.History(e.ctx, e.admin, "qa", "receipt", fresh.ID, HistoryQuery{}); err != nil || len(page.Items) != 1 || page.Next != "" {
		t.Fatalf("fresh record's history %+v, %v", page, err)
	}
	// Bad pages are refused by field.
	for _, bad := range []struct {
		q     HistoryQuery
		field string
		code  string
	}{
		{HistoryQuery{Limit: -1}, "limit", "too_small"},
		{HistoryQuery{Limit: MaxHistoryLimit + 1}, "limit", "too_big"},
		{HistoryQuery{Cursor: "abc"}, "cursor", "invalid_format"},
		{HistoryQuery{Cursor: "0"}, "cursor", "invalid_format"},
	} {
		_, err := e.s.History(e.ctx, e.admin, "qa", "receipt", r.ID, bad.q)
		if fe, ok := engine.AsFieldErrors(err); !ok || fe[0].Path != bad.field || fe[0].Code != bad.code {
			t.Errorf("%+v: %v", bad.q, err)
		}
	}
	// Past the end: an empty last page.
	if page, err := e.s.History(e.ctx, e.admin, "qa", "receipt", r.ID, HistoryQuery{Cursor: "7"}); err != nil || len(page.Items) != 0 || page.Next != "" {
		t.Fatalf("past the end %+v, %v", page, err)
	}
}
