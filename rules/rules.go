// Package rules is the rule engine: automation rules of a form ("when a lot comes within 30
// days of its expiry date, notify the warehouse") — a trigger, a condition and actions. Rules
// are versioned definitions (engine.Definitions, kind "rules.rule"); published versions run on
// the kernel's bus (record events, after the write is stored) and in a daily sweep for date
// triggers. Every evaluation is written to a run log. Actions are the kernel's automatic
// actions (engine.Actions): the form engine's record.* and this package's notify.inapp and
// webhook.call.
package rules

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"sync"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Collections of the rule engine.
const (
	rulesCollection         = "rules"         // drafts: _id app/key, revisioned
	versionsCollection      = "rule_versions" // published versions: _id app/key@n
	activeCollection        = "rule_active"   // _id app/key: the published rules, by form and trigger
	runsCollection          = "rule_runs"     // the run log
	firedCollection         = "rule_fired"    // unique claims: a date firing happens once per record and period
	notificationsCollection = "notifications" // in-app notifications, one per user and firing
	webhooksCollection      = "rule_webhooks" // webhook deliveries: pending, done or dead
)

// DefinitionKind is the registry id of rule definitions.
const DefinitionKind = "rules.rule"

// Job and subscriber names (they key stored state: keep them stable).
const (
	RecordsSubscriber = "rules.records"
	SweepJob          = "rules.sweep"
	WebhookJob        = "rules.webhooks"
	PruneJob          = "rules.prune"
)

// Options configure the engine; zero values take the defaults.
type Options struct {
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// SweepSpec is the scheduler spec of the daily date sweep, in the plant's time zone;
	// "0 0 2 * * *" (02:00) by default.
	SweepSpec string
	// WebhookSpec is the spec of the job that retries due webhook deliveries; "@every 30s".
	WebhookSpec string
	// MaxDepth caps rule chains: a record event that rule actions caused MaxDepth writes deep
	// is not acted on (the run log says so). Default 3.
	MaxDepth int
	// RunRetention is how long runs are kept in the run log (default 30 days).
	RunRetention time.Duration
	// NotificationRetention is how long notifications are kept, read or not (default 90 days).
	NotificationRetention time.Duration
	// WebhookRetention is how long done webhook deliveries and attempt records are kept
	// (default 30 days; dead letters stay until replayed).
	WebhookRetention time.Duration
	// WebhookTimeout bounds one webhook call (default 10 s).
	WebhookTimeout time.Duration
	// WebhookAttempts is how many times a webhook is tried before it is a dead letter
	// (default 5).
	WebhookAttempts int
	// WebhookBackoff is the wait before the first retry; each retry doubles it (default 30 s).
	WebhookBackoff time.Duration
	// WebhookWorkers is how many webhook calls are made at once (default 4). Calls are made
	// off the event bus: a slow receiver delays only webhooks.
	WebhookWorkers int
	// WebhookAllow are internal addresses webhooks may reach nonetheless: by default a webhook
	// to a loopback, private (RFC 1918, fc00::/7), link-local (169.254.169.254),
	// unspecified or multicast address is refused (ParseWebhookAllow reads the serve
	// command's --webhook-allow).
	WebhookAllow []netip.Prefix
	// ScheduleSpec is the spec of the job that fires schedule rules; "@every 1m".
	ScheduleSpec string
	// ScheduleCatchUp is how far back the schedule job looks for a rule's latest firing not
	// yet run (a node was down, a tick skipped); default 1 hour. Older firings are not run.
	ScheduleCatchUp time.Duration
	// MaxRecords caps the records one schedule firing (with match) runs on and the records
	// one update_records action updates (default 500); the run log says when it was reached.
	MaxRecords int
	// SMTP is the mail server of the email action; without Addr, rules with an email action
	// cannot be saved.
	SMTP SMTPOptions
}

// Service is the rule engine.
type Service struct {
	k        *engine.Kernel
	st       *store.Store
	now      func() time.Time
	opts     Options
	defs     *engine.Definitions
	cache    sync.Map     // version id → *Compiled
	hc       *http.Client // sends webhooks (newWebhookClient)
	dispatch webhookDispatcher
}

// defaultWindow is Trigger.Window for a date offset on or after the field's date.
const defaultWindow = 7

// New makes the rule engine on the kernel: it registers the definition kind, its actions
// (notify.inapp, webhook.call), the record subscriber and its jobs. Call it before the kernel
// starts, after forms.New (whose record actions rules use).
func New(k *engine.Kernel, opts Options) *Service {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SweepSpec == "" {
		opts.SweepSpec = "0 0 2 * * *"
	}
	if opts.WebhookSpec == "" {
		opts.WebhookSpec = "@every 30s"
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = 3
	}
	if opts.RunRetention <= 0 {
		opts.RunRetention = 30 * 24 * time.Hour
	}
	if opts.NotificationRetention <= 0 {
		opts.NotificationRetention = 90 * 24 * time.Hour
	}
	if opts.WebhookRetention <= 0 {
		opts.WebhookRetention = 30 * 24 * time.Hour
	}
	if opts.WebhookTimeout <= 0 {
		opts.WebhookTimeout = 10 * time.Second
	}
	if opts.WebhookAttempts <= 0 {
		opts.WebhookAttempts = 5
	}
	if opts.WebhookBackoff <= 0 {
		opts.WebhookBackoff = 30 * time.Second
	}
	if opts.WebhookWorkers <= 0 {
		opts.WebhookWorkers = 4
	}
	if opts.ScheduleSpec == "" {
		opts.ScheduleSpec = "@every 1m"
	}
	if opts.ScheduleCatchUp <= 0 {
		opts.ScheduleCatchUp = time.Hour
	}
	if opts.MaxRecords <= 0 {
		opts.MaxRecords = 500
	}
	if opts.SMTP.Timeout <= 0 {
		opts.SMTP.Timeout = 30 * time.Second
	}
	s := &Service{k: k, st: k.Store, now: opts.Now, opts: opts, hc: newWebhookClient(opts.WebhookTimeout, opts.WebhookAllow)}
	s.dispatch.ctx, s.dispatch.cancel = context.WithCancel(context.Background())
	s.defs = engine.NewDefinitions(k, DefinitionKind, rulesCollection, versionsCollection)
	s.defs.Now = opts.Now
	declareIndexes(k)
	err := k.Registry.RegisterKind(engine.DefinitionKind{
		ID:     DefinitionKind,
		Label:  engine.Text{ZH: "规则", EN: "Rule"},
		Schema: json.RawMessage(ruleMetaSchemaJSON),
		Validate: func(ctx context.Context, raw json.RawMessage) (any, error) {
			return engine.DecodeDefinition[Definition](RuleMetaSchema, raw)
		},
	})
	if err != nil {
		panic(fmt.Sprintf("rules: %v", err)) // a second Service on one kernel
	}
	s.registerNotify()
	s.registerWebhook()
	s.registerEmail()
	k.Bus.Subscribe(RecordsSubscriber, []string{"record."}, s.onRecordEvent)
	k.Bus.Subscribe(FlowsSubscriber, []string{engine.EventFlowFinished, eventNodeEntered, eventTaskOverdue}, s.onFlowEvent)
	for _, j := range []struct {
		name, spec string
		run        engine.JobFunc
	}{
		{SweepJob, opts.SweepSpec, func(ctx context.Context, tick time.Time) error {
			_, err := s.Sweep(ctx, tick)
			return err
		}},
		{WebhookJob, opts.WebhookSpec, func(ctx context.Context, _ time.Time) error {
			_, err := s.RetryWebhooks(ctx)
			return err
		}},
		{ScheduleJob, opts.ScheduleSpec, func(ctx context.Context, tick time.Time) error {
			_, err := s.RunSchedules(ctx, tick)
			return err
		}},
		{PruneJob, "0 40 3 * * *", func(ctx context.Context, tick time.Time) error {
			_, err := s.Prune(ctx, tick)
			return err
		}},
	} {
		if err := k.Scheduler.Add(j.name, j.spec, j.run); err != nil {
			panic(fmt.Sprintf("rules: %v", err)) // a malformed spec
		}
	}
	return s
}

// declareIndexes declares the query indexes of the engine's collections: what each list,
// count or sweep filters and sorts by.
func declareIndexes(k *engine.Kernel) {
	// activeRules: the published rules of a form; dateRules: every date rule.
	k.DeclareIndexes(activeCollection,
		store.IndexSpec{Keys: []store.IndexKey{{Path: "app"}, {Path: "form"}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "on"}}})
	// Runs: a rule's runs newest first; PruneRuns: runs older than a time.
	k.DeclareIndexes(runsCollection,
		store.IndexSpec{Keys: []store.IndexKey{{Path: "app"}, {Path: "rule"}, {Path: "at", Desc: true}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "at"}}})
	// Notifications: a user's newest first; the unread count; Prune: old ones.
	k.DeclareIndexes(notificationsCollection,
		store.IndexSpec{Keys: []store.IndexKey{{Path: "user"}, {Path: "at", Desc: true}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "user"}, {Path: "read"}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "at"}}})
	// RetryWebhooks: pending deliveries by due time; DeadWebhooks: the dead letters; Prune:
	// old done ones.
	k.DeclareIndexes(webhooksCollection,
		store.IndexSpec{Keys: []store.IndexKey{{Path: "state"}, {Path: "next_at"}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "state"}, {Path: "updated_at"}}})
	// Prune: old attempt claims; date claims whose window has closed.
	k.DeclareIndexes(webhookClaims, store.IndexSpec{Keys: []store.IndexKey{{Path: "at"}}})
	// Prune: claims whose time is over; firingClaims: the record claims of a schedule firing.
	k.DeclareIndexes(firedCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "until"}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "firing"}}})
}
