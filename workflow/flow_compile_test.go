package workflow

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files of testdata/compile")

// flowTestForm is the form the test flows run on: a number, a user and a text field.
const flowTestForm = `{
  "key": "inspection",
  "name": {"zh-CN": "来料检验", "en": "Incoming inspection"},
  "schema": {
    "type": "object",
    "properties": {
      "amount":    {"x-type": "number", "x-label": {"zh-CN": "金额", "en": "Amount"}},
      "inspector": {"x-type": "user", "x-label": {"zh-CN": "检验员", "en": "Inspector"}},
      "note":      {"x-type": "text", "x-label": {"zh-CN": "备注", "en": "Note"}}
    }
  }
}`

type flowEnv struct {
	ctx      context.Context
	k        *engine.Kernel
	s        *Service
	admin    *engine.Principal
	designer *engine.Principal
	reader   *engine.Principal
}

// newFlowEnv makes a kernel on a fresh store with the form engine, the workflow engine, app qa
// with the published form inspection and the draft-only form pending, roles qa, manager and
// designer, and user lily. setup runs before the kernel starts (bus subscribers).
func newFlowEnv(t testing.TB, setup ...func(*engine.Kernel)) *flowEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	fs := forms.New(k, forms.Options{})
	s := New(k, Options{})
	for _, fn := range setup {
		fn(k)
	}
	enginetest.Start(t, k)
	e := &flowEnv{ctx: ctx, k: k, s: s, admin: engine.SystemPrincipal(),
		designer: &engine.Principal{Username: "dora", Roles: []string{"designer"}},
		reader:   &engine.Principal{Username: "quinn", Roles: []string{"qa"}}}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range []engine.Role{
		{Name: "qa", Label: engine.Text{ZH: "质检员"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
		{Name: "manager", Label: engine.Text{ZH: "质量经理"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppRead}}}},
		{Name: "designer", Label: engine.Text{ZH: "设计者"}, Grants: []engine.Grant{{App: "qa", Actions: []string{engine.PermAppDesign}}}},
	} {
		_, err := k.Auth.PutRole(ctx, e.admin, r)
		must(err)
	}
	_, err := k.Auth.CreateUser(ctx, e.admin, engine.UserInput{Username: "lily", DisplayName: "Lily", Roles: []string{"manager"}, Password: "lily-password-1"})
	must(err)
	_, err = fs.CreateApp(ctx, e.admin, forms.AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}})
	must(err)
	_, err = fs.SaveDraft(ctx, e.admin, "qa", []byte(flowTestForm), 0)
	must(err)
	_, err = fs.Publish(ctx, e.admin, "qa", "inspection")
	must(err)
	pending := strings.Replace(flowTestForm, `"key": "inspection"`, `"key": "pending"`, 1)
	_, err = fs.SaveDraft(ctx, e.admin, "qa", []byte(pending), 0)
	must(err)
	return e
}

// TestCompileGolden compiles each testdata/compile/*.txt: a flow definition, a line of ten
// dashes, then what compiling it gives — "ok" and the nodes in their order, or one line per
// field error. Lines starting with "# want " before the definition name a result that must be
// among them ("ok", or a path and a code). go test -run CompileGolden -update rewrites the
// expected part.
func TestCompileGolden(t *testing.T) {
	e := newFlowEnv(t)
	files, err := filepath.Glob(filepath.Join("testdata", "compile", "*.txt"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".txt"), func(t *testing.T) {
			raw, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			input, want, ok := bytes.Cut(raw, []byte("\n----------\n"))
			if !ok {
				t.Fatalf("%s: no ---------- line", file)
			}
			var wants []string
			var def []string
			for _, line := range strings.Split(string(input), "\n") {
				if w, ok := strings.CutPrefix(line, "# want "); ok {
					wants = append(wants, w)
				} else if !strings.HasPrefix(line, "#") {
					def = append(def, line)
				}
			}
			if len(wants) == 0 {
				t.Fatalf("%s: no # want line", file)
			}
			c, err := e.s.Compile(e.ctx, "qa", []byte(strings.Join(def, "\n")))
			got := renderCompiled(t, c, err)
			for _, w := range wants {
				if w == "ok" && err != nil || w != "ok" && !containsLinePrefix(got, w+" ") && !containsLinePrefix(got, w+"\n") {
					t.Errorf("want %q among:\n%s", w, got)
				}
			}
			if *updateGolden {
				out := append(append(input, []byte("\n----------\n")...), got...)
				if err := os.WriteFile(file, out, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			if got != string(want) {
				t.Errorf("got:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

func containsLinePrefix(text, prefix string) bool {
	for _, line := range strings.SplitAfter(text, "\n") {
		if strings.HasPrefix(line, prefix) {
			return true
		}
	}
	return false
}

// renderCompiled writes a compile result as the golden files hold it.
func renderCompiled(t *testing.T, c *Compiled, err error) string {
	t.Helper()
	var b strings.Builder
	if err != nil {
		fe, ok := engine.AsFieldErrors(err)
		if !ok {
			t.Fatalf("compile: not field errors: %v", err)
		}
		for _, f := range fe {
			b.WriteString(f.Path + " " + f.Code)
			keys := make([]string, 0, len(f.Params))
			for k := range f.Params {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(&b, " %s=%q", k, fmt.Sprint(f.Params[k]))
			}
			b.WriteString("\n")
		}
		return b.String()
	}
	b.WriteString("ok\n")
	if c.trigger != nil {
		fmt.Fprintf(&b, "trigger %s\n", c.trigger.Source())
	}
	ids := make([]string, 0, len(c.order))
	for id := range c.order {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return c.order[ids[i]] < c.order[ids[j]] })
	for _, id := range ids {
		n, _ := c.Node(id)
		fmt.Fprintf(&b, "%d %s %s", c.order[id], id, n.Type)
		switch n.Type {
		case NodeApproval:
			fmt.Fprintf(&b, " mode=%s onEmpty=%s rejectTo=%s", n.Mode, n.OnEmpty, n.RejectTo)
		case NodeFill, NodeNotify:
			fmt.Fprintf(&b, " onEmpty=%s", n.OnEmpty)
		case NodeEnd:
			fmt.Fprintf(&b, " outcome=%s", n.Outcome)
		case NodeCondition:
			for i, p := range c.branches[id] {
				fmt.Fprintf(&b, " [%d: %s → %s]", i, p.Source(), n.Branches[i].Next)
			}
			fmt.Fprintf(&b, " [default → %s]", n.Default)
		}
		b.WriteString("\n")
	}
	return b.String()
}

// flowDraft is a small valid flow: start → approval (role qa) → end, with an end for rejections.
const flowDraft = `{
  "key": "release",
  "name": {"zh-CN": "放行审批", "en": "Release approval"},
  "form": "inspection",
  "trigger": {"on": "create", "when": "amount > 0"},
  "nodes": [
    {"id": "start", "type": "start", "next": "qa_check"},
    {"id": "qa_check", "type": "approval", "mode": "any", "assignees": [{"kind": "role", "role": "qa"}], "next": "done"},
    {"id": "done", "type": "end", "outcome": "approved"},
    {"id": "refused", "type": "end", "outcome": "rejected"}
  ]
}`

func TestFlowDrafts(t *testing.T) {
	var mu sync.Mutex
	var events []string
	e := newFlowEnv(t, func(k *engine.Kernel) {
		k.Bus.Subscribe("flowtest", []string{"definition."}, func(_ context.Context, ev engine.Event) error {
			if ev.Kind == DefinitionKind {
				mu.Lock()
				events = append(events, ev.Type+" "+ev.Target+" "+ev.Actor)
				mu.Unlock()
			}
			return nil
		})
	})
	f, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(flowDraft), 0)
	if err != nil {
		t.Fatal(err)
	}
	if f.ID != "qa/release" || f.Form != "inspection" || f.Rev != 1 || f.Published != 0 || f.UpdatedBy != "dora" {
		t.Fatalf("saved %+v", f)
	}
	if f.Draft.Nodes[1].RejectTo != "" {
		t.Errorf("the draft is stored as written, without defaults: rejectTo %q", f.Draft.Nodes[1].RejectTo)
	}
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(flowDraft), 0); !engine.IsConflict(err) {
		t.Errorf("saving a new flow over an existing one: want conflict, got %v", err)
	}
	renamed := strings.Replace(flowDraft, "放行审批", "成品放行", 1)
	f2, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(renamed), 1)
	if err != nil {
		t.Fatal(err)
	}
	if f2.Rev != 2 || f2.Draft.Name.ZH != "成品放行" {
		t.Errorf("second save: rev %d name %q", f2.Rev, f2.Draft.Name.ZH)
	}
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(flowDraft), 1); !engine.IsConflict(err) {
		t.Errorf("stale rev: want conflict, got %v", err)
	}
	if _, err := e.s.SaveDraft(e.ctx, e.reader, "qa", []byte(flowDraft), 2); !errors.Is(err, engine.ErrForbidden) {
		t.Errorf("saving without app.design: want forbidden, got %v", err)
	}
	bad := strings.Replace(flowDraft, `"role": "qa"`, `"role": "auditor"`, 1)
	_, err = e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(bad), 2)
	if fe, ok := engine.AsFieldErrors(err); !ok || fe[0].Path != "/nodes/1/assignees/0/role" || fe[0].Code != "not_found" {
		t.Errorf("saving a bad draft: want /nodes/1/assignees/0/role not_found, got %v", err)
	}

	got, err := e.s.GetFlow(e.ctx, e.reader, "qa", "release")
	if err != nil || got.Rev != 2 || got.Draft.Name.ZH != "成品放行" {
		t.Errorf("GetFlow: %+v, %v", got, err)
	}
	list, err := e.s.ListFlows(e.ctx, e.reader, "qa")
	if err != nil || len(list) != 1 || list[0].Key != "release" {
		t.Errorf("ListFlows: %+v, %v", list, err)
	}
	if _, err := e.s.GetFlow(e.ctx, &engine.Principal{Username: "x"}, "qa", "release"); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("GetFlow by someone outside the app: want not found, got %v", err)
	}
	if _, err := e.s.Compiled(e.ctx, "qa", "release", 0); !engine.IsConflict(err) {
		t.Errorf("Compiled of an unpublished flow: want conflict, got %v", err)
	}
	entries, err := e.k.Audit.List(e.ctx, engine.AuditQuery{Action: "definition.save", Target: "qa/release"})
	if err != nil || len(entries) != 2 {
		t.Errorf("audit of saves: %d entries, %v", len(entries), err)
	}
	if _, err := e.s.Publish(e.ctx, e.designer, "qa", "release"); err != nil {
		t.Fatal(err)
	}
	if err := e.k.Bus.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := []string{"definition.saved qa/release dora", "definition.saved qa/release dora", "definition.published qa/release@1 dora"}
	if !slices.Equal(events, want) {
		t.Errorf("events %q, want %q", events, want)
	}
}

func TestFlowPublishVersions(t *testing.T) {
	e := newFlowEnv(t)
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(flowDraft), 0); err != nil {
		t.Fatal(err)
	}
	v1, err := e.s.Publish(e.ctx, e.designer, "qa", "release")
	if err != nil {
		t.Fatal(err)
	}
	if v1.ID != "qa/release@1" || v1.Number != 1 || v1.PublishedBy != "dora" || len(v1.Fields) != 3 {
		t.Fatalf("v1 %+v", v1)
	}
	keys, err := e.s.flowsOnCreate(e.ctx, "qa", "inspection")
	if err != nil || !slices.Equal(keys, []string{"release"}) {
		t.Errorf("flowsOnCreate after v1: %v, %v", keys, err)
	}

	// v2: another approver and a manual trigger.
	v2Def := strings.Replace(flowDraft, `"role": "qa"`, `"role": "manager"`, 1)
	v2Def = strings.Replace(v2Def, `{"on": "create", "when": "amount > 0"}`, `{"on": "manual"}`, 1)
	// Publishing makes no draft revision: the designer saves on with the revision they hold.
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(v2Def), 1); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(v2Def), 1); !engine.IsConflict(err) {
		t.Errorf("saving at a stale revision: want conflict, got %v", err)
	}
	v2, err := e.s.Publish(e.ctx, e.designer, "qa", "release")
	if err != nil {
		t.Fatal(err)
	}
	if v2.Number != 2 {
		t.Fatalf("v2 number %d", v2.Number)
	}
	keys, err = e.s.flowsOnCreate(e.ctx, "qa", "inspection")
	if err != nil || len(keys) != 0 {
		t.Errorf("flowsOnCreate after a manual v2: %v, %v", keys, err)
	}

	versions, err := e.s.Versions(e.ctx, e.reader, "qa", "release")
	if err != nil || len(versions) != 2 {
		t.Fatalf("Versions: %d, %v", len(versions), err)
	}
	if r := versions[0].Definition.Nodes[1].Assignees[0].Role; r != "qa" || versions[0].Definition.Trigger.On != "create" {
		t.Errorf("v1 changed after v2 was published: role %q trigger %q", r, versions[0].Definition.Trigger.On)
	}
	if r := versions[1].Definition.Nodes[1].Assignees[0].Role; r != "manager" {
		t.Errorf("v2 role %q", r)
	}

	c1, err := e.s.Compiled(e.ctx, "qa", "release", 1)
	if err != nil {
		t.Fatal(err)
	}
	latest, err := e.s.Compiled(e.ctx, "qa", "release", 0)
	if err != nil {
		t.Fatal(err)
	}
	if c1.Version != 1 || latest.Version != 2 || c1.trigger == nil || latest.trigger != nil {
		t.Errorf("versions %d and %d, triggers %v and %v", c1.Version, latest.Version, c1.trigger, latest.trigger)
	}
	if again, _ := e.s.Compiled(e.ctx, "qa", "release", 1); again != c1 {
		t.Error("a version is compiled once and cached")
	}
	if n, _ := c1.Node("qa_check"); n.Mode != ModeAny || n.RejectTo != "end" || n.OnEmpty != "admin" {
		t.Errorf("defaults of the compiled node: %+v", n)
	}

	// A version stays loadable when what it names goes: drop the cache, delete role qa.
	if err := e.k.Auth.DeleteRole(e.ctx, e.admin, "qa"); err != nil {
		t.Fatal(err)
	}
	e.s.cache.Clear()
	if _, err := e.s.Compiled(e.ctx, "qa", "release", 1); err != nil {
		t.Errorf("v1 after its role was deleted: %v", err)
	}
	back := strings.Replace(flowDraft, `"when": "amount > 0"`, `"when": "amount > 1"`, 1)
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(back), 4); err == nil {
		t.Error("a draft naming a deleted role saved")
	}

	entries, err := e.k.Audit.List(e.ctx, engine.AuditQuery{Action: "definition.publish"})
	var targets []string
	for _, en := range entries {
		if en.Kind == DefinitionKind {
			targets = append(targets, en.Target)
		}
	}
	if err != nil || !slices.Equal(targets, []string{"qa/release@2", "qa/release@1"}) {
		t.Errorf("audit of publishes: %v, %v", targets, err)
	}
	if _, err := e.s.Publish(e.ctx, e.reader, "qa", "release"); !errors.Is(err, engine.ErrForbidden) {
		t.Errorf("publishing without app.design: want forbidden, got %v", err)
	}
}

// TestFlowPublishRechecks: publishing compiles the draft again, against the world as it is.
func TestFlowPublishRechecks(t *testing.T) {
	e := newFlowEnv(t)
	if _, err := e.s.SaveDraft(e.ctx, e.designer, "qa", []byte(flowDraft), 0); err != nil {
		t.Fatal(err)
	}
	if err := e.k.Auth.DeleteRole(e.ctx, e.admin, "qa"); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Publish(e.ctx, e.designer, "qa", "release")
	if fe, ok := engine.AsFieldErrors(err); !ok || fe[0].Path != "/nodes/1/assignees/0/role" {
		t.Errorf("publishing a draft whose role is gone: %v", err)
	}
	if vs, _ := e.s.Versions(e.ctx, e.admin, "qa", "release"); len(vs) != 0 {
		t.Errorf("a failed publish made %d versions", len(vs))
	}
}

func TestFlowRegistryKind(t *testing.T) {
	e := newFlowEnv(t)
	v, err := e.k.Registry.Validate(e.ctx, DefinitionKind, []byte(flowDraft))
	if err != nil {
		t.Fatal(err)
	}
	if def, ok := v.(*Definition); !ok || def.Key != "release" || len(def.Nodes) != 4 {
		t.Errorf("validated value %#v", v)
	}
	bad := strings.Replace(flowDraft, `"mode": "any"`, `"mode": "most"`, 1)
	_, err = e.k.Registry.Validate(e.ctx, DefinitionKind, []byte(bad))
	if fe, ok := engine.AsFieldErrors(err); !ok || fe[0].Path != "/nodes/1/mode" || fe[0].Code != "one_of" {
		t.Errorf("bad mode: %v", err)
	}
}
