package rules

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"

	"tracecraft/engine"
	"tracecraft/engine/store"
)

// Notification is one in-app notification of one user (the notification centre).
type Notification struct {
	ID     string    `json:"id" bson:"_id"`
	User   string    `json:"-" bson:"user"`
	App    string    `json:"app,omitempty" bson:"app,omitempty"`
	Form   string    `json:"form,omitempty" bson:"form,omitempty"`
	Record string    `json:"record,omitempty" bson:"record,omitempty"`
	Title  string    `json:"title" bson:"title"`
	Body   string    `json:"body,omitempty" bson:"body,omitempty"`
	At     time.Time `json:"at" bson:"at"`
	Read   bool      `json:"read" bson:"read"`
}

// NotificationList is a page of a user's notifications, newest first, with the unread count.
type NotificationList struct {
	Items  []Notification `json:"items"`
	Unread int64          `json:"unread"`
	Next   string         `json:"next,omitempty"`
}

// maxUnreadCount caps the unread count (the header shows "99+").
const maxUnreadCount = 1000

// notify stores each notification (its User set) under key/user: a run again after a crash or a
// redelivery finds it there and adds none.
func (s *Service) notify(ctx context.Context, key string, ns []Notification) (int, error) {
	made := 0
	for _, n := range ns {
		n.ID, n.At = key+"/"+n.User, s.now().UTC()
		err := s.st.Put(ctx, notificationsCollection, n.ID, n)
		if errors.Is(err, store.ErrDuplicate) {
			continue
		}
		if err != nil {
			return made, fmt.Errorf("notify %s: %w", n.User, err)
		}
		made++
	}
	return made, nil
}

// Notifications lists p's notifications, newest first, limit a page (50 when 0), after the
// cursor next of the previous page; unreadOnly leaves read ones out.
func (s *Service) Notifications(ctx context.Context, p *engine.Principal, limit int, next string, unreadOnly bool) (*NotificationList, error) {
	if p == nil {
		return nil, engine.ErrUnauthenticated
	}
	where := store.Eq("user", p.Username)
	if unreadOnly {
		where = store.And(where, store.Eq("read", false))
	}
	page, err := s.st.Query(ctx, notificationsCollection, store.Query{Where: where,
		Sort: []store.SortKey{{Path: "at", Desc: true}}, Limit: min(max(limit, 0), 200), After: next})
	if err != nil {
		return nil, fmt.Errorf("list notifications: %w", err)
	}
	out := &NotificationList{Items: []Notification{}, Next: page.Next}
	for _, raw := range page.Docs {
		var n Notification
		if err := bson.Unmarshal(raw, &n); err != nil {
			return nil, fmt.Errorf("list notifications: %w", err)
		}
		out.Items = append(out.Items, n)
	}
	cnt, err := s.st.QueryCount(ctx, notificationsCollection, store.And(store.Eq("user", p.Username), store.Eq("read", false)), maxUnreadCount)
	if err != nil {
		return nil, fmt.Errorf("count notifications: %w", err)
	}
	out.Unread = cnt.N
	return out, nil
}

// maxMarkRead caps how many notifications one MarkRead changes: "all" marks the newest
// maxMarkRead unread ones (call again for more), more ids are refused.
const maxMarkRead = 500

// MarkRead marks notifications of p read: those in ids, or up to maxMarkRead unread ones when
// all is set. Ids of other users' notifications are not found. It returns how many it changed.
func (s *Service) MarkRead(ctx context.Context, p *engine.Principal, ids []string, all bool) (int, error) {
	if p == nil {
		return 0, engine.ErrUnauthenticated
	}
	if len(ids) > maxMarkRead {
		return 0, engine.Invalid("ids", "too_many", map[string]any{"max": maxMarkRead})
	}
	var todo []Notification
	if all {
		q := store.Query{Where: store.And(store.Eq("user", p.Username), store.Eq("read", false)),
			Sort: []store.SortKey{{Path: "at", Desc: true}}, Limit: maxMarkRead}
		page, err := s.st.Query(ctx, notificationsCollection, q)
		if err != nil {
			return 0, fmt.Errorf("mark notifications read: %w", err)
		}
		for _, raw := range page.Docs {
			var n Notification
			if err := bson.Unmarshal(raw, &n); err != nil {
				return 0, fmt.Errorf("mark notifications read: %w", err)
			}
			todo = append(todo, n)
		}
	}
	for _, id := range ids {
		var n Notification
		err := s.st.Get(ctx, notificationsCollection, id, &n)
		if errors.Is(err, store.ErrNotFound) || err == nil && n.User != p.Username {
			return 0, fmt.Errorf("notification %s: %w", id, engine.ErrNotFound)
		}
		if err != nil {
			return 0, fmt.Errorf("mark notification %s read: %w", id, err)
		}
		todo = append(todo, n)
	}
	changed := 0
	for _, n := range todo {
		if n.Read {
			continue
		}
		n.Read = true
		// Set: the user is the only writer of read.
		if err := s.st.Set(ctx, notificationsCollection, n.ID, n); err != nil {
			return changed, fmt.Errorf("mark notification %s read: %w", n.ID, err)
		}
		changed++
	}
	return changed, nil
}
