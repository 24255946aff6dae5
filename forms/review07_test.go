package forms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Regression tests of the review of issue 7's fixes ("TestHardening07Review_N", finding N),
// the form engine's parts.

// gateDef: op may write gate records but not see their code; pend may read and change them
// while they are pending only. Two transitions lead from pending to released, one of them
// only when code parses as a date before now.
const gateDef = `{
  "key": "gate",
  "name": {"zh-CN": "放行"},
  "schema": {"type": "object", "properties": {
    "title": {"x-type": "text", "x-label": {"zh-CN": "标题"}},
    "code":  {"x-type": "text", "x-label": {"zh-CN": "代码"}}
  }},
  "status": {
    "initial": "pending",
    "states": [
      {"key": "pending", "label": {"zh-CN": "待检"}},
      {"key": "released", "label": {"zh-CN": "放行"}}
    ],
    "transitions": [
      {"key": "release", "label": {"zh-CN": "放行"}, "from": ["pending"], "to": "released"},
      {"key": "check", "label": {"zh-CN": "核对放行"}, "from": ["pending"], "to": "released", "when": "date(code) < now()"}
    ]
  },
  "permissions": {
    "op":   {"actions": ["create", "read", "update"], "hidden": ["code"]},
    "pend": {"actions": ["read", "update"], "scope": "expr", "condition": "status == \"pending\""}
  }
}`

// TestHardening07Review_1_TransitionErrorQuotesNoValue (finding 1): a transition whose
// condition fails at run time on a field hidden from the caller answers with the position
// and the kind of failure, not the field's value.
func TestHardening07Review_1_TransitionErrorQuotesNoValue(t *testing.T) {
	const secret = "TOPSECRET-42"
	e := newHardEnv(t)
	e.publish(t, "gate", gateDef)
	op := e.user(t, "olga", "op")
	rec := e.create(t, e.admin, "gate", Values{"title": "t", "code": secret})
	if got, err := e.s.Get(e.ctx, op, "qa", "gate", rec.ID); err != nil || got.Data["code"] != nil {
		t.Fatalf("op reads %v, %v; want the record without code", got, err)
	}
	_, err := e.s.Transition(e.ctx, op, "qa", "gate", rec.ID, rec.Rev, "check")
	fe, ok := engine.AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Code != "expr" {
		t.Fatalf("error %v, want an expr field error", err)
	}
	for _, lang := range []string{engine.LangZH, engine.LangEN} {
		msg := engine.Message(lang, fe[0].Code, fe[0].Params)
		if strings.Contains(msg, secret) || !strings.Contains(msg, "line 1, column 1") {
			t.Errorf("%s message %q: want the position and no value", lang, msg)
		}
	}
	if strings.Contains(err.Error(), secret) {
		t.Errorf("error text %q quotes the hidden value", err)
	}
}

// TestHardening07Review_1_FormulaErrorQuotesNoValue (finding 1): a formula that fails on a
// value answers with the position and the kind of failure, not the value.
func TestHardening07Review_1_FormulaErrorQuotesNoValue(t *testing.T) {
	const secret = "TOPSECRET-42"
	e := newHardEnv(t)
	e.publish(t, "calc", `{
  "key": "calc",
  "name": {"zh-CN": "计算"},
  "schema": {"type": "object", "properties": {
    "code": {"x-type": "text", "x-label": {"zh-CN": "代码"}},
    "next": {"x-type": "formula", "x-label": {"zh-CN": "下一个"}, "x-options": {"expr": "int(code) + 1"}}
  }}
}`)
	_, err := e.s.Create(e.ctx, e.admin, "qa", "calc", Values{"code": secret})
	fe, ok := engine.AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Code != "expr" {
		t.Fatalf("error %v, want an expr field error", err)
	}
	msg := engine.Message(engine.LangEN, fe[0].Code, fe[0].Params)
	if strings.Contains(msg, secret) || !strings.Contains(msg, "int: the value is not a whole number") {
		t.Errorf("message %q: want the kind of failure and no value", msg)
	}
}

// TestHardening07Review_2_TransitionStaysInScope (finding 2): a status transition, or a status
// set through engine.Records, may not move a record out of the caller's row scope (pend may
// change pending records only, so releasing one would leave them unable to); the system (a
// flow's end, a rule) is not bound by scopes.
func TestHardening07Review_2_TransitionStaysInScope(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "gate", gateDef)
	pat := e.user(t, "pat", "pend")
	rec := e.create(t, e.admin, "gate", Values{"title": "t"})

	_, err := e.s.Transition(e.ctx, pat, "qa", "gate", rec.ID, rec.Rev, "release")
	wantCode(t, err, engine.ErrForbidden, "update_out_of_scope")
	_, err = e.s.k.Records.SetRecordStatus(e.ctx, pat, "qa", "gate", rec.ID, "released")
	wantCode(t, err, engine.ErrForbidden, "update_out_of_scope")
	got, err := e.s.Get(e.ctx, pat, "qa", "gate", rec.ID)
	if err != nil || got.Status != "pending" || got.Rev != rec.Rev {
		t.Fatalf("after the refused changes: %+v, %v", got, err)
	}

	ref, err := e.s.k.Records.SetRecordStatus(e.ctx, engine.SystemPrincipal(), "qa", "gate", rec.ID, "released")
	if err != nil || ref.Status != "released" {
		t.Fatalf("the system sets the status: %+v, %v", ref, err)
	}
	other := e.create(t, e.admin, "gate", Values{"title": "u"})
	if _, err := e.s.Transition(e.ctx, e.admin, "qa", "gate", other.ID, other.Rev, "release"); err != nil {
		t.Fatalf("an administrator releases: %v", err)
	}
}

// TestHardening07Review_3_CutExportAudited (finding 3): an export whose reader leaves part way
// through is audited, with the rows handed over and complete false; a finished one with
// complete true.
func TestHardening07Review_3_CutExportAudited(t *testing.T) {
	e := newIOEnv(t)
	const total = 150
	for i := range total {
		e.create(t, Values{"material": fmt.Sprintf("material %03d of a receipt", i)})
	}
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	exp, err := e.s.PrepareExport(ctx, e.admin, "qa", "receipt", ListQuery{}, FormatCSV, engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	// The reader leaves once the first buffer of rows has reached it.
	w := &leavingWriter{after: 2, cancel: cancel}
	if _, err := exp.Write(ctx, w); !errors.Is(err, context.Canceled) {
		t.Fatalf("write: %v, want cancelled", err)
	}
	entries, err := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.export"})
	if err != nil || len(entries) != 1 {
		t.Fatalf("audit of the cut export: %+v, %v", entries, err)
	}
	after, _ := entries[0].After.(map[string]any)
	count, _ := strconv.Atoi(fmt.Sprint(after["count"]))
	if after["complete"] != false || count <= 0 || count >= total {
		t.Fatalf("audit after %#v: want some rows, not all, and complete false", after)
	}

	if _, err := e.s.Export(e.ctx, e.admin, "qa", "receipt", ListQuery{}, FormatCSV, engine.LangEN, io.Discard); err != nil {
		t.Fatal(err)
	}
	entries, _ = e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.export"})
	if len(entries) != 2 {
		t.Fatalf("audit entries: %+v", entries)
	}
	finished := 0
	for _, en := range entries {
		if a, _ := en.After.(map[string]any); a["complete"] == true {
			finished++
			if fmt.Sprint(a["count"]) != strconv.Itoa(total) {
				t.Fatalf("the finished export: %#v", a)
			}
		}
	}
	if finished != 1 {
		t.Fatalf("finished exports audited: %d, want 1", finished)
	}
}

// leavingWriter takes writes until its after-th, on which it cancels the export's context.
type leavingWriter struct {
	after, writes int
	cancel        func()
}

func (l *leavingWriter) Write(p []byte) (int, error) {
	if l.writes++; l.writes == l.after {
		l.cancel()
	}
	return len(p), nil
}

// TestHardening07Review_6_CollectRacesAttach (finding 6): collection and attaching meet in two
// phases. Once a collector has marked an orphan, an attach of it — to a record or to a flow —
// fails not_found and leaves no reference behind, and the collector deletes it; an attach
// whose reference is claimed first keeps the file. A mark left by a run that stopped half way
// is taken over after its lease; a fresh one keeps other runs away.
func TestHardening07Review_6_CollectRacesAttach(t *testing.T) {
	e := newHardEnv(t)
	e.publish(t, "coa", fileDef)
	carl := e.user(t, "carl", "clerk")
	late := e.upload(t, carl, "late.pdf", []byte("attached as it is collected"))
	early := e.upload(t, carl, "early.pdf", []byte("attached before the collector looks"))
	left := e.upload(t, carl, "left.pdf", []byte("a run stopped half way"))
	busy := e.upload(t, carl, "busy.pdf", []byte("another run is on it"))
	rec := e.create(t, carl, "coa", Values{"supplier": "s"})
	e.advance(FileOrphanAfter + time.Hour)
	cutoff := e.clock().UTC().Add(-FileOrphanAfter)

	refs, claimed, err := e.s.claimCollect(e.ctx, late, cutoff)
	if err != nil || !claimed || refs != 0 {
		t.Fatalf("claim the orphan: %d, %v, %v", refs, claimed, err)
	}
	_, err = e.s.Update(e.ctx, carl, "qa", "coa", rec.ID, rec.Rev, Values{"doc": []any{late}})
	if fe, ok := engine.AsFieldErrors(err); !ok || len(fe) != 1 || fe[0].Path != "doc.0" || fe[0].Code != "not_found" {
		t.Fatalf("attach a file being collected: %v", err)
	}
	err = e.s.k.Records.AttachFiles(e.ctx, carl, "qa", "coa", rec.ID, []string{late})
	if fe, ok := engine.AsFieldErrors(err); !ok || len(fe) != 1 || fe[0].Path != "0" || fe[0].Code != "not_found" {
		t.Fatalf("attach a file being collected to a flow: %v", err)
	}
	var f storedFile
	if err := e.s.st.Get(e.ctx, filesCollection, late, &f); err != nil {
		t.Fatal(err)
	}
	if err := e.s.finishCollect(e.ctx, f, refs); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{fileRefID(late, 1), fileRefID(late, 2), collectMarkID(late)} {
		var r fileRef
		if err := e.s.st.Get(e.ctx, fileRefsCollection, id, &r); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("%s is left behind: %v", id, err)
		}
	}
	if got, err := e.s.Get(e.ctx, carl, "qa", "coa", rec.ID); err != nil || got.Data["doc"] != nil || got.Rev != rec.Rev {
		t.Fatalf("the record after the refused attach: %+v, %v", got, err)
	}

	rec2, err := e.s.Update(e.ctx, carl, "qa", "coa", rec.ID, rec.Rev, Values{"doc": []any{early}})
	if err != nil {
		t.Fatal(err)
	}
	if _, claimed, err := e.s.claimCollect(e.ctx, early, cutoff); err != nil || claimed {
		t.Fatalf("claim a file just attached: %v, %v", claimed, err)
	}
	var mark collectMark
	if err := e.s.st.Get(e.ctx, fileRefsCollection, collectMarkID(early), &mark); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a held file stays marked: %v", err)
	}

	if err := e.s.st.Put(e.ctx, fileRefsCollection, collectMarkID(left), collectMark{File: left, At: e.clock().UTC().Add(-2 * collectMarkLease)}); err != nil {
		t.Fatal(err)
	}
	if err := e.s.st.Put(e.ctx, fileRefsCollection, collectMarkID(busy), collectMark{File: busy, At: e.clock().UTC()}); err != nil {
		t.Fatal(err)
	}
	if n, err := e.s.CollectFiles(e.ctx); err != nil || n != 1 {
		t.Fatalf("collected %d, %v; want 1 (the file of the run that stopped)", n, err)
	}
	for id, want := range map[string]bool{early: true, left: false, busy: true} {
		if _, err := e.download(carl, id); (err == nil) != want {
			t.Errorf("download %s: %v, want it there: %v", id, err, want)
		}
	}
	if got, err := e.s.Get(e.ctx, carl, "qa", "coa", rec.ID); err != nil || got.Rev != rec2.Rev {
		t.Fatalf("record: %+v, %v", got, err)
	}
}

// TestHardening07Review_8_CollectPaged (finding 8): the collector reads the old files a bounded
// page at a time, in _id order, and still reaches every one; files it deletes from a page do
// not disturb the next.
func TestHardening07Review_8_CollectPaged(t *testing.T) {
	saved := fileCollectBatch
	fileCollectBatch = 3
	t.Cleanup(func() { fileCollectBatch = saved })
	e := newHardEnv(t)
	e.publish(t, "coa", fileDef)
	carl := e.user(t, "carl", "clerk")
	old := map[string]bool{}
	var orphans, held []string
	for i := range 10 {
		id := e.upload(t, carl, fmt.Sprintf("f%d.pdf", i), []byte("file"))
		old[id] = true
		if i%4 == 0 {
			held = append(held, id)
		} else {
			orphans = append(orphans, id)
		}
	}
	e.create(t, carl, "coa", Values{"doc": held})
	e.advance(FileOrphanAfter + time.Hour)
	young := e.upload(t, carl, "young.pdf", []byte("young"))
	cutoff := e.clock().UTC().Add(-FileOrphanAfter)

	seen, pages, after := map[string]bool{}, 0, ""
	for {
		page, next, err := e.s.oldFiles(e.ctx, cutoff, after)
		if err != nil {
			t.Fatal(err)
		}
		if pages++; len(page) > fileCollectBatch || pages > 10 {
			t.Fatalf("page %d holds %d files (batch %d)", pages, len(page), fileCollectBatch)
		}
		for _, f := range page {
			if seen[f.ID] || !old[f.ID] {
				t.Fatalf("page %d: file %s seen before, or not old", pages, f.ID)
			}
			seen[f.ID] = true
		}
		if next == "" {
			break
		}
		after = next
	}
	if len(seen) != len(old) || pages < 4 {
		t.Fatalf("pages reached %d of %d old files in %d pages", len(seen), len(old), pages)
	}

	if n, err := e.s.CollectFiles(e.ctx); err != nil || n != len(orphans) {
		t.Fatalf("collected %d, %v; want %d", n, err, len(orphans))
	}
	for _, id := range orphans {
		if _, err := e.download(carl, id); !errors.Is(err, engine.ErrNotFound) {
			t.Errorf("orphan %s is left: %v", id, err)
		}
	}
	for _, id := range append(held, young) {
		if _, err := e.download(carl, id); err != nil {
			t.Errorf("file %s was collected: %v", id, err)
		}
	}
}
