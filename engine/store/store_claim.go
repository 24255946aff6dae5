package store

import (
	"context"
	"fmt"
)

// Claim hands out n consecutive numbers of sequence name, like Next, and returns the first —
// once the claim is durable: synced to disk on the embedded store whatever its synchronous
// setting (like each block of Draw), so not even a power cut can roll it back and let the
// numbers be handed out again. It is for numbers that leave the system at once and in bulk:
// the item codes of a lot (printing), printed on labels right after they are issued.
func (s *Store) Claim(ctx context.Context, name string, n int64) (int64, error) {
	first, err := s.Next(ctx, name, n)
	if err != nil {
		return 0, err
	}
	if err := s.durable(); err != nil {
		return 0, fmt.Errorf("sequence %q: %w", name, err)
	}
	return first, nil
}
