package printing

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

func testCodec(t testing.TB) *serialCodec {
	t.Helper()
	key := make([]byte, 32)
	for i := range key {
		key[i] = byte(i * 7)
	}
	c, err := newSerialCodec(key)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestSerialCodec: serials round-trip, are distinct, 12 Crockford characters; a mistyped
// character, a swap of neighbours and made-up serials are refused without a lookup.
func TestSerialCodec(t *testing.T) {
	c := testCodec(t)
	seen := map[string]bool{}
	seqs := []int64{1, 2, 3, maxSeq, maxSeq - 1}
	for i := int64(4); i < 20_000; i++ {
		seqs = append(seqs, i)
	}
	for range 1000 {
		seqs = append(seqs, 1+rand.Int64N(maxSeq))
	}
	for _, seq := range seqs {
		s := c.Encode(seq)
		if len(s) != SerialLen || strings.ContainsAny(s, "ILOU") {
			t.Fatalf("Encode(%d) = %q", seq, s)
		}
		if seen[s] && seq < 20_000 {
			t.Fatalf("Encode(%d) = %q twice", seq, s)
		}
		seen[s] = true
		got, err := c.Decode(s)
		if err != nil || got != seq {
			t.Fatalf("Decode(Encode(%d) = %q) = %d, %v", seq, s, got, err)
		}
		if got, err := c.Decode(strings.ToLower(s[:4]) + "-" + s[4:]); err != nil || got != seq {
			t.Fatalf("lower case with a hyphen: %d, %v", got, err)
		}
	}
	// Neighbours share no visible pattern: serials of 1..1000 differ in their first four
	// characters far more often than sequential numbers would.
	same := 0
	for i := int64(1); i < 1000; i++ {
		if c.Encode(i)[:4] == c.Encode(i + 1)[:4] {
			same++
		}
	}
	if same > 5 {
		t.Errorf("%d of 999 neighbouring serials share their first four characters", same)
	}
	s := c.Encode(123456)
	for i := range SerialLen {
		for _, ch := range crockford {
			if byte(ch) == s[i] {
				continue
			}
			bad := s[:i] + string(ch) + s[i+1:]
			if _, err := c.Decode(bad); err == nil {
				t.Fatalf("one wrong character accepted: %q for %q", bad, s)
			}
		}
	}
	for i := 0; i+1 < SerialLen; i++ {
		if s[i] == s[i+1] {
			continue
		}
		swapped := s[:i] + string(s[i+1]) + string(s[i]) + s[i+2:]
		if _, err := c.Decode(swapped); err == nil {
			t.Logf("swap at %d not caught by the check character (Luhn mod 32 misses one pair); the tag caught it: %v", i, err)
		}
	}
	passed := 0
	for range 200_000 {
		var b [SerialLen]byte
		for i := range b {
			b[i] = crockford[rand.IntN(32)]
		}
		if _, err := c.Decode(string(b[:])); err == nil {
			passed++
		}
	}
	// 1 in 32 × 32,768 made-up serials passes both checks: expect 0.2 of 200,000.
	if passed > 4 {
		t.Errorf("%d of 200,000 made-up serials passed the check character and the tag", passed)
	}
	other, _ := newSerialCodec(make([]byte, 32))
	if _, err := other.Decode(s); err == nil {
		t.Error("a serial of one key decodes under another")
	}
	for _, bad := range []string{"", "ABC", s + "0", "U" + s[1:], s[:11] + "*"} {
		if _, err := c.Decode(bad); err == nil {
			t.Errorf("Decode(%q) accepted", bad)
		}
	}
}

// TestIssueCodes: a lot gets codes whose links carry its GTIN (through the product relation),
// lot and expiry; each resolves by serial; p must be allowed to update the lot to issue and
// to read it to look; forged and foreign serials are not genuine.
func TestIssueCodes(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L2603A")
	qa, line := e.user("zhao"), e.user("wang")
	in := IssueInput{Count: 300, GTINField: "product.gtin"}
	if _, err := e.codes.Issue(e.ctx, line, codesApp, "lot", lot, in); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("a reader issued codes: %v", err)
	}
	is, err := e.codes.Issue(e.ctx, qa, codesApp, "lot", lot, in)
	if err != nil {
		t.Fatal(err)
	}
	if is.GTIN != "06901234567892" || is.Lot != "L2603A" || is.Expiry != "2026-04-05" || is.Count != 300 {
		t.Fatalf("issuance = %+v", is)
	}
	var codes []ItemCode
	if err := e.codes.EachCode(e.ctx, line, codesApp, "lot", lot, "", func(c ItemCode) error { codes = append(codes, c); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(codes) != 300 || codes[0].Serial != is.First || codes[0].Issuance != is.ID {
		t.Fatalf("EachCode gave %d codes, first %+v", len(codes), codes[0])
	}
	want := "https://t.example.cn/01/06901234567892/10/L2603A/21/" + codes[7].Serial + "?17=260405"
	if codes[7].URL != want {
		t.Fatalf("URL = %s, want %s", codes[7].URL, want)
	}
	for _, c := range []ItemCode{codes[0], codes[150], codes[299]} {
		d, err := e.codes.Get(e.ctx, line, codesApp, c.Serial)
		if err != nil || d.Serial != c.Serial || d.Record != lot || d.URL != c.URL {
			t.Fatalf("Get(%s) = %+v, %v", c.Serial, d, err)
		}
	}
	// A second issuance continues the sequence: its first code is the 301st.
	is2, err := e.codes.Issue(e.ctx, qa, codesApp, "lot", lot, IssueInput{Count: 5, GTIN: "06901234567892"})
	if err != nil {
		t.Fatal(err)
	}
	if d, err := e.codes.Get(e.ctx, qa, codesApp, is2.First); err != nil || d.Issuance != is2.ID {
		t.Fatalf("Get(first of the second issuance) = %+v, %v", d, err)
	}
	codec, _ := e.codes.serials(e.ctx)
	wrongCheck := codes[0].Serial[:11] + "0"
	if wrongCheck == codes[0].Serial {
		wrongCheck = codes[0].Serial[:11] + "1" // the check character was 0 (1 in 32 keys)
	}
	for _, bad := range []string{"0000000000000", wrongCheck, codec.Encode(306), codec.Encode(10_000)} {
		if _, err := e.codes.Get(e.ctx, qa, codesApp, bad); !errors.Is(err, ErrNotGenuine) {
			t.Errorf("Get(%s) = %v, want not genuine", bad, err)
		}
	}
	if _, err := e.codes.Get(e.ctx, qa, "other", codes[0].Serial); !errors.Is(err, ErrNotGenuine) {
		t.Errorf("a code of another app: %v", err)
	}
	// Bad input: count bounds, a GTIN with a wrong check digit, a lot without a lot number.
	for _, c := range []struct {
		in    IssueInput
		field string
	}{
		{IssueInput{Count: 0, GTIN: "06901234567892"}, "count"},
		{IssueInput{Count: MaxCodesPerIssue + 1, GTIN: "06901234567892"}, "count"},
		{IssueInput{Count: 1, GTIN: "06901234567891"}, "gtin"},
		{IssueInput{Count: 1, GTIN: "06901234567892", LotField: "inspection_x"}, "lotField"},
		{IssueInput{Count: 1}, "gtinField"},
	} {
		_, err := e.codes.Issue(e.ctx, qa, codesApp, "lot", lot, c.in)
		fe, ok := engine.AsFieldErrors(err)
		if !ok || fe[0].Path != c.field {
			t.Errorf("Issue(%+v) = %v, want a field error on %s", c.in, err, c.field)
		}
	}
}

// TestRangeLookupUsesIndex: resolving a serial is one seek in the issuances' index on first
// (read backwards, one row), not a scan — with 2,000 issuances in the table.
func TestRangeLookupUsesIndex(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L1")
	docs := make([]any, 0, 2000)
	for i := range 2000 {
		first := int64(1 + i*50)
		docs = append(docs, issuanceDoc{ID: issuanceID(first), App: codesApp, Form: "lot", Record: lot, Rec: recKey(codesApp, "lot", lot),
			GTIN: "06901234567892", Lot: "L1", Base: "https://t.example.cn", First: first, Count: 50, Rev: 1})
	}
	if _, err := e.st.PutMany(e.ctx, issuancesCollection, docs); err != nil {
		t.Fatal(err)
	}
	plan, err := e.st.Explain(e.ctx, issuancesCollection, rangeQuery(77_777))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(plan, "USING INDEX") || !strings.Contains(plan, "_tcq_") || strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "SCAN") && !strings.Contains(plan, "USING INDEX") {
		t.Fatalf("the range lookup is not one index seek:\n%s", plan)
	}
	t.Logf("plan: %s", strings.TrimSpace(plan))
	codec, _ := e.codes.serials(e.ctx)
	r, err := e.codes.resolve(e.ctx, codec.Encode(77_777))
	if err != nil || r.doc.First != 77_751 {
		t.Fatalf("resolve(77777) = %+v, %v", r, err)
	}
}

// TestVoidReprintAndCounts: voiding and reprinting a code or a range, with reasons and audit
// entries; the lot's counts of issued, printed, voided, reprinted and scanned codes add up.
func TestVoidReprintAndCounts(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L2")
	qa, line := e.user("zhao"), e.user("wang")
	a, err := e.codes.Issue(e.ctx, qa, codesApp, "lot", lot, IssueInput{Count: 10, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := e.codes.Issue(e.ctx, qa, codesApp, "lot", lot, IssueInput{Count: 20, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	var serials []string
	_ = e.codes.EachCode(e.ctx, qa, codesApp, "lot", lot, a.ID, func(c ItemCode) error { serials = append(serials, c.Serial); return nil })
	if _, err := e.codes.Void(e.ctx, qa, codesApp, serials[3], ActInput{}); err == nil {
		t.Fatal("a void without a reason")
	}
	if _, err := e.codes.Void(e.ctx, line, codesApp, serials[3], ActInput{Reason: "破损"}); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("a reader voided a code: %v", err)
	}
	d, err := e.codes.Void(e.ctx, qa, codesApp, serials[3], ActInput{Reason: "标签破损"})
	if err != nil || d.Void == nil || d.Void.Reason != "标签破损" || d.Void.By != "zhao" {
		t.Fatalf("Void = %+v, %v", d, err)
	}
	if _, err := e.codes.Void(e.ctx, qa, codesApp, serials[3], ActInput{Reason: "again"}); !engine.IsConflict(err) {
		t.Fatalf("voided twice: %v", err)
	}
	if _, err := e.codes.Reprint(e.ctx, qa, codesApp, serials[3], ActInput{Reason: "重打"}); !engine.IsConflict(err) {
		t.Fatalf("a void code reprinted: %v", err)
	}
	rp, err := e.codes.Reprint(e.ctx, qa, codesApp, serials[4], ActInput{Reason: "卡纸"})
	if err != nil || rp.N != 1 || len(rp.Codes) != 1 || rp.Codes[0].Serial != serials[4] {
		t.Fatalf("Reprint = %+v, %v", rp, err)
	}
	// Printing issuance a skips its void code; issuance b is printed by job j1 (twice: once).
	n := 0
	_ = e.codes.EachCode(e.ctx, qa, codesApp, "lot", lot, a.ID, func(ItemCode) error { n++; return nil })
	if n != 9 {
		t.Fatalf("EachCode of a gave %d codes, want 9", n)
	}
	for range 2 {
		if err := e.codes.MarkPrinted(e.ctx, qa, codesApp, b.ID, "j1", 20); err != nil {
			t.Fatal(err)
		}
	}
	left := 0
	_ = e.codes.EachCode(e.ctx, qa, codesApp, "lot", lot, "", func(c ItemCode) error {
		if c.Issuance != a.ID {
			t.Errorf("a printed issuance given again: %s", c.Issuance)
		}
		left++
		return nil
	})
	if left != 9 {
		t.Fatalf("codes not yet printed: %d, want 9", left)
	}
	// Voiding b's range with reason recall; then scans of two codes of a.
	var bSerial string
	_ = e.codes.EachCode(e.ctx, qa, codesApp, "lot", lot, b.ID, func(c ItemCode) error { bSerial = c.Serial; return nil })
	if _, err := e.codes.Void(e.ctx, qa, codesApp, bSerial, ActInput{Reason: ReasonRecall, Range: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.codes.Void(e.ctx, qa, codesApp, bSerial, ActInput{Reason: "x"}); !engine.IsConflict(err) {
		t.Fatalf("a code of a void range voided again: %v", err)
	}
	for _, s := range []string{serials[0], serials[0], serials[1]} {
		if _, err := e.codes.Scan(e.ctx, s, Visit{IP: "10.0.0.1", UserAgent: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	lc, err := e.codes.Lot(e.ctx, line, codesApp, "lot", lot)
	if err != nil {
		t.Fatal(err)
	}
	want := CodeCounts{Issued: 30, Printed: 20, Voided: 21, Reprinted: 1, Scanned: 2}
	if lc.Totals != want || len(lc.Issuances) != 2 || lc.Issuances[1].Void == nil {
		t.Fatalf("Lot totals = %+v, want %+v (%+v)", lc.Totals, want, lc.Issuances)
	}
	// Every act is in the audit log with its reason.
	entries, err := e.k.Audit.List(e.ctx, engine.AuditQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	acts := map[string]int{}
	for _, en := range entries {
		if en.Kind == "codes" {
			acts[en.Action]++
		}
	}
	if acts["codes.issue"] != 2 || acts["codes.void"] != 1 || acts["codes.void_range"] != 1 || acts["codes.reprint"] != 1 {
		t.Fatalf("audit entries of codes: %v", acts)
	}
}

// TestScanPage: a scanned code's page shows the public fields of the lot and of its product
// only, the lot's status history, the recall banner once the lot is recalled, and counts each
// look-up from the first one's time.
func TestScanPage(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L3")
	qa := e.user("zhao")
	is, err := e.codes.Issue(e.ctx, qa, codesApp, "lot", lot, IssueInput{Count: 3, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	first := e.clock.t
	pg, err := e.codes.Scan(e.ctx, is.First, Visit{IP: "1.2.3.4", Lang: engine.LangZH})
	if err != nil {
		t.Fatal(err)
	}
	facts := map[string]string{}
	for _, f := range pg.Facts {
		facts[f.Label] = f.Value
	}
	if facts["批号"] != "L3" || facts["生产日期"] != "2026-03-01" || facts["出厂检验"] != "合格" || len(pg.Facts) != 4 {
		t.Fatalf("lot facts = %+v", pg.Facts)
	}
	if len(pg.Product) != 1 || pg.Product[0].Title != "产品" || len(pg.Product[0].Facts) != 2 || pg.Product[0].Facts[0].Value != "冷鲜鸡腿 <b>500g</b>" {
		t.Fatalf("product facts = %+v", pg.Product)
	}
	if pg.Scans != 1 || !pg.FirstScan.Equal(first) || pg.Recalled || len(pg.Timeline) != 1 || !pg.Timeline[0].Created {
		t.Fatalf("page = %+v", pg)
	}
	// The lot is released, then recalled: once the change is delivered the page shows both
	// steps and the banner; the count goes on from the first scan.
	sys := engine.SystemPrincipal()
	if _, err := e.k.Records.SetRecordStatus(e.ctx, sys, codesApp, "lot", lot, "released"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.k.Records.SetRecordStatus(e.ctx, sys, codesApp, "lot", lot, RecalledStatus); err != nil {
		t.Fatal(err)
	}
	// Within the cache's time, the status change delivered (the bus) drops the lot's facts.
	if err := e.k.Bus.Drain(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.t = e.clock.t.Add(e.codes.opts.CacheTTL / 2)
	pg, _ = e.codes.Scan(e.ctx, is.First, Visit{Lang: engine.LangZH})
	if !pg.Recalled || pg.Scans != 2 || len(pg.Timeline) != 3 {
		t.Fatalf("within the cache's time, the change delivered: %+v", pg)
	}
	e.clock.t = e.clock.t.Add(e.codes.opts.CacheTTL)
	pg, err = e.codes.Scan(e.ctx, is.First, Visit{Lang: engine.LangEN})
	if err != nil {
		t.Fatal(err)
	}
	if !pg.Recalled || pg.Scans != 3 || !pg.FirstScan.Equal(first) || len(pg.Timeline) != 3 || pg.Timeline[2].Label != "Recalled" {
		t.Fatalf("after the recall: %+v", pg)
	}
	if _, err := e.codes.Scan(e.ctx, "ZZZZZZZZZZZZ", Visit{}); !errors.Is(err, ErrNotGenuine) {
		t.Fatalf("a forged code: %v", err)
	}
	c, err := e.codes.Complain(e.ctx, is.First, ComplaintInput{Text: "包装漏气", Contact: "138"}, Visit{IP: "1.2.3.4"})
	if err != nil || c.Serial != is.First || c.Record != lot {
		t.Fatalf("Complain = %+v, %v", c, err)
	}
	if _, err := e.codes.Complaints(e.ctx, qa, codesApp, 0); !errors.Is(err, engine.ErrForbidden) {
		t.Fatalf("a non-designer read complaints: %v", err)
	}
	list, err := e.codes.Complaints(e.ctx, sys, codesApp, 0)
	if err != nil || len(list) != 1 || list[0].Text != "包装漏气" {
		t.Fatalf("Complaints = %+v, %v", list, err)
	}
}

// TestConcurrentIssue: 8 issuances of 10,000 codes at once (50 under the race detector) give
// distinct serials, all resolving to their own issuance.
func TestConcurrentIssue(t *testing.T) {
	e := newCodesEnv(t)
	per := 10_000
	if raceOn {
		per = 50
	}
	lots := make([]string, 8)
	for i := range lots {
		lots[i] = e.lot(t, fmt.Sprintf("L%d", i))
	}
	qa := e.user("zhao")
	var wg sync.WaitGroup
	issued := make([]*Issuance, 8)
	errs := make([]error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			issued[i], errs[i] = e.codes.Issue(context.Background(), qa, codesApp, "lot", lots[i], IssueInput{Count: per, GTINField: "product.gtin"})
		}()
	}
	wg.Wait()
	seen := make(map[string]string, 8*per)
	for i := range 8 {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		err := e.codes.EachCode(e.ctx, qa, codesApp, "lot", lots[i], "", func(c ItemCode) error {
			if other, dup := seen[c.Serial]; dup {
				return fmt.Errorf("serial %s issued to %s and %s", c.Serial, other, c.Issuance)
			}
			seen[c.Serial] = c.Issuance
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(seen) != 8*per {
		t.Fatalf("%d distinct serials, want %d", len(seen), 8*per)
	}
	// A sample resolves to the issuance it was printed for.
	k := 0
	for s, iss := range seen {
		if k++; k > 200 {
			break
		}
		r, err := e.codes.resolve(e.ctx, s)
		if err != nil || r.doc.ID != iss {
			t.Fatalf("resolve(%s) = %v, %v; want issuance %s", s, r, err, iss)
		}
	}
}

// TestScanCounter: look-ups of one code from many goroutines at once are each counted once;
// the counter is written behind and kept by Close, and a counter read back from the store goes
// on from there.
func TestScanCounter(t *testing.T) {
	e := newCodesEnv(t)
	lot := e.lot(t, "L4")
	is, err := e.codes.Issue(e.ctx, e.user("zhao"), codesApp, "lot", lot, IssueInput{Count: 2, GTINField: "product.gtin"})
	if err != nil {
		t.Fatal(err)
	}
	per := 50
	if raceOn {
		per = 10
	}
	var wg sync.WaitGroup
	seen := make([][]int64, 8)
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range per {
				pg, err := e.codes.Scan(context.Background(), is.First, Visit{IP: fmt.Sprint("10.0.0.", g), UserAgent: "load"})
				if err != nil {
					t.Error(err)
					return
				}
				seen[g] = append(seen[g], pg.Scans)
			}
		}()
	}
	wg.Wait()
	got := map[int64]bool{}
	for _, ns := range seen {
		for _, n := range ns {
			if got[n] {
				t.Fatalf("look-up number %d given twice", n)
			}
			got[n] = true
		}
	}
	total := int64(8 * per)
	if len(got) != int(total) || !got[total] {
		t.Fatalf("%d distinct counts, want 1..%d", len(got), total)
	}
	if err := e.codes.Close(e.ctx); err != nil {
		t.Fatal(err)
	}
	var d scanCount
	if err := e.st.Get(e.ctx, scanCountCollection, is.First, &d); err != nil || d.N != total || d.Issuance != is.ID {
		t.Fatalf("stored counter = %+v, %v; want %d", d, err, total)
	}
	logged, err := e.st.QueryCount(e.ctx, scanLogCollection, store.Cond{}, 0)
	if err != nil || logged.N != scanLogPerCode {
		t.Fatalf("%d scans logged (%v), want the first %d", logged.N, err, scanLogPerCode)
	}
	// As after a restart: the counter is read back from the store.
	e.codes.live.mu.Lock()
	e.codes.live.m = nil
	e.codes.live.mu.Unlock()
	pg, err := e.codes.Scan(e.ctx, is.First, Visit{})
	if err != nil || pg.Scans != total+1 || !pg.FirstScan.Equal(d.First) {
		t.Fatalf("after reading back: %+v, %v", pg, err)
	}
}
