package store

import (
	"context"
	"errors"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// RevisionsFrom lists at most n stored revisions of document id, oldest first, starting at
// revision from (1 for the first). Like Revisions it reads one revision at a time by _id, so a
// page of a long history costs n lookups, not the whole history.
func (s *Store) RevisionsFrom(ctx context.Context, coll, id string, from int64, n int) ([]Revision, error) {
	from = max(from, 1)
	var out []Revision
	for rev := from; len(out) < n; rev++ {
		var r Revision
		err := s.Get(ctx, RevisionsCollection(coll), revID(id, rev), &r)
		if errors.Is(err, ErrNotFound) && rev == 1 {
			// Never updated: revision 1 is the document itself (Create writes no revision).
			var cur bson.Raw
			if err := s.Get(ctx, coll, id, &cur); err != nil {
				if errors.Is(err, ErrNotFound) {
					return nil, nil
				}
				return nil, err
			}
			return []Revision{{Rev: 1, Doc: cur}}, nil
		}
		if errors.Is(err, ErrNotFound) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, nil
}
