package store

import "context"

// Durable makes every write the store has committed so far survive a power cut, whatever the
// embedded store's synchronous setting (under SyncNormal it syncs the write-ahead log, as a
// Claim does; under SyncFull and on MongoDB there is nothing more to do). Call it after a
// commit whose result leaves the system at once and must not be rolled back: item codes
// issued and handed to a printer, a void a recall depends on.
func (s *Store) Durable(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return s.durable()
}

// SetSyncHook makes fn be called instead of syncing the embedded store's write-ahead log
// (Durable, Claim, Draw): for tests of other packages that check a write was made durable.
// Set it before the store is used concurrently; nil restores the sync.
func (s *Store) SetSyncHook(fn func(walPath string) error) {
	s.syncHook = fn
}
