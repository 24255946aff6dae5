package store

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// QueryEach calls fn with every document of coll that matches q.Where, in q.Sort's order,
// reading q.Limit documents a page (DefaultQueryLimit when 0) and continuing each page from the
// last one's cursor, so a walk of any length holds one page in memory and every page is read
// as the first is (from an index when one matches). q.After, when set, is where the walk
// starts. An error from fn stops the walk and is returned as it is. Documents written during
// the walk ahead of its position are seen, those behind it are not.
func (s *Store) QueryEach(ctx context.Context, coll string, q Query, fn func(bson.Raw) error) error {
	for {
		page, err := s.Query(ctx, coll, q)
		if err != nil {
			return err
		}
		for _, d := range page.Docs {
			if err := fn(d); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		q.After = page.Next
	}
}
