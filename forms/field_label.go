package forms

import (
	"slices"
	"strconv"
	"strings"

	"tracecraft/engine"
)

// The labels of field errors: a record's field errors carry the label of the field they are
// about, in both languages, so that the answer reads "质检签名：必填" rather than "qa_sign 必填"
// (engine.FieldError.Sentence). Paths are the save pipeline's: "qa_sign", a sub-table's row
// "items.2" and cell "items.2.qty", a part of a value "place.lat".

// labelErrors labels the field errors err carries from c's fields. Fields and sub-table
// columns hidden from the writer get no label (their errors read as unknown fields: path and
// code), nor do unknown fields.
func labelErrors(c *Compiled, hidden map[string]bool, err error) error {
	return engine.LabelFields(err, func(path string) (engine.Text, bool) {
		if hiddenAt(hidden, path) {
			return engine.Text{}, false
		}
		return c.errorLabel(path)
	})
}

// hiddenAt tells whether the value at a save pipeline's path is in a field hidden from the
// writer: a top-level field ("cost", "place.lat") or a sub-table column, hidden by its dotted
// path ("lines.share" hides "lines.2.share").
func hiddenAt(hidden map[string]bool, path string) bool {
	parts := strings.SplitN(path, ".", 4)
	if hidden[parts[0]] {
		return true
	}
	if len(parts) >= 3 {
		if _, err := strconv.Atoi(parts[1]); err == nil {
			return hidden[parts[0]+"."+parts[2]]
		}
	}
	return false
}

// withoutHiddenComputed drops, from the errors of computing c's generated values, those of
// fields and columns hidden from the writer, and empties those values in data. Such an error
// derives from what the writer may not see (parent.cost / n fails when cost is 0): answering
// it at all, even without a label, would tell them. The value is left empty, as that of a
// formula that cannot be computed yet (a field it reads is empty); a writer who may see the
// field gets the error on their next save.
func withoutHiddenComputed(c *Compiled, hidden map[string]bool, data Values, fe engine.FieldErrors) engine.FieldErrors {
	var out engine.FieldErrors
	for _, e := range fe {
		if e.Fault == nil && hiddenAt(hidden, e.Path) && dropComputed(c, data, e.Path) {
			continue
		}
		out = append(out, e)
	}
	return out
}

// dropComputed empties, in data, the generated value at a save pipeline's path (a formula
// field, or a formula column's cell "lines.2.share") and tells whether there was one; any
// other path is left alone.
func dropComputed(c *Compiled, data Values, path string) bool {
	parts := strings.SplitN(path, ".", 4)
	f, ok := c.byKey[parts[0]]
	switch {
	case !ok:
		return false
	case isGenerated(f):
		delete(data, f.Key)
		return true
	case len(parts) < 3 || f.Type != FieldTypeSubtable:
		return false
	}
	col := slices.IndexFunc(f.Fields, func(col *Field) bool { return col.Key == parts[2] })
	if col < 0 || !isGenerated(f.Fields[col]) {
		return false
	}
	n, _ := strconv.Atoi(parts[1])
	if rows, _ := data[f.Key].([]any); n >= 0 && n < len(rows) {
		if row, ok := rows[n].(map[string]any); ok {
			delete(row, parts[2])
		}
	}
	return true
}

func isGenerated(f *Field) bool {
	_, gen := f.impl.(Generated)
	return gen
}

// errorLabel is the label people know the value at path by: the field's own label, a
// sub-table's row ("明细 第 3 行") or cell ("明细 第 3 行 · 数量"), or a part of a value after
// its field's label ("位置 · lat"). A field without a label of its own is named by its key
// where it is part of a longer label, and has none alone.
func (c *Compiled) errorLabel(path string) (engine.Text, bool) {
	parts := strings.Split(path, ".")
	f, ok := c.byKey[parts[0]]
	if !ok {
		return engine.Text{}, false
	}
	if len(parts) == 1 {
		return f.Label, f.Label != (engine.Text{})
	}
	if n, err := strconv.Atoi(parts[1]); err == nil && f.Type == FieldTypeSubtable && n >= 0 {
		params := func(lang string) map[string]any {
			return map[string]any{"table": labelOrKey(f, lang), "row": n + 1}
		}
		if len(parts) == 2 {
			return bothLangs(func(lang string) string { return engine.Message(lang, "forms.row_label", params(lang)) }), true
		}
		for _, col := range f.Fields {
			if col.Key == parts[2] {
				return bothLangs(func(lang string) string {
					p := params(lang)
					p["column"] = labelOrKey(col, lang)
					label := engine.Message(lang, "forms.cell_label", p)
					if len(parts) > 3 {
						label += " · " + strings.Join(parts[3:], ".")
					}
					return label
				}), true
			}
		}
		return engine.Text{}, false
	}
	rest := strings.Join(parts[1:], ".")
	return bothLangs(func(lang string) string { return labelOrKey(f, lang) + " · " + rest }), true
}

// labelOrKey is f's label in lang, or its key when it has none.
func labelOrKey(f *Field, lang string) string {
	if l := strings.TrimSpace(f.Label.In(lang)); l != "" {
		return l
	}
	return f.Key
}

func bothLangs(render func(lang string) string) engine.Text {
	return engine.Text{ZH: render(engine.LangZH), EN: render(engine.LangEN)}
}

func init() {
	engine.RegisterMessages(map[string]engine.Text{
		"forms.row_label":  {ZH: "{table} 第 {row} 行", EN: "{table} row {row}"},
		"forms.cell_label": {ZH: "{table} 第 {row} 行 · {column}", EN: "{table} row {row} · {column}"},
	})
}
