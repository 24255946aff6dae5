package printing

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// Review 4 of item codes (issue 11): each test failed before its fix.

const review4Vault = `{
  "key": "vault", "name": {"zh-CN": "保密"},
  "schema": {"type": "object", "properties": {
    "pin": {"x-type": "text", "x-label": {"zh-CN": "密码"}}
  }},
  "permissions": {"line": {"actions": ["read"]}}
}`

const review4Lot = `{
  "key": "lotx", "name": {"zh-CN": "批"},
  "schema": {"type": "object", "properties": {
    "lot_no":   {"x-type": "text", "x-label": {"zh-CN": "批号"}},
    "internal": {"x-type": "text", "x-label": {"zh-CN": "内部批号"}},
    "gtin":     {"x-type": "text", "x-label": {"zh-CN": "商品条码"}},
    "vault":    {"x-type": "relation", "x-options": {"form": "vault"}, "x-label": {"zh-CN": "保密"}}
  }},
  "permissions": {"qa": {"actions": ["read", "update"], "hidden": ["internal"]}}
}`

// TestCodesReview4_1: an issuer reads the lot and the record a relation points to as they may
// — a field they may not see (hidden on the lot, or on a record they may not read) is refused
// naming the input, and no error carries its value (it would be printed in the QR and shown on
// the public page).
func TestCodesReview4_1(t *testing.T) {
	e := newCodesEnv(t)
	sys := engine.SystemPrincipal()
	for _, def := range []string{review4Vault, review4Lot} {
		f, err := e.fs.SaveDraft(e.ctx, sys, codesApp, []byte(def), 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.fs.Publish(e.ctx, sys, codesApp, f.Key); err != nil {
			t.Fatal(err)
		}
	}
	v, err := e.fs.Create(e.ctx, sys, codesApp, "vault", forms.Values{"pin": "TOPSECRET-4711"})
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.fs.Create(e.ctx, sys, codesApp, "lotx", forms.Values{"lot_no": "L1", "internal": "HIDDEN-LOT-99", "gtin": "6901234567892", "vault": v.ID})
	if err != nil {
		t.Fatal(err)
	}
	qa := e.user("zhao")
	for _, c := range []struct {
		in    IssueInput
		field string
	}{
		{IssueInput{Count: 1, LotField: "vault.pin"}, "lotField"},
		{IssueInput{Count: 1, GTINField: "vault.pin"}, "gtinField"},
		{IssueInput{Count: 1, LotField: "internal"}, "lotField"},
		{IssueInput{Count: 1, GTINField: "internal"}, "gtinField"},
		{IssueInput{Count: 1, ExpiryField: "vault.pin"}, "expiryField"},
	} {
		is, err := e.codes.Issue(e.ctx, qa, codesApp, "lotx", l.ID, c.in)
		var fe engine.FieldErrors
		if !errors.As(err, &fe) || len(fe) != 1 || fe[0].Path != c.field || fe[0].Code != "code_field_hidden" {
			t.Fatalf("%+v: issued %+v, %v; want code_field_hidden on %s", c.in, is, err, c.field)
		}
		for _, lang := range []string{engine.LangZH, engine.LangEN} {
			msg := err.Error() + engine.Message(lang, fe[0].Code, fe[0].Params)
			if strings.Contains(msg, "TOPSECRET") || strings.Contains(msg, "HIDDEN-LOT") || strings.Contains(msg, "'T'") || strings.Contains(msg, "'H'") {
				t.Fatalf("the error shows a value the issuer may not read: %s", msg)
			}
		}
	}
	// What the issuer may read still works; the system (an action) reads everything.
	if is, err := e.codes.Issue(e.ctx, qa, codesApp, "lotx", l.ID, IssueInput{Count: 1}); err != nil || is.Lot != "L1" {
		t.Fatalf("issue with readable fields: %+v, %v", is, err)
	}
	if is, err := e.codes.Issue(e.ctx, sys, codesApp, "lotx", l.ID, IssueInput{Count: 1, LotField: "internal"}); err != nil || is.Lot != "HIDDEN-LOT-99" {
		t.Fatalf("the system issuing: %+v, %v", is, err)
	}
}

// countingRecords passes every call to the form engine and counts the reads a scan page's
// lot facts take.
type countingRecords struct {
	engine.Records
	mu sync.Mutex
	n  int
}

func (r *countingRecords) add() {
	r.mu.Lock()
	r.n++
	r.mu.Unlock()
}

func (r *countingRecords) reads() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.n
}

func (r *countingRecords) RecordValues(ctx context.Context, p *engine.Principal, app, form, id, lang string) (*engine.RecordValues, error) {
	r.add()
	return r.Records.RecordValues(ctx, p, app, form, id, lang)
}

func (r *countingRecords) StatusHistory(ctx context.Context, app, form, id string, limit int) ([]engine.StatusChange, error) {
	r.add()
	return r.Records.StatusHistory(ctx, app, form, id, limit)
}

// TestCodesReview4_4: a code scanned for the first time reads its lot's facts only when the
// lot's are not cached — 200 distinct codes of one lot read them once per language, not once
// per code; a full cache makes room by one entry, it is not emptied.
func TestCodesReview4_4(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L4")
	is, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 200, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	page, err := e.codes.Serials(e.ctx, e.user("wang"), codesApp, "lot", lot, is.ID, "", 200)
	if err != nil || len(page.Items) != 200 {
		t.Fatalf("Serials: %v", err)
	}
	cr := &countingRecords{Records: e.k.Records}
	e.k.Records = cr
	for i, it := range page.Items {
		lang := engine.LangZH
		if i%2 == 1 {
			lang = engine.LangEN
		}
		pg, err := e.codes.Scan(e.ctx, it.Serial, Visit{Lang: lang})
		if err != nil || pg.Scans != 1 || len(pg.Facts) == 0 {
			t.Fatalf("scan %d: %+v, %v", i, pg, err)
		}
	}
	// Per language: the lot, its product, its history.
	if n := cr.reads(); n != 2*3 {
		t.Fatalf("200 distinct codes of one lot read its facts %d times; want %d (once per language)", n, 2*3)
	}
	var b boundedCache
	now := e.clock.t
	for i := range factsCacheMax + 1 {
		b.put(fmt.Sprint(i), i, now, e.codes.opts.CacheTTL)
	}
	if n := b.len(); n != factsCacheMax {
		t.Fatalf("a full cache holds %d entries after one more; want %d", n, factsCacheMax)
	}
	if v, ok := b.get(fmt.Sprint(factsCacheMax), now); !ok || v != factsCacheMax {
		t.Fatalf("the entry put last is not kept")
	}
}

// TestCodesReview4_5: a kernel whose audit key is not the one the codes were issued under
// refuses to issue and answers scans with ErrCodeKeyChanged (a 503 page) — never "not
// genuine" for a real printed code; the old key restored, all is well.
func TestCodesReview4_5(t *testing.T) {
	dir := t.TempDir()
	keyA, keyB := []byte(strings.Repeat("a", 32)), []byte(strings.Repeat("b", 32))
	open := func(key []byte, seed bool) (*codesEnv, func()) {
		st, err := store.Open(context.Background(), store.Options{DataDir: dir})
		if err != nil {
			t.Fatal(err)
		}
		e := newCodesEnvKeyed(t, st, seed, key)
		return e, func() {
			_ = e.k.Scheduler.Stop(context.Background())
			_ = e.k.Bus.Close(context.Background())
			_ = st.Close(context.Background())
		}
	}
	e, closeA := open(keyA, true)
	lot := e.lot(t, "L5")
	is, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 3, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	closeA()

	e, closeB := open(keyB, false)
	if _, err := e.codes.Scan(e.ctx, is.First, Visit{}); !errors.Is(err, ErrCodeKeyChanged) || errors.Is(err, ErrNotGenuine) {
		t.Fatalf("a printed code under another audit key: %v; want ErrCodeKeyChanged", err)
	}
	var be *engine.BusyError
	if !errors.As(ErrCodeKeyChanged, &be) {
		t.Fatal("ErrCodeKeyChanged is not a 503")
	}
	if _, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 1, GTINField: "product.gtin"}); !errors.Is(err, ErrCodeKeyChanged) {
		t.Fatalf("issuing under another audit key: %v; want ErrCodeKeyChanged", err)
	}
	closeB()

	e, closeA = open(keyA, false)
	defer closeA()
	if pg, err := e.codes.Scan(e.ctx, is.First, Visit{}); err != nil || pg.Serial != is.First {
		t.Fatalf("the key restored: %+v, %v", pg, err)
	}
}

// TestCodesReview4_6: an issuance and a void are synced to disk before they are answered
// (under synchronous=NORMAL a commit reaches the disk only at a checkpoint): a sync happens
// after each is stored.
func TestCodesReview4_6(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L6")
	var mu sync.Mutex
	var issuances, voids []int64 // stored at each sync
	e.st.SetSyncHook(func(string) error {
		is, err1 := e.st.QueryCount(e.ctx, issuancesCollection, store.Eq("rec", recKey(codesApp, "lot", lot)), 0)
		vs, err2 := e.st.QueryCount(e.ctx, voidsCollection, store.Gte("seq", 0), 0)
		if err := errors.Join(err1, err2); err != nil {
			t.Error(err)
		}
		mu.Lock()
		issuances, voids = append(issuances, is.N), append(voids, vs.N)
		mu.Unlock()
		return nil
	})
	t.Cleanup(func() { e.st.SetSyncHook(nil) })
	is, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 3, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(issuances) == 0 || issuances[len(issuances)-1] != 1 {
		t.Fatalf("issuances stored at each sync: %v; want a sync after the issuance is stored", issuances)
	}
	mu.Unlock()
	if _, err := e.codes.Void(e.ctx, e.user("zhao"), codesApp, is.First, ActInput{Reason: "recall"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if voids[len(voids)-1] != 1 {
		t.Fatalf("voids stored at each sync: %v; want a sync after the void is stored", voids)
	}
}

// TestCodesReview4_7: at most MaxComplaintsPerCodeDay complaints about one code in a day
// (then complaint_limit, 429), a day later again; a designer deletes one, audited.
func TestCodesReview4_7(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L7")
	is, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 2, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	var first *Complaint
	for i := range MaxComplaintsPerCodeDay {
		c, err := e.codes.Complain(e.ctx, is.First, ComplaintInput{Text: fmt.Sprint("漏气 ", i)}, Visit{IP: "1.2.3.4"})
		if err != nil {
			t.Fatal(err)
		}
		if first == nil {
			first = c
		}
	}
	_, err = e.codes.Complain(e.ctx, is.First, ComplaintInput{Text: "再一次"}, Visit{IP: "5.6.7.8"})
	var te *engine.ThrottledError
	if !errors.Is(err, ErrComplaintLimit) || !errors.As(err, &te) {
		t.Fatalf("complaint %d about one code in a day: %v; want complaint_limit", MaxComplaintsPerCodeDay+1, err)
	}
	e.clock.t = e.clock.t.Add(25 * 60 * 60 * 1e9)
	if _, err := e.codes.Complain(e.ctx, is.First, ComplaintInput{Text: "第二天"}, Visit{}); err != nil {
		t.Fatalf("a day later: %v", err)
	}
	if err := e.codes.DeleteComplaint(e.ctx, e.user("zhao"), codesApp, first.ID); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("a non-designer deleted a complaint: %v", err)
	}
	if err := e.codes.DeleteComplaint(e.ctx, engine.SystemPrincipal(), codesApp, first.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.codes.DeleteComplaint(e.ctx, engine.SystemPrincipal(), codesApp, first.ID); !errors.Is(err, engine.ErrNotFound) {
		t.Fatalf("deleting twice: %v", err)
	}
	list, err := e.codes.Complaints(e.ctx, engine.SystemPrincipal(), codesApp, 0)
	if err != nil || len(list) != MaxComplaintsPerCodeDay {
		t.Fatalf("complaints after the delete: %d, %v", len(list), err)
	}
}

// TestCodesReview4_8: scan log entries that fail to be written for another reason than a
// duplicate wait for the next flush instead of being dropped.
func TestCodesReview4_8(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L8")
	is, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 1, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = e.codes.Close(context.Background()) })
	if _, err := e.codes.Scan(e.ctx, is.First, Visit{IP: "1.2.3.4", UserAgent: "phone"}); err != nil {
		t.Fatal(err)
	}
	gone, cancel := context.WithCancel(e.ctx)
	cancel()
	if err := e.codes.flushScans(gone); err == nil {
		t.Fatal("a flush on a cancelled context wrote")
	}
	if err := e.codes.flushScans(e.ctx); err != nil {
		t.Fatal(err)
	}
	var d scanLogDoc
	if err := e.st.Get(e.ctx, scanLogCollection, is.First+"/1", &d); err != nil || d.UA != "phone" {
		t.Fatalf("the scan log entry after a failed flush: %+v, %v", d, err)
	}
}
