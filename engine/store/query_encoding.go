package store

// # How the embedded store lays documents into SQLite
//
// The embedded store is FerretDB 1.24 over SQLite (the last release of its line, so this layout
// is frozen). Each collection is a table (its name is in FerretDB's catalogue,
// _ferretdb_collections) with one column, _ferretdb_sjson TEXT: the document as JSON, led by a
// type header under the key "$s" that says each field's BSON type:
//
//	{"$s":{"p":{"_id":{"t":"string"},"qty":{"t":"int"},"made":{"t":"date"},
//	            "data":{"t":"object","$s":{"p":{"lot":{"t":"string"}},"$k":["lot"]}},
//	            "tags":{"t":"array","i":[{"t":"string"},{"t":"null"}]}},
//	       "$k":["_id","qty","made","data","tags"]},
//	 "_id":"R1","qty":5,"made":1764028800000,"data":{"lot":"L-7"},"tags":["a",null]}
//
// p maps a field to its type, $k keeps the field order; a nested document's entry carries its
// own "$s", an array's entry lists its elements' types under "i". The values themselves are
// plain JSON, so SQLite's ->> reads them, and what it gives is what SQL compares and sorts:
//
//	BSON type       t           JSON value                    ->> gives (SQL)
//	string          string      "text" (Go's escapes: \u003c) TEXT, the string itself
//	int32           int         5                             INTEGER
//	int64           long        5                             INTEGER
//	double          double      2.5; 3.0 is written 3         REAL; INTEGER when integral
//	bool            bool        true / false                  INTEGER 1 / 0
//	null            null        null                          NULL
//	missing         (no entry)  (no key)                      NULL
//	date            date        epoch milliseconds            INTEGER
//	ObjectID        objectId    "24 hex digits, lower case"   TEXT
//	binary          binData     "base64" (subtype in "s")     TEXT
//	timestamp       timestamp   the uint64                    INTEGER
//	regex           regex       "pattern" (options in "o")    TEXT
//	document        object      {…}                           TEXT, the JSON
//	array           array       […]                           TEXT, the JSON
//
// FerretDB refuses NaN and infinities (a NaN in a command even drops the connection), and
// json.Marshal writes -0 as 0: no stored double is NaN, infinite or negative zero.
//
// So SQL on the values alone would disagree with MongoDB: a bool is the integer 1, a date is a
// large integer, an ObjectID is a string, null equals missing (MongoDB agrees there) and SQLite
// orders NULL < numbers < text while MongoDB orders null < numbers < strings < documents <
// arrays < binary < ObjectID < bool < date. The compiler therefore reads every value as a pair:
//
//	rank  = CASE <the type from the header> WHEN 'string' THEN 3 … ELSE 1 END   (rankExpr)
//	value = COALESCE(_ferretdb_sjson->>'$.path', '')                            (valueExpr)
//
// where rank is MongoDB's order of types (null and missing are 1, numbers 2, strings 3 …) and
// compares, sorts and groups by (rank, value): a condition on a number is `rank = 2 AND value >
// ?`, a sort is `ORDER BY rank, value`. Within a rank SQLite's comparison is MongoDB's: numbers
// numerically across int32, int64 and double (3 = 3.0), strings byte by byte (MongoDB's simple
// collation), ObjectIDs by their hex (which orders as their bytes), bools as 0 < 1, dates by
// their milliseconds. The value of rank 1 is '' rather than NULL, so that (rank, value, _id)
// compares as a row without NULLs (keyset cursors are row comparisons). EnsureIndexes indexes
// exactly these two expressions, so the planner uses the index for both the condition and the
// order. Documents and arrays as values (ranks 4, 5) only sort by their JSON text, so a sort key
// or group key that meets one is refused when the page or group is read.
//
// Arrays: a condition marked Each is about the elements of the array at its path:
// EXISTS (SELECT 1 FROM json_each(_ferretdb_sjson, '$.path') …) with each element's rank read
// from the header's "i" list — the elements match the way MongoDB matches them. A path without
// Each is read as one value; a path through an array (a.b where a is an array) reads as missing
// in SQL where MongoDB would look into the array's documents, so documents must not have them.
//
// _id is a string on every collection of ours; it is compared and sorted as
// _ferretdb_sjson->>'$._id' (and an ObjectID _id, as in GridFS, by its hex).

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/x/bsonx/bsoncore"
)

// sjsonCol is FerretDB's document column.
const sjsonCol = "_ferretdb_sjson"

// headerRanks maps the header's type names to ranks; a missing entry (missing field, null) is
// rank 1.
var headerRanks = []struct {
	t    string
	rank int
}{
	// The common types first: CASE tests them in order.
	{"string", rankString}, {"int", rankNumber}, {"double", rankNumber}, {"long", rankNumber},
	{"date", rankDate}, {"bool", rankBool}, {"objectId", rankObjectID}, {"object", rankObject},
	{"array", rankArray}, {"binData", rankBinData}, {"timestamp", rankTimestamp}, {"regex", rankRegex},
}

var plainLabel = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// jsonLabel writes one path segment into a SQLite JSON path, quoted when it is not a plain name.
func jsonLabel(seg string) string {
	if plainLabel.MatchString(seg) {
		return seg
	}
	return `"` + seg + `"`
}

// valuePath is the JSON path of a field's value: $.a.b.
func valuePath(segs []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range segs {
		b.WriteString(".")
		b.WriteString(jsonLabel(s))
	}
	return b.String()
}

// typePath is the JSON path of a field's type in the header: $."$s".p.a."$s".p.b.t.
func typePath(segs []string) string {
	var b strings.Builder
	b.WriteString("$")
	for _, s := range segs {
		b.WriteString(`."$s".p.`)
		b.WriteString(jsonLabel(s))
	}
	b.WriteString(".t")
	return b.String()
}

// rankCase maps a type name expression to a rank.
func rankCase(typeExpr string) string {
	var b strings.Builder
	b.WriteString("CASE ")
	b.WriteString(typeExpr)
	for _, r := range headerRanks {
		fmt.Fprintf(&b, " WHEN '%s' THEN %d", r.t, r.rank)
	}
	b.WriteString(" ELSE 1 END")
	return b.String()
}

// rankExpr is the SQL of a field's rank. Paths are validated names, so they can be written
// into the SQL text — and must be: an expression index matches only a query whose expression
// is the same text, so a path cannot be a parameter.
func rankExpr(fp fieldPath) string {
	if fp.isID() {
		return strconv.Itoa(rankString)
	}
	return rankCase(fmt.Sprintf("%s->>'%s'", sjsonCol, typePath(fp.segs)))
}

// valueExpr is the SQL of a field's value (the empty string for null and missing).
func valueExpr(fp fieldPath) string {
	if fp.isID() {
		return idExpr
	}
	return fmt.Sprintf("COALESCE(%s->>'%s', '')", sjsonCol, valuePath(fp.segs))
}

// idExpr is the SQL of _id, the tie-break of every order.
const idExpr = sjsonCol + `->>'$._id'`

// rankOfType is the rank of a BSON type.
func rankOfType(t bson.Type) int {
	switch t {
	case bson.TypeDouble, bson.TypeInt32, bson.TypeInt64, bson.TypeDecimal128:
		return rankNumber
	case bson.TypeString, bson.TypeSymbol:
		return rankString
	case bson.TypeEmbeddedDocument:
		return rankObject
	case bson.TypeArray:
		return rankArray
	case bson.TypeBinary:
		return rankBinData
	case bson.TypeObjectID:
		return rankObjectID
	case bson.TypeBoolean:
		return rankBool
	case bson.TypeDateTime:
		return rankDate
	case bson.TypeTimestamp:
		return rankTimestamp
	case bson.TypeRegex:
		return rankRegex
	}
	return rankNull
}

// scalarOf reads a BSON value as a scalar; v is nil for the ranks that are not scalars.
func scalarOf(rv bson.RawValue) scalar {
	switch rv.Type {
	case bson.TypeDouble:
		return numberScalar(rv.Double())
	case bson.TypeInt32:
		return scalar{rankNumber, int64(rv.Int32())}
	case bson.TypeInt64:
		return scalar{rankNumber, rv.Int64()}
	case bson.TypeString:
		return scalar{rankString, rv.StringValue()}
	case bson.TypeObjectID:
		return scalar{rankObjectID, rv.ObjectID().Hex()}
	case bson.TypeBoolean:
		return scalar{rankBool, rv.Boolean()}
	case bson.TypeDateTime:
		return scalar{rankDate, rv.DateTime()}
	}
	return scalar{rankOfType(rv.Type), nil}
}

// lookupScalar reads the value at a path of a BSON document the way MongoDB's sort reads it for
// scalars: a missing step is null.
func lookupScalar(doc bson.Raw, fp fieldPath) scalar {
	rv, err := doc.LookupErr(fp.segs...)
	if err != nil {
		return scalar{rankNull, nil}
	}
	return scalarOf(rv)
}

// sqlScalar reads a (rank, value) pair that SQL selected.
func sqlScalar(rank int64, v any) scalar {
	switch rank {
	case rankNull:
		return scalar{rankNull, nil}
	case rankNumber:
		switch x := v.(type) {
		case int64:
			return scalar{rankNumber, x}
		case float64:
			return numberScalar(x)
		}
	case rankString, rankObjectID:
		if s, ok := v.(string); ok {
			return scalar{int(rank), s}
		}
	case rankBool:
		if n, ok := v.(int64); ok {
			return scalar{rankBool, n != 0}
		}
	case rankDate:
		if n, ok := v.(int64); ok {
			return scalar{rankDate, n}
		}
	}
	return scalar{int(rank), nil}
}

// ---- the sjson reader: FerretDB's JSON to BSON ----

// sjElem is one entry of the type header.
type sjElem struct {
	t       string
	props   []sjProp  // object: the fields in order
	items   []*sjElem // array: the elements
	subtype byte      // binData
	opts    string    // regex
}

type sjProp struct {
	key  string
	elem *sjElem
}

func (e *sjElem) prop(key []byte, hint int) *sjElem {
	// Values come in the header's order, so the hint (the position) nearly always hits.
	if hint < len(e.props) && e.props[hint].key == string(key) {
		return e.props[hint].elem
	}
	for _, p := range e.props {
		if p.key == string(key) {
			return p.elem
		}
	}
	return nil
}

var errSJSON = errors.New("malformed FerretDB document")

// sjScanner reads JSON as FerretDB's encoding/json wrote it.
type sjScanner struct {
	b   []byte
	i   int
	buf []byte // scratch for unescaped strings
}

func (s *sjScanner) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

func (s *sjScanner) peek() byte {
	s.ws()
	if s.i >= len(s.b) {
		return 0
	}
	return s.b[s.i]
}

func (s *sjScanner) expect(c byte) error {
	if s.peek() != c {
		return fmt.Errorf("%w: want %q at %d", errSJSON, c, s.i)
	}
	s.i++
	return nil
}

// more reports whether another member follows in an object or array, consuming a comma.
func (s *sjScanner) more(end byte, first bool) (bool, error) {
	c := s.peek()
	if c == end {
		s.i++
		return false, nil
	}
	if !first {
		if c != ',' {
			return false, fmt.Errorf("%w: want ',' at %d", errSJSON, s.i)
		}
		s.i++
	}
	return true, nil
}

// str reads a string; the result aliases the input or the scratch buffer until the next call.
func (s *sjScanner) str() ([]byte, error) {
	if err := s.expect('"'); err != nil {
		return nil, err
	}
	start := s.i
	for s.i < len(s.b) {
		switch c := s.b[s.i]; {
		case c == '"':
			out := s.b[start:s.i]
			s.i++
			return out, nil
		case c == '\\':
			return s.strEscaped(start)
		default:
			s.i++
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errSJSON)
}

func (s *sjScanner) strEscaped(start int) ([]byte, error) {
	s.buf = append(s.buf[:0], s.b[start:s.i]...)
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.buf, nil
		case c != '\\':
			s.buf = append(s.buf, c)
			s.i++
			continue
		}
		if s.i+1 >= len(s.b) {
			break
		}
		e := s.b[s.i+1]
		s.i += 2
		switch e {
		case '"', '\\', '/':
			s.buf = append(s.buf, e)
		case 'b':
			s.buf = append(s.buf, '\b')
		case 'f':
			s.buf = append(s.buf, '\f')
		case 'n':
			s.buf = append(s.buf, '\n')
		case 'r':
			s.buf = append(s.buf, '\r')
		case 't':
			s.buf = append(s.buf, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, fmt.Errorf("%w: bad \\u escape", errSJSON)
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.i+1 < len(s.b) && s.b[s.i] == '\\' && s.b[s.i+1] == 'u' {
					s.i += 2
					if x, ok := s.hex4(); ok {
						r2 = x
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			s.buf = utf8.AppendRune(s.buf, r)
		default:
			return nil, fmt.Errorf("%w: bad escape", errSJSON)
		}
	}
	return nil, fmt.Errorf("%w: unterminated string", errSJSON)
}

func (s *sjScanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(s.b[s.i:s.i+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.i += 4
	return rune(n), true
}

// literal reads a number, true, false or null as its text.
func (s *sjScanner) literal() []byte {
	s.ws()
	start := s.i
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ',', '}', ']', ' ', '\t', '\n', '\r':
			return s.b[start:s.i]
		}
		s.i++
	}
	return s.b[start:s.i]
}

// skip passes over one value.
func (s *sjScanner) skip() error {
	switch s.peek() {
	case '"':
		_, err := s.str()
		return err
	case '{', '[':
		end := byte('}')
		if s.b[s.i] == '[' {
			end = ']'
		}
		obj := end == '}'
		s.i++
		for first := true; ; first = false {
			ok, err := s.more(end, first)
			if err != nil || !ok {
				return err
			}
			if obj {
				if _, err := s.str(); err != nil {
					return err
				}
				if err := s.expect(':'); err != nil {
					return err
				}
			}
			if err := s.skip(); err != nil {
				return err
			}
		}
	}
	if len(s.literal()) == 0 {
		return fmt.Errorf("%w: no value at %d", errSJSON, s.i)
	}
	return nil
}

// schema reads a header object {"p":{…},"$k":[…]} into e.props.
func (s *sjScanner) schema(e *sjElem) error {
	if err := s.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		ok, err := s.more('}', first)
		if err != nil || !ok {
			return err
		}
		k, err := s.str()
		if err != nil {
			return err
		}
		if err := s.expect(':'); err != nil {
			return err
		}
		if string(k) != "p" {
			if err := s.skip(); err != nil { // "$k": the values come in this order anyway
				return err
			}
			continue
		}
		if err := s.expect('{'); err != nil {
			return err
		}
		for first := true; ; first = false {
			ok, err := s.more('}', first)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			k, err := s.str()
			if err != nil {
				return err
			}
			key := string(k)
			if err := s.expect(':'); err != nil {
				return err
			}
			sub, err := s.elem()
			if err != nil {
				return err
			}
			e.props = append(e.props, sjProp{key: key, elem: sub})
		}
	}
}

// elem reads one header entry {"t":…, "$s"|"i"|"s"|"o": …}.
func (s *sjScanner) elem() (*sjElem, error) {
	e := &sjElem{}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	for first := true; ; first = false {
		ok, err := s.more('}', first)
		if err != nil {
			return nil, err
		}
		if !ok {
			return e, nil
		}
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		key := string(k)
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		switch key {
		case "t":
			t, err := s.str()
			if err != nil {
				return nil, err
			}
			e.t = string(t)
		case "$s":
			if err := s.schema(e); err != nil {
				return nil, err
			}
		case "i":
			if err := s.expect('['); err != nil {
				return nil, err
			}
			e.items = []*sjElem{}
			for first := true; ; first = false {
				ok, err := s.more(']', first)
				if err != nil {
					return nil, err
				}
				if !ok {
					break
				}
				it, err := s.elem()
				if err != nil {
					return nil, err
				}
				e.items = append(e.items, it)
			}
		case "s":
			n, err := strconv.ParseUint(string(s.literal()), 10, 8)
			if err != nil {
				return nil, fmt.Errorf("%w: binary subtype", errSJSON)
			}
			e.subtype = byte(n)
		case "o":
			o, err := s.str()
			if err != nil {
				return nil, err
			}
			e.opts = string(o)
		default:
			if err := s.skip(); err != nil {
				return nil, err
			}
		}
	}
}

// sjsonToBSON turns one _ferretdb_sjson text into the BSON document FerretDB would return,
// keeping only the projected fields (and _id) when proj is not nil.
func sjsonToBSON(text []byte, proj *projection) (bson.Raw, error) {
	s := &sjScanner{b: text}
	if err := s.expect('{'); err != nil {
		return nil, err
	}
	k, err := s.str()
	if err != nil || string(k) != "$s" {
		return nil, fmt.Errorf("%w: no type header", errSJSON)
	}
	if err := s.expect(':'); err != nil {
		return nil, err
	}
	root := &sjElem{t: "object"}
	if err := s.schema(root); err != nil {
		return nil, err
	}
	dst := make([]byte, 0, len(text))
	idx, dst := bsoncore.AppendDocumentStart(dst)
	dst, err = s.members(dst, root, proj, true)
	if err != nil {
		return nil, err
	}
	dst, err = bsoncore.AppendDocumentEnd(dst, idx)
	if err != nil {
		return nil, err
	}
	return bson.Raw(dst), nil
}

// members reads the rest of an object whose '{' (and, at the top, whose header) is read.
func (s *sjScanner) members(dst []byte, e *sjElem, proj *projection, top bool) ([]byte, error) {
	for n, first := 0, !top; ; n, first = n+1, false {
		ok, err := s.more('}', first)
		if err != nil {
			return nil, err
		}
		if !ok {
			return dst, nil
		}
		k, err := s.str()
		if err != nil {
			return nil, err
		}
		key := string(k)
		if err := s.expect(':'); err != nil {
			return nil, err
		}
		var sub *projection
		if proj != nil && !(top && key == "_id") {
			child, ok := proj.kids[key]
			if !ok {
				if err := s.skip(); err != nil {
					return nil, err
				}
				continue
			}
			sub = child
			if child.kids == nil {
				sub = nil
			}
		}
		pe := e.prop(k, n)
		if pe == nil {
			return nil, fmt.Errorf("%w: %q has no type", errSJSON, key)
		}
		if sub != nil && pe.t != "object" && pe.t != "array" {
			// A projection into a scalar keeps nothing of it (MongoDB's behaviour).
			if err := s.skip(); err != nil {
				return nil, err
			}
			continue
		}
		if dst, err = s.value(dst, key, pe, sub); err != nil {
			return nil, err
		}
	}
}

// value reads one value of type e and appends it as the element key. proj, when not nil,
// projects a document (or the documents of an array) further.
func (s *sjScanner) value(dst []byte, key string, e *sjElem, proj *projection) ([]byte, error) {
	if s.peek() == 'n' {
		if string(s.literal()) != "null" {
			return nil, fmt.Errorf("%w: bad literal", errSJSON)
		}
		return bsoncore.AppendNullElement(dst, key), nil
	}
	switch e.t {
	case "object":
		if err := s.expect('{'); err != nil {
			return nil, err
		}
		idx, dst := bsoncore.AppendDocumentElementStart(dst, key)
		dst, err := s.members(dst, e, proj, false)
		if err != nil {
			return nil, err
		}
		return bsoncore.AppendDocumentEnd(dst, idx)
	case "array":
		if err := s.expect('['); err != nil {
			return nil, err
		}
		idx, dst := bsoncore.AppendArrayElementStart(dst, key)
		out := 0
		for n, first := 0, true; ; n, first = n+1, false {
			ok, err := s.more(']', first)
			if err != nil {
				return nil, err
			}
			if !ok {
				break
			}
			if n >= len(e.items) {
				return nil, fmt.Errorf("%w: array longer than its type list", errSJSON)
			}
			it := e.items[n]
			if proj != nil && it.t != "object" && it.t != "array" {
				// Projecting into an array keeps its documents (projected) only, as MongoDB does.
				if err := s.skip(); err != nil {
					return nil, err
				}
				continue
			}
			if dst, err = s.value(dst, strconv.Itoa(out), it, proj); err != nil {
				return nil, err
			}
			out++
		}
		return bsoncore.AppendArrayEnd(dst, idx)
	case "string":
		b, err := s.str()
		if err != nil {
			return nil, err
		}
		return bsoncore.AppendStringElement(dst, key, string(b)), nil
	case "int":
		n, err := strconv.ParseInt(string(s.literal()), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: int: %v", errSJSON, err)
		}
		return bsoncore.AppendInt32Element(dst, key, int32(n)), nil
	case "long":
		n, err := strconv.ParseInt(string(s.literal()), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: long: %v", errSJSON, err)
		}
		return bsoncore.AppendInt64Element(dst, key, n), nil
	case "double":
		f, err := strconv.ParseFloat(string(s.literal()), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: double: %v", errSJSON, err)
		}
		return bsoncore.AppendDoubleElement(dst, key, f), nil
	case "bool":
		switch string(s.literal()) {
		case "true":
			return bsoncore.AppendBooleanElement(dst, key, true), nil
		case "false":
			return bsoncore.AppendBooleanElement(dst, key, false), nil
		}
		return nil, fmt.Errorf("%w: bool", errSJSON)
	case "date":
		n, err := strconv.ParseInt(string(s.literal()), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: date: %v", errSJSON, err)
		}
		return bsoncore.AppendDateTimeElement(dst, key, n), nil
	case "objectId":
		b, err := s.str()
		if err != nil {
			return nil, err
		}
		var oid [12]byte
		if n, err := hex.Decode(oid[:], b); err != nil || n != 12 {
			return nil, fmt.Errorf("%w: objectId", errSJSON)
		}
		return bsoncore.AppendObjectIDElement(dst, key, oid), nil
	case "binData":
		b, err := s.str()
		if err != nil {
			return nil, err
		}
		data, err := base64.StdEncoding.DecodeString(string(b))
		if err != nil {
			return nil, fmt.Errorf("%w: binData", errSJSON)
		}
		// Written by hand: bsoncore adds an inner length to subtype 2 (the old binary
		// format), which FerretDB neither stores nor sends.
		dst = bsoncore.AppendHeader(dst, bsoncore.TypeBinary, key)
		dst = bsoncore.AppendInt32(dst, int32(len(data)))
		dst = append(dst, e.subtype)
		return append(dst, data...), nil
	case "timestamp":
		n, err := strconv.ParseUint(string(s.literal()), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("%w: timestamp", errSJSON)
		}
		return bsoncore.AppendTimestampElement(dst, key, uint32(n>>32), uint32(n)), nil
	case "regex":
		b, err := s.str()
		if err != nil {
			return nil, err
		}
		return bsoncore.AppendRegexElement(dst, key, string(b), e.opts), nil
	}
	return nil, fmt.Errorf("%w: unknown type %q", errSJSON, e.t)
}

// projectRaw keeps the projected fields (and _id) of a BSON document, as MongoDB projects.
func projectRaw(doc bson.Raw, proj *projection) (bson.Raw, error) {
	idx, dst := bsoncore.AppendDocumentStart(make([]byte, 0, len(doc)))
	dst, err := projectMembers(dst, doc, proj, true)
	if err != nil {
		return nil, err
	}
	dst, err = bsoncore.AppendDocumentEnd(dst, idx)
	return bson.Raw(dst), err
}

func projectMembers(dst []byte, doc bson.Raw, proj *projection, top bool) ([]byte, error) {
	elems, err := doc.Elements()
	if err != nil {
		return nil, err
	}
	for _, el := range elems {
		key, v := el.Key(), el.Value()
		child, ok := proj.kids[key]
		switch {
		case top && key == "_id", ok && child.kids == nil:
			dst = bsoncore.AppendValueElement(dst, key, bsoncore.Value{Type: bsoncore.Type(v.Type), Data: v.Value})
		case !ok:
		case v.Type == bson.TypeEmbeddedDocument:
			idx, d := bsoncore.AppendDocumentElementStart(dst, key)
			if d, err = projectMembers(d, v.Document(), child, false); err != nil {
				return nil, err
			}
			if dst, err = bsoncore.AppendDocumentEnd(d, idx); err != nil {
				return nil, err
			}
		case v.Type == bson.TypeArray:
			idx, d := bsoncore.AppendArrayElementStart(dst, key)
			vals, err := v.Array().Values()
			if err != nil {
				return nil, err
			}
			n := 0
			for _, av := range vals {
				if av.Type != bson.TypeEmbeddedDocument {
					continue
				}
				i, d2 := bsoncore.AppendDocumentElementStart(d, strconv.Itoa(n))
				if d2, err = projectMembers(d2, av.Document(), child, false); err != nil {
					return nil, err
				}
				if d, err = bsoncore.AppendDocumentEnd(d2, i); err != nil {
					return nil, err
				}
				n++
			}
			if dst, err = bsoncore.AppendArrayEnd(d, idx); err != nil {
				return nil, err
			}
		}
	}
	return dst, nil
}

// covers reports whether the projection keeps the value at a path whole.
func (p *projection) covers(fp fieldPath) bool {
	if p == nil || fp.isID() {
		return true
	}
	n := p
	for _, s := range fp.segs {
		k, ok := n.kids[s]
		if !ok {
			return false
		}
		if k.kids == nil {
			return true
		}
		n = k
	}
	return false
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// finite reports whether f can be stored (FerretDB refuses NaN and infinities).
func finite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
