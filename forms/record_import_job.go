package forms

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
)

// importJobsCollection holds one document per import job (ImportJob): its state, progress and
// report. A job's state "done" is the import's commit point: records written under the job's id
// (their import batch) whose job is not done are taken back at start-up (recoverImports).
const importJobsCollection = "import_jobs"

// Import job bookkeeping.
const (
	// MaxImportJobErrors caps the row errors a job keeps (ErrorCount counts them all).
	MaxImportJobErrors = 1000
	// ImportJobsKept is how long a finished job stays readable.
	ImportJobsKept = 7 * 24 * time.Hour
	// importProgressEvery is how many rows pass between progress reports of a check.
	importProgressEvery = 500
	// importBookkeep bounds a store write of a job's state.
	importBookkeep = 30 * time.Second
)

// ImportState is where an import job is.
type ImportState string

// The states of an import job; see importTransitions.
const (
	ImportQueued     ImportState = "queued"
	ImportValidating ImportState = "validating"
	ImportWriting    ImportState = "writing"
	ImportDone       ImportState = "done"
	ImportFailed     ImportState = "failed"
	ImportRolledBack ImportState = "rolled_back"
)

// Finished tells whether a job in state st has ended.
func (st ImportState) Finished() bool {
	return st == ImportDone || st == ImportFailed || st == ImportRolledBack
}

// importTransitions are the moves a job may make: it is checked (validating), then written
// (writing) and committed (done); a file with errors, or a stop before writing, fails it
// (nothing written); a failure while writing takes back what was written (rolled_back).
var importTransitions = map[ImportState][]ImportState{
	ImportQueued:     {ImportValidating, ImportFailed},
	ImportValidating: {ImportWriting, ImportFailed},
	ImportWriting:    {ImportDone, ImportRolledBack},
}

// ErrInvalidImportTransition is a move importTransitions does not allow (a programming error).
var ErrInvalidImportTransition = errors.New("invalid import job transition")

// ImportJob is an import run in the background (StartImport), as stored and as the API shows
// it. Rows is the file's data rows; Validated and Written count the rows checked and the
// records written so far. Errors are the row errors found so far (at most MaxImportJobErrors;
// ErrorCount counts all). A finished job has FinishedAt and Report; one that failed or was
// rolled back says why in Error.
type ImportJob struct {
	ID         string          `json:"id" bson:"_id"`
	App        string          `json:"app" bson:"app"`
	Form       string          `json:"form" bson:"form"`
	Format     string          `json:"format" bson:"format"`
	State      ImportState     `json:"state" bson:"state"`
	Rows       int             `json:"rows" bson:"rows"`
	Validated  int             `json:"validated" bson:"validated"`
	Written    int             `json:"written" bson:"written"`
	Errors     []ImportError   `json:"errors" bson:"errors"`
	ErrorCount int             `json:"errorCount" bson:"errorCount"`
	Error      *ImportJobError `json:"error,omitempty" bson:"error,omitempty"`
	Report     *ImportReport   `json:"report,omitempty" bson:"report,omitempty"`
	CreatedBy  string          `json:"createdBy" bson:"createdBy"`
	CreatedAt  time.Time       `json:"createdAt" bson:"createdAt"`
	UpdatedAt  time.Time       `json:"updatedAt" bson:"updatedAt"`
	FinishedAt *time.Time      `json:"finishedAt,omitempty" bson:"finishedAt,omitempty"`
	// Lang is the language of the job's messages (its starter's).
	Lang string `json:"-" bson:"lang"`
}

// ImportJobError says why a job failed or was rolled back: import_invalid (rows have errors),
// import_interrupted (the server stopped), import_timeout (the job ran longer than it may),
// import_failed (a write failed).
type ImportJobError struct {
	Code    string `json:"code" bson:"code"`
	Message string `json:"message" bson:"message"`
}

// importRun is a job running in this process: its state, guarded for the readers of
// ImportJobOf.
type importRun struct {
	mu   sync.Mutex
	job  ImportJob
	coll string // the records collection it writes
}

// snapshot is a copy of the job as it is now.
func (r *importRun) snapshot() *ImportJob {
	r.mu.Lock()
	defer r.mu.Unlock()
	j := r.job
	j.Errors = append([]ImportError{}, r.job.Errors...)
	if r.job.Report != nil {
		rep := *r.job.Report
		j.Report = &rep
	}
	return &j
}

// cappedErrors keeps the first MaxImportJobErrors of errs.
func cappedErrors(errs []ImportError) []ImportError {
	return append([]ImportError{}, errs[:min(len(errs), MaxImportJobErrors)]...)
}

// StartImport reads the file as Import does, answers every problem with the call or the file
// that is found before any row is checked (permissions, format, size, import_busy), and then
// runs the import in the background, under ctx: cancelling ctx stops it (and takes back what it
// wrote). It returns the job as it starts and a channel closed when the job has ended. The
// caller reads its progress with ImportJobOf.
func (s *Service) StartImport(ctx context.Context, p *engine.Principal, app, form, format string, r io.Reader, lang string) (*ImportJob, <-chan struct{}, error) {
	pl, release, err := s.planImport(ctx, p, app, form, format, r, lang)
	if err != nil {
		return nil, nil, err
	}
	run, err := s.newImportRun(ctx, pl)
	if err != nil {
		release()
		return nil, nil, err
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer release()
		if _, err := s.runImport(ctx, run, pl, s.st.PutMany); err != nil {
			s.k.Log.Warn("import failed", "job", run.job.ID, "app", pl.c.App, "form", pl.c.Key, "err", err)
		}
	}()
	return run.snapshot(), done, nil
}

// ImportJobOf reads import job id of app/form. Only the user who started it and system
// administrators may; to anyone else it is not found, like an id that does not exist.
func (s *Service) ImportJobOf(ctx context.Context, p *engine.Principal, app, form, id string) (*ImportJob, error) {
	var job *ImportJob
	if v, ok := s.importRuns.Load(id); ok {
		job = v.(*importRun).snapshot()
	} else {
		var stored ImportJob
		if err := s.st.Get(ctx, importJobsCollection, id, &stored); err != nil {
			return nil, fmt.Errorf("import job %s: %w", id, err)
		}
		job = &stored
	}
	if job.App != app || job.Form != form {
		return nil, fmt.Errorf("import job %s: %w", id, engine.ErrNotFound)
	}
	if p == nil || p.Username != job.CreatedBy {
		if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
			return nil, fmt.Errorf("import job %s: %w", id, engine.ErrNotFound)
		}
	}
	if job.Errors == nil {
		job.Errors = []ImportError{}
	}
	return job, nil
}

// newImportRun stores a queued job for the plan.
func (s *Service) newImportRun(ctx context.Context, pl *importPlan) (*importRun, error) {
	now := s.now().UTC().Truncate(time.Millisecond)
	run := &importRun{coll: RecordsCollection(pl.c.App, pl.c.Key), job: ImportJob{
		ID: newID(now), App: pl.c.App, Form: pl.c.Key, Format: pl.format, State: ImportQueued, Rows: len(pl.sheet.rows),
		Errors: []ImportError{}, CreatedBy: pl.p.Username, CreatedAt: now, UpdatedAt: now, Lang: pl.lang,
	}}
	if err := s.st.Put(ctx, importJobsCollection, run.job.ID, run.job); err != nil {
		return nil, fmt.Errorf("start import into %s/%s: %w", pl.c.App, pl.c.Key, err)
	}
	s.importRuns.Store(run.job.ID, run)
	return run, nil
}

// move changes a running job with fn, takes it to state to (when not "") and stores it; readers
// see the change only once it is stored (a job shown done is committed). The store write
// outlives ctx: a job stopped by its context still says so. Only the job's own goroutine moves
// it.
func (s *Service) move(ctx context.Context, run *importRun, to ImportState, fn func(j *ImportJob)) error {
	next := *run.snapshot()
	if to != "" && to != next.State {
		ok := false
		for _, st := range importTransitions[next.State] {
			ok = ok || st == to
		}
		if !ok {
			return fmt.Errorf("import job %s: %s → %s: %w", next.ID, next.State, to, ErrInvalidImportTransition)
		}
		next.State = to
	}
	if fn != nil {
		fn(&next)
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	next.UpdatedAt = now
	if next.State.Finished() {
		next.FinishedAt = &now
	}
	bctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), importBookkeep)
	defer cancel()
	if err := s.setJob(bctx, next); err != nil {
		return fmt.Errorf("import job %s: store its state: %w", next.ID, err)
	}
	run.mu.Lock()
	run.job = next
	run.mu.Unlock()
	return nil
}

// jobError is the error a job shows for code, in the job's language.
func jobError(lang, code string, params map[string]any) *ImportJobError {
	return &ImportJobError{Code: code, Message: engine.Message(lang, code, params)}
}

// runImport checks every row and, when all are valid, writes them (with put) and commits: the job's state
// "done", stored, is the commit point. It returns what Import returns.
func (s *Service) runImport(ctx context.Context, run *importRun, pl *importPlan, put putManyFunc) (*ImportReport, error) {
	id, lang := run.job.ID, pl.lang
	defer s.importRuns.Delete(id)
	fail := func(code string, cause error) error {
		if err := s.move(ctx, run, ImportFailed, func(j *ImportJob) { j.Error = jobError(lang, code, nil) }); err != nil {
			s.k.Log.Error("import job state not stored", "job", id, "err", err)
		}
		return cause
	}
	err := s.move(ctx, run, ImportValidating, func(j *ImportJob) { j.Errors = cappedErrors(pl.headerErrs) })
	if err != nil {
		return nil, fail("import_failed", err)
	}
	found := len(pl.headerErrs)
	rep, err := s.checkImport(ctx, pl, func(n int, errs []ImportError) {
		found += len(errs)
		_ = s.move(ctx, run, "", func(j *ImportJob) {
			j.Validated, j.ErrorCount = n, found
			if room := MaxImportJobErrors - len(j.Errors); room > 0 {
				j.Errors = append(j.Errors, errs[:min(room, len(errs))]...)
			}
		})
	}, 0)
	if err != nil {
		return nil, fail(failureCode(ctx), err)
	}
	if len(rep.Errors) > 0 {
		err := s.move(ctx, run, ImportFailed, func(j *ImportJob) {
			j.Errors, j.ErrorCount = cappedErrors(rep.Errors), len(rep.Errors)
			j.Error = jobError(lang, "import_invalid", map[string]any{"count": len(rep.Errors)})
			capped := *rep
			capped.Errors = j.Errors
			j.Report = &capped
		})
		if err != nil {
			return nil, err
		}
		return rep, nil
	}
	if err := s.move(ctx, run, ImportWriting, nil); err != nil {
		return nil, fail("import_failed", err)
	}
	// From here on the records are written under the job's id: hidden until it is done, taken
	// back on any failure, here or at the next start.
	s.importing.Store(id, run.coll)
	journal := s.k.NewJournal()
	n, err := s.writeImport(ctx, pl, id, journal, put, func(written int) {
		_ = s.move(ctx, run, "", func(j *ImportJob) { j.Written = written })
	})
	if err == nil {
		rep.Imported = n
		err = s.move(ctx, run, ImportDone, func(j *ImportJob) { j.Written, j.Report = n, rep })
		if err != nil {
			// The state may be stored all the same (a timeout): what is stored decides. Taking
			// back the records of a job that reads done would leave it done without them.
			done, rerr := s.storedDone(ctx, run)
			switch {
			case rerr != nil:
				// Neither committed nor rolled back yet: its records stay hidden and its entries
				// open until the stored state can be read (resolveImports).
				s.pendImport(&importPending{run: run, pl: pl, journal: journal, written: n, cause: err,
					code: failureCode(ctx), rep: rep, undecided: true})
				return nil, fmt.Errorf("%w (whether the import is committed is not known yet: %v)", err, rerr)
			case done:
				err = nil
			}
		}
	}
	if err != nil {
		rep.Imported = 0
		pd := &importPending{run: run, pl: pl, journal: journal, written: n, cause: err, code: failureCode(ctx), rep: rep}
		if rerr := s.rollBack(ctx, pd); rerr != nil {
			// The job stays "writing", its records hidden: resolveImports, or else the next
			// start, takes them back.
			s.pendImport(pd)
			return nil, fmt.Errorf("%w (taking back the rows written failed: %v)", err, rerr)
		}
		return nil, err
	}
	s.commitImport(ctx, pl, id, journal, n)
	return rep, nil
}

// commitImport makes a committed import's records show and hands their events to the bus. Its
// audit entry is written even when ctx has ended (a shutdown right after the commit point).
func (s *Service) commitImport(ctx context.Context, pl *importPlan, id string, journal *engine.Journal, n int) {
	s.importing.Delete(id)
	journal.Settle()
	s.audit(context.WithoutCancel(ctx), pl.p, "record.import", "form", pl.c.App+"/"+pl.c.Key, nil, map[string]any{"format": pl.format, "count": n, "batch": id})
}

// storedDone reads run's job as stored and tells whether it is done: a move to done that
// failed may have been stored all the same (a timeout). When it is, run takes the stored job.
func (s *Service) storedDone(ctx context.Context, run *importRun) (bool, error) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), importBookkeep)
	defer cancel()
	var stored ImportJob
	if err := s.st.Get(rctx, importJobsCollection, run.job.ID, &stored); err != nil {
		return false, fmt.Errorf("import job %s: read its state back: %w", run.job.ID, err)
	}
	if stored.State != ImportDone {
		return false, nil
	}
	run.mu.Lock()
	run.job = stored
	run.mu.Unlock()
	return true, nil
}

// failureCode names why a job stopped: import_timeout when its context's deadline passed (a
// job may run so long, then gives back its import slot), import_interrupted when its context
// ended otherwise (the server stops, or the caller gave up), import_failed otherwise.
func failureCode(ctx context.Context) string {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return "import_timeout"
	}
	if ctx.Err() != nil {
		return "import_interrupted"
	}
	return "import_failed"
}

// importHidden tells whether batch is an import still being written: its records are not shown.
func (s *Service) importHidden(batch string) bool {
	if batch == "" {
		return false
	}
	_, ok := s.importing.Load(batch)
	return ok
}

// importsHidden lists the batches being written into collection coll.
func (s *Service) importsHidden(coll string) []any {
	var out []any
	s.importing.Range(func(k, v any) bool {
		if v.(string) == coll {
			out = append(out, k)
		}
		return true
	})
	return out
}

// recoverImports runs at start-up (engine.Kernel.OnRecover), before the kernel settles the
// writes a previous run left open: a job that was writing when its process stopped is rolled
// back — its records are removed, so that their audit entries are voided and their events never
// delivered — and one that had not begun to write is failed, on either backend. Jobs finished more than
// ImportJobsKept ago are removed.
func (s *Service) recoverImports(ctx context.Context) error {
	var unfinished []ImportJob
	filter := bson.D{{Key: "state", Value: bson.D{{Key: "$in", Value: bson.A{ImportQueued, ImportValidating, ImportWriting}}}}}
	err := s.st.Find(ctx, importJobsCollection, filter, nil, func(raw bson.Raw) error {
		var j ImportJob
		if err := bson.Unmarshal(raw, &j); err != nil {
			return err
		}
		unfinished = append(unfinished, j)
		return nil
	})
	if err != nil {
		return fmt.Errorf("recover imports: %w", err)
	}
	// One Tracecraft node runs on a database (docs/operations.md): every unfinished job is one
	// this node's previous process left, however recently it moved — a node restarted at once
	// must not commit the rows of an import it never finished.
	now := s.now().UTC().Truncate(time.Millisecond)
	for _, j := range unfinished {
		state := ImportFailed
		if j.State == ImportWriting {
			removed, err := s.removeImportBatch(ctx, j.App, j.Form, j.ID)
			if err != nil {
				return fmt.Errorf("recover import %s: %w", j.ID, err)
			}
			s.audit(ctx, nil, "record.import.rollback", "form", j.App+"/"+j.Form, nil, map[string]any{
				"batch": j.ID, "written": j.Written, "removed": removed, "cause": "the process stopped during the import",
			})
			state = ImportRolledBack
			s.k.Log.Warn("import interrupted by a stop: its records are taken back", "job", j.ID, "app", j.App, "form", j.Form, "removed", removed)
		}
		j.State, j.Error, j.UpdatedAt, j.FinishedAt = state, jobError(j.Lang, "import_interrupted", nil), now, &now
		if err := s.st.Set(ctx, importJobsCollection, j.ID, j); err != nil {
			return fmt.Errorf("recover import %s: %w", j.ID, err)
		}
	}
	mc, err := s.st.Collection(ctx, importJobsCollection)
	if err != nil {
		return fmt.Errorf("recover imports: %w", err)
	}
	if _, err := mc.DeleteMany(ctx, bson.D{{Key: "finishedAt", Value: bson.D{{Key: "$lt", Value: now.Add(-ImportJobsKept)}}}}); err != nil {
		return fmt.Errorf("recover imports: remove old jobs: %w", err)
	}
	return nil
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"import_invalid": {ZH: "文件中有 {count} 处错误，未导入任何数据", EN: "the file has {count} errors; nothing was imported"},
		"import_interrupted": {ZH: "导入过程中服务已停止，已写入的数据均已撤回，请重新导入",
			EN: "the server stopped during the import; every row written was taken back: import the file again"},
		"import_failed": {ZH: "导入写入失败，已写入的数据均已撤回", EN: "writing the import failed; every row written was taken back"},
		"import_timeout": {ZH: "导入超过了允许的时长，已写入的数据均已撤回，请将文件拆小后重新导入",
			EN: "the import took longer than it may; every row written was taken back: split the file and import again"},
	})
}
