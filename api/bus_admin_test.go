package api_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"tracecraft/api/apitest"
	"tracecraft/engine"
)

// Item 11 of issue 7: system administrators list failing event deliveries and replay dead ones
// over HTTP.
func TestHardening11_AdminListsAndRetriesDeadDelivery(t *testing.T) {
	var mu sync.Mutex
	broken := true
	var delivered []engine.Event
	s := apitest.StartWith(t, apitest.Options{
		Bus: engine.BusOptions{MaxAttempts: 2, MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond},
		BeforeStart: func(k *engine.Kernel) {
			k.Bus.Subscribe("test.printer", []string{"test.print"}, func(_ context.Context, e engine.Event) error {
				mu.Lock()
				defer mu.Unlock()
				if broken {
					return errors.New("printer offline")
				}
				delivered = append(delivered, e)
				return nil
			})
		},
	})
	ctx := context.Background()
	if err := s.Kernel.Bus.Publish(ctx, engine.Event{Type: "test.print", Target: "label-1"}); err != nil {
		t.Fatal(err)
	}
	admin := s.Admin(t)
	var failed []engine.Delivery
	deadline := time.Now().Add(30 * time.Second)
	for {
		admin.Do("GET", "/api/v1/admin/bus/failed", nil, 200, &failed)
		if len(failed) == 1 && failed[0].State == engine.DeliveryDead {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dead delivery listed: %+v", failed)
		}
		time.Sleep(10 * time.Millisecond)
	}
	d := failed[0]
	if d.Subscriber != "test.printer" || d.Attempts != 2 || d.Event.Target != "label-1" || !strings.Contains(d.Error, "printer offline") {
		t.Fatalf("dead delivery = %+v", d)
	}
	event, sub, _ := strings.Cut(d.Key, "/")
	retry := "/api/v1/admin/bus/failed/" + event + "/" + sub + "/retry"

	// Only system administrators see or replay deliveries.
	admin.Do("POST", "/api/v1/users", map[string]any{"username": "op1", "displayName": "Operator", "password": "operat0r-pw"}, 201, nil)
	op := s.Login(t, "op1", "operat0r-pw")
	op.Do("GET", "/api/v1/admin/bus/failed", nil, 403, nil)
	op.Do("POST", retry, nil, 403, nil)
	s.Client(t).Do("GET", "/api/v1/admin/bus/failed", nil, 401, nil)
	admin.Do("POST", "/api/v1/admin/bus/failed/0000000000009999/test.printer/retry", nil, 404, nil)

	mu.Lock()
	broken = false
	mu.Unlock()
	admin.Do("POST", retry, nil, 200, nil)
	if err := s.Kernel.Bus.Drain(ctx); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	got := append([]engine.Event(nil), delivered...)
	mu.Unlock()
	if len(got) != 1 || got[0].ID != event || got[0].Target != "label-1" {
		t.Fatalf("after the retry the subscriber got %+v", got)
	}
	admin.Do("GET", "/api/v1/admin/bus/failed", nil, 200, &failed)
	if len(failed) != 0 {
		t.Fatalf("failed after a successful retry: %+v", failed)
	}
	admin.Do("POST", retry, nil, 404, nil)

	// The replay is in the audit log, and both routes are in the API description.
	var entries []engine.AuditEntry
	admin.Do("GET", "/api/v1/audit?action=bus.retry", nil, 200, &entries)
	if len(entries) != 1 || entries[0].Actor != "admin" || entries[0].Target != d.Key {
		t.Fatalf("audit entries for bus.retry: %+v", entries)
	}
	res := admin.Do("GET", "/api/v1/openapi.json", nil, 200, nil)
	for _, p := range []string{`"/api/v1/admin/bus/failed"`, `"/api/v1/admin/bus/failed/{event}/{subscriber}/retry"`} {
		if !strings.Contains(string(res.Body), p) {
			t.Errorf("openapi.json lacks %s", p)
		}
	}
}
