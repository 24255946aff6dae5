package printing

import (
	"testing"
	"time"

	"codeberg.org/go-pdf/fpdf"
)

func TestCheckFont(t *testing.T) {
	start := time.Now()
	if err := CheckFont(); err != nil {
		t.Fatal(err)
	}
	t.Logf("first check %v", time.Since(start))
	start = time.Now()
	pdf := fpdf.New("P", "mm", "A4", "")
	if err := addFont(pdf); err != nil {
		t.Fatal(err)
	}
	t.Logf("per document %v", time.Since(start))
}
