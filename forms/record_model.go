package forms

import (
	"fmt"
	"math"
	"strings"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
)

// RecordsCollection names the collection of one form's records. App and form keys are
// [a-z0-9_], so the dots keep every (app, form) pair's name distinct.
func RecordsCollection(app, form string) string { return "rec." + app + "." + form }

// Record is one submitted form as the API shows it.
type Record struct {
	ID        string    `json:"id"`
	App       string    `json:"app"`
	Form      string    `json:"form"`
	Version   int       `json:"version"`
	Rev       int64     `json:"rev"`
	Status    string    `json:"status,omitempty"`
	Data      Values    `json:"data"`
	CreatedBy string    `json:"createdBy"`
	CreatedAt time.Time `json:"createdAt"`
	UpdatedBy string    `json:"updatedBy"`
	UpdatedAt time.Time `json:"updatedAt"`
	Deleted   *Deletion `json:"deleted,omitempty"`
}

// Deletion records who deleted a record and when (records are deleted softly and restorable).
type Deletion struct {
	By string    `json:"by" bson:"by"`
	At time.Time `json:"at" bson:"at"`
}

// DateParts are the parts of a date field that boards group by, stored with the record.
type DateParts struct {
	Day     string `json:"day" bson:"day"`         // 2026-11-25
	Week    string `json:"week" bson:"week"`       // 2026-W48 (ISO week)
	Month   string `json:"month" bson:"month"`     // 2026-11
	Quarter string `json:"quarter" bson:"quarter"` // 2026-Q4
	Year    string `json:"year" bson:"year"`       // 2026
}

// recordDoc is a record as stored.
type recordDoc struct {
	ID          string               `bson:"_id"`
	Rev         int64                `bson:"_rev"`
	App         string               `bson:"app"`
	Form        string               `bson:"form"`
	Version     int                  `bson:"version"`
	Status      string               `bson:"status,omitempty"`
	Data        bson.M               `bson:"data"`
	Parts       map[string]DateParts `bson:"parts,omitempty"`
	Owner       string               `bson:"owner"`
	Dept        string               `bson:"dept,omitempty"`
	CreatedBy   string               `bson:"created_by"`
	CreatedAt   time.Time            `bson:"created_at"`
	UpdatedBy   string               `bson:"updated_by"`
	UpdatedAt   time.Time            `bson:"updated_at"`
	Deleted     *Deletion            `bson:"deleted,omitempty"`
	ImportBatch string               `bson:"import,omitempty"`
	// loadedStatus is the status the record had when load read it: a status change's event
	// reports it as previousStatus.
	loadedStatus string
}

func (d *recordDoc) record() *Record {
	return &Record{ID: d.ID, App: d.App, Form: d.Form, Version: d.Version, Rev: d.Rev, Status: d.Status,
		Data: plainMap(d.Data), CreatedBy: d.CreatedBy, CreatedAt: d.CreatedAt.UTC(), UpdatedBy: d.UpdatedBy,
		UpdatedAt: d.UpdatedAt.UTC(), Deleted: d.Deleted}
}

// plainMap turns decoded BSON into plain Go values (maps, slices, float64, time.Time).
func plainMap(m bson.M) Values {
	out := Values{}
	for k, v := range m {
		out[k] = plain(v)
	}
	return out
}

func plain(v any) any {
	switch x := v.(type) {
	case bson.M:
		return plainMap(x)
	case map[string]any:
		return plainMap(bson.M(x))
	case bson.D:
		m := Values{}
		for _, e := range x {
			m[e.Key] = plain(e.Value)
		}
		return m
	case bson.A:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	case bson.DateTime:
		return x.Time().UTC()
	case time.Time:
		return x.UTC()
	case int32:
		return float64(x)
	case int64:
		return float64(x)
	case int:
		return float64(x)
	}
	return v
}

// datePartsOf computes the grouping parts of a date field's value ("YYYY-MM-DD" or a time).
func datePartsOf(v any, loc *time.Location) (DateParts, bool) {
	var t time.Time
	switch x := v.(type) {
	case string:
		d, err := time.ParseInLocation("2006-01-02", x, loc)
		if err != nil {
			return DateParts{}, false
		}
		t = d
	case time.Time:
		t = x.In(loc)
	default:
		return DateParts{}, false
	}
	y, w := t.ISOWeek()
	return DateParts{
		Day:     t.Format("2006-01-02"),
		Week:    fmt.Sprintf("%04d-W%02d", y, w),
		Month:   t.Format("2006-01"),
		Quarter: fmt.Sprintf("%04d-Q%d", t.Year(), (int(t.Month())+2)/3),
		Year:    t.Format("2006"),
	}, true
}

// isEmpty tells whether a value counts as not filled in.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return strings.TrimSpace(x) == ""
	case []any:
		return len(x) == 0
	case []string:
		return len(x) == 0
	case []map[string]any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	case float64:
		return math.IsNaN(x)
	}
	return false
}
