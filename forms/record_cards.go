package forms

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"tracecraft/engine"
)

// cardValueMax is the most characters a card shows of one value; longer values end in "…".
const cardValueMax = 60

// cardTypes are the field types whose values are short enough, and readable without another
// lookup, for a card: not sub-tables, files, signatures, rich text (HTML), locations, long
// text, relations or departments (ids that would need their targets' names).
var cardTypes = map[string]bool{
	FieldTypeText: true, FieldTypeNumber: true, FieldTypeMoney: true, FieldTypeDate: true, FieldTypeDateTime: true,
	FieldTypeTime: true, FieldTypeSelect: true, FieldTypeRadio: true, FieldTypeMultiSelect: true, FieldTypeCheckbox: true,
	FieldTypeSwitch: true, FieldTypeUser: true, FieldTypeScan: true, FieldTypeAutoNumber: true, FieldTypeFormula: true,
}

// RecordCards implements engine.Records.RecordCards: for each id found, what the form's field
// rules let p see (VisibleFields' rules) and the card values of the visible title field and
// card fields. Each version's compilation and p's access to it are worked out once per call.
func (a recordsAPI) RecordCards(ctx context.Context, p *engine.Principal, app, form string, ids []string) (map[string]engine.RecordCard, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	if _, err := a.s.Compiled(ctx, app, form, 0); err != nil {
		return nil, err
	}
	type judged struct {
		c       *Compiled
		acc     *access
		inForce map[string]*compiledPerm
	}
	byVersion := map[int]*judged{}
	out := make(map[string]engine.RecordCard, len(ids))
	for _, id := range ids {
		if _, done := out[id]; done {
			continue
		}
		d, err := a.s.load(ctx, app, form, id, false)
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("cards of %s/%s: %w", app, form, err)
		}
		j := byVersion[d.Version]
		if j == nil {
			c, err := a.s.Compiled(ctx, app, form, d.Version)
			if err != nil {
				return nil, fmt.Errorf("cards of %s/%s: %w", app, form, err)
			}
			j = &judged{c: c, acc: a.s.accessFor(ctx, p, c), inForce: a.s.permsInForce(ctx, c)}
			byVersion[d.Version] = j
		}
		view := a.s.visibleOf(ctx, p, j.c, j.acc, j.inForce, d)
		out[id] = engine.RecordCard{View: view, TitleField: j.c.Def.TitleField, Fields: a.s.cardFields(j.c, d, view.Fields)}
	}
	return out, nil
}

// cardFields renders the record's title field and card fields among visible, in form order,
// leaving out those without a value.
func (s *Service) cardFields(c *Compiled, d *recordDoc, visible []string) []engine.CardField {
	shown := make(map[string]bool, len(visible))
	for _, k := range visible {
		shown[k] = true
	}
	data := d.record().Data
	var out []engine.CardField
	for _, f := range c.Fields {
		if !shown[f.Key] || !cardTypes[f.Type] && f.Key != c.Def.TitleField {
			continue
		}
		v, ok := data[f.Key]
		if !ok || v == nil {
			continue
		}
		val := engine.Text{ZH: s.cardText(f, v, engine.LangZH), EN: s.cardText(f, v, engine.LangEN)}
		if strings.TrimSpace(val.ZH) == "" && strings.TrimSpace(val.EN) == "" {
			continue
		}
		out = append(out, engine.CardField{Key: f.Key, Label: f.Label, Value: val})
	}
	return out
}

// cardText is a value as a card shows it in lang: as an export cell shows it, times to the
// minute, cut to cardValueMax characters.
func (s *Service) cardText(f *Field, v any, lang string) string {
	var text string
	switch x := v.(type) {
	case time.Time:
		text = x.In(s.loc).Format("2006-01-02 15:04")
	default:
		switch cv := s.cellValue(f, v, lang).(type) {
		case float64:
			text = formatNumber(cv)
		default:
			text = fmt.Sprint(cv)
		}
	}
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) > cardValueMax {
		r := []rune(text)
		text = string(r[:cardValueMax-1]) + "…"
	}
	return text
}
