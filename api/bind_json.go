package api

import (
	"encoding"
	"encoding/json"
	"errors"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"tracecraft/engine"
)

// encoding/json lets through what a strict reading of a request must not: a key given twice
// (the last wins, so what was checked is not what is stored), lone UTF-16 surrogates and
// invalid UTF-8 (silently turned into U+FFFD), NUL characters, numbers out of float64's range
// (reported at the enclosing struct field), keys that match a field only when case is ignored,
// and nesting as deep as the body is long. checkJSON finds each of them first and names the
// field, as a dotted path ("data.lines.1.qty"), the same way the rest of the API names
// request fields (checkDocument: as a JSON pointer, the way definitions' errors name them).
// Malformed JSON is left to the decoder, whose messages say where.

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"duplicate_key":  {ZH: "重复出现", EN: "appears more than once"},
		"lone_surrogate": {ZH: "含有不成对的 UTF-16 代理项（\\ud800–\\udfff）", EN: "contains a lone UTF-16 surrogate (\\ud800–\\udfff)"},
		"invalid_utf8":   {ZH: "含有无效的 UTF-8 字节", EN: "contains bytes that are not valid UTF-8"},
		"nul_character":  {ZH: "不能含有 NUL 字符（\\u0000）", EN: "must not contain the NUL character (\\u0000)"},
		"too_deep":       {ZH: "嵌套超过 {max} 层", EN: "is nested more than {max} levels deep"},
		"out_of_range":   {ZH: "数值超出范围", EN: "is a number out of range"},
	})
}

// jsonMaxDepth is how deeply objects and arrays may nest in a request.
const jsonMaxDepth = 256

// errJSONSyntax stops the check at malformed JSON: the decoder reports it.
var errJSONSyntax = errors.New("json syntax")

// checkJSON checks data, which is to be decoded into a value of type t (nil when unknown), as
// the comment above says. It returns field errors, or nil (malformed JSON included).
func checkJSON(data []byte, t reflect.Type) error {
	k := jsonChecker{data: data, target: -1}
	return k.check(t)
}

// checkDocument is checkJSON for documents decoded later by their engine (definitions): any
// shape, fields named by JSON pointer ("/schema/properties/qty").
func checkDocument(data []byte) error {
	k := jsonChecker{data: data, target: -1, pointer: true}
	return k.check(nil)
}

func (k *jsonChecker) check(t reflect.Type) error {
	err := k.value(t)
	if errors.Is(err, errJSONSyntax) {
		return nil
	}
	return err
}

// jsonPathAt is the dotted path of the innermost value of data whose bytes end at or hold
// offset (as encoding/json's UnmarshalTypeError.Offset gives it); ok is false when none does.
func jsonPathAt(data []byte, offset int64) (path string, ok bool) {
	k := jsonChecker{data: data, target: int(offset)}
	_ = k.value(nil)
	return k.found, k.hasFound
}

type jsonChecker struct {
	data    []byte
	pos     int
	depth   int
	path    []jsonStep
	pointer bool // name paths as JSON pointers
	// target, when not negative, asks for the path of the innermost value holding it.
	target   int
	found    string
	hasFound bool
}

// jsonStep is one step of a path: a key, or an index when key is empty and isIndex is set.
type jsonStep struct {
	key     string
	index   int
	isIndex bool
}

func (k *jsonChecker) pathString() string {
	var b strings.Builder
	for i, s := range k.path {
		switch {
		case k.pointer:
			b.WriteByte('/')
			if !s.isIndex {
				b.WriteString(strings.NewReplacer("~", "~0", "/", "~1").Replace(s.key))
				continue
			}
		case i > 0:
			b.WriteByte('.')
		}
		if s.isIndex {
			b.WriteString(strconv.Itoa(s.index))
		} else {
			b.WriteString(s.key)
		}
	}
	return b.String()
}

func (k *jsonChecker) fail(code string, params map[string]any) error {
	return engine.Invalid(k.pathString(), code, params)
}

func (k *jsonChecker) skipSpace() {
	for k.pos < len(k.data) {
		switch k.data[k.pos] {
		case ' ', '\t', '\n', '\r':
			k.pos++
		default:
			return
		}
	}
}

func (k *jsonChecker) value(t reflect.Type) error {
	k.skipSpace()
	if k.pos >= len(k.data) {
		return errJSONSyntax
	}
	start := k.pos
	var err error
	switch c := k.data[k.pos]; {
	case c == '{':
		err = k.object(t)
	case c == '[':
		err = k.array(t)
	case c == '"':
		_, err = k.str(false)
	case c == '-' || c >= '0' && c <= '9':
		err = k.number()
	case c == 't':
		err = k.literal("true")
	case c == 'f':
		err = k.literal("false")
	case c == 'n':
		err = k.literal("null")
	default:
		err = errJSONSyntax
	}
	if err == nil && k.target >= 0 && !k.hasFound && start < k.target && k.target <= k.pos {
		k.found, k.hasFound = k.pathString(), true // the first value to end around it is the innermost
	}
	return err
}

func (k *jsonChecker) literal(word string) error {
	if !strings.HasPrefix(string(k.data[k.pos:min(len(k.data), k.pos+len(word))]), word) {
		return errJSONSyntax
	}
	k.pos += len(word)
	return nil
}

func (k *jsonChecker) enter() error {
	if k.depth++; k.depth > jsonMaxDepth {
		return k.fail("too_deep", map[string]any{"max": jsonMaxDepth})
	}
	return nil
}

func (k *jsonChecker) object(t reflect.Type) error {
	if err := k.enter(); err != nil {
		return err
	}
	k.pos++ // {
	fields, elem := jsonShape(t)
	var seen map[string]bool
	k.skipSpace()
	if k.pos < len(k.data) && k.data[k.pos] == '}' {
		k.pos++
		k.depth--
		return nil
	}
	for {
		k.skipSpace()
		if k.pos >= len(k.data) || k.data[k.pos] != '"' {
			return errJSONSyntax
		}
		key, err := k.str(true)
		if err != nil {
			return err
		}
		k.path = append(k.path, jsonStep{key: key})
		var ct reflect.Type
		name := key
		switch {
		case fields != nil:
			f, ok := fields.lookup(key)
			if !ok {
				return k.fail("unknown_field", nil)
			}
			ct, name = f.typ, f.name
		case elem != nil:
			ct = elem
		}
		if seen == nil {
			seen = map[string]bool{}
		}
		if seen[name] {
			return k.fail("duplicate_key", nil)
		}
		seen[name] = true
		k.skipSpace()
		if k.pos >= len(k.data) || k.data[k.pos] != ':' {
			return errJSONSyntax
		}
		k.pos++
		if err := k.value(ct); err != nil {
			return err
		}
		k.path = k.path[:len(k.path)-1]
		if done, err := k.after('}'); done || err != nil {
			return err
		}
	}
}

// after reads what follows a member or an element: a comma (more follow) or the closing
// bracket (done, and the container is left).
func (k *jsonChecker) after(closing byte) (done bool, err error) {
	k.skipSpace()
	if k.pos >= len(k.data) {
		return false, errJSONSyntax
	}
	switch k.data[k.pos] {
	case ',':
		k.pos++
		return false, nil
	case closing:
		k.pos++
		k.depth--
		return true, nil
	}
	return false, errJSONSyntax
}

func (k *jsonChecker) array(t reflect.Type) error {
	if err := k.enter(); err != nil {
		return err
	}
	k.pos++ // [
	_, elem := jsonShape(t)
	k.skipSpace()
	if k.pos < len(k.data) && k.data[k.pos] == ']' {
		k.pos++
		k.depth--
		return nil
	}
	for i := 0; ; i++ {
		k.path = append(k.path, jsonStep{index: i, isIndex: true})
		if err := k.value(elem); err != nil {
			return err
		}
		k.path = k.path[:len(k.path)-1]
		if done, err := k.after(']'); done || err != nil {
			return err
		}
	}
}

// str checks a string from its opening quote; keep asks for its decoded text (object keys).
// Errors in a key are reported at the object that holds it.
func (k *jsonChecker) str(keep bool) (string, error) {
	k.pos++ // "
	var b []byte
	for k.pos < len(k.data) {
		c := k.data[k.pos]
		switch {
		case c == '"':
			k.pos++
			return string(b), nil
		case c == '\\':
			if k.pos+1 >= len(k.data) {
				return "", errJSONSyntax
			}
			e := k.data[k.pos+1]
			if e != 'u' {
				d, ok := jsonEscapes[e]
				if !ok {
					return "", errJSONSyntax
				}
				if keep {
					b = append(b, d)
				}
				k.pos += 2
				continue
			}
			r, ok := k.hex4(k.pos + 2)
			if !ok {
				return "", errJSONSyntax
			}
			k.pos += 6
			switch {
			case r == 0:
				return "", k.fail("nul_character", nil)
			case r >= 0xDC00 && r < 0xE000:
				return "", k.fail("lone_surrogate", nil)
			case r >= 0xD800 && r < 0xDC00:
				lo, ok := rune(0), false
				if k.pos+1 < len(k.data) && k.data[k.pos] == '\\' && k.data[k.pos+1] == 'u' {
					lo, ok = k.hex4(k.pos + 2)
				}
				if !ok || lo < 0xDC00 || lo >= 0xE000 {
					return "", k.fail("lone_surrogate", nil)
				}
				k.pos += 6
				r = 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00)
			}
			if keep {
				b = utf8.AppendRune(b, r)
			}
		case c == 0:
			return "", k.fail("nul_character", nil)
		case c < 0x20:
			return "", errJSONSyntax
		case c < utf8.RuneSelf:
			if keep {
				b = append(b, c)
			}
			k.pos++
		default:
			r, size := utf8.DecodeRune(k.data[k.pos:])
			if r == utf8.RuneError && size == 1 {
				return "", k.fail("invalid_utf8", nil)
			}
			if keep {
				b = append(b, k.data[k.pos:k.pos+size]...)
			}
			k.pos += size
		}
	}
	return "", errJSONSyntax
}

var jsonEscapes = map[byte]byte{'"': '"', '\\': '\\', '/': '/', 'b': '\b', 'f': '\f', 'n': '\n', 'r': '\r', 't': '\t'}

func (k *jsonChecker) hex4(at int) (rune, bool) {
	if at+4 > len(k.data) {
		return 0, false
	}
	n, err := strconv.ParseUint(string(k.data[at:at+4]), 16, 32)
	return rune(n), err == nil
}

// number checks a number's grammar and that it fits a float64 (what encoding/json decodes it
// into when the target does not say).
func (k *jsonChecker) number() error {
	start := k.pos
	digits := func() int {
		n := 0
		for k.pos < len(k.data) && k.data[k.pos] >= '0' && k.data[k.pos] <= '9' {
			k.pos++
			n++
		}
		return n
	}
	if k.data[k.pos] == '-' {
		k.pos++
	}
	intStart := k.pos
	if n := digits(); n == 0 || n > 1 && k.data[intStart] == '0' {
		return errJSONSyntax
	}
	simple := k.pos-start <= 15
	if k.pos < len(k.data) && k.data[k.pos] == '.' {
		k.pos++
		if digits() == 0 {
			return errJSONSyntax
		}
		simple = false
	}
	if k.pos < len(k.data) && (k.data[k.pos] == 'e' || k.data[k.pos] == 'E') {
		k.pos++
		if k.pos < len(k.data) && (k.data[k.pos] == '+' || k.data[k.pos] == '-') {
			k.pos++
		}
		if digits() == 0 {
			return errJSONSyntax
		}
		simple = false
	}
	if simple {
		return nil
	}
	if _, err := strconv.ParseFloat(string(k.data[start:k.pos]), 64); err != nil {
		return k.fail("out_of_range", nil)
	}
	return nil
}

// jsonFieldSet are the JSON names of a struct's fields, as encoding/json sees them.
type jsonFieldSet map[string]jsonField

type jsonField struct {
	name   string // the field's JSON name
	typ    reflect.Type
	tagged bool // the name comes from a json tag
}

// lookup finds the field key names: by its exact JSON name, or, for a field without a json
// tag (whose name is the Go name, "Name"), with case ignored as encoding/json does. A tagged
// field must be named as tagged.
func (fs jsonFieldSet) lookup(key string) (jsonField, bool) {
	if f, ok := fs[key]; ok {
		return f, true
	}
	for name, f := range fs {
		if !f.tagged && strings.EqualFold(name, key) {
			return f, true
		}
	}
	return jsonField{}, false
}

var jsonShapes sync.Map // reflect.Type → jsonFieldSet

var (
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// jsonShape says what t expects of an object or array: the fields of a struct, or the element
// type of a map or slice. Both are nil when t is unknown, an interface, or decodes itself.
func jsonShape(t reflect.Type) (jsonFieldSet, reflect.Type) {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || reflect.PointerTo(t).Implements(jsonUnmarshalerType) || reflect.PointerTo(t).Implements(textUnmarshalerType) {
		return nil, nil
	}
	switch t.Kind() {
	case reflect.Struct:
		if fs, ok := jsonShapes.Load(t); ok {
			return fs.(jsonFieldSet), nil
		}
		fs := jsonFieldSet{}
		collectJSONFields(t, fs, 0)
		jsonShapes.Store(t, fs)
		return fs, nil
	case reflect.Map, reflect.Slice, reflect.Array:
		return nil, t.Elem()
	}
	return nil, nil
}

// collectJSONFields adds t's fields to fs; fields of embedded structs come after (and give
// way to) the struct's own, as in encoding/json.
func collectJSONFields(t reflect.Type, fs jsonFieldSet, depth int) {
	if depth > 8 {
		return
	}
	var embedded []reflect.Type
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				embedded = append(embedded, ft)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		tagged := name != ""
		if !tagged {
			name = f.Name
		}
		fs[name] = jsonField{name: name, typ: f.Type, tagged: tagged}
	}
	for _, et := range embedded {
		sub := jsonFieldSet{}
		collectJSONFields(et, sub, depth+1)
		for n, f := range sub {
			if _, taken := fs[n]; !taken {
				fs[n] = f
			}
		}
	}
}
