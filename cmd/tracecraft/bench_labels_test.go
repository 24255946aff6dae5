package main

import (
	"bytes"
	"context"
	"io"
	"math"
	"os"
	"regexp"
	"strconv"
	"testing"
)

// TestBenchLabels runs `tracecraft bench --labels` on 50 labels and checks what it reports
// adds up — every label rendered with its QR and GS1-128, bytes written by each language, the
// memory read, rates and ratios finite — and that the command prints them. It asserts no time.
func TestBenchLabels(t *testing.T) {
	const n = 50
	rep, err := measureLabels(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if st := rep.Stats; st.Labels != n || st.Pages != n || st.Files != 1 || st.Codes != 2*n {
		t.Errorf("render stats %+v, want %d labels and pages in one file, %d codes", st, n, 2*n)
	}
	for name, r := range map[string]labelRun{"bare": rep.Bare, "bare parallel": rep.BareParallel, "pdf": rep.PDF, "zpl": rep.ZPL, "tspl": rep.TSPL} {
		if r.Wall <= 0 || r.Wall >= 1<<62 || r.CPU < 0 {
			t.Errorf("%s: wall %v, cpu %v", name, r.Wall, r.CPU)
		}
		if ratio := r.rate(n) / rep.Bare.rate(n); math.IsNaN(ratio) || math.IsInf(ratio, 0) || ratio <= 0 {
			t.Errorf("%s: ratio to the bare rate %v", name, ratio)
		}
		if rep.GOMAXPROCS < 1 || name != "bare" && name != "bare parallel" && (r.Bytes < 200*n || r.Bytes > 100_000*n) {
			t.Errorf("%s: %d bytes for %d labels", name, r.Bytes, n)
		}
	}
	if rep.HeapInUse == 0 || rep.Sys < rep.HeapInUse {
		t.Errorf("go heap in use %d, sys %d", rep.HeapInUse, rep.Sys)
	}
	if _, err := os.Stat("/proc/self/status"); err == nil && rep.PeakRSS <= 0 {
		t.Errorf("peak rss %d on a system with /proc", rep.PeakRSS)
	}

	var out bytes.Buffer
	if err := cmdBench(context.Background(), []string{"--labels", "--labels-n", strconv.Itoa(n)}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`(?m)^50 unique-QR 60×40 mm labels`,
		`(?m)bare QR encoding \(1 goroutine\)\s+\d+\s+1\.00`,
		`(?m)bare QR encoding \(\d+ goroutines\)\s+\d+\s+\d+\.\d\d\s+1\.00`,
		`(?m)PDF \(printing\.Render\)\s+\d+\s+\d+\.\d\d\s`,
		`(?m)ZPL \(printing\.WriteLabels\)\s+\d+\s+\d+\.\d\d\s`,
		`(?m)TSPL \(printing\.WriteLabels\)\s+\d+\s+\d+\.\d\d\s`,
		`(?m)^PDF: 50 pages, 100 codes, [\d.]+ MB \(\d+ bytes a label\)`,
		`(?m)^memory during the PDF render: Go heap in use \d+ MB, Go sys \d+ MB, process peak RSS \d+ MB`,
	} {
		if !regexp.MustCompile(want).Match(out.Bytes()) {
			t.Errorf("the report lacks %s:\n%s", want, out.String())
		}
	}
	if err := cmdBench(context.Background(), []string{"--labels", "--labels-n", "0"}, io.Discard, io.Discard); err == nil {
		t.Error("--labels-n 0 was accepted")
	}
}
