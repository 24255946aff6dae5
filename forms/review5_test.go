package forms

import (
	"context"
	"strings"
	"testing"

	"tracecraft/engine"
)

// hiddenLotDef hides cost and secret from clerks: unit (top level) and lines.share (a column
// over parent.cost) are formulas over a hidden field, so they are hidden too.
const hiddenLotDef = `{
  "key": "lot",
  "name": {"zh-CN": "批次"},
  "schema": {"type": "object", "properties": {
    "qty":   {"x-type": "number", "x-label": {"zh-CN": "数量", "en": "Qty"}},
    "cost":  {"x-type": "number", "x-label": {"zh-CN": "成本", "en": "Cost"}},
    "secret": {"x-type": "text", "x-label": {"zh-CN": "机密批注", "en": "Secret note"}},
    "unit":  {"x-type": "formula", "x-label": {"zh-CN": "单位成本机密", "en": "Secret unit cost"}, "x-options": {"expr": "(qty ?? 0) / (cost ?? 0)"}},
    "lines": {"x-type": "subtable", "x-label": {"zh-CN": "明细", "en": "Lines"}, "items": {"type": "object", "properties": {
      "n":     {"x-type": "number", "x-label": {"zh-CN": "件数", "en": "N"}},
      "share": {"x-type": "formula", "x-label": {"zh-CN": "成本分摊机密", "en": "Secret cost share"}, "x-options": {"expr": "parent.cost / n"}}
    }}}
  }, "required": ["secret"]},
  "permissions": {"clerk": {"actions": ["read", "create", "update"], "hidden": ["cost", "secret"]}}
}`

func newHiddenLotService(t *testing.T) (*Service, context.Context) {
	t.Helper()
	return newPublishedForm(t, hiddenLotDef, "lot")
}

// A formula hidden from the writer (a top-level one, a sub-table column over parent.cost)
// that cannot be computed neither refuses the write nor says so: with cost 5 or 0 the clerk
// gets the same answer, and no error names a hidden field. The value is left empty.
func TestReview5_1_HiddenFormulaErrorsAreNoOracle(t *testing.T) {
	s, ctx := newHiddenLotService(t)
	admin := engine.SystemPrincipal()
	clerk := &engine.Principal{Username: "carl", Roles: []string{"clerk"}}
	for _, cost := range []float64{5, 0} {
		rec, err := s.Create(ctx, admin, "qa", "lot", Values{"qty": 1, "cost": 5, "secret": "x", "lines": []any{map[string]any{"n": 2}}})
		if err != nil {
			t.Fatal(err)
		}
		if cost == 0 {
			// unit = qty / cost fails only now: the clerk must not learn cost is 0.
			if rec, err = s.Update(ctx, admin, "qa", "lot", rec.ID, rec.Rev, Values{"cost": 0, "qty": nil}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := s.Update(ctx, clerk, "qa", "lot", rec.ID, rec.Rev, Values{"qty": 2, "lines": []any{map[string]any{"n": 0}}})
		if err != nil {
			fe, _ := engine.AsFieldErrors(err)
			for _, f := range fe {
				if strings.Contains(f.Label.ZH+f.Label.EN+f.Sentence(engine.LangZH)+f.Sentence(engine.LangEN), "机密") ||
					strings.Contains(f.Label.EN+f.Sentence(engine.LangEN), "Secret") {
					t.Errorf("cost %v: a hidden field's label leaks: %s %q", cost, f.Path, f.Sentence(engine.LangZH))
				}
			}
			t.Fatalf("cost %v: the clerk's write is refused over a value they may not see: %v", cost, err)
		}
		if _, ok := got.Data["unit"]; ok {
			t.Errorf("cost %v: the clerk sees unit: %v", cost, got.Data)
		}
		full, err := s.Get(ctx, admin, "qa", "lot", rec.ID)
		if err != nil {
			t.Fatal(err)
		}
		rows, _ := full.Data["lines"].([]any)
		if len(rows) != 1 {
			t.Fatalf("cost %v: lines = %v", cost, full.Data["lines"])
		}
		if row, _ := rows[0].(map[string]any); row["share"] != nil || row["n"] != float64(0) {
			t.Errorf("cost %v: the row that cannot be computed = %v, want n 0 and no share", cost, row)
		}
		if cost == 0 && full.Data["unit"] != nil {
			t.Errorf("unit over cost 0 = %v, want empty", full.Data["unit"])
		}
	}
	// Those who may see the fields are still told.
	rec, err := s.Create(ctx, admin, "qa", "lot", Values{"qty": 1, "cost": 5, "secret": "x"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Update(ctx, admin, "qa", "lot", rec.ID, rec.Rev, Values{"lines": []any{map[string]any{"n": 0}}})
	fe, ok := engine.AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Path != "lines.0.share" || fe[0].Label.ZH != "明细 第 1 行 · 成本分摊机密" {
		t.Errorf("the designer's write: %v, want the labelled error on lines.0.share", err)
	}
}

// An import's errors on a field hidden from the importer name neither its column nor its
// label: a required hidden field is reported as an unknown field would be, by path and code.
func TestReview5_2_ImportErrorsDoNotNameHiddenFields(t *testing.T) {
	s, ctx := newHiddenLotService(t)
	clerk := &engine.Principal{Username: "carl", Roles: []string{"clerk"}}
	for _, lang := range []string{engine.LangZH, engine.LangEN} {
		rep, err := s.Import(ctx, clerk, "qa", "lot", FormatCSV, strings.NewReader("数量\n1\n"), true, lang)
		if err != nil {
			t.Fatal(err)
		}
		found := false
		for _, ie := range rep.Errors {
			if strings.Contains(ie.Label+ie.Column+ie.Message, "机密") || strings.Contains(ie.Label+ie.Column+ie.Message, "Secret") {
				t.Errorf("%s: a hidden field is named: %+v", lang, ie)
			}
			if ie.Field == "secret" {
				found = true
				if ie.Code != "required" || ie.Column != "" || ie.Label != "" || ie.Row != 2 {
					t.Errorf("%s: the hidden field's error = %+v, want row 2, required, no column, no label", lang, ie)
				}
			}
		}
		if !found {
			t.Errorf("%s: no error on the required field: %+v", lang, rep.Errors)
		}
	}
}
