package printing

import (
	"context"
	"runtime"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// BenchmarkLabels renders 10,000 60 × 40 mm labels (BenchLabel: Chinese text, a field, a
// GS1-128 and a Digital Link QR of its own) to one PDF, and in the same run encodes the same
// 10,000 QRs on one goroutine and nothing else: the bare rate. It reports the render's time
// and its rate as a share of the bare rate (target ≥ 0.7, and ≤ 5 s on 2 idle cores), the
// same ratio in CPU seconds, and the process's peak resident memory during a render (target
// ≤ 400 MB). `tracecraft bench --labels` measures the same label. Run without -race:
//
//	go test -run '^$' -bench Labels -benchtime 1x ./printing/
func BenchmarkLabels(b *testing.B) {
	const n = 10_000
	def, pages := BenchLabel(), BenchLabelPages(n)
	if err := CheckFont(); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		// Two cores are shared with other work here: each side runs three times, alternating,
		// and the fastest of each counts (a load spike slows one run, not the ratio). CPU
		// seconds are reported too: they do not depend on the load.
		bare, render := time.Duration(1<<62), time.Duration(1<<62)
		var bareCPU, renderCPU time.Duration
		var peak, size int64
		var st Stats
		for range 3 {
			start, cpu := time.Now(), CPUTime()
			for _, d := range pages {
				q, err := qrcode.New(d.Code.URL, qrcode.Medium)
				if err != nil {
					b.Fatal(err)
				}
				q.DisableBorder = true
				_ = q.Bitmap()
			}
			if took := time.Since(start); took < bare {
				bare, bareCPU = took, CPUTime()-cpu
			}

			runtime.GC()
			ResetPeakRSS()
			start, cpu = time.Now(), CPUTime()
			var out countWriter
			var err error
			if st, err = Render(context.Background(), &out, def, pagesOf(pages...), RenderOptions{}); err != nil {
				b.Fatal(err)
			}
			if took := time.Since(start); took < render {
				render, renderCPU = took, CPUTime()-cpu
			}
			peak, size = max(peak, PeakRSS()), int64(out)
			if st.Labels != n || st.Codes != 2*n {
				b.Fatalf("stats %+v", st)
			}
		}
		ratio := bare.Seconds() / render.Seconds()
		b.ReportMetric(render.Seconds(), "s/render")
		b.ReportMetric(bare.Seconds(), "s/bare-qr")
		b.ReportMetric(ratio, "rate-vs-bare")
		b.ReportMetric(bareCPU.Seconds()/renderCPU.Seconds(), "cpu-rate-vs-bare")
		b.ReportMetric(float64(peak)/(1<<20), "MB-peak-rss")
		b.Logf("%d labels in %.2f s (%.2f CPU s; %d PDF pages, %.1f MB); bare QR encoding %.2f s (%.2f CPU s); rate %.2f× the bare rate (CPU %.2f×); peak RSS %d MB; GOMAXPROCS %d",
			n, render.Seconds(), renderCPU.Seconds(), st.Pages, float64(size)/(1<<20), bare.Seconds(), bareCPU.Seconds(),
			ratio, bareCPU.Seconds()/renderCPU.Seconds(), peak>>20, runtime.GOMAXPROCS(0))
	}
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}
