package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/engine"
	"tracecraft/forms"
	"tracecraft/workflow"
)

// The authorisation matrix (issue 7): every route of the route table × a set of principals —
// anonymous, a user with no grants, a form user with a row scope and a hidden field, the
// designer of one app, the administrator. Each answer is checked for its status class, and no
// answer to the form user may carry the value of the field hidden from it. New routes join the
// walk by being in the table; the walk fails on a route it cannot classify.

// matrixHidden is the value of the hidden field, and matrixEdited the value an approver gives it;
// neither may appear in any answer to the form user.
const (
	matrixHidden = 987654.25
	matrixEdited = 987655.75
)

var matrixHiddenText = []string{"987654", "987655"}

const matrixBatchDef = `{
  "key": "batch",
  "name": {"zh-CN": "生产批次", "en": "Batch"},
  "schema": {"type": "object", "properties": {
    "product": {"x-type": "text", "x-label": {"zh-CN": "产品", "en": "Product"}},
    "qty":     {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
    "cost":    {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
    "coa":     {"x-type": "attachment", "x-label": {"zh-CN": "检验报告", "en": "COA"}},
    "margin":  {"x-type": "formula", "x-label": {"zh-CN": "成本合计", "en": "Total cost"}, "x-options": {"expr": "cost * 2", "result": "number"}}
  }},
  "permissions": {
    "op": {"actions": ["create", "read", "update", "delete", "export"], "scope": "own", "hidden": ["cost"]}
  }
}`

const matrixFlowDef = `{
  "key": "check", "name": {"zh-CN": "批次复核"}, "form": "batch", "trigger": {"on": "create"},
  "nodes": [
    {"id": "start", "type": "start", "next": "review"},
    {"id": "review", "type": "approval", "mode": "any", "assignees": [{"kind": "user", "users": ["admin"]}], "next": "sign",
     "fields": {"editable": ["cost"]}},
    {"id": "sign", "type": "approval", "mode": "any", "assignees": [{"kind": "user", "users": ["admin"]}], "next": "done"},
    {"id": "done", "type": "end", "outcome": "approved"}]}`

// matrixWho is one principal of the matrix.
type matrixWho struct {
	name   string
	client *apitest.Client // nil: anonymous
}

// matrixFixture is the data the walk's path parameters point at.
type matrixFixture struct {
	f        *fixture
	own      string // a record the form user created (its hidden field set by the admin)
	foreign  string // a record of the admin's, outside the form user's scope
	file     string
	instance string
	task     string
	job      string // an import job the form user started
}

func newMatrixFixture(t *testing.T) (*matrixFixture, []matrixWho) {
	t.Helper()
	f := newFixture(t, "other")
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	auth := f.s.Kernel.Auth
	f.publishForm(t, plantApp, matrixBatchDef)
	f.admin.Do("POST", "/api/v1/apps/plant/flows", json.RawMessage(matrixFlowDef), 201, nil)
	f.admin.Do("POST", "/api/v1/apps/plant/flows/check/publish", nil, 201, nil)

	mustRole := func(name string, grants ...engine.Grant) {
		if _, err := auth.PutRole(ctx, sys, engine.Role{Name: name, Label: engine.Text{ZH: name}, Grants: grants}); err != nil {
			t.Fatal(err)
		}
	}
	mustUser := func(name string, roles ...string) *apitest.Client {
		pw := "passw0rd-" + name
		if _, err := auth.CreateUser(ctx, sys, engine.UserInput{Username: name, DisplayName: name, Roles: roles, Password: pw}); err != nil {
			t.Fatal(err)
		}
		return f.s.Login(t, name, pw)
	}
	mustRole("op", engine.Grant{App: plantApp, Actions: []string{engine.PermAppRead}})
	mustRole("designer", engine.Grant{App: plantApp, Actions: []string{engine.PermAppRead, engine.PermAppDesign}})
	mustRole("temp-role", engine.Grant{App: "other", Actions: []string{engine.PermAppRead}})
	op := mustUser("oscar", "op")
	designer := mustUser("dora", "designer")
	nobody := mustUser("nina")
	mustUser("victim")

	m := &matrixFixture{f: f}
	batches := recordsPath(plantApp, "batch")
	var own, foreign forms.Record
	op.Do("POST", batches, map[string]any{"data": map[string]any{"product": "饼干", "qty": 10}}, 201, &own)
	f.admin.Do("PATCH", batches+"/"+own.ID, map[string]any{"rev": own.Rev, "data": map[string]any{"cost": matrixHidden}}, 200, nil)
	// The admin's record holds a file: the form user may not download it (it reads no record
	// that references it).
	m.file = upload(t, f.admin, plantApp, "coa.pdf", []byte("%PDF-1.4\n% certificate of analysis\n"), 201).ID
	f.admin.Do("POST", batches, map[string]any{"data": map[string]any{"product": "面包", "qty": 5, "cost": matrixHidden, "coa": []string{m.file}}}, 201, &foreign)
	m.own, m.foreign = own.ID, foreign.ID

	// The flow starts after the create returns: wait for the admin's first task, approve it with
	// an edit of the hidden field (the timeline keeps the edit), and take the second task.
	adminTask := func(node string) string {
		var items []workflow.InboxItem
		f.admin.Do("GET", "/api/v1/inbox?box=todo", nil, 200, &items)
		for _, it := range items {
			if it.Record == m.own && it.Task.Node == node {
				m.instance = it.Instance
				return it.Task.ID
			}
		}
		return ""
	}
	matrixWait(t, func() bool { return adminTask("review") != "" })
	f.admin.Do("POST", "/api/v1/tasks/"+adminTask("review")+"/actions",
		map[string]any{"action": "approve", "comment": "成本已核", "data": map[string]any{"cost": matrixEdited}}, 200, nil)
	matrixWait(t, func() bool { m.task = adminTask("sign"); return m.task != "" })

	// An import job of the form user's: readable by it and the administrator only.
	var job forms.ImportJob
	res := op.Raw("POST", batches+"/import?format=csv", "text/csv", []byte("产品,数量\n月饼,3\n"))
	if res.Status != 202 || json.Unmarshal(res.Body, &job) != nil {
		t.Fatalf("import: %d %s", res.Status, res.Body)
	}
	m.job = job.ID
	matrixWait(t, func() bool {
		op.Do("GET", "/api/v1/apps/plant/forms/batch/imports/"+m.job, nil, 200, &job)
		return job.State == forms.ImportDone
	})

	return m, []matrixWho{
		{"anonymous", nil},
		{"nobody", nobody},
		{"op", op},
		{"designer", designer},
		{"admin", f.admin},
	}
}

// param gives the fixture's value for a path parameter of route path p.
func (m *matrixFixture) param(p, name string, foreign bool) string {
	switch name {
	case "app":
		return plantApp
	case "form":
		return "batch"
	case "flow":
		return "check"
	case "task":
		return m.task
	case "job":
		return m.job
	case "username":
		return "victim"
	case "name":
		return "temp-role"
	case "id":
		switch {
		case strings.Contains(p, "/records/"):
			if foreign {
				return m.foreign
			}
			return m.own
		case strings.Contains(p, "/files/"):
			return m.file
		case strings.Contains(p, "/instances/"):
			return m.instance
		case strings.Contains(p, "/departments/"):
			return "qc"
		}
	}
	return "no-such-" + name
}

// matrixBodies are the bodies of routes that check their input before their rights and have no
// :app to check first: valid bodies, so the walk reaches the check of rights.
var matrixBodies = map[string]string{
	"/api/v1/instances/:id/comments":                        `{"comment": "复核意见"}`,
	"/api/v1/apps/:app/forms/:form/records/:id":             `{"rev": 1, "data": {"qty": 1}}`,
	"/api/v1/apps/:app/forms/:form/records/:id/restore":     `{"rev": 1}`,
	"/api/v1/apps/:app/forms/:form/records/:id/transitions": `{"transition": "submit", "rev": 1}`,
}

// routeClass says who may use a route.
type routeClass int

const (
	classPublic routeClass = iota // anyone, signed in or not
	classSelf                     // any signed-in user, about themselves
	classAdmin                    // system administrators only
	classDesign                   // designers of the app
	classData                     // users of the app, as their form roles allow
)

func classify(r api.Route) routeClass {
	p := r.Path
	switch {
	case r.Public:
		return classPublic
	case strings.HasPrefix(p, "/api/v1/users"), strings.HasPrefix(p, "/api/v1/roles"),
		strings.HasPrefix(p, "/api/v1/departments") && r.Method != "GET", strings.HasPrefix(p, "/api/v1/audit"),
		strings.HasPrefix(p, "/api/v1/admin"), // label printers and their 测试打印 (…/admin/printers/:name/test), the grantable actions too
		p == "/api/v1/apps" && r.Method == "POST":
		return classAdmin
	case strings.HasPrefix(p, "/api/v1/me"), strings.HasPrefix(p, "/api/v1/inbox"),
		strings.HasPrefix(p, "/api/v1/auth/"), strings.HasPrefix(p, "/api/v1/form-meta/"),
		p == "/api/v1/openapi.json", p == "/api/v1/apps" && r.Method == "GET",
		p == "/api/v1/tasks/batch-approve", p == "/api/v1/departments" && r.Method == "GET",
		strings.HasPrefix(p, "/api/v1/notifications"),
		p == "/api/v1/printers": // label printers' names, to choose one (hosts are admin-only)
		return classSelf
	case strings.HasSuffix(p, "/flows") && r.Method != "GET" && !strings.Contains(p, "/records/"),
		strings.HasSuffix(p, "/flows/:flow") && r.Method != "GET",
		strings.HasSuffix(p, "/forms") && r.Method != "GET",
		strings.HasSuffix(p, "/forms/:form") && r.Method != "GET",
		strings.HasSuffix(p, "/publish"),
		strings.HasPrefix(p, "/api/v1/apps/:app/rules"),           // rules, their runs and dry runs: designers only
		strings.HasPrefix(p, "/api/v1/apps/:app/code-complaints"), // consumers' complaints from scan pages: read, delete
		// print templates, their previews and jobs: designers only (printing is for users)
		strings.HasPrefix(p, "/api/v1/apps/:app/print-templates") && !strings.HasSuffix(p, "/print"):
		return classDesign
	case strings.HasSuffix(p, "/codes/:issuance/serials"), // an issuance's serials: readers of the lot record
		strings.HasSuffix(p, "/forms/:form/print-templates"): // a form's published templates: its readers print with them
		return classData
	case strings.HasPrefix(p, "/api/v1/apps/:app"), // …/members too: any member of the app, for people pickers
		strings.HasPrefix(p, "/api/v1/tasks/"),
		strings.HasPrefix(p, "/api/v1/instances/"):
		return classData
	}
	return -1
}

// allowed says whether status is a right answer of route class c to who.
func allowed(c routeClass, who string, status int, foreign, withdraw bool) bool {
	if status >= 500 || status == 0 {
		return false
	}
	denied := status == 401 || status == 403 || status == 404
	switch who {
	case "anonymous":
		if c == classPublic {
			return status != 401 && status != 403
		}
		return status == 401
	case "nobody":
		switch c {
		case classPublic, classSelf:
			return status != 401 && status != 403
		}
		return status == 403 || status == 404
	case "op":
		switch c {
		case classAdmin, classDesign:
			return status == 403
		case classData:
			if foreign {
				return status == 403 || status == 404
			}
		}
		return status != 401
	case "designer":
		if c == classAdmin {
			return status == 403
		}
		return status != 401
	case "admin":
		return !denied || status == 404 || withdraw && status == 403 // only the initiator withdraws
	}
	return false
}

func TestAuthorisationMatrix(t *testing.T) {
	m, whos := newMatrixFixture(t)
	routes := append([]api.Route(nil), m.f.s.API.Routes()...)
	// Sign-out ends the session the rest of the walk uses: it goes last.
	sort.SliceStable(routes, func(i, j int) bool {
		return !strings.HasSuffix(routes[i].Path, "/logout") && strings.HasSuffix(routes[j].Path, "/logout")
	})
	for _, who := range whos {
		for _, r := range routes {
			class := classify(r)
			if class < 0 {
				t.Fatalf("route %s %s has no class in the authorisation matrix: add it to classify", r.Method, r.Path)
			}
			passes := []bool{false}
			switch {
			case class == classData && strings.Contains(r.Path, "/records/:id"):
				passes = append(passes, true) // the same route on a record outside the form user's scope
			case class == classData && strings.Contains(r.Path, "/files/"):
				passes = []bool{true} // the file is the admin's record's
			}
			for _, foreign := range passes {
				path := r.Path
				for _, part := range strings.Split(r.Path, "/") {
					if strings.HasPrefix(part, ":") {
						name := strings.TrimSuffix(strings.TrimPrefix(part, ":"), "?")
						path = strings.Replace(path, part, m.param(r.Path, name, foreign), 1)
					}
				}
				c := m.f.s.Client(t)
				if who.client != nil {
					c = m.f.as(t, who.client)
				}
				var body []byte
				ct := ""
				if r.Method == "POST" || r.Method == "PUT" || r.Method == "PATCH" {
					body, ct = []byte(`{}`), "application/json"
					if b, ok := matrixBodies[r.Path]; ok {
						body = []byte(b)
					}
				}
				if r.Method == "DELETE" && strings.Contains(r.Path, "/records/:id") {
					path += "?rev=1"
				}
				res := c.Raw(r.Method, path, ct, body)
				label := fmt.Sprintf("%s %s %s (foreign=%v)", who.name, r.Method, path, foreign)
				if !allowed(class, who.name, res.Status, foreign, strings.HasSuffix(r.Path, "/withdraw")) {
					t.Errorf("%s: status %d not allowed for class %d: %.300s", label, res.Status, class, res.Body)
				}
				if res.Status >= 500 && !strings.Contains(string(res.Body), `"id"`) {
					t.Errorf("%s: a %d without an error id: %.300s", label, res.Status, res.Body)
				}
				for _, hidden := range matrixHiddenText {
					if who.name == "op" && strings.Contains(string(res.Body), hidden) {
						t.Errorf("%s: the hidden field's value is in the answer: %.500s", label, res.Body)
					}
				}
			}
		}
	}
}

// matrixWait polls cond (flows start after the create that triggers them returns).
func matrixWait(t *testing.T, cond func() bool) {
	t.Helper()
	for range 200 {
		if cond() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met within 10 s")
}
