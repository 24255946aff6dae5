package store

import (
	"context"
	"fmt"
	"regexp"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// Aggregation: documents filtered (Where), grouped by keys (paths, or dates cut into calendar
// periods in a time zone), measured (count, distinct count, sum, avg, min, max), filtered again
// (Having) and sorted. On MongoDB it is a pipeline; on the embedded store a SQL GROUP BY —
// never FerretDB's $group, which is silently wrong past the first accumulator (DESIGN.md).

// Bucket cuts dates into calendar periods; a group key with a bucket is a string.
type Bucket string

// The buckets and their keys.
const (
	BucketDay     Bucket = "day"     // 2026-11-25
	BucketWeek    Bucket = "week"    // 2026-W48 (ISO 8601 week, Monday first)
	BucketMonth   Bucket = "month"   // 2026-11
	BucketQuarter Bucket = "quarter" // 2026-Q4
	BucketYear    Bucket = "year"    // 2026
)

// GroupKey is one key of a grouping: the value at Path, or with a Bucket the period of the date
// at Path in Zone (null when the value is not a date).
type GroupKey struct {
	Name   string
	Path   string
	Bucket Bucket
	// Zone is where the periods' boundaries are (the plant's time zone); UTC when nil.
	Zone *time.Location
}

// AggOp is a measure's operator.
type AggOp string

// The measures.
const (
	AggCount         AggOp = "count"         // documents in the group (no path)
	AggCountDistinct AggOp = "countDistinct" // distinct values of type Of at Path
	AggSum           AggOp = "sum"           // sum of the numbers at Path (0 when none)
	AggAvg           AggOp = "avg"           // mean of the numbers at Path (nil when none)
	AggMin           AggOp = "min"           // least value of type Of at Path (nil when none)
	AggMax           AggOp = "max"           // greatest value of type Of at Path (nil when none)
)

// ValueType is the type of value a measure reads; values of other types are left out, the way
// MongoDB's $sum leaves out what is not a number.
type ValueType string

// The value types.
const (
	TypeNumber   ValueType = "number"
	TypeString   ValueType = "string"
	TypeDate     ValueType = "date"
	TypeBool     ValueType = "bool"
	TypeObjectID ValueType = "objectId"
)

var typeRanks = map[ValueType]int{TypeNumber: rankNumber, TypeString: rankString, TypeDate: rankDate, TypeBool: rankBool, TypeObjectID: rankObjectID}

// Measure is one value computed per group.
type Measure struct {
	Name string
	Op   AggOp
	Path string
	// Of is the type measured: number when empty (countDistinct: string). sum and avg read
	// numbers; min and max numbers, strings or dates; countDistinct any of the types.
	Of ValueType
}

// Aggregation groups the documents of a collection.
type Aggregation struct {
	Where    Cond
	GroupBy  []GroupKey
	Measures []Measure
	// Having keeps the groups that match; its paths are key and measure names.
	Having Cond
	// Sort orders the groups by key and measure names; then by the keys, ascending.
	Sort []SortKey
	// Limit is the most groups returned: DefaultGroupLimit when 0, at most MaxGroupLimit.
	Limit int
}

// Group is one group: its keys in GroupBy's order and its values in Measures' order. Keys are
// nil, string, int64, float64, bool, time.Time (UTC) or bson.ObjectID; an integral number is an
// int64. count and countDistinct are int64, sum a float64, avg a float64 or nil, min and max
// of Of's type (numbers as keys are) or nil.
type Group struct {
	Keys   []any
	Values []any
}

// AggResult is the groups of an Aggregation; Truncated when more groups matched than Limit.
type AggResult struct {
	Groups    []Group
	Truncated bool
}

// Aggregation limits.
const (
	DefaultGroupLimit = 1_000
	MaxGroupLimit     = 10_000
	maxGroupKeys      = 8
	maxMeasures       = 16
)

var aggName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,63}$`)

// akey is a validated group key.
type akey struct {
	name   string
	path   fieldPath
	bucket Bucket
	zone   *time.Location
}

// ameasure is a validated measure.
type ameasure struct {
	name string
	op   AggOp
	path fieldPath
	rank int // of the type measured
}

// aplan is a validated Aggregation.
type aplan struct {
	where    *cnode
	keys     []akey
	measures []ameasure
	having   *cnode
	sort     []sortCol // paths are names
	limit    int
}

func planAggregation(a Aggregation) (*aplan, error) {
	p := &aplan{limit: a.Limit}
	var err error
	if p.where, err = planWhere(a.Where, "where"); err != nil {
		return nil, err
	}
	switch {
	case p.limit == 0:
		p.limit = DefaultGroupLimit
	case p.limit < 0 || p.limit > MaxGroupLimit:
		return nil, qerr("limit", "limit must be 1 to %d", MaxGroupLimit)
	}
	if len(a.GroupBy) > maxGroupKeys {
		return nil, qerr("groupBy", "more than %d keys", maxGroupKeys)
	}
	if len(a.Measures) > maxMeasures {
		return nil, qerr("measures", "more than %d measures", maxMeasures)
	}
	names := map[string]bool{}
	name := func(n, where string) error {
		if !aggName.MatchString(n) {
			return qerr(where, "%q is not a name (a letter, then letters, digits and _)", n)
		}
		if names[n] {
			return qerr(where, "%q names two things", n)
		}
		names[n] = true
		return nil
	}
	for i, k := range a.GroupBy {
		w := fmt.Sprintf("groupBy.%d", i)
		if err := name(k.Name, w+".name"); err != nil {
			return nil, err
		}
		fp, err := parsePath(k.Path, w+".path")
		if err != nil {
			return nil, err
		}
		ak := akey{name: k.Name, path: fp, bucket: k.Bucket, zone: k.Zone}
		switch k.Bucket {
		case "":
			if k.Zone != nil {
				return nil, qerr(w+".zone", "a zone needs a bucket")
			}
		case BucketDay, BucketWeek, BucketMonth, BucketQuarter, BucketYear:
			if ak.zone == nil {
				ak.zone = time.UTC
			}
			if _, err := zoneName(ak.zone); err != nil {
				return nil, qerr(w+".zone", "%v", err)
			}
		default:
			return nil, qerr(w+".bucket", "unknown bucket %q (day week month quarter year)", k.Bucket)
		}
		p.keys = append(p.keys, ak)
	}
	for i, m := range a.Measures {
		w := fmt.Sprintf("measures.%d", i)
		if err := name(m.Name, w+".name"); err != nil {
			return nil, err
		}
		am := ameasure{name: m.Name, op: m.Op}
		of := m.Of
		allowed := []ValueType{TypeNumber}
		switch m.Op {
		case AggCount:
			if m.Path != "" || m.Of != "" {
				return nil, qerr(w, "count counts documents: no path, no type")
			}
			p.measures = append(p.measures, am)
			continue
		case AggCountDistinct:
			if of == "" {
				of = TypeString
			}
			allowed = []ValueType{TypeNumber, TypeString, TypeDate, TypeBool, TypeObjectID}
		case AggSum, AggAvg:
		case AggMin, AggMax:
			allowed = []ValueType{TypeNumber, TypeString, TypeDate}
		default:
			return nil, qerr(w+".op", "unknown measure %q (count countDistinct sum avg min max)", m.Op)
		}
		if of == "" {
			of = TypeNumber
		}
		ok := false
		for _, t := range allowed {
			ok = ok || t == of
		}
		if !ok {
			return nil, qerr(w+".of", "%s does not measure %q values", m.Op, of)
		}
		am.rank = typeRanks[of]
		if am.path, err = parsePath(m.Path, w+".path"); err != nil {
			return nil, err
		}
		p.measures = append(p.measures, am)
	}
	if p.having, err = planWhere(a.Having, "having"); err != nil {
		return nil, err
	}
	if err := p.checkNames(p.having, "having"); err != nil {
		return nil, err
	}
	if len(a.Sort) > maxSortKeys {
		return nil, qerr("sort", "more than %d sort keys", maxSortKeys)
	}
	for i, k := range a.Sort {
		w := fmt.Sprintf("sort.%d.path", i)
		if !names[k.Path] {
			return nil, qerr(w, "%q is not a key or measure name", k.Path)
		}
		for _, s := range p.sort {
			if s.path.dotted == k.Path {
				return nil, qerr(w, "%q is sorted by twice", k.Path)
			}
		}
		p.sort = append(p.sort, sortCol{path: fieldPath{dotted: k.Path, segs: []string{k.Path}}, desc: k.Desc})
	}
	return p, nil
}

// checkNames makes sure a Having names keys and measures only.
func (p *aplan) checkNames(n *cnode, where string) error {
	switch {
	case n == nil:
		return nil
	case n.leaf != nil:
		if n.leaf.each {
			return qerr(where, "groups have no arrays")
		}
		if _, _, ok := p.column(n.leaf.path.dotted); !ok {
			return qerr(where, "%q is not a key or measure name", n.leaf.path.dotted)
		}
		return nil
	}
	for _, k := range append(append([]*cnode(nil), n.and...), n.or...) {
		if err := p.checkNames(k, where); err != nil {
			return err
		}
	}
	return nil
}

// column finds a key (isKey) or measure by name and its position.
func (p *aplan) column(name string) (i int, isKey bool, ok bool) {
	for i, k := range p.keys {
		if k.name == name {
			return i, true, true
		}
	}
	for i, m := range p.measures {
		if m.name == name {
			return i, false, true
		}
	}
	return 0, false, false
}

// zoneName is the IANA name of a bucket's zone (the SQL's tc_tzoff and MongoDB both take one),
// or its fixed offset as "+08:00" when it has only ever had one.
func zoneName(loc *time.Location) (string, error) {
	if loc == time.UTC {
		return "UTC", nil
	}
	if off, fixed := fixedOffset(loc); fixed {
		sign := '+'
		if off < 0 {
			sign, off = '-', -off
		}
		return fmt.Sprintf("%c%02d:%02d", sign, off/3600, off%3600/60), nil
	}
	if loc.String() == "Local" {
		return "", fmt.Errorf("the Local zone has no name a query can carry; give an IANA zone")
	}
	if _, err := zone(loc.String()); err != nil {
		return "", fmt.Errorf("zone %q is not an IANA zone", loc.String())
	}
	return loc.String(), nil
}

// fixedOffset reports a zone that has one offset at all times (UTC, time.FixedZone).
func fixedOffset(loc *time.Location) (int, bool) {
	start, end := time.Now().In(loc).ZoneBounds()
	_, off := time.Now().In(loc).Zone()
	return off, start.IsZero() && end.IsZero()
}

// Aggregate groups the documents of coll. A missing collection has no groups.
func (s *Store) Aggregate(ctx context.Context, coll string, a Aggregation) (*AggResult, error) {
	p, err := planAggregation(a)
	if err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", coll, err)
	}
	var res *AggResult
	switch {
	case s.sqlQueries():
		res, err = s.aggregateSQL(ctx, coll, p)
	case s.kind == KindEmbedded:
		// Through FerretDB (Options.QueryViaWire): only the groupings its $group computes
		// right; the others are refused rather than answered wrong.
		res, err = s.aggregateMongo(ctx, coll, p, true)
	default:
		res, err = s.aggregateMongo(ctx, coll, p, false)
	}
	if err != nil {
		return nil, fmt.Errorf("aggregate %s: %w", coll, err)
	}
	return res, nil
}

// groupValue turns a scalar into a Group's value.
func groupValue(x scalar) any {
	switch x.rank {
	case rankDate:
		return time.UnixMilli(x.v.(int64)).UTC()
	case rankObjectID:
		id, _ := bson.ObjectIDFromHex(x.v.(string))
		return id
	}
	return x.v
}

// checkGroupKey refuses a key that meets a document or array (MongoDB groups them by content,
// the SQL by JSON text).
func checkGroupKey(k akey, x scalar) error {
	switch x.rank {
	case rankNull, rankNumber, rankString, rankObjectID, rankBool, rankDate:
		return nil
	}
	return fmt.Errorf("%w: group key %q meets a %s value; group by scalar fields", ErrInvalidQuery, k.name, rankName(x.rank))
}
