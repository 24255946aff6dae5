package engine

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"tracecraft/engine/store"
)

// Argon2Params are the argon2id costs of new password hashes. A stored hash carries its own
// parameters, so changing them keeps existing passwords working.
type Argon2Params struct {
	Memory  uint32 `json:"memory"` // KiB
	Time    uint32 `json:"time"`   // passes
	Threads uint8  `json:"threads"`
}

// DefaultArgon2Params are OWASP's recommended minimum for argon2id: 19 MiB, 2 passes, 1 thread
// (about 30 ms a hash on one core; 64 MiB would be too slow for logins under load and for tests).
var DefaultArgon2Params = Argon2Params{Memory: 19456, Time: 2, Threads: 1}

// Password policy.
const (
	PasswordMinLen = 8
	PasswordMaxLen = 256
)

const (
	authSaltLen = 16
	authKeyLen  = 32
	// Limits on parameters read from a stored hash, so an edited hash cannot make a login
	// allocate gigabytes or spin for minutes.
	authMaxMemory = 1 << 20 // KiB = 1 GiB
	authMaxTime   = 16
)

var authB64 = base64.RawStdEncoding // PHC strings use unpadded standard base64

// authHashPassword hashes pw with argon2id into a PHC string:
// $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
func authHashPassword(pw string, p Argon2Params) (string, error) {
	salt := make([]byte, authSaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	key := argon2.IDKey([]byte(pw), salt, p.Time, p.Memory, p.Threads, authKeyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, authB64.EncodeToString(salt), authB64.EncodeToString(key)), nil
}

// authVerifyPassword reports whether pw matches the PHC-encoded argon2id hash, comparing in
// constant time. A malformed hash is an error (and no match).
func authVerifyPassword(encoded, pw string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return false, errors.New("verify password: not an argon2id hash")
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false, fmt.Errorf("verify password: unsupported argon2 version %q", parts[2])
	}
	var m, t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil {
		return false, fmt.Errorf("verify password: parameters %q: %w", parts[3], err)
	}
	if m < 8 || m > authMaxMemory || t < 1 || t > authMaxTime || p < 1 {
		return false, fmt.Errorf("verify password: parameters %q out of range", parts[3])
	}
	salt, err := authB64.DecodeString(parts[4])
	if err != nil || len(salt) < 8 {
		return false, errors.New("verify password: bad salt")
	}
	want, err := authB64.DecodeString(parts[5])
	if err != nil || len(want) < 16 || len(want) > 64 {
		return false, errors.New("verify password: bad hash")
	}
	got := argon2.IDKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// authCheckPassword applies the password policy: at least PasswordMinLen characters, with
// letters and digits. The error names the field "password".
func authCheckPassword(pw string) error {
	if utf8.RuneCountInString(pw) > PasswordMaxLen {
		return Invalid("password", "too_long", map[string]any{"max": PasswordMaxLen})
	}
	var letter, digit bool
	for _, r := range pw {
		letter = letter || unicode.IsLetter(r)
		digit = digit || unicode.IsDigit(r)
	}
	if utf8.RuneCountInString(pw) < PasswordMinLen || !letter || !digit {
		return Invalid("password", "weak_password", map[string]any{"min": PasswordMinLen})
	}
	return nil
}

// authPasswordAlphabet leaves out characters that are easy to misread when a generated
// password is copied from a terminal (0/O, 1/l/I).
const authPasswordAlphabet = "abcdefghijkmnopqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// authRandomPassword returns a random password of n characters that satisfies the policy.
func authRandomPassword(n int) (string, error) {
	for {
		b := make([]byte, n)
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("generate password: %w", err)
		}
		// 256 is not a multiple of the alphabet's length; rejecting high bytes keeps it uniform.
		limit := byte(256 - 256%len(authPasswordAlphabet))
		out := make([]byte, 0, n)
		for _, c := range b {
			if c < limit {
				out = append(out, authPasswordAlphabet[int(c)%len(authPasswordAlphabet)])
			}
		}
		if len(out) == n && authCheckPassword(string(out)) == nil {
			return string(out), nil
		}
	}
}

// authPasswordDoc is a user's password hash, stored in the passwords collection under the
// username. It is written with Set, not as a revision: revisioned documents keep every revision,
// and old hashes must not be kept. The last of two concurrent changes wins, as it should.
type authPasswordDoc struct {
	Hash string    `bson:"hash"`
	At   time.Time `bson:"at"`
}

// putPasswordHash stores hash as name's password, replacing the one before.
func (a *Auth) putPasswordHash(ctx context.Context, name, hash string) error {
	if err := a.st.Set(ctx, authPasswordsCollection, name, authPasswordDoc{Hash: hash, At: a.now()}); err != nil {
		return fmt.Errorf("store password of %q: %w", name, err)
	}
	return nil
}

// verifyStoredPassword reports whether pw is name's password. A user without a stored password
// (its creation failed half-way) matches nothing, after the time a real check takes; the error
// is a store failure.
func (a *Auth) verifyStoredPassword(ctx context.Context, name, pw string) (bool, error) {
	var d authPasswordDoc
	err := a.st.Get(ctx, authPasswordsCollection, name, &d)
	if errors.Is(err, store.ErrNotFound) {
		_, _ = authVerifyPassword(a.dummy(), pw)
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read password of %q: %w", name, err)
	}
	ok, err := authVerifyPassword(d.Hash, pw)
	return ok && err == nil, nil
}
