// Package printing turns records into print output: sheets and labels as PDF (fpdf with a CJK
// TrueType font in the binary), the same labels as ZPL and TSPL for label printers, item codes
// issued per lot (一物一码) and the public pages a scanned code opens.
//
// A print template is a versioned definition (engine.Definitions, kind "printing.template"):
// a page or label size in millimetres and elements placed on it in millimetres. This file is
// the template's model — the contract the PDF renderer, the ZPL/TSPL writers, the API and the
// label designer share.
package printing

import (
	"context"
	"time"

	"tracecraft/engine"
)

// Definition is a print template as an analyst designs it (schema/template.schema.json).
type Definition struct {
	Key  string      `json:"key"`
	Name engine.Text `json:"name"`
	// Form is the form whose records the template prints.
	Form string `json:"form"`
	// Kind is "label" (small, printed on label stock or a label printer) or "sheet" (A4 and
	// such: reports, notices). It changes defaults in the designer, not how elements render.
	Kind string `json:"kind"`
	Page Page   `json:"page"`
	// Repeat is what one page (one label) is made for: RepeatRecord (default), RepeatRow (one
	// per row of the sub-table RepeatField) or RepeatCode (one per item code issued for the
	// record: 一物一码).
	Repeat      string `json:"repeat,omitempty"`
	RepeatField string `json:"repeatField,omitempty"`
	// Elements are drawn in order: a later element is drawn over an earlier one.
	Elements []Element `json:"elements"`
}

// What one page is made for (Definition.Repeat).
const (
	RepeatRecord = "record"
	RepeatRow    = "row"
	RepeatCode   = "code"
)

// Template kinds (Definition.Kind).
const (
	KindLabel = "label"
	KindSheet = "sheet"
)

// Page is the size of one page or label and its margins, in millimetres. Elements are placed
// from the top-left corner of the label (margins do not move them: they are the designer's
// guides and the printable area label printers are told of).
type Page struct {
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
	Margin Margin  `json:"margin"`
	// Sheet lays several labels on one sheet (multi-up: A4 label sheets); nil: one label a page.
	Sheet *Sheet `json:"sheet,omitempty"`
	// DPI is the label printer's resolution for ZPL/TSPL (203, 300 or 600); 203 when 0.
	DPI int `json:"dpi,omitempty"`
}

// Margin is in millimetres.
type Margin struct {
	Top    float64 `json:"top"`
	Right  float64 `json:"right"`
	Bottom float64 `json:"bottom"`
	Left   float64 `json:"left"`
}

// Sheet is a multi-up layout: Rows × Columns labels of Page's size on a sheet of Width ×
// Height mm, the first label's top-left corner at (Margin.Left, Margin.Top), labels GapX and
// GapY apart. Labels fill a row left to right, then the next row.
type Sheet struct {
	Width   float64 `json:"width"`
	Height  float64 `json:"height"`
	Rows    int     `json:"rows"`
	Columns int     `json:"columns"`
	GapX    float64 `json:"gapX"`
	GapY    float64 `json:"gapY"`
	Margin  Margin  `json:"margin"`
}

// Element types (Element.Type).
const (
	ElText       = "text"       // Text with {{placeholders}}
	ElQR         = "qr"         // QR code of Value
	ElDataMatrix = "datamatrix" // GS1 DataMatrix of Value (GS1 element string, "(01)…(10)…")
	ElCode128    = "code128"    // Code 128 of Value
	ElGS1128     = "gs1_128"    // GS1-128 (Code 128 with FNC1) of Value (GS1 element string)
	ElEAN13      = "ean13"      // EAN-13 of Value (12 or 13 digits; the check digit is checked or added)
	ElImage      = "image"      // an image: Src is a file id or {{field}} of an image field
	ElLine       = "line"       // a line from (X, Y) to (X+W, Y+H)
	ElBox        = "box"        // a rectangle, stroked and/or filled
	ElTable      = "table"      // rows of a sub-table, paginating
)

// Element is one thing drawn on a label, placed in millimetres from the label's top-left
// corner: its box is X, Y, W, H; Rotate turns it clockwise about its top-left corner.
type Element struct {
	// ID names the element (unique in the template): errors and the designer point at it.
	ID     string  `json:"id"`
	Type   string  `json:"type"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	W      float64 `json:"w"`
	H      float64 `json:"h"`
	Rotate int     `json:"rotate,omitempty"` // 0, 90, 180 or 270

	// Text is the text of ElText, with placeholders (see Placeholders below).
	Text string `json:"text,omitempty"`
	// Value is the content of a code (QR, DataMatrix, Code 128, GS1-128, EAN-13), with
	// placeholders: "{{code.url}}", "(01){{gtin}}(10){{lot_no}}(17){{expiry|date:YYMMDD}}".
	Value string `json:"value,omitempty"`
	// HumanReadable prints a linear code's text under its bars.
	HumanReadable bool `json:"humanReadable,omitempty"`
	// Src is an image's file id, or "{{field}}" for the record's image field (its first image).
	Src string `json:"src,omitempty"`

	Font Font `json:"font,omitzero"`

	// Stroke is the line width of ElLine and ElBox in mm (0.2 when 0); Fill fills an ElBox.
	Stroke float64 `json:"stroke,omitempty"`
	Fill   bool    `json:"fill,omitempty"`

	// Table is ElTable's layout.
	Table *Table `json:"table,omitempty"`
}

// Font is how ElText (and a table's cells) are set. Sizes are in points.
type Font struct {
	Size   float64 `json:"size,omitempty"` // 10 when 0
	Bold   bool    `json:"bold,omitempty"`
	Align  string  `json:"align,omitempty"`  // "left" (default), "center", "right"
	VAlign string  `json:"valign,omitempty"` // "top" (default), "middle", "bottom"
	// Wrap breaks long text into lines within W (else it is shrunk to fit W, down to 5 pt).
	Wrap bool `json:"wrap,omitempty"`
}

// Table draws rows of the record's sub-table Source in the element's box: a header row, then a
// row per sub-table row; rows that do not fit continue on the next page, whose table starts
// at the same box.
type Table struct {
	Source       string   `json:"source"`
	Columns      []Column `json:"columns"`
	RowHeight    float64  `json:"rowHeight,omitempty"`    // mm; 6 when 0
	HeaderHeight float64  `json:"headerHeight,omitempty"` // mm; RowHeight when 0
	Border       bool     `json:"border,omitempty"`
}

// Column is one column of a Table: its header and the cell text with placeholders over the
// row ("{{row.qty|number:2}} {{row.unit}}"); widths in mm (the rest shared out when 0).
type Column struct {
	Header engine.Text `json:"header"`
	Value  string      `json:"value"`
	Width  float64     `json:"width,omitempty"`
	Align  string      `json:"align,omitempty"`
}

// Placeholders in Text, Value, Src and Column.Value are {{path}} or {{path|format}}:
//
//	{{qty}}                 a field of the record (its value as text: a select's label, a
//	                        user's name, a relation's title); {{supplier.name}} a field of the
//	                        record a relation field points to (one level)
//	{{row.qty}}             a field of the sub-table row (RepeatRow pages, table cells)
//	{{code.serial}} {{code.url}} {{code.gtin}} {{code.lot}} {{code.expiry}}
//	                        the item code of a RepeatCode page (url: its GS1 Digital Link)
//	{{record.id}} {{record.status}} {{now}} {{page}} {{pages}}
//
// Formats: date:YYYY-MM-DD (tokens YYYY YY MM DD HH mm ss), number:N (N decimals), upper,
// lower, pad:N (left-padded with zeros to N). A field the printing principal may not read
// prints as empty: hidden fields never reach a page.

// ItemCode is one issued item code (一物一码) as a RepeatCode page prints it.
type ItemCode struct {
	Serial string `json:"serial"`
	GTIN   string `json:"gtin"` // 14 digits
	Lot    string `json:"lot"`
	// Expiry is the expiry date as YYYY-MM-DD ("" when the lot has none).
	Expiry string `json:"expiry,omitempty"`
	// URL is the code's GS1 Digital Link: https://{domain}/01/{gtin}/10/{lot}/21/{serial}?17={YYMMDD}.
	URL string `json:"url"`
	// Issuance is the issuance the code belongs to (what MarkPrinted is told of).
	Issuance string `json:"issuance"`
	// Index is the code's place in its issuance (0: its first serial): a print skips the
	// codes before the issuance's PrintedTo by it, voided since or not.
	Index int64 `json:"-"`
}

// CodeSource gives the renderer the item codes of a record to print; the code issuance
// (codes*.go) provides it, so the renderer knows nothing of how codes are stored.
type CodeSource interface {
	// EachCode calls fn with the codes of one issuance of a record (issuance "": every code
	// of the record that is neither printed nor voided), in serial order. Voided codes are
	// never given.
	EachCode(ctx context.Context, p *engine.Principal, app, form, record, issuance string, fn func(ItemCode) error) error
	// MarkPrinted records that job printed the codes of issuance (counts per lot; a reprint
	// is a separate, audited act): after EachCode with issuance "", once per ItemCode.Issuance
	// printed, n the codes of it printed.
	MarkPrinted(ctx context.Context, p *engine.Principal, app, issuance, job string, n int) error
}

// PageData is what one label (one page of a sheet template) is drawn from — the record's
// values already resolved for the principal who prints — so the PDF renderer and the ZPL/TSPL
// writers need no store. The engine makes one per record, per sub-table row (RepeatRow) or
// per item code (RepeatCode); a table that does not fit continues on further pages.
type PageData struct {
	// Record holds the record's fields by key as they print: text for selects, users,
	// departments and relations (their titles), float64 for numbers and money, "YYYY-MM-DD" for
	// dates, RFC 3339 for datetimes, bool for switches, []map[string]any for sub-table rows,
	// file ids ([]string) for images. A field the principal may not read is absent.
	Record map[string]any
	// Related holds, by relation field key, the fields of the record it points to (the same
	// resolution and visibility): {{supplier.name}}.
	Related map[string]map[string]any
	// Row is the sub-table row of a RepeatRow page: {{row.qty}}.
	Row map[string]any
	// Code is the item code of a RepeatCode page: {{code.url}}.
	Code *ItemCode
	// ID and Status are {{record.id}} and {{record.status}}.
	ID     string
	Status string
	// Now is {{now}}: the print job's time, the same on every page of a job (and fixed in golden
	// files); the time of expansion when zero.
	Now time.Time
	// Page and Pages are {{page}} and {{pages}}: the label's number in the job and the job's
	// label count, when the engine knows them (0: empty; the PDF renderer numbers the pages of
	// the file it writes).
	Page, Pages int
}
