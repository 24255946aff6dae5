package printing

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/gs1"
)

// Item codes (一物一码): a lot record gets N codes at a time, each an item's serial, printed on
// its label as a GS1 Digital Link QR. Codes are stored as ranges — one document per issuance
// {app, form, record, gtin, lot, expiry, first, count} over the global sequence "printing/codes"
// — never one document per code, yet a serial resolves by one index seek: the serial decodes to
// its sequence number (codes_serial.go) and the issuance is the one with the greatest first ≤
// that number (an index on first, read backwards, one row). Voids of single codes, reprints,
// print marks and scan counters are small documents of their own, keyed so that writing them
// twice is refused by the store (race-safe on every backend).

// Collections of code issuance.
const (
	issuancesCollection = "print_code_issuances" // one per issuance: _id I<first>, revisioned
	voidsCollection     = "print_code_voids"     // one per voided code: _id serial
	reprintsCollection  = "print_code_reprints"  // one per reprint act
	printsCollection    = "print_code_prints"    // one per (issuance, print job): _id issuance/job
	scanCountCollection = "print_code_scans"     // one per scanned code: _id serial, its counter
	scanLogCollection   = "print_code_scan_log"  // the first scans of each code: _id serial/n
	complaintCollection = "print_code_complaints"
)

// codeSequence is the store sequence every serial is drawn from: serials are unique across apps.
const codeSequence = "printing/codes"

// Limits of code issuance.
const (
	// MaxCodesPerIssue is the most codes one issuance makes.
	MaxCodesPerIssue = 100_000
	// MaxIssuancesPerLot is the most issuances a lot's answer lists (and counts).
	MaxIssuancesPerLot = 500
	// scanLogPerCode is how many scans of one code are kept in detail (the counter goes on).
	scanLogPerCode = 20
	maxReason      = 500
)

// Void reasons with a meaning: a code voided with ReasonRecall shows the recall banner on its
// scan page (other reasons: "this code is void").
const ReasonRecall = "recall"

// RecalledStatus is the lot record status that shows the recall banner on its codes' pages.
const RecalledStatus = "recalled"

// CodesOptions configure code issuance; zero values take the defaults.
type CodesOptions struct {
	// Now is the clock (time.Now by default).
	Now func() time.Time
	// Base is the public address codes link to ("https://t.example.cn"): the Digital Link's
	// stem. An issuance may name its own; without either, issuing is refused.
	Base string
	// CacheTTL is how long a scanned code's facts are kept in memory (30 s by default).
	CacheTTL time.Duration
}

// Codes issues item codes for lots, resolves them, voids and reprints them, and serves what
// the public scan pages show. It is the printing engine's CodeSource.
type Codes struct {
	k    *engine.Kernel
	st   *store.Store
	now  func() time.Time
	opts CodesOptions

	codecMu sync.Mutex
	codec   *serialCodec
	ipKey   []byte // the scan log's address key

	cache   factsCache
	scanMu  [64]sync.Mutex // serialise a counter's first read on the embedded store
	live    liveCounts     // the embedded store's counters, written behind (scan.go)
	flushMu sync.Mutex
	voidMu  sync.Mutex // one range void or serial void decision at a time (embedded: one node)
	// complainMu: a complaint's daily bounds are counted and the complaint stored together.
	complainMu sync.Mutex
}

var _ CodeSource = (*Codes)(nil)

// NewCodes makes code issuance on the kernel and declares its indexes. Call it before the
// kernel starts, after forms.New (it reads lots through Kernel.Records).
func NewCodes(k *engine.Kernel, opts CodesOptions) *Codes {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.CacheTTL <= 0 {
		opts.CacheTTL = 30 * time.Second
	}
	opts.Base = strings.TrimRight(opts.Base, "/")
	c := &Codes{k: k, st: k.Store, now: opts.Now, opts: opts}
	c.cache.ttl = opts.CacheTTL
	// Resolving a serial: the issuance with the greatest first ≤ its number (one seek).
	k.DeclareIndexes(issuancesCollection,
		store.IndexSpec{Keys: []store.IndexKey{{Path: "first", Desc: true}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "rec"}, {Path: "first"}}})
	k.DeclareIndexes(voidsCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "issuance"}, {Path: "seq"}}})
	k.DeclareIndexes(reprintsCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "issuance"}}})
	k.DeclareIndexes(printsCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "issuance"}}})
	k.DeclareIndexes(scanCountCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "issuance"}}})
	// A lot's status (recalled) shows on its pages as soon as the change is delivered, not
	// after the cache's time.
	k.Bus.Subscribe(ScanCacheSubscriber, []string{engine.EventRecordStatusChanged}, func(_ context.Context, e engine.Event) error {
		form, _ := e.Data["form"].(string)
		id, _ := e.Data["id"].(string)
		c.cache.dropLot(e.App, form, id)
		return nil
	})
	k.DeclareIndexes(complaintCollection, store.IndexSpec{Keys: []store.IndexKey{{Path: "app"}, {Path: "at", Desc: true}}},
		store.IndexSpec{Keys: []store.IndexKey{{Path: "serial"}, {Path: "at"}}})
	return c
}

// ScanCacheSubscriber is the bus subscriber that forgets a lot's cached page facts when its
// status changes.
const ScanCacheSubscriber = "printing.scan-cache"

// serials gives the codec under the kernel's "printing.codes" secret, made on first use.
func (c *Codes) serials(ctx context.Context) (*serialCodec, error) {
	c.codecMu.Lock()
	defer c.codecMu.Unlock()
	if c.codec != nil {
		return c.codec, nil
	}
	key, err := c.k.Secret(ctx, "printing.codes")
	if errors.Is(err, engine.ErrSecretChanged) {
		c.k.Log.Error("item codes: the audit key is not the one the codes were issued under; scan pages answer 503 and issuing is refused until it is restored", "err", err)
		return nil, fmt.Errorf("%w: %w", ErrCodeKeyChanged, err)
	}
	if err != nil {
		return nil, err
	}
	codec, err := newSerialCodec(key)
	if err != nil {
		return nil, err
	}
	c.codec = codec
	return codec, nil
}

// issuanceDoc is one issuance as stored: codes first … first+count-1 of the global sequence.
type issuanceDoc struct {
	ID     string    `bson:"_id"`
	App    string    `bson:"app"`
	Form   string    `bson:"form"`
	Record string    `bson:"record"`
	Rec    string    `bson:"rec"` // app/form/record: the lot's key for its lists and counts
	GTIN   string    `bson:"gtin"`
	Lot    string    `bson:"lot"`
	Expiry string    `bson:"expiry,omitempty"` // YYYY-MM-DD
	Base   string    `bson:"base"`
	First  int64     `bson:"first"`
	Count  int64     `bson:"count"`
	By     string    `bson:"by"`
	At     time.Time `bson:"at"`
	// Void is set when the whole range is voided.
	Void *voidInfo `bson:"void,omitempty"`
	Rev  int64     `bson:"_rev"`
}

type voidInfo struct {
	Reason string    `bson:"reason" json:"reason"`
	By     string    `bson:"by" json:"by"`
	At     time.Time `bson:"at" json:"at"`
}

// voidDoc is one voided code.
type voidDoc struct {
	ID       string    `bson:"_id"` // serial
	Issuance string    `bson:"issuance"`
	Seq      int64     `bson:"seq"`
	Reason   string    `bson:"reason"`
	By       string    `bson:"by"`
	At       time.Time `bson:"at"`
}

// reprintDoc is one reprint: of one code (Serial) or of a whole issuance.
type reprintDoc struct {
	ID       string    `bson:"_id"`
	Issuance string    `bson:"issuance"`
	Serial   string    `bson:"serial,omitempty"`
	N        int64     `bson:"n"`
	Reason   string    `bson:"reason"`
	By       string    `bson:"by"`
	At       time.Time `bson:"at"`
}

// printDoc records that a print job printed n codes of an issuance, the codes before Upto.
type printDoc struct {
	ID       string `bson:"_id"` // issuance/job
	Issuance string `bson:"issuance"`
	Job      string `bson:"job"`
	N        int64  `bson:"n"`
	// Upto is the place in the issuance (0: its first code) after the last code the job
	// printed: the next print starts there, whatever was voided since (0 in jobs recorded
	// before it was kept: their codes are the first ones, n of them).
	Upto int64     `bson:"upto,omitempty"`
	By   string    `bson:"by"`
	At   time.Time `bson:"at"`
}

// IssueInput asks for item codes for a lot record. GTIN, lot and expiry come from the
// record's fields: those the input names (GTINField, LotField, ExpiryField; "product.gtin"
// reads field gtin of the record the relation field product points to, one level), else the
// first present of the conventional keys (gtin; lot_no, lot, batch_no, batch; expiry_date,
// expiry, best_before, use_by). GTIN may also be given as a value. Each is checked against
// its GS1 AI (01 with its check digit, 10 X..20, 17 a date).
type IssueInput struct {
	Count       int    `json:"count"`
	GTIN        string `json:"gtin,omitempty"`
	GTINField   string `json:"gtinField,omitempty"`
	LotField    string `json:"lotField,omitempty"`
	ExpiryField string `json:"expiryField,omitempty"`
	// Base is the public address the codes link to; CodesOptions.Base when "".
	Base string `json:"base,omitempty"`
}

// Issuance is one issuance as the API answers it, with its counts.
type Issuance struct {
	ID     string     `json:"id"`
	App    string     `json:"app"`
	Form   string     `json:"form"`
	Record string     `json:"record"`
	GTIN   string     `json:"gtin"`
	Lot    string     `json:"lot"`
	Expiry string     `json:"expiry,omitempty"`
	Count  int64      `json:"count"`
	First  string     `json:"firstSerial"`
	By     string     `json:"by"`
	At     time.Time  `json:"at"`
	Void   *voidInfo  `json:"void,omitempty"`
	Counts CodeCounts `json:"counts"`
	// PrintedTo is the place in the issuance (0: its first code) where the next print starts:
	// the codes before it were printed (or voided before they could be).
	PrintedTo int64 `json:"printedTo"`
}

// CodeCounts are a lot's (or an issuance's) codes: issued, printed at least once (per
// issuance, capped at its count), voided, reprinted (labels printed again) and scanned at
// least once.
type CodeCounts struct {
	Issued    int64 `json:"issued"`
	Printed   int64 `json:"printed"`
	Voided    int64 `json:"voided"`
	Reprinted int64 `json:"reprinted"`
	Scanned   int64 `json:"scanned"`
}

func (a *CodeCounts) add(b CodeCounts) {
	a.Issued += b.Issued
	a.Printed += b.Printed
	a.Voided += b.Voided
	a.Reprinted += b.Reprinted
	a.Scanned += b.Scanned
}

// LotCodes are a lot's issuances (oldest first) and their totals.
type LotCodes struct {
	Issuances []Issuance `json:"issuances"`
	Totals    CodeCounts `json:"totals"`
}

func recKey(app, form, record string) string { return app + "/" + form + "/" + record }

func issuanceID(first int64) string { return "I" + strconv.FormatInt(first, 10) }

// Issue issues in.Count codes for lot record (app, form, id): p must be allowed to update the
// record. The numbers are claimed durably first (a crash after the claim leaves them unused,
// never handed out twice); the issuance is then written with its audit entry (Kernel.Commit).
func (c *Codes) Issue(ctx context.Context, p *engine.Principal, app, form, id string, in IssueInput) (*Issuance, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	recs := c.k.Records
	if recs == nil {
		return nil, errors.New("issue codes: no record service")
	}
	if err := recs.RecordAllows(ctx, p, app, form, id, engine.ActionUpdate); err != nil {
		return nil, fmt.Errorf("issue codes for %s: %w", id, err)
	}
	var fe engine.FieldErrors
	switch {
	case in.Count < 1:
		fe.Add("count", "too_small", map[string]any{"min": 1})
	case in.Count > MaxCodesPerIssue:
		fe.Add("count", "too_big", map[string]any{"max": MaxCodesPerIssue})
	}
	base := strings.TrimRight(in.Base, "/")
	if base == "" {
		base = c.opts.Base
	}
	if base == "" {
		fe.Add("base", "required", nil)
	} else if !strings.HasPrefix(base, "https://") && !strings.HasPrefix(base, "http://") {
		fe.Add("base", "invalid_format", map[string]any{"detail": "an http(s):// address"})
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	rec, err := recs.GetRecord(ctx, p, app, form, id)
	if err != nil {
		return nil, fmt.Errorf("issue codes for %s: %w", id, err)
	}
	gtin, lot, expiry, err := c.lotFacts(ctx, p, app, form, rec, in)
	if err != nil {
		return nil, err
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, fmt.Errorf("issue codes: %w", err)
	}
	// The link of a code of this lot must build: every value is checked against its AI.
	if _, err := digitalLink(base, gtin, lot, expiry, codec.Encode(1)); err != nil {
		field := "base"
		var ge *gs1.Error
		if errors.As(err, &ge) {
			field = map[string]string{"01": "gtinField", "10": "lotField", "17": "expiryField"}[ge.AI]
			if field == "" {
				field = "base"
			}
		}
		return nil, engine.Invalid(field, "invalid_format", map[string]any{"detail": err.Error()})
	}
	first, err := c.st.Claim(ctx, codeSequence, int64(in.Count))
	if err != nil {
		return nil, fmt.Errorf("issue codes: %w", err)
	}
	if first+int64(in.Count)-1 > maxSeq {
		return nil, errors.New("issue codes: the code space is used up")
	}
	d := issuanceDoc{ID: issuanceID(first), App: app, Form: form, Record: id, Rec: recKey(app, form, id), GTIN: gtin, Lot: lot,
		Expiry: expiry, Base: base, First: first, Count: int64(in.Count), By: p.Username, At: c.now().UTC(), Rev: 1}
	after := map[string]any{"app": app, "form": form, "record": id, "gtin": gtin, "lot": lot, "expiry": expiry,
		"count": in.Count, "first": codec.Encode(first), "last": codec.Encode(first + int64(in.Count) - 1)}
	_, err = c.k.Commit(ctx, engine.Write{Coll: issuancesCollection, ID: d.ID, Rev: 1,
		Entry: engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: "codes.issue", Kind: "codes", Target: d.ID, After: after}},
		func(ctx context.Context, journal func(context.Context) error) error {
			return c.st.CreateWith(ctx, issuancesCollection, d.ID, d, journal)
		})
	if err != nil {
		return nil, fmt.Errorf("issue codes for %s: %w", id, err)
	}
	// The codes go to a printer at once: under SQLite's synchronous=NORMAL the commit would
	// be on disk only at the next checkpoint, and a power cut could lose an issuance whose
	// labels are already stuck on products.
	if err := c.st.Durable(ctx); err != nil {
		return nil, fmt.Errorf("issue codes for %s: %w", id, err)
	}
	is := c.issuanceOf(codec, &d)
	is.Counts.Issued = d.Count
	return &is, nil
}

func (c *Codes) issuanceOf(codec *serialCodec, d *issuanceDoc) Issuance {
	return Issuance{ID: d.ID, App: d.App, Form: d.Form, Record: d.Record, GTIN: d.GTIN, Lot: d.Lot, Expiry: d.Expiry,
		Count: d.Count, First: codec.Encode(d.First), By: d.By, At: d.At, Void: d.Void}
}

// lotFacts reads GTIN, lot and expiry of the lot record as IssueInput says, as p may read
// them: only fields the form's field rules let p see, of the lot and of the record a relation
// points to (which p must be allowed to read). A field p may not see is refused without its
// value (code_field_hidden) — a code's lot is printed and shown on its public page, so an
// issuer must not publish what they cannot read.
func (c *Codes) lotFacts(ctx context.Context, p *engine.Principal, app, form string, rec *engine.RecordRef, in IssueInput) (gtin, lot, expiry string, err error) {
	var fe engine.FieldErrors
	view, err := c.k.Records.VisibleFields(ctx, p, app, form, rec.ID)
	if err != nil {
		return "", "", "", fmt.Errorf("issue codes for %s: %w", rec.ID, err)
	}
	visible := setOf(view.Fields)
	hidden := map[string]bool{}
	pick := func(input, named string, conventional ...string) string {
		if named != "" {
			v, perr := c.fieldValue(ctx, p, app, form, rec, visible, named)
			switch {
			case errors.Is(perr, errFieldHidden):
				fe.Add(input, "code_field_hidden", map[string]any{"field": named})
				hidden[input] = true
			case perr != nil:
				err = perr
			}
			return v
		}
		for _, k := range conventional {
			if !visible[k] {
				continue
			}
			if v := textOf(rec.Data[k]); v != "" {
				return v
			}
		}
		return ""
	}
	rawGTIN, gtinFrom := strings.TrimSpace(in.GTIN), "gtin"
	if rawGTIN == "" {
		rawGTIN, gtinFrom = pick("gtinField", in.GTINField, "gtin"), "gtinField"
	}
	lot = pick("lotField", in.LotField, "lot_no", "lot", "batch_no", "batch")
	rawExpiry := pick("expiryField", in.ExpiryField, "expiry_date", "expiry", "best_before", "use_by")
	if err != nil {
		return "", "", "", err
	}
	switch {
	case hidden["gtinField"] && in.GTIN == "":
	case rawGTIN == "":
		fe.Add("gtinField", "required", nil)
	default:
		if gtin, err = gs1.NormalizeGTIN(rawGTIN); err != nil {
			fe.Add(gtinFrom, "invalid_format", map[string]any{"detail": err.Error()})
		}
	}
	if lot == "" && !hidden["lotField"] {
		fe.Add("lotField", "required", nil)
	}
	if rawExpiry != "" {
		t, perr := time.Parse("2006-01-02", rawExpiry[:min(len(rawExpiry), 10)])
		if perr != nil {
			fe.Add("expiryField", "invalid_format", map[string]any{"detail": "a date YYYY-MM-DD"})
		} else {
			expiry = t.Format("2006-01-02")
		}
	}
	return gtin, lot, expiry, fe.Err()
}

// errFieldHidden: a field named for a code's facts is one the issuer may not read.
var errFieldHidden = errors.New("field hidden from the issuer")

func setOf(keys []string) map[string]bool {
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out
}

// fieldValue reads field path of rec as p may: "key" or "relation.key" (one level), where
// visible are the lot's fields p may see. errFieldHidden when p may not see the field, the
// relation, or read the record it points to.
func (c *Codes) fieldValue(ctx context.Context, p *engine.Principal, app, form string, rec *engine.RecordRef, visible map[string]bool, path string) (string, error) {
	rel, key, nested := strings.Cut(path, ".")
	if !visible[rel] {
		return "", errFieldHidden
	}
	if !nested {
		return textOf(rec.Data[path]), nil
	}
	specs, err := c.k.Records.FormFields(ctx, app, form, 0)
	if err != nil {
		return "", err
	}
	target := ""
	for _, f := range specs {
		if f.Key == rel {
			target = f.Target
		}
	}
	ids := idsOf(rec.Data[rel])
	if target == "" || len(ids) == 0 {
		return "", nil
	}
	other, err := c.k.Records.GetRecord(ctx, p, app, target, ids[0])
	switch {
	case errors.Is(err, engine.ErrForbidden):
		return "", errFieldHidden
	case errors.Is(err, engine.ErrNotFound):
		// Gone, or p may not even know of it: nothing to read either way.
		return "", nil
	case err != nil:
		return "", err
	}
	view, err := c.k.Records.VisibleFields(ctx, p, app, target, other.ID)
	if err != nil {
		return "", err
	}
	if !view.Readable || !setOf(view.Fields)[key] {
		return "", errFieldHidden
	}
	return textOf(other.Data[key]), nil
}

// textOf is a stored value as text: strings as they are, numbers without a needless ".0".
func textOf(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return strings.TrimSpace(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int32, int64, int:
		return fmt.Sprint(x)
	case time.Time:
		return x.UTC().Format(time.RFC3339)
	case bson.DateTime:
		return x.Time().UTC().Format(time.RFC3339)
	}
	return fmt.Sprint(v)
}

// idsOf gives the record ids a relation value holds.
func idsOf(v any) []string {
	switch x := v.(type) {
	case string:
		if x != "" {
			return []string{x}
		}
	case []any:
		var out []string
		for _, e := range x {
			if s, ok := e.(string); ok && s != "" {
				out = append(out, s)
			}
		}
		return out
	case []string:
		return x
	case bson.A:
		return idsOf([]any(x))
	}
	return nil
}

// digitalLink is the code's GS1 Digital Link (gs1.DigitalLinkForItem):
// base/01/{gtin}/10/{lot}/21/{serial}?17={YYMMDD}.
func digitalLink(base, gtin, lot, expiry, serial string) (string, error) {
	var exp time.Time
	if expiry != "" {
		t, err := time.Parse("2006-01-02", expiry)
		if err != nil {
			return "", fmt.Errorf("expiry %q: %w", expiry, err)
		}
		exp = t
	}
	return gs1.DigitalLinkForItem(base, gtin, lot, serial, exp)
}

// code is the ItemCode of sequence number seq of issuance d.
func (c *Codes) code(codec *serialCodec, d *issuanceDoc, seq int64) (ItemCode, error) {
	serial := codec.Encode(seq)
	url, err := digitalLink(d.Base, d.GTIN, d.Lot, d.Expiry, serial)
	if err != nil {
		return ItemCode{}, fmt.Errorf("code %s: %w", serial, err)
	}
	return ItemCode{Serial: serial, GTIN: d.GTIN, Lot: d.Lot, Expiry: d.Expiry, URL: url, Issuance: d.ID, Index: seq - d.First}, nil
}

// resolved is a serial found in its issuance.
type resolved struct {
	serial string
	seq    int64
	doc    issuanceDoc
}

// ErrCodeKeyChanged: the key serials are checked with is not the one they were issued under
// (the audit key was lost or replaced). Nothing can be judged genuine or not: scan pages say
// the service is unavailable (503), issuing is refused, until the audit key is restored.
var ErrCodeKeyChanged = engine.Coded(&engine.BusyError{RetryAfter: 600}, "code_key_changed", nil)

// ErrNotGenuine is the error of a serial that is not one of ours: malformed, failing its
// check character or tag (forged), or in no issued range.
var ErrNotGenuine = engine.Coded(engine.ErrNotFound, "code_not_genuine", nil)

// resolve finds serial's issuance: decode (no lookup for a forged code), then one index seek.
func (c *Codes) resolve(ctx context.Context, serial string) (*resolved, error) {
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, err
	}
	seq, err := codec.Decode(serial)
	if err != nil {
		return nil, ErrNotGenuine
	}
	page, err := c.st.Query(ctx, issuancesCollection, rangeQuery(seq))
	if err != nil {
		return nil, fmt.Errorf("resolve code: %w", err)
	}
	if len(page.Docs) == 0 {
		return nil, ErrNotGenuine
	}
	var d issuanceDoc
	if err := bson.Unmarshal(page.Docs[0], &d); err != nil {
		return nil, fmt.Errorf("resolve code: %w", err)
	}
	if seq >= d.First+d.Count {
		return nil, ErrNotGenuine // in a gap: numbers claimed by an issuance that never got written
	}
	return &resolved{serial: codec.Encode(seq), seq: seq, doc: d}, nil
}

// rangeQuery finds the issuance holding sequence number seq: the greatest first ≤ seq.
func rangeQuery(seq int64) store.Query {
	return store.Query{Where: store.Lte("first", seq), Sort: []store.SortKey{{Path: "first", Desc: true}}, Limit: 1}
}

// readable resolves serial for p, who must be allowed action on its lot record in app.
func (c *Codes) readable(ctx context.Context, p *engine.Principal, app, serial, action string) (*resolved, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	r, err := c.resolve(ctx, serial)
	if err != nil {
		return nil, err
	}
	if r.doc.App != app {
		return nil, ErrNotGenuine
	}
	if err := c.k.Records.RecordAllows(ctx, p, app, r.doc.Form, r.doc.Record, action); err != nil {
		return nil, fmt.Errorf("code %s: %w", r.serial, err)
	}
	return r, nil
}

// ActInput is a void or a reprint: of the one code, or (Range) of its whole issuance.
type ActInput struct {
	Reason string `json:"reason"`
	Range  bool   `json:"range,omitempty"`
}

func (in ActInput) check() error {
	var fe engine.FieldErrors
	r := strings.TrimSpace(in.Reason)
	switch {
	case r == "":
		fe.Add("reason", "required", nil)
	case utf8.RuneCountInString(r) > maxReason:
		fe.Add("reason", "too_long", map[string]any{"max": maxReason})
	}
	return fe.Err()
}

// Void voids serial (or, with Range, its whole issuance) with a reason; p must be allowed to
// update the lot record. A voided code's page says so (the recall banner when the reason is
// ReasonRecall); it is never printed again. Voiding twice is a conflict (code_already_voided).
func (c *Codes) Void(ctx context.Context, p *engine.Principal, app, serial string, in ActInput) (*CodeDetail, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(in.Reason)
	r, err := c.readable(ctx, p, app, serial, engine.ActionUpdate)
	if err != nil {
		return nil, err
	}
	// One void at a time: a serial void must not race its range's void (two documents).
	c.voidMu.Lock()
	defer c.voidMu.Unlock()
	var cur issuanceDoc
	if err := c.st.Get(ctx, issuancesCollection, r.doc.ID, &cur); err != nil {
		return nil, fmt.Errorf("void code %s: %w", r.serial, err)
	}
	if cur.Void != nil {
		return nil, engine.Coded(engine.ErrConflict, "code_already_voided", nil)
	}
	if !in.Range {
		// Checked before the entry is written: a refused void leaves no entry (the store's
		// unique _id still decides a race with another node).
		switch err := c.st.Get(ctx, voidsCollection, r.serial, &voidDoc{}); {
		case err == nil:
			return nil, engine.Coded(engine.ErrConflict, "code_already_voided", nil)
		case !errors.Is(err, store.ErrNotFound):
			return nil, fmt.Errorf("void code %s: %w", r.serial, err)
		}
	}
	now := c.now().UTC()
	entry := engine.AuditEntry{Actor: p.Username, IP: p.IP, Kind: "codes", After: map[string]any{"reason": reason, "record": r.doc.Record, "lot": r.doc.Lot}}
	if in.Range {
		next := cur
		next.Void = &voidInfo{Reason: reason, By: p.Username, At: now}
		next.Rev = cur.Rev + 1
		entry.Action, entry.Target = "codes.void_range", cur.ID
		entry.After.(map[string]any)["count"] = cur.Count
		_, err = c.k.Commit(ctx, engine.Write{Coll: issuancesCollection, ID: cur.ID, Rev: next.Rev, Entry: entry},
			func(ctx context.Context, journal func(context.Context) error) error {
				_, err := c.st.UpdateWith(ctx, issuancesCollection, cur.ID, cur.Rev, next, journal)
				return err
			})
	} else {
		v := voidDoc{ID: r.serial, Issuance: cur.ID, Seq: r.seq, Reason: reason, By: p.Username, At: now}
		entry.Action, entry.Target = "codes.void", r.serial
		_, err = c.k.Commit(ctx, engine.Write{Coll: voidsCollection, ID: v.ID, Rev: 1, Entry: entry},
			func(ctx context.Context, journal func(context.Context) error) error {
				return c.st.CreateWith(ctx, voidsCollection, v.ID, v, journal)
			})
		if errors.Is(err, store.ErrDuplicate) {
			return nil, engine.Coded(engine.ErrConflict, "code_already_voided", nil)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("void code %s: %w", r.serial, err)
	}
	// A void (a recall) is acted on at once — told to shops, shown on scan pages: durable
	// before it is answered, like an issuance.
	if err := c.st.Durable(ctx); err != nil {
		return nil, fmt.Errorf("void code %s: %w", r.serial, err)
	}
	c.cache.dropIssuance(r.doc.ID)
	return c.detail(ctx, r.serial)
}

// ReprintResult is a reprint granted: the codes to print again (one, or the issuance's
// codes that are not voided — print them with the issuance id).
type ReprintResult struct {
	ID       string     `json:"id"`
	Issuance string     `json:"issuance"`
	N        int64      `json:"n"`
	Codes    []ItemCode `json:"codes,omitempty"`
}

// Reprint records, with its reason and an audit entry, that serial's label (or, with Range,
// its whole issuance's labels) is printed again; p must be allowed to update the lot record.
// A voided code is not reprinted (code_voided).
func (c *Codes) Reprint(ctx context.Context, p *engine.Principal, app, serial string, in ActInput) (*ReprintResult, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	r, err := c.readable(ctx, p, app, serial, engine.ActionUpdate)
	if err != nil {
		return nil, err
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, err
	}
	voided, err := c.voidedSeqs(ctx, r.doc.ID)
	if err != nil {
		return nil, err
	}
	if r.doc.Void != nil || (!in.Range && voided[r.seq] != nil) {
		return nil, engine.Coded(engine.ErrConflict, "code_voided", nil)
	}
	d := reprintDoc{ID: bson.NewObjectID().Hex(), Issuance: r.doc.ID, N: 1, Reason: strings.TrimSpace(in.Reason), By: p.Username, At: c.now().UTC()}
	res := &ReprintResult{ID: d.ID, Issuance: r.doc.ID}
	if in.Range {
		d.N = r.doc.Count - int64(len(voided))
	} else {
		d.Serial = r.serial
		ic, err := c.code(codec, &r.doc, r.seq)
		if err != nil {
			return nil, err
		}
		res.Codes = []ItemCode{ic}
	}
	res.N = d.N
	entry := engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: "codes.reprint", Kind: "codes", Target: r.serial,
		After: map[string]any{"reason": d.Reason, "issuance": d.Issuance, "n": d.N, "range": in.Range, "record": r.doc.Record}}
	_, err = c.k.Commit(ctx, engine.Write{Coll: reprintsCollection, ID: d.ID, Rev: 1, Entry: entry},
		func(ctx context.Context, journal func(context.Context) error) error {
			return c.st.CreateWith(ctx, reprintsCollection, d.ID, d, journal)
		})
	if err != nil {
		return nil, fmt.Errorf("reprint code %s: %w", r.serial, err)
	}
	return res, nil
}

// voidedSeqs are the voided codes of an issuance (its single voids), by sequence number.
func (c *Codes) voidedSeqs(ctx context.Context, issuance string) (map[int64]*voidDoc, error) {
	out := map[int64]*voidDoc{}
	err := c.st.QueryEach(ctx, voidsCollection, store.Query{Where: store.Eq("issuance", issuance), Sort: []store.SortKey{{Path: "seq"}}},
		func(raw bson.Raw) error {
			var v voidDoc
			if err := bson.Unmarshal(raw, &v); err != nil {
				return err
			}
			out[v.Seq] = &v
			return nil
		})
	if err != nil {
		return nil, fmt.Errorf("voided codes of %s: %w", issuance, err)
	}
	return out, nil
}

// CodeDetail is one code as the signed-in API shows it.
type CodeDetail struct {
	ItemCode
	App       string     `json:"app"`
	Form      string     `json:"form"`
	Record    string     `json:"record"`
	Void      *voidInfo  `json:"void,omitempty"`
	Reprints  int64      `json:"reprints"`
	Scans     int64      `json:"scans"`
	FirstScan *time.Time `json:"firstScan,omitempty"`
	LastScan  *time.Time `json:"lastScan,omitempty"`
}

// Get gives the detail of serial in app; p must be allowed to read its lot record.
func (c *Codes) Get(ctx context.Context, p *engine.Principal, app, serial string) (*CodeDetail, error) {
	r, err := c.readable(ctx, p, app, serial, engine.ActionRead)
	if err != nil {
		return nil, err
	}
	return c.detail(ctx, r.serial)
}

func (c *Codes) detail(ctx context.Context, serial string) (*CodeDetail, error) {
	if err := c.flushScans(ctx); err != nil {
		return nil, err
	}
	r, err := c.resolve(ctx, serial)
	if err != nil {
		return nil, err
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, err
	}
	ic, err := c.code(codec, &r.doc, r.seq)
	if err != nil {
		return nil, err
	}
	d := &CodeDetail{ItemCode: ic, App: r.doc.App, Form: r.doc.Form, Record: r.doc.Record, Void: r.doc.Void}
	if d.Void == nil {
		var v voidDoc
		switch err := c.st.Get(ctx, voidsCollection, r.serial, &v); {
		case err == nil:
			d.Void = &voidInfo{Reason: v.Reason, By: v.By, At: v.At}
		case !errors.Is(err, store.ErrNotFound):
			return nil, err
		}
	}
	var sc scanCount
	switch err := c.st.Get(ctx, scanCountCollection, r.serial, &sc); {
	case err == nil:
		d.Scans, d.FirstScan, d.LastScan = sc.N, &sc.First, &sc.Last
	case !errors.Is(err, store.ErrNotFound):
		return nil, err
	}
	n, err := c.st.QueryCount(ctx, reprintsCollection, store.And(store.Eq("issuance", r.doc.ID), store.Eq("serial", r.serial)), 0)
	if err != nil {
		return nil, err
	}
	d.Reprints = n.N
	return d, nil
}

// Lot lists the issuances of lot record (app, form, id) with their counts and the totals; p
// must be allowed to read the record.
func (c *Codes) Lot(ctx context.Context, p *engine.Principal, app, form, id string) (*LotCodes, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	if err := c.k.Records.RecordAllows(ctx, p, app, form, id, engine.ActionRead); err != nil {
		return nil, fmt.Errorf("codes of %s: %w", id, err)
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, err
	}
	if err := c.flushScans(ctx); err != nil {
		return nil, err
	}
	docs, err := c.issuances(ctx, app, form, id)
	if err != nil {
		return nil, err
	}
	out := &LotCodes{Issuances: []Issuance{}}
	for i := range docs {
		is := c.issuanceOf(codec, &docs[i])
		if is.Counts, is.PrintedTo, err = c.counts(ctx, &docs[i]); err != nil {
			return nil, err
		}
		out.Totals.add(is.Counts)
		out.Issuances = append(out.Issuances, is)
	}
	return out, nil
}

func (c *Codes) issuances(ctx context.Context, app, form, id string) ([]issuanceDoc, error) {
	page, err := c.st.Query(ctx, issuancesCollection, store.Query{Where: store.Eq("rec", recKey(app, form, id)),
		Sort: []store.SortKey{{Path: "first"}}, Limit: MaxIssuancesPerLot})
	if err != nil {
		return nil, fmt.Errorf("issuances of %s: %w", id, err)
	}
	out := make([]issuanceDoc, 0, len(page.Docs))
	for _, raw := range page.Docs {
		var d issuanceDoc
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// counts are one issuance's counts and where its next print starts.
func (c *Codes) counts(ctx context.Context, d *issuanceDoc) (CodeCounts, int64, error) {
	cc := CodeCounts{Issued: d.Count}
	if d.Void != nil {
		cc.Voided = d.Count
	} else {
		n, err := c.st.QueryCount(ctx, voidsCollection, store.Eq("issuance", d.ID), 0)
		if err != nil {
			return cc, 0, err
		}
		cc.Voided = n.N
	}
	var to int64
	var err error
	if cc.Printed, to, err = c.printed(ctx, d); err != nil {
		return cc, 0, err
	}
	err = c.st.QueryEach(ctx, reprintsCollection, store.Query{Where: store.Eq("issuance", d.ID), Fields: []string{"n"}}, func(raw bson.Raw) error {
		if v, ok := raw.Lookup("n").AsInt64OK(); ok {
			cc.Reprinted += v
		}
		return nil
	})
	if err != nil {
		return cc, 0, err
	}
	n, err := c.st.QueryCount(ctx, scanCountCollection, store.Eq("issuance", d.ID), 0)
	if err != nil {
		return cc, 0, err
	}
	cc.Scanned = n.N
	return cc, to, nil
}

// printed is how many codes of d print jobs printed (capped at its count) and the place where
// the next print starts (PrintedTo).
func (c *Codes) printed(ctx context.Context, d *issuanceDoc) (n, to int64, err error) {
	var legacy int64
	err = c.st.QueryEach(ctx, printsCollection, store.Query{Where: store.Eq("issuance", d.ID), Fields: []string{"n", "upto"}}, func(raw bson.Raw) error {
		v, _ := raw.Lookup("n").AsInt64OK()
		n += v
		if u, ok := raw.Lookup("upto").AsInt64OK(); ok && u > 0 {
			to = max(to, u)
		} else {
			legacy += v
		}
		return nil
	})
	if err != nil {
		return 0, 0, fmt.Errorf("printed codes of %s: %w", d.ID, err)
	}
	return min(n, d.Count), min(max(to, legacy), d.Count), nil
}

// EachCode implements CodeSource: the codes of issuance (issuance "": of every issuance of
// the record not yet printed in full), in serial-number order, without voided ones; p must be
// allowed to read the record. Call MarkPrinted once per ItemCode.Issuance printed.
func (c *Codes) EachCode(ctx context.Context, p *engine.Principal, app, form, record, issuance string, fn func(ItemCode) error) error {
	if p == nil {
		return engine.ErrUnauthenticated
	}
	if err := c.k.Records.RecordAllows(ctx, p, app, form, record, engine.ActionRead); err != nil {
		return fmt.Errorf("codes of %s: %w", record, err)
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return err
	}
	docs, err := c.issuances(ctx, app, form, record)
	if err != nil {
		return err
	}
	found := issuance == ""
	for i := range docs {
		d := &docs[i]
		if issuance != "" && d.ID != issuance {
			continue
		}
		found = true
		if d.Void != nil {
			continue
		}
		if issuance == "" {
			_, to, err := c.printed(ctx, d)
			if err != nil {
				return err
			}
			if to >= d.Count {
				continue
			}
		}
		voided, err := c.voidedSeqs(ctx, d.ID)
		if err != nil {
			return err
		}
		for seq := d.First; seq < d.First+d.Count; seq++ {
			if voided[seq] != nil {
				continue
			}
			ic, err := c.code(codec, d, seq)
			if err != nil {
				return err
			}
			if err := fn(ic); err != nil {
				return err
			}
		}
	}
	if !found {
		return fmt.Errorf("issuance %s of %s: %w", issuance, record, engine.ErrNotFound)
	}
	return nil
}

// MarkPrinted implements CodeSource: job printed n codes of issuance — the n codes not voided
// from where the issuance's last print stopped (PrintedTo), so the next print starts after
// them even when a printed one is voided meanwhile. Marking the same job twice counts once.
// (A code voided while the job was printing, past where it started, is taken as printed.)
func (c *Codes) MarkPrinted(ctx context.Context, p *engine.Principal, app, issuance, job string, n int) error {
	if p == nil {
		return engine.ErrUnauthenticated
	}
	var d issuanceDoc
	if err := c.st.Get(ctx, issuancesCollection, issuance, &d); err != nil || d.App != app {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			err = engine.ErrNotFound
		}
		return fmt.Errorf("mark issuance %s printed: %w", issuance, err)
	}
	pd := printDoc{ID: issuance + "/" + job, Issuance: issuance, Job: job, N: int64(n), By: p.Username, At: c.now().UTC()}
	switch err := c.st.Get(ctx, printsCollection, pd.ID, &printDoc{}); {
	case err == nil:
		return nil
	case !errors.Is(err, store.ErrNotFound):
		return fmt.Errorf("mark issuance %s printed: %w", issuance, err)
	}
	_, from, err := c.printed(ctx, &d)
	if err != nil {
		return err
	}
	voided, err := c.voidedSeqs(ctx, d.ID)
	if err != nil {
		return err
	}
	pos := from
	for left := pd.N; left > 0 && pos < d.Count; pos++ {
		if voided[d.First+pos] == nil {
			left--
		}
	}
	pd.Upto = pos
	if err := c.st.Put(ctx, printsCollection, pd.ID, pd); err != nil && !errors.Is(err, store.ErrDuplicate) {
		return fmt.Errorf("mark issuance %s printed: %w", issuance, err)
	}
	return nil
}

// MaxSerialsPage is the most serials one page of Serials holds.
const MaxSerialsPage = 1000

// SerialItem is one code of an issuance as Serials lists it.
type SerialItem struct {
	Serial string `json:"serial"`
	// Index is the code's place in its issuance (0: its first).
	Index int64  `json:"index"`
	URL   string `json:"url"`
	// Void is set when the code (or its whole issuance) is voided.
	Void bool `json:"void,omitempty"`
}

// SerialPage is one page of an issuance's serials; Next continues it ("" on the last page).
type SerialPage struct {
	Items []SerialItem `json:"items"`
	Next  string       `json:"next,omitempty"`
}

// Serials lists the codes of issuance of lot record (app, form, id) in serial order, after
// serial after ("" from the first), at most limit (100 when 0, at most MaxSerialsPage); p must
// be allowed to read the record. The label designer opens one code's consumer page from it.
func (c *Codes) Serials(ctx context.Context, p *engine.Principal, app, form, id, issuance, after string, limit int) (*SerialPage, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	var fe engine.FieldErrors
	switch {
	case limit == 0:
		limit = 100
	case limit < 0:
		fe.Add("limit", "too_small", map[string]any{"min": 1})
	case limit > MaxSerialsPage:
		fe.Add("limit", "too_big", map[string]any{"max": MaxSerialsPage})
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	if err := c.k.Records.RecordAllows(ctx, p, app, form, id, engine.ActionRead); err != nil {
		return nil, fmt.Errorf("codes of %s: %w", id, err)
	}
	var d issuanceDoc
	if err := c.st.Get(ctx, issuancesCollection, issuance, &d); err != nil || d.Rec != recKey(app, form, id) {
		if err == nil || errors.Is(err, store.ErrNotFound) {
			err = engine.ErrNotFound
		}
		return nil, fmt.Errorf("issuance %s of %s: %w", issuance, id, err)
	}
	codec, err := c.serials(ctx)
	if err != nil {
		return nil, err
	}
	from := d.First
	if after != "" {
		seq, err := codec.Decode(after)
		if err != nil || seq < d.First || seq >= d.First+d.Count {
			return nil, engine.Invalid("after", "invalid_format", map[string]any{"detail": "a serial of the issuance"})
		}
		from = seq + 1
	}
	voided, err := c.voidedSeqs(ctx, d.ID)
	if err != nil {
		return nil, err
	}
	out := &SerialPage{Items: []SerialItem{}}
	end := min(from+int64(limit), d.First+d.Count)
	for seq := from; seq < end; seq++ {
		ic, err := c.code(codec, &d, seq)
		if err != nil {
			return nil, err
		}
		out.Items = append(out.Items, SerialItem{Serial: ic.Serial, Index: ic.Index, URL: ic.URL, Void: d.Void != nil || voided[seq] != nil})
	}
	if end < d.First+d.Count && len(out.Items) > 0 {
		out.Next = out.Items[len(out.Items)-1].Serial
	}
	return out, nil
}
