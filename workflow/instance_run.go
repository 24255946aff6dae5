package workflow

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
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
	// The bus delivers with a fresh context: the depth of the write that made the record
	// goes on with the instance (Instance.Depth).
	ctx = engine.WithChainDepth(ctx, engine.EventDepth(e))
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

// Start starts flow on a record by hand. The flow's trigger must be "manual" (a flow that
// starts on record creation is a conflict), its When, if any, must hold for the record (else
// a field error on "flow"), and p must be one who may start it: the record's author (the
// initiator of a manual flow is normally whoever wrote the record) or a designer or
// administrator of the app (app.design). engine.Records has no "may update" check, so reading
// the record is not taken as leave to start flows on it. A flow already running on the record
// is a conflict; once it has finished it may be started again.
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
	ref, err := s.k.Records.GetRecord(ctx, p, app, c.Def.Form, record)
	if err != nil {
		return nil, fmt.Errorf("start flow %s on %s: %w", flow, record, err)
	}
	if ref.CreatedBy != p.Username && !s.k.Auth.Can(ctx, p, app, engine.PermAppDesign) {
		return nil, fmt.Errorf("start flow %s on %s: only the record's author or a designer may: %w", flow, record, engine.ErrForbidden)
	}
	if c.Def.Trigger.On != "manual" {
		return nil, fmt.Errorf("start flow %s on %s: the flow starts on %q, not by hand: %w", flow, record, c.Def.Trigger.On, engine.ErrConflict)
	}
	if c.trigger != nil {
		ok, err := c.trigger.EvalBool(ctx, conditionVars(&Instance{Initiator: p.Username}, ref.Data, ref.Status))
		if err != nil {
			return nil, fmt.Errorf("start flow %s on %s: trigger condition: %w", flow, record, err)
		}
		if !ok {
			return nil, engine.Invalid("flow", "flowrun.trigger_false", map[string]any{"value": flow})
		}
	}
	for range maxAttempts {
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
		if created {
			return s.present(ctx, p, inst)
		}
		if slices.Contains(ids, inst.ID) {
			return nil, fmt.Errorf("start flow %s on %s: started by someone else just now: %w", flow, record, engine.ErrConflict)
		}
		// The claim's instance was not on the record's list: a start that stopped after
		// creating it. startInstance has listed and repaired it; count again.
		if inst.State == StateRunning && inst.Initiator == p.Username {
			return s.present(ctx, p, inst)
		}
	}
	return nil, fmt.Errorf("start flow %s on %s: %w", flow, record, engine.ErrConflict)
}

// startInstance claims key, then creates and starts the instance. created is false when the
// claim's instance exists already (a redelivered event, a concurrent start, a start that
// stopped after creating it): that instance is then listed on its record, and if it was not
// listed yet (the start stopped before it could be), its inbox projection and timers are
// made again.
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
			return s.relist(ctx, inst)
		}
		if !errors.Is(err, engine.ErrNotFound) {
			return nil, false, err
		}
		// Claimed by a start that stopped before creating the instance: finish its work.
	}
	inst := &Instance{ID: id, App: c.App, Flow: c.Key, Version: c.Version, Form: c.Def.Form, Record: record,
		Initiator: initiator, State: StateRunning, Active: []string{}, Started: now, Title: c.Def.Name.In(engine.LangZH),
		Depth: engine.ChainDepth(ctx)}
	ev := action{kind: evStart, actor: initiator, ip: ip, now: now}
	ev.w = s.world(ctx, inst, ev)
	eff, err := apply(c, inst, ev)
	if err != nil {
		return nil, false, err
	}
	if err := s.prepareWrite(ctx, inst, 1, &eff); err != nil {
		return nil, false, err
	}
	if err := s.st.Create(ctx, instancesCollection, id, inst); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			cur, lerr := s.load(ctx, id)
			if lerr != nil {
				return nil, false, lerr
			}
			return s.relist(ctx, cur)
		}
		return nil, false, err
	}
	inst.Rev = 1
	if s.skipEffects.Load() {
		return inst, true, nil
	}
	if _, err := s.addRecordInstance(ctx, inst); err != nil {
		s.k.Log.Error("instance not listed on its record; the sync timer retries", "instance", id, "err", err)
		eff.syncFailed = true
	}
	return s.runEffects(ctx, c, inst, eff), true, nil
}

// relist lists an existing instance on its record; when it was missing there, the start that
// made it stopped before its effects, so they are made again (resync).
func (s *Service) relist(ctx context.Context, inst *Instance) (*Instance, bool, error) {
	added, err := s.addRecordInstance(ctx, inst)
	if err != nil {
		return nil, false, err
	}
	if added {
		if err := s.resync(ctx, inst); err != nil {
			s.k.Log.Error("instance not resynchronised; the sync timer retries", "instance", inst.ID, "err", err)
		}
	}
	return inst, false, nil
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
// with a conflict if the newer state no longer allows it. The timers of the change and its
// sync timer are stored before the write (prepareWrite), the other effects run after it;
// mutate returns the instance as they left it.
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
			ev.w = s.world(ctx, inst, ev)
		}
		eff, err := apply(c, inst, ev)
		if err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
		if eff.noop {
			return s.runEffects(ctx, c, inst, eff), nil
		}
		if err := s.prepareWrite(ctx, inst, inst.Rev+1, &eff); err != nil {
			return nil, err
		}
		rev, err := s.st.Update(ctx, instancesCollection, id, inst.Rev, inst)
		if errors.Is(err, store.ErrConflict) {
			// The timers stored for this attempt stay: they may be the winner's too (ids are
			// deterministic), and those of visits that never happened do nothing.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("instance %s: %w", id, err)
		}
		inst.Rev = rev
		if s.skipEffects.Load() {
			return inst, nil
		}
		return s.runEffects(ctx, c, inst, eff), nil
	}
	return nil, fmt.Errorf("instance %s: changed by others %d times in a row: %w", id, maxAttempts, engine.ErrConflict)
}

// runEffects runs what a stored change asked for: the inbox projection, events, the audit
// entry, the record status of an end node and action nodes (each of which moves the instance
// on, so the instance returned may be newer than inst). Failures are logged: the change they
// follow is stored, and timers retry the parts that matter — the sync timer stored before the
// write is dropped only when the projection succeeded. (The change's own timers were stored
// before the write; a noop change stores its recovery runs' timers here.)
func (s *Service) runEffects(ctx context.Context, c *Compiled, inst *Instance, eff effects) *Instance {
	ctx = chainCtx(ctx, inst)
	log := s.k.Log.With("instance", inst.ID)
	synced := !eff.syncFailed
	// The record edit first: the events and actions that follow may read the record.
	for _, f := range eff.failures {
		log.Error("flow failed", "error_id", f.id, "node", f.node, "err", engine.ExprDetail(f.err))
	}
	if eff.edit != nil {
		if err := s.writeEdit(ctx, inst, eff.edit); err != nil {
			// The cause may quote the edit's values (a validation error, a formula's operand):
			// the timeline gets a neutral text and the id it is logged under.
			id := newErrorID()
			log.Error("record edit not saved", "error_id", id, "task", eff.edit.task, "err", engine.ExprDetail(err))
			if _, merr := s.mutate(ctx, inst.ID, action{kind: evEditFailed, actor: engine.SystemActor, task: eff.edit.task,
				err: failureComment("flowrun.edit_failed", id), errID: id}); merr != nil {
				log.Error("record edit failure not put on the timeline", "task", eff.edit.task, "err", merr)
			}
		}
	}
	if !eff.noop {
		if err := s.snapshot(ctx, c, inst, eff.changed); err != nil {
			log.Error("notify snapshot not stored; the sync timer retries", "err", err)
			synced = false
		}
		if err := s.project(ctx, c, inst, eff.changed); err != nil {
			log.Error("inbox not updated; the sync timer retries", "err", err)
			synced = false
		}
	}
	if eff.sync == "" {
		if err := s.putTimers(ctx, eff.timers); err != nil {
			log.Error("timers not stored", "err", err)
		}
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
	if eff.sync != "" && synced {
		s.dropTimer(ctx, eff.sync)
	}
	latest := inst
	for _, r := range eff.runs {
		latest = s.runNode(ctx, c, latest, r)
	}
	return latest
}

// chainCtx makes the writes done with ctx at least as deep in an automatic chain as the one
// that started inst (Instance.Depth): the bus and the timer job call in with fresh contexts.
func chainCtx(ctx context.Context, inst *Instance) context.Context {
	if inst.Depth > engine.ChainDepth(ctx) {
		return engine.WithChainDepth(ctx, inst.Depth)
	}
	return ctx
}

// setStatus sets the record status an end node names, then drops its recovery timer.
func (s *Service) setStatus(ctx context.Context, inst *Instance, status string) error {
	if s.k.Records == nil {
		return errors.New("no record service")
	}
	ctx = chainCtx(ctx, inst)
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
	ctx = chainCtx(ctx, inst)
	var cause error
	act, ok := s.k.Actions.Get(n.Action)
	if !ok {
		cause = fmt.Errorf("unknown action %q", n.Action)
	} else {
		ac := engine.ActionContext{Key: inst.ID + "/" + n.ID + "/" + strconv.Itoa(r.Visit), App: inst.App, Form: inst.Form,
			Record: inst.Record, Actor: engine.SystemPrincipal(), Params: n.Params}
		if _, err := act.Run(ctx, ac); err != nil {
			cause = fmt.Errorf("action %s: %w", n.Action, err)
		}
	}
	done := action{kind: evActionDone, actor: engine.SystemActor, node: r.Node, visit: r.Visit}
	if cause != nil {
		// The cause may quote record values: the timeline gets a neutral text and an id.
		done.errID = newErrorID()
		done.err = failureComment("flowrun.action_failed", done.errID)
		s.k.Log.Error("flow action failed", "error_id", done.errID, "instance", inst.ID, "node", n.ID, "err", engine.ExprDetail(cause))
	}
	latest, err := s.mutate(ctx, inst.ID, done)
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
// record, within the fields the node lets its assignees edit: the decision is stored first,
// with the edit on its timeline step, and then the record is written as the approver (see
// writeEdit), so of racing approvers only the one whose decision was stored writes. What the
// decision leads to in the same step (conditions, field assignees) sees the record as edited.
func (s *Service) Act(ctx context.Context, p *engine.Principal, taskID string, in ActInput) (*Instance, error) {
	inst, err := s.act(ctx, p, taskID, in)
	if err != nil {
		return nil, err
	}
	return s.present(ctx, p, inst)
}

// act is Act without presenting the instance to p.
func (s *Service) act(ctx context.Context, p *engine.Principal, taskID string, in ActInput) (*Instance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	id := instanceOfTask(taskID)
	if id == "" {
		return nil, fmt.Errorf("task %s: %w", taskID, engine.ErrNotFound)
	}
	in.Action = strings.ToLower(strings.TrimSpace(in.Action))
	if err := checkNote(in); err != nil {
		return nil, fmt.Errorf("act on task %s: %w", taskID, err)
	}
	if in.Signature != "" || len(in.Attachments) > 0 {
		// Files are bound before the action stores their ids, and only once it is known that p
		// may take it now: a refused action binds nothing. (mutate decides again on the state
		// it writes; losing that race leaves a binding of p's own files to a record whose
		// timeline p takes part in.)
		inst, err := s.load(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("act on task %s: %w", taskID, err)
		}
		if err := mayAct(inst, p, taskID, in.Action); err != nil {
			return nil, fmt.Errorf("act on task %s: %w", taskID, err)
		}
		if err := s.mayDecide(ctx, inst, taskID, in); err != nil {
			return nil, fmt.Errorf("act on task %s: %w", taskID, err)
		}
		if err := s.checkSignature(ctx, p, inst.App, in.Signature); err != nil {
			return nil, fmt.Errorf("act on task %s: %w", taskID, err)
		}
		if err := s.attachFiles(ctx, p, inst, in); err != nil {
			return nil, fmt.Errorf("act on task %s: %w", taskID, err)
		}
	}
	ev := action{kind: evAct, actor: p.Username, ip: p.IP, now: s.clock(), task: taskID, in: in}
	inst, err := s.mutate(ctx, id, ev)
	if err != nil {
		return nil, fmt.Errorf("act on task %s: %w", taskID, err)
	}
	return inst, nil
}

// mayAct tells whether p may take action on task taskID of inst as it stands: the task is
// p's, open and on a node the instance is at, and the action is one of its kind's — the checks
// apply makes first (machine.act), made before anything is written for the action.
func mayAct(inst *Instance, p *engine.Principal, taskID, action string) error {
	var t *Task
	for i := range inst.Tasks {
		if inst.Tasks[i].ID == taskID {
			t = &inst.Tasks[i]
		}
	}
	switch {
	case t == nil:
		return fmt.Errorf("task %s: %w", taskID, engine.ErrNotFound)
	case t.Assignee != p.Username:
		return fmt.Errorf("task %s belongs to %s: %w", t.ID, t.Assignee, engine.ErrForbidden)
	case !actionable(inst, t):
		return fmt.Errorf("task %s is %s in a %s instance: %w", t.ID, t.State, inst.State, errInvalidTransition)
	case !slices.Contains(allowedActions(t.Kind), action):
		return engine.Invalid("action", "not_allowed", map[string]any{"value": action})
	}
	return nil
}

// mayDecide makes, before files are bound, the checks of in against the task's node that apply
// makes after mayAct's (machine.act): an edit only with approve or submit and only of the
// node's editable fields, and a signature where the node asks for one — so a decision refused
// for want of a signature binds none of its attachments.
func (s *Service) mayDecide(ctx context.Context, inst *Instance, taskID string, in ActInput) error {
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return fmt.Errorf("instance %s: %w", inst.ID, err)
	}
	var t *Task
	for i := range inst.Tasks {
		if inst.Tasks[i].ID == taskID {
			t = &inst.Tasks[i]
		}
	}
	if t == nil {
		return fmt.Errorf("task %s: %w", taskID, engine.ErrNotFound)
	}
	n, ok := c.Node(t.Node)
	if !ok {
		return fmt.Errorf("task %s: node %s: %w", taskID, t.Node, engine.ErrNotFound)
	}
	if len(in.Data) > 0 && in.Action != ActApprove && in.Action != ActSubmit {
		return engine.Invalid("data", "not_allowed", map[string]any{"value": in.Action})
	}
	if err := checkEditable(n, in.Data); err != nil {
		return err
	}
	return needSignature(n, in)
}

// editor is the principal a task's record edit is written as: the approver, by name (the
// record's history shows them), with the rights the node's editable fields grant — which the
// form's own permissions may not give them; apply has checked the fields already.
func editor(actor, ip string) *engine.Principal {
	return &engine.Principal{Username: actor, DisplayName: actor, Roles: []string{engine.RoleAdmin}, Via: "system", IP: ip}
}

// writeEdit writes a stored decision's record edit. A failure (the data does not validate,
// the record is gone) cannot undo the decision: it is logged and put on the timeline.
func (s *Service) writeEdit(ctx context.Context, inst *Instance, e *recordEdit) error {
	if s.k.Records == nil {
		return errors.New("no record service")
	}
	p := editor(e.actor, e.ip)
	for range maxAttempts {
		ref, err := s.k.Records.GetRecord(ctx, p, inst.App, inst.Form, inst.Record)
		if err != nil {
			return err
		}
		_, err = s.k.Records.UpdateRecord(ctx, p, inst.App, inst.Form, inst.Record, ref.Rev, e.data)
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
	if err := checkNote(ActInput{Comment: comment}); err != nil {
		return nil, fmt.Errorf("withdraw: %w", err)
	}
	inst, err := s.mutate(ctx, instanceID, action{kind: evWithdraw, actor: p.Username, ip: p.IP, in: ActInput{Comment: comment}})
	if err != nil {
		return nil, fmt.Errorf("withdraw: %w", err)
	}
	return s.present(ctx, p, inst)
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
	return s.present(ctx, p, inst)
}

// InstancesOfRecord lists a record's instances, oldest first: all of them when p may read the
// record, else those p may see, each as p may see it (present). It walks the record's list by
// _id, one instance at a time.
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
	view, err := s.recordViewOf(ctx, p, app, form, record)
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
			shown, err := s.presentWith(ctx, p, inst, view)
			if err != nil {
				return nil, err
			}
			out = append(out, *shown)
		}
	}
	// Someone who may not read the record sees the instances they take part in; with none, the
	// answer is the record's own refusal (403, or 404), not an empty list that looks like "no
	// flow ran on this record".
	if len(out) == 0 && readErr != nil {
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
// added is false when it was listed already.
func (s *Service) addRecordInstance(ctx context.Context, inst *Instance) (added bool, err error) {
	key := recordKey(inst.App, inst.Form, inst.Record)
	for range maxAttempts * 2 {
		var doc recordInstances
		err := s.st.Get(ctx, recordInstancesCollection, key, &doc)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = s.st.Create(ctx, recordInstancesCollection, key, recordInstances{IDs: []string{inst.ID}})
		case err != nil:
			return false, err
		default:
			if slices.Contains(doc.IDs, inst.ID) {
				return false, nil
			}
			doc.IDs = append(doc.IDs, inst.ID)
			_, err = s.st.Update(ctx, recordInstancesCollection, key, doc.Rev, doc)
		}
		if engine.IsConflict(err) || errors.Is(err, store.ErrDuplicate) {
			continue
		}
		return err == nil, err
	}
	return false, fmt.Errorf("list instance on record %s: %w", key, engine.ErrConflict)
}

// auditf appends an audit entry for an action of p on target of kind (failures are logged).
func (s *Service) auditf(ctx context.Context, p *engine.Principal, action, kind, target string, after any) {
	e := engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: action, Kind: kind, Target: target, After: after}
	if _, err := s.k.Audit.Append(ctx, e); err != nil {
		s.k.Log.Error("audit append failed", "action", action, "target", target, "err", err)
	}
}
