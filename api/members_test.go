package api_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"tracecraft/engine"
)

// TestAppMembersRoute: a member of an app lists its members for a people picker — usernames and
// names only, filtered by q, bounded — while a user of another app is refused and the full user
// list stays the administrator's.
func TestAppMembersRoute(t *testing.T) {
	f := newFixture(t, "other")
	amy := f.user(t, "amy", "op")
	f.user(t, "ben", "op")
	if _, err := f.s.Kernel.Auth.PutRole(context.Background(), engine.SystemPrincipal(), engine.Role{Name: "away", Label: engine.Text{ZH: "外部"},
		Grants: []engine.Grant{{App: "other", Actions: []string{engine.PermAppRead}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Kernel.Auth.CreateUser(context.Background(), engine.SystemPrincipal(),
		engine.UserInput{Username: "olga", DisplayName: "Olga", Email: "olga@example.com", Roles: []string{"away"}, Password: "passw0rd-olga"}); err != nil {
		t.Fatal(err)
	}
	olga := f.s.Login(t, "olga", "passw0rd-olga")

	res := amy.Do("GET", "/api/v1/apps/"+plantApp+"/members?q=BE", nil, 200, nil)
	var got []map[string]any
	if err := json.Unmarshal(res.Body, &got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0]["username"] != "ben" || got[0]["displayName"] != "ben" || len(got[0]) != 2 {
		t.Fatalf("members matching BE: %s", res.Body)
	}
	amy.Do("GET", "/api/v1/apps/"+plantApp+"/members", nil, 200, &got)
	if len(got) != 3 { // admin, amy, ben; not olga
		t.Fatalf("members of plant: %v", got)
	}
	if strings.Contains(string(amy.Do("GET", "/api/v1/apps/"+plantApp+"/members?q=olga", nil, 200, nil).Body), "olga") {
		t.Fatal("a user of another app is listed")
	}
	amy.Do("GET", "/api/v1/apps/"+plantApp+"/members?limit=1", nil, 200, &got)
	if len(got) != 1 {
		t.Fatalf("limit 1: %v", got)
	}
	amy.Do("GET", "/api/v1/apps/"+plantApp+"/members?limit=51", nil, 400, nil)
	olga.Do("GET", "/api/v1/apps/"+plantApp+"/members", nil, 403, nil)
	amy.Do("GET", "/api/v1/users", nil, 403, nil)
}
