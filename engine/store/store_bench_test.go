package store_test

import (
	"context"
	"fmt"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// fill inserts n documents with string _ids through the raw driver, in batches.
func fill(b *testing.B, s *store.Store, coll string, n int) {
	b.Helper()
	ctx := context.Background()
	c := s.Database().Collection(coll)
	batch := make([]any, 0, 1000)
	for i := range n {
		batch = append(batch, bson.D{{Key: "_id", Value: fmt.Sprintf("K%07d", i)}, {Key: "lot", Value: fmt.Sprint("LOT-", i%500)}, {Key: "qty", Value: i}})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := c.InsertMany(ctx, batch); err != nil {
				b.Fatal(err)
			}
			batch = batch[:0]
		}
	}
}

// BenchmarkGetByID compares the store's Get with the raw driver's FindOne on the same indexed
// collection, at two sizes: both should stay flat from 10,000 to 100,000 documents. The
// "unindexed" case is a collection made without the store's _id expression index, to show what
// the index is for.
func BenchmarkGetByID(b *testing.B) {
	s, ctx := storetest.New(b), context.Background()
	for _, n := range []int{10_000, 100_000} {
		coll := fmt.Sprintf("get%d", n)
		if _, err := s.Collection(ctx, coll); err != nil {
			b.Fatal(err)
		}
		fill(b, s, coll, n)
		b.Run(fmt.Sprintf("store/%d", n), func(b *testing.B) {
			var out bson.M
			for i := 0; b.Loop(); i++ {
				if err := s.Get(ctx, coll, fmt.Sprintf("K%07d", (i*7919)%n), &out); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(fmt.Sprintf("raw/%d", n), func(b *testing.B) {
			c := s.Database().Collection(coll)
			var out bson.M
			for i := 0; b.Loop(); i++ {
				if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("K%07d", (i*7919)%n)}}).Decode(&out); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	if err := s.Database().CreateCollection(ctx, "plain"); err != nil {
		b.Fatal(err)
	}
	fill(b, s, "plain", 10_000)
	b.Run("unindexed-raw/10000", func(b *testing.B) {
		c := s.Database().Collection("plain")
		var out bson.M
		for i := 0; b.Loop(); i++ {
			if err := c.FindOne(ctx, bson.D{{Key: "_id", Value: fmt.Sprintf("K%07d", (i*7919)%10_000)}}).Decode(&out); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkWrites compares the store's write primitives with the raw driver call each builds on.
func BenchmarkWrites(b *testing.B) {
	s, ctx := storetest.New(b), context.Background()
	doc := func(i int) bson.D {
		return bson.D{{Key: "lot", Value: fmt.Sprint("LOT-", i)}, {Key: "qty", Value: i}, {Key: "unit", Value: "kg"}}
	}
	b.Run("raw-insert", func(b *testing.B) {
		c, _ := s.Collection(ctx, "rawins")
		for i := 0; b.Loop(); i++ {
			if _, err := c.InsertOne(ctx, append(bson.D{{Key: "_id", Value: fmt.Sprint("r", i)}}, doc(i)...)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("put", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.Put(ctx, "puts", fmt.Sprint("p", i), doc(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("create", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			if err := s.Create(ctx, "creates", fmt.Sprint("c", i), doc(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("raw-replace", func(b *testing.B) {
		c, _ := s.Collection(ctx, "rawrep")
		if _, err := c.InsertOne(ctx, append(bson.D{{Key: "_id", Value: "x"}}, doc(0)...)); err != nil {
			b.Fatal(err)
		}
		for i := 0; b.Loop(); i++ {
			if _, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: "x"}}, doc(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("update", func(b *testing.B) {
		if err := s.Create(ctx, "updates", "x", doc(0)); err != nil {
			b.Fatal(err)
		}
		rev := int64(1)
		for i := 0; b.Loop(); i++ {
			var err error
			if rev, err = s.Update(ctx, "updates", "x", rev, doc(i)); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("next", func(b *testing.B) {
		for b.Loop() {
			if _, err := s.Next(ctx, "bench", 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}
