package forms

import (
	"context"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// indexedTypes are the field types whose values lists filter and sort by often enough to
// deserve an index on MongoDB.
var indexedTypes = map[string]bool{
	"autonumber": true, "date": true, "datetime": true, "number": true, "money": true,
	"select": true, "radio": true, "relation": true, "user": true, "department": true, "scan": true,
}

// maxFieldIndexes caps the field indexes of one form (MongoDB allows 64 per collection, and
// each one costs writes).
const maxFieldIndexes = 24

// ensureIndexes creates the MongoDB indexes a form's lists use: system fields, then the
// fields of indexed types in form order, and the month part of date fields. On the embedded
// store the store does nothing (its queries never use secondary indexes).
func (s *Service) ensureIndexes(ctx context.Context, c *Compiled) error {
	coll := RecordsCollection(c.App, c.Key)
	keys := []bson.D{
		{{Key: "deleted", Value: 1}, {Key: "_id", Value: -1}},
		{{Key: "owner", Value: 1}},
		{{Key: "dept", Value: 1}},
		{{Key: "status", Value: 1}},
		{{Key: "created_at", Value: -1}},
		{{Key: "updated_at", Value: -1}},
	}
	n := 0
	for _, f := range c.Fields {
		if !indexedTypes[f.Type] || n >= maxFieldIndexes {
			continue
		}
		keys = append(keys, bson.D{{Key: "data." + f.Key, Value: 1}})
		n++
		if (f.Type == "date" || f.Type == "datetime") && n < maxFieldIndexes {
			keys = append(keys, bson.D{{Key: "parts." + f.Key + ".month", Value: 1}})
			n++
		}
	}
	for _, k := range keys {
		if err := s.st.EnsureIndex(ctx, coll, k, false); err != nil {
			return err
		}
	}
	return nil
}
