package forms

import (
	"context"
	"fmt"
	"time"

	"tracecraft/engine"
)

// Imports that ended neither committed nor rolled back. A job whose move to "done" failed
// and whose stored state cannot be read back may be committed or not; one whose records could
// not be taken back (the store failed the removal) is not. Both stay "writing", their records
// hidden and their audit entries open, and are kept here: resolveImports, run by the scheduled
// job ImportResolveJob, settles them once the store answers — committing the first kind when
// its stored state reads done, else taking its records back and storing it rolled_back. A
// process that stops first leaves them to the next start (recoverImports).

// ImportResolveJob names the scheduled job that settles such imports.
const ImportResolveJob = "forms.imports.resolve"

// importResolveSpec runs it every minute (it does nothing when no import waits).
const importResolveSpec = "@every 1m"

// importPending is an import left between its commit and its rollback.
type importPending struct {
	run     *importRun
	pl      *importPlan
	journal *engine.Journal
	written int
	cause   error         // why it was not committed
	code    string        // the job's error code once rolled back
	rep     *ImportReport // the job's report once rolled back
	// undecided: the move to done failed and the stored state was not read back.
	undecided bool
	// takenBack: its records are removed; only storing the job rolled_back is left.
	takenBack bool
}

// importHooks let tests fail store calls of import bookkeeping; nil calls the store.
type importHooks struct {
	setJob      func(ctx context.Context, job ImportJob) error
	deleteBatch func(ctx context.Context, coll, field, batch string) (int64, error)
}

// setJob stores a job's state.
func (s *Service) setJob(ctx context.Context, job ImportJob) error {
	if h := s.importHooks.setJob; h != nil {
		return h(ctx, job)
	}
	return s.st.Set(ctx, importJobsCollection, job.ID, job)
}

// pendImport keeps pd for resolveImports.
func (s *Service) pendImport(pd *importPending) {
	s.k.Log.Error("import neither committed nor rolled back yet; retried by "+ImportResolveJob, "job", pd.run.job.ID, "cause", pd.cause)
	s.pendingImports.Store(pd.run.job.ID, pd)
}

// rollBack takes back what pd's import wrote (takeBack) and stores its job rolled_back; a
// retry does what is left.
func (s *Service) rollBack(ctx context.Context, pd *importPending) error {
	id := pd.run.job.ID
	if !pd.takenBack {
		if err := s.takeBack(ctx, pd.pl, id, pd.journal, pd.written, pd.cause); err != nil {
			return err
		}
		pd.takenBack = true
		s.importing.Delete(id)
	}
	return s.move(ctx, pd.run, ImportRolledBack, func(j *ImportJob) {
		j.Error, j.Report = jobError(pd.pl.lang, pd.code, nil), pd.rep
	})
}

// resolveImports settles the imports left pending (see importPending) and returns how many
// are still pending, with the first error.
func (s *Service) resolveImports(ctx context.Context) (int, error) {
	s.resolving.Lock()
	defer s.resolving.Unlock()
	left := 0
	var first error
	s.pendingImports.Range(func(k, v any) bool {
		pd := v.(*importPending)
		if err := s.resolveImport(ctx, pd); err != nil {
			left++
			if first == nil {
				first = fmt.Errorf("import job %s: %w", k, err)
			}
			return true
		}
		s.pendingImports.Delete(k)
		return true
	})
	return left, first
}

// resolveImport commits pd's import when its stored state reads done, else rolls it back.
func (s *Service) resolveImport(ctx context.Context, pd *importPending) error {
	if pd.undecided {
		done, err := s.storedDone(ctx, pd.run)
		if err != nil {
			return err
		}
		if done {
			pd.rep.Imported = pd.written
			s.commitImport(ctx, pd.pl, pd.run.job.ID, pd.journal, pd.written)
			s.k.Log.Info("import found committed after all", "job", pd.run.job.ID)
			return nil
		}
		pd.undecided = false
		pd.rep.Imported = 0
	}
	if err := s.rollBack(ctx, pd); err != nil {
		return err
	}
	s.k.Log.Warn("import taken back on a retry", "job", pd.run.job.ID)
	return nil
}

// registerImportJobs schedules resolveImports.
func (s *Service) registerImportJobs() {
	err := s.k.Scheduler.Add(ImportResolveJob, importResolveSpec, func(ctx context.Context, _ time.Time) error {
		_, err := s.resolveImports(ctx)
		return err
	})
	if err != nil {
		s.k.Log.Error("imports left pending will be settled only at the next start", "err", err)
	}
}
