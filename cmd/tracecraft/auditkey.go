package main

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
)

// auditKeyFileName is the audit key's file in the data folder, next to (not inside) the
// database, when no other key is given on the embedded store.
const auditKeyFileName = "audit.key"

// auditKeyMin is the shortest audit key accepted, in bytes.
const auditKeyMin = 32

// auditKey finds the key of the audit log's hash chain: the file given by --audit-key-file
// (TRACECRAFT_AUDIT_KEY_FILE), else TRACECRAFT_AUDIT_KEY, else on the embedded store the file
// audit.key in the data folder, made (mode 0600) when missing — created is then true. With
// MongoDB a key must be given: the database alone must not hold what vouches for it.
func auditKey(f *storeFlags, log *slog.Logger) (key []byte, created bool, err error) {
	switch {
	case f.auditKeyFile != "":
		key, err := readAuditKey(f.auditKeyFile, log)
		return key, false, err
	case os.Getenv("TRACECRAFT_AUDIT_KEY") != "":
		key := bytes.TrimSpace([]byte(os.Getenv("TRACECRAFT_AUDIT_KEY")))
		if len(key) < auditKeyMin {
			return nil, false, fmt.Errorf("TRACECRAFT_AUDIT_KEY: the audit key must be at least %d bytes (e.g. openssl rand -hex 32)", auditKeyMin)
		}
		return key, false, nil
	case f.mongoURI != "":
		return nil, false, errors.New("with --mongo-uri the audit key must be given: --audit-key-file FILE (or TRACECRAFT_AUDIT_KEY_FILE, TRACECRAFT_AUDIT_KEY); make one with: openssl rand -hex 32 > FILE, give every node the same, keep it out of the database's backups")
	}
	path := filepath.Join(f.data, auditKeyFileName)
	if err := os.MkdirAll(f.data, 0o700); err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	file, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		key, err := readAuditKey(path, log)
		return key, false, err
	}
	if err != nil {
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	text := hex.EncodeToString(raw)
	_, err = file.WriteString(text + "\n")
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(path)
		return nil, false, fmt.Errorf("audit key: %w", err)
	}
	return []byte(text), true, nil
}

// readAuditKey reads a key file: its content without surrounding white space.
func readAuditKey(path string, log *slog.Logger) ([]byte, error) {
	info, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("audit key file %s does not exist (make one with: openssl rand -hex 32 > %s; chmod 600 %s)", path, path, path)
	}
	if err != nil {
		return nil, fmt.Errorf("audit key file: %w", err)
	}
	if info.Mode().Perm()&0o077 != 0 {
		log.Warn("the audit key file can be read by other users: chmod 600 it", "file", path, "mode", info.Mode().Perm().String())
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("audit key file: %w", err)
	}
	key := bytes.TrimSpace(raw)
	if len(key) < auditKeyMin {
		return nil, fmt.Errorf("audit key file %s: the key must be at least %d bytes (e.g. openssl rand -hex 32)", path, auditKeyMin)
	}
	return key, nil
}
