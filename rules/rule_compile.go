package rules

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/robfig/cron/v3"

	"tracecraft/engine"
)

//go:embed schema/rule.schema.json
var ruleMetaSchemaJSON []byte

// RuleMetaSchema is the meta-schema every rule definition must satisfy.
var RuleMetaSchema = engine.MustSchema("rule.schema.json", ruleMetaSchemaJSON)

// RuleMetaSchemaJSON returns the rule meta-schema document (served to the editor).
func RuleMetaSchemaJSON() []byte { return ruleMetaSchemaJSON }

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"rule_field_type": {ZH: "日期触发只能用日期或日期时间字段", EN: "a date trigger needs a date or datetime field"},
		"rule_not_indexed": {ZH: "字段「{field}」未设为可筛选：日期触发每天按它查询记录，请在表单中勾选“可筛选”",
			EN: "field {field} is not filterable: the date trigger looks records up by it daily; mark it filterable in the form"},
		"rule_no_status": {ZH: "表单没有状态", EN: "the form has no status"},
		"rule_match_not_indexed": {ZH: "字段「{field}」未设为可筛选：按它查找记录需要索引，请在表单中勾选“可筛选”",
			EN: "field {field} is not filterable: finding records by it needs its index; mark it filterable in the form"},
		"rule_needs_record": {ZH: "按计划每次触发只运行一次的规则没有记录，此动作需要记录（可用“匹配记录”按记录运行）",
			EN: "a schedule rule that runs once per firing has no record, and this action needs one (add match to run per record)"},
		"rule_bad_cron":     {ZH: "计划格式不正确：{detail}", EN: "invalid schedule: {detail}"},
		"rule_bad_timezone": {ZH: "未知的时区 {value}", EN: "unknown time zone {value}"},
	})
}

// Compiled is a checked rule version, ready to run.
type Compiled struct {
	App     string
	Key     string
	Version int // 0 for a draft (dry run)
	Def     Definition
	cond    *engine.Program // nil: always
	from    any             // field_changed's From, decoded; nil when absent
	hasFrom bool
	to      any
	hasTo   bool
	actions []compiledAction
	// schedule is a schedule trigger's cron schedule, in its time zone; match its records.
	schedule cron.Schedule
	match    *compiledMatch
}

type compiledAction struct {
	typ    string
	kernel string // the kernel action it runs
	params prepared
	run    runFunc // the kind's own run (actionKind.run), if any
}

// conditionEnv is what a rule's expressions read: the record's data after the change
// (record), before it (previous; nil on create and in the daily sweep), its status, the user
// who made the change (user.username; "system" in the sweep) and the rule (rule.key,
// rule.version). now(), today(), addDays and daysBetween are the kernel's expression
// functions, in the plant's time zone.
var conditionEnv = engine.ExprEnv{
	"record":   {Kind: engine.ExprObject},
	"previous": {Kind: engine.ExprObject},
	"status":   {Kind: engine.ExprString},
	"user":     engine.ExprObjectOf(map[string]engine.ExprType{"username": {Kind: engine.ExprString}}),
	"rule":     engine.ExprObjectOf(map[string]engine.ExprType{"key": {Kind: engine.ExprString}, "version": {Kind: engine.ExprInt}}),
	// flow is the flow event of a flow trigger (empty strings otherwise): the flow's key, the
	// instance, the outcome (flow_finished) and the node (node_entered, task_overdue).
	"flow": engine.ExprObjectOf(map[string]engine.ExprType{"key": {Kind: engine.ExprString}, "instance": {Kind: engine.ExprString},
		"outcome": {Kind: engine.ExprString}, "node": {Kind: engine.ExprString}}),
	// target is, in update_records' values, the data of the record being updated (nil
	// elsewhere).
	"target": {Kind: engine.ExprObject},
}

// compileCtx is what an action kind's compile step checks against.
type compileCtx struct {
	ctx    context.Context
	s      *Service
	app    string
	form   string
	fields map[string]engine.FieldRef
	fe     *engine.FieldErrors
	path   string // the action's params pointer: /actions/i/params
	live   bool
	// kernel is set by a kind's compile that chooses its kernel action itself (action).
	kernel string
}

// at is the pointer of rel, a path inside the params ("/values/qty", "values" or "").
func (cc *compileCtx) at(rel string) string {
	switch {
	case rel == "":
		return cc.path
	case rel[0] == '/':
		return cc.path + rel
	}
	return cc.path + "/" + rel
}

// expr compiles source (a params member at rel) and reports a mistake as a field error.
func (cc *compileCtx) expr(rel, source string, want engine.ExprKind) *engine.Program {
	p, err := cc.s.k.Exprs.Compile(source, conditionEnv, want)
	if err != nil {
		cc.fe.Add(cc.at(rel), "expr", map[string]any{"detail": exprDetail(err)})
		return nil
	}
	if err := cc.s.checkLookups(cc.ctx, cc.app, p, cc.live); err != nil {
		cc.fe.Add(cc.at(rel), "expr", map[string]any{"detail": err.Error()})
		return nil
	}
	return p
}

func exprDetail(err error) string {
	var xe *engine.ExprError
	if errors.As(err, &xe) {
		return xe.Error()
	}
	return err.Error()
}

// Compile checks a rule definition of app: the meta-schema, the form and its fields, the
// trigger, the condition and each action's params (expressions compiled, with line and column
// in the error). Mistakes are field errors with JSON pointers into the definition.
func (s *Service) Compile(ctx context.Context, app string, raw []byte) (*Compiled, error) {
	def, err := engine.DecodeDefinition[Definition](RuleMetaSchema, raw)
	if err != nil {
		return nil, err
	}
	return s.compileDef(ctx, app, def, true)
}

// compileDef compiles a decoded definition; live checks what the definition names in the store
// (the form, its fields and indexes) — a stored version is compiled again without.
func (s *Service) compileDef(ctx context.Context, app string, def *Definition, live bool) (*Compiled, error) {
	var fe engine.FieldErrors
	c := &Compiled{App: app, Key: def.Key, Def: *def}
	fields := map[string]engine.FieldRef{}
	if live {
		refs, err := s.k.Records.FieldKeys(ctx, app, def.Form)
		if errors.Is(err, engine.ErrNotFound) {
			fe.Add("/form", "not_found", map[string]any{"value": def.Form})
			return nil, fe.Err()
		}
		if err != nil {
			return nil, fmt.Errorf("compile rule %s: %w", def.Key, err)
		}
		for _, f := range refs {
			fields[f.Key] = f
		}
	}
	t := def.Trigger
	needField := t.On == OnFieldChanged || t.On == OnDate
	switch {
	case needField && t.Field == "":
		fe.Add("/trigger/field", "required", nil)
	case !needField && t.Field != "":
		fe.Add("/trigger/field", "unknown_field", nil)
	case needField && live:
		f, ok := fields[t.Field]
		if !ok {
			fe.Add("/trigger/field", "not_found", map[string]any{"value": t.Field})
			break
		}
		if t.On == OnDate {
			if f.Type != "date" && f.Type != "datetime" {
				fe.Add("/trigger/field", "rule_field_type", nil)
				break
			}
			indexed, err := s.k.Records.IndexedField(ctx, app, def.Form, t.Field)
			if err != nil {
				return nil, fmt.Errorf("compile rule %s: %w", def.Key, err)
			}
			if !indexed {
				fe.Add("/trigger/field", "rule_not_indexed", map[string]any{"field": t.Field})
			}
		}
	}
	if t.On != OnDate && (t.Days != 0 || t.Window != nil) {
		fe.Add("/trigger/days", "unknown_field", nil)
	}
	if len(t.From) > 0 {
		if t.On != OnFieldChanged && t.On != OnStatusChanged {
			fe.Add("/trigger/from", "unknown_field", nil)
		}
		_ = json.Unmarshal(t.From, &c.from)
		c.hasFrom = true
		if _, ok := c.from.(string); t.On == OnStatusChanged && !ok {
			fe.Add("/trigger/from", "wrong_type", map[string]any{"want": "string"})
		}
	}
	if len(t.To) > 0 {
		if t.On != OnFieldChanged && t.On != OnStatusChanged {
			fe.Add("/trigger/to", "unknown_field", nil)
		}
		_ = json.Unmarshal(t.To, &c.to)
		c.hasTo = true
		if _, ok := c.to.(string); t.On == OnStatusChanged && !ok {
			fe.Add("/trigger/to", "wrong_type", map[string]any{"want": "string"})
		}
	}
	if err := s.compileTrigger(ctx, app, c, live, &fe); err != nil {
		return nil, err
	}
	if def.Condition != "" {
		p, err := s.k.Exprs.Compile(def.Condition, conditionEnv, engine.ExprBool)
		if err != nil {
			fe.Add("/condition", "expr", map[string]any{"detail": exprDetail(err)})
		} else if err := s.checkLookups(ctx, app, p, live); err != nil {
			fe.Add("/condition", "expr", map[string]any{"detail": err.Error()})
		}
		c.cond = p
	}
	for i, a := range def.Actions {
		path := "/actions/" + strconv.Itoa(i)
		kind, ok := actionKinds[a.Type]
		if !ok {
			fe.Add(path+"/type", "not_found", map[string]any{"value": a.Type})
			continue
		}
		if _, ok := s.k.Actions.Get(kind.kernel); !ok && kind.kernel != "" {
			fe.Add(path+"/type", "not_found", map[string]any{"value": kind.kernel})
			continue
		}
		if kind.needsRecord && t.On == OnSchedule && len(t.Match) == 0 {
			fe.Add(path+"/type", "rule_needs_record", nil)
			continue
		}
		params := a.Params
		if len(params) == 0 {
			params = json.RawMessage("{}")
		}
		cc := &compileCtx{ctx: ctx, s: s, app: app, form: def.Form, fields: fields, fe: &fe, path: path + "/params", live: live}
		if !live {
			cc.fields = nil
		}
		prep, err := kind.compile(cc, params)
		if err != nil {
			if errs, ok := engine.AsFieldErrors(err); ok {
				for _, e := range errs {
					e.Path = cc.at(e.Path)
					fe = append(fe, e)
				}
				continue
			}
			return nil, fmt.Errorf("compile rule %s: action %d: %w", def.Key, i, err)
		}
		kernel := kind.kernel
		if cc.kernel != "" {
			kernel = cc.kernel
		}
		c.actions = append(c.actions, compiledAction{typ: a.Type, kernel: kernel, params: prep, run: kind.run})
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return c, nil
}
