package printing

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// What a consumer sees who scans an item code (the public scan page, api/scan.go): the label
// facts of the lot record and of the records its relations point to (one level) — only fields
// marked "x-public": true — the lot's status history, a recall banner, and how often this code
// was looked up. A lot's facts are kept in memory for CacheTTL per lot record and language,
// and an issuance's voided codes per issuance, so a code scanned for the first time costs the
// look-up of its issuance and its counter, not the lot's reads; the counter goes up on every
// genuine scan.

// Visit is who scans: the client's address (kept only as a keyed hash) and user agent.
type Visit struct {
	IP        string
	UserAgent string
	Lang      string
	// Want, when set, are the facts the scanned link states (a GS1 Digital Link's GTIN, and
	// its lot and expiry when it has them): a code whose own differ is not genuine
	// (ErrNotGenuine) and its counter is not touched.
	Want *LinkFacts
}

// LinkFacts are what a Digital Link states of its item besides the serial; Lot and Expiry
// ("YYYY-MM-DD") are "" when the link does not state them.
type LinkFacts struct {
	GTIN, Lot, Expiry string
}

func (w *LinkFacts) matches(pg *ScanPage) bool {
	return w.GTIN == pg.GTIN && (w.Lot == "" || w.Lot == pg.Lot) && (w.Expiry == "" || w.Expiry == pg.Expiry)
}

// Fact is one public field as the page shows it.
type Fact struct {
	Key   string `json:"key"`
	Label string `json:"label"`
	Value string `json:"value"`
}

// FactGroup is the public fields of a record a relation of the lot points to ("产品").
type FactGroup struct {
	Title string `json:"title"`
	Facts []Fact `json:"facts"`
}

// TimelineStep is one step of the lot's public history.
type TimelineStep struct {
	At      time.Time `json:"at"`
	Created bool      `json:"created,omitempty"`
	Status  string    `json:"status,omitempty"`
	Label   string    `json:"label"`
}

// ScanPage is what a scanned code's page shows.
type ScanPage struct {
	Serial string `json:"serial"`
	GTIN   string `json:"gtin"`
	Lot    string `json:"lot"`
	Expiry string `json:"expiry,omitempty"`
	URL    string `json:"url"`
	// Product holds the public fields of the records the lot's relations point to.
	Product []FactGroup `json:"product"`
	// Facts are the lot record's public fields.
	Facts    []Fact         `json:"facts"`
	Timeline []TimelineStep `json:"timeline"`
	// Recalled: the lot's status is "recalled", or the code (or its range) was voided with
	// the reason "recall".
	Recalled bool `json:"recalled"`
	// Void: the code (or its range) was voided for another reason.
	Void bool `json:"void,omitempty"`
	// Scans is how many times the code was looked up, this time included; FirstScan when the
	// first was.
	Scans     int64     `json:"scans"`
	FirstScan time.Time `json:"firstScan"`
}

// scanCount is a code's counter.
type scanCount struct {
	ID       string    `bson:"_id"`
	Issuance string    `bson:"issuance"`
	N        int64     `bson:"n"`
	First    time.Time `bson:"first"`
	Last     time.Time `bson:"last"`
}

// Scan answers a scan of serial: the page's facts and the code's counter, incremented; every
// genuine scan is counted, the first scanLogPerCode of each code are kept with their time,
// hashed client address and user agent. ErrNotGenuine for a code that is not ours, or whose
// link (v.Want) states another product, lot or expiry — not counted.
func (c *Codes) Scan(ctx context.Context, serial string, v Visit) (*ScanPage, error) {
	lang := v.Lang
	if lang != engine.LangEN {
		lang = engine.LangZH
	}
	page, issuance, err := c.facts(ctx, serial, lang)
	if err != nil {
		return nil, err
	}
	if v.Want != nil && !v.Want.matches(page) {
		return nil, ErrNotGenuine
	}
	n, first, err := c.count(ctx, page.Serial, issuance)
	if err != nil {
		return nil, err
	}
	out := *page
	out.Scans, out.FirstScan = n, first
	if n <= scanLogPerCode {
		c.logScan(ctx, page.Serial, n, v)
	}
	return &out, nil
}

// ScanFacts is Scan without counting (the signed-in preview of a code's page).
func (c *Codes) ScanFacts(ctx context.Context, serial, lang string) (*ScanPage, error) {
	page, _, err := c.facts(ctx, serial, lang)
	return page, err
}

// facts gives the page of serial without its counter: its issuance looked up (one index
// seek), its void state and its lot's facts from the cache when fresh.
func (c *Codes) facts(ctx context.Context, serial, lang string) (*ScanPage, string, error) {
	r, err := c.resolve(ctx, serial)
	if err != nil {
		return nil, "", err
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, "", err
	}
	ic, err := c.code(codec, &r.doc, r.seq)
	if err != nil {
		return nil, "", err
	}
	page := &ScanPage{Serial: ic.Serial, GTIN: ic.GTIN, Lot: ic.Lot, Expiry: ic.Expiry, URL: ic.URL}
	reason, void := "", r.doc.Void != nil
	if void {
		reason = r.doc.Void.Reason
	} else {
		voided, err := c.cachedVoids(ctx, r.doc.ID)
		if err != nil {
			return nil, "", err
		}
		reason, void = voided[r.seq]
	}
	if void {
		if strings.EqualFold(strings.TrimSpace(reason), ReasonRecall) {
			page.Recalled = true
		} else {
			page.Void = true
		}
	}
	lf, err := c.cachedLot(ctx, r.doc.App, r.doc.Form, r.doc.Record, lang)
	if err != nil {
		return nil, "", err
	}
	page.Product, page.Facts, page.Timeline = lf.Product, lf.Facts, lf.Timeline
	page.Recalled = page.Recalled || lf.Recalled
	return page, r.doc.ID, nil
}

// cachedVoids are the voided codes of issuance (sequence number → reason), from the cache
// when fresh. A void on this node drops the issuance's entry at once; one on another node
// shows within CacheTTL.
func (c *Codes) cachedVoids(ctx context.Context, issuance string) (map[int64]string, error) {
	now := c.now()
	if v, ok := c.cache.voids.get(issuance, now); ok {
		return v.(map[int64]string), nil
	}
	docs, err := c.voidedSeqs(ctx, issuance)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(docs))
	for seq, d := range docs {
		out[seq] = d.Reason
	}
	c.cache.voids.put(issuance, out, now, c.cache.ttl)
	return out, nil
}

// lotPage is what a scan page shows of its lot record, the same for each of its codes.
type lotPage struct {
	Product  []FactGroup
	Facts    []Fact
	Timeline []TimelineStep
	Recalled bool
}

// cachedLot is the lot record's page facts in lang, from the cache when fresh.
func (c *Codes) cachedLot(ctx context.Context, app, form, id, lang string) (*lotPage, error) {
	key := recKey(app, form, id) + "|" + lang
	now := c.now()
	if v, ok := c.cache.lots.get(key, now); ok {
		return v.(*lotPage), nil
	}
	page := &ScanPage{Product: []FactGroup{}, Facts: []Fact{}, Timeline: []TimelineStep{}}
	if err := c.recordFacts(ctx, app, form, id, lang, page); err != nil {
		return nil, err
	}
	lp := &lotPage{Product: page.Product, Facts: page.Facts, Timeline: page.Timeline, Recalled: page.Recalled}
	c.cache.lots.put(key, lp, now, c.cache.ttl)
	return lp, nil
}

// recordFacts fills the page with the lot record's public fields, those of the records its
// relations point to, its status history and the recall state. A lot record deleted since
// leaves the code's own facts.
func (c *Codes) recordFacts(ctx context.Context, app, form, id, lang string, page *ScanPage) error {
	recs := c.k.Records
	sys := engine.SystemPrincipal()
	vals, err := recs.RecordValues(ctx, sys, app, form, id, lang)
	if errors.Is(err, engine.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("scan page of %s: %w", id, err)
	}
	if vals.Status == RecalledStatus {
		page.Recalled = true
	}
	refs, err := recs.FieldKeys(ctx, app, form)
	if err != nil {
		return err
	}
	page.Facts = publicFacts(refs, vals.Values, lang)
	specs, err := recs.FormFields(ctx, app, form, 0)
	if err != nil {
		return err
	}
	for _, f := range specs {
		ids := vals.Related[f.Key]
		if f.Target == "" || len(ids) == 0 {
			continue
		}
		other, err := recs.RecordValues(ctx, sys, app, f.Target, ids[0], lang)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		orefs, err := recs.FieldKeys(ctx, app, f.Target)
		if err != nil {
			return err
		}
		if facts := publicFacts(orefs, other.Values, lang); len(facts) > 0 {
			page.Product = append(page.Product, FactGroup{Title: f.Label.In(lang), Facts: facts})
		}
	}
	steps, err := recs.StatusHistory(ctx, app, form, id, 20)
	if err != nil && !errors.Is(err, engine.ErrNotFound) {
		return err
	}
	for _, s := range steps {
		label := s.Label.In(lang)
		if label == "" {
			label = s.Status
		}
		if s.Created {
			label = engine.Message(lang, "printing.scan_created", nil)
		}
		page.Timeline = append(page.Timeline, TimelineStep{At: s.At, Created: s.Created, Status: s.Status, Label: label})
	}
	return nil
}

// publicFacts are the x-public fields of refs that have a value, in form order.
func publicFacts(refs []engine.FieldRef, values map[string]any, lang string) []Fact {
	out := []Fact{}
	for _, f := range refs {
		if !f.Public {
			continue
		}
		if s := factText(values[f.Key], lang); s != "" {
			out = append(out, Fact{Key: f.Key, Label: f.Label.In(lang), Value: s})
		}
	}
	return out
}

// factText is a printed value as a line of text; sub-tables and files show nothing.
func factText(v any, lang string) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		if x {
			return engine.Message(lang, "printing.scan_yes", nil)
		}
		return engine.Message(lang, "printing.scan_no", nil)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case []string:
		return strings.Join(x, "、")
	case []any:
		var parts []string
		for _, e := range x {
			if s, ok := e.(string); ok {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, "、")
	case map[string]any, []map[string]any:
		return ""
	}
	return fmt.Sprint(v)
}

// count increments serial's counter and gives the count and the first scan's time. On
// MongoDB it is the server's atomic $inc. On the embedded store, which belongs to this process
// (and whose updates are not atomic), the counter lives in memory once read — incremented
// under a lock, so no look-up is lost or counted twice — and is written behind, with the scan
// log, every FlushEvery (one write per code scanned in that time, not one per scan): a
// crash loses at most the last FlushEvery of counts, never a code's first-scan time once
// written. Reads of counts (Lot, Get) flush first.
func (c *Codes) count(ctx context.Context, serial, issuance string) (int64, time.Time, error) {
	now := c.now().UTC().Truncate(time.Millisecond)
	if c.st.Kind() != store.KindEmbedded {
		coll, err := c.st.Collection(ctx, scanCountCollection)
		if err != nil {
			return 0, time.Time{}, err
		}
		var d scanCount
		err = coll.FindOneAndUpdate(ctx, bson.D{{Key: "_id", Value: serial}},
			bson.D{{Key: "$inc", Value: bson.D{{Key: "n", Value: 1}}}, {Key: "$set", Value: bson.D{{Key: "last", Value: now}}},
				{Key: "$setOnInsert", Value: bson.D{{Key: "first", Value: now}, {Key: "issuance", Value: issuance}}}},
			options.FindOneAndUpdate().SetUpsert(true).SetReturnDocument(options.After)).Decode(&d)
		if err != nil {
			return 0, time.Time{}, fmt.Errorf("count scan of %s: %w", serial, err)
		}
		return d.N, d.First, nil
	}
	h := fnv.New32a()
	h.Write([]byte(serial))
	mu := &c.scanMu[h.Sum32()%uint32(len(c.scanMu))]
	mu.Lock()
	defer mu.Unlock()
	lv := &c.live
	lv.mu.Lock()
	e := lv.m[serial]
	lv.mu.Unlock()
	if e == nil {
		// First look-up of the code in this process: its stored count, if any.
		var d scanCount
		switch err := c.st.Get(ctx, scanCountCollection, serial, &d); {
		case errors.Is(err, store.ErrNotFound):
			d = scanCount{ID: serial, Issuance: issuance}
		case err != nil:
			return 0, time.Time{}, fmt.Errorf("count scan of %s: %w", serial, err)
		}
		e = &liveCount{d: d}
	}
	lv.mu.Lock()
	defer lv.mu.Unlock()
	if lv.m == nil {
		lv.m, lv.dirty = map[string]*liveCount{}, map[string]scanCount{}
	}
	lv.m[serial] = e
	e.d.N++
	if e.d.First.IsZero() {
		e.d.First = now
	}
	e.d.Last, e.touched = now, now
	lv.dirty[serial] = e.d
	c.startFlusher()
	return e.d.N, e.d.First, nil
}

// liveCounts are the embedded store's scan counters in memory and what is still to write.
type liveCounts struct {
	mu    sync.Mutex
	m     map[string]*liveCount
	dirty map[string]scanCount // written by the next flush
	logs  []any                // scan log documents to insert
	once  sync.Once
	stop  chan struct{}
	done  chan struct{}
}

type liveCount struct {
	d       scanCount
	touched time.Time
}

// Scan counters are written behind every flushEvery; counters not used for liveIdle are
// dropped from memory (they are stored); at most maxPendingLogs scan log entries wait.
const (
	flushEvery     = time.Second
	liveIdle       = 2 * time.Minute
	maxPendingLogs = 10_000
)

// startFlusher starts the writer of counters on first use; the caller holds c.live.mu.
func (c *Codes) startFlusher() {
	c.live.once.Do(func() {
		stop, done := make(chan struct{}), make(chan struct{})
		c.live.stop, c.live.done = stop, done
		go func() {
			defer close(done)
			t := time.NewTicker(flushEvery)
			defer t.Stop()
			for {
				select {
				case <-stop:
					return
				case <-t.C:
					if err := c.flushScans(context.Background()); err != nil {
						c.k.Log.Warn("scan counters not written; tried again", "err", err)
					}
				}
			}
		}()
	})
}

// flushScans writes the counters changed and the scan log entries made since the last flush.
func (c *Codes) flushScans(ctx context.Context) error {
	c.flushMu.Lock()
	defer c.flushMu.Unlock()
	lv := &c.live
	lv.mu.Lock()
	dirty, logs := lv.dirty, lv.logs
	lv.dirty, lv.logs = map[string]scanCount{}, nil
	lv.mu.Unlock()
	var errs []error
	for id, d := range dirty {
		if err := c.st.Set(ctx, scanCountCollection, id, d); err != nil {
			errs = append(errs, err)
			lv.mu.Lock()
			if _, newer := lv.dirty[id]; !newer {
				lv.dirty[id] = d
			}
			lv.mu.Unlock()
		}
	}
	if len(logs) > 0 {
		// A failure ends the batch (a duplicate: an entry written before a crash lost its
		// counter): the rest are put one at a time; those that fail for another reason wait
		// for the next flush (at most maxPendingLogs wait).
		if n, err := c.st.PutMany(ctx, scanLogCollection, logs); err != nil {
			var again []any
			for _, d := range logs[n:] {
				if err := c.st.Put(ctx, scanLogCollection, d.(scanLogDoc).ID, d); err != nil && !errors.Is(err, store.ErrDuplicate) {
					again = append(again, d)
				}
			}
			if len(again) > 0 {
				errs = append(errs, fmt.Errorf("scan log: %d entries not written: %w", len(again), err))
				lv.mu.Lock()
				lv.logs = append(again, lv.logs...)
				lv.logs = lv.logs[:min(len(lv.logs), maxPendingLogs)]
				lv.mu.Unlock()
			}
		}
	}
	// Counters idle for a while leave memory; they are stored (not dirty).
	cut := c.now().Add(-liveIdle)
	lv.mu.Lock()
	for id, e := range lv.m {
		if _, d := lv.dirty[id]; !d && e.touched.Before(cut) {
			delete(lv.m, id)
		}
	}
	lv.mu.Unlock()
	return errors.Join(errs...)
}

// Close writes the scan counters still in memory and stops their writer. Call it before the
// kernel closes.
func (c *Codes) Close(ctx context.Context) error {
	c.live.mu.Lock()
	stop, done := c.live.stop, c.live.done
	c.live.stop = nil
	c.live.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	return c.flushScans(ctx)
}

// scanLogDoc is one of the first scans of a code.
type scanLogDoc struct {
	ID     string    `bson:"_id"` // serial/n
	Serial string    `bson:"serial"`
	N      int64     `bson:"n"`
	At     time.Time `bson:"at"`
	IP     string    `bson:"ip"` // keyed hash, 16 hex digits: tells repeat visitors apart, names no one
	UA     string    `bson:"ua"`
}

func (c *Codes) logScan(ctx context.Context, serial string, n int64, v Visit) {
	d := scanLogDoc{ID: serial + "/" + strconv.FormatInt(n, 10), Serial: serial, N: n, At: c.now().UTC(), IP: c.hashIP(ctx, v.IP), UA: clipRunes(v.UserAgent, 200)}
	if c.st.Kind() != store.KindEmbedded {
		if err := c.st.Put(ctx, scanLogCollection, d.ID, d); err != nil && !errors.Is(err, store.ErrDuplicate) {
			c.k.Log.Warn("scan not logged", "serial", serial, "err", err)
		}
		return
	}
	c.live.mu.Lock()
	if len(c.live.logs) < maxPendingLogs {
		c.live.logs = append(c.live.logs, d)
	}
	c.live.mu.Unlock()
}

func (c *Codes) hashIP(ctx context.Context, ip string) string {
	if ip == "" {
		return ""
	}
	c.codecMu.Lock()
	key := c.ipKey
	c.codecMu.Unlock()
	if key == nil {
		var err error
		if key, err = c.k.Secret(ctx, "printing.scan-ip"); err != nil {
			return ""
		}
		c.codecMu.Lock()
		c.ipKey = key
		c.codecMu.Unlock()
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(ip))
	return hex.EncodeToString(m.Sum(nil))[:16]
}

func clipRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n])
}

// ComplaintInput is what a consumer reports about a scanned product.
type ComplaintInput struct {
	Text    string `json:"text"`
	Contact string `json:"contact,omitempty"`
}

// Complaint is a consumer's complaint as stored and as an app's designers read it.
type Complaint struct {
	ID       string    `json:"id" bson:"_id"`
	App      string    `json:"app" bson:"app"`
	Serial   string    `json:"serial" bson:"serial"`
	Issuance string    `json:"issuance" bson:"issuance"`
	Form     string    `json:"form" bson:"form"`
	Record   string    `json:"record" bson:"record"`
	Lot      string    `json:"lot" bson:"lot"`
	Text     string    `json:"text" bson:"text"`
	Contact  string    `json:"contact,omitempty" bson:"contact,omitempty"`
	At       time.Time `json:"at" bson:"at"`
	IP       string    `json:"-" bson:"ip"`
}

// Bounds of consumers' complaints: a day's worth per code and per app (beyond them a complaint
// is refused as throttled), and their lengths.
const (
	MaxComplaintsPerCodeDay = 3
	MaxComplaintsPerAppDay  = 500
	maxComplaintText        = 1000
	maxComplaintContact     = 100
)

// Complain stores a consumer's complaint about the product of serial (a genuine code) in the
// complaints collection of the code's app, which its designers read (Complaints) and delete
// (DeleteComplaint). At most MaxComplaintsPerCodeDay complaints about one code and
// MaxComplaintsPerAppDay about an app's codes are taken in 24 hours (complaint_limit, 429).
func (c *Codes) Complain(ctx context.Context, serial string, in ComplaintInput, v Visit) (*Complaint, error) {
	var fe engine.FieldErrors
	text, contact := strings.TrimSpace(in.Text), strings.TrimSpace(in.Contact)
	switch {
	case text == "":
		fe.Add("text", "required", nil)
	case utf8.RuneCountInString(text) > maxComplaintText:
		fe.Add("text", "too_long", map[string]any{"max": maxComplaintText})
	}
	if utf8.RuneCountInString(contact) > maxComplaintContact {
		fe.Add("contact", "too_long", map[string]any{"max": maxComplaintContact})
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	r, err := c.resolve(ctx, serial)
	if err != nil {
		return nil, err
	}
	now := c.now().UTC()
	c.complainMu.Lock()
	defer c.complainMu.Unlock()
	since := store.Gte("at", now.Add(-24*time.Hour))
	for _, b := range []struct {
		where store.Cond
		max   int64
	}{{store.And(store.Eq("serial", r.serial), since), MaxComplaintsPerCodeDay}, {store.And(store.Eq("app", r.doc.App), since), MaxComplaintsPerAppDay}} {
		n, err := c.st.QueryCount(ctx, complaintCollection, b.where, b.max)
		if err != nil {
			return nil, fmt.Errorf("store complaint: %w", err)
		}
		if n.N >= b.max {
			return nil, ErrComplaintLimit
		}
	}
	d := &Complaint{ID: bson.NewObjectID().Hex(), App: r.doc.App, Serial: r.serial, Issuance: r.doc.ID, Form: r.doc.Form,
		Record: r.doc.Record, Lot: r.doc.Lot, Text: text, Contact: contact, At: now, IP: c.hashIP(ctx, v.IP)}
	if err := c.st.Put(ctx, complaintCollection, d.ID, d); err != nil {
		return nil, fmt.Errorf("store complaint: %w", err)
	}
	return d, nil
}

// ErrComplaintLimit: a code's or an app's complaints of the last 24 hours are at their bound.
var ErrComplaintLimit = engine.Coded(&engine.ThrottledError{RetryAfter: 3600}, "complaint_limit", nil)

// DeleteComplaint deletes complaint id of app (a designer of the app: a complaint answered,
// or one holding what should not be kept); audited, without the complaint's text.
func (c *Codes) DeleteComplaint(ctx context.Context, p *engine.Principal, app, id string) error {
	if err := c.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return err
	}
	var d Complaint
	if err := c.st.Get(ctx, complaintCollection, id, &d); err != nil || d.App != app {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			err = engine.ErrNotFound
		}
		return fmt.Errorf("complaint %s: %w", id, err)
	}
	if err := c.st.Delete(ctx, complaintCollection, id); err != nil {
		return fmt.Errorf("delete complaint %s: %w", id, err)
	}
	if _, err := c.k.Audit.Append(ctx, engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: "codes.complaint_delete", Kind: "codes", Target: id,
		Before: map[string]any{"app": app, "serial": d.Serial, "at": d.At}}); err != nil {
		return fmt.Errorf("delete complaint %s: %w", id, err)
	}
	return nil
}

// Complaints lists an app's complaints, newest first (at most limit, 100 when 0); p must be a
// designer of the app.
func (c *Codes) Complaints(ctx context.Context, p *engine.Principal, app string, limit int) ([]Complaint, error) {
	if err := c.k.Auth.Require(ctx, p, app, engine.PermAppDesign); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 500 {
		limit = 100
	}
	page, err := c.st.Query(ctx, complaintCollection, store.Query{Where: store.Eq("app", app),
		Sort: []store.SortKey{{Path: "at", Desc: true}}, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]Complaint, 0, len(page.Docs))
	for _, raw := range page.Docs {
		var d Complaint
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// factsCache keeps what scan pages show besides the counter for a short time: lot records'
// facts by (app, form, record, language) and issuances' voided codes by issuance.
type factsCache struct {
	ttl   time.Duration
	lots  boundedCache
	voids boundedCache
}

// dropIssuance forgets issuance's voided codes (a void on this node shows at once).
func (f *factsCache) dropIssuance(issuance string) { f.voids.drop(issuance) }

// dropLot forgets a lot record's facts in every language.
func (f *factsCache) dropLot(app, form, record string) {
	for _, lang := range []string{engine.LangZH, engine.LangEN} {
		f.lots.drop(recKey(app, form, record) + "|" + lang)
	}
}

// factsCacheMax bounds each of the caches; when one is full, an expired entry or else one
// at random makes room (a flood of distinct lots does not empty it).
const factsCacheMax = 10_000

// boundedCache is a map of entries that expire, at most factsCacheMax of them.
type boundedCache struct {
	mu sync.Mutex
	m  map[string]cacheEntry
}

type cacheEntry struct {
	v     any
	until time.Time
}

func (b *boundedCache) get(key string, now time.Time) (any, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	e, ok := b.m[key]
	if !ok || now.After(e.until) {
		return nil, false
	}
	return e.v, true
}

func (b *boundedCache) put(key string, v any, now time.Time, ttl time.Duration) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.m == nil {
		b.m = map[string]cacheEntry{}
	}
	if _, ok := b.m[key]; !ok && len(b.m) >= factsCacheMax {
		// Map iteration starts at random: the first expired entry among a few, else the first.
		victim, n := "", 0
		for k, e := range b.m {
			if victim == "" {
				victim = k
			}
			if now.After(e.until) {
				victim = k
				break
			}
			if n++; n >= 8 {
				break
			}
		}
		delete(b.m, victim)
	}
	b.m[key] = cacheEntry{v: v, until: now.Add(ttl)}
}

func (b *boundedCache) drop(key string) {
	b.mu.Lock()
	delete(b.m, key)
	b.mu.Unlock()
}

func (b *boundedCache) len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.m)
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"error.code_not_genuine":    {ZH: "不是正品码：系统中没有这个码", EN: "not a genuine code: no such code was issued"},
		"error.code_already_voided": {ZH: "该码已作废", EN: "the code is already void"},
		"error.code_voided":         {ZH: "该码已作废，不能补打", EN: "the code is void and cannot be reprinted"},
		"error.code_key_changed": {ZH: "一物一码服务配置错误：审计密钥与发码时的不同，已打印的码无法核验。请恢复与数据一起备份的审计密钥（audit.key）后重启服务",
			EN: "the item code service is misconfigured: the audit key differs from the one the codes were issued under, so printed codes cannot be checked; restore the audit key (audit.key) backed up with the data and restart"},
		"error.complaint_limit": {ZH: "该产品今天收到的反馈已达上限，请稍后再试或直接联系生产企业", EN: "this product has had as many reports as it can take today; try later or contact the maker"},
		"code_field_hidden":     {ZH: "您无权查看字段 {field}，不能用它生成码", EN: "names field {field}, which you may not read"},
		"printing.scan_created": {ZH: "批次建立", EN: "Lot recorded"},
		"printing.scan_yes":     {ZH: "是", EN: "Yes"},
		"printing.scan_no":      {ZH: "否", EN: "No"},
	})
}
