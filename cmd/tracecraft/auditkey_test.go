package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store/storetest"
)

func auditKeyTestCLI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(""), &out, &out)
	return out.String(), err
}

// Item 16 of issue 7: the binary keys the audit log with a key kept outside the database —
// made next to the embedded store's files when none is given, required with MongoDB — and an
// existing unkeyed log is sealed under it on the first keyed start.
func TestHardening16_CLIKeysTheAuditLog(t *testing.T) {
	t.Setenv("TRACECRAFT_AUDIT_KEY_FILE", "")
	t.Setenv("TRACECRAFT_AUDIT_KEY", "")
	ctx := context.Background()
	data := storetest.TempDir(t)

	// An installation from before the key: entries with plain hashes only.
	st := storetest.OpenEmbedded(t, data)
	old := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet})
	for _, target := range []string{"r1", "r2", "r3"} {
		if _, err := old.Audit.Append(ctx, engine.AuditEntry{Actor: "alice", Action: "record.create", Target: target}); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// The first command with this binary makes the key file, 0600, and seals the old entries.
	out, err := auditKeyTestCLI(t, "audit", "verify", "--data", data)
	if err != nil || !strings.Contains(out, "audit log OK: 4 entries, keyed") || !strings.Contains(out, "first 3") || !strings.Contains(out, "sealed") {
		t.Fatalf("first keyed verify: %v: %s", err, out)
	}
	keyPath := filepath.Join(data, "audit.key")
	info, err := os.Stat(keyPath)
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", info, err)
	}
	key, _ := os.ReadFile(keyPath)
	if len(bytes.TrimSpace(key)) < 32 {
		t.Fatalf("key file holds %q", key)
	}
	if out, err := auditKeyTestCLI(t, "user", "add", "qa1", "--data", data); err != nil {
		t.Fatalf("user add: %v: %s", err, out)
	}
	if out, err := auditKeyTestCLI(t, "audit", "verify", "--data", data); err != nil || !strings.Contains(out, "audit log OK") {
		t.Fatalf("verify after more entries: %v: %s", err, out)
	}

	// Another key does not verify the log; a key too short is refused.
	other := filepath.Join(t.TempDir(), "other.key")
	if err := os.WriteFile(other, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := auditKeyTestCLI(t, "audit", "verify", "--data", data, "--audit-key-file", other); err == nil || !strings.Contains(out, "TAMPERED") {
		t.Fatalf("verify with another key: %v: %s", err, out)
	}
	t.Setenv("TRACECRAFT_AUDIT_KEY", "short")
	if out, err := auditKeyTestCLI(t, "audit", "verify", "--data", data); err == nil || !strings.Contains(err.Error(), "at least 32") {
		t.Fatalf("short key: %v: %s", err, out)
	}
	t.Setenv("TRACECRAFT_AUDIT_KEY", string(bytes.TrimSpace(key)))
	if out, err := auditKeyTestCLI(t, "audit", "verify", "--data", data); err != nil {
		t.Fatalf("verify with the key from the environment: %v: %s", err, out)
	}
	t.Setenv("TRACECRAFT_AUDIT_KEY", "")

	// What a database writer does: rewrite history and recompute the plain hash chain (here by
	// writing it afresh with an unkeyed log, which computes exactly that), checkpoint and hint
	// removed.
	st = storetest.OpenEmbedded(t, data)
	var entries []engine.AuditEntry
	if entries, err = engine.NewAudit(st).List(ctx, engine.AuditQuery{Limit: 500}); err != nil {
		t.Fatal(err)
	}
	for _, coll := range []string{"_audit", "_audit_meta"} {
		if _, err := st.Database().Collection(coll).DeleteMany(ctx, bson.D{}); err != nil {
			t.Fatal(err)
		}
	}
	forger := engine.NewAudit(st)
	for i := len(entries) - 1; i >= 0; i-- {
		e := entries[i]
		if e.Seq == 2 {
			e.Actor = "mallory"
		}
		if _, err := forger.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	if rep, err := engine.NewAudit(st).Verify(ctx); err != nil || !rep.OK {
		t.Fatalf("the forged chain does not even pass an unkeyed verify: %+v, %v", rep, err)
	}
	if err := st.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err := auditKeyTestCLI(t, "audit", "verify", "--data", data); err == nil || !strings.Contains(out, "TAMPERED") {
		t.Fatalf("verify after the rewrite: %v: %s", err, out)
	}

	// MongoDB needs a key given.
	if out, err := auditKeyTestCLI(t, "audit", "verify", "--mongo-uri", "mongodb://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "audit key must be given") {
		t.Fatalf("mongo without a key: %v: %s", err, out)
	}
}
