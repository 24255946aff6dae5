package forms

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	"tracecraft/engine"
)

//go:embed schema/form.schema.json
var formMetaSchemaJSON []byte

// FormMetaSchema is the meta-schema every form definition must satisfy.
var FormMetaSchema = engine.MustSchema("form.schema.json", formMetaSchemaJSON)

// MetaSchemaJSON returns the form meta-schema document (served to the designer).
func MetaSchemaJSON() []byte { return formMetaSchemaJSON }

// Compiled is a checked, ready-to-run form definition (a draft or a published version).
type Compiled struct {
	App     string
	Key     string
	Version int // 0 for a draft
	Def     Definition
	// Fields in the form's order: layout order first, then the rest in schema order.
	Fields []*Field
	byKey  map[string]*Field
	// Env is the expression environment of a record's data.
	Env engine.ExprEnv
	// data is the JSON Schema that record data must satisfy.
	data *engine.Schema
	// formulas in dependency order (top-level generated fields of phase 0).
	formulas []*Field
	// transitions by key, with compiled conditions.
	transitions map[string]*compiledTransition
	// perms by role, with compiled row conditions.
	perms map[string]*compiledPerm
}

type compiledTransition struct {
	Transition
	when *engine.Program
}

type compiledPerm struct {
	Permission
	actions   map[string]bool
	hidden    map[string]bool
	readOnly  map[string]bool
	condition *engine.Program
}

// Field finds a top-level field by key.
func (c *Compiled) Field(key string) (*Field, bool) {
	f, ok := c.byKey[key]
	return f, ok
}

// Compile checks a definition document against the meta-schema and compiles it: field types,
// options, expressions, references, layout, statuses and permissions. Every mistake is a
// FieldErrors item with the JSON pointer of the bad place in the document.
func Compile(ctx context.Context, cc CompileEnv, app string, raw []byte) (*Compiled, error) {
	def, err := engine.DecodeDefinition[Definition](FormMetaSchema, raw)
	if err != nil {
		return nil, err
	}
	props, err := orderedProperties(def.Schema)
	if err != nil {
		return nil, engine.Invalid("/schema", "invalid_json", map[string]any{"detail": err.Error()})
	}
	return compileDefinition(ctx, cc, app, *def, props)
}

// CompileEnv is what compiling needs from outside the definition.
type CompileEnv struct {
	Exprs  *engine.Exprs
	Lookup Lookup
}

// rawSchema mirrors the "schema" object for decoding.
type rawSchema struct {
	Type       string                     `json:"type"`
	Schema     string                     `json:"$schema"`
	Properties map[string]json.RawMessage `json:"properties"`
	Required   []string                   `json:"required"`
}

type rawField struct {
	Type    string          `json:"x-type"`
	Label   engine.Text     `json:"x-label"`
	Help    engine.Text     `json:"x-help"`
	Options json.RawMessage `json:"x-options"`
	Public  bool            `json:"x-public"`
	Filter  bool            `json:"x-filterable"`
	Items   *struct {
		Properties map[string]json.RawMessage `json:"properties"`
		Required   []string                   `json:"required"`
	} `json:"items"`
}

// propList is an object's properties in document order.
type propList struct {
	keys     []string
	raw      map[string]json.RawMessage
	required []string
}

func orderedProperties(schema json.RawMessage) (*propList, error) {
	var rs rawSchema
	if err := json.Unmarshal(schema, &rs); err != nil {
		return nil, err
	}
	var wrapper struct {
		Properties json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(schema, &wrapper); err != nil {
		return nil, err
	}
	keys, err := objectKeys(wrapper.Properties)
	if err != nil {
		return nil, err
	}
	return &propList{keys: keys, raw: rs.Properties, required: rs.Required}, nil
}

// objectKeys lists a JSON object's keys in document order.
func objectKeys(obj json.RawMessage) ([]string, error) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	var keys []string
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		keys = append(keys, t.(string))
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil, err
		}
	}
	return keys, nil
}

// standardKeywords are the JSON Schema keywords a field may carry besides the x- ones.
var standardKeywords = []string{"title", "description", "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf", "minLength", "maxLength", "pattern", "format", "minItems", "maxItems"}

func buildFields(props *propList, base string, parent *Field, fe *engine.FieldErrors) []*Field {
	req := map[string]bool{}
	for _, r := range props.required {
		req[r] = true
		if _, ok := props.raw[r]; !ok {
			fe.Add(base+"/required", "not_found", map[string]any{"value": r})
		}
	}
	var out []*Field
	for _, key := range props.keys {
		path := base + "/properties/" + key
		raw := props.raw[key]
		var rf rawField
		if err := json.Unmarshal(raw, &rf); err != nil {
			fe.Add(path, "invalid_json", map[string]any{"detail": err.Error()})
			continue
		}
		if ReservedKeys[key] {
			fe.Add(path, "reserved_key", map[string]any{"key": key})
		}
		f := &Field{Key: key, Type: rf.Type, Label: rf.Label, Help: rf.Help, Required: req[key], Public: rf.Public, Filterable: rf.Filter, Options: rf.Options, Parent: parent}
		var all map[string]any
		_ = json.Unmarshal(raw, &all)
		for _, kw := range standardKeywords {
			if v, ok := all[kw]; ok {
				if f.Keywords == nil {
					f.Keywords = map[string]any{}
				}
				f.Keywords[kw] = v
			}
		}
		impl, ok := FieldTypeByID(rf.Type)
		if !ok {
			fe.Add(path+"/x-type", "unknown_field_type", map[string]any{"type": rf.Type, "known": strings.Join(FieldTypeIDs(), ", ")})
		}
		f.impl = impl
		if rf.Items != nil {
			if parent != nil {
				fe.Add(path+"/items", "nested_subtable", nil)
			} else {
				var wrapper struct {
					Items struct {
						Properties json.RawMessage `json:"properties"`
					} `json:"items"`
				}
				_ = json.Unmarshal(raw, &wrapper)
				keys, err := objectKeys(wrapper.Items.Properties)
				if err != nil {
					fe.Add(path+"/items", "invalid_json", map[string]any{"detail": err.Error()})
				} else {
					sub := &propList{keys: keys, raw: rf.Items.Properties, required: rf.Items.Required}
					f.Fields = buildFields(sub, path+"/items", f, fe)
				}
			}
		} else if rf.Type == "subtable" {
			fe.Add(path+"/items", "required", nil)
		}
		out = append(out, f)
	}
	return out
}

// fieldPointer is the JSON pointer of a field in the definition.
func fieldPointer(f *Field) string {
	if f.Parent != nil {
		return "/schema/properties/" + f.Parent.Key + "/items/properties/" + f.Key
	}
	return "/schema/properties/" + f.Key
}

// prefixed re-roots field-relative errors ("x-options.pattern") at the field's pointer.
func prefixed(f *Field, err error, fe *engine.FieldErrors) {
	if err == nil {
		return
	}
	got, ok := engine.AsFieldErrors(err)
	if !ok {
		*fe = append(*fe, engine.FieldFault(fieldPointer(f), err)...) // not the definition's fault
		return
	}
	for _, e := range got {
		p := strings.TrimPrefix(e.Path, "/")
		p = strings.ReplaceAll(p, ".", "/")
		if p == "" {
			e.Path = fieldPointer(f)
		} else {
			e.Path = fieldPointer(f) + "/" + p
		}
		*fe = append(*fe, e)
	}
}

func compileDefinition(ctx context.Context, cc CompileEnv, app string, def Definition, props *propList) (*Compiled, error) {
	var fe engine.FieldErrors
	fields := buildFields(props, "/schema", nil, &fe)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	c := &Compiled{App: app, Key: def.Key, Def: def, byKey: map[string]*Field{}}
	for _, f := range fields {
		c.byKey[f.Key] = f
	}
	base := CompileContext{Ctx: ctx, App: app, Form: def.Key, Exprs: cc.Exprs, Lookup: cc.Lookup, Fields: fields}
	// Pass 1: each field's own options.
	each(fields, func(f *Field) {
		fc := base
		if f.Parent != nil {
			fc.Siblings = f.Parent.Fields
			if g, ok := f.impl.(Generated); ok && g.Phase() == 1 {
				fe.Add(fieldPointer(f)+"/x-type", "not_in_subtable", map[string]any{"type": f.Type})
				return
			}
		}
		prefixed(f, f.impl.Compile(&fc, f), &fe)
	})
	if err := fe.Err(); err != nil {
		return nil, err
	}
	// Pass 2: links between fields, with expression environments.
	c.Env = envOf(fields)
	base.Env = c.Env
	each(fields, func(f *Field) {
		l, ok := f.impl.(Linker)
		if !ok {
			return
		}
		fc := base
		if f.Parent != nil {
			fc.Siblings = f.Parent.Fields
			fc.RowEnv = envOf(f.Parent.Fields)
			fc.RowEnv["parent"] = engine.ExprObjectOf(c.Env)
		}
		prefixed(f, l.Link(&fc, f), &fe)
	})
	if err := fe.Err(); err != nil {
		return nil, err
	}
	var err error
	if c.formulas, err = formulaOrder(fields); err != nil {
		return nil, err
	}
	for _, f := range fields {
		if f.Type == "subtable" {
			if _, err := formulaOrder(f.Fields); err != nil {
				return nil, err
			}
		}
	}
	schema := ObjectSchema(fields)
	if c.data, err = engine.CompileSchemaValue("data.json", jsonRoundTrip(schema)); err != nil {
		return nil, engine.Invalid("/schema", "invalid", map[string]any{"detail": err.Error()})
	}
	c.Fields = layoutOrder(def.Layout, fields, &fe)
	if def.TitleField != "" {
		if _, ok := c.byKey[def.TitleField]; !ok {
			fe.Add("/titleField", "not_found", map[string]any{"value": def.TitleField})
		}
	}
	c.transitions = compileStatus(cc, def.Status, c.Env, &fe)
	c.perms = compilePermissions(cc, def.Permissions, c, &fe)
	checkFilterable(c.Fields, &fe) // in form order, as listIndexes counts them
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// each visits fields and their sub-table columns.
func each(fields []*Field, fn func(*Field)) {
	for _, f := range fields {
		fn(f)
		for _, col := range f.Fields {
			fn(col)
		}
	}
}

func envOf(fields []*Field) engine.ExprEnv {
	env := engine.ExprEnv{}
	for _, f := range fields {
		env[f.Key] = f.impl.ExprType(f)
	}
	return env
}

// jsonRoundTrip turns Go values into plain decoded JSON (the schema compiler's input).
func jsonRoundTrip(v any) any {
	b, _ := json.Marshal(v)
	var out any
	_ = json.Unmarshal(b, &out)
	return out
}

// formulaOrder sorts generated phase-0 fields so each runs after the fields it reads, and
// rejects cycles naming a field on the cycle.
func formulaOrder(fields []*Field) ([]*Field, error) {
	byKey := map[string]*Field{}
	for _, f := range fields {
		byKey[f.Key] = f
	}
	const (
		unseen = iota
		visiting
		done
	)
	state := map[string]int{}
	var order []*Field
	var visit func(f *Field, chain []string) error
	visit = func(f *Field, chain []string) error {
		switch state[f.Key] {
		case done:
			return nil
		case visiting:
			return engine.Invalid(fieldPointer(f)+"/x-options/expr", "formula_cycle", map[string]any{"cycle": strings.Join(append(chain, f.Key), " → ")})
		}
		state[f.Key] = visiting
		if d, ok := f.impl.(Dependent); ok {
			deps := d.Deps(f)
			sort.Strings(deps)
			for _, k := range deps {
				if g, ok := byKey[k]; ok {
					if err := visit(g, append(chain, f.Key)); err != nil {
						return err
					}
				}
			}
		}
		state[f.Key] = done
		if g, ok := f.impl.(Generated); ok && g.Phase() == 0 {
			order = append(order, f)
		}
		return nil
	}
	for _, f := range fields {
		if err := visit(f, nil); err != nil {
			return nil, err
		}
	}
	return order, nil
}

// layoutOrder checks the layout and returns the fields in the order the layout shows them;
// fields the layout leaves out follow in schema order.
func layoutOrder(l *Layout, fields []*Field, fe *engine.FieldErrors) []*Field {
	byKey := map[string]*Field{}
	for _, f := range fields {
		byKey[f.Key] = f
	}
	placed := map[string]bool{}
	var order []*Field
	var walk func(items []LayoutItem, path string, cols int)
	walk = func(items []LayoutItem, path string, cols int) {
		for i, it := range items {
			p := fmt.Sprintf("%s/%d", path, i)
			switch it.Kind {
			case "field":
				f, ok := byKey[it.Field]
				switch {
				case !ok:
					fe.Add(p+"/field", "not_found", map[string]any{"value": it.Field})
				case placed[it.Field]:
					fe.Add(p+"/field", "placed_twice", map[string]any{"value": it.Field})
				default:
					placed[it.Field] = true
					order = append(order, f)
				}
				if it.Span > cols {
					fe.Add(p+"/span", "too_big", map[string]any{"max": cols})
				}
			case "group":
				c := it.Columns
				if c == 0 {
					c = cols
				}
				walk(it.Items, p+"/items", c)
			case "tabs":
				for j, tab := range it.Tabs {
					walk(tab.Items, fmt.Sprintf("%s/tabs/%d/items", p, j), cols)
				}
			}
		}
	}
	if l != nil {
		cols := l.Columns
		if cols == 0 {
			cols = 1
		}
		walk(l.Items, "/layout/items", cols)
	}
	for _, f := range fields {
		if !placed[f.Key] {
			order = append(order, f)
		}
	}
	return order
}

func compileStatus(cc CompileEnv, sm *StatusModel, env engine.ExprEnv, fe *engine.FieldErrors) map[string]*compiledTransition {
	out := map[string]*compiledTransition{}
	if sm == nil {
		return out
	}
	states := map[string]bool{}
	for i, s := range sm.States {
		if states[s.Key] {
			fe.Add(fmt.Sprintf("/status/states/%d/key", i), "duplicate_value", map[string]any{"value": s.Key})
		}
		states[s.Key] = true
	}
	if !states[sm.Initial] {
		fe.Add("/status/initial", "not_found", map[string]any{"value": sm.Initial})
	}
	for i, t := range sm.Transitions {
		p := fmt.Sprintf("/status/transitions/%d", i)
		if out[t.Key] != nil {
			fe.Add(p+"/key", "duplicate_value", map[string]any{"value": t.Key})
		}
		for j, from := range t.From {
			if !states[from] {
				fe.Add(fmt.Sprintf("%s/from/%d", p, j), "not_found", map[string]any{"value": from})
			}
		}
		if !states[t.To] {
			fe.Add(p+"/to", "not_found", map[string]any{"value": t.To})
		}
		ct := &compiledTransition{Transition: t}
		if t.When != "" {
			prog, err := cc.Exprs.Compile(t.When, recordEnv(env), engine.ExprBool)
			if err != nil {
				fe.Add(p+"/when", "expr", map[string]any{"detail": err.Error()})
			}
			ct.when = prog
		}
		out[t.Key] = ct
	}
	return out
}

// recordEnv is the environment of conditions over a record: its fields plus status and user.
func recordEnv(env engine.ExprEnv) engine.ExprEnv {
	out := engine.ExprEnv{}
	for k, v := range env {
		out[k] = v
	}
	out["status"] = engine.ExprType{Kind: engine.ExprString}
	out["id"] = engine.ExprType{Kind: engine.ExprString}
	out["user"] = engine.ExprObjectOf(map[string]engine.ExprType{
		"username":   {Kind: engine.ExprString},
		"department": {Kind: engine.ExprString},
		"roles":      engine.ExprListOf(engine.ExprType{Kind: engine.ExprString}),
	})
	return out
}

func compilePermissions(cc CompileEnv, perms map[string]Permission, c *Compiled, fe *engine.FieldErrors) map[string]*compiledPerm {
	out := map[string]*compiledPerm{}
	for role, p := range perms {
		path := "/permissions/" + role
		cp := &compiledPerm{Permission: p, actions: map[string]bool{}, hidden: map[string]bool{}, readOnly: map[string]bool{}}
		for _, a := range p.Actions {
			cp.actions[a] = true
		}
		for i, h := range p.Hidden {
			if _, ok := c.byKey[h]; !ok {
				fe.Add(fmt.Sprintf("%s/hidden/%d", path, i), "not_found", map[string]any{"value": h})
			}
			cp.hidden[h] = true
		}
		// A formula that reads a hidden field would show what it hides (margin = price -
		// cost): it is hidden too, sub-table columns included.
		hideFormulasOverHidden(c, cp.hidden)
		for i, h := range p.ReadOnly {
			if _, ok := c.byKey[h]; !ok {
				fe.Add(fmt.Sprintf("%s/readOnly/%d", path, i), "not_found", map[string]any{"value": h})
			}
			cp.readOnly[h] = true
		}
		switch p.Scope {
		case "expr":
			if p.Condition == "" {
				fe.Add(path+"/condition", "required", nil)
				break
			}
			prog, err := cc.Exprs.Compile(p.Condition, recordEnv(c.Env), engine.ExprBool)
			if err != nil {
				fe.Add(path+"/condition", "expr", map[string]any{"detail": err.Error()})
			}
			cp.condition = prog
		default:
			if p.Condition != "" {
				fe.Add(path+"/condition", "condition_needs_expr_scope", nil)
			}
		}
		out[role] = cp
	}
	return out
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"unknown_field_type":         {ZH: "未知的字段类型 {type}（可用：{known}）", EN: "unknown field type {type} (known: {known})"},
		"reserved_key":               {ZH: "{key} 是保留名称，不能作为字段名", EN: "{key} is reserved and cannot be a field key"},
		"formula_cycle":              {ZH: "公式循环引用：{cycle}", EN: "formulas refer to each other in a cycle: {cycle}"},
		"not_in_subtable":            {ZH: "子表单中不能使用 {type} 字段", EN: "a {type} field cannot be a sub-table column"},
		"placed_twice":               {ZH: "字段 {value} 在布局中出现了两次", EN: "field {value} is placed twice in the layout"},
		"condition_needs_expr_scope": {ZH: "只有范围为 expr 时才能设置条件", EN: "a condition needs scope expr"},
	})
}
