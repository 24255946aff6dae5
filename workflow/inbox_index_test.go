package workflow

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// putInboxDocs writes n inbox documents of users u0..u3 across the boxes, directly: the
// projections of instances that are not there (so they show in every box but todo, which
// checks its items against their instances).
func putInboxDocs(t *testing.T, e *testEnv, n int) []inboxDoc {
	t.Helper()
	boxes := []string{BoxTodo, BoxDone, BoxInitiated, BoxCC, ""}
	var docs []inboxDoc
	for i := range n {
		id := fmt.Sprintf("gone%05d.%d", i, i%3)
		// Times repeat (every 37 documents), so the sort key's id part orders them.
		at := monday.Add(-time.Duration(i%37) * time.Minute)
		d := inboxDoc{ID: id, User: fmt.Sprintf("u%d", i%4), Box: boxes[i*7%len(boxes)], Sort: sortKey(at, id),
			InstRev: 1, Instance: fmt.Sprintf("gone%05d", i), App: testApp, Flow: "f", Started: at, State: StateRunning}
		d.Task.ID, d.Task.Created = id, at
		if err := e.st.Set(e.ctx, inboxCollection, d.ID, d); err != nil {
			t.Fatal(err)
		}
		docs = append(docs, d)
	}
	return docs
}

// TestInboxAndTimersReadTheirIndexes: the todo page of an inbox (and its next page), the
// counts of the boxes and a page of due timers (and the next one) are read from the indexes
// the workflow declares, in order, without sorting; without those indexes the same pages sort
// every match (so the test can fail).
func TestInboxAndTimersReadTheirIndexes(t *testing.T) {
	e := newTestEnv(t, "", nil)
	putInboxDocs(t, e, 600)
	var ts []timerDoc
	for i := range 600 {
		inst := &Instance{ID: fmt.Sprintf("gone%05d", i), App: testApp, Flow: "f"}
		ts = append(ts, newTimer(inst, "a1", 1, timerRemind, monday.Add(time.Duration(i%50-25)*time.Minute)))
	}
	if err := e.wf.putTimers(e.ctx, ts); err != nil {
		t.Fatal(err)
	}
	todo := inboxQuery("u1", BoxTodo, "", 20)
	first, err := e.st.Query(e.ctx, inboxCollection, todo)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.Docs) != 20 {
		t.Fatalf("the todo box of u1 holds %d items on its first page, want 20", len(first.Docs))
	}
	last := first.Docs[len(first.Docs)-1].Lookup("sort").StringValue()
	timers := dueTimersQuery(monday, 50, "")
	due, err := e.st.Query(e.ctx, timersCollection, timers)
	if err != nil {
		t.Fatal(err)
	}
	if len(due.Docs) != 50 || due.Next == "" {
		t.Fatalf("%d due timers on the first page (next %q), want 50 and more", len(due.Docs), due.Next)
	}
	pages := []struct {
		name string
		coll string
		q    store.Query
	}{
		{"todo page", inboxCollection, todo},
		{"next todo page", inboxCollection, inboxQuery("u1", BoxTodo, last, 20)},
		{"due timers", timersCollection, timers},
		{"next due timers", timersCollection, dueTimersQuery(monday, 50, due.Next)},
	}
	plans := func() []string {
		var out []string
		for _, p := range pages {
			plan, err := e.st.Explain(e.ctx, p.coll, p.q)
			if err != nil {
				t.Fatal(err)
			}
			out = append(out, plan)
		}
		plan, err := e.st.ExplainAggregate(e.ctx, inboxCollection, countsAggregation("u1"))
		if err != nil {
			t.Fatal(err)
		}
		return append(out, plan)
	}
	for i, plan := range plans() {
		name := "box counts"
		if i < len(pages) {
			name = pages[i].name
		}
		if !strings.Contains(plan, "USING INDEX") && !strings.Contains(plan, "USING COVERING INDEX") || !strings.Contains(plan, "_tcq_") {
			t.Errorf("%s is not read from its index:\n%s", name, plan)
		}
		if i < len(pages) && strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("%s is sorted, not read in the index's order:\n%s", name, plan)
		}
	}
	for _, coll := range []string{inboxCollection, timersCollection} {
		if err := e.st.EnsureIndexes(e.ctx, coll, nil); err != nil {
			t.Fatal(err)
		}
	}
	if plan := plans()[0]; !strings.Contains(plan, "TEMP B-TREE") {
		t.Fatalf("without its index the todo page should be sorted:\n%s", plan)
	}
}

// TestInboxPagesAndCountsOnTheQueryModel: every box of every user, paged three at a time by
// the last item's id, gives that user's items of the box newest first (by sort key), each
// once, and the counts are the sizes of the boxes.
func TestInboxPagesAndCountsOnTheQueryModel(t *testing.T) {
	e := newTestEnv(t, "", nil)
	docs := putInboxDocs(t, e, 240)
	for u := range 4 {
		p := &engine.Principal{Username: fmt.Sprintf("u%d", u)}
		want := map[string][]string{}
		for _, d := range docs {
			if d.User == p.Username {
				want[d.Box] = append(want[d.Box], d.Sort)
			}
		}
		for _, box := range []string{BoxDone, BoxInitiated, BoxCC} {
			w := want[box]
			slices.Sort(w)
			slices.Reverse(w)
			var got []string
			before := ""
			for {
				items, err := e.wf.Inbox(e.ctx, p, box, 3, before)
				if err != nil {
					t.Fatal(err)
				}
				for _, it := range items {
					got = append(got, sortKey(it.Task.Created, it.Task.ID))
				}
				if len(items) < 3 {
					break
				}
				before = items[len(items)-1].Task.ID
			}
			if !slices.Equal(got, w) {
				t.Fatalf("%s's %s box:\n got %v\nwant %v", p.Username, box, got, w)
			}
		}
		n, err := e.wf.Counts(e.ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		if wantN := (InboxCounts{Todo: len(want[BoxTodo]), Done: len(want[BoxDone]), Initiated: len(want[BoxInitiated]), CC: len(want[BoxCC])}); n != wantN {
			t.Fatalf("%s's counts %+v, want %+v", p.Username, n, wantN)
		}
	}
	// Another user's item is no place to page from.
	if _, err := e.wf.Inbox(e.ctx, &engine.Principal{Username: "u0"}, BoxDone, 3, docs[1].ID); err == nil {
		t.Fatal("paging from another user's item should be refused")
	}
}

// TestFireTimersOnlyDueInOrder: a page of due timers is fired oldest first, (due, _id) breaks
// ties, pages continue where the last ended, and timers not yet due stay.
func TestFireTimersOnlyDueInOrder(t *testing.T) {
	e := newTestEnv(t, "", nil)
	e.wf.opts.TimerPage = 4
	var ts []timerDoc
	var wantDue []string
	for i := range 30 {
		inst := &Instance{ID: fmt.Sprintf("gone%02d", 29-i), App: testApp, Flow: "f"}
		// Three timers share each due time; a third of them are not due yet.
		tm := newTimer(inst, "a1", 1, timerRemind, monday.Add(time.Duration(i/3-6)*time.Minute))
		ts = append(ts, tm)
		if !tm.Due.After(monday) {
			wantDue = append(wantDue, tm.ID)
		}
	}
	if err := e.wf.putTimers(e.ctx, ts); err != nil {
		t.Fatal(err)
	}
	var order []string
	err := e.st.QueryEach(e.ctx, timersCollection, dueTimersQuery(monday, 4, ""), func(raw bson.Raw) error {
		order = append(order, raw.Lookup("_id").StringValue())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.SortStableFunc(ts, func(a, b timerDoc) int {
		if c := a.Due.Compare(b.Due); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var wantOrder []string
	for _, tm := range ts {
		if !tm.Due.After(monday) {
			wantOrder = append(wantOrder, tm.ID)
		}
	}
	if !slices.Equal(order, wantOrder) {
		t.Fatalf("due timers in the order\n %v\nwant\n %v", order, wantOrder)
	}
	n, err := e.wf.FireTimers(e.ctx)
	if err != nil || n != len(wantDue) {
		t.Fatalf("fired %d (%v), want %d", n, err, len(wantDue))
	}
	if got := e.wf.largestTimerPage.Load(); got > 4 {
		t.Fatalf("one read loaded %d timers, want at most a page of 4", got)
	}
	left, err := e.st.QueryCount(e.ctx, timersCollection, store.Cond{}, 0)
	if err != nil || left.N != int64(len(ts)-len(wantDue)) {
		t.Fatalf("%d timers left (%v), want the %d not yet due", left.N, err, len(ts)-len(wantDue))
	}
}
