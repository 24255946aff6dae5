package store

import (
	"context"
	"fmt"
	"regexp"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
)

// The MongoDB compiler: the query model as a filter, sort and projection (and, in
// query_aggregate.go, a pipeline) for the driver. It is what runs on MongoDB; on the embedded
// store the equivalence test runs it on FerretDB to check the SQL compiler against it. Every
// shape it makes for Query and QueryCount is one FerretDB evaluates ($type with the "number"
// alias, $nor, $regex with options, $not over $type).

// typeAliases are the $type names of each rank but null's.
var typeAliases = map[int]string{
	rankNumber: "number", rankString: "string", rankObject: "object", rankArray: "array", rankBinData: "binData",
	rankObjectID: "objectId", rankBool: "bool", rankDate: "date", rankTimestamp: "timestamp",
	rankRegex: "regex",
}

// mongoFilter is the filter of a condition tree.
func mongoFilter(n *cnode) bson.D {
	switch {
	case n == nil:
		return bson.D{}
	case n.and != nil:
		return bson.D{{Key: "$and", Value: mongoList(n.and)}}
	case n.or != nil:
		return bson.D{{Key: "$or", Value: mongoList(n.or)}}
	}
	return mongoLeaf(n.leaf)
}

func mongoList(ns []*cnode) bson.A {
	out := make(bson.A, len(ns))
	for i, n := range ns {
		out[i] = mongoFilter(n)
	}
	return out
}

func mongoLeaf(l *leaf) bson.D {
	p := l.path.dotted
	op := func(name string, v any) bson.D { return bson.D{{Key: p, Value: bson.D{{Key: name, Value: v}}}} }
	vals := func() bson.A {
		out := make(bson.A, len(l.vals))
		for i, v := range l.vals {
			out[i] = v.mongoValue()
		}
		return out
	}
	switch l.op {
	case OpEq:
		return op("$eq", l.vals[0].mongoValue())
	case OpNe:
		return op("$ne", l.vals[0].mongoValue())
	case OpGt:
		return op("$gt", l.vals[0].mongoValue())
	case OpGte:
		return op("$gte", l.vals[0].mongoValue())
	case OpLt:
		return op("$lt", l.vals[0].mongoValue())
	case OpLte:
		return op("$lte", l.vals[0].mongoValue())
	case OpIn:
		return op("$in", vals())
	case OpNin:
		return op("$nin", vals())
	case OpBetween:
		return bson.D{{Key: p, Value: bson.D{{Key: "$gte", Value: l.vals[0].mongoValue()}, {Key: "$lte", Value: l.vals[1].mongoValue()}}}}
	case OpContains:
		return bson.D{{Key: p, Value: bson.D{{Key: "$regex", Value: regexp.QuoteMeta(l.text)}, {Key: "$options", Value: "i"}}}}
	case OpStartsWith:
		return op("$regex", "^"+regexp.QuoteMeta(l.text))
	case OpEmpty:
		return mongoEmpty(l)
	case OpNotEmpty:
		return bson.D{{Key: "$nor", Value: bson.A{mongoEmpty(l)}}}
	}
	panic("store: unplanned operator " + string(l.op))
}

// mongoEmpty: missing, null or "" — and for an array field missing, null or [] (a bare null
// test would also match an array holding a null element).
func mongoEmpty(l *leaf) bson.D {
	p := l.path.dotted
	if l.each {
		return bson.D{{Key: "$or", Value: bson.A{
			bson.D{{Key: p, Value: bson.D{{Key: "$exists", Value: false}}}},
			bson.D{{Key: p, Value: bson.D{{Key: "$size", Value: 0}}}},
			bson.D{{Key: p, Value: bson.D{{Key: "$type", Value: "null"}, {Key: "$not", Value: bson.D{{Key: "$type", Value: "array"}}}}}},
		}}}
	}
	return bson.D{{Key: "$or", Value: bson.A{
		bson.D{{Key: p, Value: bson.D{{Key: "$eq", Value: nil}}}},
		bson.D{{Key: p, Value: bson.D{{Key: "$eq", Value: ""}}}},
	}}}
}

// mongoSort is the sort document: the keys, then _id.
func mongoSort(p *qplan) bson.D {
	dir := func(desc bool) int {
		if desc {
			return -1
		}
		return 1
	}
	var out bson.D
	for _, k := range p.sort {
		out = append(out, bson.E{Key: k.path.dotted, Value: dir(k.desc)})
	}
	return append(out, bson.E{Key: "_id", Value: dir(p.idDesc)})
}

// mongoAfter is the condition "comes after the cursor in the plan's order": after on the
// first key, or equal on it and after on the next, and so on down to _id.
func mongoAfter(p *qplan, c *cursor) bson.D {
	var ors bson.A
	var eqs bson.A
	for i, k := range p.sort {
		x := c.keys[i]
		if after := mongoAfterKey(k.path.dotted, k.desc, x); after != nil {
			ors = append(ors, bson.D{{Key: "$and", Value: append(append(bson.A{}, eqs...), after)}})
		}
		eqs = append(eqs, bson.D{{Key: k.path.dotted, Value: bson.D{{Key: "$eq", Value: x.mongoValue()}}}})
	}
	op := "$gt"
	if p.idDesc {
		op = "$lt"
	}
	idCond := bson.D{{Key: "_id", Value: bson.D{{Key: op, Value: c.id.mongoValue()}}}}
	ors = append(ors, bson.D{{Key: "$and", Value: append(append(bson.A{}, eqs...), idCond)}})
	return bson.D{{Key: "$or", Value: ors}}
}

// mongoAfterKey is "strictly after x" on one key: a greater (lesser) value of x's type, or a
// value of a type that sorts after (before) x's. Nil when nothing can.
func mongoAfterKey(path string, desc bool, x scalar) bson.D {
	var terms bson.A
	if x.rank != rankNull {
		op := "$gt"
		if desc {
			op = "$lt"
		}
		terms = append(terms, bson.D{{Key: path, Value: bson.D{{Key: op, Value: x.mongoValue()}}}})
	}
	var types bson.A
	for r := rankNumber; r <= rankRegex; r++ {
		if !desc && r > x.rank || desc && r < x.rank {
			types = append(types, typeAliases[r])
		}
	}
	if len(types) > 0 {
		terms = append(terms, bson.D{{Key: path, Value: bson.D{{Key: "$type", Value: types}}}})
	}
	if desc && x.rank > rankNull {
		terms = append(terms, bson.D{{Key: path, Value: bson.D{{Key: "$eq", Value: nil}}}})
	}
	switch len(terms) {
	case 0:
		return nil
	case 1:
		return terms[0].(bson.D)
	}
	return bson.D{{Key: "$or", Value: terms}}
}

func (s *Store) queryMongo(ctx context.Context, coll string, p *qplan) (*Page, error) {
	filter := mongoFilter(p.where)
	if p.after != nil {
		filter = bson.D{{Key: "$and", Value: bson.A{filter, mongoAfter(p, p.after)}}}
	}
	opts := options.Find().SetSort(mongoSort(p)).SetLimit(int64(p.limit) + 1)
	strip := false
	if p.fields != nil {
		proj := p.fields.mongo()
		for _, k := range p.sort {
			if !p.fields.covers(k.path) {
				// The cursor needs the sort values: fetch them and take them off afterwards.
				proj = append(proj, bson.E{Key: k.path.dotted, Value: 1})
				strip = true
			}
		}
		opts.SetProjection(proj)
	}
	cur, err := s.reader(coll).Find(ctx, filter, opts)
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	page := &Page{Docs: []bson.Raw{}}
	var last bson.Raw
	for cur.Next(ctx) {
		if len(page.Docs) == p.limit {
			next, err := pageCursor(p, last, nil)
			if err != nil {
				return nil, err
			}
			page.Next = next
			break
		}
		doc := bson.Raw(append([]byte(nil), cur.Current...))
		if err := checkSortValues(p, func(i int) scalar { return lookupScalar(doc, p.sort[i].path) }); err != nil {
			return nil, err
		}
		last = doc
		if strip {
			if doc, err = projectRaw(doc, p.fields); err != nil {
				return nil, err
			}
		}
		page.Docs = append(page.Docs, doc)
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return page, nil
}

// checkSortValues refuses a page whose sort keys meet documents or arrays: MongoDB orders them
// by their contents, the SQL by their JSON text, so no order of them would be the same on both.
func checkSortValues(p *qplan, get func(i int) scalar) error {
	for i, k := range p.sort {
		switch r := get(i).rank; r {
		case rankNull, rankNumber, rankString, rankObjectID, rankBool, rankDate:
		default:
			return fmt.Errorf("%w: sort key %q meets a %s value; sort by scalar fields", ErrInvalidQuery, k.path.dotted, rankName(r))
		}
	}
	return nil
}

// pageCursor is the Next of a page ending with doc (a BSON document); keys, when not nil, are
// its sort values as SQL read them.
func pageCursor(p *qplan, doc bson.Raw, keys []scalar) (string, error) {
	c := cursor{keys: keys}
	if keys == nil {
		for _, k := range p.sort {
			c.keys = append(c.keys, lookupScalar(doc, k.path))
		}
	}
	c.id = scalarOf(doc.Lookup("_id"))
	if c.id.rank != rankString && c.id.rank != rankObjectID {
		return "", fmt.Errorf("%w: a document's _id is a %s; queries page by string ids", ErrInvalidQuery, rankName(c.id.rank))
	}
	return encodeCursor(p, c)
}

func (s *Store) countMongo(ctx context.Context, coll string, w *cnode, limit int64) (int64, error) {
	opts := options.Count()
	if limit > 0 {
		opts.SetLimit(limit)
	}
	return s.reader(coll).CountDocuments(ctx, mongoFilter(w), opts)
}

// ---- aggregation ----

// simpleGroup reports an aggregation that FerretDB's $group computes right: at most one key,
// a plain path, and at most one measure, a count or a sum (only a $group's first accumulator
// is right there, and it has no expression operators). Its pipeline groups by the path itself
// ({_id: "$path"}), where null and missing fall together as the model wants.
func simpleGroup(p *aplan) bool {
	if len(p.keys) > 1 || len(p.measures) > 1 {
		return false
	}
	for _, k := range p.keys {
		if k.bucket != "" {
			return false
		}
	}
	for _, m := range p.measures {
		if m.op != AggCount && !(m.op == AggSum && m.rank == rankNumber) {
			return false
		}
	}
	return true
}

// isType is the expression "the value at path is of rank r".
func isType(path string, r int) bson.D {
	if r == rankNumber {
		return bson.D{{Key: "$isNumber", Value: path}}
	}
	return bson.D{{Key: "$eq", Value: bson.A{bson.D{{Key: "$type", Value: path}}, typeAliases[r]}}}
}

// mongoKey is the expression of a group key.
func mongoKey(k akey) any {
	path := "$" + k.path.dotted
	if k.bucket == "" {
		return bson.D{{Key: "$ifNull", Value: bson.A{path, nil}}}
	}
	tz, _ := zoneName(k.zone)
	format := func(f string) bson.D {
		return bson.D{{Key: "$dateToString", Value: bson.D{{Key: "date", Value: path}, {Key: "format", Value: f}, {Key: "timezone", Value: tz}}}}
	}
	var v any
	if k.bucket == BucketQuarter {
		month := bson.D{{Key: "$month", Value: bson.D{{Key: "date", Value: path}, {Key: "timezone", Value: tz}}}}
		q := bson.D{{Key: "$add", Value: bson.A{bson.D{{Key: "$floor", Value: bson.D{{Key: "$divide", Value: bson.A{bson.D{{Key: "$subtract", Value: bson.A{month, 1}}}, 3}}}}}, 1}}}
		v = bson.D{{Key: "$concat", Value: bson.A{format("%Y"), "-Q", bson.D{{Key: "$toString", Value: bson.D{{Key: "$toInt", Value: q}}}}}}}
	} else {
		v = format(bucketFormats[k.bucket])
	}
	return bson.D{{Key: "$cond", Value: bson.A{isType(path, rankDate), v, nil}}}
}

// mongoAccumulator is the $group accumulator of a measure.
func mongoAccumulator(m ameasure) bson.D {
	path := "$" + m.path.dotted
	typed := bson.D{{Key: "$cond", Value: bson.A{isType(path, m.rank), path, nil}}}
	switch m.op {
	case AggCount:
		return bson.D{{Key: "$sum", Value: 1}}
	case AggSum:
		return bson.D{{Key: "$sum", Value: path}} // $sum leaves out what is not a number
	case AggAvg:
		return bson.D{{Key: "$avg", Value: path}}
	case AggMin:
		return bson.D{{Key: "$min", Value: typed}} // $min leaves out null
	case AggMax:
		return bson.D{{Key: "$max", Value: typed}}
	case AggCountDistinct:
		return bson.D{{Key: "$addToSet", Value: typed}}
	}
	panic("store: unplanned measure " + string(m.op))
}

// mongoGroupField is where a key or measure name is in a $group's output.
func mongoGroupField(p *aplan, name string, simple bool) string {
	if _, isKey, _ := p.column(name); isKey {
		if simple {
			return "_id"
		}
		return "_id." + name
	}
	return name
}

// mongoPipeline is the pipeline of an aggregation; simple forces the form FerretDB computes
// right (tests use it to check FerretDB's own answer; it needs simpleGroup(p)).
func mongoPipeline(p *aplan, simple bool) bson.A {
	var pipe bson.A
	if p.where != nil {
		pipe = append(pipe, bson.D{{Key: "$match", Value: mongoFilter(p.where)}})
	}
	group := bson.D{{Key: "_id", Value: nil}}
	switch {
	case simple && len(p.keys) == 1:
		group[0].Value = "$" + p.keys[0].path.dotted
	case len(p.keys) > 0:
		var id bson.D
		for _, k := range p.keys {
			id = append(id, bson.E{Key: k.name, Value: mongoKey(k)})
		}
		group[0].Value = id
	}
	var sizes bson.D
	for _, m := range p.measures {
		group = append(group, bson.E{Key: m.name, Value: mongoAccumulator(m)})
		if m.op == AggCountDistinct {
			set := bson.D{{Key: "$setDifference", Value: bson.A{"$" + m.name, bson.A{nil}}}}
			sizes = append(sizes, bson.E{Key: m.name, Value: bson.D{{Key: "$size", Value: set}}})
		}
	}
	pipe = append(pipe, bson.D{{Key: "$group", Value: group}})
	if sizes != nil {
		pipe = append(pipe, bson.D{{Key: "$set", Value: sizes}})
	}
	if p.having != nil {
		pipe = append(pipe, bson.D{{Key: "$match", Value: mongoHaving(p, p.having, simple)}})
	}
	var order bson.D
	seen := map[string]bool{}
	add := func(name string, desc bool) {
		f := mongoGroupField(p, name, simple)
		if seen[f] {
			return
		}
		seen[f] = true
		dir := 1
		if desc {
			dir = -1
		}
		order = append(order, bson.E{Key: f, Value: dir})
	}
	for _, s := range p.sort {
		add(s.path.dotted, s.desc)
	}
	for _, k := range p.keys {
		add(k.name, false)
	}
	if order != nil {
		pipe = append(pipe, bson.D{{Key: "$sort", Value: order}})
	}
	return append(pipe, bson.D{{Key: "$limit", Value: p.limit + 1}})
}

// mongoHaving is a Having over the $group output's fields.
func mongoHaving(p *aplan, n *cnode, simple bool) bson.D {
	switch {
	case n.and != nil || n.or != nil:
		kids, op := n.and, "$and"
		if n.or != nil {
			kids, op = n.or, "$or"
		}
		var out bson.A
		for _, k := range kids {
			out = append(out, mongoHaving(p, k, simple))
		}
		return bson.D{{Key: op, Value: out}}
	}
	l := *n.leaf
	f := mongoGroupField(p, l.path.dotted, simple)
	l.path = fieldPath{dotted: f}
	return mongoLeaf(&l)
}

func (s *Store) aggregateMongo(ctx context.Context, coll string, p *aplan, simple bool) (*AggResult, error) {
	if simple && !simpleGroup(p) {
		return nil, fmt.Errorf("%w: FerretDB cannot compute this aggregation", ErrInvalidQuery)
	}
	cur, err := s.reader(coll).Aggregate(ctx, mongoPipeline(p, simple))
	if err != nil {
		return nil, err
	}
	defer cur.Close(ctx)
	res := &AggResult{Groups: []Group{}}
	for cur.Next(ctx) {
		if len(res.Groups) == p.limit {
			res.Truncated = true
			break
		}
		doc := cur.Current
		g := Group{Keys: make([]any, len(p.keys)), Values: make([]any, len(p.measures))}
		for i, k := range p.keys {
			var x scalar
			if simple {
				x = scalarOf(doc.Lookup("_id"))
			} else {
				x = lookupScalar(doc, fieldPath{segs: []string{"_id", k.name}})
			}
			if err := checkGroupKey(k, x); err != nil {
				return nil, err
			}
			g.Keys[i] = groupValue(x)
		}
		for i, m := range p.measures {
			g.Values[i] = mongoMeasure(m, doc.Lookup(m.name))
		}
		res.Groups = append(res.Groups, g)
	}
	if err := cur.Err(); err != nil {
		return nil, err
	}
	return res, nil
}

// mongoMeasure reads a measure the way sqlMeasure reads its column.
func mongoMeasure(m ameasure, rv bson.RawValue) any {
	x := scalarOf(rv)
	switch m.op {
	case AggCount, AggCountDistinct:
		n, _ := x.v.(int64)
		if f, ok := x.v.(float64); ok {
			n = int64(f)
		}
		return n
	case AggSum, AggAvg:
		switch v := x.v.(type) {
		case int64:
			return float64(v)
		case float64:
			return v
		}
		if m.op == AggSum {
			return float64(0)
		}
		return nil
	}
	if x.rank != m.rank {
		return nil
	}
	return groupValue(x)
}
