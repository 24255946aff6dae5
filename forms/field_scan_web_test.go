package forms

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// scanFillTable is builder-ui/src/fields/testdata/scan-fill.json: cases of a scan field's fill
// that the record form (scanfill.ts, under Vitest) and the server must both give.
type scanFillTable struct {
	Now     time.Time         `json:"now"`
	Zone    string            `json:"zone"`
	Targets map[string]string `json:"targets"`
	Cases   []struct {
		Name string            `json:"name"`
		Map  map[string]string `json:"map"`
		In   string            `json:"in"`
		Fill map[string]any    `json:"fill"` // nil: the code is refused
	} `json:"cases"`
}

// TestScanFillTable: the server fills what the web app's table says it fills, so the record
// form that fills the mapped fields as soon as a code is scanned shows what will be saved.
func TestScanFillTable(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "builder-ui", "src", "fields", "testdata", "scan-fill.json"))
	if err != nil {
		t.Fatal(err)
	}
	var tab scanFillTable
	if err := json.Unmarshal(raw, &tab); err != nil {
		t.Fatal(err)
	}
	loc, err := time.LoadLocation(tab.Zone)
	if err != nil {
		t.Fatal(err)
	}
	if len(tab.Cases) < 30 {
		t.Fatalf("%d cases: the table did not read", len(tab.Cases))
	}
	for _, tc := range tab.Cases {
		t.Run(tc.Name, func(t *testing.T) {
			opts, _ := json.Marshal(map[string]any{"map": tc.Map})
			scan := fieldB(t, "scan", "code", string(opts))
			fields := []*Field{scan}
			for key, typ := range tab.Targets {
				fields = append(fields, plainFieldB(typ, key))
			}
			mustCompileB(t, compileCtxB(fields...), scan)
			vc := valueCtxB(nil)
			vc.Now, vc.Loc = tab.Now, loc
			v, err := scan.impl.Prepare(vc, scan, tc.In)
			var got map[string]any
			if err == nil {
				got, err = scan.impl.(Filler).Fill(vc, scan, v)
			}
			if tc.Fill == nil {
				if err == nil {
					t.Fatalf("%q filled %v; the table says the server refuses it", tc.In, got)
				}
				wantFieldErrorB(t, err, "", "invalid_gs1")
				return
			}
			if err != nil {
				t.Fatalf("%q: %v", tc.In, err)
			}
			if got == nil {
				got = map[string]any{}
			}
			// Through JSON, as the web app gets it: numbers are float64 on both sides.
			b, _ := json.Marshal(got)
			var back map[string]any
			_ = json.Unmarshal(b, &back)
			if !reflect.DeepEqual(back, tc.Fill) {
				t.Errorf("%q filled %v, the table says %v", tc.In, back, tc.Fill)
			}
		})
	}
}
