package store

import (
	"fmt"
	"net/url"
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

// pragma is the query of FerretDB's SQLite URL that sets the synchronous mode on each of its
// connections (FerretDB passes _pragma parameters through to the driver).
func (s Sync) pragma() (string, error) {
	v, err := ParseSync(string(s))
	if err != nil {
		return "", fmt.Errorf("open embedded store: %w", err)
	}
	return url.Values{"_pragma": {"synchronous(" + string(v) + ")"}}.Encode(), nil
}
