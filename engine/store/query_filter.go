package store

import "go.mongodb.org/mongo-driver/v2/bson"

// MongoFilter is the MongoDB filter of a condition exactly as Query and QueryCount compile it
// for MongoDB (which FerretDB also evaluates the same way, as the equivalence tests check), for
// the few readers that still stream a whole match through Find (forms exports). A condition
// the store refuses is an ErrInvalidQuery.
func MongoFilter(where Cond) (bson.D, error) {
	w, err := planWhere(where, "where")
	if err != nil {
		return nil, err
	}
	return mongoFilter(w), nil
}
