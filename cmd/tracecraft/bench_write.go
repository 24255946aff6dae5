package main

import (
	"context"
	"fmt"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/forms"
)

// benchCreates measures record creates through the form engine (validation, formula,
// auto-number, audit entry with its event, record) against raw driver inserts of the very
// document the engine stores, in one run: into a collection with the _id indexes only, and into
// the form's own collection, whose query indexes every insert pays; with one writer, the
// engine and the raw insert interleaved so both see the same machine, and with four writers at
// once.
func benchCreates(ctx context.Context, st *store.Store, fsvc *forms.Service, app, form string, n int, record func(i int) forms.Values, report func(string, float64, float64)) error {
	sys := engine.SystemPrincipal()
	create := func(i int) error {
		_, err := fsvc.Create(ctx, sys, app, form, record(i))
		return err
	}
	first, err := fsvc.Create(ctx, sys, app, form, record(0))
	if err != nil {
		return err
	}
	var stored bson.D
	if err := st.Get(ctx, forms.RecordsCollection(app, form), first.ID, &stored); err != nil {
		return err
	}
	plain, err := st.Collection(ctx, "bench_rawrec")
	if err != nil {
		return err
	}
	own, err := st.Collection(ctx, forms.RecordsCollection(app, form))
	if err != nil {
		return err
	}
	var rawSeq int64
	var seqMu sync.Mutex
	rawInsert := func(c *mongo.Collection) error {
		seqMu.Lock()
		rawSeq++
		id := fmt.Sprintf("raw%021d", rawSeq)
		seqMu.Unlock()
		doc := append(bson.D{{Key: "_id", Value: id}}, stored[1:]...)
		_, err := c.InsertOne(ctx, doc)
		return err
	}
	interleaved := func(c *mongo.Collection) (float64, float64, error) {
		var inEngine, inRaw time.Duration
		for i := range n {
			t0 := time.Now()
			if err := create(i); err != nil {
				return 0, 0, err
			}
			t1 := time.Now()
			if err := rawInsert(c); err != nil {
				return 0, 0, err
			}
			inEngine += t1.Sub(t0)
			inRaw += time.Since(t1)
		}
		return float64(n) / inEngine.Seconds(), float64(n) / inRaw.Seconds(), nil
	}
	e, r, err := interleaved(plain)
	if err != nil {
		return err
	}
	report("form engine Create vs raw insert (_id indexes only)", e, r)
	e, r, err = interleaved(own)
	if err != nil {
		return err
	}
	report("form engine Create vs raw insert into the form's collection", e, r)

	const writers = 4
	parallel := func(fn func(i int) error) (float64, error) {
		start := time.Now()
		var wg sync.WaitGroup
		errs := make(chan error, writers)
		for w := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := w; i < n; i += writers {
					if err := fn(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		if err := <-errs; err != nil {
			return 0, err
		}
		return float64(n) / time.Since(start).Seconds(), nil
	}
	e, err = parallel(create)
	if err != nil {
		return err
	}
	r, err = parallel(func(int) error { return rawInsert(own) })
	if err != nil {
		return err
	}
	report(fmt.Sprintf("  the same, %d writers at once", writers), e, r)
	return nil
}
