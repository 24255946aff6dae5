package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/engine"
	"tracecraft/engine/store"
	"tracecraft/engine/store/storetest"
)

// busTestKernel opens the data folder as the server would, with one test subscriber.
func busTestKernel(t *testing.T, data string, h engine.EventHandler) *engine.Kernel {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, store.Options{DataDir: data, Logger: storetest.Quiet})
	if err != nil {
		t.Fatal(err)
	}
	k := engine.NewKernel(st, engine.KernelOptions{Log: storetest.Quiet,
		Bus: engine.BusOptions{MaxAttempts: 2, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond}})
	k.Bus.Subscribe("test.printer", []string{"test.print"}, h)
	if err := k.Start(ctx); err != nil {
		t.Fatal(err)
	}
	return k
}

// Item 11 of issue 7: `tracecraft bus failed` lists dead deliveries of a stopped server's data
// folder and `tracecraft bus retry` has them delivered when it starts again.
func TestHardening11_CLIListsAndRetriesDeadDelivery(t *testing.T) {
	ctx := context.Background()
	data := storetest.TempDir(t)

	k := busTestKernel(t, data, func(context.Context, engine.Event) error { return errors.New("printer offline") })
	if err := k.Bus.Publish(ctx, engine.Event{Type: "test.print", Target: "label-9"}); err != nil {
		t.Fatal(err)
	}
	var key string
	for deadline := time.Now().Add(30 * time.Second); key == ""; {
		failed, err := k.Bus.Failed(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(failed) == 1 && failed[0].State == engine.DeliveryDead {
			key = failed[0].Key
		} else if time.Now().After(deadline) {
			t.Fatalf("no dead delivery: %+v", failed)
		} else {
			time.Sleep(5 * time.Millisecond)
		}
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}

	cli := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := run(ctx, args, strings.NewReader(""), &out, &out)
		return out.String(), err
	}
	out, err := cli("bus", "failed", "--data", data)
	if err != nil || !strings.Contains(out, key) || !strings.Contains(out, "dead") || !strings.Contains(out, "label-9") || !strings.Contains(out, "printer offline") {
		t.Fatalf("bus failed: %v: %s", err, out)
	}
	if out, err = cli("bus", "retry", "--data", data); err == nil {
		t.Fatalf("bus retry without keys: %s", out)
	}
	if out, err = cli("bus", "retry", "0000000000009999/test.printer", "--data", data); err == nil || !strings.Contains(out+err.Error(), "not found") {
		t.Fatalf("bus retry of an unknown delivery: %v: %s", err, out)
	}
	if out, err = cli("bus", "retry", key, "--data", data); err != nil || !strings.Contains(out, key) {
		t.Fatalf("bus retry: %v: %s", err, out)
	}
	if out, err = cli("bus", "failed", "--data", data); err != nil || !strings.Contains(out, "retrying") {
		t.Fatalf("bus failed after retry: %v: %s", err, out)
	}

	// The server starts again with the printer working: the event is delivered.
	var mu sync.Mutex
	var got []engine.Event
	k = busTestKernel(t, data, func(_ context.Context, e engine.Event) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, e)
		return nil
	})
	if err := k.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(got) != 1 || got[0].Target != "label-9" {
		t.Errorf("after the restart the printer got %+v", got)
	}
	mu.Unlock()
	if failed, err := k.Bus.Failed(ctx); err != nil || len(failed) != 0 {
		t.Errorf("failed after redelivery: %+v, %v", failed, err)
	}
	if err := k.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if out, err = cli("bus", "failed", "--data", data); err != nil || !strings.Contains(out, "no failing deliveries") {
		t.Fatalf("bus failed at the end: %v: %s", err, out)
	}
}
