package engine

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // Asia/Shanghai must load on hosts without a zoneinfo database

	"github.com/robfig/cron/v3"
	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// JobFunc is a scheduled job. tick is the scheduled time of the run (in the scheduler's
// location), the same on every node, so a job can use it to name what it produces.
type JobFunc func(ctx context.Context, tick time.Time) error

// SchedulerOptions configure a Scheduler; zero values take the defaults.
type SchedulerOptions struct {
	// Location is the time zone of cron specs (default Asia/Shanghai).
	Location *time.Location
	// Node names this process in the lease of each run it makes (default "hostname:pid").
	Node string
	// LeaseRetention is how long run records are kept; the built-in prune job deletes older
	// ones daily (default 30 days).
	LeaseRetention time.Duration
	// JobLease is how long a node's hold on a running job lasts unless renewed (default 1
	// min). The node renews it every third of that while the job runs; a node that dies
	// mid-run blocks the job's later ticks for at most this long.
	JobLease time.Duration
}

// JobRun is the record of one run of a job, as the UI shows it: the lease a node claimed for
// the tick, then the outcome.
type JobRun struct {
	ID       string    `json:"id" bson:"_id"`
	Job      string    `json:"job" bson:"job"`
	Tick     time.Time `json:"tick" bson:"tick"`
	Node     string    `json:"node" bson:"node"`
	Started  time.Time `json:"started" bson:"started"`
	Finished time.Time `json:"finished,omitzero" bson:"finished,omitempty"`
	Error    string    `json:"error,omitempty" bson:"error,omitempty"`
}

// SchedulerPruneJob names the built-in job that deletes old run records.
const SchedulerPruneJob = "scheduler.prune"

// schedLeases is the collection of run leases, keyed "<job>@<tick>".
const schedLeases = "_leases"

// schedLocks is the collection of job holds, keyed by job name: a document there means some
// node is running that job (until its Until passes unrenewed). A hold that expired is taken
// over by whoever inserts "<job>!<its token>" first.
const schedLocks = "_job_locks"

// schedLock is a node's hold on a running job.
type schedLock struct {
	Node  string    `bson:"node"`
	Token string    `bson:"token"`
	Tick  time.Time `bson:"tick"`
	Until time.Time `bson:"until"`
}

// schedLockMu serialises the read-then-write steps on holds in this process: on the embedded
// store (one process) that makes them atomic; on MongoDB their filters on the token do.
var schedLockMu sync.Mutex

// schedParser reads cron specs with an optional seconds field (5 or 6 fields) and descriptors
// such as @daily and @every 1m.
var schedParser = cron.NewParser(cron.SecondOptional | cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Scheduler runs jobs on cron schedules, each tick exactly once across all nodes that share the
// store: when a tick fires, a node first claims it by inserting the lease "<job>@<tick>" (a unique
// insert, race-safe on every backend), and only the node that wins runs the job. A node that dies
// after claiming a tick leaves it unrun: a tick runs at most once, and once when any node is up.
//
// Runs of one job never overlap: a tick that fires while the job's previous run is still going —
// on this node (an in-process guard) or on another (the job's hold in the store, renewed while
// the run lasts) — is skipped, not queued.
type Scheduler struct {
	st   *store.Store
	log  *slog.Logger
	opts SchedulerOptions
	cron *cron.Cron

	mu     sync.Mutex
	jobs   map[string]*schedJob
	runCtx context.Context
	cancel context.CancelFunc
}

type schedJob struct {
	name string
	spec string
	run  JobFunc

	mu      sync.Mutex
	id      cron.EntryID
	running bool // a run of this job is in progress in this process
}

// NewScheduler makes a scheduler on st, with the built-in job that prunes old run records.
func NewScheduler(st *store.Store, log *slog.Logger, opts SchedulerOptions) *Scheduler {
	if log == nil {
		log = slog.Default()
	}
	if opts.Location == nil {
		loc, err := time.LoadLocation("Asia/Shanghai")
		if err != nil {
			loc = time.FixedZone("CST", 8*60*60)
		}
		opts.Location = loc
	}
	if opts.Node == "" {
		host, _ := os.Hostname()
		opts.Node = fmt.Sprintf("%s:%d", host, os.Getpid())
	}
	if opts.LeaseRetention <= 0 {
		opts.LeaseRetention = 30 * 24 * time.Hour
	}
	if opts.JobLease <= 0 {
		opts.JobLease = time.Minute
	}
	s := &Scheduler{st: st, log: log.With("component", "scheduler"), opts: opts, jobs: map[string]*schedJob{}}
	s.runCtx, s.cancel = context.WithCancel(context.Background())
	s.cron = cron.New(cron.WithLocation(opts.Location), cron.WithLogger(schedLogger{s.log}))
	err := s.Add(SchedulerPruneJob, "0 17 3 * * *", func(ctx context.Context, tick time.Time) error {
		n, err := s.Prune(ctx, tick.Add(-s.opts.LeaseRetention))
		s.log.Info("old job runs pruned", "deleted", n)
		return err
	})
	if err != nil {
		panic(err) // the spec above is a constant
	}
	return s
}

// Location is the time zone the scheduler reads cron specs in.
func (s *Scheduler) Location() *time.Location { return s.opts.Location }

// Add schedules job under name. spec is a cron spec of 5 fields, or 6 with seconds first,
// read in the scheduler's location ("0 30 2 * * *", "*/5 * * * *"), or a descriptor ("@daily",
// "@every 10m"). An "@every" interval is aligned to multiples of itself since the Unix epoch,
// so that every node computes the same ticks. A malformed spec or a name already taken is an
// error. Jobs may be added before or after Start.
func (s *Scheduler) Add(name, spec string, job JobFunc) error {
	if name == "" || strings.Contains(name, "@") {
		return fmt.Errorf("add job %q: the name must be non-empty and without '@'", name)
	}
	if job == nil {
		return fmt.Errorf("add job %q: no job function", name)
	}
	sched, err := schedParser.Parse(spec)
	if err != nil {
		return fmt.Errorf("add job %q: invalid schedule %q: %w", name, spec, err)
	}
	if every, ok := sched.(cron.ConstantDelaySchedule); ok {
		sched = schedEvery{every.Delay}
	}
	j := &schedJob{name: name, spec: spec, run: job}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.jobs[name] != nil {
		return fmt.Errorf("add job %q: already added", name)
	}
	s.jobs[name] = j
	j.mu.Lock()
	j.id = s.cron.Schedule(sched, schedCronJob{s, j})
	j.mu.Unlock()
	return nil
}

// Start starts firing the jobs' ticks.
func (s *Scheduler) Start() {
	s.mu.Lock()
	if s.runCtx.Err() != nil {
		s.runCtx, s.cancel = context.WithCancel(context.Background())
	}
	s.mu.Unlock()
	s.cron.Start()
}

// Stop stops firing ticks and waits for the runs in progress to finish. When ctx ends first,
// the runs' context is cancelled and Stop returns ctx's error.
func (s *Scheduler) Stop(ctx context.Context) error {
	done := s.cron.Stop()
	s.mu.Lock()
	cancel := s.cancel
	s.mu.Unlock()
	defer cancel()
	select {
	case <-done.Done():
		return nil
	case <-ctx.Done():
		cancel()
		return fmt.Errorf("stop scheduler: jobs still running: %w", ctx.Err())
	}
}

// RunDue runs job name for tick unless some node already has, or a run of the job is still
// going here or on another node: it takes the job's hold, claims the tick's lease, runs the job
// (renewing the hold) and records the outcome in the lease. ran is false when the tick was
// claimed before or skipped; err is the job's error (also recorded) or the claim's. tick is
// truncated to the second.
func (s *Scheduler) RunDue(ctx context.Context, name string, tick time.Time) (ran bool, err error) {
	s.mu.Lock()
	j := s.jobs[name]
	s.mu.Unlock()
	if j == nil {
		return false, fmt.Errorf("run job %q: %w", name, ErrNotFound)
	}
	tick = tick.UTC().Truncate(time.Second)
	j.mu.Lock()
	busy := j.running
	j.running = true
	j.mu.Unlock()
	if busy {
		s.log.Info("tick skipped: the job's previous run is still going", "job", name, "tick", tick)
		return false, nil
	}
	defer func() {
		j.mu.Lock()
		j.running = false
		j.mu.Unlock()
	}()

	token, held, err := s.hold(ctx, name, tick)
	if err != nil {
		return false, fmt.Errorf("run job %q at %s: hold: %w", name, tick.Format(time.RFC3339), err)
	}
	if !held {
		s.log.Info("tick skipped: the job is running on another node", "job", name, "tick", tick)
		return false, nil
	}
	defer s.release(context.WithoutCancel(ctx), name, token)

	run := JobRun{
		ID: schedLeaseID(name, tick), Job: name, Tick: tick, Node: s.opts.Node,
		Started: time.Now().UTC().Truncate(time.Millisecond),
	}
	if err := s.st.Put(ctx, schedLeases, run.ID, run); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return false, nil
		}
		return false, fmt.Errorf("run job %q at %s: claim: %w", name, tick.Format(time.RFC3339), err)
	}

	runCtx, cancel := context.WithCancel(ctx)
	stop := s.keepHold(runCtx, cancel, name, token)
	jobErr := s.call(runCtx, j, tick.In(s.opts.Location))
	stop()
	cancel()
	run.Finished = time.Now().UTC().Truncate(time.Millisecond)
	if jobErr != nil {
		run.Error = jobErr.Error()
	}
	// The outcome is recorded even when ctx was cancelled during the run.
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer rcancel()
	if serr := s.st.Set(rctx, schedLeases, run.ID, run); serr != nil {
		s.log.Error("job run not recorded", "job", name, "tick", tick, "err", serr)
	}
	if jobErr != nil {
		return true, fmt.Errorf("run job %q at %s: %w", name, tick.Format(time.RFC3339), jobErr)
	}
	return true, nil
}

// hold takes this node's hold on job name, unless another node holds it and its hold has not
// expired; an expired hold (its node died or stalled) is taken over. It returns the hold's
// token.
func (s *Scheduler) hold(ctx context.Context, name string, tick time.Time) (string, bool, error) {
	token := rand.Text()
	for range 3 {
		now := time.Now().UTC()
		l := schedLock{Node: s.opts.Node, Token: token, Tick: tick, Until: now.Add(s.opts.JobLease).Truncate(time.Millisecond)}
		err := s.st.Put(ctx, schedLocks, name, l)
		if err == nil {
			return token, true, nil
		}
		if !errors.Is(err, store.ErrDuplicate) {
			return "", false, err
		}
		var cur schedLock
		switch err := s.st.Get(ctx, schedLocks, name, &cur); {
		case errors.Is(err, store.ErrNotFound):
			continue // released meanwhile
		case err != nil:
			return "", false, err
		}
		if now.Before(cur.Until) {
			return "", false, nil
		}
		// Expired. Of the nodes that see that, the one whose insert keyed by the stale token
		// wins removes it; the others find the winner's hold on their next attempt.
		takeover := name + "!" + cur.Token
		if err := s.st.Put(ctx, schedLocks, takeover, schedLock{Node: s.opts.Node, Token: token, Until: now}); err != nil {
			if errors.Is(err, store.ErrDuplicate) {
				return "", false, nil
			}
			return "", false, err
		}
		s.log.Warn("job hold expired; taking it over", "job", name, "holder", cur.Node, "until", cur.Until)
		err = s.dropHold(ctx, name, cur.Token)
		if derr := s.st.Delete(ctx, schedLocks, takeover); derr != nil && !errors.Is(derr, store.ErrNotFound) {
			s.log.Warn("job hold takeover not cleaned up", "job", name, "err", derr)
		}
		if err != nil {
			return "", false, err
		}
	}
	return "", false, nil
}

// dropHold deletes job name's hold if it still has token.
func (s *Scheduler) dropHold(ctx context.Context, name, token string) error {
	c, err := s.st.Collection(ctx, schedLocks)
	if err != nil {
		return err
	}
	schedLockMu.Lock()
	defer schedLockMu.Unlock()
	_, err = c.DeleteOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "token", Value: token}})
	return err
}

// release gives up this node's hold on job name after a run.
func (s *Scheduler) release(ctx context.Context, name, token string) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := s.dropHold(ctx, name, token); err != nil {
		// The hold expires by itself: the job's ticks are skipped until then.
		s.log.Error("job hold not released", "job", name, "err", err)
	}
}

// keepHold renews the hold on job name while the run goes on, and cancels the run (cancel) if
// another node has taken the hold over. The returned stop ends the renewals.
func (s *Scheduler) keepHold(ctx context.Context, cancel context.CancelFunc, name, token string) (stop func()) {
	done := make(chan struct{})
	finished := make(chan struct{})
	go func() {
		defer close(finished)
		t := time.NewTicker(s.opts.JobLease / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				kept, err := s.renewHold(ctx, name, token)
				switch {
				case err != nil:
					s.log.Warn("job hold not renewed", "job", name, "err", err)
				case !kept:
					s.log.Error("job hold lost to another node; stopping the run", "job", name)
					cancel()
					return
				}
			}
		}
	}()
	return func() {
		close(done)
		<-finished
	}
}

// renewHold moves the expiry of this node's hold on job name on; kept is false when the hold
// is no longer this node's.
func (s *Scheduler) renewHold(ctx context.Context, name, token string) (kept bool, err error) {
	c, err := s.st.Collection(ctx, schedLocks)
	if err != nil {
		return false, err
	}
	until := time.Now().UTC().Add(s.opts.JobLease).Truncate(time.Millisecond)
	schedLockMu.Lock()
	defer schedLockMu.Unlock()
	res, err := c.UpdateOne(ctx, bson.D{{Key: "_id", Value: name}, {Key: "token", Value: token}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "until", Value: until}}}})
	if err != nil {
		return false, err
	}
	return res.MatchedCount == 1, nil
}

// call runs the job, turning a panic into an error.
func (s *Scheduler) call(ctx context.Context, j *schedJob, tick time.Time) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("job panicked: %v", r)
			s.log.Error("job panicked", "job", j.name, "panic", r, "stack", string(debug.Stack()))
		}
	}()
	return j.run(ctx, tick)
}

// Runs lists the latest runs of job name, newest first, at most limit (default 20), from the
// run records' index by job and tick (kernelIndexes).
func (s *Scheduler) Runs(ctx context.Context, name string, limit int) ([]JobRun, error) {
	if limit <= 0 {
		limit = 20
	}
	page, err := s.st.Query(ctx, schedLeases, runsQuery(name, limit))
	if err != nil {
		return nil, fmt.Errorf("list runs of job %q: %w", name, err)
	}
	var out []JobRun
	for _, raw := range page.Docs {
		var r JobRun
		if err := bson.Unmarshal(raw, &r); err != nil {
			return nil, fmt.Errorf("list runs of job %q: %w", name, err)
		}
		r.Tick, r.Started, r.Finished = r.Tick.UTC(), r.Started.UTC(), busUTC(r.Finished)
		out = append(out, r)
	}
	return out, nil
}

// runsQuery is the query of Runs: job name's run records, newest tick first.
func runsQuery(name string, limit int) store.Query {
	return store.Query{Where: store.Eq("job", name), Sort: []store.SortKey{{Path: "tick", Desc: true}},
		Limit: min(limit, store.MaxQueryLimit)}
}

// Prune deletes the run records of ticks before `before` and returns how many it deleted. The
// built-in job SchedulerPruneJob calls it daily.
func (s *Scheduler) Prune(ctx context.Context, before time.Time) (int, error) {
	var ids []string
	err := s.st.QueryEach(ctx, schedLeases, pruneRunsQuery(before), func(raw bson.Raw) error {
		id, ok := raw.Lookup("_id").StringValueOK()
		if ok {
			ids = append(ids, id)
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("prune job runs: %w", err)
	}
	n := 0
	for _, id := range ids {
		err := s.st.Delete(ctx, schedLeases, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return n, fmt.Errorf("prune job runs: %w", err)
		}
		n++
	}
	return n, nil
}

// pruneRunsQuery is the query of Prune: the ids of the run records of ticks before before,
// oldest first.
func pruneRunsQuery(before time.Time) store.Query {
	return store.Query{Where: store.Lt("tick", before.UTC()), Sort: []store.SortKey{{Path: "tick"}},
		Limit: 1000, Fields: []string{"_id"}}
}

func schedLeaseID(name string, tick time.Time) string {
	return name + "@" + tick.UTC().Format("2006-01-02T15:04:05Z")
}

// schedCronJob is what cron runs at a tick: it finds the tick and hands it to RunDue.
type schedCronJob struct {
	s *Scheduler
	j *schedJob
}

func (c schedCronJob) Run() {
	c.j.mu.Lock()
	id := c.j.id
	c.j.mu.Unlock()
	// Prev is the scheduled time of the activation that started this run: cron sets it right
	// after starting the job, and Entry is answered by cron's loop, so it is already set.
	tick := c.s.cron.Entry(id).Prev
	if tick.IsZero() {
		tick = time.Now()
	}
	c.s.mu.Lock()
	ctx := c.s.runCtx
	c.s.mu.Unlock()
	ran, err := c.s.RunDue(ctx, c.j.name, tick)
	switch {
	case err != nil:
		c.s.log.Error("job failed", "job", c.j.name, "tick", tick, "err", err)
	case ran:
		c.s.log.Debug("job ran", "job", c.j.name, "tick", tick)
	default:
		c.s.log.Debug("tick claimed by another node", "job", c.j.name, "tick", tick)
	}
}

// schedEvery is "@every d" aligned to multiples of d since the Unix epoch, unlike cron's own
// ConstantDelaySchedule, which counts from when each node started.
type schedEvery struct{ d time.Duration }

func (e schedEvery) Next(t time.Time) time.Time {
	step := int64(e.d / time.Second) // cron already rounded d to whole seconds, at least one
	next := (t.Unix()/step + 1) * step
	return time.Unix(next, 0).In(t.Location())
}

// schedLogger sends cron's logs to slog: its chatter at debug level.
type schedLogger struct{ log *slog.Logger }

func (l schedLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }

func (l schedLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}

var (
	_ cron.Job      = schedCronJob{}
	_ cron.Schedule = schedEvery{}
	_ cron.Logger   = schedLogger{}
)
