package store

import (
	"context"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// TestIssue8Review_SettleTellsWhoseRevision (issue 8 item 4, review): Settle answered "stored"
// for any revision rev, so a write that timed out while another writer took its revision was
// reported as stored. A write made with a stamp keeps it in the revision, and Settle compares.
func TestIssue8Review_SettleTellsWhoseRevision(t *testing.T) {
	s, ctx := openCommitStore(t), context.Background()
	stamp := func(n int64) context.Context { return WithStamp(ctx, func() int64 { return n }) }
	if err := s.CreateWith(stamp(10), "docs", "d1", bson.D{{Key: "v", Value: 1}}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if _, err := s.UpdateWith(stamp(12), "docs", "d1", 1, bson.D{{Key: "v", Value: 2}}, func(context.Context) error { return nil }); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		rev, stamp int64
		want       bool
	}{
		{1, 10, true}, {1, 11, false}, // an older revision, kept in the revisions collection
		{2, 12, true}, {2, 11, false}, // the current revision
		{2, 0, true}, // no stamp to compare: as before
		{3, 13, false},
	} {
		if ok, err := s.Settle(ctx, "docs", "d1", c.rev, c.stamp); ok != c.want || err != nil {
			t.Errorf("settle revision %d stamped %d: %v, %v; want %v", c.rev, c.stamp, ok, err, c.want)
		}
	}

	// Revision 3 claimed by another writer (stamp 14), not applied: it is not revision 3 of
	// the write stamped 13, and is not rolled forward on its behalf.
	claim := bson.D{{Key: "_id", Value: revID("d1", 3)}, {Key: "rev", Value: int64(3)},
		{Key: "doc", Value: bson.D{{Key: "_id", Value: "d1"}, {Key: "v", Value: 3}, {Key: RevField, Value: int64(3)}, {Key: StampField, Value: int64(14)}}}}
	if err := s.insert(ctx, RevisionsCollection("docs"), claim); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Settle(ctx, "docs", "d1", 3, 13); ok || err != nil {
		t.Fatalf("settle of another writer's claim: %v, %v; want false", ok, err)
	}
	if ok, err := s.Settle(ctx, "docs", "d1", 3, 14); !ok || err != nil {
		t.Fatalf("settle of its own claim: %v, %v; want true", ok, err)
	}
	var got struct {
		V     int   `bson:"v"`
		Stamp int64 `bson:"_w"`
	}
	if err := s.Get(ctx, "docs", "d1", &got); err != nil || got.V != 3 || got.Stamp != 14 {
		t.Fatalf("after settle: %+v, %v; want the claim stamped 14 applied", got, err)
	}
}

// TestIssue8Review_DrawBlockClaimIsDurable (issue 8 item 4, review): with synchronous=NORMAL a
// power cut could roll back the claim of a block of auto-numbers whose numbers were already
// printed, and hand them out again. Each block's claim is synced to disk — after it is
// written, before its first number is handed out — once per DrawBlock numbers.
func TestIssue8Review_DrawBlockClaimIsDurable(t *testing.T) {
	s, ctx := openCommitStore(t), context.Background()
	var synced []int64 // the sequence's stored count at each sync
	s.syncHook = func(path string) error {
		if _, err := os.Stat(path); err != nil {
			t.Errorf("the file synced is not the WAL: %v", err)
		}
		var d seqDoc
		if err := s.Get(ctx, sequencesCollection, "lot", &d); err != nil {
			t.Errorf("read the sequence at sync: %v", err)
		}
		synced = append(synced, d.Used)
		return nil
	}
	var handed []int64
	for range DrawBlock + 1 {
		n, err := s.Draw(ctx, "lot")
		if err != nil {
			t.Fatal(err)
		}
		handed = append(handed, n)
		if want := (n-1)/DrawBlock + 1; int64(len(synced)) != want {
			t.Fatalf("number %d handed out after %d syncs; want %d (one per block, before its first number)", n, len(synced), want)
		}
	}
	if len(synced) != 2 || synced[0] != DrawBlock || synced[1] != 2*DrawBlock {
		t.Fatalf("stored count at each sync: %v; want [%d %d] (the claim written before it is synced)", synced, DrawBlock, 2*DrawBlock)
	}
	if handed[0] != 1 || handed[DrawBlock] != DrawBlock+1 {
		t.Fatalf("numbers handed out: %v", handed)
	}

	// Under SyncFull every commit is synced already: no extra sync.
	s.sync, synced = SyncFull, nil
	for range DrawBlock {
		if _, err := s.Draw(ctx, "lot"); err != nil {
			t.Fatal(err)
		}
	}
	if len(synced) != 0 {
		t.Fatalf("%d extra syncs under synchronous=FULL; want none", len(synced))
	}
	s.sync, s.syncHook = SyncNormal, nil
	if err := s.durable(); err != nil {
		t.Fatal(err)
	}
}

// BenchmarkIssue8Review_Draw measures a number drawn from a sequence with the block claim synced
// to disk (durable, the default) against the same without the sync: the cost of one flush per
// DrawBlock numbers.
func BenchmarkIssue8Review_Draw(b *testing.B) {
	for _, c := range []struct {
		name   string
		synced bool
	}{{"synced", true}, {"unsynced", false}} {
		b.Run(c.name, func(b *testing.B) {
			s, ctx := openCommitStore(b), context.Background()
			if !c.synced {
				s.syncHook = func(string) error { return nil }
			}
			for b.Loop() {
				if _, err := s.Draw(ctx, "lot"); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
