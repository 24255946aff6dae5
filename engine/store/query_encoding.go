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
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
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

// rankCase maps a type name expression to a rank: a lookup in a constant JSON object, which
// SQLite parses once per statement — far shorter SQL to parse than a CASE of twelve arms.
func rankCase(typeExpr string) string {
	var b strings.Builder
	b.WriteString("COALESCE('{")
	for i, r := range headerRanks {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"%s":%d`, r.t, r.rank)
	}
	b.WriteString("}'->>(")
	b.WriteString(typeExpr)
	b.WriteString("), 1)")
	return b.String()
}

// rankExpr is the SQL of a field's rank. Paths are validated names, so they can be written
// into the SQL text — and must be: an expression index matches only a query whose expression
// is the same text, so a path cannot be a parameter.
func rankExpr(fp fieldPath) string {
	if fp.isID() {
		return strconv.Itoa(rankString)
	}
	return exprs.get("r"+fp.dotted, func() string {
		return rankCase(fmt.Sprintf("%s->>'%s'", sjsonCol, typePath(fp.segs)))
	})
}

// valueExpr is the SQL of a field's value (the empty string for null and missing).
func valueExpr(fp fieldPath) string {
	if fp.isID() {
		return idExpr
	}
	return exprs.get("v"+fp.dotted, func() string {
		return fmt.Sprintf("COALESCE(%s->>'%s', '')", sjsonCol, valuePath(fp.segs))
	})
}

// memo keeps computed strings (the expressions of the paths in use) up to a bound.
type memo struct {
	mu sync.RWMutex
	m  map[string]string
}

var exprs = &memo{m: map[string]string{}}

func (c *memo) get(key string, make func() string) string {
	c.mu.RLock()
	v, ok := c.m[key]
	c.mu.RUnlock()
	if ok {
		return v
	}
	v = make()
	c.mu.Lock()
	if len(c.m) < 4096 {
		c.m[key] = v
	}
	c.mu.Unlock()
	return v
}

// idExpr is the SQL of _id, the tie-break of every order.
const idExpr = sjsonCol + `->>'$._id'`

// idJSONExpr is FerretDB's expression of _id: its JSON text, as FerretDB's reads by _id
// compare it and the index the store adds to every collection holds it (indexID).
const idJSONExpr = sjsonCol + `->'$._id'`

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
//
// The header is read once into a tape: one entry per value in document order (a document's
// or array's entry is followed by its members' entries and knows how many entries it spans).
// FerretDB writes the header and the values from one key list, so the values then read in step
// with the tape. Each header entry is written {"t":…} first, then "$s" (documents), "i"
// (arrays), "s" (binary) or "o" (regex).

var errSJSON = errors.New("malformed FerretDB document")

// sjScanner reads JSON as FerretDB's encoding/json wrote it.
type sjScanner struct {
	b   []byte
	i   int
	buf []byte // scratch for unescaped strings
	esc bool   // the last string read had escapes (it is in buf, not in b)
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
	s.esc = false
	end := bytes.IndexByte(s.b[start:], '"')
	if end < 0 {
		return nil, fmt.Errorf("%w: unterminated string", errSJSON)
	}
	if esc := bytes.IndexByte(s.b[start:start+end], '\\'); esc >= 0 {
		s.esc = true
		s.i = start + esc
		return s.strEscaped(start)
	}
	s.i = start + end + 1
	return s.b[start : start+end], nil
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
	case '"', '{', '[':
	default:
		if len(s.literal()) == 0 {
			return fmt.Errorf("%w: no value at %d", errSJSON, s.i)
		}
		return nil
	}
	// A string, document or array: find its end by counting brackets outside strings — the
	// text is valid JSON (SQLite checked it when FerretDB wrote it), so no token need be read.
	depth, inStr := 0, false
	for ; s.i < len(s.b); s.i++ {
		c := s.b[s.i]
		if inStr {
			switch c {
			case '\\':
				s.i++
			case '"':
				inStr = false
				if depth == 0 {
					s.i++
					return nil
				}
			}
			continue
		}
		switch c {
		case '"':
			inStr = true
		case '{', '[':
			depth++
		case '}', ']':
			depth--
			if depth == 0 {
				s.i++
				return nil
			}
		}
	}
	return fmt.Errorf("%w: unterminated value", errSJSON)
}

// finishObject passes over the rest of an object whose members are being read, and its '}'.
func (s *sjScanner) finishObject() error {
	for {
		switch s.peek() {
		case '}':
			s.i++
			return nil
		case ',':
			s.i++
			if _, err := s.str(); err != nil {
				return err
			}
			if err := s.expect(':'); err != nil {
				return err
			}
			if err := s.skip(); err != nil {
				return err
			}
		default:
			return fmt.Errorf("%w: want ',' or '}' at %d", errSJSON, s.i)
		}
	}
}

// member reads `"key":` (after a ',' unless first) and checks the key is want.
func (s *sjScanner) member(want string, first bool) error {
	if !first {
		if err := s.expect(','); err != nil {
			return err
		}
	}
	k, err := s.str()
	if err != nil {
		return err
	}
	if string(k) != want {
		return fmt.Errorf("%w: header has %q where %q belongs", errSJSON, k, want)
	}
	return s.expect(':')
}

// The header's types, as tape codes.
const (
	sjString byte = iota + 1
	sjInt
	sjLong
	sjDouble
	sjObject
	sjArray
	sjDate
	sjBool
	sjNull
	sjObjectID
	sjBinData
	sjTimestamp
	sjRegex
)

func headerType(b []byte) byte {
	switch string(b) {
	case "string":
		return sjString
	case "int":
		return sjInt
	case "long":
		return sjLong
	case "double":
		return sjDouble
	case "object":
		return sjObject
	case "array":
		return sjArray
	case "date":
		return sjDate
	case "bool":
		return sjBool
	case "null":
		return sjNull
	case "objectId":
		return sjObjectID
	case "binData":
		return sjBinData
	case "timestamp":
		return sjTimestamp
	case "regex":
		return sjRegex
	}
	return 0
}

var typePrefix = []byte(`{"t":"`)

// sjEntry is one entry of the tape.
type sjEntry struct {
	t    byte
	sub  byte   // binData: the subtype
	span int32  // entries this value's entry and its members' take
	opts []byte // regex: the options
}

// sjDecoder reads documents; its tape is reused (decoders are pooled). The documents of a
// collection mostly share one header (one form's records have the same fields of the same
// types), so a decoder keeps the text of the last header it read beside its tape: a document
// that starts with those same bytes has that same header, and comparing bytes costs a small
// part of reading them (the header is about half of a record's text).
type sjDecoder struct {
	tape   []sjEntry
	header []byte // the text the tape was read from, `{"$s":{…}`; empty when none
	v      sjScanner

	headerReads int // headers read onto the tape (tests)
}

var sjDecoders = sync.Pool{New: func() any { return &sjDecoder{} }}

// level reads a header object {"p":{key: entry, …},"$k":[…]} (or {}) onto the tape.
func (d *sjDecoder) level(h *sjScanner) error {
	if err := h.expect('{'); err != nil {
		return err
	}
	if h.peek() == '}' {
		h.i++
		return nil
	}
	if err := h.member("p", true); err != nil {
		return err
	}
	if err := h.expect('{'); err != nil {
		return err
	}
	for first := true; ; first = false {
		ok, err := h.more('}', first)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		if _, err := h.str(); err != nil {
			return err
		}
		if err := h.expect(':'); err != nil {
			return err
		}
		if err := d.entry(h); err != nil {
			return err
		}
	}
	return h.finishObject() // ,"$k":[…]}
}

// entry reads one header entry {"t":…, …} onto the tape.
func (d *sjDecoder) entry(h *sjScanner) error {
	if bytes.HasPrefix(h.b[h.i:], typePrefix) {
		// The usual entry, {"t":"name"}, read without the general scanner.
		rest := h.b[h.i+len(typePrefix):]
		if n := bytes.IndexByte(rest, '"'); n > 0 && n+1 < len(rest) && rest[n+1] == '}' {
			if t := headerType(rest[:n]); t != 0 && t != sjObject && t != sjArray && t != sjBinData && t != sjRegex {
				d.tape = append(d.tape, sjEntry{t: t, span: 1})
				h.i += len(typePrefix) + n + 2
				return nil
			}
		}
	}
	if err := h.expect('{'); err != nil {
		return err
	}
	if err := h.member("t", true); err != nil {
		return err
	}
	tb, err := h.str()
	if err != nil {
		return err
	}
	at := len(d.tape)
	d.tape = append(d.tape, sjEntry{t: headerType(tb)})
	switch d.tape[at].t {
	case 0:
		return fmt.Errorf("%w: unknown type %q", errSJSON, tb)
	case sjObject:
		if err := h.member("$s", false); err != nil {
			return err
		}
		if err := d.level(h); err != nil {
			return err
		}
	case sjArray:
		if err := h.member("i", false); err != nil {
			return err
		}
		if err := h.expect('['); err != nil {
			return err
		}
		for first := true; ; first = false {
			ok, err := h.more(']', first)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if err := d.entry(h); err != nil {
				return err
			}
		}
	case sjBinData:
		if err := h.member("s", false); err != nil {
			return err
		}
		sub, err := strconv.ParseUint(string(h.literal()), 10, 8)
		if err != nil {
			return fmt.Errorf("%w: binary subtype", errSJSON)
		}
		d.tape[at].sub = byte(sub)
	case sjRegex:
		if err := h.member("o", false); err != nil {
			return err
		}
		o, err := h.str()
		if err != nil {
			return err
		}
		d.tape[at].opts = append([]byte(nil), o...)
	}
	d.tape[at].span = int32(len(d.tape) - at)
	return h.finishObject()
}

// sjsonToBSON turns one _ferretdb_sjson text into the BSON document FerretDB would return,
// keeping only the projected fields (and _id) when proj is not nil.
func sjsonToBSON(text []byte, proj *projection) (bson.Raw, error) {
	d := sjDecoders.Get().(*sjDecoder)
	defer sjDecoders.Put(d)
	return d.decode(text, proj)
}

// decode is sjsonToBSON with this decoder (a page's rows read with one decoder share its
// header).
func (d *sjDecoder) decode(text []byte, proj *projection) (bson.Raw, error) {
	// A text that starts with the remembered header has that header: the header is one JSON
	// object, whose end the bytes before it decide.
	at := len(d.header)
	if at == 0 || len(text) <= at || !bytes.Equal(text[:at], d.header) {
		var err error
		if at, err = d.readHeader(text); err != nil {
			return nil, err
		}
	}
	d.v = sjScanner{b: text, i: at, buf: d.v.buf[:0]}
	idx, dst := bsoncore.AppendDocumentStart(make([]byte, 0, len(text)-at/2))
	pos := 0
	dst, err := d.members(dst, &pos, proj, true)
	if err != nil {
		return nil, err
	}
	if pos != len(d.tape) {
		return nil, fmt.Errorf("%w: the header lists more values than there are", errSJSON)
	}
	return bsoncore.AppendDocumentEnd(dst, idx)
}

// readHeader reads the header of text onto the tape and remembers its text; it returns where
// the values start.
func (d *sjDecoder) readHeader(text []byte) (int, error) {
	d.tape, d.header = d.tape[:0], d.header[:0]
	d.headerReads++
	h := sjScanner{b: text}
	if err := h.expect('{'); err != nil {
		return 0, err
	}
	if err := h.member("$s", true); err != nil {
		return 0, err
	}
	if err := d.level(&h); err != nil {
		d.tape = d.tape[:0]
		return 0, err
	}
	d.header = append(d.header, text[:h.i]...)
	return h.i, nil
}

// members reads the rest of an object's values (after its '{', or at the top after the
// header), taking their entries from the tape at *pos.
func (d *sjDecoder) members(dst []byte, pos *int, proj *projection, top bool) ([]byte, error) {
	v := &d.v
	for first := !top; ; first = false {
		ok, err := v.more('}', first)
		if err != nil {
			return nil, err
		}
		if !ok {
			return dst, nil
		}
		k, err := v.str()
		if err != nil {
			return nil, err
		}
		if v.esc {
			k = append([]byte(nil), k...)
		}
		if err := v.expect(':'); err != nil {
			return nil, err
		}
		if *pos >= len(d.tape) {
			return nil, fmt.Errorf("%w: %q has no type", errSJSON, k)
		}
		var sub *projection
		if proj != nil && !(top && string(k) == "_id") {
			child, ok := proj.kids[string(k)]
			if !ok {
				*pos += int(d.tape[*pos].span)
				if err := v.skip(); err != nil {
					return nil, err
				}
				continue
			}
			sub = child
			if child.kids == nil {
				sub = nil
			}
		}
		if dst, _, err = d.value(dst, k, pos, sub); err != nil {
			return nil, err
		}
	}
}

// appendHead starts an element: its type and key.
func appendHead(dst []byte, t bsoncore.Type, key []byte) []byte {
	dst = append(dst, byte(t))
	dst = append(dst, key...)
	return append(dst, 0)
}

// value reads one value with the tape's entry at *pos and appends it as the element key. proj,
// when not nil, projects into a document or the documents of an array: then a value that is
// neither is left out (kept is false), as MongoDB leaves it out.
func (d *sjDecoder) value(dst, key []byte, pos *int, proj *projection) (out []byte, kept bool, err error) {
	v := &d.v
	e := d.tape[*pos]
	*pos++
	if proj != nil && e.t != sjObject && e.t != sjArray {
		*pos += int(e.span) - 1
		return dst, false, v.skip()
	}
	switch e.t {
	case sjObject:
		if err := v.expect('{'); err != nil {
			return nil, false, err
		}
		dst = appendHead(dst, bsoncore.TypeEmbeddedDocument, key)
		idx, dst := bsoncore.ReserveLength(dst)
		end := *pos + int(e.span) - 1
		if dst, err = d.members(dst, pos, proj, false); err != nil {
			return nil, false, err
		}
		if *pos != end {
			return nil, false, fmt.Errorf("%w: a document has fewer values than types", errSJSON)
		}
		dst, err = bsoncore.AppendDocumentEnd(dst, idx)
		return dst, true, err
	case sjArray:
		if err := v.expect('['); err != nil {
			return nil, false, err
		}
		dst = appendHead(dst, bsoncore.TypeArray, key)
		idx, dst := bsoncore.ReserveLength(dst)
		end := *pos + int(e.span) - 1
		var num [20]byte
		n := 0
		for first := true; ; first = false {
			ok, err := v.more(']', first)
			if err != nil {
				return nil, false, err
			}
			if !ok {
				break
			}
			if *pos >= end {
				return nil, false, fmt.Errorf("%w: array longer than its type list", errSJSON)
			}
			var k bool
			if dst, k, err = d.value(dst, strconv.AppendInt(num[:0], int64(n), 10), pos, proj); err != nil {
				return nil, false, err
			}
			if k {
				n++
			}
		}
		if *pos != end {
			return nil, false, fmt.Errorf("%w: type list longer than its array", errSJSON)
		}
		dst, err = bsoncore.AppendArrayEnd(dst, idx)
		return dst, true, err
	case sjString:
		b, err := v.str()
		if err != nil {
			return nil, false, err
		}
		dst = appendHead(dst, bsoncore.TypeString, key)
		dst = bsoncore.AppendInt32(dst, int32(len(b)+1))
		return append(append(dst, b...), 0), true, nil
	case sjObjectID:
		b, err := v.str()
		if err != nil {
			return nil, false, err
		}
		if len(b) != 24 {
			return nil, false, fmt.Errorf("%w: objectId", errSJSON)
		}
		dst = appendHead(dst, bsoncore.TypeObjectID, key)
		n := len(dst)
		dst = append(dst, make([]byte, 12)...)
		if _, err := hex.Decode(dst[n:], b); err != nil {
			return nil, false, fmt.Errorf("%w: objectId", errSJSON)
		}
		return dst, true, nil
	case sjBinData:
		b, err := v.str()
		if err != nil {
			return nil, false, err
		}
		data := make([]byte, base64.StdEncoding.DecodedLen(len(b)))
		nd, err := base64.StdEncoding.Decode(data, b)
		if err != nil {
			return nil, false, fmt.Errorf("%w: binData", errSJSON)
		}
		// Written by hand: bsoncore adds an inner length to subtype 2 (the old binary
		// format), which FerretDB neither stores nor sends.
		dst = appendHead(dst, bsoncore.TypeBinary, key)
		dst = bsoncore.AppendInt32(dst, int32(nd))
		dst = append(dst, e.sub)
		return append(dst, data[:nd]...), true, nil
	case sjRegex:
		b, err := v.str()
		if err != nil {
			return nil, false, err
		}
		dst = appendHead(dst, bsoncore.TypeRegex, key)
		dst = append(append(dst, b...), 0)
		return append(append(dst, e.opts...), 0), true, nil
	}
	lit := v.literal()
	switch e.t {
	case sjNull:
		if string(lit) == "null" {
			return appendHead(dst, bsoncore.TypeNull, key), true, nil
		}
	case sjBool:
		switch string(lit) {
		case "true":
			return bsoncore.AppendBoolean(appendHead(dst, bsoncore.TypeBoolean, key), true), true, nil
		case "false":
			return bsoncore.AppendBoolean(appendHead(dst, bsoncore.TypeBoolean, key), false), true, nil
		}
	case sjInt:
		if n, ok := parseInt(lit); ok && n == int64(int32(n)) {
			return bsoncore.AppendInt32(appendHead(dst, bsoncore.TypeInt32, key), int32(n)), true, nil
		}
	case sjLong:
		if n, ok := parseInt(lit); ok {
			return bsoncore.AppendInt64(appendHead(dst, bsoncore.TypeInt64, key), n), true, nil
		}
	case sjDouble:
		if f, ok := parseDouble(lit); ok {
			return bsoncore.AppendDouble(appendHead(dst, bsoncore.TypeDouble, key), f), true, nil
		}
	case sjDate:
		if n, ok := parseInt(lit); ok {
			return bsoncore.AppendDateTime(appendHead(dst, bsoncore.TypeDateTime, key), n), true, nil
		}
	case sjTimestamp:
		if n, err := strconv.ParseUint(string(lit), 10, 64); err == nil {
			return bsoncore.AppendTimestamp(appendHead(dst, bsoncore.TypeTimestamp, key), uint32(n>>32), uint32(n)), true, nil
		}
	}
	return nil, false, fmt.Errorf("%w: %q is not a value of type %d", errSJSON, lit, e.t)
}

// parseInt reads a JSON integer as strconv.ParseInt(…, 10, 64) does, without making a string
// of it; a text it does not read by hand (past 18 digits, anything but digits after an
// optional '-') goes to strconv.
func parseInt(b []byte) (int64, bool) {
	neg := len(b) > 0 && b[0] == '-'
	digits := b
	if neg {
		digits = b[1:]
	}
	slow := func() (int64, bool) {
		n, err := strconv.ParseInt(string(b), 10, 64)
		return n, err == nil
	}
	if len(digits) == 0 || len(digits) > 18 {
		return slow()
	}
	var n int64
	for _, c := range digits {
		if c < '0' || c > '9' {
			return slow()
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// parseDouble reads a JSON number as strconv.ParseFloat(…, 64) does: an integer of at most 15
// digits by hand (exact: below 2⁵³), anything else through strconv.
func parseDouble(b []byte) (float64, bool) {
	if n := len(b); n > 0 && n <= 15 {
		if i, ok := parseInt(b); ok && !(i == 0 && b[0] == '-') {
			return float64(i), true
		}
	}
	f, err := strconv.ParseFloat(string(b), 64)
	return f, err == nil
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
