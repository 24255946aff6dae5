package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
	data         string
	mongoURI     string
	timezone     string
	auditKeyFile string
	sqliteSync   string
}

func (f *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&f.data, "data", "./data", "data folder of the embedded store")
	fs.StringVar(&f.mongoURI, "mongo-uri", os.Getenv("TRACECRAFT_MONGO_URI"), "MongoDB URI (instead of the embedded store)")
	fs.StringVar(&f.timezone, "timezone", envOr("TRACECRAFT_TIMEZONE", "Asia/Shanghai"), "the plant's time zone (IANA name): the day of auto-numbers and date parts, today() in formulas, schedules and working hours")
	fs.StringVar(&f.sqliteSync, "sqlite-sync", envOr("TRACECRAFT_SQLITE_SYNC", string(store.DefaultSync)), "the embedded store's SQLite synchronous setting: normal (a killed process loses nothing; a power cut may lose the last commits) or full (every commit flushed to disk)")
	fs.StringVar(&f.auditKeyFile, "audit-key-file", os.Getenv("TRACECRAFT_AUDIT_KEY_FILE"), "file holding the audit log's HMAC key (else TRACECRAFT_AUDIT_KEY; on the embedded store DATA/audit.key, made when missing; required with --mongo-uri)")
}

// openKernel opens the store and wires the kernel on it.
func (f *storeFlags) openKernel(ctx context.Context, log *slog.Logger) (*engine.Kernel, error) {
	loc, err := time.LoadLocation(f.timezone)
	if err != nil || f.timezone == "" || f.timezone == "Local" {
		return nil, fmt.Errorf("--timezone %q: not an IANA time zone name (e.g. Asia/Shanghai, UTC)", f.timezone)
	}
	if f.mongoURI != "" && f.auditKeyFile == "" && os.Getenv("TRACECRAFT_AUDIT_KEY") == "" {
		_, _, err := auditKey(f, log) // says what to give
		return nil, err
	}
	sync, err := store.ParseSync(f.sqliteSync)
	if err != nil {
		return nil, fmt.Errorf("--sqlite-sync: %w", err)
	}
	st, err := store.Open(ctx, store.Options{DataDir: f.data, MongoURI: f.mongoURI, Logger: log, Synchronous: sync})
	if err != nil {
		return nil, err
	}
	// The key after the store: a key file made for a store that then did not open would keep
	// the next start from sealing the entries written before it.
	key, created, err := auditKey(f, log)
	if err != nil {
		_ = st.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	k := engine.NewKernel(st, engine.KernelOptions{Log: log, Location: loc, AuditKey: key})
	if created {
		// The first start with a key: the entries written before it are sealed under it now,
		// while they are known to be the ones this installation wrote.
		path := filepath.Join(f.data, auditKeyFileName)
		n, err := k.Audit.SealLegacy(ctx)
		switch {
		case err != nil:
			log.Error("audit key created, but the entries written before it were not sealed: audit verify will report them", "file", path, "err", err)
		case n > 0:
			log.Warn("audit key created; the entries written before it are sealed under it: back the key file up apart from the data folder", "file", path, "sealed", n)
		default:
			log.Info("audit key created: back the key file up apart from the data folder", "file", path)
		}
	}
	return k, nil
}

func newLogger(w io.Writer, level slog.Level) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: level}))
}

func newFlagSet(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}
