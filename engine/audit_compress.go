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

// auditEntryMax bounds an entry's stored encoding — for an outbox entry its hash, a newline and
// its encoding, what Z inflates to: Append refuses a larger entry (auditEntrySize), and a Z that
// inflates to more is a changed entry, so that a changed Z cannot make a reader allocate
// without end. 16 MiB is what a document may hold, so the same as when the encoding was stored
// as text; entries are far smaller (a record's before and after, and its event).
const auditEntryMax = 16 << 20

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

// auditInflaters are deflate readers to Reset (each holds a 32 KiB window and its tables);
// auditInflateBufs the buffers they inflate into first.
var (
	auditInflaters   sync.Pool
	auditInflateBufs = sync.Pool{New: func() any { return new([64 << 10]byte) }}
)

// auditInflate is auditDeflate undone. It reads at most auditEntryMax bytes, into a reused
// buffer and then into pieces as large as what was read so far, none copied until the end: a Z
// made to inflate to more than an entry may hold costs that much memory once, and an entry one
// allocation of its size. The stream must end exactly where Z does.
func auditInflate(z []byte) (hash, enc string, err error) {
	src := bytes.NewReader(z) // an io.ByteReader: flate reads no byte past the stream's end
	r, _ := auditInflaters.Get().(io.ReadCloser)
	if r == nil {
		r = flate.NewReaderDict(src, []byte(auditZDict))
	} else if err := r.(flate.Resetter).Reset(src, []byte(auditZDict)); err != nil {
		return "", "", err
	}
	defer auditInflaters.Put(r)
	first := auditInflateBufs.Get().(*[64 << 10]byte)
	defer auditInflateBufs.Put(first)
	lr := io.LimitReader(r, auditEntryMax+1)
	var pieces [][]byte
	total := 0
	for total <= auditEntryMax {
		p := first[:]
		if total > 0 {
			p = make([]byte, min(total, auditEntryMax+1-total))
		}
		n, err := io.ReadFull(lr, p)
		pieces, total = append(pieces, p[:n]), total+n
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			return "", "", err
		}
	}
	switch {
	case total > auditEntryMax:
		return "", "", fmt.Errorf("it inflates to more than %d MiB, more than an entry may hold", auditEntryMax>>20)
	case src.Len() > 0:
		return "", "", fmt.Errorf("%d bytes follow the end of its compressed stream", src.Len())
	}
	var out strings.Builder
	out.Grow(total)
	for _, p := range pieces {
		out.Write(p)
	}
	hash, enc, ok := strings.Cut(out.String(), "\n")
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
// are). One whose Z is not binary or does not inflate is read with bad set, so that Verify
// reports it as changed and a reader fails on it, as on a changed E.
func (s *auditStored) UnmarshalBSON(raw []byte) error {
	type fields auditStored // without this method
	if err := bson.Unmarshal(raw, (*fields)(s)); err != nil {
		return err
	}
	for _, f := range s.copies() {
		*f.text, _ = f.raw.StringValueOK()
	}
	z := s.Z
	s.Z = bson.RawValue{}
	if z.Type == 0 {
		return nil
	}
	s.zipped = true
	_, data, ok := z.BinaryOK()
	if !ok {
		s.bad = fmt.Errorf("its compressed field z is %s, not binary", z.Type)
		return nil
	}
	hash, enc, err := auditInflate(data)
	if err != nil {
		s.bad = fmt.Errorf("its compressed field z does not inflate: %w", err)
		return nil
	}
	if s.E == "" {
		s.E = enc
	}
	if s.H == "" {
		s.H = hash
	}
	return nil
}

// auditCopy is one of an entry's actor, action and target fields, as stored and as text.
type auditCopy struct {
	name string
	raw  bson.RawValue
	text *string
}

// copies are the entry's actor, action and target fields.
func (s *auditStored) copies() [3]auditCopy {
	return [3]auditCopy{{auditActorField, s.RawActor, &s.Actor}, {auditActionField, s.RawAction, &s.Action},
		{auditTargetField, s.RawTarget, &s.Target}}
}
