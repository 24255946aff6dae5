package api_test

import (
	"encoding/json"
	"testing"

	"tracecraft/api/apitest"
)

// TestSavingADraftUnderAnotherKeyIsRefused: the builder routes of every definition kind take the
// key from the path and the body, and refuse a body naming another key (it would have
// overwritten that definition) — forms always did, flows did not.
func TestSavingADraftUnderAnotherKeyIsRefused(t *testing.T) {
	s := apitest.Start(t)
	admin := setupApproval(t, s)
	var flow struct {
		Rev   int64           `json:"rev"`
		Draft json.RawMessage `json:"draft"`
	}
	admin.Do("GET", "/api/v1/apps/plant/flows/release", nil, 200, &flow)
	var def map[string]any
	if err := json.Unmarshal(flow.Draft, &def); err != nil {
		t.Fatal(err)
	}
	def["key"] = "other"
	res := admin.Do("PUT", "/api/v1/apps/plant/flows/release?rev=1", def, 400, nil)
	if e := res.Error(t); !apitest.ErrorFields(e.Fields).HasField("/key", "not_allowed") {
		t.Fatalf("error %+v", e)
	}
	admin.Do("GET", "/api/v1/apps/plant/flows/other", nil, 404, nil)
	def["key"] = "release"
	admin.Do("PUT", "/api/v1/apps/plant/flows/release?rev=1", def, 200, nil)
}
