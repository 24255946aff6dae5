package gs1

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateWebTable = flag.Bool("update", false, "rewrite ../builder-ui/src/fields/gs1-ais.json from the AI table")

// webTablePath is the web app's copy of the AI table: the record form checks a scanned code
// with it before it fills the fields a scan field maps (builder-ui/src/fields/scanfill.ts).
var webTablePath = filepath.Join("..", "builder-ui", "src", "fields", "gs1-ais.json")

// webAI is one AI as the web app reads it: the value format with its linters, as in the AI
// table's rows ("N6,yymmd0", "N3,iso4217 N..15", "[X..16]"), and the implied decimals.
type webAI struct {
	AI       string `json:"ai"`
	Format   string `json:"format"`
	Decimals int    `json:"decimals"`
}

func webTable() []webAI {
	lints := map[lint]string{}
	for name, l := range lintNames {
		if l != lintNone {
			lints[l] = name
		}
	}
	var out []webAI
	for _, ai := range tableOrder {
		d := table[ai]
		var comps []string
		for _, p := range d.parts {
			c := string(rune(p.set))
			if p.min == p.max {
				c += strconv.Itoa(p.max)
			} else {
				c += ".." + strconv.Itoa(p.max)
			}
			if name := lints[p.lint]; name != "" {
				c += "," + name
			}
			if p.optional {
				c = "[" + c + "]"
			}
			comps = append(comps, c)
		}
		out = append(out, webAI{AI: ai, Format: strings.Join(comps, " "), Decimals: d.Decimals})
	}
	return out
}

// TestWebAITable fails when the web app's copy of the AI table differs from this package's
// (go test ./gs1 -run TestWebAITable -update rewrites it).
func TestWebAITable(t *testing.T) {
	var buf bytes.Buffer
	buf.WriteString("[\n")
	for i, a := range webTable() {
		b, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		buf.WriteString("  ")
		buf.Write(b)
		if i < len(tableOrder)-1 {
			buf.WriteString(",")
		}
		buf.WriteString("\n")
	}
	buf.WriteString("]\n")
	if *updateWebTable {
		if err := os.WriteFile(webTablePath, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(webTablePath)
	if err != nil {
		t.Fatalf("read the web app's AI table: %v (go test ./gs1 -run TestWebAITable -update writes it)", err)
	}
	if !bytes.Equal(got, buf.Bytes()) {
		t.Fatalf("%s differs from the AI table: go test ./gs1 -run TestWebAITable -update", webTablePath)
	}
}
