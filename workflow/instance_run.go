package workflow

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Collections of the runtime besides those workflow.go names.
const (
	// startsCollection claims starts: _id app/flow/record (the first instance of a flow on a
	// record; "#n" appended for the n-th), so an instance per claim is made at most once.
	startsCollection = "wf_starts"
	// recordInstancesCollection lists a record's instances: _id app/form/record, revisioned.
	recordInstancesCollection = "wf_record_instances"
)

// AutostartSubscriber is the bus subscriber that starts flows when records are created.
const AutostartSubscriber = "workflow.autostart"

// maxAttempts bounds the re-reads of an instance after lost races.
const maxAttempts = 8

// BatchResult is the outcome of one task of BatchApprove. Code is empty when OK, else one of
// not_found, forbidden, conflict, invalid, unauthenticated, error.
type BatchResult struct {
	Task  string `json:"task"`
	OK    bool   `json:"ok"`
	Error string `json:"error,omitempty"`
	Code  string `json:"code,omitempty"`
}

type startClaim struct {
	Instance string    `bson:"instance"`
	At       time.Time `bson:"at"`
}

type recordInstances struct {
	IDs []string `bson:"instances"`
	Rev int64    `bson:"_rev"`
}

// startRuntime wires the runtime into the kernel: the autostart subscriber and the timer job.
// New calls it, before the kernel starts.
func (s *Service) startRuntime() {
	s.k.Bus.Subscribe(AutostartSubscriber, []string{engine.EventRecordCreated}, s.onRecordCreated)
	spec := s.opts.TimerSpec
	if spec == "" {
		spec = "@every 15s"
	}
	err := s.k.Scheduler.Add(TimerJob, spec, func(ctx context.Context, _ time.Time) error {
		_, err := s.FireTimers(ctx)
		return err
	})
	if err != nil {
		panic(fmt.Sprintf("workflow: %v", err)) // a malformed spec or a second Service on one kernel
	}
}

// onRecordCreated starts every flow bound to the record's form with trigger create whose
// When holds. It is idempotent: each start is claimed under app/flow/record first.
func (s *Service) onRecordCreated(ctx context.Context, e engine.Event) error {
	form, _ := e.Data["form"].(string)
	id, _ := e.Data["id"].(string)
	if e.App == "" || form == "" || id == "" {
		return nil
	}
	keys, err := s.flowsOnCreate(ctx, e.App, form)
	if err != nil {
		return fmt.Errorf("autostart on %s/%s/%s: %w", e.App, form, id, err)
	}
	initiator := e.Actor
	if initiator == "" {
		initiator = engine.SystemActor
	}
	var errs []error
	for _, key := range keys {
		c, err := s.Compiled(ctx, e.App, key, 0)
		if err != nil {
			errs = append(errs, fmt.Errorf("autostart flow %s: %w", key, err))
			continue
		}
		if c.Def.Trigger.On != "create" || c.Def.Form != form {
			continue
		}
		if c.trigger != nil {
			ref, err := s.k.Records.GetRecord(ctx, engine.SystemPrincipal(), e.App, form, id)
			if errors.Is(err, engine.ErrNotFound) {
				return nil // deleted since
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("autostart flow %s: %w", key, err))
				continue
			}
			vars := conditionVars(&Instance{Initiator: initiator}, ref.Data, ref.Status)
			ok, err := c.trigger.EvalBool(ctx, vars)
			if err != nil {
				// A definition mistake: retrying will not help.
				s.k.Log.Error("flow trigger condition failed", "app", e.App, "flow", key, "record", id, "err", err)
				continue
			}
			if !ok {
				continue
			}
		}
		if _, _, err := s.startInstance(ctx, c, initiator, "", id, startKey(e.App, key, id, 1)); err != nil {
			errs = append(errs, fmt.Errorf("autostart flow %s on %s: %w", key, id, err))
		}
	}
	return errors.Join(errs...)
}

func startKey(app, flow, record string, n int) string {
	k := app + "/" + flow + "/" + record
	if n > 1 {
		k += "#" + strconv.Itoa(n)
	}
	return k
}

// Start starts flow on a record by hand. p must be able to read the record. A flow already
// running on the record is a conflict; once it has finished it may be started again.
func (s *Service) Start(ctx context.Context, p *engine.Principal, app, flow, record string) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	c, err := s.Compiled(ctx, app, flow, 0)
	if err != nil {
		return nil, fmt.Errorf("start flow %s: %w", flow, err)
	}
	if s.k.Records == nil {
		return nil, fmt.Errorf("start flow %s: no record service", flow)
	}
	if _, err := s.k.Records.GetRecord(ctx, p, app, c.Def.Form, record); err != nil {
		return nil, fmt.Errorf("start flow %s on %s: %w", flow, record, err)
	}
	ids, err := s.recordInstanceIDs(ctx, app, c.Def.Form, record)
	if err != nil {
		return nil, fmt.Errorf("start flow %s on %s: %w", flow, record, err)
	}
	n := 1
	for _, id := range ids {
		inst, err := s.load(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("start flow %s on %s: %w", flow, record, err)
		}
		if inst.Flow != flow {
			continue
		}
		n++
		if inst.State == StateRunning {
			return nil, fmt.Errorf("start flow %s on %s: instance %s is running: %w", flow, record, inst.ID, engine.ErrConflict)
		}
	}
	inst, created, err := s.startInstance(ctx, c, p.Username, p.IP, record, startKey(app, flow, record, n))
	if err != nil {
		return nil, fmt.Errorf("start flow %s on %s: %w", flow, record, err)
	}
	if !created {
		return nil, fmt.Errorf("start flow %s on %s: started by someone else just now: %w", flow, record, engine.ErrConflict)
	}
	return inst, nil
}

// startInstance claims key, then creates and starts the instance. created is false when the
// claim's instance exists already (a redelivered event, a concurrent start).
func (s *Service) startInstance(ctx context.Context, c *Compiled, initiator, ip, record, key string) (*Instance, bool, error) {
	now := s.clock()
	id := newInstanceID(now)
	if err := s.st.Put(ctx, startsCollection, key, startClaim{Instance: id, At: now}); err != nil {
		if !errors.Is(err, store.ErrDuplicate) {
			return nil, false, err
		}
		var prev startClaim
		if err := s.st.Get(ctx, startsCollection, key, &prev); err != nil {
			return nil, false, err
		}
		id = prev.Instance
		inst, err := s.load(ctx, id)
		if err == nil {
			return inst, false, nil
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return nil, false, err
		}
		// Claimed by a start that stopped before creating the instance: finish its work.
	}
	inst := &Instance{ID: id, App: c.App, Flow: c.Key, Version: c.Version, Form: c.Def.Form, Record: record,
		Initiator: initiator, State: StateRunning, Active: []string{}, Started: now, Title: c.Def.Name.In(engine.LangZH)}
	eff, err := apply(c, inst, action{kind: evStart, actor: initiator, ip: ip, now: now, w: s.world(ctx, inst, now)})
	if err != nil {
		return nil, false, err
	}
	if err := s.st.Create(ctx, instancesCollection, id, inst); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			cur, lerr := s.load(ctx, id)
			return cur, false, lerr
		}
		return nil, false, err
	}
	inst.Rev = 1
	if err := s.addRecordInstance(ctx, inst); err != nil {
		s.k.Log.Error("instance not listed on its record", "instance", id, "err", err)
	}
	return s.runEffects(ctx, c, inst, eff), true, nil
}

// newInstanceID makes an instance id: 8 bytes of time (ms) and 6 random bytes, hex, sortable
// by creation; no dots, so task ids <instance>.<n> split cleanly.
func newInstanceID(now time.Time) string {
	var b [14]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli()))
	_, _ = rand.Read(b[8:])
	return hex.EncodeToString(b[2:])
}

// instanceOfTask gives the instance id of a task id.
func instanceOfTask(taskID string) string {
	i := strings.LastIndexByte(taskID, '.')
	if i <= 0 {
		return ""
	}
	return taskID[:i]
}

// clock is now as BSON keeps it (UTC, milliseconds), so a stored instance compares equal.
func (s *Service) clock() time.Time { return s.now().UTC().Truncate(time.Millisecond) }

func (s *Service) load(ctx context.Context, id string) (*Instance, error) {
	var inst Instance
	if err := s.st.Get(ctx, instancesCollection, id, &inst); err != nil {
		return nil, fmt.Errorf("instance %s: %w", id, err)
	}
	return &inst, nil
}

// mutate applies ev to instance id and stores the result with the revision it read; when
// another change won the race it reads the instance again and re-applies ev, which then fails
// with a conflict if the newer state no longer allows it. The effects run after the store
// write; mutate returns the instance as they left it.
func (s *Service) mutate(ctx context.Context, id string, ev action) (*Instance, error) {
	if ev.now.IsZero() {
		ev.now = s.clock()
	}
	for range maxAttempts {
		inst, err := s.load(ctx, id)
		if err != nil {
			return nil, err
		}
		c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
		if err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
		if ev.w == nil {
			ev.w = s.world(ctx, inst, ev.now)
		}
		eff, err := apply(c, inst, ev)
		if err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
		if eff.noop {
			return s.runEffects(ctx, c, inst, eff), nil
		}
		rev, err := s.st.Update(ctx, instancesCollection, id, inst.Rev, inst)
		if errors.Is(err, store.ErrConflict) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
		inst.Rev = rev
		return s.runEffects(ctx, c, inst, eff), nil
	}
	return nil, fmt.Errorf("instance %s: changed by others %d times in a row: %w", id, maxAttempts, engine.ErrConflict)
}

// runEffects runs what a stored change asked for: the inbox projection, timers, events, the
// audit entry, the record status of an end node and action nodes (each of which moves the
// instance on, so the instance returned may be newer than inst). Failures are logged: the
// change they follow is stored, and timers retry the parts that matter.
func (s *Service) runEffects(ctx context.Context, c *Compiled, inst *Instance, eff effects) *Instance {
	log := s.k.Log.With("instance", inst.ID)
	if !eff.noop {
		if err := s.project(ctx, c, inst, eff.changed); err != nil {
			log.Error("inbox not updated", "err", err)
		}
	}
	if err := s.putTimers(ctx, eff.timers); err != nil {
		log.Error("timers not stored", "err", err)
	}
	for _, e := range eff.events {
		if err := s.k.Bus.Publish(ctx, e); err != nil {
			log.Error("flow event not published", "type", e.Type, "err", err)
		}
	}
	if eff.audit != nil {
		if _, err := s.k.Audit.Append(ctx, *eff.audit); err != nil {
			log.Error("audit append failed", "action", eff.audit.Action, "err", err)
		}
	}
	if eff.status != "" {
		if err := s.setStatus(ctx, inst, eff.status); err != nil {
			log.Error("record status not set; the timer retries", "status", eff.status, "err", err)
		}
	}
	latest := inst
	for _, r := range eff.runs {
		latest = s.runNode(ctx, c, latest, r)
	}
	return latest
}

// setStatus sets the record status an end node names, then drops its recovery timer.
func (s *Service) setStatus(ctx context.Context, inst *Instance, status string) error {
	if s.k.Records == nil {
		return errors.New("no record service")
	}
	_, err := s.k.Records.SetRecordStatus(ctx, engine.SystemPrincipal(), inst.App, inst.Form, inst.Record, status)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	for i := len(inst.Timeline) - 1; i >= 0; i-- {
		if st := inst.Timeline[i]; st.Action == stepEnd {
			s.dropTimer(ctx, timerID(inst.ID, st.Node, latestVisit(inst, st.Node), timerStatus))
			break
		}
	}
	return nil
}

// runNode runs an action node's action (idempotent by instance/node/visit) and moves the
// instance on, or fails it with the action's error.
func (s *Service) runNode(ctx context.Context, c *Compiled, inst *Instance, r nodeRun) *Instance {
	n, ok := c.Node(r.Node)
	if !ok {
		return inst
	}
	var failure string
	act, ok := s.k.Actions.Get(n.Action)
	if !ok {
		failure = fmt.Sprintf("unknown action %q", n.Action)
	} else {
		ac := engine.ActionContext{Key: inst.ID + "/" + n.ID + "/" + strconv.Itoa(r.Visit), App: inst.App, Form: inst.Form,
			Record: inst.Record, Actor: engine.SystemPrincipal(), Params: n.Params}
		if _, err := act.Run(ctx, ac); err != nil {
			failure = fmt.Sprintf("action %s: %v", n.Action, err)
		}
	}
	latest, err := s.mutate(ctx, inst.ID, action{kind: evActionDone, actor: engine.SystemActor, node: r.Node, visit: r.Visit, err: failure})
	if err != nil {
		s.k.Log.Error("action node result not stored; the timer retries", "instance", inst.ID, "node", n.ID, "err", err)
		return inst
	}
	s.dropTimer(ctx, timerID(inst.ID, r.Node, r.Visit, timerAction))
	return latest
}

// Act does what in asks with task taskID: approve, reject, return, transfer, add_signer or
// submit. Only the task's assignee may act, only while the task is pending; a task closed
// meanwhile (another approver decided, the instance ended) is a conflict. in.Data edits the
// record first, within the fields the node lets its assignees edit.
func (s *Service) Act(ctx context.Context, p *engine.Principal, taskID string, in ActInput) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	id := instanceOfTask(taskID)
	if id == "" {
		return nil, fmt.Errorf("task %s: %w", taskID, engine.ErrNotFound)
	}
	in.Action = strings.ToLower(strings.TrimSpace(in.Action))
	now := s.clock()
	ev := action{kind: evAct, actor: p.Username, ip: p.IP, now: now, task: taskID, in: in}
	if len(in.Data) > 0 {
		if err := s.editRecord(ctx, id, ev); err != nil {
			return nil, fmt.Errorf("act on task %s: %w", taskID, err)
		}
	}
	inst, err := s.mutate(ctx, id, ev)
	if err != nil {
		return nil, fmt.Errorf("act on task %s: %w", taskID, err)
	}
	return inst, nil
}

// editRecord checks the action against the instance as it is (so a closed task or a field
// the node does not let its assignees edit changes nothing) and then writes the edits to the
// record as the system, before the decision is stored.
func (s *Service) editRecord(ctx context.Context, id string, ev action) error {
	inst, err := s.load(ctx, id)
	if err != nil {
		return err
	}
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return err
	}
	ev.w = s.world(ctx, inst, ev.now)
	if _, err := apply(c, inst, ev); err != nil {
		return err
	}
	if s.k.Records == nil {
		return errors.New("no record service")
	}
	sys := engine.SystemPrincipal()
	for range maxAttempts {
		ref, err := s.k.Records.GetRecord(ctx, sys, inst.App, inst.Form, inst.Record)
		if err != nil {
			return err
		}
		_, err = s.k.Records.UpdateRecord(ctx, sys, inst.App, inst.Form, inst.Record, ref.Rev, ev.in.Data)
		if engine.IsConflict(err) {
			continue
		}
		return err
	}
	return fmt.Errorf("record %s changed by others: %w", inst.Record, engine.ErrConflict)
}

// Withdraw ends an instance as withdrawn: only its initiator, only while nobody has acted.
func (s *Service) Withdraw(ctx context.Context, p *engine.Principal, instanceID, comment string) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	inst, err := s.mutate(ctx, instanceID, action{kind: evWithdraw, actor: p.Username, ip: p.IP, in: ActInput{Comment: comment}})
	if err != nil {
		return nil, fmt.Errorf("withdraw: %w", err)
	}
	return inst, nil
}

// Comment adds a comment (with a signature and attachments, if given) to an instance's
// timeline; the initiator and anyone with a task on the instance may.
func (s *Service) Comment(ctx context.Context, p *engine.Principal, instanceID string, in ActInput) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	inst, err := s.mutate(ctx, instanceID, action{kind: evComment, actor: p.Username, ip: p.IP,
		in: ActInput{Comment: in.Comment, Signature: in.Signature, Attachments: in.Attachments}})
	if err != nil {
		return nil, fmt.Errorf("comment: %w", err)
	}
	return inst, nil
}

// BatchApprove approves each task with the same comment and reports each outcome.
func (s *Service) BatchApprove(ctx context.Context, p *engine.Principal, taskIDs []string, comment string) []BatchResult {
	out := make([]BatchResult, 0, len(taskIDs))
	for _, id := range taskIDs {
		_, err := s.Act(ctx, p, id, ActInput{Action: ActApprove, Comment: comment})
		r := BatchResult{Task: id, OK: err == nil}
		if err != nil {
			r.Error, r.Code = err.Error(), errorCode(err)
		}
		out = append(out, r)
	}
	return out
}

// errorCode names the kind of err as BatchResult.Code does.
func errorCode(err error) string {
	if _, ok := engine.AsFieldErrors(err); ok {
		return "invalid"
	}
	switch {
	case errors.Is(err, engine.ErrNotFound):
		return "not_found"
	case errors.Is(err, engine.ErrForbidden):
		return "forbidden"
	case errors.Is(err, engine.ErrUnauthenticated):
		return "unauthenticated"
	case engine.IsConflict(err):
		return "conflict"
	case errors.Is(err, engine.ErrInvalid):
		return "invalid"
	}
	return "error"
}

// canSee: the initiator, anyone with a task, and the app's designers and administrators.
func (s *Service) canSee(ctx context.Context, p *engine.Principal, inst *Instance) bool {
	return p != nil && (involved(inst, p.Username) || s.k.Auth.Can(ctx, p, inst.App, engine.PermAppDesign))
}

// Instance reads an instance p may see; one p may not see is not found.
func (s *Service) Instance(ctx context.Context, p *engine.Principal, id string) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	inst, err := s.load(ctx, id)
	if err != nil {
		return nil, err
	}
	if !s.canSee(ctx, p, inst) {
		return nil, fmt.Errorf("instance %s: %w", id, engine.ErrNotFound)
	}
	return inst, nil
}

// InstancesOfRecord lists a record's instances, oldest first: all of them when p may read the
// record, else those p may see. It walks the record's list by _id, one instance at a time.
func (s *Service) InstancesOfRecord(ctx context.Context, p *engine.Principal, app, form, record string) ([]Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	var readErr error
	if s.k.Records == nil {
		readErr = errors.New("no record service")
	} else {
		_, readErr = s.k.Records.GetRecord(ctx, p, app, form, record)
	}
	ids, err := s.recordInstanceIDs(ctx, app, form, record)
	if err != nil {
		return nil, err
	}
	out := []Instance{}
	for _, id := range ids {
		inst, err := s.load(ctx, id)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if readErr == nil || s.canSee(ctx, p, inst) {
			out = append(out, *inst)
		}
	}
	if len(out) == 0 && readErr != nil && !errors.Is(readErr, engine.ErrNotFound) && !errors.Is(readErr, engine.ErrForbidden) {
		return nil, readErr
	}
	return out, nil
}

func recordKey(app, form, record string) string { return app + "/" + form + "/" + record }

func (s *Service) recordInstanceIDs(ctx context.Context, app, form, record string) ([]string, error) {
	var doc recordInstances
	err := s.st.Get(ctx, recordInstancesCollection, recordKey(app, form, record), &doc)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return doc.IDs, nil
}

// addRecordInstance adds inst to its record's list (a revisioned read-modify-write, retried).
func (s *Service) addRecordInstance(ctx context.Context, inst *Instance) error {
	key := recordKey(inst.App, inst.Form, inst.Record)
	for range maxAttempts * 2 {
		var doc recordInstances
		err := s.st.Get(ctx, recordInstancesCollection, key, &doc)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = s.st.Create(ctx, recordInstancesCollection, key, recordInstances{IDs: []string{inst.ID}})
		case err != nil:
			return err
		default:
			for _, id := range doc.IDs {
				if id == inst.ID {
					return nil
				}
			}
			doc.IDs = append(doc.IDs, inst.ID)
			_, err = s.st.Update(ctx, recordInstancesCollection, key, doc.Rev, doc)
		}
		if engine.IsConflict(err) {
			continue
		}
		return err
	}
	return fmt.Errorf("list instance on record %s: %w", key, engine.ErrConflict)
}

// auditf appends an audit entry for an action of p on target of kind (failures are logged).
func (s *Service) auditf(ctx context.Context, p *engine.Principal, action, kind, target string, after any) {
	e := engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: action, Kind: kind, Target: target, After: after}
	if _, err := s.k.Audit.Append(ctx, e); err != nil {
		s.k.Log.Error("audit append failed", "action", action, "target", target, "err", err)
	}
}
