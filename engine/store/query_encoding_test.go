package store

import (
	"bytes"
	"context"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestSJSONHeaderReuse: one decoder reads documents of several shapes in turn — the same
// header twice, a field of another type, more fields, fewer, a string that spells a header,
// nested documents and arrays — and each comes out as the BSON FerretDB itself returns for
// it; a document with the header of the one before is read without reading its header again.
func TestSJSONHeaderReuse(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	c, err := s.Collection(ctx, "shapes")
	if err != nil {
		t.Fatal(err)
	}
	made := time.Date(2026, 3, 1, 8, 0, 0, 0, time.UTC)
	docs := []bson.D{
		{{Key: "_id", Value: "a"}, {Key: "x", Value: "s"}, {Key: "n", Value: int32(1)}},
		{{Key: "_id", Value: "b"}, {Key: "x", Value: "t"}, {Key: "n", Value: int32(2)}},
		{{Key: "_id", Value: "c"}, {Key: "x", Value: 5.5}, {Key: "n", Value: int32(3)}},
		{{Key: "_id", Value: "d"}, {Key: "x", Value: "s"}, {Key: "n", Value: int32(1)}, {Key: "more", Value: `{"$s":{"p":{}}},"x":`}},
		{{Key: "_id", Value: "e"}, {Key: "x", Value: "s"}},
		{{Key: "_id", Value: "f"}, {Key: "x", Value: bson.D{{Key: "y", Value: int64(-7)}, {Key: "z", Value: bson.A{"é\u003c", nil, 2.0, true}}}}, {Key: "n", Value: made}},
		{{Key: "_id", Value: "g"}, {Key: "x", Value: bson.D{{Key: "y", Value: int64(8)}, {Key: "z", Value: bson.A{"q", nil, 3.25, false}}}}, {Key: "n", Value: made.Add(time.Hour)}},
	}
	for _, d := range docs {
		if _, err := c.InsertOne(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	db, table, _, err := s.emb.table(ctx, "shapes")
	if err != nil {
		t.Fatal(err)
	}
	texts := map[string][]byte{}
	want := map[string]bson.Raw{}
	for _, d := range docs {
		id := d[0].Value.(string)
		var text []byte
		if err := db.QueryRowContext(ctx, "SELECT CAST(_ferretdb_sjson AS BLOB) FROM "+quoteIdent(table)+" WHERE _ferretdb_sjson->>'$._id' = ?", id).Scan(&text); err != nil {
			t.Fatal(err)
		}
		texts[id] = text
		raw, err := c.FindOne(ctx, bson.D{{Key: "_id", Value: id}}).Raw()
		if err != nil {
			t.Fatal(err)
		}
		want[id] = raw
	}
	d := &sjDecoder{}
	order := []string{"a", "b", "a", "c", "a", "d", "e", "a", "f", "g", "f", "b", "b"}
	for _, id := range order {
		got, err := d.decode(texts[id], nil)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		if !bytes.Equal(got, want[id]) {
			t.Errorf("%s: read %v, FerretDB returns %v", id, got, want[id])
		}
	}
	// b after a, a after b, g after f, f after g, b after b share the header before theirs.
	if d.headerReads != len(order)-5 {
		t.Errorf("%d headers read for %d documents, 5 of them after one of their header: want %d", d.headerReads, len(order), len(order)-5)
	}
	// A malformed header forgets the one remembered.
	if _, err := d.decode([]byte(`{"$s":{"p":{"_id":{"t":"nope"}},"$k":["_id"]},"_id":"x"}`), nil); err == nil {
		t.Fatal("an unknown type was read")
	}
	if len(d.header) != 0 || len(d.tape) != 0 {
		t.Errorf("after an error the decoder remembers a header of %d bytes and %d entries", len(d.header), len(d.tape))
	}
	if got, err := d.decode(texts["a"], nil); err != nil || !bytes.Equal(got, want["a"]) {
		t.Errorf("after an error: %v %v", got, err)
	}
}

// TestSJSONNumbers: the reader's integers and doubles are strconv's, for the texts FerretDB
// writes (Go's encoding/json) and the edges by hand.
func TestSJSONNumbers(t *testing.T) {
	ints := []string{"0", "-0", "7", "-7", "2147483647", "-2147483648", "2147483648", "999999999999999999",
		"-999999999999999999", "1000000000000000000", "9223372036854775807", "-9223372036854775808",
		"9223372036854775808", "", "-", "1.5", "1e3", "+1", "12a", "0x10"}
	floats := append([]string{"0.1", "-0.5", "1e+21", "1e-7", "123456789012345", "1234567890123456",
		"-123456789012345", "9007199254740993", "-1", "3", "1.7976931348623157e+308", "5e-324"}, ints...)
	r := rand.New(rand.NewPCG(8, 8))
	for range 2000 {
		ints = append(ints, strconv.FormatInt(r.Int64()>>r.IntN(63), 10), strconv.FormatInt(-r.Int64()>>r.IntN(63), 10))
		f := math.Float64frombits(r.Uint64())
		if !finite(f) {
			continue
		}
		floats = append(floats, strconv.FormatFloat(f, 'g', -1, 64), strconv.FormatFloat(math.Trunc(f/1e290), 'f', -1, 64))
	}
	for _, s := range ints {
		n, ok := parseInt([]byte(s))
		w, err := strconv.ParseInt(s, 10, 64)
		if ok != (err == nil) || ok && n != w {
			t.Errorf("parseInt(%q) = %d %v, strconv %d %v", s, n, ok, w, err)
		}
	}
	for _, s := range floats {
		f, ok := parseDouble([]byte(s))
		w, err := strconv.ParseFloat(s, 64)
		if ok != (err == nil) || ok && math.Float64bits(f) != math.Float64bits(w) {
			t.Errorf("parseDouble(%q) = %v %v, strconv %v %v", s, f, ok, w, err)
		}
	}
}

// TestReadPoolCache: the read pool's connections keep 500 pages each (readCacheKiB), not the
// 125 of SQLite's default at the store's page size, so that the pages of a list stay cached.
func TestReadPoolCache(t *testing.T) {
	s, ctx := openTestStore(t), context.Background()
	fillRecords(t, s, "recs", 10)
	db, _, ok, err := s.emb.table(ctx, "recs")
	if err != nil || !ok {
		t.Fatalf("%v %v", ok, err)
	}
	var kib, page int64
	if err := db.QueryRowContext(ctx, "PRAGMA cache_size").Scan(&kib); err != nil {
		t.Fatal(err)
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&page); err != nil {
		t.Fatal(err)
	}
	if pages := -kib * 1024 / page; pages < 500 {
		t.Errorf("the read pool caches %d pages of %d bytes (cache_size %d), want at least 500", pages, page, kib)
	}
}
