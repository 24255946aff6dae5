package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"tracecraft/engine/store"
)

// Kernel bundles the kernel services that engines and the API are built on. cmd/tracecraft
// makes one with NewKernel and hands it to each engine.
type Kernel struct {
	Store     *store.Store
	Log       *slog.Logger
	Audit     *Audit
	Auth      *Auth
	Bus       *Bus
	Scheduler *Scheduler
	Exprs     *Exprs
	Registry  *Registry
	// Records is set by the form engine when it is made (forms.New).
	Records Records
	// Grants is set by the workflow engine when it is made (workflow.New): what open tasks
	// show their people of a record.
	Grants TaskGrants
	// Actions are the automatic actions engines register for flows and rules.
	Actions *Set[Action]

	settled settler    // stores the audit log's settled point (outbox.go)
	indexes indexDecls // the query indexes engines declared (DeclareIndexes)
	// recoveries run first when the kernel starts (OnRecover).
	recoveries []recovery
}

// KernelOptions configure NewKernel.
type KernelOptions struct {
	Log       *slog.Logger
	Auth      AuthOptions
	Bus       BusOptions
	Scheduler SchedulerOptions
	Exprs     []ExprOption
	// Location is the plant's time zone: the day of auto-numbers and date parts, today() in
	// expressions, cron specs and working hours. Asia/Shanghai when nil.
	Location *time.Location
	// AuditKey keys the audit log's hash chain (WithAuditKey). Keep it outside the database;
	// without it the chain is a plain hash chain that a database writer can recompute.
	AuditKey []byte
}

// NewKernel wires the kernel services on an open store. Start begins background work.
func NewKernel(st *store.Store, opts KernelOptions) *Kernel {
	log := opts.Log
	if log == nil {
		log = slog.Default()
	}
	if opts.Location == nil {
		opts.Location = DefaultLocation()
	}
	if opts.Scheduler.Location == nil {
		opts.Scheduler.Location = opts.Location
	}
	opts.Exprs = append([]ExprOption{WithLocation(opts.Location)}, opts.Exprs...)
	audit := NewAudit(st, WithAuditKey(opts.AuditKey))
	bus := NewBus(st, log, opts.Bus)
	bus.audit = audit // the events of writes ride on their audit entries (Commit)
	return &Kernel{
		Store:     st,
		Log:       log,
		Audit:     audit,
		Auth:      NewAuth(st, audit, opts.Auth),
		Bus:       bus,
		Scheduler: NewScheduler(st, log, opts.Scheduler),
		Exprs:     NewExprs(opts.Exprs...),
		Registry:  &Registry{},
		Actions:   &Set[Action]{},
		settled:   settler{saved: -1},
	}
}

// Location is the plant's time zone (KernelOptions.Location).
func (k *Kernel) Location() *time.Location { return k.Scheduler.Location() }

// DefaultLocation is the time zone used when none is configured: Asia/Shanghai.
func DefaultLocation() *time.Location {
	if loc, err := time.LoadLocation("Asia/Shanghai"); err == nil {
		return loc
	}
	return time.FixedZone("CST", 8*3600)
}

// Start makes the declared query indexes (DeclareIndexes), settles the writes a previous run
// left unfinished (reconcile), starts the event bus (re-delivering what a previous run left
// undelivered) and the scheduler.
func (k *Kernel) Start(ctx context.Context) error {
	if err := k.recover(ctx); err != nil {
		return err
	}
	if err := k.ensureIndexes(ctx); err != nil {
		return err
	}
	if err := k.reconcile(ctx); err != nil {
		return err
	}
	if err := k.Bus.Start(ctx); err != nil {
		return err
	}
	k.startSettler()
	err := k.Scheduler.Add("bus.prune", "@hourly", func(ctx context.Context, _ time.Time) error {
		_, err := k.Bus.Prune(ctx, time.Time{})
		return err
	})
	if err != nil {
		return err
	}
	k.Scheduler.Start()
	return nil
}

// RetryDelivery revives a dead delivery of the event bus (Bus.Retry) for p, who must be a
// system administrator, and records that in the audit log: a replay has the side effects of
// the subscriber it goes to.
func (k *Kernel) RetryDelivery(ctx context.Context, p *Principal, key string) error {
	if err := k.Auth.Require(ctx, p, "", PermSystemAdmin); err != nil {
		return fmt.Errorf("retry delivery %s: %w", key, err)
	}
	if err := k.Bus.Retry(ctx, key); err != nil {
		return err
	}
	if _, err := k.Audit.Append(ctx, AuditEntry{Actor: p.Username, IP: p.IP, Action: "bus.retry", Kind: "delivery", Target: key}); err != nil {
		return fmt.Errorf("retry delivery %s: %w", key, err)
	}
	return nil
}

// Close stops background work and closes the store.
func (k *Kernel) Close(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return errors.Join(k.Scheduler.Stop(ctx), k.Bus.Close(ctx), k.stopSettler(ctx), k.Store.Close(ctx))
}
