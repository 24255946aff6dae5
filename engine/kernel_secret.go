package engine

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"tracecraft/engine/store"
)

// secretsCollection keeps the random secrets of a kernel that has no audit key (tests, tools).
const secretsCollection = "_secrets"

// Secret gives a 32-byte key for one purpose ("printing.codes"), the same on every start and
// every node: with an audit key (the binary always has one, kept outside the database) it is
// HMAC-SHA256(audit key, "tracecraft/"+purpose), so the database alone does not hold it;
// without one, a random key made once and kept in the database. Keys of different purposes
// are unrelated. What a purpose keys (the item codes printed on labels) stays valid only
// while the audit key is unchanged.
func (k *Kernel) Secret(ctx context.Context, purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, errors.New("secret: no purpose")
	}
	if key := k.Audit.key; key != nil {
		m := hmac.New(sha256.New, key)
		m.Write([]byte("tracecraft/" + purpose))
		return m.Sum(nil), nil
	}
	type secretDoc struct {
		Key string `bson:"key"`
	}
	var d secretDoc
	err := k.Store.Get(ctx, secretsCollection, purpose, &d)
	if errors.Is(err, store.ErrNotFound) {
		raw := make([]byte, 32)
		if _, err := rand.Read(raw); err != nil {
			return nil, fmt.Errorf("secret %s: %w", purpose, err)
		}
		d.Key = hex.EncodeToString(raw)
		if err = k.Store.Put(ctx, secretsCollection, purpose, d); errors.Is(err, store.ErrDuplicate) {
			// Made meanwhile by another caller: theirs is the key.
			err = k.Store.Get(ctx, secretsCollection, purpose, &d)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", purpose, err)
	}
	key, err := hex.DecodeString(d.Key)
	if err != nil || len(key) != 32 {
		return nil, fmt.Errorf("secret %s: stored key is malformed", purpose)
	}
	return key, nil
}
