package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"tracecraft/engine"
)

// What an inbox card shows of its record: the record's title (its form's titleField) and up
// to three more short fields. Cards are worked out when a page is read, not stored in the
// inbox projection: who may see a field changes with roles, with the form's permissions and
// with the task's state, not only with the record, so a stored copy would have to be rewritten
// on each of those changes (and until then could show a field hidden since). A page costs one
// engine.Records.RecordCards call per form on it, which reads its records one _id at a time.

// cardSummaryMax is the most fields a card summarises besides the title.
const cardSummaryMax = 3

// cards fills in the RecordTitle and Summary of items for p. insts are the instances already
// read for the page (the todo box reads each to check its task is still pending).
func (s *Service) cards(ctx context.Context, p *engine.Principal, items []InboxItem, insts map[string]*Instance) error {
	if s.k.Records == nil || len(items) == 0 {
		return nil
	}
	type formKey struct{ app, form string }
	ids := map[formKey][]string{}
	var forms []formKey
	for _, it := range items {
		if it.Record == "" {
			continue
		}
		k := formKey{it.App, it.Form}
		if _, ok := ids[k]; !ok {
			forms = append(forms, k)
		}
		ids[k] = append(ids[k], it.Record)
	}
	byForm := make(map[formKey]map[string]engine.RecordCard, len(forms))
	for _, k := range forms {
		cards, err := s.k.Records.RecordCards(ctx, p, k.app, k.form, ids[k])
		if errors.Is(err, engine.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("cards of %s/%s: %w", k.app, k.form, err)
		}
		byForm[k] = cards
	}
	for i := range items {
		it := &items[i]
		card, ok := byForm[formKey{it.App, it.Form}][it.Record]
		if !ok {
			continue
		}
		shows, err := s.cardShows(ctx, p, it, card, insts)
		if err != nil {
			return err
		}
		for _, f := range card.Fields {
			switch {
			case !shows(f.Key):
			case f.Key == card.TitleField:
				it.RecordTitle = f.Value
			case len(it.Summary) < cardSummaryMax:
				it.Summary = append(it.Summary, f)
			}
		}
	}
	return nil
}

// cardShows gives the test of which of a card's fields (already limited to what the form's
// field rules show p) item it shows p — the rules of the task page: all of them when p may
// read the record through the form; else, when the item is p's own task and p can act on it
// now, those its node shows; else none (a closed task, a notify task or someone else's task
// grants nothing of the record).
func (s *Service) cardShows(ctx context.Context, p *engine.Principal, it *InboxItem, card engine.RecordCard, insts map[string]*Instance) (func(string) bool, error) {
	none := func(string) bool { return false }
	if card.View.Readable {
		return func(string) bool { return true }, nil
	}
	if it.Task.ID == "" || it.Task.State != TaskPending || it.Task.Assignee != p.Username && it.Task.OnBehalf != p.Username {
		return none, nil
	}
	inst := insts[it.Instance]
	if inst == nil {
		var err error
		if inst, err = s.load(ctx, it.Instance); errors.Is(err, engine.ErrNotFound) {
			return none, nil
		} else if err != nil {
			return nil, err
		}
		insts[it.Instance] = inst
	}
	i := slices.IndexFunc(inst.Tasks, func(t Task) bool { return t.ID == it.Task.ID })
	if i < 0 {
		return none, nil
	}
	t := &inst.Tasks[i]
	if t.Assignee != p.Username && t.OnBehalf != p.Username || !actionable(inst, t) {
		return none, nil
	}
	c, err := s.Compiled(ctx, inst.App, inst.Flow, inst.Version)
	if err != nil {
		return nil, err
	}
	n, _ := c.Node(t.Node)
	return func(k string) bool { return nodeShows(n, k) }, nil
}
