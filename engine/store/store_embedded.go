package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the SQLite driver FerretDB uses; we open the same files for the _id index
)

// socketName is the Unix socket inside the data folder. Unix socket paths are limited to about
// 104–108 bytes, so the data folder's path must stay below ~95 bytes.
const socketName = "mongo.sock"

// idIndexSuffix names the SQLite expression index the store adds to every collection table.
const idIndexSuffix = "_tc_id"

// embedded is a running in-process FerretDB with its data folder locked to this process.
type embedded struct {
	dir    string
	dbName string
	uri    string
	lock   *os.File
	cancel context.CancelFunc
	done   chan struct{}

	sqlMu  sync.Mutex
	sqlDB  *sql.DB   // the one connection for DDL (indexes)
	readDB *sql.DB   // the read-only pool that queries run on (query_sql.go)
	tables sync.Map  // collection name → its SQLite table
	gate   *readGate // heavy reads a few at a time (query_gate.go)
}

func startEmbedded(ctx context.Context, dir, dbName string, sync Sync, log *slog.Logger) (*embedded, error) {
	pragmas, err := sqlitePragmas(sync)
	if err != nil {
		return nil, err
	}
	dir, err = filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := mkdirPrivate(dir); err != nil {
		return nil, err
	}
	sock := filepath.Join(dir, socketName)
	if len(sock) > 100 {
		return nil, fmt.Errorf("data folder path is too long for a Unix socket (%d bytes; keep it under 90)", len(dir))
	}
	lock, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return nil, ErrLocked
	}
	// A socket left by a killed process would make the listener fail; we hold the lock, so any
	// socket file here is stale.
	_ = os.Remove(sock)
	fdb, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{Unix: sock},
		Handler:   "sqlite",
		SQLiteURL: (&url.URL{Scheme: "file", Path: dir + "/", RawQuery: pragmas}).String(),
		Logger:    slog.New(warnOnly{log.Handler()}).With("component", "ferretdb"),
	})
	if err != nil {
		lock.Close()
		return nil, err
	}
	runCtx, cancel := context.WithCancel(context.Background())
	e := &embedded{dir: dir, dbName: dbName, lock: lock, cancel: cancel, done: make(chan struct{}), gate: newReadGate()}
	go func() {
		defer close(e.done)
		_ = fdb.Run(runCtx)
	}()
	e.uri = "mongodb://" + url.PathEscape(sock) + "/"
	return e, nil
}

func (e *embedded) close() {
	e.cancel()
	<-e.done
	e.sqlMu.Lock()
	if e.sqlDB != nil {
		e.sqlDB.Close()
		e.sqlDB = nil
	}
	if e.readDB != nil {
		e.readDB.Close()
		e.readDB = nil
	}
	e.sqlMu.Unlock()
	_ = os.Remove(filepath.Join(e.dir, socketName))
	e.lock.Close()
}

// sql opens (once) the SQLite file that FerretDB keeps for our database.
func (e *embedded) sql() (*sql.DB, error) {
	e.sqlMu.Lock()
	defer e.sqlMu.Unlock()
	if e.sqlDB != nil {
		return e.sqlDB, nil
	}
	u := &url.URL{Scheme: "file", Path: filepath.Join(e.dir, e.dbName+".sqlite")}
	u.RawQuery = "_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)"
	db, err := sql.Open("sqlite", u.String())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	e.sqlDB = db
	return db, nil
}

// tableOf finds the SQLite table FerretDB made for a collection.
func (e *embedded) tableOf(ctx context.Context, coll string) (string, error) {
	db, err := e.sql()
	if err != nil {
		return "", err
	}
	var table string
	err = db.QueryRowContext(ctx, `SELECT table_name FROM _ferretdb_collections WHERE name = ?`, coll).Scan(&table)
	if errors.Is(err, sql.ErrNoRows) {
		return "", fmt.Errorf("collection %q has no table", coll)
	}
	return table, err
}

// indexID adds the expression index that matches the expression FerretDB's query pushdown uses
// for {_id: x} (`_ferretdb_sjson->'$._id'`); FerretDB's own unique _id index is written with a
// different expression, so SQLite would otherwise scan the table (DESIGN.md: 92 ms → 0.12 ms at
// 200,000 documents).
func (e *embedded) indexID(ctx context.Context, coll string) error {
	table, err := e.tableOf(ctx, coll)
	if err != nil {
		return err
	}
	db, err := e.sql()
	if err != nil {
		return err
	}
	q := fmt.Sprintf(`CREATE INDEX IF NOT EXISTS %q ON %q (_ferretdb_sjson->'$._id')`, table+idIndexSuffix, table)
	_, err = db.ExecContext(ctx, q)
	return err
}

// warnOnly passes on FerretDB's warnings and errors only: at info level it logs every
// connection the store's own pool opens.
type warnOnly struct{ slog.Handler }

func (w warnOnly) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn && w.Handler.Enabled(ctx, l)
}

// Handle drops FerretDB's dumps of refused commands ("Response header: …", "Response
// message: …"): the driver returns each refusal to the caller as an error, which handles it (a
// collection that already exists, the driver's endSessions on shutdown) or reports it, so the
// dumps only looked like failures on every start. They stay visible at debug level.
func (w warnOnly) Handle(ctx context.Context, r slog.Record) error {
	if strings.HasPrefix(r.Message, "Response header:") || strings.HasPrefix(r.Message, "Response message:") {
		if !w.Handler.Enabled(ctx, slog.LevelDebug) {
			return nil
		}
		r.Level = slog.LevelDebug
	}
	return w.Handler.Handle(ctx, r)
}

func (w warnOnly) WithAttrs(attrs []slog.Attr) slog.Handler {
	return warnOnly{w.Handler.WithAttrs(attrs)}
}

func (w warnOnly) WithGroup(name string) slog.Handler { return warnOnly{w.Handler.WithGroup(name)} }
