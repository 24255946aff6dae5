package forms

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"tracecraft/engine"
)

// prepareData runs the save pipeline: input values are prepared by their field types and laid
// over base (the stored data on update, nil on create); scan fields fill their targets;
// formulas are computed; the data schema and the store checks run; on create, numbers are
// drawn last (only when draw is set: a dry run draws none), so a record that fails uses none.
// Every problem comes back at once as FieldErrors with dotted paths ("lines.2.qty"), each
// with the label of its field (field_label.go).
func (s *Service) prepareData(vc *ValueContext, c *Compiled, rules fieldRules, base, input Values, create, draw bool) (Values, error) {
	data, err := s.prepareValues(vc, c, rules, base, input, create, draw)
	if err != nil {
		return nil, labelErrors(c, rules.hidden, err)
	}
	return data, nil
}

// prepareValues is prepareData without the labels.
func (s *Service) prepareValues(vc *ValueContext, c *Compiled, rules fieldRules, base, input Values, create, draw bool) (Values, error) {
	var fe engine.FieldErrors
	data := Values{}
	for k, v := range base {
		data[k] = v
	}
	keys := make([]string, 0, len(input))
	for k := range input {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	given := map[string]bool{}
	for _, k := range keys {
		v := input[k]
		f, ok := c.byKey[k]
		if !ok {
			fe.Add(k, "unknown_field", nil)
			continue
		}
		if _, gen := f.impl.(Generated); gen {
			continue // the server computes these; what the client sends back is ignored
		}
		if rules.hidden[k] {
			// The same answer whatever the value, so a hidden value cannot be guessed by
			// comparing answers.
			fe.Add(k, "unknown_field", nil)
			continue
		}
		if rules.readOnly[k] {
			if create && !isEmpty(v) || !create && !sameValue(s.prepareOne(vc, f, v, nil), base[k]) {
				fe.Add(k, "read_only", nil)
			}
			continue
		}
		given[k] = true
		if v == nil {
			delete(data, k)
			continue
		}
		if pv := s.prepareOne(vc, f, v, &fe); pv != nil {
			data[k] = pv
		} else {
			delete(data, k)
		}
	}
	s.fill(vc, rules.readOnly, c.Fields, data, given, "", &fe)
	// Formulas: the top-level ones once so that rows can read them (parent.x), then the rows',
	// then the top-level ones again, so totals over rows (sum(lines, .amount)) see the rows'
	// computed values. Only the last pass reports errors.
	_ = s.generate(vc, c.formulas, data, create, "", 0)
	for _, f := range c.Fields {
		if f.Type != FieldTypeSubtable {
			continue
		}
		rows, _ := data[f.Key].([]any)
		order, _ := formulaOrder(f.Fields)
		for i, r := range rows {
			row, _ := r.(map[string]any)
			rvc := *vc
			rvc.Row, rvc.Parent = row, data
			if err := s.generate(&rvc, order, row, create, f.Key+"."+strconv.Itoa(i)+".", 0); err != nil {
				fe = append(fe, withoutHiddenComputed(c, rules.hidden, data, asFieldErrors(err, ""))...)
			}
		}
	}
	if err := s.generate(vc, c.formulas, data, create, "", 0); err != nil {
		fe = append(fe, withoutHiddenComputed(c, rules.hidden, data, asFieldErrors(err, ""))...)
	}
	// The schema runs even when values failed to prepare, so a missing required field or a
	// number below its minimum is reported with them; a value that failed was left out of data,
	// and what the schema says of its path (required) would only repeat the first error.
	if err := c.data.Validate(jsonRoundTrip(data), engine.PathDotted); err != nil {
		got, ok := engine.AsFieldErrors(err)
		if !ok {
			return nil, err
		}
		fe = append(fe, unreported(fe, withoutHiddenComputed(c, rules.hidden, data, got))...)
	}
	for _, f := range c.Fields {
		if o, ok := f.State.(*SubtableOptions); ok && o.MinRows > 0 && isEmpty(data[f.Key]) && !hasErrorAt(fe, f.Key) {
			fe.Add(f.Key, "too_few_rows", map[string]any{"min": o.MinRows})
		}
	}
	// Files the write adds must be ones the writer may download; before the store checks, so
	// those say nothing of a file the writer may not see.
	if err := s.checkAttachable(vc, rules.p, c, base, data, &fe); err != nil {
		return nil, err
	}
	// Store checks (related records, users, files) run on the values that prepared, and report
	// what the errors so far do not already cover.
	var checked engine.FieldErrors
	s.check(vc, c.Fields, data, "", &checked)
	fe = append(fe, unreported(fe, checked)...)
	if err := fe.Err(); err != nil {
		return nil, err
	}
	// The record as the write leaves it must still be in the writer's scope; checked before
	// numbers are drawn, so a refused write uses none.
	if rules.after != nil {
		if err := rules.after(data); err != nil {
			return nil, err
		}
	}
	if !draw {
		return data, nil
	}
	var gens []*Field
	for _, f := range c.Fields {
		if g, ok := f.impl.(Generated); ok && g.Phase() == 1 {
			gens = append(gens, f)
		}
	}
	if err := s.generate(vc, gens, data, create, "", 1); err != nil {
		return nil, err
	}
	return data, nil
}

// prepareOne prepares one input value, with sub-table rows cell by cell. Errors go to fe with
// the field's path; a nil fe means "just compute" (for comparisons).
func (s *Service) prepareOne(vc *ValueContext, f *Field, v any, fe *engine.FieldErrors) any {
	if fe == nil {
		fe = &engine.FieldErrors{}
	}
	out, err := f.impl.Prepare(vc, f, v)
	if err != nil {
		*fe = append(*fe, asFieldErrors(err, f.Key)...)
		return nil
	}
	if f.Type != "subtable" {
		return out
	}
	rows, _ := out.([]any)
	if rows == nil {
		if ms, ok := out.([]map[string]any); ok {
			for _, m := range ms {
				rows = append(rows, m)
			}
		}
	}
	cols := map[string]*Field{}
	for _, col := range f.Fields {
		cols[col.Key] = col
	}
	prepared := make([]any, 0, len(rows))
	for i, r := range rows {
		in, ok := r.(map[string]any)
		if !ok {
			fe.Add(fmt.Sprintf("%s.%d", f.Key, i), "wrong_type", map[string]any{"want": "object"})
			continue
		}
		row := map[string]any{}
		given := map[string]bool{}
		ks := make([]string, 0, len(in))
		for k := range in {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			path := fmt.Sprintf("%s.%d.%s", f.Key, i, k)
			col, ok := cols[k]
			if !ok {
				fe.Add(path, "unknown_field", nil)
				continue
			}
			if _, gen := col.impl.(Generated); gen || in[k] == nil {
				continue
			}
			given[k] = true
			cv, err := col.impl.Prepare(vc, col, in[k])
			if err != nil {
				*fe = append(*fe, asFieldErrors(err, path)...)
				continue
			}
			if cv != nil {
				row[k] = cv
			}
		}
		rvc := *vc
		rvc.Row = row
		s.fill(&rvc, nil, f.Fields, row, given, fmt.Sprintf("%s.%d.", f.Key, i), fe)
		prepared = append(prepared, row)
	}
	return prepared
}

// fill lets scan fields fill the fields they map to, where the input left those empty and
// the user may write them (readOnly nil: sub-table columns, which have no field permissions).
func (s *Service) fill(vc *ValueContext, readOnly map[string]bool, fields []*Field, data Values, given map[string]bool, prefix string, fe *engine.FieldErrors) {
	byKey := map[string]*Field{}
	for _, f := range fields {
		byKey[f.Key] = f
	}
	for _, f := range fields {
		fl, ok := f.impl.(Filler)
		v, has := data[f.Key]
		if !ok || !has || !given[f.Key] {
			continue
		}
		vals, err := fl.Fill(vc, f, v)
		if err != nil {
			*fe = append(*fe, asFieldErrors(err, prefix+f.Key)...)
			continue
		}
		for k, fv := range vals {
			target, ok := byKey[k]
			if !ok || given[k] || !isEmpty(data[k]) || fv == nil || readOnly[k] {
				continue
			}
			pv, err := target.impl.Prepare(vc, target, fv)
			if err != nil {
				*fe = append(*fe, asFieldErrors(err, prefix+k)...)
				continue
			}
			data[k] = pv
		}
	}
}

// generate computes generated fields of one phase, in the order given.
func (s *Service) generate(vc *ValueContext, fields []*Field, data Values, create bool, prefix string, phase int) error {
	var fe engine.FieldErrors
	for _, f := range fields {
		g, ok := f.impl.(Generated)
		if !ok || g.Phase() != phase {
			continue
		}
		v, err := g.Generate(vc, f, &data, create)
		if err != nil {
			if got, ok := engine.AsFieldErrors(err); ok {
				fe = append(fe, prefixErrors(got, prefix+f.Key)...)
				continue
			}
			return fmt.Errorf("compute %s%s: %w", prefix, f.Key, err)
		}
		if v == nil {
			delete(data, f.Key)
		} else {
			data[f.Key] = v
		}
	}
	return fe.Err()
}

// check runs the store checks of field types (relations, pickers, files), rows included.
func (s *Service) check(vc *ValueContext, fields []*Field, data Values, prefix string, fe *engine.FieldErrors) {
	for _, f := range fields {
		v, has := data[f.Key]
		if !has || v == nil {
			continue
		}
		if ck, ok := f.impl.(Checked); ok {
			if err := ck.Check(vc, f, v); err != nil {
				*fe = append(*fe, asFieldErrors(err, prefix+f.Key)...)
			}
		}
		if f.Type == "subtable" {
			rows, _ := v.([]any)
			for i, r := range rows {
				if row, ok := r.(map[string]any); ok {
					rvc := *vc
					rvc.Row, rvc.Parent = row, data
					s.check(&rvc, f.Fields, row, fmt.Sprintf("%s%s.%d.", prefix, f.Key, i), fe)
				}
			}
		}
	}
}

// unreported keeps the errors of more whose path is not already in fe nor under a path in fe.
func unreported(fe, more engine.FieldErrors) engine.FieldErrors {
	var out engine.FieldErrors
	for _, m := range more {
		dup := false
		for _, e := range fe {
			if m.Path == e.Path || strings.HasPrefix(m.Path, e.Path+".") {
				dup = true
				break
			}
		}
		if !dup {
			out = append(out, m)
		}
	}
	return out
}

// hasErrorAt tells whether fe has an error at path or below it.
func hasErrorAt(fe engine.FieldErrors, path string) bool {
	for _, e := range fe {
		if e.Path == path || strings.HasPrefix(e.Path, path+".") {
			return true
		}
	}
	return false
}

// asFieldErrors turns a field type's error into field errors rooted at path; any other error
// (the store failed) is a fault, which makes the list a server error, not a 400.
func asFieldErrors(err error, path string) engine.FieldErrors {
	if got, ok := engine.AsFieldErrors(err); ok {
		return prefixErrors(got, path)
	}
	return engine.FieldFault(path, err)
}

func prefixErrors(got engine.FieldErrors, path string) engine.FieldErrors {
	out := make(engine.FieldErrors, len(got))
	for i, e := range got {
		switch {
		case e.Path == "":
			e.Path = path
		case path != "":
			e.Path = path + "." + e.Path
		}
		out[i] = e
	}
	return out
}

// sameValue compares two values as their JSON.
func sameValue(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"read_only":          {ZH: "只读，不能修改", EN: "is read-only"},
		"illegal_transition": {ZH: "当前状态“{from}”不能执行“{transition}”", EN: "cannot take “{transition}” from status “{from}”"},
		"condition_failed":   {ZH: "不满足条件：{when}", EN: "condition not met: {when}"},
	})
}
