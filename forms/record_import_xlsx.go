package forms

import (
	"archive/zip"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"path"
	"strconv"
	"strings"

	"tracecraft/engine"
)

// Limits of the workbook reader. A workbook is a zip of XML parts; its 10 MiB can unpack to
// gigabytes, so every part is read as a stream through xmlGuard and only what an import needs
// is kept: the shared strings' text and one row at a time.
const (
	// xlsxMaxParts caps the entries of the zip (its directory is read whole).
	xlsxMaxParts = 10_000
	// xlsxMaxToken caps one piece of XML — a tag with its attributes, a text, a comment — so that
	// the XML decoder never holds more (a cell of MaxImportCellBytes, escaped).
	xlsxMaxToken = 4 * MaxImportCellBytes
	// xlsxMaxDepth caps the nesting of elements (spreadsheet XML nests about six deep).
	xlsxMaxDepth = 64
	// xlsxMaxStringBytes caps the text of the shared strings table, which is kept whole: cells
	// name its entries by index.
	xlsxMaxStringBytes = 32 << 20
	// xlsxMaxColumn is column XFD, the last a spreadsheet has.
	xlsxMaxColumn = 16_384
)

// Limits that tests lower, so that reaching them costs little (variables for that only).
var (
	// xlsxMaxUnzipped caps the bytes unpacked from all parts read (the package's relationships,
	// the workbook, the shared strings and the first sheet); the other parts are never unpacked.
	xlsxMaxUnzipped int64 = 128 << 20
	// xlsxMaxStrings caps the entries of the shared strings table.
	xlsxMaxStrings = 4_000_000
)

// Relationship types of the parts the reader follows.
const (
	relOfficeDocument = "/officeDocument"
	relSharedStrings  = "/sharedStrings"
)

// readXLSX reads the first worksheet with raw cell values: numbers as stored, not as their
// number format shows them (a format could round them or show a date as 11-25-26); shared and
// inline strings as their text; booleans as 1 and 0; formulas as their cached result.
func readXLSX(data []byte, sh *sheet) error {
	// The zip directory is parsed whole, an entry costing a few hundred bytes: count the entries'
	// signatures first (each central directory entry starts with one).
	if bytes.Count(data, []byte("PK\x01\x02")) > xlsxMaxParts {
		return xlsxInvalid(fmt.Sprintf("more than %d parts", xlsxMaxParts))
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return xlsxInvalid(err.Error())
	}
	wb := &workbookReader{parts: map[string]*zip.File{}, budget: xlsxMaxUnzipped}
	for _, f := range zr.File {
		name := strings.ToLower(strings.TrimPrefix(strings.ReplaceAll(f.Name, `\`, "/"), "/"))
		if _, ok := wb.parts[name]; !ok {
			wb.parts[name] = f
		}
	}
	sheetPath, stringsPath, err := wb.locate()
	if err != nil {
		return err
	}
	if sheetPath == "" {
		return engine.Invalid("file", "import_empty", nil)
	}
	if stringsPath != "" {
		if err := wb.readStrings(stringsPath); err != nil {
			return err
		}
	}
	return wb.readSheet(sheetPath, sh)
}

func xlsxInvalid(detail string) error {
	return engine.Invalid("file", "invalid_format", map[string]any{"detail": "not an xlsx workbook: " + detail})
}

// workbookReader reads the parts of one workbook against one budget of unpacked bytes.
type workbookReader struct {
	parts  map[string]*zip.File // by lower-case name
	budget int64
	// The shared strings, end to end in text; ends[i] is where string i ends.
	text []byte
	ends []uint32
}

// locate finds the first worksheet and the shared strings by the package's relationships:
// _rels/.rels names the workbook, the workbook lists its sheets in order, and the workbook's
// relationships give each sheet's part. A part that is missing is "" (no sheet: an empty file).
func (wb *workbookReader) locate() (sheetPath, stringsPath string, err error) {
	workbook := "xl/workbook.xml"
	if rels, err := wb.rels("_rels/.rels", ""); err != nil {
		return "", "", err
	} else if t := rels.byType(relOfficeDocument); t != "" {
		workbook = t
	}
	dir, base := path.Split(workbook)
	rels, err := wb.rels(dir+"_rels/"+base+".rels", dir)
	if err != nil {
		return "", "", err
	}
	stringsPath = rels.byType(relSharedStrings)
	if stringsPath == "" && wb.part(dir+"sharedStrings.xml") != nil {
		stringsPath = dir + "sharedStrings.xml"
	}
	// The first <sheet> of <sheets> is the first sheet; its r:id names its part.
	var sheetID string
	err = wb.walk(workbook, func(d *xml.Decoder, t xml.StartElement) error {
		if t.Name.Local == "sheet" && sheetID == "" {
			sheetID = attr(t, "id")
			if sheetID == "" {
				sheetID = "\x00" // a sheet without a relationship: look for sheet1.xml below
			}
		}
		return nil
	})
	if err != nil {
		return "", "", err
	}
	switch {
	case sheetID == "":
		return "", stringsPath, nil
	case rels.byID[sheetID] != "":
		sheetPath = rels.byID[sheetID]
	default:
		sheetPath = dir + "worksheets/sheet1.xml"
	}
	if wb.part(sheetPath) == nil {
		return "", "", xlsxInvalid("the first sheet's part " + sheetPath + " is missing")
	}
	return sheetPath, stringsPath, nil
}

// relationships are a part's relationships: targets by id, resolved against the part's folder.
type relationships struct {
	byID  map[string]string
	types map[string]string // target by type
}

func (r relationships) byType(suffix string) string {
	for typ, target := range r.types {
		if strings.HasSuffix(typ, suffix) {
			return target
		}
	}
	return ""
}

// rels reads a relationships part; a missing one has no relationships.
func (wb *workbookReader) rels(name, dir string) (relationships, error) {
	r := relationships{byID: map[string]string{}, types: map[string]string{}}
	if wb.part(name) == nil {
		return r, nil
	}
	err := wb.walk(name, func(d *xml.Decoder, t xml.StartElement) error {
		if t.Name.Local != "Relationship" || attr(t, "TargetMode") == "External" {
			return nil
		}
		target := attr(t, "Target")
		if strings.HasPrefix(target, "/") {
			target = path.Clean(target)[1:]
		} else {
			target = path.Join(dir, target)
		}
		r.byID[attr(t, "Id")] = target
		if typ := attr(t, "Type"); r.types[typ] == "" {
			r.types[typ] = target
		}
		return nil
	})
	return r, err
}

func (wb *workbookReader) part(name string) *zip.File {
	return wb.parts[strings.ToLower(strings.TrimPrefix(name, "/"))]
}

// open opens a part for streaming through the guard.
func (wb *workbookReader) open(name string) (*xml.Decoder, func(), error) {
	f := wb.part(name)
	if f == nil {
		return nil, nil, xlsxInvalid("part " + name + " is missing")
	}
	rc, err := f.Open()
	if err != nil {
		return nil, nil, xlsxInvalid(err.Error())
	}
	d := xml.NewDecoder(&xmlGuard{r: rc, budget: &wb.budget})
	d.Strict = true
	return d, func() { rc.Close() }, nil
}

// walk calls fn for every start element of a part.
func (wb *workbookReader) walk(name string, fn func(*xml.Decoder, xml.StartElement) error) error {
	d, closePart, err := wb.open(name)
	if err != nil {
		return err
	}
	defer closePart()
	depth := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return guardError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > xlsxMaxDepth {
				return xlsxInvalid("elements nested too deep")
			}
			if err := fn(d, t); err != nil {
				return err
			}
		case xml.EndElement:
			depth--
		}
	}
}

// readStrings keeps the text of every <si> of the shared strings: its <t>, or its rich-text
// runs' <t> joined; phonetic runs (<rPh>) are not part of the text.
func (wb *workbookReader) readStrings(name string) error {
	d, closePart, err := wb.open(name)
	if err != nil {
		return err
	}
	defer closePart()
	var inSI, inT bool
	phonetic, depth := 0, 0
	start := 0
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return guardError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > xlsxMaxDepth {
				return xlsxInvalid("elements nested too deep")
			}
			switch t.Name.Local {
			case "si":
				inSI, start = true, len(wb.text)
			case "rPh":
				phonetic++
			case "t":
				inT = inSI && phonetic == 0
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "si":
				if !inSI {
					continue
				}
				inSI = false
				if len(wb.ends) == xlsxMaxStrings {
					return xlsxInvalid(fmt.Sprintf("more than %d shared strings", xlsxMaxStrings))
				}
				if bytes.Contains(wb.text[start:], []byte("_x")) {
					s := bstrDecode(string(wb.text[start:]))
					wb.text = append(wb.text[:start], s...)
				}
				wb.ends = append(wb.ends, uint32(len(wb.text)))
			case "rPh":
				phonetic--
			case "t":
				inT = false
			}
		case xml.CharData:
			if !inT {
				continue
			}
			if len(wb.text)+len(t) > xlsxMaxStringBytes {
				return xlsxInvalid(fmt.Sprintf("shared strings longer than %d MiB", xlsxMaxStringBytes>>20))
			}
			wb.text = append(wb.text, t...)
		}
	}
}

// sharedString is shared string i.
func (wb *workbookReader) sharedString(i int) (string, bool) {
	if i < 0 || i >= len(wb.ends) {
		return "", false
	}
	from := uint32(0)
	if i > 0 {
		from = wb.ends[i-1]
	}
	return string(wb.text[from:wb.ends[i]]), true
}

// readSheet streams the rows of a worksheet into sh. A row's cells are placed by their column
// (r="C7"); a non-blank cell right of MaxImportColumns refuses the file before any padding is
// made for it, and blank ones out there are dropped as sheet.add would drop them.
func (wb *workbookReader) readSheet(name string, sh *sheet) error {
	d, closePart, err := wb.open(name)
	if err != nil {
		return err
	}
	defer closePart()
	var (
		depth, rowNo, col int
		cells             []string
		inRow             bool
		cellType          string
		inCell            bool
		v, is             strings.Builder // the text of <v>, and of an inline string's <t>s
		inV, inIS, inT    bool
		hasIS             bool
		phonetic          int
	)
	tooLong := func() error {
		return engine.Invalid("file", "import_cell_too_long", map[string]any{"row": max(rowNo, 1), "max": "1 MiB"})
	}
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if errors.Is(err, errTextTooLong) {
			return tooLong()
		}
		if err != nil {
			return guardError(err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if depth++; depth > xlsxMaxDepth {
				return xlsxInvalid("elements nested too deep")
			}
			switch t.Name.Local {
			case "row":
				n := rowNo + 1
				if r := attr(t, "r"); r != "" {
					v, err := strconv.Atoi(r)
					if err != nil || v < 1 {
						return xlsxInvalid("row number " + strconv.Quote(r))
					}
					n = max(v, n)
				}
				if n > MaxImportLines {
					return engine.Invalid("file", "import_too_many_lines", map[string]any{"max": MaxImportLines})
				}
				rowNo, col, cells, inRow = n, 0, cells[:0], true
			case "c":
				if !inRow {
					continue
				}
				col++
				if r := attr(t, "r"); r != "" {
					c, ok := columnOf(r)
					if !ok {
						return xlsxInvalid("cell reference " + strconv.Quote(r))
					}
					col = c
				}
				if col > xlsxMaxColumn {
					return xlsxInvalid("a cell right of column XFD")
				}
				cellType, inCell, hasIS = attr(t, "t"), true, false
				v.Reset()
				is.Reset()
			case "v":
				inV = inCell && !inIS
			case "is":
				inIS, hasIS = inCell, inCell
			case "rPh":
				phonetic++
			case "t":
				inT = inIS && phonetic == 0
			}
		case xml.EndElement:
			depth--
			switch t.Name.Local {
			case "row":
				if inRow {
					inRow = false
					if err := sh.add(rowNo, cells); err != nil {
						return err
					}
				}
			case "c":
				if !inCell {
					continue
				}
				inCell = false
				val, err := wb.cellValue(cellType, v.String(), is.String(), hasIS)
				if err != nil {
					return err
				}
				if val == "" {
					continue
				}
				if col > MaxImportColumns {
					if strings.TrimSpace(val) == "" {
						continue
					}
					return engine.Invalid("file", "import_too_wide", map[string]any{"max": MaxImportColumns, "row": rowNo})
				}
				for len(cells) < col {
					cells = append(cells, "")
				}
				cells[col-1] = val
			case "v":
				inV = false
			case "is":
				inIS = false
			case "rPh":
				phonetic--
			case "t":
				inT = false
			}
		case xml.CharData:
			var b *strings.Builder
			switch {
			case inT:
				b = &is
			case inV:
				b = &v
			default:
				continue
			}
			if b.Len()+len(t) > MaxImportCellBytes {
				return tooLong()
			}
			b.Write(t)
		}
	}
}

// cellValue is a cell's raw value as excelize's RawCellValue gives it: v is the text of its
// <v>, is that of its inline string (hasIS: it has one).
func (wb *workbookReader) cellValue(typ, v, is string, hasIS bool) (string, error) {
	switch typ {
	case "s":
		if strings.TrimSpace(v) == "" {
			return "", nil
		}
		i, err := strconv.Atoi(strings.TrimSpace(v))
		s, ok := wb.sharedString(i)
		if err != nil || !ok {
			return "", xlsxInvalid("shared string " + strconv.Quote(v) + " does not exist")
		}
		return s, nil
	case "inlineStr":
		if hasIS {
			return bstrDecode(is), nil
		}
	}
	return v, nil
}

// columnOf reads the column of a cell reference ("C7", "$AB$12") as a number from 1.
func columnOf(ref string) (int, bool) {
	ref = strings.TrimPrefix(ref, "$")
	col, i := 0, 0
	for ; i < len(ref); i++ {
		c := ref[i] | 0x20 // lower case
		if c < 'a' || c > 'z' {
			break
		}
		if col = col*26 + int(c-'a'+1); col > xlsxMaxColumn {
			return 0, false
		}
	}
	return col, i > 0
}

// bstrDecode undoes the _xHHHH_ escapes that spreadsheets write for characters XML cannot hold
// (_x000D_ for a carriage return; _x005F_ for the underscore of a literal "_x…_").
func bstrDecode(s string) string {
	if !strings.Contains(s, "_x") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		if i+7 <= len(s) && s[i] == '_' && s[i+1] == 'x' && s[i+6] == '_' {
			if v, err := strconv.ParseUint(s[i+2:i+6], 16, 16); err == nil {
				b.WriteRune(rune(v))
				i += 7
				continue
			}
		}
		b.WriteByte(s[i])
		i++
	}
	return b.String()
}

func attr(t xml.StartElement, local string) string {
	for _, a := range t.Attr {
		if a.Name.Local == local {
			return a.Value
		}
	}
	return ""
}

// xmlGuard's refusals.
var (
	errTextTooLong      = errors.New("a text is too long")
	errTokenTooLong     = errors.New("a piece of XML is too long")
	errUnzippedTooLarge = errors.New("unpacked too much")
	errDTD              = errors.New("a document type declaration")
)

// guardError turns a read error into the import's error on "file".
func guardError(err error) error {
	switch {
	case errors.Is(err, errUnzippedTooLarge):
		return engine.Invalid("file", "import_unzipped_too_large", map[string]any{"max": fmt.Sprintf("%d MiB", xlsxMaxUnzipped>>20)})
	case errors.Is(err, errTokenTooLong), errors.Is(err, errTextTooLong):
		return xlsxInvalid(fmt.Sprintf("a piece of XML longer than %d MiB", xlsxMaxToken>>20))
	}
	return xlsxInvalid(err.Error())
}

// xmlGuard passes XML through while counting the bytes against a budget and the length of
// every piece the decoder would have to hold at once: from one < to the > that ends its tag
// (outside quoted attribute values), of a comment, CDATA section or processing instruction to
// its end marker, and of the text between tags. A piece longer than xlsxMaxToken, a document
// type declaration (entities are of no use in a workbook) or the budget running out stops the
// read with an error, before the decoder has buffered more.
type xmlGuard struct {
	r      io.Reader
	budget *int64
	state  guardState
	run    int    // bytes of the current piece
	quote  byte   // the quote of an attribute value in a tag
	prefix []byte // after '<', the bytes that tell what the piece is
	tail   [2]byte
}

type guardState int

const (
	inText guardState = iota
	inOpen            // just after '<'
	inTag
	inQuote
	inComment
	inCDATA
	inPI
)

func (g *xmlGuard) Read(p []byte) (int, error) {
	n, err := g.r.Read(p)
	if *g.budget -= int64(n); *g.budget < 0 {
		return 0, errUnzippedTooLarge
	}
	for i := 0; i < n; {
		// Texts and quoted values are skipped to their end in one go; the rest byte by byte.
		var stop byte
		switch g.state {
		case inText:
			stop = '<'
		case inQuote:
			stop = g.quote
		default:
			if err := g.step(p[i]); err != nil {
				return 0, err
			}
			i++
			continue
		}
		j := bytes.IndexByte(p[i:n], stop)
		if j < 0 {
			j = n - i
		}
		if g.run += j; g.run > xlsxMaxToken {
			return 0, g.tooLong()
		}
		if i += j; i < n {
			if err := g.step(p[i]); err != nil {
				return 0, err
			}
			i++
		}
	}
	return n, err
}

func (g *xmlGuard) tooLong() error {
	if g.state == inText {
		return errTextTooLong
	}
	return errTokenTooLong
}

func (g *xmlGuard) step(b byte) error {
	if g.run++; g.run > xlsxMaxToken {
		return g.tooLong()
	}
	switch g.state {
	case inText:
		if b == '<' {
			g.state, g.run, g.prefix = inOpen, 1, g.prefix[:0]
		}
	case inOpen:
		g.prefix = append(g.prefix, b)
		switch {
		case g.prefix[0] == '?':
			g.state, g.tail = inPI, [2]byte{}
		case g.prefix[0] != '!':
			g.state = inTag
			return g.tagByte(b)
		case string(g.prefix) == "!--":
			g.state, g.tail = inComment, [2]byte{}
		case string(g.prefix) == "![CDATA[":
			g.state, g.tail = inCDATA, [2]byte{}
		case !strings.HasPrefix("!--", string(g.prefix)) && !strings.HasPrefix("![CDATA[", string(g.prefix)):
			return errDTD
		}
	case inTag:
		return g.tagByte(b)
	case inQuote:
		if b == g.quote {
			g.state = inTag
		}
	case inComment:
		g.endsWith(b, "-->")
	case inCDATA:
		g.endsWith(b, "]]>")
	case inPI:
		g.endsWith(b, "?>")
	}
	return nil
}

func (g *xmlGuard) tagByte(b byte) error {
	switch b {
	case '"', '\'':
		g.state, g.quote = inQuote, b
	case '>':
		g.state, g.run = inText, 0
	}
	return nil
}

// endsWith ends a comment, CDATA section or instruction at its marker.
func (g *xmlGuard) endsWith(b byte, marker string) {
	m := len(marker)
	if b == marker[m-1] && (m == 2 && g.tail[1] == marker[0] || m == 3 && g.tail[0] == marker[0] && g.tail[1] == marker[1]) {
		g.state, g.run, g.tail = inText, 0, [2]byte{}
		return
	}
	g.tail[0], g.tail[1] = g.tail[1], b
}
