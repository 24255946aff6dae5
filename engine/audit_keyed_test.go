package engine

import (
	"context"
	"strings"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// Item 16 of issue 7: the audit chain is keyed, so whoever can write the database but has not
// the key cannot rewrite history unnoticed.

var auditTestKey = []byte("0123456789abcdef0123456789abcdef-test-key")

// auditTestRewrite does what an attacker with write access to the database does: change entry
// from's actor and recompute the chain from there to the end with the unkeyed hash (the only
// one they can compute), storing each entry as unkeyed (v unset) or, keepV, still marked keyed.
func auditTestRewrite(t *testing.T, s *store.Store, from int64, keepV bool) {
	t.Helper()
	ctx := context.Background()
	coll := s.Database().Collection("_audit")
	prev := ""
	if from > 1 {
		var p auditStored
		if err := s.Get(ctx, "_audit", auditID(from-1), &p); err != nil {
			t.Fatal(err)
		}
		prev = p.Hash
	}
	for seq := from; ; seq++ {
		var st auditStored
		if err := s.Get(ctx, "_audit", auditID(seq), &st); err != nil {
			break
		}
		e, before, after, err := st.decode()
		if err != nil {
			t.Fatal(err)
		}
		e.Seq, e.Prev = seq, prev
		if seq == from {
			e.Actor = "mallory"
		}
		e.Hash = auditHash(e, before, after)
		set := bson.D{{Key: "actor", Value: e.Actor}, {Key: "prev", Value: e.Prev}, {Key: "hash", Value: e.Hash}}
		update := bson.D{{Key: "$set", Value: set}}
		if !keepV {
			update = append(update, bson.E{Key: "$unset", Value: bson.D{{Key: "v", Value: ""}}})
		}
		if _, err := coll.UpdateOne(ctx, bson.D{{Key: "_id", Value: auditID(seq)}}, update); err != nil {
			t.Fatal(err)
		}
		prev = e.Hash
	}
	// The tail hint too, so it agrees with the new chain.
	if _, err := s.Database().Collection("_audit_meta").DeleteOne(ctx, bson.D{{Key: "_id", Value: "tail"}}); err != nil {
		t.Fatal(err)
	}
}

func TestHardening16_RewrittenAndRehashedEntryFailsKeyedVerify(t *testing.T) {
	for _, keepV := range []bool{false, true} {
		s := storetest.New(t)
		a := NewAudit(s, WithAuditKey(auditTestKey))
		es := auditTestAppend(t, a, 6)
		if rep := auditTestVerify(t, a); !rep.OK || !rep.Keyed || rep.Entries != 6 || rep.Legacy != 0 || rep.LastHash != es[5].Hash {
			t.Fatalf("before the rewrite: %+v", rep)
		}
		auditTestRewrite(t, s, 3, keepV)
		rep := auditTestVerify(t, NewAudit(s, WithAuditKey(auditTestKey)))
		if rep.OK || rep.FirstBad != 3 {
			t.Fatalf("after rewriting entry 3 and rehashing the chain (v kept: %v): %+v, want entry 3 reported", keepV, rep)
		}
		t.Logf("v kept %v: %s", keepV, rep.Reason)
	}

	// A checkpoint made up to cover the rewritten entries does not help: it is keyed too.
	s := storetest.New(t)
	a := NewAudit(s, WithAuditKey(auditTestKey))
	auditTestAppend(t, a, 4)
	auditTestRewrite(t, s, 2, false)
	var last auditStored
	if err := s.Get(context.Background(), "_audit", auditID(4), &last); err != nil {
		t.Fatal(err)
	}
	forged := NewAudit(s, WithAuditKey([]byte("a key the attacker made up, not ours")))
	c := auditSeal{UpTo: 4, Hash: last.Hash}
	c.MAC = forged.sealMAC(c)
	if err := s.Put(context.Background(), "_audit_meta", auditSealID, c); err != nil {
		t.Fatal(err)
	}
	if rep := auditTestVerify(t, a); rep.OK {
		t.Fatalf("a forged checkpoint was believed: %+v", rep)
	}

	// Without a key, the same rewrite goes unnoticed: why the log is keyed.
	s = storetest.New(t)
	plain := NewAudit(s)
	auditTestAppend(t, plain, 6)
	auditTestRewrite(t, s, 3, false)
	if rep := auditTestVerify(t, NewAudit(s)); !rep.OK {
		t.Fatalf("unkeyed verify after the rewrite: %+v (the unkeyed chain was expected to be fooled)", rep)
	}
	// And a keyed verifier does not take those unkeyed entries on trust.
	if rep := auditTestVerify(t, NewAudit(s, WithAuditKey(auditTestKey))); rep.OK || rep.FirstBad != 1 {
		t.Fatalf("keyed verify of an unsealed unkeyed log: %+v", rep)
	}
}

func TestHardening16_EntriesBeforeTheKeyAreSealed(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	auditTestAppend(t, NewAudit(s), 5) // written before the log was keyed
	a := NewAudit(s, WithAuditKey(auditTestKey))
	if rep := auditTestVerify(t, a); rep.OK || rep.FirstBad != 1 {
		t.Fatalf("unsealed legacy entries: %+v", rep)
	}
	n, err := a.SealLegacy(ctx)
	if err != nil || n != 5 {
		t.Fatalf("SealLegacy = %d, %v; want 5", n, err)
	}
	if n, err := a.SealLegacy(ctx); err != nil || n != 0 {
		t.Fatalf("second SealLegacy = %d, %v; want 0", n, err)
	}
	auditTestAppend(t, a, 3)
	rep := auditTestVerify(t, a)
	if !rep.OK || rep.Entries != 9 || rep.Legacy != 5 || !rep.Keyed {
		t.Fatalf("after sealing: %+v, want 9 entries (5 legacy, the seal, 3 keyed)", rep)
	}
	seals, err := a.List(ctx, AuditQuery{Action: "audit.seal"})
	if err != nil || len(seals) != 1 || seals[0].Seq != 6 {
		t.Fatalf("audit.seal entries: %+v, %v", seals, err)
	}

	// Rewriting a sealed entry and rehashing the legacy part no longer matches the checkpoint.
	auditTestRewrite(t, s, 2, false)
	if rep := auditTestVerify(t, a); rep.OK {
		t.Fatalf("after rewriting a sealed entry: %+v", rep)
	}

	// A broken legacy chain is not sealed.
	s2 := storetest.New(t)
	auditTestAppend(t, NewAudit(s2), 3)
	if _, err := s2.Database().Collection("_audit").UpdateOne(ctx, bson.D{{Key: "_id", Value: auditID(2)}},
		bson.D{{Key: "$set", Value: bson.D{{Key: "actor", Value: "mallory"}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := NewAudit(s2, WithAuditKey(auditTestKey)).SealLegacy(ctx); err == nil || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("SealLegacy of a broken chain: %v", err)
	}
}

func TestHardening16_TailHintIsNotTrusted(t *testing.T) {
	ctx := context.Background()
	s := storetest.New(t)
	a := NewAudit(s, WithAuditKey(auditTestKey))
	es := auditTestAppend(t, a, 5)
	// A database writer points the hint far ahead with a made-up hash.
	if err := s.Set(ctx, "_audit_meta", "tail", auditHint{Seq: 1000, Hash: strings.Repeat("0", 64)}); err != nil {
		t.Fatal(err)
	}
	b := NewAudit(s, WithAuditKey(auditTestKey))
	e := auditTestAppend(t, b, 1)[0]
	if e.Seq != 6 || e.Prev != es[4].Hash {
		t.Fatalf("append after a forged hint: seq %d prev %q, want 6 after the real tail", e.Seq, e.Prev)
	}
	if rep := auditTestVerify(t, b); !rep.OK || rep.Entries != 6 {
		t.Fatalf("verify with a forged hint: %+v", rep)
	}
}
