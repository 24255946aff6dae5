package printing

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"strings"
	"time"

	"tracecraft/engine"
)

// errStop ends a CodeSource walk when the page consumer has stopped.
var errStop = errors.New("stop")

// pageSource makes the pages of one print: what it reads, for whom, and what it has seen
// (the job records each record's form version and the label count).
type pageSource struct {
	e        *Engine
	p        *engine.Principal
	c        *Compiled
	records  []string
	issuance string
	lang     string
	now      time.Time
	max      int // the most labels (0: MaxLabels)
	// stopAt ends the walk quietly once this many labels are made (a preview); 0: never.
	stopAt int
	// total is the job's label count once counted (count): {{pages}}.
	total int
	// relations are the relation fields the template's placeholders read through.
	relations map[string]bool
	// common: the printer is no person (a rule's or a flow's print action runs as the
	// system): a page shows only what every role may see (commonView).
	common bool
	// seen are the records read, in order, with their form versions; labels the labels the
	// pages made (a table's continuation labels included).
	seen   []JobRecord
	labels int
	// codes counts the item codes printed per issuance, in the order issuances came;
	// pageCodes is the issuance of each page's code, in order ("" for a page without one), so
	// a job sent in part knows which codes went.
	codes     []JobCodes
	pageCodes []string
	// views caches commonView's field sets by form/record.
	views map[string]map[string]bool
}

// labelsOf is how many labels (PDF pages or sheet positions) the page d makes: one, more when
// a table's rows continue on further labels.
func labelsOf(def *Definition, d *PageData) int {
	n := 1
	for i := range def.Elements {
		if el := &def.Elements[i]; el.Type == ElTable && el.Table != nil {
			n = max(n, tablePages(el, d))
		}
	}
	return n
}

// codesUpTo counts the codes of the first n pages per issuance.
func (ps *pageSource) codesUpTo(n int) []JobCodes {
	var out []JobCodes
	for _, is := range ps.pageCodes[:min(n, len(ps.pageCodes))] {
		if is == "" {
			continue
		}
		found := false
		for i := range out {
			if out[i].Issuance == is {
				out[i].N++
				found = true
			}
		}
		if !found {
			out = append(out, JobCodes{Issuance: is, N: 1})
		}
	}
	return out
}

// countCode counts one printed code of issuance.
func (ps *pageSource) countCode(issuance string) {
	for i := range ps.codes {
		if ps.codes[i].Issuance == issuance {
			ps.codes[i].N++
			return
		}
	}
	ps.codes = append(ps.codes, JobCodes{Issuance: issuance, N: 1})
}

func (e *Engine) newPageSource(p *engine.Principal, c *Compiled, records []string, issuance, lang string) *pageSource {
	if lang == "" {
		lang = engine.LangDefault
	}
	return &pageSource{e: e, p: p, c: c, records: records, issuance: issuance, lang: lang, now: e.now(),
		relations: relationsRead(&c.Def), common: p != nil && p.Via == "system"}
}

// count walks the job once without drawing to count its labels: a job past the limit fails
// before anything is drawn, and {{pages}} is known on every page. It leaves the source as new.
func (ps *pageSource) count(ctx context.Context) (int, error) {
	n := 0
	var err error
	walk := *ps
	walk.max, walk.stopAt = 0, 0
	for _, e := range walk.pages(ctx) {
		if e != nil {
			err = e
			break
		}
	}
	n = walk.labels
	if err != nil {
		return n, err
	}
	ps.total = n
	return n, nil
}

// relationsRead are the relation fields {{relation.field}} placeholders of def go through.
func relationsRead(def *Definition) map[string]bool {
	out := map[string]bool{}
	add := func(s string) {
		phs, _ := ParsePlaceholders(s)
		for _, ph := range phs {
			if rel, _ := ph.Field(); rel != "" {
				out[rel] = true
			}
		}
	}
	for _, el := range def.Elements {
		add(el.Text)
		add(el.Value)
		add(el.Src)
		if el.Table != nil {
			for _, col := range el.Table.Columns {
				add(col.Value)
			}
		}
	}
	return out
}

// pages yields the pages of every record in order: one per record, per row of the repeated
// sub-table or per item code. A record p may not read ends the walk with its error.
func (ps *pageSource) pages(ctx context.Context) iter.Seq2[*PageData, error] {
	return func(yield func(*PageData, error) bool) {
		for _, id := range ps.records {
			if err := ctx.Err(); err != nil {
				yield(nil, err)
				return
			}
			base, err := ps.record(ctx, id)
			if err != nil {
				yield(nil, fmt.Errorf("record %s: %w", id, err))
				return
			}
			if !ps.recordPages(ctx, base, yield) {
				return
			}
		}
	}
}

// emit counts and yields one page; false when the walk must end. A page is numbered by its
// first label; its continuation labels take the numbers after it.
func (ps *pageSource) emit(d *PageData, yield func(*PageData, error) bool) bool {
	limit := ps.max
	if limit <= 0 {
		limit = MaxLabels
	}
	if ps.stopAt > 0 && ps.labels >= ps.stopAt {
		return false
	}
	n := labelsOf(&ps.c.Def, d)
	if ps.labels+n > limit {
		yield(nil, engine.Coded(engine.ErrInvalid, "print_too_many", map[string]any{"max": limit}))
		return false
	}
	d.Page, d.Pages = ps.labels+1, ps.total
	ps.labels += n
	is := ""
	if d.Code != nil {
		is = d.Code.Issuance
	}
	ps.pageCodes = append(ps.pageCodes, is)
	return yield(d, nil)
}

// recordPages yields the pages of one record.
func (ps *pageSource) recordPages(ctx context.Context, base *PageData, yield func(*PageData, error) bool) bool {
	def := &ps.c.Def
	switch def.Repeat {
	case RepeatRow:
		rows, _ := base.Record[def.RepeatField].([]map[string]any)
		for _, row := range rows {
			d := *base
			d.Row = row
			if !ps.emit(&d, yield) {
				return false
			}
		}
		return true
	case RepeatCode:
		codes := ps.e.codeSource()
		if codes == nil {
			yield(nil, engine.Coded(engine.ErrConflict, "print_no_codes", nil))
			return false
		}
		// Codes already printed are not printed again: a reprint is its own audited act with a
		// reason (Codes.Reprint). Printed codes are those before their issuance's PrintedTo in
		// serial order, voided since or not (a job prints in that order and records where it
		// stopped).
		skip, err := ps.printedCodes(ctx, base.ID)
		if err != nil {
			yield(nil, fmt.Errorf("codes of record %s: %w", base.ID, err))
			return false
		}
		if ps.issuance != "" && skip != nil {
			if _, listed := skip[ps.issuance]; !listed {
				yield(nil, fmt.Errorf("issuance %s of %s: %w", ps.issuance, base.ID, engine.ErrNotFound))
				return false
			}
		}
		stopped, left := false, 0
		err = codes.EachCode(ctx, ps.p, ps.c.App, def.Form, base.ID, ps.issuance, func(code ItemCode) error {
			if code.Index < skip[code.Issuance] {
				return nil
			}
			left++
			d := *base
			d.Code = &code
			if !ps.emit(&d, yield) {
				stopped = true
				return errStop
			}
			ps.countCode(code.Issuance)
			return nil
		})
		if stopped {
			return false
		}
		if err != nil {
			yield(nil, fmt.Errorf("codes of record %s: %w", base.ID, err))
			return false
		}
		if ps.issuance != "" && left == 0 {
			yield(nil, engine.Coded(engine.ErrConflict, "print_codes_printed", map[string]any{"issuance": ps.issuance}))
			return false
		}
		return true
	}
	return ps.emit(base, yield)
}

// lotCounter is what Codes offers besides CodeSource: a lot's issuances with their counts.
type lotCounter interface {
	Lot(ctx context.Context, p *engine.Principal, app, form, id string) (*LotCodes, error)
}

// printedCodes is where the next print of each issuance of the record starts (Issuance.
// PrintedTo; nil when the code source cannot tell).
func (ps *pageSource) printedCodes(ctx context.Context, record string) (map[string]int64, error) {
	lc, ok := ps.e.codeSource().(lotCounter)
	if !ok {
		return nil, nil
	}
	lot, err := lc.Lot(ctx, ps.p, ps.c.App, ps.c.Def.Form, record)
	if err != nil {
		return nil, err
	}
	out := make(map[string]int64, len(lot.Issuances))
	for _, is := range lot.Issuances {
		out[is.ID] = is.PrintedTo
	}
	return out, nil
}

// record reads one record as p may see it and the related records its placeholders read.
func (ps *pageSource) record(ctx context.Context, id string) (*PageData, error) {
	recs := ps.e.k.Records
	rv, err := recs.RecordValues(ctx, ps.p, ps.c.App, ps.c.Def.Form, id, ps.lang)
	if err != nil {
		return nil, err
	}
	ps.seen = append(ps.seen, JobRecord{ID: rv.ID, Version: rv.Version})
	if ps.common {
		if err := ps.restrict(ctx, ps.c.Def.Form, rv); err != nil {
			return nil, err
		}
	}
	d := &PageData{Record: rv.Values, ID: rv.ID, Status: rv.Status, Now: ps.now}
	for rel, ids := range rv.Related {
		if _, shown := rv.Values[rel]; !shown || !ps.relations[rel] || len(ids) == 0 {
			continue
		}
		target, err := ps.target(ctx, rv.Version, rel)
		if err != nil {
			return nil, err
		}
		if target == "" {
			continue
		}
		// One level: the first record the relation holds; a record p may not read prints as
		// empty fields, like a hidden field.
		tv, err := recs.RecordValues(ctx, ps.p, ps.c.App, target, ids[0], ps.lang)
		if errors.Is(err, engine.ErrForbidden) || errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("related %s: %w", rel, err)
		}
		if ps.common {
			if err := ps.restrict(ctx, target, tv); err != nil {
				return nil, err
			}
		}
		if d.Related == nil {
			d.Related = map[string]map[string]any{}
		}
		d.Related[rel] = tv.Values
	}
	return d, nil
}

// restrict keeps of rv what every role may see (a job printed by no person: a rule's or a
// flow's print action, whose PDF every reader of the record may open): the fields no role's
// field rules hide (commonView), and a relation as the bare ids it holds, as the related
// record's title may be a field some role may not see.
func (ps *pageSource) restrict(ctx context.Context, form string, rv *engine.RecordValues) error {
	view, err := ps.commonView(ctx, form, rv.ID)
	if err != nil {
		return err
	}
	for k := range rv.Values {
		if !view[k] {
			delete(rv.Values, k)
		}
	}
	for rel, ids := range rv.Related {
		if !view[rel] {
			delete(rv.Related, rel)
			continue
		}
		rv.Values[rel] = strings.Join(ids, "、")
	}
	return nil
}

// commonView is the set of the record's fields that every role sees: the fields each role's
// field rules leave visible (VisibleFields for a principal holding that role alone), crossed.
// Roles that may not read the record count too: what one of them may not see is kept from
// all, which errs on the side of printing less.
func (ps *pageSource) commonView(ctx context.Context, form, id string) (map[string]bool, error) {
	key := form + "/" + id
	if v, ok := ps.views[key]; ok {
		return v, nil
	}
	roles, err := ps.e.k.Auth.ListRoles(ctx)
	if err != nil {
		return nil, fmt.Errorf("roles: %w", err)
	}
	var view map[string]bool
	for _, r := range roles {
		fv, err := ps.e.k.Records.VisibleFields(ctx, &engine.Principal{Username: "print:role:" + r.Name, Roles: []string{r.Name}}, ps.c.App, form, id)
		if err != nil {
			return nil, fmt.Errorf("fields of %s every role sees: %w", id, err)
		}
		seen := make(map[string]bool, len(fv.Fields))
		for _, f := range fv.Fields {
			if view == nil || view[f] {
				seen[f] = true
			}
		}
		view = seen
	}
	if view == nil {
		view = map[string]bool{}
	}
	if ps.views == nil {
		ps.views = map[string]map[string]bool{}
	}
	ps.views[key] = view
	return view, nil
}

// target is the form relation field rel of the record's form version points to.
func (ps *pageSource) target(ctx context.Context, version int, rel string) (string, error) {
	fields, err := ps.e.k.Records.FormFields(ctx, ps.c.App, ps.c.Def.Form, version)
	if err != nil {
		return "", err
	}
	for _, f := range fields {
		if f.Key == rel {
			return f.Target, nil
		}
	}
	return "", nil
}

// samplePages are the pages of a preview without a record: each field shows its label (a
// number 12.5, a date today, a switch on), a sub-table three rows, a related record its
// fields' labels, an item code a sample.
func (e *Engine) samplePages(ctx context.Context, c *Compiled, lang string) ([]*PageData, error) {
	if lang == "" {
		lang = engine.LangDefault
	}
	fields, err := e.k.Records.FormFields(ctx, c.App, c.Def.Form, 0)
	if err != nil {
		return nil, err
	}
	now := e.now()
	d := &PageData{Record: sampleValues(fields, lang, now), ID: "SAMPLE", Status: "", Now: now}
	for rel := range relationsRead(&c.Def) {
		for _, f := range fields {
			if f.Key != rel || f.Target == "" {
				continue
			}
			tf, err := e.k.Records.FormFields(ctx, c.App, f.Target, 0)
			if err != nil {
				continue
			}
			if d.Related == nil {
				d.Related = map[string]map[string]any{}
			}
			d.Related[rel] = sampleValues(tf, lang, now)
		}
	}
	switch c.Def.Repeat {
	case RepeatRow:
		rows, _ := d.Record[c.Def.RepeatField].([]map[string]any)
		out := make([]*PageData, 0, len(rows))
		n := 0
		for _, row := range rows {
			p := *d
			p.Row, p.Page = row, n+1
			n += labelsOf(&c.Def, &p)
			out = append(out, &p)
		}
		for _, p := range out {
			p.Pages = n
		}
		return out, nil
	case RepeatCode:
		d.Code = &ItemCode{Serial: "SAMPLE0000001", GTIN: "09501101530003", Lot: "LOT001", Expiry: now.AddDate(1, 0, 0).Format("2006-01-02"),
			URL: "https://example.com/01/09501101530003/10/LOT001/21/SAMPLE0000001"}
	}
	d.Page, d.Pages = 1, labelsOf(&c.Def, d)
	return []*PageData{d}, nil
}

func sampleValues(fields []engine.FieldSpec, lang string, now time.Time) map[string]any {
	out := make(map[string]any, len(fields))
	for _, f := range fields {
		label := strings.TrimSpace(f.Label.In(lang))
		if label == "" {
			label = f.Key
		}
		switch f.Type {
		case "number", "money":
			out[f.Key] = 12.5
		case "date":
			out[f.Key] = now.Format("2006-01-02")
		case "datetime":
			out[f.Key] = now.UTC().Format(time.RFC3339)
		case "switch":
			out[f.Key] = true
		case "image", "attachment", "signature":
		case "subtable":
			rows := make([]map[string]any, 3)
			for i := range rows {
				rows[i] = sampleValues(f.Columns, lang, now)
			}
			out[f.Key] = rows
		default:
			out[f.Key] = label
		}
	}
	return out
}
