package workflow

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"tracecraft/engine"
)

//go:embed schema/flow.schema.json
var flowMetaSchemaJSON []byte

// FlowMetaSchema is the meta-schema every flow definition must satisfy.
var FlowMetaSchema = engine.MustSchema("flow.schema.json", flowMetaSchemaJSON)

// FlowMetaSchemaJSON returns the flow meta-schema document (served to the designer).
func FlowMetaSchemaJSON() []byte { return flowMetaSchemaJSON }

// Compile checks a flow definition for app and compiles it: the meta-schema, a strict decode,
// then the graph (one start, references, reachability, cycles, dead ends, parallel joins,
// return targets), the form and its fields, assignees, actions, timers and conditions. Every
// mistake is a FieldErrors item whose path is the JSON pointer of the bad place
// ("/nodes/3/next"), so the designer can point at the node.
//
// Compiled.Def is the definition with defaults filled in: approval mode single, onEmpty admin
// (notify: skip), rejectTo "end", end outcome approved, dept_head levels 1.
func (s *Service) Compile(ctx context.Context, app string, raw []byte) (*Compiled, error) {
	c, _, err := s.compileFlow(ctx, app, raw, &liveWorld{s: s})
	return c, err
}

// compileWorld is what compiling needs from outside the definition.
type compileWorld interface {
	// fields lists the fields of a form; ErrNotFound when there is no such form, a conflict
	// when it is not published.
	fields(ctx context.Context, app, form string) ([]engine.FieldRef, error)
	roleExists(ctx context.Context, name string) (bool, error)
	userExists(ctx context.Context, name string) (bool, error)
	// checkAction reports whether action id is registered and runs its Check on params.
	checkAction(ctx context.Context, app, id string, params map[string]any) (bool, error)
}

// liveWorld answers from the kernel as it is now: for drafts and publishing.
type liveWorld struct {
	s     *Service
	roles map[string]bool // loaded on first use
}

func (w *liveWorld) fields(ctx context.Context, app, form string) ([]engine.FieldRef, error) {
	if w.s.k.Records == nil {
		return nil, errors.New("workflow: no record engine on the kernel (make the form engine first)")
	}
	return w.s.k.Records.FieldKeys(ctx, app, form)
}

func (w *liveWorld) roleExists(ctx context.Context, name string) (bool, error) {
	if w.roles == nil {
		roles, err := w.s.k.Auth.ListRoles(ctx)
		if err != nil {
			return false, err
		}
		w.roles = map[string]bool{}
		for _, r := range roles {
			w.roles[r.Name] = true
		}
	}
	return w.roles[name], nil
}

func (w *liveWorld) userExists(ctx context.Context, name string) (bool, error) {
	_, err := w.s.k.Auth.GetUser(ctx, name)
	if errors.Is(err, engine.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

func (w *liveWorld) checkAction(ctx context.Context, app, id string, params map[string]any) (bool, error) {
	a, ok := w.s.k.Actions.Get(id)
	if !ok {
		return false, nil
	}
	if a.Check == nil {
		return true, nil
	}
	if params == nil {
		params = map[string]any{}
	}
	return true, a.Check(ctx, app, params)
}

// storedWorld compiles a published version again. Its references were checked when it was
// published; a role, user, form field or action gone since must not make the version — and
// the instances running on it — unloadable, so everything outside exists here, and the
// expression environment is the snapshot of the form's fields taken at publishing.
type storedWorld struct {
	snapshot []engine.FieldRef
}

func (w storedWorld) fields(context.Context, string, string) ([]engine.FieldRef, error) {
	return w.snapshot, nil
}
func (storedWorld) roleExists(context.Context, string) (bool, error) { return true, nil }
func (storedWorld) userExists(context.Context, string) (bool, error) { return true, nil }
func (storedWorld) checkAction(context.Context, string, string, map[string]any) (bool, error) {
	return true, nil
}

// flowEdge is one edge of the graph and the pointer of the member that makes it.
type flowEdge struct {
	to   string
	path string
}

// flowCompiler holds one compilation.
type flowCompiler struct {
	ctx  context.Context
	s    *Service
	app  string
	w    compileWorld
	def  Definition
	fe   engine.FieldErrors
	idx  map[string]int             // node id → index of its first occurrence
	form map[string]engine.FieldRef // the form's fields; nil when the form is unknown
	env  engine.ExprEnv             // nil when the form is unknown
	out  [][]flowEdge               // edges out of node i that resolve
	pred map[string][]flowPredEdge  // node id → edges into it
	// stored: compiling a published version again (storedWorld); checks added since it was
	// published are not applied, so running instances keep their version.
	stored bool
}

type flowPredEdge struct {
	from int
	path string
}

// compileFlow compiles raw against world w and returns the compiled flow and the form's
// fields it was compiled against (the snapshot a published version keeps).
func (s *Service) compileFlow(ctx context.Context, app string, raw []byte, w compileWorld) (*Compiled, []engine.FieldRef, error) {
	def, err := engine.DecodeDefinition[Definition](FlowMetaSchema, raw)
	if err != nil {
		return nil, nil, err
	}
	_, stored := w.(storedWorld)
	fc := &flowCompiler{ctx: ctx, s: s, app: app, w: w, def: flowDefaults(*def), stored: stored}
	refs, err := fc.loadForm()
	if err != nil {
		return nil, nil, err
	}
	structural := fc.checkStructure()
	if err := fc.checkNodes(); err != nil {
		return nil, nil, err
	}
	c := &Compiled{App: app, Key: fc.def.Key, Def: fc.def, nodes: map[string]*Node{}, branches: map[string][]*engine.Program{}}
	for i := range c.Def.Nodes {
		n := &c.Def.Nodes[i]
		if _, dup := c.nodes[n.ID]; !dup {
			c.nodes[n.ID] = n
		}
	}
	fc.compileExprs(c)
	if structural {
		c.order = fc.checkGraph()
	}
	if err := fc.fe.Err(); err != nil {
		return nil, nil, err
	}
	return c, refs, nil
}

// flowDefaults fills in the defaults of omitted members (def is a fresh decode, not shared).
func flowDefaults(def Definition) Definition {
	levels := func(as []Assignee) {
		for i := range as {
			if as[i].Kind == "dept_head" && as[i].Levels == 0 {
				as[i].Levels = 1
			}
		}
	}
	for i := range def.Nodes {
		n := &def.Nodes[i]
		levels(n.Assignees)
		if n.Timers != nil {
			levels(n.Timers.Escalate)
		}
		switch n.Type {
		case NodeApproval:
			if n.Mode == "" {
				n.Mode = ModeSingle
			}
			if n.OnEmpty == "" {
				n.OnEmpty = "admin"
			}
			if n.RejectTo == "" {
				n.RejectTo = "end"
			}
		case NodeFill:
			if n.OnEmpty == "" {
				n.OnEmpty = "admin"
			}
		case NodeNotify:
			if n.OnEmpty == "" {
				n.OnEmpty = "skip"
			}
		case NodeEnd:
			if n.Outcome == "" {
				n.Outcome = StateApproved
			}
		}
	}
	return def
}

func nodePath(i int) string { return fmt.Sprintf("/nodes/%d", i) }

// loadForm reads the fields of the flow's form and builds the expression environment.
func (fc *flowCompiler) loadForm() ([]engine.FieldRef, error) {
	refs, err := fc.w.fields(fc.ctx, fc.app, fc.def.Form)
	switch {
	case errors.Is(err, engine.ErrNotFound):
		fc.fe.Add("/form", "not_found", map[string]any{"value": fc.def.Form})
		return nil, nil
	case engine.IsConflict(err):
		fc.fe.Add("/form", "form_not_published", map[string]any{"value": fc.def.Form})
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("compile flow %s: fields of form %s: %w", fc.def.Key, fc.def.Form, err)
	}
	fc.form = make(map[string]engine.FieldRef, len(refs))
	for _, f := range refs {
		fc.form[f.Key] = f
	}
	fc.env = flowExprEnv(refs)
	return refs, nil
}

// flowExprEnv is the environment of trigger and branch conditions: the record's top-level
// fields by key, and the record's status and the initiator's username. Field types that the
// field list does not pin down (a user, department or relation field may hold one value or a
// list; a formula's result may be a number, text or a boolean) are checked at run time.
func flowExprEnv(fields []engine.FieldRef) engine.ExprEnv {
	str := engine.ExprType{Kind: engine.ExprString}
	env := engine.ExprEnv{}
	for _, f := range fields {
		switch f.Type {
		case "number", "money":
			env[f.Key] = engine.ExprType{Kind: engine.ExprNumber}
		case "switch":
			env[f.Key] = engine.ExprType{Kind: engine.ExprBool}
		case "datetime":
			env[f.Key] = engine.ExprType{Kind: engine.ExprTime}
		case "multiselect", "checkbox", "attachment", "image":
			env[f.Key] = engine.ExprListOf(str)
		case "subtable":
			env[f.Key] = engine.ExprListOf(engine.ExprType{Kind: engine.ExprAny})
		case "location":
			env[f.Key] = engine.ExprType{Kind: engine.ExprObject}
		case "formula", "user", "department", "relation":
			env[f.Key] = engine.ExprType{Kind: engine.ExprAny}
		default:
			env[f.Key] = str
		}
	}
	env["status"] = str
	env["initiator"] = str
	return env
}

// edgesOf lists the edges out of node i: next; branch targets and the default; parallel paths.
// A parallel node's join is not an edge: its paths lead there.
func (fc *flowCompiler) edgesOf(i int) []flowEdge {
	n := &fc.def.Nodes[i]
	p := nodePath(i)
	switch n.Type {
	case NodeEnd:
		return nil
	case NodeCondition:
		var out []flowEdge
		for j, b := range n.Branches {
			out = append(out, flowEdge{b.Next, fmt.Sprintf("%s/branches/%d/next", p, j)})
		}
		if n.Default != "" {
			out = append(out, flowEdge{n.Default, p + "/default"})
		}
		return out
	case NodeParallel:
		var out []flowEdge
		for j, to := range n.Paths {
			out = append(out, flowEdge{to, fmt.Sprintf("%s/paths/%d", p, j)})
		}
		return out
	}
	if n.Next == "" {
		return nil
	}
	return []flowEdge{{n.Next, p + "/next"}}
}

// checkStructure checks ids, the start node and that every reference names a node. It
// reports whether the graph checks can run.
func (fc *flowCompiler) checkStructure() bool {
	before := len(fc.fe)
	fc.idx = map[string]int{}
	starts := 0
	for i, n := range fc.def.Nodes {
		if _, dup := fc.idx[n.ID]; dup {
			fc.fe.Add(nodePath(i)+"/id", "duplicate_id", map[string]any{"value": n.ID})
			continue
		}
		fc.idx[n.ID] = i
		if n.Type == NodeStart {
			starts++
			if starts > 1 {
				fc.fe.Add(nodePath(i)+"/type", "one_start", nil)
			}
		}
	}
	if starts == 0 {
		fc.fe.Add("/nodes", "one_start", nil)
	}
	fc.out = make([][]flowEdge, len(fc.def.Nodes))
	fc.pred = map[string][]flowPredEdge{}
	for i, n := range fc.def.Nodes {
		for _, e := range fc.edgesOf(i) {
			if _, ok := fc.idx[e.to]; !ok {
				fc.fe.Add(e.path, "not_found", map[string]any{"value": e.to})
				continue
			}
			fc.out[i] = append(fc.out[i], e)
			fc.pred[e.to] = append(fc.pred[e.to], flowPredEdge{from: i, path: e.path})
		}
		p := nodePath(i)
		if n.Type == NodeParallel {
			if j, ok := fc.idx[n.Join]; !ok {
				fc.fe.Add(p+"/join", "not_found", map[string]any{"value": n.Join})
			} else if fc.def.Nodes[j].Type != NodeJoin {
				fc.fe.Add(p+"/join", "bad_join", map[string]any{"node": n.ID, "join": n.Join})
			}
		}
		if n.Type == NodeApproval && n.RejectTo != "end" {
			if j, ok := fc.idx[n.RejectTo]; !ok {
				fc.fe.Add(p+"/rejectTo", "not_found", map[string]any{"value": n.RejectTo})
			} else if t := fc.def.Nodes[j].Type; t != NodeStart && t != NodeApproval && t != NodeFill && t != NodeEnd {
				fc.fe.Add(p+"/rejectTo", "bad_return", map[string]any{"node": n.RejectTo})
			} else if t == NodeEnd && fc.def.Nodes[j].Outcome != StateRejected && !fc.stored {
				// A rejection must not end the instance approved (an end's outcome defaults to
				// approved). Versions published before this check still load: the runtime
				// ends such a rejection rejected instead (see machine.rejected).
				fc.fe.Add(p+"/rejectTo", "reject_to_approved", map[string]any{"node": n.RejectTo})
			}
		}
	}
	return len(fc.fe) == before
}

// checkNodes checks each node on its own: assignees, field permissions, actions, timers.
func (fc *flowCompiler) checkNodes() error {
	for i := range fc.def.Nodes {
		n := &fc.def.Nodes[i]
		p := nodePath(i)
		if err := fc.checkAssignees(n.Assignees, p+"/assignees"); err != nil {
			return err
		}
		if n.Fields != nil && fc.form != nil {
			visible := map[string]bool{}
			for j, k := range n.Fields.Visible {
				visible[k] = true
				if _, ok := fc.form[k]; !ok {
					fc.fe.Add(fmt.Sprintf("%s/fields/visible/%d", p, j), "not_found", map[string]any{"value": k})
				}
			}
			for j, k := range n.Fields.Editable {
				fp := fmt.Sprintf("%s/fields/editable/%d", p, j)
				if _, ok := fc.form[k]; !ok {
					fc.fe.Add(fp, "not_found", map[string]any{"value": k})
				} else if n.Fields.Visible != nil && !visible[k] {
					fc.fe.Add(fp, "not_visible", map[string]any{"value": k})
				}
			}
		}
		if n.Timers != nil {
			for _, d := range []struct{ name, value string }{{"remindAfter", n.Timers.RemindAfter}, {"timeoutAfter", n.Timers.TimeoutAfter}} {
				if d.value == "" {
					continue
				}
				if v, err := time.ParseDuration(d.value); err != nil || v <= 0 {
					fc.fe.Add(p+"/timers/"+d.name, "bad_duration", map[string]any{"value": d.value})
				}
			}
			if err := fc.checkAssignees(n.Timers.Escalate, p+"/timers/escalate"); err != nil {
				return err
			}
		}
		if n.Type == NodeAction {
			fc.checkAction(n, p)
		}
		fc.checkSignatureRule(n, p)
	}
	return nil
}

func (fc *flowCompiler) checkAssignees(as []Assignee, path string) error {
	for j, a := range as {
		p := fmt.Sprintf("%s/%d", path, j)
		switch a.Kind {
		case "role":
			ok, err := fc.w.roleExists(fc.ctx, a.Role)
			if err != nil {
				return fmt.Errorf("compile flow %s: %w", fc.def.Key, err)
			}
			if !ok {
				fc.fe.Add(p+"/role", "not_found", map[string]any{"value": a.Role})
			}
		case "user":
			for k, u := range a.Users {
				ok, err := fc.w.userExists(fc.ctx, u)
				if err != nil {
					return fmt.Errorf("compile flow %s: %w", fc.def.Key, err)
				}
				if !ok {
					fc.fe.Add(fmt.Sprintf("%s/users/%d", p, k), "not_found", map[string]any{"value": u})
				}
			}
		case "field":
			if fc.form == nil {
				continue
			}
			f, ok := fc.form[a.Field]
			switch {
			case !ok:
				fc.fe.Add(p+"/field", "not_found", map[string]any{"value": a.Field})
			case f.Type != "user":
				fc.fe.Add(p+"/field", "not_user_field", map[string]any{"value": a.Field, "type": f.Type})
			}
		}
	}
	return nil
}

// checkAction checks that an action node's action is registered and that its params pass the
// action's Check, whose paths (relative to params, dotted or pointers) are re-rooted at the
// node's params.
func (fc *flowCompiler) checkAction(n *Node, p string) {
	found, err := fc.w.checkAction(fc.ctx, fc.app, n.Action, n.Params)
	if !found {
		fc.fe.Add(p+"/action", "not_found", map[string]any{"value": n.Action})
		return
	}
	if err == nil {
		return
	}
	got, ok := engine.AsFieldErrors(err)
	if !ok {
		fc.fe = append(fc.fe, engine.FieldFault(p+"/params", err)...) // the store failed: not the definition's fault
		return
	}
	for _, e := range got {
		rel := strings.ReplaceAll(strings.TrimPrefix(e.Path, "/"), ".", "/")
		e.Path = p + "/params"
		if rel != "" {
			e.Path += "/" + rel
		}
		fc.fe = append(fc.fe, e)
	}
}

// compileExprs compiles the trigger condition and the branch conditions as booleans over the
// record; without a known form there is no environment to compile them in.
func (fc *flowCompiler) compileExprs(c *Compiled) {
	if fc.env == nil {
		return
	}
	exprs := fc.s.k.Exprs
	if w := fc.def.Trigger.When; strings.TrimSpace(w) != "" {
		prog, err := exprs.Compile(w, fc.env, engine.ExprBool)
		if err != nil {
			fc.fe.Add("/trigger/when", "expr", map[string]any{"detail": err.Error()})
		}
		c.trigger = prog
	}
	for i, n := range fc.def.Nodes {
		if n.Type != NodeCondition {
			continue
		}
		progs := make([]*engine.Program, len(n.Branches))
		for j, b := range n.Branches {
			prog, err := exprs.Compile(b.When, fc.env, engine.ExprBool)
			if err != nil {
				fc.fe.Add(fmt.Sprintf("%s/branches/%d/when", nodePath(i), j), "expr", map[string]any{"detail": err.Error()})
			}
			progs[j] = prog
		}
		if _, dup := c.branches[n.ID]; !dup {
			c.branches[n.ID] = progs
		}
	}
}

// checkGraph checks the graph once every reference resolves: reachability, cycles, dead
// ends, parallel joins and return targets. It returns the topological order of the nodes.
func (fc *flowCompiler) checkGraph() map[string]int {
	nodes := fc.def.Nodes
	start := -1
	for i, n := range nodes {
		if n.Type == NodeStart {
			start = i
			break
		}
	}
	// Reachability from the start node, through edges and rejections: an approval node's
	// rejection goes to its rejectTo, or with "end" to the first end node whose outcome is
	// rejected, so such an end node needs no edge into it.
	reached := fc.reachWithRejections(start)
	for i, n := range nodes {
		if !reached[i] {
			fc.fe.Add(nodePath(i), "unreachable", map[string]any{"node": n.ID})
		}
	}
	// Dead ends: every node but an end leads on, so every path ends at an end node.
	for i, n := range nodes {
		switch n.Type {
		case NodeEnd, NodeParallel:
		case NodeCondition:
			if n.Default == "" {
				fc.fe.Add(nodePath(i)+"/default", "no_default", map[string]any{"node": n.ID})
			}
		default:
			if n.Next == "" {
				fc.fe.Add(nodePath(i)+"/next", "dead_end", map[string]any{"node": n.ID})
			}
		}
	}
	// Cycles: going back happens through actions (return, reject to), never through edges.
	if fc.checkCycles(start) {
		return nil
	}
	scopes := fc.checkParallels()
	fc.checkReturns(scopes)
	return fc.topoOrder()
}

// reachWithRejections is reach from start that also follows where approval nodes go when
// they are rejected.
func (fc *flowCompiler) reachWithRejections(start int) []bool {
	nodes := fc.def.Nodes
	rejectedEnd := -1
	for i, n := range nodes {
		if n.Type == NodeEnd && n.Outcome == StateRejected {
			rejectedEnd = i
			break
		}
	}
	seen := make([]bool, len(nodes))
	stack := []int{start}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i < 0 || seen[i] {
			continue
		}
		seen[i] = true
		for _, e := range fc.out[i] {
			stack = append(stack, fc.idx[e.to])
		}
		if n := nodes[i]; n.Type == NodeApproval {
			if n.RejectTo == "end" {
				stack = append(stack, rejectedEnd)
			} else {
				stack = append(stack, fc.idx[n.RejectTo])
			}
		}
	}
	return seen
}

// reach marks the nodes reachable from node from, not going through node stop (-1: none).
func (fc *flowCompiler) reach(from, stop int) []bool {
	seen := make([]bool, len(fc.def.Nodes))
	stack := []int{from}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if i < 0 || seen[i] || i == stop {
			continue
		}
		seen[i] = true
		for _, e := range fc.out[i] {
			stack = append(stack, fc.idx[e.to])
		}
	}
	return seen
}

// checkCycles reports each edge that closes a cycle, with the cycle; true when there is one.
func (fc *flowCompiler) checkCycles(start int) bool {
	const (
		white = iota
		grey
		black
	)
	color := make([]int, len(fc.def.Nodes))
	var chain []int
	found := false
	var visit func(i int)
	visit = func(i int) {
		color[i] = grey
		chain = append(chain, i)
		for _, e := range fc.out[i] {
			j := fc.idx[e.to]
			switch color[j] {
			case grey:
				var ids []string
				for k := len(chain) - 1; k >= 0; k-- {
					if chain[k] == j {
						for _, c := range chain[k:] {
							ids = append(ids, fc.def.Nodes[c].ID)
						}
						break
					}
				}
				ids = append(ids, fc.def.Nodes[j].ID)
				fc.fe.Add(e.path, "cycle", map[string]any{"cycle": strings.Join(ids, " → ")})
				found = true
			case white:
				visit(j)
			}
		}
		chain = chain[:len(chain)-1]
		color[i] = black
	}
	if start >= 0 {
		visit(start)
	}
	for i := range fc.def.Nodes {
		if color[i] == white {
			visit(i)
		}
	}
	return found
}

// checkParallels checks that each parallel node's paths meet at its join and nowhere else:
// every path reaches the join before any end node, paths share no node before it, nothing
// outside enters a path, the join is entered only from the paths, and a join belongs to
// exactly one parallel node. It returns each node's scope: the parallel paths it lies in, as
// "parallel:index" keys.
func (fc *flowCompiler) checkParallels() map[int]map[string]bool {
	nodes := fc.def.Nodes
	scopes := map[int]map[string]bool{}
	owner := map[string]int{} // join id → its parallel node
	for pi, p := range nodes {
		if p.Type != NodeParallel {
			continue
		}
		pp := nodePath(pi)
		if prev, dup := owner[p.Join]; dup {
			fc.fe.Add(pp+"/join", "bad_join", map[string]any{"node": p.ID, "join": p.Join, "other": nodes[prev].ID})
			continue
		}
		owner[p.Join] = pi
		ji := fc.idx[p.Join]
		region := make([]bool, len(nodes)) // nodes on some path, the join excluded
		in := map[int]int{}                // node → the first path it lies on
		astray := false                    // a path misses the join: its region is not the parallel's
		for k, first := range p.Paths {
			kp := fmt.Sprintf("%s/paths/%d", pp, k)
			on := fc.reach(fc.idx[first], ji)
			arrives, ended := first == p.Join, false
			for i, ok := range on {
				if !ok {
					continue
				}
				for _, e := range fc.out[i] {
					if e.to == p.Join {
						arrives = true
					}
				}
				if nodes[i].Type == NodeEnd {
					ended = true
				}
			}
			if ended || !arrives {
				fc.fe.Add(kp, "bad_join", map[string]any{"node": p.ID, "join": p.Join})
				astray = true
			}
			met := ""
			for i, ok := range on {
				if !ok {
					continue
				}
				if other, seen := in[i]; seen && other != k && met == "" {
					met = nodes[i].ID
				}
				if _, seen := in[i]; !seen {
					in[i] = k
				}
				region[i] = true
				if scopes[i] == nil {
					scopes[i] = map[string]bool{}
				}
				scopes[i][fmt.Sprintf("%s:%d", p.ID, k)] = true
			}
			if met != "" {
				fc.fe.Add(kp, "paths_meet", map[string]any{"node": p.ID, "at": met})
			}
		}
		// Entries: a path's nodes are entered from the parallel node or from the path; the join
		// only from the paths.
		if astray {
			continue
		}
		for i, ok := range region {
			if !ok {
				continue
			}
			for _, e := range fc.pred[nodes[i].ID] {
				if e.from != pi && !region[e.from] {
					fc.fe.Add(e.path, "enters_parallel", map[string]any{"node": nodes[i].ID, "parallel": p.ID})
				}
			}
		}
		for _, e := range fc.pred[p.Join] {
			if !region[e.from] && e.from != pi {
				fc.fe.Add(e.path, "bad_join", map[string]any{"node": p.ID, "join": p.Join})
			}
		}
	}
	for i, n := range nodes {
		if _, ok := owner[n.ID]; n.Type == NodeJoin && !ok {
			fc.fe.Add(nodePath(i), "orphan_join", map[string]any{"join": n.ID})
		}
	}
	return scopes
}

// checkReturns checks the rejectTo of approval nodes: an end node, or a start, approval or
// fill node that comes before the node on its way and lies in the same parallel path or
// outside it (a return into a path the node is not on would leave its join waiting).
func (fc *flowCompiler) checkReturns(scopes map[int]map[string]bool) {
	for i, n := range fc.def.Nodes {
		if n.Type != NodeApproval || n.RejectTo == "end" {
			continue
		}
		ti := fc.idx[n.RejectTo]
		if fc.def.Nodes[ti].Type == NodeEnd {
			continue
		}
		ok := ti != i && fc.reach(ti, -1)[i]
		for sc := range scopes[ti] {
			if !scopes[i][sc] {
				ok = false
			}
		}
		if !ok {
			fc.fe.Add(nodePath(i)+"/rejectTo", "bad_return", map[string]any{"node": n.RejectTo})
		}
	}
}

// topoOrder numbers the nodes so every edge goes forward, the start node first; ties go by
// position in the definition.
func (fc *flowCompiler) topoOrder() map[string]int {
	nodes := fc.def.Nodes
	indeg := make([]int, len(nodes))
	for i := range nodes {
		for _, e := range fc.out[i] {
			indeg[fc.idx[e.to]]++
		}
	}
	order := make(map[string]int, len(nodes))
	done := make([]bool, len(nodes))
	for len(order) < len(nodes) {
		next := -1
		for i, n := range nodes {
			if !done[i] && indeg[i] == 0 && (next < 0 || n.Type == NodeStart && nodes[next].Type != NodeStart) {
				next = i
				if n.Type == NodeStart {
					break
				}
			}
		}
		if next < 0 {
			return order // not reached: cycles were rejected
		}
		done[next] = true
		order[nodes[next].ID] = len(order)
		for _, e := range fc.out[next] {
			indeg[fc.idx[e.to]]--
		}
	}
	return order
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"one_start":          {ZH: "流程必须有且只有一个发起节点", EN: "a flow needs exactly one start node"},
		"duplicate_id":       {ZH: "节点标识重复：{value}", EN: "duplicate node id: {value}"},
		"unreachable":        {ZH: "节点 {node} 无法从发起节点到达", EN: "node {node} cannot be reached from the start"},
		"cycle":              {ZH: "流程中有循环：{cycle}（退回请使用退回设置）", EN: "the flow loops: {cycle} (use return settings to go back)"},
		"dead_end":           {ZH: "节点 {node} 之后没有下一个节点，流程无法结束", EN: "node {node} leads nowhere; every path must reach an end node"},
		"no_default":         {ZH: "条件分支 {node} 缺少默认分支（其他情况）", EN: "condition {node} needs a default branch"},
		"bad_join":           {ZH: "并行分支 {node} 的各分支必须在汇聚节点 {join} 汇合，且只能从该并行分支进入", EN: "every path of parallel {node} must reach its join {join} before any end, and the join may be entered only from those paths"},
		"orphan_join":        {ZH: "汇聚节点 {join} 不属于任何并行分支", EN: "join {join} belongs to no parallel node"},
		"paths_meet":         {ZH: "并行分支 {node} 的分支在汇聚前于 {at} 相交", EN: "paths of parallel {node} meet at {at} before the join"},
		"enters_parallel":    {ZH: "不能从外部进入并行分支 {parallel} 中的节点 {node}", EN: "node {node} lies on a path of parallel {parallel} and cannot be entered from outside"},
		"bad_return":         {ZH: "不能退回到节点 {node}：只能退回到本分支中之前的发起、审批或办理节点，或结束节点", EN: "cannot return to {node}: pick an earlier start, approval or fill node on this path, or an end node"},
		"reject_to_approved": {ZH: "驳回不能转到结果为通过的结束节点 {node}：请选择结果为驳回的结束节点", EN: "a rejection cannot go to end node {node}, whose outcome is approved; pick an end node with outcome rejected"},
		"not_user_field":     {ZH: "字段 {value} 不是成员字段（类型为 {type}）", EN: "field {value} is not a user field (it is {type})"},
		"not_visible":        {ZH: "可编辑字段 {value} 必须可见", EN: "editable field {value} must be visible"},
		"bad_duration":       {ZH: "时长无效：{value}（例如 30m、4h、1h30m）", EN: "invalid duration {value} (e.g. 30m, 4h, 1h30m)"},
		"form_not_published": {ZH: "表单 {value} 尚未发布", EN: "form {value} is not published yet"},
	})
}
