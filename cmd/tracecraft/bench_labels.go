package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"text/tabwriter"
	"time"

	"tracecraft/printing"
)

// labelRounds is how often each side of the labels measurement runs: the machine's cores are
// shared, so the sides alternate and the fastest run of each counts (a load spike slows one
// run, not the ratio).
const labelRounds = 3

// labelsReport is what the labels measurement found: for each way of printing the best of
// labelRounds runs, and the memory the PDF render took at its peak over all runs.
type labelsReport struct {
	N          int
	GOMAXPROCS int
	// Bare is encoding the N Digital Link QRs with printing's encoder on one goroutine and
	// doing nothing else: the baseline. BareParallel is the same on GOMAXPROCS goroutines, as
	// many as the render encodes on (its wall ratio is the one that does not flatter it).
	Bare, BareParallel labelRun
	// PDF is printing.Render of the N labels to one PDF; ZPL and TSPL are printing.WriteLabels.
	PDF, ZPL, TSPL labelRun
	Stats          printing.Stats
	// HeapInUse and Sys are the Go runtime's heap in use (objects and the unused part of
	// their spans) and all the memory it has mapped, the highest sampled during a render;
	// PeakRSS is the process's resident peak (VmHWM) during a render, 0 off Linux.
	HeapInUse, Sys uint64
	PeakRSS        int64
}

// labelRun is one way of printing the N labels: its best wall time, the CPU time of that run
// and the bytes it wrote.
type labelRun struct {
	Wall, CPU time.Duration
	Bytes     int64
}

func (r labelRun) rate(n int) float64 { return float64(n) / r.Wall.Seconds() }

// benchLabels measures rendering n unique-QR labels (printing.BenchLabel: Chinese text, a
// field, a GS1 Digital Link QR with its own serial, a GS1-128) to PDF through printing.Render
// and to ZPL and TSPL through printing.WriteLabels, against encoding the same n QRs and
// nothing else in the same run, and prints labels per second, each rate as a ratio of the bare
// rate, the time, the memory and the bytes per label.
func benchLabels(ctx context.Context, stdout io.Writer, n int) error {
	rep, err := measureLabels(ctx, n)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d unique-QR 60×40 mm labels (Chinese text, a field, a Digital Link QR, a GS1-128), best of %d, GOMAXPROCS %d\n\n",
		n, labelRounds, rep.GOMAXPROCS)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "measurement\tlabels/s\tratio\tratio (par.)\twall s\tCPU s\tCPU ratio\tbytes/label\t")
	row := func(name string, r labelRun, bytes bool) {
		fmt.Fprintf(tw, "%s\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t", name, r.rate(n), r.rate(n)/rep.Bare.rate(n), r.rate(n)/rep.BareParallel.rate(n),
			r.Wall.Seconds(), r.CPU.Seconds(), rep.Bare.CPU.Seconds()/r.CPU.Seconds())
		if bytes {
			fmt.Fprintf(tw, "%.0f\t\n", float64(r.Bytes)/float64(n))
		} else {
			fmt.Fprint(tw, "-\t\n")
		}
	}
	row("bare QR encoding (1 goroutine)", rep.Bare, false)
	row(fmt.Sprintf("bare QR encoding (%d goroutines)", rep.GOMAXPROCS), rep.BareParallel, false)
	row("PDF (printing.Render)", rep.PDF, true)
	row("ZPL (printing.WriteLabels)", rep.ZPL, true)
	row("TSPL (printing.WriteLabels)", rep.TSPL, true)
	if err := tw.Flush(); err != nil {
		return err
	}
	const mb = 1 << 20
	fmt.Fprintf(stdout, "\nPDF: %d pages, %d codes, %.1f MB (%.0f bytes a label), %.2f s wall (target ≤ 5 s at 10,000 on 2 cores), ratio %.2f, on as many goroutines %.2f, in CPU %.2f (target ≥ 0.70)\n",
		rep.Stats.Pages, rep.Stats.Codes, float64(rep.PDF.Bytes)/mb, float64(rep.PDF.Bytes)/float64(n), rep.PDF.Wall.Seconds(),
		rep.PDF.rate(n)/rep.Bare.rate(n), rep.PDF.rate(n)/rep.BareParallel.rate(n), rep.Bare.CPU.Seconds()/rep.PDF.CPU.Seconds())
	fmt.Fprintf(stdout, "memory during the PDF render: Go heap in use %.0f MB, Go sys %.0f MB, process peak RSS %.0f MB (target ≤ 400 MB)\n",
		float64(rep.HeapInUse)/mb, float64(rep.Sys)/mb, float64(rep.PeakRSS)/mb)
	fmt.Fprintln(stdout, "ratio = labels/s ÷ the bare QR rate on 1 goroutine, ratio (par.) ÷ that on GOMAXPROCS goroutines, CPU ratio = the 1-goroutine bare run's CPU s ÷ this run's; all measured in this run.")
	return nil
}

// measureLabels runs the labels measurement (see benchLabels).
func measureLabels(ctx context.Context, n int) (*labelsReport, error) {
	if n < 1 {
		return nil, fmt.Errorf("bench labels: --labels-n must be at least 1, not %d", n)
	}
	if err := printing.CheckFont(); err != nil {
		return nil, fmt.Errorf("bench labels: %w", err)
	}
	def, pages := printing.BenchLabel(), printing.BenchLabelPages(n)
	rep := &labelsReport{N: n, GOMAXPROCS: runtime.GOMAXPROCS(0)}
	forever := labelRun{Wall: time.Duration(1 << 62)}
	rep.Bare, rep.BareParallel, rep.PDF, rep.ZPL, rep.TSPL = forever, forever, forever, forever, forever
	timed := func(best *labelRun, fn func() (int64, error)) error {
		start, cpu := time.Now(), printing.CPUTime()
		bytes, err := fn()
		if err != nil {
			return err
		}
		if took := time.Since(start); took < best.Wall {
			*best = labelRun{Wall: took, CPU: printing.CPUTime() - cpu, Bytes: bytes}
		}
		return nil
	}
	for range labelRounds {
		if err := timed(&rep.Bare, func() (int64, error) {
			for _, d := range pages {
				if _, err := printing.EncodeSymbol(printing.ElQR, d.Code.URL); err != nil {
					return 0, err
				}
			}
			return 0, nil
		}); err != nil {
			return nil, fmt.Errorf("bench labels: bare qr: %w", err)
		}
		if err := timed(&rep.BareParallel, func() (int64, error) {
			return 0, encodeQRs(pages, rep.GOMAXPROCS)
		}); err != nil {
			return nil, fmt.Errorf("bench labels: bare qr: %w", err)
		}

		// The render starts from the live heap alone: what earlier runs left is collected and
		// given back, so the resident peak is this render's.
		runtime.GC()
		debug.FreeOSMemory()
		printing.ResetPeakRSS()
		stop := sampleMemory(rep)
		err := timed(&rep.PDF, func() (int64, error) {
			var out byteCount
			st, err := printing.Render(ctx, &out, def, printing.PagesOf(pages), printing.RenderOptions{})
			rep.Stats = st
			return int64(out), err
		})
		stop()
		rep.PeakRSS = max(rep.PeakRSS, printing.PeakRSS())
		if err != nil {
			return nil, fmt.Errorf("bench labels: pdf: %w", err)
		}

		for _, w := range []struct {
			lang string
			best *labelRun
		}{{printing.LangZPL, &rep.ZPL}, {printing.LangTSPL, &rep.TSPL}} {
			if err := timed(w.best, func() (int64, error) {
				var out byteCount
				got, err := printing.WriteLabels(ctx, &out, w.lang, def, printing.PagesOf(pages), printing.LabelOptions{})
				if err == nil && got != n {
					err = fmt.Errorf("%d labels written, not %d", got, n)
				}
				return int64(out), err
			}); err != nil {
				return nil, fmt.Errorf("bench labels: %s: %w", w.lang, err)
			}
		}
	}
	return rep, nil
}

// encodeQRs encodes the pages' Digital Links as QRs with printing's encoder on workers
// goroutines, each taking every workers-th page.
func encodeQRs(pages []*printing.PageData, workers int) error {
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(pages); i += workers {
				if _, err := printing.EncodeSymbol(printing.ElQR, pages[i].Code.URL); err != nil {
					errs[w] = err
					return
				}
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

// sampleMemory keeps the highest Go heap in use and mapped memory in rep, read every few
// milliseconds until the returned stop is called (and once more then).
func sampleMemory(rep *labelsReport) (stop func()) {
	samples := []metrics.Sample{
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/memory/classes/heap/unused:bytes"},
		{Name: "/memory/classes/total:bytes"},
	}
	read := func() {
		metrics.Read(samples)
		rep.HeapInUse = max(rep.HeapInUse, samples[0].Value.Uint64()+samples[1].Value.Uint64())
		rep.Sys = max(rep.Sys, samples[2].Value.Uint64())
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(5 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-done:
				read()
				return
			case <-t.C:
				read()
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// byteCount is a writer that keeps only the count of what it was given.
type byteCount int64

func (c *byteCount) Write(p []byte) (int, error) {
	*c += byteCount(len(p))
	return len(p), nil
}
