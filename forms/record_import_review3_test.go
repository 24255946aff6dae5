package forms

import (
	"context"
	"errors"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// expiringCtx is a context whose deadline passes when expire is called: a job that outlives
// its time limit, without a test that waits on a clock.
type expiringCtx struct {
	context.Context
	done chan struct{}
}

func (c *expiringCtx) Done() <-chan struct{} { return c.done }

func (c *expiringCtx) Err() error {
	select {
	case <-c.done:
		return context.DeadlineExceeded
	default:
		return nil
	}
}

func (c *expiringCtx) expire() { close(c.done) }

// TestReview3_ImportTimeout: an import job whose context's deadline passes while it writes (the
// server gives a job bulkTimeout, so a stuck job gives its slot back) is rolled back, and says
// why — import_timeout, in the starter's language — not that the server stopped.
func TestReview3_ImportTimeout(t *testing.T) {
	e := newIOEnv(t)
	ctx := &expiringCtx{Context: e.ctx, done: make(chan struct{})}
	run, written, release, result := ioBlockedImport(t, e, ctx, "物料\na\nb\nc\n", 2)
	<-written
	ctx.expire()
	close(release)
	if err := <-result; !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("import past its deadline: %v", err)
	}
	job, err := e.s.ImportJobOf(e.ctx, e.clerk, "qa", "receipt", run.job.ID)
	if err != nil || job.State != ImportRolledBack || job.Error == nil || job.Error.Code != "import_timeout" ||
		job.Error.Message != "the import took longer than it may; every row written was taken back: split the file and import again" {
		t.Fatalf("job past its deadline %+v %v", job, err)
	}
	if n, err := e.s.st.Count(e.ctx, RecordsCollection("qa", "receipt"), bson.D{}); err != nil || n != 0 {
		t.Fatalf("%d records stored after the timeout (%v)", n, err)
	}
}
