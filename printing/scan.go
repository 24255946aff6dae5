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
// was looked up. Everything but the counter is kept in memory for CacheTTL per code and
// language; the counter goes up on every scan.

// Visit is who scans: the client's address (kept only as a keyed hash) and user agent.
type Visit struct {
	IP        string
	UserAgent string
	Lang      string
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
// scan is counted, the first scanLogPerCode of each code are kept with their time, hashed
// client address and user agent. ErrNotGenuine for a code that is not ours.
func (c *Codes) Scan(ctx context.Context, serial string, v Visit) (*ScanPage, error) {
	lang := v.Lang
	if lang != engine.LangEN {
		lang = engine.LangZH
	}
	page, issuance, err := c.facts(ctx, serial, lang)
	if err != nil {
		return nil, err
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

// facts gives the page of serial without its counter, from the cache when fresh.
func (c *Codes) facts(ctx context.Context, serial, lang string) (*ScanPage, string, error) {
	key := lang + "|" + serial
	if e, ok := c.cache.get(key, c.now()); ok {
		return e.page, e.issuance, nil
	}
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
	page := &ScanPage{Serial: ic.Serial, GTIN: ic.GTIN, Lot: ic.Lot, Expiry: ic.Expiry, URL: ic.URL,
		Product: []FactGroup{}, Facts: []Fact{}, Timeline: []TimelineStep{}}
	void := r.doc.Void
	if void == nil {
		var vd voidDoc
		switch err := c.st.Get(ctx, voidsCollection, r.serial, &vd); {
		case err == nil:
			void = &voidInfo{Reason: vd.Reason}
		case !errors.Is(err, store.ErrNotFound):
			return nil, "", err
		}
	}
	if void != nil {
		if strings.EqualFold(strings.TrimSpace(void.Reason), ReasonRecall) {
			page.Recalled = true
		} else {
			page.Void = true
		}
	}
	if err := c.recordFacts(ctx, r.doc.App, r.doc.Form, r.doc.Record, lang, page); err != nil {
		return nil, "", err
	}
	c.cache.put(key, &factsEntry{page: page, issuance: r.doc.ID, until: c.now().Add(c.cache.ttl)})
	return page, r.doc.ID, nil
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
		// A duplicate (a log entry written before a crash lost its counter) ends the batch:
		// the rest are put one at a time.
		if n, err := c.st.PutMany(ctx, scanLogCollection, logs); err != nil {
			for _, d := range logs[n+1:] {
				_ = c.st.Put(ctx, scanLogCollection, d.(scanLogDoc).ID, d)
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
	key, err := c.k.Secret(ctx, "printing.scan-ip")
	if err != nil {
		return ""
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

// Complain stores a consumer's complaint about the product of serial (a genuine code) in the
// complaints collection of the code's app, which its designers read (Complaints).
func (c *Codes) Complain(ctx context.Context, serial string, in ComplaintInput, v Visit) (*Complaint, error) {
	var fe engine.FieldErrors
	text, contact := strings.TrimSpace(in.Text), strings.TrimSpace(in.Contact)
	switch {
	case text == "":
		fe.Add("text", "required", nil)
	case utf8.RuneCountInString(text) > 1000:
		fe.Add("text", "too_long", map[string]any{"max": 1000})
	}
	if utf8.RuneCountInString(contact) > 100 {
		fe.Add("contact", "too_long", map[string]any{"max": 100})
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	r, err := c.resolve(ctx, serial)
	if err != nil {
		return nil, err
	}
	d := &Complaint{ID: bson.NewObjectID().Hex(), App: r.doc.App, Serial: r.serial, Issuance: r.doc.ID, Form: r.doc.Form,
		Record: r.doc.Record, Lot: r.doc.Lot, Text: text, Contact: contact, At: c.now().UTC(), IP: c.hashIP(ctx, v.IP)}
	if err := c.st.Put(ctx, complaintCollection, d.ID, d); err != nil {
		return nil, fmt.Errorf("store complaint: %w", err)
	}
	return d, nil
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

// factsCache keeps scanned codes' pages (without counters) for a short time.
type factsCache struct {
	mu  sync.Mutex
	ttl time.Duration
	m   map[string]*factsEntry
}

type factsEntry struct {
	page     *ScanPage
	issuance string
	until    time.Time
}

// factsCacheMax bounds the cache; when full it is emptied (a flood of distinct codes).
const factsCacheMax = 10_000

func (f *factsCache) get(key string, now time.Time) (*factsEntry, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	e, ok := f.m[key]
	if !ok || now.After(e.until) {
		return nil, false
	}
	return e, true
}

func (f *factsCache) put(key string, e *factsEntry) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.m == nil || len(f.m) >= factsCacheMax {
		f.m = map[string]*factsEntry{}
	}
	f.m[key] = e
}

func (f *factsCache) clear() {
	f.mu.Lock()
	f.m = nil
	f.mu.Unlock()
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"error.code_not_genuine":    {ZH: "不是正品码：系统中没有这个码", EN: "not a genuine code: no such code was issued"},
		"error.code_already_voided": {ZH: "该码已作废", EN: "the code is already void"},
		"error.code_voided":         {ZH: "该码已作废，不能补打", EN: "the code is void and cannot be reprinted"},
		"printing.scan_created":     {ZH: "批次建立", EN: "Lot recorded"},
		"printing.scan_yes":         {ZH: "是", EN: "Yes"},
		"printing.scan_no":          {ZH: "否", EN: "No"},
	})
}
