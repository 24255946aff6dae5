package rules

import (
	"context"
	"sync"
)

// webhookDispatcher makes the first attempts of queued webhook deliveries off the bus: the
// webhook action only stores a delivery (pending, due now) and kicks it. Its loop runs in its
// own goroutine while there is work (none is left running when idle), making the due
// attempts through RetryWebhooks, Options.WebhookWorkers at a time, so a slow receiver holds
// neither the bus's workers nor more than its share of the webhook workers.
type webhookDispatcher struct {
	mu      sync.Mutex
	running bool          // the loop is running
	dirty   bool          // a delivery was queued since the loop last looked
	idle    chan struct{} // closed when the running loop ends
	ctx     context.Context
	cancel  context.CancelFunc
}

// kickWebhooks has the dispatcher look for due deliveries soon.
func (s *Service) kickWebhooks() {
	d := &s.dispatch
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.ctx.Err() != nil {
		return // closed: the webhook job makes the attempts
	}
	d.dirty = true
	if d.running {
		return
	}
	d.running, d.idle = true, make(chan struct{})
	go s.dispatchLoop()
}

func (s *Service) dispatchLoop() {
	d := &s.dispatch
	for {
		d.mu.Lock()
		if !d.dirty || d.ctx.Err() != nil {
			d.running = false
			close(d.idle)
			d.mu.Unlock()
			return
		}
		d.dirty = false
		d.mu.Unlock()
		n, err := s.RetryWebhooks(d.ctx)
		if err != nil {
			s.k.Log.Error("webhook deliveries", "err", err)
		}
		if n >= webhookBatch {
			d.mu.Lock()
			d.dirty = true // more may be due
			d.mu.Unlock()
		}
	}
}

// DrainWebhooks waits until the dispatcher has made the attempts of the deliveries queued so
// far (those that failed wait for the webhook job), or ctx ends.
func (s *Service) DrainWebhooks(ctx context.Context) error {
	d := &s.dispatch
	d.mu.Lock()
	running, idle := d.running, d.idle
	d.mu.Unlock()
	if !running {
		return nil
	}
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close stops the webhook dispatcher: calls in progress are cancelled (their deliveries stay
// pending for the webhook job) and Close waits for the loop to end, or ctx.
func (s *Service) Close(ctx context.Context) error {
	s.dispatch.cancel()
	return s.DrainWebhooks(ctx)
}
