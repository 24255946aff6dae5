package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine/store"
)

// PruneResult is what one run of the prune job deleted.
type PruneResult struct {
	Runs          int `json:"runs"`
	Notifications int `json:"notifications"`
	Deliveries    int `json:"deliveries"` // done webhook deliveries
	Attempts      int `json:"attempts"`   // webhook attempt claims
	Fired         int `json:"fired"`      // date firing claims whose window has closed
}

// Prune deletes, as of now, what the engine keeps only for a while: runs older than
// RunRetention, notifications older than NotificationRetention, done webhook deliveries and
// attempt claims older than WebhookRetention (dead letters stay until replayed), and date
// firing claims whose window closed more than a day ago (the record can no longer fire for
// that due day, so the claim guards nothing). The prune job runs it daily.
func (s *Service) Prune(ctx context.Context, now time.Time) (*PruneResult, error) {
	now = now.UTC()
	res := &PruneResult{}
	var errs []error
	var err error
	res.Runs, err = s.PruneRuns(ctx, now.Add(-s.opts.RunRetention))
	errs = append(errs, err)
	res.Notifications, err = s.pruneWhere(ctx, notificationsCollection, "at", store.Lt("at", now.Add(-s.opts.NotificationRetention)))
	errs = append(errs, err)
	res.Deliveries, err = s.pruneWhere(ctx, webhooksCollection, "updated_at",
		store.And(store.Eq("state", WebhookDone), store.Lt("updated_at", now.Add(-s.opts.WebhookRetention))))
	errs = append(errs, err)
	res.Attempts, err = s.pruneWhere(ctx, webhookClaims, "at", store.Lt("at", now.Add(-s.opts.WebhookRetention)))
	errs = append(errs, err)
	res.Fired, err = s.pruneWhere(ctx, firedCollection, "until", store.Lt("until", now.Add(-24*time.Hour)))
	errs = append(errs, err)
	return res, errors.Join(errs...)
}

// pruneWhere deletes the documents of coll that match where, a page of ids at a time in the
// order of sortPath (an index serves where).
func (s *Service) pruneWhere(ctx context.Context, coll, sortPath string, where store.Cond) (int, error) {
	n := 0
	for {
		page, err := s.st.Query(ctx, coll, store.Query{Where: where, Sort: []store.SortKey{{Path: sortPath}}, Limit: 500, Fields: []string{"_id"}})
		if err != nil {
			return n, fmt.Errorf("prune %s: %w", coll, err)
		}
		for _, raw := range page.Docs {
			id, _ := bson.Raw(raw).Lookup("_id").StringValueOK()
			if err := s.st.Delete(ctx, coll, id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return n, fmt.Errorf("prune %s: %w", coll, err)
			}
			n++
		}
		if page.Next == "" || len(page.Docs) == 0 {
			return n, nil
		}
	}
}
