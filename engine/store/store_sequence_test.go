package store_test

import (
	"context"
	"path/filepath"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// TestIssue8Writes_SequenceLeavesOneDocument (issue 8 item 4, storage): a sequence is one
// document however many numbers it hands out — the chain of block documents grew by one a
// claim (15 MB of 50,000 records' folder).
func TestIssue8Writes_SequenceLeavesOneDocument(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	for i := range 100 {
		first, err := s.Next(ctx, "lot/261125", 1)
		if err != nil || first != int64(i+1) {
			t.Fatalf("next %d: %d, %v", i+1, first, err)
		}
	}
	n, err := s.Count(ctx, "_sequences", nil)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("100 claims left %d documents, want 1", n)
	}
}

// TestIssue8Writes_DrawGivesBackOnClose (issue 8 item 4): Draw costs a store write per block,
// not per number, and a clean restart skips no number: Close gives back the rest of the block.
func TestIssue8Writes_DrawGivesBackOnClose(t *testing.T) {
	dir, ctx := filepath.Join(storetest.TempDir(t), "data"), context.Background()
	var got []int64
	s := storetest.OpenEmbedded(t, dir)
	for range store.DrawBlock + 8 {
		v, err := s.Draw(ctx, "lot/261125")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	var d struct {
		Used int64 `bson:"used"`
	}
	if err := s.Get(ctx, "_sequences", "lot/261125", &d); err != nil || d.Used != 2*store.DrawBlock {
		t.Fatalf("after %d draws the sequence says %d used (%v), want two blocks: %d", store.DrawBlock+8, d.Used, err, 2*store.DrawBlock)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = storetest.OpenEmbedded(t, dir)
	for range 5 {
		v, err := s.Draw(ctx, "lot/261125")
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, v)
	}
	for i, v := range got {
		if v != int64(i+1) {
			t.Fatalf("draw %d gave %d: %v", i+1, v, got)
		}
	}
	// A Next after the block was reserved keeps the block's rest from being given back.
	if _, err := s.Draw(ctx, "wo"); err != nil {
		t.Fatal(err)
	}
	if first, err := s.Next(ctx, "wo", 1); err != nil || first != store.DrawBlock+1 {
		t.Fatalf("next after a drawn block: %d, %v", first, err)
	}
	if err := s.Close(ctx); err != nil {
		t.Fatal(err)
	}
	s = storetest.OpenEmbedded(t, dir)
	if v, err := s.Draw(ctx, "wo"); err != nil || v != store.DrawBlock+2 {
		t.Fatalf("draw after restart: %d, %v, want %d", v, err, store.DrawBlock+2)
	}
}

// TestIssue8Writes_SequenceFromBlockChain (issue 8 item 4): a sequence kept the old way, as a
// chain of block documents, goes on where its chain ends.
func TestIssue8Writes_SequenceFromBlockChain(t *testing.T) {
	s, ctx := storetest.New(t), context.Background()
	for id, doc := range map[string]bson.D{
		"lot#hint": {{Key: "top", Value: int64(4)}},
		"lot#1":    {{Key: "seq", Value: "lot"}, {Key: "start", Value: int64(1)}, {Key: "next", Value: int64(4)}},
		"lot#4":    {{Key: "seq", Value: "lot"}, {Key: "start", Value: int64(4)}, {Key: "next", Value: int64(5)}},
		"lot#5":    {{Key: "seq", Value: "lot"}, {Key: "start", Value: int64(5)}, {Key: "next", Value: int64(10)}},
	} {
		if err := s.Put(ctx, "_sequences", id, doc); err != nil {
			t.Fatal(err)
		}
	}
	if first, err := s.Next(ctx, "lot", 2); err != nil || first != 10 {
		t.Fatalf("next on a chain ending at 9: %d, %v, want 10", first, err)
	}
	if first, err := s.Next(ctx, "lot", 1); err != nil || first != 12 {
		t.Fatalf("then: %d, %v, want 12", first, err)
	}
}
