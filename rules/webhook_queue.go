package rules

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// SignatureHeader is the header that carries a webhook body's HMAC-SHA256 under the rule's
// secret: "sha256=" and the hex digest.
const SignatureHeader = "X-Tracecraft-Signature"

// The states of a webhook delivery.
const (
	WebhookPending = "pending" // waiting for its next attempt
	WebhookDone    = "done"    // the receiver answered 2xx
	WebhookDead    = "dead"    // every attempt failed: a dead letter until replayed
)

// WebhookDelivery is one webhook call and its attempts.
type WebhookDelivery struct {
	ID         string    `json:"id" bson:"_id"` // the action run's key
	App        string    `json:"app" bson:"app"`
	Rule       string    `json:"rule,omitempty" bson:"rule,omitempty"` // the key of the rule that queued it
	URL        string    `json:"url" bson:"url"`
	Secret     string    `json:"-" bson:"secret,omitempty"`
	Body       string    `json:"body" bson:"body"` // the JSON sent
	State      string    `json:"state" bson:"state"`
	Attempts   int       `json:"attempts" bson:"attempts"`
	Round      int       `json:"round" bson:"round"` // replays so far: attempt claims are per round
	NextAt     time.Time `json:"nextAt,omitzero" bson:"next_at"`
	LastStatus int       `json:"lastStatus,omitempty" bson:"last_status,omitempty"`
	LastError  string    `json:"lastError,omitempty" bson:"last_error,omitempty"`
	CreatedAt  time.Time `json:"createdAt" bson:"created_at"`
	UpdatedAt  time.Time `json:"updatedAt" bson:"updated_at"`
}

// webhookClaims holds one unique document per attempt (id#round#n): of several nodes retrying
// one delivery, only the one that claims the attempt sends it, and then writes the delivery.
const webhookClaims = "rule_webhook_attempts"

// Sign is the X-Tracecraft-Signature value of body under secret.
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// queueWebhook stores a delivery under key (or finds the one stored before), pending and due
// now, and kicks the dispatcher, which makes the attempt off the caller's goroutine (the bus).
func (s *Service) queueWebhook(ctx context.Context, key, app, rule, url, secret string, body []byte) (*WebhookDelivery, error) {
	now := s.now().UTC()
	d := &WebhookDelivery{ID: key, App: app, Rule: rule, URL: url, Secret: secret, Body: string(body), State: WebhookPending,
		NextAt: now, CreatedAt: now, UpdatedAt: now}
	err := s.st.Put(ctx, webhooksCollection, key, d)
	if errors.Is(err, store.ErrDuplicate) {
		var prev WebhookDelivery
		if err := s.st.Get(ctx, webhooksCollection, key, &prev); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", key, err)
		}
		return &prev, nil
	}
	if err != nil {
		return nil, fmt.Errorf("queue webhook %s: %w", key, err)
	}
	s.kickWebhooks()
	return d, nil
}

// webhookBatch is how many due deliveries RetryWebhooks takes at a time.
const webhookBatch = 100

// ruleDisabled is the dead letter's error of a delivery whose rule was switched off.
const ruleDisabled = "rule disabled"

// attempt makes the delivery's next attempt if it claims it, and stores the outcome: done,
// pending with the next attempt's time, or dead after the last one. A delivery queued by a
// rule that has been switched off since (no active version) is not sent: it is a dead letter
// at once, with the error "rule disabled" — unless replayed is set (an administrator's
// replay sends it all the same).
func (s *Service) attempt(ctx context.Context, d *WebhookDelivery, replayed bool) (*WebhookDelivery, error) {
	n := d.Attempts + 1
	claim := d.ID + "#" + strconv.Itoa(d.Round) + "#" + strconv.Itoa(n)
	if err := s.st.Put(ctx, webhookClaims, claim, bson.D{{Key: "at", Value: s.now().UTC()}}); err != nil {
		if errors.Is(err, store.ErrDuplicate) {
			return d, nil // another node makes this attempt
		}
		return nil, fmt.Errorf("webhook %s: %w", d.ID, err)
	}
	off := false
	if d.Rule != "" && !replayed {
		var err error
		if off, err = s.ruleOff(ctx, d.App, d.Rule); err != nil {
			return nil, fmt.Errorf("webhook %s: %w", d.ID, err)
		}
	}
	var status int
	var callErr error
	if !off {
		status, callErr = s.call(ctx, d)
	}
	d.Attempts, d.LastStatus, d.UpdatedAt = n, status, s.now().UTC()
	switch {
	case off:
		d.State, d.LastError, d.NextAt = WebhookDead, ruleDisabled, time.Time{}
		s.k.Log.Warn("webhook dead letter: its rule is switched off", "delivery", d.ID, "rule", d.Rule)
	case callErr == nil:
		d.State, d.LastError, d.NextAt = WebhookDone, "", time.Time{}
	case n >= s.opts.WebhookAttempts:
		d.State, d.LastError, d.NextAt = WebhookDead, callErr.Error(), time.Time{}
		s.k.Log.Warn("webhook dead letter", "delivery", d.ID, "url", d.URL, "attempts", n, "err", callErr)
	default:
		d.State, d.LastError = WebhookPending, callErr.Error()
		d.NextAt = d.UpdatedAt.Add(s.opts.WebhookBackoff << (n - 1))
	}
	// The attempt's claim makes this node the delivery's only writer until the next attempt.
	if err := s.st.Set(ctx, webhooksCollection, d.ID, d); err != nil {
		return nil, fmt.Errorf("webhook %s: %w", d.ID, err)
	}
	return d, nil
}

// call posts the delivery's body; an error for anything but a 2xx answer.
func (s *Service) call(ctx context.Context, d *WebhookDelivery) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, s.opts.WebhookTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, d.URL, bytes.NewReader([]byte(d.Body)))
	if err != nil {
		return 0, fmt.Errorf("webhook request: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tracecraft-rules")
	req.Header.Set("X-Tracecraft-Delivery", d.ID)
	if d.Secret != "" {
		req.Header.Set(SignatureHeader, Sign(d.Secret, []byte(d.Body)))
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		s.k.Log.Warn("webhook call failed", "delivery", d.ID, "err", err)
		return 0, webhookCallError(ctx, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxWebhookAnswer))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("webhook answered %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

// RetryWebhooks makes the next attempt of the pending deliveries that are due (at most
// webhookBatch, oldest due first), Options.WebhookWorkers at a time, and returns how many it
// tried. The webhook job and the dispatcher run it.
func (s *Service) RetryWebhooks(ctx context.Context) (int, error) {
	q := store.Query{Where: store.And(store.Eq("state", WebhookPending), store.Lte("next_at", s.now().UTC())),
		Sort: []store.SortKey{{Path: "next_at"}}, Limit: webhookBatch}
	var due []*WebhookDelivery
	err := s.st.QueryEach(ctx, webhooksCollection, q, func(raw bson.Raw) error {
		var d WebhookDelivery
		if err := bson.Unmarshal(raw, &d); err != nil {
			return err
		}
		due = append(due, &d)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retry webhooks: %w", err)
	}
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
		sem  = make(chan struct{}, s.opts.WebhookWorkers)
	)
	for _, d := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			if _, err := s.attempt(ctx, d, false); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return len(due), errors.Join(errs...)
}

// WebhookList is a page of dead letters, oldest first.
type WebhookList struct {
	Items []WebhookDelivery `json:"items"`
	Next  string            `json:"next,omitempty"`
}

// DeadWebhooks lists the dead letters a page at a time (limit: 50 when 0, at most 200; next:
// the previous page's Next), for a system administrator.
func (s *Service) DeadWebhooks(ctx context.Context, p *engine.Principal, limit int, next string) (*WebhookList, error) {
	if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
		return nil, err
	}
	if limit <= 0 {
		limit = 50
	}
	q := store.Query{Where: store.Eq("state", WebhookDead), Sort: []store.SortKey{{Path: "next_at"}}, Limit: min(limit, 200), After: next}
	page, err := s.st.Query(ctx, webhooksCollection, q)
	if err != nil {
		return nil, fmt.Errorf("list dead webhooks: %w", err)
	}
	out := &WebhookList{Items: []WebhookDelivery{}, Next: page.Next}
	for _, raw := range page.Docs {
		var d WebhookDelivery
		if err := bson.Unmarshal(raw, &d); err != nil {
			return nil, fmt.Errorf("list dead webhooks: %w", err)
		}
		out.Items = append(out.Items, d)
	}
	return out, nil
}

// ReplayWebhook gives a dead delivery a new round of attempts and makes the first one at once,
// for a system administrator; the replay is in the audit log.
func (s *Service) ReplayWebhook(ctx context.Context, p *engine.Principal, id string) (*WebhookDelivery, error) {
	if err := s.k.Auth.Require(ctx, p, "", engine.PermSystemAdmin); err != nil {
		return nil, err
	}
	var d WebhookDelivery
	if err := s.st.Get(ctx, webhooksCollection, id, &d); errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("webhook %s: %w", id, engine.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("webhook %s: %w", id, err)
	}
	if d.State != WebhookDead {
		return nil, fmt.Errorf("webhook %s is %s, not dead: %w", id, d.State, engine.ErrConflict)
	}
	if _, err := s.k.Audit.Append(ctx, engine.AuditEntry{Actor: p.Username, IP: p.IP, Action: "webhook.replay", Kind: "webhook", Target: id}); err != nil {
		return nil, fmt.Errorf("replay webhook %s: %w", id, err)
	}
	d.Round++
	d.Attempts, d.State, d.NextAt = 0, WebhookPending, s.now().UTC()
	if err := s.st.Set(ctx, webhooksCollection, d.ID, d); err != nil {
		return nil, fmt.Errorf("replay webhook %s: %w", id, err)
	}
	return s.attempt(ctx, &d, true)
}

// ruleOff tells whether rule key of app has no active version (switched off).
func (s *Service) ruleOff(ctx context.Context, app, key string) (bool, error) {
	var a activeRule
	err := s.st.Get(ctx, activeCollection, engine.DefinitionID(app, key), &a)
	if errors.Is(err, store.ErrNotFound) {
		return true, nil
	}
	if err != nil {
		return false, fmt.Errorf("rule %s: %w", key, err)
	}
	return a.Disabled, nil
}
