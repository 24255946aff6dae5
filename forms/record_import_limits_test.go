package forms

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/xuri/excelize/v2"

	"tracecraft/engine"
)

// A workbook whose rows each have one cell far to the right must be refused, not padded into
// millions of strings.
func TestImportRefusesWideRows(t *testing.T) {
	f := excelize.NewFile()
	for r := 1; r <= 50; r++ {
		if err := f.SetCellValue("Sheet1", fmt.Sprintf("XFD%d", r), "x"); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := f.Write(&buf); err != nil {
		t.Fatal(err)
	}
	_, err := readSheet("xlsx", &buf)
	fe, ok := engine.AsFieldErrors(err)
	if !ok || fe[0].Code != "import_too_wide" {
		t.Fatalf("wide rows: %v", err)
	}
	// Trailing blank cells are dropped, so a normal row keeps only what is filled in.
	sh := &sheet{}
	if err := sh.add(1, []string{"a", "b", "", " "}); err != nil || len(sh.header) != 2 {
		t.Fatalf("header %q, %v", sh.header, err)
	}
}
