package forms

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"

	"tracecraft/engine"
)

// Definitions as a user who does not design the app sees them. Hidden fields never appear in
// any answer (Permission): not their values, and not their place in the form either — the
// list's columns, the record drawer and the filter bar are built from the definition, so a
// hidden field left in it would show as an empty column. The permissions of the form are left
// out too: they are the designer's, and a row condition may name what a role should not know.

// hiddenForViewer are the fields (sub-table columns by dotted path) the definition of c leaves
// out for p, or nil when p sees the whole definition (app designers). They are the fields the
// record answers leave out whatever the record: hidden by a role that lets p read (access), or
// hidden by one of p's roles when none of them lets p read the field.
func (s *Service) hiddenForViewer(ctx context.Context, p *engine.Principal, c *Compiled) map[string]bool {
	acc := s.accessFor(ctx, p, c)
	if acc.full {
		return nil
	}
	hidden := map[string]bool{}
	for k := range acc.hidden {
		hidden[k] = true
	}
	readers := acc.scopes[ActRead]
	inForce := s.permsInForce(ctx, c)
	for _, role := range p.Roles {
		cp, ok := inForce[role]
		if !ok {
			continue
		}
		for k := range cp.hidden {
			shown := slices.ContainsFunc(readers, func(r *compiledPerm) bool { return !r.hidden[k] })
			if !shown {
				hidden[k] = true
			}
		}
	}
	return hidden
}

// viewForm is form f as p may see it (see hiddenForViewer): its draft loses the fields that
// the latest published version hides from p, and the permissions.
// It also says what p may do with the form's records (formCan).
func (s *Service) viewForm(ctx context.Context, p *engine.Principal, f *Form) {
	c := s.latestCompiled(ctx, f)
	s.formCan(ctx, p, f, c)
	if s.k.Auth.Can(ctx, p, f.App, engine.PermAppDesign) {
		return
	}
	hidden := map[string]bool{}
	if c != nil {
		hidden = s.hiddenForViewer(ctx, p, c)
	}
	f.Draft = viewDefinition(f.Draft, hidden)
}

// viewVersion is version v as p may see it (see hiddenForViewer).
func (s *Service) viewVersion(ctx context.Context, p *engine.Principal, v *Version) error {
	if s.k.Auth.Can(ctx, p, v.App, engine.PermAppDesign) {
		return nil
	}
	c, err := s.Compiled(ctx, v.App, v.Key, v.Number)
	if err != nil {
		return err
	}
	v.Definition = viewDefinition(v.Definition, s.hiddenForViewer(ctx, p, c))
	return nil
}

// viewDefinition returns def without the fields in hidden and without its permissions; def
// itself is left as it is. A nil hidden means the viewer sees everything.
func viewDefinition(def Definition, hidden map[string]bool) Definition {
	if hidden == nil {
		return def
	}
	def.Permissions = nil
	if len(hidden) == 0 {
		return def
	}
	def.Schema = schemaWithout(def.Schema, "", hidden)
	if def.Layout != nil {
		l := *def.Layout
		l.Items = layoutWithout(l.Items, hidden)
		def.Layout = &l
	}
	if hidden[def.TitleField] {
		def.TitleField = ""
	}
	return def
}

// schemaWithout rewrites an object schema without the properties whose path (prefix + key)
// is hidden, keeping the order of the rest; sub-tables lose their hidden columns the same way.
// A schema that is not an object of the expected shape is returned as it is.
func schemaWithout(schema json.RawMessage, prefix string, hidden map[string]bool) json.RawMessage {
	out, err := editObject(schema, func(key string, v json.RawMessage) (json.RawMessage, bool) {
		switch key {
		case "properties":
			props, err := editObject(v, func(field string, fv json.RawMessage) (json.RawMessage, bool) {
				if hidden[prefix+field] {
					return nil, false
				}
				sub, err := editObject(fv, func(k string, iv json.RawMessage) (json.RawMessage, bool) {
					if k == "items" {
						return schemaWithout(iv, prefix+field+".", hidden), true
					}
					return iv, true
				})
				if err != nil {
					return fv, true
				}
				return sub, true
			})
			if err != nil {
				return v, true
			}
			return props, true
		case "required":
			var req []string
			if json.Unmarshal(v, &req) != nil {
				return v, true
			}
			req = slices.DeleteFunc(req, func(r string) bool { return hidden[prefix+r] })
			b, _ := json.Marshal(req)
			return b, true
		}
		return v, true
	})
	if err != nil {
		return schema
	}
	return out
}

// editObject rewrites a JSON object member by member, in document order: edit returns the new
// value and whether to keep the member.
func editObject(obj json.RawMessage, edit func(key string, v json.RawMessage) (json.RawMessage, bool)) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errNotObject
	}
	var b bytes.Buffer
	b.WriteByte('{')
	first := true
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		nv, keep := edit(key, v)
		if !keep {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		k, _ := json.Marshal(key)
		b.Write(k)
		b.WriteByte(':')
		b.Write(nv)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// errNotObject is editObject's answer to JSON that is not an object.
var errNotObject = errors.New("not a JSON object")

// layoutWithout drops the layout items that place a hidden field; groups and tabs stay.
func layoutWithout(items []LayoutItem, hidden map[string]bool) []LayoutItem {
	out := make([]LayoutItem, 0, len(items))
	for _, it := range items {
		if it.Kind == "field" && hidden[it.Field] {
			continue
		}
		if len(it.Items) > 0 {
			it.Items = layoutWithout(it.Items, hidden)
		}
		if len(it.Tabs) > 0 {
			tabs := make([]LayoutTab, len(it.Tabs))
			for i, tab := range it.Tabs {
				tabs[i] = LayoutTab{Label: tab.Label, Items: layoutWithout(tab.Items, hidden)}
			}
			it.Tabs = tabs
		}
		out = append(out, it)
	}
	return out
}
