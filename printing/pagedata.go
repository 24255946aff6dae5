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
	// relations are the relation fields the template's placeholders read through.
	relations map[string]bool
	// seen are the records read, in order, with their form versions; labels the pages made.
	seen   []JobRecord
	labels int
	// codes counts the item codes printed per issuance, in the order issuances came.
	codes []JobCodes
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
		relations: relationsRead(&c.Def)}
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

// emit counts and yields one page; false when the walk must end.
func (ps *pageSource) emit(d *PageData, yield func(*PageData, error) bool) bool {
	limit := ps.max
	if limit <= 0 {
		limit = MaxLabels
	}
	if ps.labels >= limit {
		yield(nil, engine.Coded(engine.ErrInvalid, "print_too_many", map[string]any{"max": limit}))
		return false
	}
	ps.labels++
	d.Page = ps.labels
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
		stopped := false
		err := codes.EachCode(ctx, ps.p, ps.c.App, def.Form, base.ID, ps.issuance, func(code ItemCode) error {
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
		return true
	}
	return ps.emit(base, yield)
}

// record reads one record as p may see it and the related records its placeholders read.
func (ps *pageSource) record(ctx context.Context, id string) (*PageData, error) {
	recs := ps.e.k.Records
	rv, err := recs.RecordValues(ctx, ps.p, ps.c.App, ps.c.Def.Form, id, ps.lang)
	if err != nil {
		return nil, err
	}
	ps.seen = append(ps.seen, JobRecord{ID: rv.ID, Version: rv.Version})
	d := &PageData{Record: rv.Values, ID: rv.ID, Status: rv.Status, Now: ps.now}
	for rel, ids := range rv.Related {
		if !ps.relations[rel] || len(ids) == 0 {
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
		if d.Related == nil {
			d.Related = map[string]map[string]any{}
		}
		d.Related[rel] = tv.Values
	}
	return d, nil
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
		for i, row := range rows {
			p := *d
			p.Row, p.Page = row, i+1
			out = append(out, &p)
		}
		return out, nil
	case RepeatCode:
		d.Code = &ItemCode{Serial: "SAMPLE0000001", GTIN: "09501101530003", Lot: "LOT001", Expiry: now.AddDate(1, 0, 0).Format("2006-01-02"),
			URL: "https://example.com/01/09501101530003/10/LOT001/21/SAMPLE0000001"}
	}
	d.Page = 1
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
