package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Version is set at build time with -ldflags "-X main.Version=…"; otherwise the VCS revision.
var Version = ""

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if len(rev) > 12 {
			rev = rev[:12]
		}
		if rev != "" {
			if dirty {
				rev += "-dirty"
			}
			return "dev-" + rev
		}
	}
	return "dev"
}

// storeFlags are the flags every command uses to find its store.
type storeFlags struct {
	data     string
	mongoURI string
	timezone string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./data", "data folder of the embedded store")
	fs.StringVar(&f.mongoURI, "mongo-uri", os.Getenv("TRACECRAFT_MONGO_URI"), "MongoDB URI (instead of the embedded store)")
	fs.StringVar(&f.timezone, "timezone", envOr("TRACECRAFT_TIMEZONE", "Asia/Shanghai"), "the plant's time zone (IANA name): the day of auto-numbers and date parts, today() in formulas, schedules and working hours")
}

// openKernel opens the store and wires the kernel on it.
func (f *storeFlags) openKernel(ctx context.Context, log *slog.Logger) (*engine.Kernel, error) {
	loc, err := time.LoadLocation(f.timezone)
	if err != nil || f.timezone == "" || f.timezone == "Local" {
		return nil, fmt.Errorf("--timezone %q: not an IANA time zone name (e.g. Asia/Shanghai, UTC)", f.timezone)
	}
	st, err := store.Open(ctx, store.Options{DataDir: f.data, MongoURI: f.mongoURI, Logger: log})
	if err != nil {
		return nil, err
	}
	return engine.NewKernel(st, engine.KernelOptions{Log: log, Location: loc}), nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
