package engine

import (
	"bytes"
	"context"
	"encoding"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// DefinitionKind is one kind of definition document ("forms.form", "workflow.flow", …) that an
// engine registers at start-up. A definition is kept as raw JSON until it is saved or loaded;
// Validate then turns it into the engine's compiled value, in Caddy's order: decode strictly
// (unknown fields rejected), compile (expressions, schemas, references), check.
type DefinitionKind struct {
	// ID is the namespaced id, "<engine>.<kind>": lowercase letters, one dot, then lowercase
	// letters and underscores.
	ID string
	// Label names the kind in the builder.
	Label Text
	// Schema is the kind's meta-schema (a JSON Schema document) for the builder and the API
	// docs; optional. Validate is what enforces it.
	Schema json.RawMessage
	// Validate decodes raw strictly (DecodeStrict does that part), compiles and checks it. It
	// returns the compiled value, or FieldErrors whose paths are JSON pointers into raw.
	Validate func(ctx context.Context, raw json.RawMessage) (any, error)
}

// registryKindID is the shape of a definition kind's id.
var registryKindID = regexp.MustCompile(`^[a-z]+\.[a-z_]+$`)

// Registry holds the definition kinds of a running platform. The zero value is empty and ready;
// it is safe for concurrent use.
type Registry struct {
	mu    sync.RWMutex
	kinds map[string]DefinitionKind
}

// RegisterKind adds a kind. An id that is malformed or already taken, or a kind without a
// Validate hook, is an error.
func (r *Registry) RegisterKind(k DefinitionKind) error {
	if !registryKindID.MatchString(k.ID) {
		return fmt.Errorf("register definition kind %q: id must look like \"engine.kind\" (%s)", k.ID, registryKindID)
	}
	if k.Validate == nil {
		return fmt.Errorf("register definition kind %q: no Validate hook", k.ID)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.kinds[k.ID]; dup {
		return fmt.Errorf("register definition kind %q: already registered", k.ID)
	}
	if r.kinds == nil {
		r.kinds = map[string]DefinitionKind{}
	}
	r.kinds[k.ID] = k
	return nil
}

// Kind looks up a kind by id.
func (r *Registry) Kind(id string) (DefinitionKind, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	k, ok := r.kinds[id]
	return k, ok
}

// Kinds lists the registered kinds sorted by id.
func (r *Registry) Kinds() []DefinitionKind {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]DefinitionKind, 0, len(r.kinds))
	for _, k := range r.kinds {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// Validate runs the Validate hook of kind id on raw and returns the compiled value. An unknown
// kind wraps ErrNotFound; a bad definition gives the hook's FieldErrors unwrapped, so the API can
// show them field by field.
func (r *Registry) Validate(ctx context.Context, id string, raw json.RawMessage) (any, error) {
	k, ok := r.Kind(id)
	if !ok {
		return nil, fmt.Errorf("validate %s definition: unknown kind: %w", id, ErrNotFound)
	}
	v, err := k.Validate(ctx, raw)
	if err != nil {
		if fe, ok := AsFieldErrors(err); ok {
			return nil, fe
		}
		return nil, fmt.Errorf("validate %s definition: %w", id, err)
	}
	return v, nil
}

// Set is a registry of plugin-like things of one type — field types, node types, rule actions,
// print elements — keyed by id. Engines fill it from init, so registering an id twice is a
// programmer error and panics. The zero value is ready; it is safe for concurrent use.
type Set[T any] struct {
	mu sync.RWMutex
	m  map[string]T
}

// Register adds v under id; it panics when id is empty or already registered.
func (s *Set[T]) Register(id string, v T) {
	if id == "" {
		panic("engine: Set.Register with an empty id")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, dup := s.m[id]; dup {
		panic("engine: " + id + " registered twice")
	}
	if s.m == nil {
		s.m = map[string]T{}
	}
	s.m[id] = v
}

// Get looks up the value registered under id.
func (s *Set[T]) Get(id string) (T, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	v, ok := s.m[id]
	return v, ok
}

// IDs lists the registered ids sorted.
func (s *Set[T]) IDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.m))
	for id := range s.m {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// DecodeStrict decodes the JSON document raw into v (a pointer), rejecting unknown fields,
// values of the wrong type, malformed JSON and trailing data. Its error is a FieldErrors with one
// item whose path is a JSON pointer into raw ("/nodes/2/kind"); codes: invalid_json,
// unknown_field, wrong_type. Definition kinds use it as the first step of Validate.
func DecodeStrict(raw []byte, v any) error {
	if rv := reflect.ValueOf(v); rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("decode strictly: need a non-nil pointer, not %T", v)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return Invalid("", "invalid_json", map[string]any{"detail": "empty document"})
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return Invalid("", "invalid_json", map[string]any{"detail": "unexpected data after the document"})
		}
		return nil
	}
	var syn *json.SyntaxError
	if errors.As(err, &syn) {
		line, col := registryLineCol(raw, syn.Offset)
		return Invalid("", "invalid_json", map[string]any{"detail": fmt.Sprintf("line %d, column %d: %s", line, col, syn.Error())})
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return Invalid("", "invalid_json", map[string]any{"detail": "unexpected end of document"})
	}
	// The decoder's messages name a field without its array indexes (and an unknown field
	// without its parents); walk the document against v's type to point at the exact place.
	var tree any
	gd := json.NewDecoder(bytes.NewReader(raw))
	gd.UseNumber()
	if gd.Decode(&tree) == nil {
		if fe := registryLocate(tree, reflect.TypeOf(v), ""); fe != nil {
			return FieldErrors{*fe}
		}
	}
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return Invalid(registryPointer(strings.Split(te.Field, ".")...), "wrong_type", map[string]any{"want": te.Type.String()})
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		if s, uerr := strconv.Unquote(name); uerr == nil {
			name = s
		}
		return Invalid(registryPointer(name), "unknown_field", nil)
	}
	return Invalid("", "invalid_json", map[string]any{"detail": err.Error()})
}

var (
	registryJSONUnmarshaler = reflect.TypeFor[json.Unmarshaler]()
	registryTextUnmarshaler = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// registryLocate finds the first place (keys in sorted order) where the generic JSON value v
// does not fit type t, the way encoding/json would decode it; nil when it fits.
func registryLocate(v any, t reflect.Type, ptr string) *FieldError {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if v == nil {
		return nil // null fits everything
	}
	pt := reflect.PointerTo(t)
	_, isString := v.(string)
	if pt.Implements(registryJSONUnmarshaler) || isString && pt.Implements(registryTextUnmarshaler) {
		// The type decodes itself (time.Time, json.RawMessage, …): let it say what is wrong.
		b, err := json.Marshal(v)
		if err == nil {
			err = json.Unmarshal(b, reflect.New(t).Interface())
		}
		if err != nil {
			return &FieldError{Path: ptr, Code: "invalid_format", Params: map[string]any{"detail": err.Error()}}
		}
		return nil
	}
	wrong := func(want string) *FieldError {
		return &FieldError{Path: ptr, Code: "wrong_type", Params: map[string]any{"want": want}}
	}
	switch t.Kind() {
	case reflect.Interface:
		return nil
	case reflect.Struct:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrong("object")
		}
		fields := registryFields(t)
		for _, key := range registrySortedKeys(obj) {
			f, ok := fields[key]
			if !ok {
				for name, ff := range fields { // encoding/json matches names case-insensitively
					if strings.EqualFold(name, key) {
						f, ok = ff, true
						break
					}
				}
			}
			if !ok {
				return &FieldError{Path: ptr + "/" + registryEscape(key), Code: "unknown_field"}
			}
			if f.asString {
				continue
			}
			if fe := registryLocate(obj[key], f.typ, ptr+"/"+registryEscape(key)); fe != nil {
				return fe
			}
		}
	case reflect.Map:
		obj, ok := v.(map[string]any)
		if !ok {
			return wrong("object")
		}
		for _, key := range registrySortedKeys(obj) {
			if fe := registryLocate(obj[key], t.Elem(), ptr+"/"+registryEscape(key)); fe != nil {
				return fe
			}
		}
	case reflect.Slice, reflect.Array:
		if _, ok := v.(string); ok && t.Elem().Kind() == reflect.Uint8 {
			return nil // base64 bytes
		}
		arr, ok := v.([]any)
		if !ok {
			return wrong("array")
		}
		for i, e := range arr {
			if fe := registryLocate(e, t.Elem(), ptr+"/"+strconv.Itoa(i)); fe != nil {
				return fe
			}
		}
	case reflect.String:
		if _, ok := v.(string); !ok {
			return wrong("string")
		}
	case reflect.Bool:
		if _, ok := v.(bool); !ok {
			return wrong("boolean")
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		n, ok := v.(json.Number)
		if !ok {
			return wrong("integer")
		}
		if _, err := strconv.ParseInt(string(n), 10, 64); err != nil {
			if _, err := strconv.ParseUint(string(n), 10, 64); err != nil {
				return wrong("integer")
			}
		}
	case reflect.Float32, reflect.Float64:
		if _, ok := v.(json.Number); !ok {
			return wrong("number")
		}
	}
	return nil
}

type registryField struct {
	typ      reflect.Type
	asString bool // `json:",string"`: a number or bool quoted; not worth checking here
}

// registryFields maps the JSON names of t's fields, promoted fields of embedded structs
// included, to their types.
func registryFields(t reflect.Type) map[string]registryField {
	out := map[string]registryField{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			for n, pf := range registryFields(ft) {
				if _, shadowed := out[n]; !shadowed {
					out[n] = pf
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = registryField{typ: f.Type, asString: strings.Contains(","+opts+",", ",string,")}
	}
	return out
}

func registrySortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// registryEscape escapes one JSON pointer token (RFC 6901).
func registryEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// registryPointer builds a JSON pointer from tokens, skipping empty ones.
func registryPointer(tokens ...string) string {
	var b strings.Builder
	for _, t := range tokens {
		if t != "" {
			b.WriteString("/" + registryEscape(t))
		}
	}
	return b.String()
}

// registryLineCol turns a byte offset into a 1-based line and column (in runes).
func registryLineCol(raw []byte, off int64) (line, col int) {
	if off > int64(len(raw)) {
		off = int64(len(raw))
	}
	before := raw[:off]
	line = bytes.Count(before, []byte{'\n'}) + 1
	col = len([]rune(string(before[bytes.LastIndexByte(before, '\n')+1:])))
	return line, max(col, 1)
}
