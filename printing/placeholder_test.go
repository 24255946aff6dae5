package printing

import (
	"errors"
	"strings"
	"testing"
	"time"

	"tracecraft/engine"
)

func placeholderPage() *PageData {
	return &PageData{
		Record: map[string]any{
			"product":  "冷鲜鸡腿",
			"qty":      12.5,
			"price":    2.345,
			"count":    3,
			"made":     "2026-03-05",
			"checked":  "2026-03-05T14:07:09+08:00",
			"organic":  true,
			"lot_no":   "l2603a",
			"photos":   []string{"f1", "f2"},
			"tags":     []any{"a", "b"},
			"items":    []map[string]any{{"qty": 1.0}},
			"received": time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
		},
		Related: map[string]map[string]any{"supplier": {"name": "华北养殖场", "grade": 2.0}},
		Row:     map[string]any{"qty": 4.0, "unit": "kg"},
		Code: &ItemCode{Serial: "ABC123", GTIN: "06901234567892", Lot: "L2603A", Expiry: "2026-04-05",
			URL: "https://t.example.com/01/06901234567892/10/L2603A/21/ABC123?17=260405"},
		ID:     "r1",
		Status: "approved",
		Now:    time.Date(2026, 12, 6, 9, 30, 0, 0, time.UTC),
		Page:   2,
		Pages:  7,
	}
}

func TestExpand(t *testing.T) {
	d := placeholderPage()
	cases := []struct{ in, lang, want string }{
		{"no placeholders", engine.LangZH, "no placeholders"},
		{"{{product}} {{qty}}", engine.LangZH, "冷鲜鸡腿 12.5"},
		{"{{ product }}", engine.LangZH, "冷鲜鸡腿"},
		{"{{supplier.name}}/{{supplier.grade}}", engine.LangZH, "华北养殖场/2"},
		{"{{row.qty|number:2}} {{row.unit}}", engine.LangZH, "4.00 kg"},
		{"{{code.serial}}|{{code.gtin}}|{{code.lot}}|{{code.expiry}}", engine.LangZH, "ABC123|06901234567892|L2603A|2026-04-05"},
		{"{{code.url}}", engine.LangZH, "https://t.example.com/01/06901234567892/10/L2603A/21/ABC123?17=260405"},
		{"(17){{code.expiry|date:YYMMDD}}", engine.LangZH, "(17)260405"},
		{"{{record.id}} {{record.status}}", engine.LangZH, "r1 approved"},
		{"{{now}}", engine.LangZH, "2026-12-06 09:30"},
		{"{{now|date:YYYY年MM月DD日 HH:mm:ss}}", engine.LangZH, "2026年12月06日 09:30:00"},
		{"第{{page}}/{{pages}}页", engine.LangZH, "第2/7页"},
		{"{{made|date:DD.MM.YY}}", engine.LangZH, "05.03.26"},
		{"{{checked}}", engine.LangZH, "2026-03-05 14:07"},
		{"{{checked|date:HH:mm}}", engine.LangZH, "14:07"},
		{"{{received|date:YYYY-MM-DD}}", engine.LangZH, "2026-01-02"},
		{"{{price|number:2}}", engine.LangZH, "2.35"},
		{"{{qty|number:0}}", engine.LangZH, "13"},
		{"{{count|number:1}}", engine.LangZH, "3.0"},
		{"{{lot_no|upper}} {{product|lower}}", engine.LangZH, "L2603A 冷鲜鸡腿"},
		{"{{count|pad:5}}", engine.LangZH, "00003"},
		{"{{lot_no|pad:3}}", engine.LangZH, "l2603a"},
		{"{{organic}}", engine.LangZH, "是"},
		{"{{organic}}", engine.LangEN, "Yes"},
		{"{{photos}} {{tags}}", engine.LangZH, "f1, f2 a, b"},
		{"[{{items}}]", engine.LangZH, "[]"},
		{"[{{missing}}][{{nope.name}}][{{row.nothing}}]", engine.LangZH, "[][][]"},
		// A value a format does not fit prints as it is.
		{"{{product|date:YYYY}} {{product|number:2}}", engine.LangZH, "冷鲜鸡腿 冷鲜鸡腿"},
		// Text that never passed CheckPlaceholders: bad placeholders print empty, unclosed stays.
		{"a{{qty|bold}}b {{x", engine.LangZH, "ab {{x"},
	}
	for _, c := range cases {
		if got := Expand(c.in, d, c.lang); got != c.want {
			t.Errorf("Expand(%q, %s) = %q, want %q", c.in, c.lang, got, c.want)
		}
	}
}

func TestExpandWithoutCodeOrPages(t *testing.T) {
	d := &PageData{Record: map[string]any{"a": "x"}}
	if got := Expand("{{a}}{{code.url}}{{page}}{{pages}}{{record.id}}", d, engine.LangZH); got != "x" {
		t.Fatalf("got %q", got)
	}
	if got := Expand("{{a}}", nil, engine.LangZH); got != "" {
		t.Fatalf("nil page: got %q", got)
	}
	// {{now}} without a job time is the time of expansion.
	got := Expand("{{now|date:YYYY}}", d, engine.LangZH)
	if y := time.Now().Format("2006"); got != y {
		t.Fatalf("now: got %q, want %q", got, y)
	}
}

func TestCheckPlaceholders(t *testing.T) {
	good := []string{
		"", "plain text", "{{qty}}", "{{ qty | number:2 }}", "(01){{gtin}}(10){{lot_no}}(17){{expiry|date:YYMMDD}}",
		"{{supplier.name|upper}}", "{{row.qty}}", "{{code.url}}", "{{record.status}}", "{{now|date:HH:mm}}",
		"{{page}}/{{pages}}", "{{serial|pad:12}}", "{{a|lower}}",
	}
	for _, s := range good {
		if err := CheckPlaceholders(s); err != nil {
			t.Errorf("CheckPlaceholders(%q) = %v, want nil", s, err)
		}
	}
	bad := []struct{ in, names string }{
		{"x {{qty", `"{{qty" at offset 2: no closing }}`},
		{"{{}}", "{{}}: no field named"},
		{"{{ |upper}}", "no field named"},
		{"{{a.b.c}}", `path "a.b.c" goes more than one relation deep`},
		{"{{a b}}", `"a b" is not a field key`},
		{"{{qty|bold}}", `{{qty|bold}}: unknown format "bold"`},
		{"{{qty|}}", "empty format after |"},
		{"{{qty|number:x}}", `format number needs a count, e.g. number:2 (got "x")`},
		{"{{qty|pad}}", "format pad needs a count"},
		{"{{d|date:}}", "format date needs a pattern"},
		{"{{a|upper:2}}", `format "upper" takes no argument`},
		{"{{code.sku}}", `code has no "sku"`},
		{"{{record.owner}}", `record has no "owner"`},
		{"{{now.x}}", "now has no fields"},
		{"ok {{a}} then {{b|nope}}", `{{b|nope}}: unknown format "nope"`},
	}
	for _, c := range bad {
		err := CheckPlaceholders(c.in)
		if err == nil || !errors.Is(err, ErrPlaceholder) || !strings.Contains(err.Error(), c.names) {
			t.Errorf("CheckPlaceholders(%q) = %v, want an ErrPlaceholder naming %q", c.in, err, c.names)
		}
	}
}

func TestPlaceholderField(t *testing.T) {
	phs, err := ParsePlaceholders("{{qty}} {{supplier.name|upper}} {{row.x}} {{code.url}} {{record.id}} {{now}} {{page}}")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range phs {
		rel, f := p.Field()
		got = append(got, rel+":"+f)
	}
	want := ":qty supplier:name : : : : :"
	if strings.Join(got, " ") != want {
		t.Fatalf("fields %q, want %q", strings.Join(got, " "), want)
	}
	if phs[1].Start != 8 || phs[1].End != 31 || phs[1].Format != "upper" {
		t.Fatalf("placeholder 1 = %+v", phs[1])
	}
}

func TestImageRef(t *testing.T) {
	d := placeholderPage()
	for src, want := range map[string]string{"file-9": "file-9", "{{photos}}": "f1", "{{missing}}": "", "{{ tags }}": "a", "img-{{record.id}}": "img-r1"} {
		if got := ImageRef(src, d); got != want {
			t.Errorf("ImageRef(%q) = %q, want %q", src, got, want)
		}
	}
}
