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

// secretsCollection keeps, per purpose, the check value of its key (with an audit key) or the
// random key itself (a kernel without one: tests, tools).
const secretsCollection = "_secrets"

// ErrSecretChanged: the key of a purpose is not the one it had when first used — the audit key
// was lost or replaced (a new DATA/audit.key, another TRACECRAFT_AUDIT_KEY). What it keyed
// (item codes printed on labels) no longer checks out until the old audit key is restored.
var ErrSecretChanged = errors.New("the key derived from the audit key changed since first use: restore the audit key backed up with this data")

// Secret gives a 32-byte key for one purpose ("printing.codes"), the same on every start and
// every node: with an audit key (the binary always has one, kept outside the database) it is
// HMAC-SHA256(audit key, "tracecraft/"+purpose), so the database alone does not hold it;
// without one, a random key made once and kept in the database. Keys of different purposes
// are unrelated. The first use stores a check value of the key (an HMAC of a constant, which
// does not reveal it); a later key that does not match it — the audit key was lost or
// replaced — is refused with ErrSecretChanged rather than used, so what the old key made
// (item codes on printed labels) is never judged by a different one. A key made without an
// audit key and stored stays the purpose's key when an audit key comes later.
func (k *Kernel) Secret(ctx context.Context, purpose string) ([]byte, error) {
	if purpose == "" {
		return nil, errors.New("secret: no purpose")
	}
	type secretDoc struct {
		Key   string `bson:"key,omitempty"`
		Check string `bson:"check,omitempty"`
	}
	var d secretDoc
	err := k.Store.Get(ctx, secretsCollection, purpose, &d)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("secret %s: %w", purpose, err)
	}
	found := err == nil
	if found && d.Key != "" {
		key, err := hex.DecodeString(d.Key)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("secret %s: stored key is malformed", purpose)
		}
		return key, nil
	}
	var key []byte
	if ak := k.Audit.key; ak != nil {
		m := hmac.New(sha256.New, ak)
		m.Write([]byte("tracecraft/" + purpose))
		key = m.Sum(nil)
		check := secretCheck(key)
		if found {
			if !hmac.Equal([]byte(d.Check), []byte(check)) {
				return nil, fmt.Errorf("secret %s: %w", purpose, ErrSecretChanged)
			}
			return key, nil
		}
		d = secretDoc{Check: check}
	} else {
		if found {
			// A check value without a key: the audit key that made it is not given now.
			return nil, fmt.Errorf("secret %s: %w", purpose, ErrSecretChanged)
		}
		key = make([]byte, 32)
		if _, err := rand.Read(key); err != nil {
			return nil, fmt.Errorf("secret %s: %w", purpose, err)
		}
		d = secretDoc{Key: hex.EncodeToString(key)}
	}
	if err := k.Store.Put(ctx, secretsCollection, purpose, d); errors.Is(err, store.ErrDuplicate) {
		// Stored meanwhile by another caller (another node): judge against theirs.
		return k.Secret(ctx, purpose)
	} else if err != nil {
		return nil, fmt.Errorf("secret %s: %w", purpose, err)
	}
	return key, nil
}

// secretCheck is the check value stored for a purpose's key: HMAC-SHA256(key, a constant).
func secretCheck(key []byte) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("tracecraft/secret-check"))
	return hex.EncodeToString(m.Sum(nil))
}
