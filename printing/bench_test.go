package printing

import (
	"context"
	"os"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	qrcode "github.com/skip2/go-qrcode"
)

// BenchmarkLabels renders 10,000 60 × 40 mm labels, each with its own Digital Link QR, to one
// PDF, and in the same run encodes the same 10,000 QRs on one goroutine and nothing else: the
// bare rate. It reports the render's time and its rate as a share of the bare rate (target
// ≥ 0.7, and ≤ 5 s on 2 idle cores), the same ratio in CPU seconds, and the process's peak
// resident memory during a render (target ≤ 400 MB). Run without -race:
//
//	go test -run '^$' -bench Labels -benchtime 1x ./printing/
func BenchmarkLabels(b *testing.B) {
	const n = 10_000
	def := &Definition{Key: "unit", Kind: KindLabel, Repeat: RepeatCode, Page: Page{Width: 60, Height: 40}, Elements: []Element{
		{ID: "name", Type: ElText, X: 2, Y: 1.5, W: 56, H: 5, Text: "{{product}} 批次 {{code.lot}}", Font: Font{Size: 9, Bold: true}},
		{ID: "qr", Type: ElQR, X: 3, Y: 8, W: 28, H: 28, Value: "{{code.url}}"},
		{ID: "serial", Type: ElText, X: 33, Y: 10, W: 25, H: 5, Text: "SN {{code.serial}}", Font: Font{Size: 8}},
		{ID: "exp", Type: ElText, X: 33, Y: 16, W: 25, H: 5, Text: "保质期至 {{code.expiry}}", Font: Font{Size: 7}},
		{ID: "frame", Type: ElBox, X: 0.5, Y: 0.5, W: 59, H: 39, Stroke: 0.2},
	}}
	pages := make([]*PageData, n)
	for i := range pages {
		pages[i] = unitPage(i)
	}
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
			start, cpu := time.Now(), cpuTime()
			for _, d := range pages {
				q, err := qrcode.New(d.Code.URL, qrcode.Medium)
				if err != nil {
					b.Fatal(err)
				}
				q.DisableBorder = true
				_ = q.Bitmap()
			}
			if took := time.Since(start); took < bare {
				bare, bareCPU = took, cpuTime()-cpu
			}

			runtime.GC()
			resetPeakRSS()
			start, cpu = time.Now(), cpuTime()
			var out countWriter
			var err error
			if st, err = Render(context.Background(), &out, def, pagesOf(pages...), RenderOptions{}); err != nil {
				b.Fatal(err)
			}
			if took := time.Since(start); took < render {
				render, renderCPU = took, cpuTime()-cpu
			}
			peak, size = max(peak, peakRSS()), int64(out)
			if st.Labels != n || st.Codes != n {
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

// cpuTime is the CPU time (user and system) this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// resetPeakRSS resets the kernel's high-water mark of this process's resident memory
// (Linux; elsewhere peakRSS reports 0).
func resetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// peakRSS is VmHWM, the process's peak resident memory since the last reset, in bytes.
func peakRSS() int64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
