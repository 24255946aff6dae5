package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// dateLayout is how a date field is stored ("YYYY-MM-DD", comparable as text).
const dateLayout = "2006-01-02"

// SweepResult says what one sweep did.
type SweepResult struct {
	Day     string `json:"day"`
	Rules   int    `json:"rules"`
	Records int    `json:"records"` // records in a rule's window that the query found
	Fired   int    `json:"fired"`
}

// window is the rule's Trigger.Window with its default.
func (c *Compiled) window() int {
	if w := c.Def.Trigger.Window; w != nil {
		return *w
	}
	if c.Def.Trigger.Days < 0 {
		return -c.Def.Trigger.Days
	}
	return defaultWindow
}

// fieldDay is a date or datetime field's value as a day in loc; false when it has none.
func fieldDay(v any, loc *time.Location) (time.Time, bool) {
	switch x := v.(type) {
	case string:
		if t, err := time.ParseInLocation(dateLayout, x, loc); err == nil {
			return t, true
		}
		if t, err := time.Parse(time.RFC3339Nano, x); err == nil {
			t = t.In(loc)
			return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc), true
		}
	case time.Time:
		t := x.In(loc)
		return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc), true
	}
	return time.Time{}, false
}

// today is the current day in the plant's time zone.
func (s *Service) today() time.Time {
	loc := s.k.Location()
	t := s.now().In(loc)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
}

// dueToday is the record's due day (its field's day + Days) and whether today is in the
// rule's window: due ≤ today ≤ due + window.
func (s *Service) dueToday(c *Compiled, data map[string]any) (time.Time, bool) {
	day, ok := fieldDay(data[c.Def.Trigger.Field], s.k.Location())
	if !ok {
		return time.Time{}, false
	}
	due := day.AddDate(0, 0, c.Def.Trigger.Days)
	today := s.today()
	return due, !today.Before(due) && !today.After(due.AddDate(0, 0, c.window()))
}

// dateInput makes in a date firing: its trigger, run key and claim name the rule (not its
// version), the record and the due day (the period), so it fires once per record and due day
// — across sweeps, record changes, restarts, nodes and new versions of the rule (switching it
// off and on again is two new versions: a lot warned about is not warned about again). A
// claim made before claims left out the version (legacyClaim) still counts for that version.
func (s *Service) dateInput(c *Compiled, in *evalInput, due time.Time) {
	period := due.Format(dateLayout)
	in.trigger = "date:" + period
	in.key = "rule:" + engine.DefinitionID(c.App, c.Key) + ":" + in.id + ":" + period
	in.claim = in.key
	in.legacyClaim = "rule:" + engine.DefinitionVersionID(c.App, c.Key, c.Version) + ":" + in.id + ":" + period
	in.until = due.AddDate(0, 0, c.window()+1)
}

// Sweep fires the date rules for the day of tick (in the plant's time zone): for each
// published date rule, the records whose field puts today in the rule's window, found by an
// indexed range query on the field (the rule's field must be x-filterable: Compile checks),
// never by reading every record. Each firing is claimed first (rule version, record, due
// day), so a sweep run twice, or by two nodes at once, fires once. The sweep job runs it
// daily at Options.SweepSpec.
func (s *Service) Sweep(ctx context.Context, tick time.Time) (*SweepResult, error) {
	loc := s.k.Location()
	t := tick.In(loc)
	today := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, loc)
	res := &SweepResult{Day: today.Format(dateLayout)}
	active, err := s.queryActive(ctx, store.Eq("on", OnDate))
	if err != nil {
		return nil, err
	}
	var errs []error
	for _, a := range active {
		c, err := s.compiled(ctx, a.App, a.Key, a.Version)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		res.Rules++
		// due = field + days ∈ [today − window, today]  ⇔  field ∈ [today − days − window, today − days]
		lo := today.AddDate(0, 0, -c.Def.Trigger.Days-c.window())
		hi := today.AddDate(0, 0, -c.Def.Trigger.Days)
		path := "data." + c.Def.Trigger.Field
		// A date field holds "YYYY-MM-DD" text, a datetime field a time: one range either
		// way, served by the field's index.
		where := sweepQuery(path, lo.Format(dateLayout), hi.Format(dateLayout)).Where
		if typ, err := s.fieldType(ctx, a.App, a.Form, c.Def.Trigger.Field); err != nil {
			errs = append(errs, err)
			continue
		} else if typ == "datetime" {
			where = store.And(store.Gte(path, lo.UTC()), store.Lt(path, hi.AddDate(0, 0, 1).UTC()))
		}
		err = s.k.Records.EachRecord(ctx, a.App, a.Form, where, func(r *engine.RecordRef) error {
			res.Records++
			day, ok := fieldDay(r.Data[c.Def.Trigger.Field], loc)
			if !ok {
				return nil
			}
			in := &evalInput{form: a.Form, id: r.ID, data: r.Data, status: r.Status, actor: engine.SystemActor}
			s.dateInput(c, in, day.AddDate(0, 0, c.Def.Trigger.Days))
			run, err := s.evaluate(ctx, c, in)
			if err != nil {
				errs = append(errs, err)
				return nil
			}
			if run != nil && run.Outcome == OutcomeFired {
				res.Fired++
			}
			return nil
		})
		if err != nil {
			errs = append(errs, fmt.Errorf("sweep rule %s: %w", c.Key, err))
		}
	}
	return res, errors.Join(errs...)
}

// fieldType is the x-type of a field of a form's latest version.
func (s *Service) fieldType(ctx context.Context, app, form, field string) (string, error) {
	refs, err := s.k.Records.FieldKeys(ctx, app, form)
	if err != nil {
		return "", fmt.Errorf("fields of %s: %w", form, err)
	}
	for _, f := range refs {
		if f.Key == field {
			return f.Type, nil
		}
	}
	return "", fmt.Errorf("field %s of %s: %w", field, form, engine.ErrNotFound)
}

// sweepQuery is the sweep's query of a date field at path: lo ≤ value ≤ hi.
func sweepQuery(path, lo, hi string) store.Query {
	return store.Query{Where: store.And(store.Between(path, lo, hi), store.Empty("deleted"))}
}
