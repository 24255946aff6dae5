package printing

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"tracecraft/engine"
)

// ErrPlaceholder is what CheckPlaceholders' errors wrap: a placeholder that cannot be read
// (unclosed, empty, a bad path or an unknown format).
var ErrPlaceholder = errors.New("bad placeholder")

// Placeholder is one {{path}} or {{path|format}} found in a template's text: Start and End are
// the byte offsets of "{{" and just past "}}" in the text.
type Placeholder struct {
	Path   string
	Format string
	Start  int
	End    int
}

// Field returns the relation field a placeholder goes through ("supplier" in
// {{supplier.name}}, "" for the record's own fields) and the field it reads; both "" for
// row., code., record., now, page and pages. The compiler checks them against the form.
func (p Placeholder) Field() (relation, field string) {
	head, tail, dotted := strings.Cut(p.Path, ".")
	switch {
	case !dotted && (head == "now" || head == "page" || head == "pages"):
		return "", ""
	case !dotted:
		return "", head
	case head == "row" || head == "code" || head == "record":
		return "", ""
	}
	return head, tail
}

// Names a placeholder path may end in after code. and record. (see template_model.go).
var (
	codePaths   = map[string]bool{"serial": true, "url": true, "gtin": true, "lot": true, "expiry": true}
	recordPaths = map[string]bool{"id": true, "status": true}
)

// ParsePlaceholders returns the placeholders of s in order. Text outside "{{ }}" is literal;
// spaces inside the braces are ignored. The error (wrapping ErrPlaceholder) names the first
// placeholder that cannot be read and why.
func ParsePlaceholders(s string) ([]Placeholder, error) {
	var out []Placeholder
	for i := 0; ; {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			return out, nil
		}
		start := i + j
		k := strings.Index(s[start+2:], "}}")
		if k < 0 {
			return out, fmt.Errorf("%w %q at offset %d: no closing }}", ErrPlaceholder, clip(s[start:]), start)
		}
		end := start + 2 + k + 2
		ph, err := parsePlaceholder(s[start+2:end-2], start, end)
		if err != nil {
			return out, err
		}
		out = append(out, ph)
		i = end
	}
}

// CheckPlaceholders reports the first placeholder of s that cannot be read, nil when all can.
// It checks form, not that a field exists: Placeholder.Field gives the field for that.
func CheckPlaceholders(s string) error {
	_, err := ParsePlaceholders(s)
	return err
}

func parsePlaceholder(inner string, start, end int) (Placeholder, error) {
	raw := "{{" + inner + "}}"
	path, format, _ := strings.Cut(inner, "|")
	ph := Placeholder{Path: strings.TrimSpace(path), Format: strings.TrimSpace(format), Start: start, End: end}
	if err := checkPath(ph.Path); err != nil {
		return ph, fmt.Errorf("%w %s: %s", ErrPlaceholder, raw, err)
	}
	if strings.Contains(inner, "|") {
		if err := checkFormat(ph.Format); err != nil {
			return ph, fmt.Errorf("%w %s: %s", ErrPlaceholder, raw, err)
		}
	}
	return ph, nil
}

func checkPath(path string) error {
	if path == "" {
		return errors.New("no field named")
	}
	parts := strings.Split(path, ".")
	if len(parts) > 2 {
		return fmt.Errorf("path %q goes more than one relation deep", path)
	}
	for _, p := range parts {
		if !isIdent(p) {
			return fmt.Errorf("path %q: %q is not a field key", path, p)
		}
	}
	if len(parts) == 1 {
		return nil
	}
	switch parts[0] {
	case "code":
		if !codePaths[parts[1]] {
			return fmt.Errorf("code has no %q (serial, url, gtin, lot, expiry)", parts[1])
		}
	case "record":
		if !recordPaths[parts[1]] {
			return fmt.Errorf("record has no %q (id, status)", parts[1])
		}
	case "now", "page", "pages":
		return fmt.Errorf("%s has no fields", parts[0])
	}
	return nil
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z':
		case i > 0 && r >= '0' && r <= '9':
		default:
			return false
		}
	}
	return true
}

func checkFormat(f string) error {
	name, arg, hasArg := strings.Cut(f, ":")
	switch name {
	case "upper", "lower":
		if hasArg {
			return fmt.Errorf("format %q takes no argument", name)
		}
		return nil
	case "date":
		if strings.TrimSpace(arg) == "" {
			return errors.New("format date needs a pattern, e.g. date:YYYY-MM-DD")
		}
		return nil
	case "number", "pad":
		n, err := strconv.Atoi(arg)
		if err != nil || n < 0 || name == "number" && n > 10 || name == "pad" && n > 64 {
			return fmt.Errorf("format %s needs a count, e.g. %s:2 (got %q)", name, name, arg)
		}
		return nil
	case "":
		return errors.New("empty format after |")
	}
	return fmt.Errorf("unknown format %q (date:, number:, upper, lower, pad:)", name)
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// Expand returns s with each placeholder replaced by d's value as text in lang (zh-CN or en:
// switches print 是/否 or Yes/No). Values the page does not have print as empty, and so does a
// placeholder CheckPlaceholders would refuse (definitions are checked when saved, so that only
// happens to text that was never compiled); a value a format cannot apply to (a date format on
// text that is no date) prints unformatted.
func Expand(s string, d *PageData, lang string) string {
	if !strings.Contains(s, "{{") {
		return s
	}
	var b strings.Builder
	i := 0
	for {
		j := strings.Index(s[i:], "{{")
		if j < 0 {
			break
		}
		start := i + j
		k := strings.Index(s[start+2:], "}}")
		if k < 0 {
			break
		}
		end := start + 2 + k + 2
		b.WriteString(s[i:start])
		if ph, err := parsePlaceholder(s[start+2:end-2], start, end); err == nil {
			b.WriteString(ph.text(d, lang))
		}
		i = end
	}
	b.WriteString(s[i:])
	return b.String()
}

// Lookup returns the value a placeholder path names on d as PageData holds it (see PageData),
// and whether d has it.
func Lookup(d *PageData, path string) (any, bool) {
	if d == nil {
		return nil, false
	}
	head, tail, dotted := strings.Cut(path, ".")
	if !dotted {
		switch head {
		case "now":
			return d.now(), true
		case "page":
			return pageNumber(d.Page)
		case "pages":
			return pageNumber(d.Pages)
		}
		v, ok := d.Record[head]
		return v, ok
	}
	switch head {
	case "row":
		v, ok := d.Row[tail]
		return v, ok
	case "code":
		if d.Code == nil {
			return nil, false
		}
		switch tail {
		case "serial":
			return d.Code.Serial, true
		case "url":
			return d.Code.URL, true
		case "gtin":
			return d.Code.GTIN, true
		case "lot":
			return d.Code.Lot, true
		case "expiry":
			return d.Code.Expiry, d.Code.Expiry != ""
		}
		return nil, false
	case "record":
		switch tail {
		case "id":
			return d.ID, d.ID != ""
		case "status":
			return d.Status, d.Status != ""
		}
		return nil, false
	}
	v, ok := d.Related[head][tail]
	return v, ok
}

func pageNumber(n int) (any, bool) {
	if n <= 0 {
		return nil, false
	}
	return n, true
}

func (d *PageData) now() time.Time {
	if d.Now.IsZero() {
		return time.Now()
	}
	return d.Now
}

// ImageRef returns the file id an image element's Src names on d: Src itself, or for
// "{{field}}" the first file id of the record's image field ("" when it has none).
func ImageRef(src string, d *PageData) string {
	phs, err := ParsePlaceholders(src)
	if err != nil || len(phs) != 1 || phs[0].Start != 0 || phs[0].End != len(src) {
		return Expand(src, d, engine.LangDefault)
	}
	v, ok := Lookup(d, phs[0].Path)
	if !ok {
		return ""
	}
	switch v := v.(type) {
	case []string:
		if len(v) > 0 {
			return v[0]
		}
		return ""
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
		return ""
	case string:
		return v
	}
	return ""
}

func (p Placeholder) text(d *PageData, lang string) string {
	v, ok := Lookup(d, p.Path)
	if !ok || v == nil {
		return ""
	}
	if p.Format == "" {
		return plain(v, lang)
	}
	name, arg, _ := strings.Cut(p.Format, ":")
	switch name {
	case "upper":
		return strings.ToUpper(plain(v, lang))
	case "lower":
		return strings.ToLower(plain(v, lang))
	case "date":
		if t, ok := asTime(v); ok {
			return formatDate(t, arg)
		}
		return plain(v, lang)
	case "number":
		n, _ := strconv.Atoi(arg)
		if f, ok := asNumber(v); ok {
			return strconv.FormatFloat(roundHalfAway(f, n), 'f', n, 64)
		}
		return plain(v, lang)
	case "pad":
		n, _ := strconv.Atoi(arg)
		s := plain(v, lang)
		if c := len([]rune(s)); c < n {
			s = strings.Repeat("0", n-c) + s
		}
		return s
	}
	return plain(v, lang)
}

// roundHalfAway rounds f to n decimals, halves away from zero (2.345 → 2.35 as people expect,
// where strconv would round the binary value 2.34499… down).
func roundHalfAway(f float64, n int) float64 {
	p := math.Pow10(n)
	r := math.Round(f * p)
	// f*p may land just under the half in binary (2.345*100 = 234.49999…): nudge by a few ulps.
	if d := f*p - math.Trunc(f*p); math.Abs(math.Abs(d)-0.5) < 1e-9 {
		r = math.Trunc(f*p) + math.Copysign(1, f)
	}
	return r / p
}

// plain is a value as text without a format.
func plain(v any, lang string) string {
	switch v := v.(type) {
	case string:
		if t, err := time.Parse(time.RFC3339, v); err == nil && len(v) > len("2006-01-02") {
			return formatDate(t, "YYYY-MM-DD HH:mm")
		}
		return v
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(v), 'f', -1, 32)
	case int:
		return strconv.Itoa(v)
	case int32:
		return strconv.FormatInt(int64(v), 10)
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		if lang == engine.LangEN {
			return map[bool]string{true: "Yes", false: "No"}[v]
		}
		return map[bool]string{true: "是", false: "否"}[v]
	case time.Time:
		return formatDate(v, "YYYY-MM-DD HH:mm")
	case engine.Text:
		return v.In(lang)
	case []string:
		return strings.Join(v, ", ")
	case []any:
		parts := make([]string, 0, len(v))
		for _, x := range v {
			if s := plain(x, lang); s != "" {
				parts = append(parts, s)
			}
		}
		return strings.Join(parts, ", ")
	case []map[string]any, map[string]any:
		// A sub-table or an object has no one-line text; tables and row pages print them.
		return ""
	case fmt.Stringer:
		return v.String()
	}
	return fmt.Sprint(v)
}

func asTime(v any) (time.Time, bool) {
	switch v := v.(type) {
	case time.Time:
		return v, true
	case string:
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02", "2006-01-02 15:04:05", "2006-01-02 15:04"} {
			if t, err := time.Parse(layout, v); err == nil {
				return t, true
			}
		}
	}
	return time.Time{}, false
}

func asNumber(v any) (float64, bool) {
	switch v := v.(type) {
	case float64:
		return v, true
	case float32:
		return float64(v), true
	case int:
		return float64(v), true
	case int32:
		return float64(v), true
	case int64:
		return float64(v), true
	case string:
		f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		return f, err == nil
	}
	return 0, false
}

// formatDate writes t by a pattern of tokens YYYY YY MM DD HH mm ss; anything else is
// copied.
func formatDate(t time.Time, pattern string) string {
	var b strings.Builder
	for i := 0; i < len(pattern); {
		rest := pattern[i:]
		switch {
		case strings.HasPrefix(rest, "YYYY"):
			fmt.Fprintf(&b, "%04d", t.Year())
			i += 4
			continue
		case strings.HasPrefix(rest, "YY"):
			fmt.Fprintf(&b, "%02d", t.Year()%100)
		case strings.HasPrefix(rest, "MM"):
			fmt.Fprintf(&b, "%02d", int(t.Month()))
		case strings.HasPrefix(rest, "DD"):
			fmt.Fprintf(&b, "%02d", t.Day())
		case strings.HasPrefix(rest, "HH"):
			fmt.Fprintf(&b, "%02d", t.Hour())
		case strings.HasPrefix(rest, "mm"):
			fmt.Fprintf(&b, "%02d", t.Minute())
		case strings.HasPrefix(rest, "ss"):
			fmt.Fprintf(&b, "%02d", t.Second())
		default:
			b.WriteByte(pattern[i])
			i++
			continue
		}
		i += 2
	}
	return b.String()
}
