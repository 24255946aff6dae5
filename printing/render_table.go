package printing

import "math"

// tableRows returns the sub-table rows a table prints: the record's field Source, as
// []map[string]any or []any of maps.
func tableRows(t *Table, d *PageData) []map[string]any {
	switch v := d.Record[t.Source].(type) {
	case []map[string]any:
		return v
	case []any:
		rows := make([]map[string]any, 0, len(v))
		for _, x := range v {
			if m, ok := x.(map[string]any); ok {
				rows = append(rows, m)
			}
		}
		return rows
	}
	return nil
}

// tableLayout is a table's header and row heights and how many rows fit its box (at least
// one, so a box too small for any still makes progress).
func tableLayout(el *Element) (header, row float64, perPage int) {
	t := el.Table
	row = t.RowHeight
	if row <= 0 {
		row = 6
	}
	header = t.HeaderHeight
	if header <= 0 {
		header = row
	}
	perPage = max(1, int(math.Floor((el.H-header)/row+1e-9)))
	return header, row, perPage
}

// tablePages is how many pages a table needs for d's rows (1 when it has none).
func tablePages(el *Element, d *PageData) int {
	_, _, per := tableLayout(el)
	n := len(tableRows(el.Table, d))
	return max(1, (n+per-1)/per)
}

// columnWidths gives each column its width, sharing what the fixed widths leave of w among
// the columns without one.
func columnWidths(t *Table, w float64) []float64 {
	out := make([]float64, len(t.Columns))
	fixed, free := 0.0, 0
	for _, c := range t.Columns {
		if c.Width > 0 {
			fixed += c.Width
		} else {
			free++
		}
	}
	share := 0.0
	if free > 0 {
		share = max(0, w-fixed) / float64(free)
	}
	for i, c := range t.Columns {
		out[i] = c.Width
		if c.Width <= 0 {
			out[i] = share
		}
	}
	return out
}

// cellPad is the space left and right of a cell's text, in mm.
const cellPad = 1

// table draws the page-th slice of a table's rows under its header (repeated on every page).
func (r *renderer) table(el *Element, x, y float64, d *PageData, page int) {
	t := el.Table
	header, rowH, per := tableLayout(el)
	rows := tableRows(t, d)
	from := min(len(rows), page*per)
	to := min(len(rows), from+per)
	widths := columnWidths(t, el.W)
	size := fontSize(el.Font.Size, 10)
	if t.Border {
		r.pdf.SetLineWidth(stroke(el.Stroke))
	}
	cells := func(top, h float64, bold bool, text func(i int, c Column) string) {
		cx := x
		for i, c := range t.Columns {
			cw := widths[i]
			if t.Border {
				r.pdf.Rect(cx, top, cw, h, "D")
			}
			f := Font{Bold: bold, Align: c.Align, VAlign: "middle"}
			r.text(text(i, c), cx+cellPad, top, max(0, cw-2*cellPad), h, f, size)
			cx += cw
		}
	}
	cells(y, header, true, func(_ int, c Column) string { return c.Header.In(r.lang) })
	rd := *d
	for i, row := range rows[from:to] {
		rd.Row = row
		cells(y+header+float64(i)*rowH, rowH, false, func(_ int, c Column) string { return Expand(c.Value, &rd, r.lang) })
	}
}
