package forms

import (
	"context"
	"strconv"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// History page sizes.
const (
	DefaultHistoryLimit = 50
	MaxHistoryLimit     = 200
)

// HistoryQuery asks for one page of a record's history: Limit revisions (DefaultHistoryLimit
// when 0, at most MaxHistoryLimit) after the one Cursor names (the first page without one).
type HistoryQuery struct {
	Limit  int    `json:"limit,omitempty"`
	Cursor string `json:"cursor,omitempty"`
}

// HistoryPage is one page of a record's history, oldest revision first: Next is the cursor of
// the next page ("" on the last).
type HistoryPage struct {
	Items []HistoryEntry `json:"items"`
	Next  string         `json:"next,omitempty"`
}

// History lists a page of a record's revisions with field-level changes, without hidden
// fields. A page reads its own revisions and the one before it (for the first entry's
// changes), one at a time by id, so a long history costs per page, not per request.
func (s *Service) History(ctx context.Context, p *engine.Principal, app, form, id string, q HistoryQuery) (*HistoryPage, error) {
	var fe engine.FieldErrors
	switch {
	case q.Limit < 0:
		fe.Add("limit", "too_small", map[string]any{"min": 1})
	case q.Limit == 0:
		q.Limit = DefaultHistoryLimit
	case q.Limit > MaxHistoryLimit:
		fe.Add("limit", "too_big", map[string]any{"max": MaxHistoryLimit})
	}
	from := int64(1)
	if q.Cursor != "" {
		after, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || after < 1 {
			fe.Add("cursor", "invalid_format", map[string]any{"detail": "not a cursor of this history"})
		}
		from = after + 1
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	// A deleted record is readable where the delete scope covers it too (allows).
	_, _, acc, err := s.readable(ctx, p, app, form, id, true)
	if err != nil {
		return nil, err
	}
	// The revision before the page, the page, and one more to tell whether another page follows.
	revs, err := s.st.RevisionsFrom(ctx, RecordsCollection(app, form), id, from-1, q.Limit+2)
	if err != nil {
		return nil, err
	}
	page := &HistoryPage{Items: []HistoryEntry{}}
	prev := Values{}
	prevStatus := ""
	for _, r := range revs {
		var d recordDoc
		if err := bson.Unmarshal(r.Doc, &d); err != nil {
			return nil, err
		}
		data := acc.visible(ctx, &d, plainMap(d.Data))
		if d.Rev >= from {
			if len(page.Items) == q.Limit {
				page.Next = strconv.FormatInt(page.Items[len(page.Items)-1].Rev, 10)
				break
			}
			h := HistoryEntry{Rev: d.Rev, At: d.UpdatedAt.UTC(), By: d.UpdatedBy, Status: d.Status, Deleted: d.Deleted != nil, Changes: diff(prev, data)}
			if d.Status != prevStatus && prevStatus != "" {
				h.Changes = append(h.Changes, Change{Field: "status", Before: prevStatus, After: d.Status})
			}
			page.Items = append(page.Items, h)
		}
		prev, prevStatus = data, d.Status
	}
	return page, nil
}
