package forms

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// Regression tests of issue 7 (hardening): items 3, 4, 5, 6, 10 and 17, on the engine.

// hardEnv is a form service on a fresh store whose clock the test moves.
type hardEnv struct {
	s     *Service
	ctx   context.Context
	admin *engine.Principal
	roles map[string]bool
	mu    sync.Mutex
	now   time.Time
}

func newHardEnv(t *testing.T) *hardEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(storetest.New(t), engine.KernelOptions{Log: storetest.Quiet})
	e := &hardEnv{ctx: ctx, admin: engine.SystemPrincipal(), roles: map[string]bool{}, now: time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC)}
	e.s = New(k, Options{Now: e.clock})
	enginetest.Start(t, k)
	if _, err := e.s.CreateApp(ctx, e.admin, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *hardEnv) clock() time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.now = e.now.Add(time.Millisecond) // distinct ids
	return e.now
}

func (e *hardEnv) advance(d time.Duration) {
	e.mu.Lock()
	e.now = e.now.Add(d)
	e.mu.Unlock()
}

func (e *hardEnv) publish(t *testing.T, key, def string) {
	t.Helper()
	if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(def), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Publish(e.ctx, e.admin, "qa", key); err != nil {
		t.Fatal(err)
	}
}

// user is a principal holding roles, each of which lets it see app qa.
func (e *hardEnv) user(t *testing.T, name string, roles ...string) *engine.Principal {
	t.Helper()
	for _, r := range roles {
		if e.roles[r] {
			continue
		}
		e.roles[r] = true
		if _, err := e.s.k.Auth.PutRole(e.ctx, e.admin, engine.Role{Name: r, Label: engine.Text{EN: r},
			Grants: []engine.Grant{{App: "qa", Actions: []string{"app.read"}}}}); err != nil {
			t.Fatal(err)
		}
	}
	return &engine.Principal{Username: name, Roles: roles}
}

func (e *hardEnv) create(t *testing.T, p *engine.Principal, form string, data Values) *Record {
	t.Helper()
	r, err := e.s.Create(e.ctx, p, "qa", form, data)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func (e *hardEnv) upload(t *testing.T, p *engine.Principal, name string, content []byte) string {
	t.Helper()
	fi, err := e.s.Upload(e.ctx, p, "qa", name, bytes.NewReader(content))
	if err != nil {
		t.Fatal(err)
	}
	return fi.ID
}

// wantCode checks err is the sentinel with the given code.
func wantCode(t *testing.T, err error, sentinel error, code string) {
	t.Helper()
	var ce *engine.CodedError
	if !errors.Is(err, sentinel) || !errors.As(err, &ce) || ce.Code != code {
		t.Fatalf("error %v, want %v with code %s", err, sentinel, code)
	}
	for _, lang := range []string{engine.LangZH, engine.LangEN} {
		if m := ce.Message(lang); m == "" || strings.HasPrefix(m, "error.") {
			t.Fatalf("code %s has no %s message: %q", code, lang, m)
		}
	}
}

// costDef hides the cost from readers; its lines compute from parent.cost.
const costDef = `{
  "key": "batch",
  "name": {"zh-CN": "批次"},
  "schema": {"type": "object", "properties": {
    "price": {"x-type": "number", "x-label": {"zh-CN": "价格"}},
    "cost":  {"x-type": "number", "x-label": {"zh-CN": "成本"}},
    "lines": {"x-type": "subtable", "x-label": {"zh-CN": "明细"}, "items": {"type": "object", "properties": {
      "qty":       {"x-type": "number", "x-label": {"zh-CN": "数量"}},
      "double":    {"x-type": "formula", "x-label": {"zh-CN": "两倍"}, "x-options": {"expr": "qty * 2"}},
      "at_price":  {"x-type": "formula", "x-label": {"zh-CN": "售价额"}, "x-options": {"expr": "qty * parent.price"}},
      "line_cost": {"x-type": "formula", "x-label": {"zh-CN": "成本额"}, "x-options": {"expr": "qty * parent.cost"}},
      "cost_x2":   {"x-type": "formula", "x-label": {"zh-CN": "成本额两倍"}, "x-options": {"expr": "line_cost * 2"}},
      "indexed":   {"x-type": "formula", "x-label": {"zh-CN": "索引"}, "x-options": {"expr": "qty * parent[\"co\" + \"st\"]"}}
    }}},
    "total_cost": {"x-type": "formula", "x-label": {"zh-CN": "总成本"}, "x-options": {"expr": "sum(lines, .line_cost ?? 0)"}}
  }},
  "permissions": {
    "reader": {"actions": ["read", "export"], "hidden": ["cost"]},
    "owner":  {"actions": ["create", "read", "update"], "scope": "own"}
  }
}`

// TestHardening03_SubtableFormulaOverHiddenParent: a column formula over parent.cost (directly,
// through another column, or by indexing parent) is hidden from a role that hides cost, in
// gets, lists, history and write answers; columns that read nothing hidden stay.
func TestHardening03_SubtableFormulaOverHiddenParent(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "batch", costDef)
	reader := e.user(t, "rita", "reader")
	rec := e.create(t, e.admin, "batch", Values{"price": 10, "cost": 7, "lines": []any{map[string]any{"qty": 3}}})
	if row := rec.Data["lines"].([]any)[0].(map[string]any); row["line_cost"] != float64(21) || row["indexed"] != float64(21) {
		t.Fatalf("admin's row %v", row)
	}
	leaks := func(what string, data Values) {
		t.Helper()
		if _, ok := data["cost"]; ok {
			t.Errorf("%s shows cost: %v", what, data)
		}
		if _, ok := data["total_cost"]; ok {
			t.Errorf("%s shows total_cost, a sum over the hidden column: %v", what, data)
		}
		rows, _ := data["lines"].([]any)
		if len(rows) != 1 {
			t.Fatalf("%s: lines %v", what, data["lines"])
		}
		row := rows[0].(map[string]any)
		for _, col := range []string{"line_cost", "cost_x2", "indexed"} {
			if _, ok := row[col]; ok {
				t.Errorf("%s shows lines.%s, computed from the hidden cost: %v", what, col, row)
			}
		}
		if row["qty"] != float64(3) || row["double"] != float64(6) || row["at_price"] != float64(30) {
			t.Errorf("%s hides columns that read nothing hidden: %v", what, row)
		}
	}
	got, err := e.s.Get(e.ctx, reader, "qa", "batch", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	leaks("get", got.Data)
	list, err := e.s.List(e.ctx, reader, "qa", "batch", ListQuery{})
	if err != nil || len(list.Items) != 1 {
		t.Fatalf("list: %v %v", list, err)
	}
	leaks("list", list.Items[0].Data)
	hist, err := e.s.History(e.ctx, reader, "qa", "batch", rec.ID, HistoryQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range hist.Items {
		for _, c := range h.Changes {
			if c.Field == "cost" || c.Field == "total_cost" || strings.Contains(fmt.Sprint(c.After), "line_cost") {
				t.Errorf("history rev %d shows %s: %v", h.Rev, c.Field, c.After)
			}
		}
	}
	var csv bytes.Buffer
	if _, err := e.s.Export(e.ctx, reader, "qa", "batch", ListQuery{}, FormatCSV, engine.LangEN, &csv); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(csv.String(), "line_cost") || strings.Contains(csv.String(), "total_cost") {
		t.Errorf("export shows the line cost:\n%s", csv.String())
	}

	// Flows show a record through the field list of VisibleFields: a sub-table with a hidden
	// column is left out whole, and so are the hidden field and the total over the column.
	fv, err := e.s.k.Records.VisibleFields(e.ctx, reader, "qa", "batch", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fv.Fields, []string{"price"}) {
		t.Errorf("visible fields for flows %v, want [price]", fv.Fields)
	}

	// An owner sees the columns on their own records (their role hides nothing), and their
	// write answers show them; a reader who is also an owner still gets them hidden on others'.
	both := e.user(t, "otto", "reader", "owner")
	mine := e.create(t, both, "batch", Values{"price": 5, "cost": 2, "lines": []any{map[string]any{"qty": 1}}})
	if row := mine.Data["lines"].([]any)[0].(map[string]any); row["line_cost"] != float64(2) {
		t.Fatalf("owner's own row %v", row)
	}
	theirs, err := e.s.Get(e.ctx, both, "qa", "batch", rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	leaks("get by reader+owner", theirs.Data)
}

// fileDef has a visible attachment and one readers may not see.
const fileDef = `{
  "key": "coa",
  "name": {"zh-CN": "检验报告"},
  "schema": {"type": "object", "properties": {
    "supplier": {"x-type": "text", "x-label": {"zh-CN": "供应商"}},
    "doc":      {"x-type": "attachment", "x-label": {"zh-CN": "报告"}},
    "secret":   {"x-type": "attachment", "x-label": {"zh-CN": "合同"}},
    "lines":    {"x-type": "subtable", "x-label": {"zh-CN": "明细"}, "items": {"type": "object", "properties": {
      "photo": {"x-type": "attachment", "x-label": {"zh-CN": "照片"}}}}}
  }},
  "permissions": {
    "reader": {"actions": ["read"], "hidden": ["secret"]},
    "clerk":  {"actions": ["create", "read", "update"], "scope": "own"},
    "noread": {"actions": ["create"]}
  }
}`

func (e *hardEnv) download(p *engine.Principal, id string) ([]byte, error) {
	var buf bytes.Buffer
	_, err := e.s.Download(e.ctx, p, "qa", id, &buf)
	return buf.Bytes(), err
}

// TestHardening04_FilesAuthorisedByRecords: a file is downloadable by its uploader and by
// whoever may read a record that shows it in a visible field; nobody may attach another
// user's unattached upload or a file they cannot download.
func TestHardening04_FilesAuthorisedByRecords(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "coa", fileDef)
	carl := e.user(t, "carl", "clerk")
	cleo := e.user(t, "cleo", "clerk")
	rita := e.user(t, "rita", "reader")
	nora := e.user(t, "nora", "noread")

	// Over one chunk, so the download reads several.
	big := bytes.Repeat([]byte("0123456789abcdef"), chunkSize/16+1000)
	doc := e.upload(t, carl, "coa.pdf", big)
	secret := e.upload(t, carl, "contract.pdf", []byte("%PDF-1.4 secret"))
	photo := e.upload(t, carl, "line.txt", []byte("a line's photo"))

	mustNotFound := func(who *engine.Principal, id, why string) {
		t.Helper()
		if _, err := e.download(who, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("%s downloads %s (%s): %v", who.Username, id, why, err)
		}
		if _, err := e.s.FileInfo(e.ctx, who, "qa", id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("%s reads the info of %s (%s): %v", who.Username, id, why, err)
		}
	}
	mustGet := func(who *engine.Principal, id string, want []byte) {
		t.Helper()
		got, err := e.download(who, id)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s downloads %s: %d bytes, %v; want %d bytes", who.Username, id, len(got), err, len(want))
		}
	}
	mustGet(carl, doc, big)
	mustNotFound(rita, doc, "an upload no record holds yet")

	rec := e.create(t, carl, "coa", Values{"supplier": "Acme", "doc": []any{doc}, "secret": []any{secret},
		"lines": []any{map[string]any{"photo": []any{photo}}}})
	mustGet(rita, doc, big)
	mustGet(rita, photo, []byte("a line's photo"))
	mustNotFound(rita, secret, "in a field the reader's role hides")
	mustNotFound(cleo, doc, "a record outside her own scope")
	mustNotFound(nora, doc, "a role that does not read the form")
	mustGet(carl, secret, []byte("%PDF-1.4 secret"))

	// Attaching: another user's unattached upload, or a file of a record one cannot read, is
	// "not found" like an id that does not exist.
	fresh := e.upload(t, carl, "fresh.pdf", []byte("%PDF-1.4 fresh"))
	_, err := e.s.Create(e.ctx, cleo, "qa", "coa", Values{"supplier": "Cleo", "doc": []any{fresh, doc}, "lines": []any{map[string]any{"photo": []any{photo}}}})
	fe, ok := engine.AsFieldErrors(err)
	var got []string
	for _, f := range fe {
		got = append(got, f.Path+" "+f.Code)
	}
	slices.Sort(got)
	if want := []string{"doc.0 not_found", "doc.1 not_found", "lines.0.photo.0 not_found"}; !ok || !slices.Equal(got, want) {
		t.Fatalf("cleo attaching carl's files: %v, want %v", err, want)
	}
	// Her own upload she may attach; and carl may still update his record, keeping his files.
	own := e.upload(t, cleo, "own.pdf", []byte("%PDF-1.4 own"))
	e.create(t, cleo, "coa", Values{"supplier": "Cleo", "doc": []any{own}})
	if _, err := e.s.Update(e.ctx, carl, "qa", "coa", rec.ID, rec.Rev, Values{"supplier": "Acme Ltd"}); err != nil {
		t.Fatalf("update keeping the files: %v", err)
	}
	// A file rita may download she may attach elsewhere too (copying a certificate).
	both := e.user(t, "rob", "reader", "clerk")
	e.create(t, both, "coa", Values{"supplier": "Rob", "doc": []any{doc}})
}

// TestHardening04_OrphanFilesCollected: uploads nothing holds after a day, and files removed
// from every record, are deleted with their chunks; files records hold (deleted records too,
// they can be restored) and files on a flow timeline stay.
func TestHardening04_OrphanFilesCollected(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "coa", fileDef)
	carl := e.user(t, "carl", "clerk")
	rita := e.user(t, "rita", "reader")
	never := e.upload(t, carl, "never.pdf", []byte("never attached"))
	kept := e.upload(t, carl, "kept.pdf", []byte("kept"))
	removed := e.upload(t, carl, "removed.pdf", []byte("removed later"))
	inRow := e.upload(t, carl, "row.pdf", []byte("in a row"))
	onDeleted := e.upload(t, carl, "deleted.pdf", []byte("on a deleted record"))
	onFlow := e.upload(t, carl, "comment.pdf", []byte("a comment's attachment"))
	dangling := e.upload(t, carl, "dangling.pdf", []byte("claimed, never written"))

	r1 := e.create(t, carl, "coa", Values{"doc": []any{kept, removed}, "lines": []any{map[string]any{"photo": []any{inRow}}}})
	if _, err := e.s.Update(e.ctx, carl, "qa", "coa", r1.ID, r1.Rev, Values{"doc": []any{kept}}); err != nil {
		t.Fatal(err)
	}
	r2 := e.create(t, carl, "coa", Values{"doc": []any{onDeleted}})
	if _, err := e.s.Delete(e.ctx, e.admin, "qa", "coa", r2.ID, r2.Rev); err != nil {
		t.Fatal(err)
	}
	if err := e.s.k.Records.AttachFiles(e.ctx, rita, "qa", "coa", r1.ID, []string{onFlow}); err == nil {
		t.Fatal("rita attached carl's upload to a flow")
	}
	if err := e.s.k.Records.AttachFiles(e.ctx, carl, "qa", "coa", r1.ID, []string{onFlow}); err != nil {
		t.Fatal(err)
	}
	if got, err := e.download(rita, onFlow); err != nil || string(got) != "a comment's attachment" {
		t.Fatalf("a reader of the record downloads its flow's attachment: %q %v", got, err)
	}
	// A claim whose record write failed.
	if err := e.s.bindFile(e.ctx, fileRef{File: dangling, App: "qa", Form: "coa", Record: "nosuchrecord", Field: "doc"}); err != nil {
		t.Fatal(err)
	}

	if n, err := e.s.CollectFiles(e.ctx); err != nil || n != 0 {
		t.Fatalf("collect within the first day: %d, %v", n, err)
	}
	e.advance(FileOrphanAfter + time.Hour)
	young := e.upload(t, carl, "young.pdf", []byte("uploaded just now"))
	n, err := e.s.CollectFiles(e.ctx)
	if err != nil || n != 3 {
		t.Fatalf("collected %d, %v; want 3 (never, removed, dangling)", n, err)
	}
	for _, id := range []string{never, removed, dangling} {
		if _, err := e.download(carl, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("orphan %s still downloads: %v", id, err)
		}
		var c fileChunk
		if err := e.s.st.Get(e.ctx, chunksCollection, chunkID(id, 0), &c); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("orphan %s keeps its chunk: %v", id, err)
		}
		var r fileRef
		if err := e.s.st.Get(e.ctx, fileRefsCollection, fileRefID(id, 1), &r); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("orphan %s keeps its reference: %v", id, err)
		}
	}
	for _, id := range []string{kept, inRow, onDeleted, onFlow, young} {
		if _, err := e.download(carl, id); err != nil {
			t.Errorf("file %s in use was collected: %v", id, err)
		}
	}
}

// TestHardening04_CollectJobScheduled: the collector runs on the kernel scheduler.
func TestHardening04_CollectJobScheduled(t *testing.T) {
	e := newHardEnv(t)
	carl := e.user(t, "carl", "clerk")
	id := e.upload(t, carl, "never.pdf", []byte("never attached"))
	e.advance(FileOrphanAfter + time.Hour)
	ran, err := e.s.k.Scheduler.RunDue(e.ctx, FileCollectJob, e.clock())
	if err != nil || !ran {
		t.Fatalf("run %s: %v %v", FileCollectJob, ran, err)
	}
	if _, err := e.download(carl, id); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("the scheduled job left the orphan: %v", err)
	}
}

// scopeDef: keepers read everything but delete (and see deleted) only their own records, or
// by an expression only those of their site.
const scopeDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次"},
  "schema": {"type": "object", "properties": {
    "no":   {"x-type": "autonumber", "x-label": {"zh-CN": "编号"}, "x-options": {"pattern": "L{seq:4}"}},
    "site": {"x-type": "text", "x-label": {"zh-CN": "厂区"}},
    "note": {"x-type": "text", "x-label": {"zh-CN": "备注"}}
  }},
  "permissions": {
    "reader":  {"actions": ["read", "export"], "scope": "all"},
    "keeper":  {"actions": ["create", "read", "delete"], "scope": "own"},
    "siteops": {"actions": ["read", "delete"], "scope": "expr", "condition": "site == \"A\""},
    "site_a":  {"actions": ["create", "read", "update"], "scope": "expr", "condition": "site == \"A\""}
  }
}`

// TestHardening05_DeletedListsApplyTheDeleteScope: the list (and export) of deleted records
// shows only those the delete action's row scope covers, pushed to the store or checked row
// by row for an expression scope; history and restore of others' are not found.
func TestHardening05_DeletedListsApplyTheDeleteScope(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "lot", scopeDef)
	kim := e.user(t, "kim", "reader", "keeper")
	ken := e.user(t, "ken", "reader", "keeper")
	sam := e.user(t, "sam", "reader", "siteops")
	mine := e.create(t, kim, "lot", Values{"site": "B"})
	his := e.create(t, ken, "lot", Values{"site": "A"})
	for _, r := range []*Record{mine, his} {
		if _, err := e.s.Delete(e.ctx, e.admin, "qa", "lot", r.ID, r.Rev); err != nil {
			t.Fatal(err)
		}
	}
	listed := func(p *engine.Principal) []string {
		t.Helper()
		res, err := e.s.List(e.ctx, p, "qa", "lot", ListQuery{Deleted: true})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range res.Items {
			ids = append(ids, it.ID)
		}
		if res.Total != int64(len(ids)) {
			t.Errorf("%s: total %d for %v", p.Username, res.Total, ids)
		}
		return ids
	}
	if got := listed(kim); !slices.Equal(got, []string{mine.ID}) {
		t.Errorf("kim's deleted list %v, want only her own %s", got, mine.ID)
	}
	if got := listed(sam); !slices.Equal(got, []string{his.ID}) {
		t.Errorf("sam's deleted list %v, want only site A's %s", got, his.ID)
	}
	if got := listed(e.admin); len(got) != 2 {
		t.Errorf("admin's deleted list %v", got)
	}
	exported := func(p *engine.Principal) string {
		t.Helper()
		var buf bytes.Buffer
		if _, err := e.s.Export(e.ctx, p, "qa", "lot", ListQuery{Deleted: true}, FormatCSV, engine.LangEN, &buf); err != nil {
			t.Fatal(err)
		}
		return buf.String()
	}
	if csv := exported(kim); !strings.Contains(csv, mine.Data["no"].(string)) || strings.Contains(csv, his.Data["no"].(string)) {
		t.Errorf("kim's export of deleted records:\n%s", csv)
	}
	if csv := exported(sam); strings.Contains(csv, mine.Data["no"].(string)) || !strings.Contains(csv, his.Data["no"].(string)) {
		t.Errorf("sam's export of deleted records:\n%s", csv)
	}
	if _, err := e.s.History(e.ctx, kim, "qa", "lot", his.ID, HistoryQuery{}); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("kim reads the history of ken's deleted record: %v", err)
	}
	if _, err := e.s.Restore(e.ctx, kim, "qa", "lot", his.ID, his.Rev+1); !errors.Is(err, engine.ErrNotFound) {
		t.Errorf("kim restores ken's record: %v", err)
	}
	if _, err := e.s.Restore(e.ctx, kim, "qa", "lot", mine.ID, mine.Rev+1); err != nil {
		t.Errorf("kim restores her own record: %v", err)
	}
}

// TestHardening06_ScopeCheckedAfterWrite: a create must land inside the create scope and an
// update must leave the record inside the update scope; a refused create draws no number.
func TestHardening06_ScopeCheckedAfterWrite(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "lot", scopeDef)
	ann := e.user(t, "ann", "site_a")
	for _, in := range []Values{{"site": "B"}, {"note": "no site"}, {}} {
		_, err := e.s.Create(e.ctx, ann, "qa", "lot", in)
		wantCode(t, err, engine.ErrForbidden, "create_out_of_scope")
	}
	rec := e.create(t, ann, "lot", Values{"site": "A"})
	if rec.Data["no"] != "L0001" {
		t.Fatalf("the refused create drew a number: %v", rec.Data["no"])
	}
	_, err := e.s.Update(e.ctx, ann, "qa", "lot", rec.ID, rec.Rev, Values{"site": "B"})
	wantCode(t, err, engine.ErrForbidden, "update_out_of_scope")
	got, err := e.s.Get(e.ctx, ann, "qa", "lot", rec.ID)
	if err != nil || got.Data["site"] != "A" || got.Rev != rec.Rev {
		t.Fatalf("after the refused update: %+v %v", got, err)
	}
	if _, err := e.s.Update(e.ctx, ann, "qa", "lot", rec.ID, rec.Rev, Values{"note": "ok"}); err != nil {
		t.Fatalf("an update within the scope: %v", err)
	}
	// The admin is not bound by scopes.
	if _, err := e.s.Update(e.ctx, e.admin, "qa", "lot", rec.ID, rec.Rev+1, Values{"site": "C"}); err != nil {
		t.Fatalf("admin moves the record: %v", err)
	}
}

// TestHardening10_ReadsCreateNoCollections: reads of an unknown app, form or record are not
// found and leave no collection behind; the form is resolved before its records are read.
func TestHardening10_ReadsCreateNoCollections(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "lot", scopeDef)
	collections := func() []string {
		t.Helper()
		names, err := e.s.st.Database().ListCollectionNames(e.ctx, bson.D{})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(names)
		return names
	}
	reader := e.user(t, "rita", "reader")
	before := collections()
	for _, target := range [][2]string{{"qa", "nosuch"}, {"nope", "lot"}, {"qa", "lot"}} {
		app, form := target[0], target[1]
		for _, p := range []*engine.Principal{reader, e.admin} {
			if _, err := e.s.Get(e.ctx, p, app, form, "madeup"); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("get %s/%s/madeup: %v", app, form, err)
			}
			if _, err := e.s.History(e.ctx, p, app, form, "madeup", HistoryQuery{}); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("history %s/%s/madeup: %v", app, form, err)
			}
			if _, err := e.s.k.Records.GetRecord(e.ctx, p, app, form, "madeup"); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("records api get %s/%s/madeup: %v", app, form, err)
			}
			if _, err := e.s.Download(e.ctx, p, app, "madeup", &bytes.Buffer{}); !errors.Is(err, engine.ErrNotFound) {
				t.Errorf("download %s/madeup: %v", app, err)
			}
			if form != "lot" || app != "qa" {
				if _, err := e.s.List(e.ctx, p, app, form, ListQuery{}); !errors.Is(err, engine.ErrNotFound) {
					t.Errorf("list %s/%s: %v", app, form, err)
				}
			}
		}
	}
	if after := collections(); !slices.Equal(before, after) {
		t.Fatalf("reads created collections:\nbefore %v\nafter  %v", before, after)
	}
}

// TestHardening17_CodedConflicts: writes to an unpublished form and restoring a record that is
// not deleted are conflicts with codes of their own and messages that say what to do.
func TestHardening17_CodedConflicts(t *testing.T) {
	e := newHardEnv(t)
	if _, err := e.s.SaveDraft(e.ctx, e.admin, "qa", []byte(scopeDef), 0); err != nil {
		t.Fatal(err)
	}
	_, err := e.s.Create(e.ctx, e.admin, "qa", "lot", Values{"site": "A"})
	wantCode(t, err, engine.ErrConflict, "form_not_published")
	_, err = e.s.List(e.ctx, e.admin, "qa", "lot", ListQuery{})
	wantCode(t, err, engine.ErrConflict, "form_not_published")
	if _, err := e.s.Publish(e.ctx, e.admin, "qa", "lot"); err != nil {
		t.Fatal(err)
	}
	rec := e.create(t, e.admin, "lot", Values{"site": "A"})
	_, err = e.s.Restore(e.ctx, e.admin, "qa", "lot", rec.ID, rec.Rev)
	wantCode(t, err, engine.ErrConflict, "record_not_deleted")
}
