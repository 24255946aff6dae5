package printing

import (
	"context"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/enginetest"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
	"tracecraft/forms"
)

// The code tests run on a real kernel over a fresh embedded store with the form engine
// providing lots: an app "fs" with products (GTIN, name, public) and lots (lot number,
// production and expiry dates, a relation to the product, a status that can be "recalled").

const codesApp = "fs"

const codesProductForm = `{
  "key": "product",
  "name": {"zh-CN": "产品", "en": "Product"},
  "schema": {"type": "object", "properties": {
    "name":  {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "品名", "en": "Name"}},
    "gtin":  {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "商品条码", "en": "GTIN"}},
    "cost":  {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}}
  }},
  "permissions": {"qa": {"actions": ["read"]}, "line": {"actions": ["read"]}}
}`

const codesLotForm = `{
  "key": "lot",
  "name": {"zh-CN": "生产批", "en": "Production lot"},
  "schema": {"type": "object", "properties": {
    "lot_no":      {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "批号", "en": "Lot"}},
    "product":     {"x-type": "relation", "x-options": {"form": "product"}, "x-label": {"zh-CN": "产品", "en": "Product"}},
    "made_on":     {"x-type": "date", "x-public": true, "x-label": {"zh-CN": "生产日期", "en": "Production date"}},
    "expiry_date": {"x-type": "date", "x-public": true, "x-label": {"zh-CN": "到期日", "en": "Expiry"}},
    "inspection":  {"x-type": "text", "x-public": true, "x-label": {"zh-CN": "出厂检验", "en": "Inspection"}},
    "supplier_price": {"x-type": "number", "x-label": {"zh-CN": "进价", "en": "Price"}}
  }},
  "status": {
    "initial": "open",
    "states": [
      {"key": "open", "label": {"zh-CN": "生产中", "en": "In production"}},
      {"key": "released", "label": {"zh-CN": "已放行", "en": "Released"}},
      {"key": "recalled", "label": {"zh-CN": "已召回", "en": "Recalled"}}
    ],
    "transitions": [{"key": "release", "label": {"zh-CN": "放行"}, "from": ["open"], "to": "released"}]
  },
  "permissions": {"qa": {"actions": ["read", "update"]}, "line": {"actions": ["read"]}}
}`

type codesEnv struct {
	ctx   context.Context
	st    *store.Store
	k     *engine.Kernel
	fs    *forms.Service
	codes *Codes
	clock *codesClock
}

type codesClock struct{ t time.Time }

func (c *codesClock) Now() time.Time { return c.t }

func newCodesEnv(t testing.TB) *codesEnv {
	t.Helper()
	st := storetest.OpenEmbedded(t, storetest.TempDir(t))
	return newCodesEnvOn(t, st, true)
}

// newCodesEnvOn makes the engines on st; seed creates the app, forms and users.
func newCodesEnvOn(t testing.TB, st *store.Store, seed bool) *codesEnv {
	return newCodesEnvKeyed(t, st, seed, nil)
}

// newCodesEnvKeyed is newCodesEnvOn with a kernel keyed by auditKey (nil: none).
func newCodesEnvKeyed(t testing.TB, st *store.Store, seed bool, auditKey []byte) *codesEnv {
	t.Helper()
	ctx := context.Background()
	clock := &codesClock{t: time.Date(2026, 3, 2, 2, 0, 0, 0, time.UTC)}
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet, AuditKey: auditKey,
		Auth: engine.AuthOptions{Argon2: engine.Argon2Params{Memory: 64, Time: 1, Threads: 1}}})
	fs := forms.New(k, forms.Options{})
	codes := NewCodes(k, CodesOptions{Base: "https://t.example.cn", Now: clock.Now})
	enginetest.Start(t, k)
	e := &codesEnv{ctx: ctx, st: st, k: k, fs: fs, codes: codes, clock: clock}
	if seed {
		e.seed(t)
	}
	return e
}

func (e *codesEnv) seed(t testing.TB) {
	t.Helper()
	sys := engine.SystemPrincipal()
	for _, r := range []string{"qa", "line"} {
		if _, err := e.k.Auth.PutRole(e.ctx, sys, engine.Role{Name: r, Label: engine.Text{ZH: r},
			Grants: []engine.Grant{{App: codesApp, Actions: []string{engine.PermAppRead}}}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []engine.UserInput{{Username: "zhao", Roles: []string{"qa"}}, {Username: "wang", Roles: []string{"line"}}} {
		u.Password = "password123"
		if _, err := e.k.Auth.CreateUser(e.ctx, sys, u); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.fs.CreateApp(e.ctx, sys, forms.AppInput{Key: codesApp, Name: engine.Text{ZH: "食品厂"}}); err != nil {
		t.Fatal(err)
	}
	for _, def := range []string{codesProductForm, codesLotForm} {
		f, err := e.fs.SaveDraft(e.ctx, sys, codesApp, []byte(def), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.Publish(e.ctx, sys, codesApp, f.Key); err != nil {
			t.Fatal(err)
		}
	}
}

func (e *codesEnv) user(name string) *engine.Principal {
	u, err := e.k.Auth.GetUser(e.ctx, name)
	if err != nil {
		panic(err)
	}
	return &engine.Principal{Username: u.Username, Roles: u.Roles}
}

// lot creates a product and a lot of it as the system and gives the lot's id.
func (e *codesEnv) lot(t testing.TB, lotNo string) string {
	t.Helper()
	sys := engine.SystemPrincipal()
	p, err := e.fs.Create(e.ctx, sys, codesApp, "product", forms.Values{"name": "冷鲜鸡腿 <b>500g</b>", "gtin": "6901234567892", "cost": 3.5})
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.fs.Create(e.ctx, sys, codesApp, "lot", forms.Values{"lot_no": lotNo, "product": p.ID, "made_on": "2026-03-01",
		"expiry_date": "2026-04-05", "inspection": "合格", "supplier_price": 9.9})
	if err != nil {
		t.Fatal(err)
	}
	return r.ID
}
