package store

import (
	"context"
	"errors"
	"slices"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestQueryEachWalksEveryPage: a walk in pages of 7 yields the same ids in the same order as
// one page holding them all, starts at After, and stops at fn's error.
func TestQueryEachWalksEveryPage(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 200)
	q := Query{Where: Eq("status", "open"), Sort: []SortKey{{Path: "created_at", Desc: true}}}
	ids := func(docs []bson.Raw) []string {
		var out []string
		for _, d := range docs {
			out = append(out, d.Lookup("_id").StringValue())
		}
		return out
	}
	all := q
	all.Limit = 1000
	one, err := s.Query(ctx, "recs", all)
	if err != nil {
		t.Fatal(err)
	}
	want := ids(one.Docs)
	if len(want) != 50 {
		t.Fatalf("%d open records, want 50", len(want))
	}
	walk := func(q Query) ([]string, error) {
		var got []bson.Raw
		err := s.QueryEach(ctx, "recs", q, func(d bson.Raw) error { got = append(got, d); return nil })
		return ids(got), err
	}
	paged := q
	paged.Limit = 7
	got, err := walk(paged)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("walk in pages of 7:\n got %v\nwant %v", got, want)
	}
	first, err := s.Query(ctx, "recs", paged)
	if err != nil {
		t.Fatal(err)
	}
	paged.After = first.Next
	if got, err = walk(paged); err != nil || !slices.Equal(got, want[7:]) {
		t.Fatalf("walk after the first page: %v, %v; want %v", got, err, want[7:])
	}
	stop := errors.New("stop")
	n := 0
	err = s.QueryEach(ctx, "recs", Query{Limit: 3}, func(bson.Raw) error {
		if n++; n == 5 {
			return stop
		}
		return nil
	})
	if err != stop || n != 5 {
		t.Fatalf("fn's error: %v after %d documents, want stop after 5", err, n)
	}
}
