package printing

import (
	"fmt"
	"iter"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// This file holds what the label benchmarks share — BenchmarkLabels (go test -bench) and
// `tracecraft bench --labels` — so that both render the same label and read memory and CPU
// time the same way.

// BenchLabel is the 60 × 40 mm unit label the label benchmarks render: the product (a field)
// and the lot in Chinese, the item code's GS1 Digital Link as a QR (unique per label), its
// serial and expiry as text, a GS1-128 of GTIN, expiry and lot with its human-readable line,
// and a frame.
func BenchLabel() *Definition {
	return &Definition{Key: "unit", Kind: KindLabel, Repeat: RepeatCode, Page: Page{Width: 60, Height: 40}, Elements: []Element{
		{ID: "name", Type: ElText, X: 2, Y: 1.5, W: 56, H: 5, Text: "{{product}} 批次 {{code.lot}}", Font: Font{Size: 9, Bold: true}},
		{ID: "qr", Type: ElQR, X: 3, Y: 7.5, W: 22, H: 22, Value: "{{code.url}}"},
		{ID: "serial", Type: ElText, X: 27, Y: 9, W: 31, H: 5, Text: "SN {{code.serial}}", Font: Font{Size: 8}},
		{ID: "exp", Type: ElText, X: 27, Y: 15, W: 31, H: 5, Text: "保质期至 {{code.expiry}}", Font: Font{Size: 7}},
		{ID: "gs1", Type: ElGS1128, X: 3, Y: 30.5, W: 54, H: 8.5, HumanReadable: true, Font: Font{Size: 6},
			Value: "(01){{code.gtin}}(17){{code.expiry|date:YYMMDD}}(10){{code.lot}}"},
		{ID: "frame", Type: ElBox, X: 0.5, Y: 0.5, W: 59, H: 39, Stroke: 0.2},
	}}
}

// BenchLabelPages makes n pages for BenchLabel, each with an item code of its own serial and
// so its own Digital Link.
func BenchLabelPages(n int) []*PageData {
	pages := make([]*PageData, n)
	for i := range pages {
		serial := fmt.Sprintf("7KQ2M%07dX", i)
		pages[i] = &PageData{Record: map[string]any{"product": "冷鲜鸡腿"}, ID: fmt.Sprintf("rec%d", i),
			Code: &ItemCode{Serial: serial, GTIN: "06901234567892", Lot: "L2603A", Expiry: "2026-04-05",
				URL: "https://t.example.cn/01/06901234567892/10/L2603A/21/" + serial + "?17=260405"}}
	}
	return pages
}

// PagesOf yields pages in order, as Render and WriteLabels take them.
func PagesOf(pages []*PageData) iter.Seq2[*PageData, error] { return pageSlice(pages) }

// CPUTime is the CPU time (user and system) this process has used.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ResetPeakRSS resets the kernel's high-water mark of this process's resident memory, so that
// PeakRSS reports the peak of what runs next (Linux; elsewhere PeakRSS reports 0).
func ResetPeakRSS() { _ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) }

// PeakRSS is VmHWM, the process's peak resident memory since it started or since the last
// ResetPeakRSS, in bytes; 0 where /proc/self/status is not there.
func PeakRSS() int64 {
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
