package engine

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// An outbox entry's hash and encoding are stored deflated together, as one binary field Z,
// when that is smaller than the two strings (it nearly always is): the encoding is JSON whose
// every quote FerretDB escapes, and it repeats itself (a record's id is its target, its write's
// id and its event's id); one field instead of two also saves its part of the document's type
// header. What is hashed and verified is the inflated text, byte for byte, so storing it
// compressed changes no hash; it pays for the plain copies of actor, action and target and
// their indexes (audit_list.go). Z inflates to the hex hash, a newline, and the encoding.
//
// auditZDict is the preset dictionary of the deflate stream: the fixed parts of the encodings
// that Kernel.Commit writes most (record and definition writes), with the likeliest last. It is
// part of the stored format: entries written with it are read with it, so it never changes; a
// different dictionary needs another field name.
const auditZDict = `"tracecraft-audit-2","tracecraft-audit-3-sha256","definition.save","definition.publish","print.job",` +
	`"codes.issue","record.delete","record.deleted","record.transition","record.transitioned",` +
	`"type":"record.updated"},"w":{"c":"rec.","id":"","rev":2}}]` + "\n" +
	`["tracecraft-audit-3",1,"2026-01-01T00:00:00.000Z","system","record.update","record.create","record","/",null,{"":""},"","",` +
	`{"ev":{"app":"","data":{"form":"","id":"","rev":1,"status":"","version":1},"type":"record.created"},"w":{"c":"rec.","id":"","rev":1}}]` +
	"\n" + `["tracecraft-audit-3",`

// auditZMax bounds an inflated encoding, so a changed Z cannot make a reader allocate without
// end. Entries are far smaller: a record's before and after, and its event.
const auditZMax = 64 << 20

// auditDeflaters are deflate writers primed with the dictionary: making one costs about half
// a millisecond (its tables), resetting one a few microseconds, and Reset keeps the dictionary.
var auditDeflaters = sync.Pool{New: func() any {
	w, _ := flate.NewWriterDict(io.Discard, flate.BestCompression, []byte(auditZDict)) // a valid level never fails
	return w
}}

// auditDeflate compresses an entry's hash and encoding with the dictionary.
func auditDeflate(hash, enc string) []byte {
	var b bytes.Buffer
	w := auditDeflaters.Get().(*flate.Writer)
	defer auditDeflaters.Put(w)
	w.Reset(&b)
	_, _ = io.WriteString(w, hash+"\n"+enc) // a bytes.Buffer never fails
	_ = w.Close()
	return b.Bytes()
}

// auditInflate is auditDeflate undone.
func auditInflate(z []byte) (hash, enc string, err error) {
	r := flate.NewReaderDict(bytes.NewReader(z), []byte(auditZDict))
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, auditZMax+1))
	if err != nil {
		return "", "", err
	}
	if len(out) > auditZMax {
		return "", "", errors.New("longer than any entry")
	}
	hash, enc, ok := strings.Cut(string(out), "\n")
	if !ok {
		return "", "", errors.New("no hash")
	}
	return hash, enc, nil
}

// MarshalBSON writes the entry with its hash and encoding deflated (Z) when that is smaller
// once stored (binary is stored as base64, text with its quotes escaped), else as text (H, E).
func (d auditOutboxDoc) MarshalBSON() ([]byte, error) {
	doc := bson.D{{Key: "_id", Value: d.ID}}
	if z := auditDeflate(d.H, d.E); len(z)*4/3+16 < len(d.H)+len(d.E)+24 {
		doc = append(doc, bson.E{Key: "z", Value: bson.Binary{Data: z}})
	} else {
		doc = append(doc, bson.E{Key: "e", Value: d.E}, bson.E{Key: "h", Value: d.H})
	}
	doc = append(doc, bson.E{Key: auditActorField, Value: d.Actor}, bson.E{Key: auditActionField, Value: d.Action},
		bson.E{Key: auditTargetField, Value: d.Target})
	return bson.Marshal(doc)
}

// UnmarshalBSON reads an entry of either layout; an outbox entry stored deflated is read with
// its hash and encoding inflated into H and E (fields E and H, when present, are read as they
// are). One whose Z does not inflate is read with an E that does not decode, so that Verify
// reports it as changed and a reader fails on it, as on a changed E.
func (s *auditStored) UnmarshalBSON(raw []byte) error {
	type fields auditStored // without this method
	if err := bson.Unmarshal(raw, (*fields)(s)); err != nil {
		return err
	}
	if len(s.Z) == 0 {
		return nil
	}
	hash, enc, err := auditInflate(s.Z)
	if err != nil {
		hash, enc = "", fmt.Sprintf("compressed entry does not inflate: %v", err)
	}
	if s.E == "" {
		s.E = enc
	}
	if s.H == "" {
		s.H = hash
	}
	s.Z = nil
	return nil
}
