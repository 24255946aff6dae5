package rules

import (
	"context"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

// These tests run the rule engine on a real kernel over a fresh embedded store, with the form
// engine providing records: an app "fs" (a food plant) with lots that expire, purchase
// requests and non-conformance reports, users of the warehouse and QA, rules saved and
// published through the Service like the editor does.

const testApp = "fs"

const lotForm = `{
  "key": "lot",
  "name": {"zh-CN": "批次", "en": "Lot"},
  "schema": {
    "type": "object",
    "properties": {
      "lot":         {"x-type": "text", "x-label": {"zh-CN": "批号", "en": "Lot"}},
      "material":    {"x-type": "text", "x-label": {"zh-CN": "物料", "en": "Material"}},
      "qty":         {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Quantity"}},
      "qc":          {"x-type": "text", "x-label": {"zh-CN": "检验结果", "en": "QC"}},
      "expiry_date": {"x-type": "date", "x-filterable": true, "x-label": {"zh-CN": "到期日", "en": "Expiry"}},
      "made_on":     {"x-type": "date", "x-label": {"zh-CN": "生产日期", "en": "Made on"}}
    }
  },
  "status": {
    "initial": "ok",
    "states": [
      {"key": "ok", "label": {"zh-CN": "合格"}},
      {"key": "held", "label": {"zh-CN": "冻结"}},
      {"key": "expired", "label": {"zh-CN": "过期"}}
    ],
    "transitions": [
      {"key": "release", "label": {"zh-CN": "放行"}, "from": ["held"], "to": "ok"}
    ]
  },
  "permissions": {"warehouse": {"actions": ["create", "read", "update"]}}
}`

const ncrForm = `{
  "key": "ncr",
  "name": {"zh-CN": "不合格品报告", "en": "Non-conformance"},
  "schema": {
    "type": "object",
    "properties": {
      "lot":    {"x-type": "text", "x-filterable": true, "x-label": {"zh-CN": "批号", "en": "Lot"}},
      "reason": {"x-type": "text", "x-label": {"zh-CN": "原因", "en": "Reason"}}
    }
  },
  "permissions": {"qa": {"actions": ["create", "read", "update"]}}
}`

// testClock is the controllable clock of the engines under test.
type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *testClock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start is 2026-03-02 10:00 in Shanghai.
var start = time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)

type testEnv struct {
	ctx   context.Context
	st    *store.Store
	k     *engine.Kernel
	fs    *forms.Service
	rs    *Service
	clock *testClock
}

func newTestEnv(t testing.TB, opts Options) *testEnv {
	t.Helper()
	st := storetest.OpenEmbedded(t, storetest.TempDir(t))
	clock := &testClock{t: start}
	e := newTestPlatform(t, st, clock, opts, true)
	e.seed(t)
	return e
}

// newTestPlatform makes a kernel with the form and rule engines on st, started when start is
// set (a second node in a test is made on the same store and not started: its bus would
// deliver the first node's events again).
func newTestPlatform(t testing.TB, st *store.Store, clock *testClock, opts Options, start bool) *testEnv {
	t.Helper()
	ctx := context.Background()
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet,
		Auth:  engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 64, Time: 1, Threads: 1}},
		Bus:   engine.BusOptions{MinBackoff: 20 * time.Millisecond, MaxAttempts: 3},
		Exprs: []engine.ExprOption{engine.WithClock(clock.Now)}})
	fs := forms.New(k, forms.Options{Now: clock.Now})
	opts.Now = clock.Now
	// The jobs are run by hand (Sweep, RetryWebhooks): their schedules never come round.
	opts.SweepSpec, opts.WebhookSpec = "@yearly", "@yearly"
	rs := New(k, opts)
	if start {
		enginetest.Start(t, k)
		enginetest.DrainAtEnd(t, k, rs.Close)
	}
	return &testEnv{ctx: ctx, st: st, k: k, fs: fs, rs: rs, clock: clock}
}

func (e *testEnv) seed(t testing.TB) {
	t.Helper()
	sys := engine.SystemPrincipal()
	for _, r := range []string{"warehouse", "qa"} {
		if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: r, Label: engine.Text{ZH: r},
			Grants: []engine.Grant{{App: testApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []engine.UserInput{
		{Username: "root", Roles: []string{engine.RoleAdmin}},
		{Username: "wang", Roles: []string{"warehouse"}},
		{Username: "li", Roles: []string{"warehouse"}},
		{Username: "zhao", Roles: []string{"qa"}},
	} {
		u.Password = "password123"
		if _, err := e.k.Auth.CreateUser(e.ctx, sys, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.fs.CreateApp(e.ctx, sys, forms.AppInput{Key: testApp, Name: engine.Text{ZH: "食品厂"}}); err != nil {
		t.Fatal(err)
	}
	for key, def := range map[string]string{"lot": lotForm, "ncr": ncrForm} {
		if _, err := e.fs.SaveDraft(e.ctx, sys, testApp, []byte(def), 0); err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.Publish(e.ctx, sys, testApp, key); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *testEnv) user(name string) *engine.Principal {
	u, err := e.k.Auth.GetUser(e.ctx, name)
	if err != nil {
		panic(err)
	}
	return &engine.Principal{Username: u.Username, Roles: u.Roles, Department: u.Department}
}

// rule saves and publishes a rule definition.
func (e *testEnv) rule(t testing.TB, def string) *RuleVersion {
	t.Helper()
	sys := engine.SystemPrincipal()
	r, err := e.rs.SaveDraft(e.ctx, sys, testApp, []byte(def), 0)
	if err != nil {
		t.Fatal(err)
	}
	v, err := e.rs.Publish(e.ctx, sys, testApp, r.Key)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// lot creates a lot as the system.
func (e *testEnv) lot(t testing.TB, values forms.Values) *forms.Record {
	t.Helper()
	r, err := e.fs.Create(e.ctx, engine.SystemPrincipal(), testApp, "lot", values)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// drain waits until every event (and those the rules' writes published) is delivered, and
// the first attempts of the webhooks they queued are made.
func (e *testEnv) drain(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithTimeout(e.ctx, 30*time.Second)
	defer cancel()
	if err := e.k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	if err := e.rs.DrainWebhooks(ctx); err != nil {
		t.Fatal(err)
	}
}

// day is today in Shanghai plus n days, as a date field holds it.
func (e *testEnv) day(n int) string {
	loc := e.k.Location()
	return e.clock.Now().In(loc).AddDate(0, 0, n).Format(dateLayout)
}

func (e *testEnv) notifications(t testing.TB, user string) *NotificationList {
	t.Helper()
	l, err := e.rs.Notifications(e.ctx, e.user(user), 200, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (e *testEnv) runs(t testing.TB, rule string) []Run {
	t.Helper()
	l, err := e.rs.Runs(e.ctx, engine.SystemPrincipal(), testApp, rule, 200, "")
	if err != nil {
		t.Fatal(err)
	}
	return l.Items
}
