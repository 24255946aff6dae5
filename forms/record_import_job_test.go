package forms

import (
	"context"
	"errors"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store/storetest"
)

// Issue 8 item 5: an import is a job whose records stay hidden, and whose events wait, until the
// job's state "done" is stored; a job stopped midway is rolled back, at once or at the next start.

// ioBlockedImport starts an import job of the file whose writes stop before batch n (one record
// a batch) until release is closed; written is closed once they stop.
func ioBlockedImport(t *testing.T, e *ioEnv, ctx context.Context, file string, n int) (run *importRun, written, release chan struct{}, result chan error) {
	t.Helper()
	e.s.importBatch = 1
	pl, free, err := e.s.planImport(ctx, e.clerk, "qa", "receipt", FormatCSV, strings.NewReader(file), engine.LangEN)
	if err != nil {
		t.Fatal(err)
	}
	run, err = e.s.newImportRun(ctx, pl)
	if err != nil {
		t.Fatal(err)
	}
	written, release, result = make(chan struct{}), make(chan struct{}), make(chan error, 1)
	calls := 0
	put := func(ctx context.Context, coll string, docs []any) (int, error) {
		if calls++; calls == n {
			close(written)
			<-release
		}
		return e.s.st.PutMany(ctx, coll, docs)
	}
	go func() {
		defer free()
		_, err := e.s.runImport(ctx, run, pl, put)
		result <- err
	}()
	return run, written, release, result
}

func TestImportJobHiddenUntilDone(t *testing.T) {
	e := newIOEnv(t)
	run, written, release, result := ioBlockedImport(t, e, e.ctx, "物料\na\nb\nc\n", 3)
	<-written
	// Two records are stored, the job is writing: nobody sees them yet.
	job, err := e.s.ImportJobOf(e.ctx, e.clerk, "qa", "receipt", run.job.ID)
	if err != nil || job.State != ImportWriting || job.Written != 2 || job.Validated != 3 || job.Rows != 3 {
		t.Fatalf("job while writing %+v %v", job, err)
	}
	if n, err := e.s.st.Count(e.ctx, RecordsCollection("qa", "receipt"), bson.D{}); err != nil || n != 2 {
		t.Fatalf("%d records stored (%v), want 2", n, err)
	}
	if n := e.count(t); n != 0 {
		t.Fatalf("%d records listed while the import is writing", n)
	}
	var first recordDoc
	if err := e.s.st.Find(e.ctx, RecordsCollection("qa", "receipt"), nil, nil, func(raw bson.Raw) error { return bson.Unmarshal(raw, &first) }); err != nil {
		t.Fatal(err)
	}
	if _, err := e.s.Get(e.ctx, e.admin, "qa", "receipt", first.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("a record of the import read by id while it is writing: %v", err)
	}
	if creates, _ := e.s.k.Audit.List(e.ctx, engine.AuditQuery{Action: "record.create"}); len(creates) != 3 {
		t.Fatalf("%d create entries, want 3 (the third batch's is appended before its record)", len(creates))
	}
	// Only its starter and administrators read the job.
	if _, err := e.s.ImportJobOf(e.ctx, e.auditor, "qa", "receipt", run.job.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("another user read the job: %v", err)
	}
	if _, err := e.s.ImportJobOf(e.ctx, e.admin, "qa", "receipt", run.job.ID); err != nil {
		t.Fatalf("the administrator: %v", err)
	}
	close(release)
	if err := <-result; err != nil {
		t.Fatal(err)
	}
	job, err = e.s.ImportJobOf(e.ctx, e.clerk, "qa", "receipt", run.job.ID)
	if err != nil || job.State != ImportDone || job.Written != 3 || job.Report == nil || job.Report.Imported != 3 || job.FinishedAt == nil {
		t.Fatalf("job when done %+v %v", job, err)
	}
	if n := e.count(t); n != 3 {
		t.Fatalf("%d records listed after the import, want 3", n)
	}
	if got, err := e.s.Get(e.ctx, e.admin, "qa", "receipt", first.ID); err != nil || got.CreatedBy != "carl" {
		t.Fatalf("the import's record: %+v %v", got, err)
	}
}

// A job whose context ends while it writes (the server stops) is rolled back at once; one whose
// process stops is rolled back when the next process starts, before it serves.
func TestImportJobStoppedIsRolledBack(t *testing.T) {
	e := newIOEnv(t)
	ctx, cancel := context.WithCancel(e.ctx)
	run, written, release, result := ioBlockedImport(t, e, ctx, "物料\na\nb\nc\n", 2)
	<-written
	cancel()
	close(release)
	if err := <-result; !errors.Is(err, context.Canceled) {
		t.Fatalf("stopped import: %v", err)
	}
	job, err := e.s.ImportJobOf(e.ctx, e.clerk, "qa", "receipt", run.job.ID)
	if err != nil || job.State != ImportRolledBack || job.Error == nil || job.Error.Code != "import_interrupted" {
		t.Fatalf("stopped job %+v %v", job, err)
	}
	if n, err := e.s.st.Count(e.ctx, RecordsCollection("qa", "receipt"), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d records stored after the stop (%v)", n, err)
	}
}

func TestImportJobRecoveredAtStart(t *testing.T) {
	dir := storetest.TempDir(t)
	k := engine.NewKernel(storetest.OpenEmbedded(t, dir), engine.KernelOptions{Log: storetest.Quiet})
	s := New(k, Options{})
	enginetest.Start(t, k)
	e := &ioEnv{s: s, ctx: context.Background(), admin: engine.SystemPrincipal(), clerk: &engine.Principal{Username: "carl", Roles: []string{"clerk"}}}
	if _, err := s.CreateApp(e.ctx, e.admin, AppInput{Key: "qa", Name: engine.Text{ZH: "质量"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.SaveDraft(e.ctx, e.admin, "qa", []byte(ioReceipt), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(e.ctx, e.admin, "qa", "receipt"); err != nil {
		t.Fatal(err)
	}
	// A job left writing, with two records stored (and the third's entry), as a killed process
	// leaves it: the process stops under it. And one left queued.
	c, err := s.Compiled(e.ctx, "qa", "receipt", 0)
	if err != nil {
		t.Fatal(err)
	}
	queued, err := s.newImportRun(e.ctx, &importPlan{p: e.clerk, c: c, format: FormatCSV, lang: engine.LangEN, sheet: &sheet{}})
	if err != nil {
		t.Fatal(err)
	}
	run, written, release, result := ioBlockedImport(t, e, e.ctx, "物料\na\nb\nc\n", 3)
	<-written
	if err := k.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-result; err == nil {
		t.Fatal("the import went on with its store closed")
	}
	// The next process, on the same data folder.
	k2 := engine.NewKernel(storetest.OpenEmbedded(t, dir), engine.KernelOptions{Log: storetest.Quiet})
	s2 := New(k2, Options{})
	enginetest.Start(t, k2)
	for id, want := range map[string]ImportState{run.job.ID: ImportRolledBack, queued.job.ID: ImportFailed} {
		job, err := s2.ImportJobOf(e.ctx, e.admin, "qa", "receipt", id)
		if err != nil || job.State != want || job.Error == nil || job.Error.Code != "import_interrupted" || job.FinishedAt == nil {
			t.Fatalf("job %s after the restart: %+v %v, want %s", id, job, err, want)
		}
	}
	if n, err := k2.Store.Count(e.ctx, RecordsCollection("qa", "receipt"), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d records stored after the restart (%v)", n, err)
	}
	voids, _ := k2.Audit.List(e.ctx, engine.AuditQuery{Action: "audit.void"})
	rollbacks, _ := k2.Audit.List(e.ctx, engine.AuditQuery{Action: "record.import.rollback"})
	if len(voids) != 3 || len(rollbacks) != 1 {
		t.Fatalf("after the restart %d voids (want 3: the entries of the batches begun) and %d rollback entries (want 1)", len(voids), len(rollbacks))
	}
	if rep, err := k2.Audit.Verify(e.ctx); err != nil || !rep.OK {
		t.Fatalf("verify %+v %v", rep, err)
	}
}
