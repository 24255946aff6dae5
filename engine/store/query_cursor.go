package store

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"
)

// cursor is a keyset position: the sort values and the _id of the last document of a page.
// Its text is base64url of a JSON array [order, [tag, value]…, [tag, id]] that holds scalars
// only; decoding checks every tag and value, so an edited cursor is either another valid
// position of the same order or refused — it is only ever bound as SQL parameters or used as
// MongoDB operands of known types, never as a document.
type cursor struct {
	keys []scalar
	id   scalar // rankString or rankObjectID
}

// Cursor tags.
const (
	tagNull     = "z"
	tagInt      = "i" // decimal text
	tagFloat    = "f"
	tagString   = "s"
	tagBool     = "b"
	tagDate     = "d" // epoch milliseconds, decimal text
	tagObjectID = "o" // 24 hex digits
)

func tagged(s scalar) ([]any, error) {
	switch s.rank {
	case rankNull:
		return []any{tagNull, nil}, nil
	case rankNumber:
		switch x := s.v.(type) {
		case int64:
			return []any{tagInt, strconv.FormatInt(x, 10)}, nil
		case float64:
			return []any{tagFloat, x}, nil
		}
	case rankString:
		return []any{tagString, s.v}, nil
	case rankBool:
		return []any{tagBool, s.v}, nil
	case rankDate:
		return []any{tagDate, strconv.FormatInt(s.v.(int64), 10)}, nil
	case rankObjectID:
		return []any{tagObjectID, s.v}, nil
	}
	return nil, fmt.Errorf("a page cannot end on a %s sort value: sort by scalar fields", rankName(s.rank))
}

func encodeCursor(p *qplan, c cursor) (string, error) {
	out := []any{p.fingerprint()}
	for _, k := range append(append([]scalar(nil), c.keys...), c.id) {
		t, err := tagged(k)
		if err != nil {
			return "", err
		}
		out = append(out, t)
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

func badCursor(detail string) error {
	return fmt.Errorf("%w: %s", ErrBadCursor, detail)
}

func decodeCursor(text string, p *qplan) (*cursor, error) {
	if len(text) > 8192 {
		return nil, badCursor("too long")
	}
	b, err := base64.RawURLEncoding.DecodeString(text)
	if err != nil {
		return nil, badCursor("not base64url")
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var parts []json.RawMessage
	if err := dec.Decode(&parts); err != nil || dec.More() {
		return nil, badCursor("not a cursor")
	}
	if len(parts) != len(p.sort)+2 {
		return nil, badCursor("another order's cursor")
	}
	var fp string
	if err := json.Unmarshal(parts[0], &fp); err != nil || fp != p.fingerprint() {
		return nil, badCursor("another order's cursor")
	}
	c := &cursor{}
	for i, raw := range parts[1:] {
		s, err := untag(raw)
		if err != nil {
			return nil, badCursor(err.Error())
		}
		if i == len(parts)-2 {
			if s.rank != rankString && s.rank != rankObjectID {
				return nil, badCursor("the _id is not a string")
			}
			c.id = s
		} else {
			c.keys = append(c.keys, s)
		}
	}
	return c, nil
}

func untag(raw json.RawMessage) (scalar, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var pair []any
	if err := dec.Decode(&pair); err != nil || len(pair) != 2 {
		return scalar{}, fmt.Errorf("a value is not [tag, value]")
	}
	tag, _ := pair[0].(string)
	str, isStr := pair[1].(string)
	switch tag {
	case tagNull:
		if pair[1] == nil {
			return scalar{rankNull, nil}, nil
		}
	case tagInt, tagDate:
		if n, err := strconv.ParseInt(str, 10, 64); isStr && err == nil && strconv.FormatInt(n, 10) == str {
			if tag == tagDate {
				return scalar{rankDate, n}, nil
			}
			return scalar{rankNumber, n}, nil
		}
	case tagFloat:
		if num, ok := pair[1].(json.Number); ok {
			if f, err := num.Float64(); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
				return numberScalar(f), nil
			}
		}
	case tagString:
		if isStr && utf8.ValidString(str) {
			return scalar{rankString, str}, nil
		}
	case tagBool:
		if b, ok := pair[1].(bool); ok {
			return scalar{rankBool, b}, nil
		}
	case tagObjectID:
		if _, err := hex.DecodeString(str); isStr && err == nil && len(str) == 24 && str == lowerHex(str) {
			return scalar{rankObjectID, str}, nil
		}
	}
	return scalar{}, fmt.Errorf("a value of the cursor is malformed")
}

func lowerHex(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'F' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
