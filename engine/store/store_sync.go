package store

import (
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
)

// Sync is SQLite's synchronous setting for the embedded store, which keeps its database in WAL
// mode. It decides what a commit survives:
//
//   - SyncNormal: a commit is in the WAL file when the write returns, and the WAL is synced to
//     disk at each checkpoint. A killed or crashed process loses nothing; a power cut or an
//     operating system crash may lose the last commits before the cut (never corrupting the
//     database). SQLite's recommendation for WAL mode, and PocketBase's choice.
//   - SyncFull: every commit is synced to disk before the write returns, so it survives a power
//     cut too, at the cost of a disk flush per commit.
type Sync string

// The settings of Options.Synchronous.
const (
	SyncNormal Sync = "normal"
	SyncFull   Sync = "full"
)

// DefaultSync is the setting used when Options.Synchronous is empty.
const DefaultSync = SyncNormal

// ParseSync reads a --sqlite-sync value ("normal" or "full").
func ParseSync(s string) (Sync, error) {
	switch v := Sync(s); v {
	case SyncNormal, SyncFull:
		return v, nil
	case "":
		return DefaultSync, nil
	}
	return "", fmt.Errorf("synchronous %q: want normal or full", s)
}

// PageSize is the SQLite page size of a new data folder's database. Four times SQLite's
// default: a record (about 1.4 KB as FerretDB stores it) left a third of each 4 KiB page
// empty (two records a page) and an eighth of an 8 KiB one (five); 16 KiB pages hold eleven,
// 9 % fuller, and an audit entry's pages 4 % (tracecraft bench: 2,933 → 2,746 bytes a record).
// Creates measured no slower (each commit writes whole pages to the WAL, but as many of
// them). A database keeps the page size it was made with (only a VACUUM changes it), so older
// data folders keep theirs.
const PageSize = 16384

// sqlitePragmas is the query of FerretDB's SQLite URL that sets the page size of a new database
// and the synchronous mode on each of its connections (FerretDB passes _pragma parameters
// through to the driver, before its own busy_timeout and journal_mode).
func sqlitePragmas(sync Sync) (string, error) {
	v, err := ParseSync(string(sync))
	if err != nil {
		return "", fmt.Errorf("open embedded store: %w", err)
	}
	return url.Values{"_pragma": {fmt.Sprintf("page_size(%d)", PageSize), "synchronous(" + string(v) + ")"}}.Encode(), nil
}

// durable makes what the embedded store has committed so far survive a power cut, whatever the
// synchronous setting: Draw calls it after claiming a block of numbers, which may be printed on
// labels as soon as they are handed out and so must never be handed out again. Under SyncNormal
// SQLite appends each commit to the WAL file and syncs that file only at checkpoints (which sync
// the database file as well, so what they moved out of the WAL is on disk already); syncing the
// WAL file is what a commit under SyncFull does. One sync per block of DrawBlock numbers. On
// MongoDB a write is as durable as its write concern makes it (the URI's w and journal options).
func (s *Store) durable() error {
	if s.kind != KindEmbedded || s.sync == SyncFull {
		return nil
	}
	wal := filepath.Join(s.emb.dir, s.emb.dbName+".sqlite") + "-wal"
	if s.syncHook != nil {
		return s.syncHook(wal)
	}
	f, err := os.Open(wal)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // no WAL: everything is checkpointed into the database file, and synced
	}
	if err != nil {
		return fmt.Errorf("sync the write-ahead log: %w", err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync the write-ahead log: %w", err)
	}
	return nil
}
