package api_test

import (
	"net/url"
	"slices"
	"testing"
	"time"

	"tracecraft/api"
	"tracecraft/api/apitest"
	"tracecraft/engine"
)

// TestMeTellsAdministrators (issue 9, admin): GET /api/v1/me and the sign-in answer list the
// platform permissions the user holds, so the web app shows 管理 only to administrators.
func TestMeTellsAdministrators(t *testing.T) {
	s := apitest.Start(t)
	admin := s.Admin(t)
	var me api.MeOutput
	admin.Do("GET", "/api/v1/me", nil, 200, &me)
	if !slices.Contains(me.Permissions, engine.PermSystemAdmin) {
		t.Fatalf("admin's permissions: %v", me.Permissions)
	}
	admin.Do("POST", "/api/v1/users", map[string]any{"username": "op1", "displayName": "Operator", "password": "operat0r-pw"}, 201, nil)
	op := s.Client(t)
	var out api.LoginOutput
	op.Do("POST", "/api/v1/auth/login", map[string]string{"username": "op1", "password": "operat0r-pw"}, 200, &out)
	if out.User.Permissions == nil || len(out.User.Permissions) != 0 {
		t.Fatalf("operator's permissions at sign-in: %#v", out.User.Permissions)
	}
}

// TestAuditListsByTimeAndPages (issue 9, admin): the audit log filters by time (since
// inclusive, until exclusive) and tells where the next page starts (X-Audit-Next; 0 at the
// log's start); a bad time is a 400 naming the parameter.
func TestAuditListsByTimeAndPages(t *testing.T) {
	s := apitest.Start(t)
	admin := s.Admin(t)
	for _, name := range []string{"u1", "u2", "u3"} {
		admin.Do("POST", "/api/v1/users", map[string]any{"username": name, "displayName": name, "password": "passw0rd-long"}, 201, nil)
	}
	var all []engine.AuditEntry
	res := admin.Do("GET", "/api/v1/audit?action=user.create", nil, 200, &all)
	// The bootstrap admin's entry and the three users'.
	if len(all) != 4 || res.Header.Get("X-Audit-Next") != "0" {
		t.Fatalf("user.create entries %d, next %q", len(all), res.Header.Get("X-Audit-Next"))
	}
	var page []engine.AuditEntry
	res = admin.Do("GET", "/api/v1/audit?action=user.create&limit=2", nil, 200, &page)
	next := res.Header.Get("X-Audit-Next")
	if len(page) != 2 || next == "" || next == "0" {
		t.Fatalf("first page %d, next %q", len(page), next)
	}
	var rest []engine.AuditEntry
	admin.Do("GET", "/api/v1/audit?action=user.create&limit=2&before="+next, nil, 200, &rest)
	if len(rest) != 2 || rest[0].Seq != all[2].Seq || rest[1].Seq != all[3].Seq {
		t.Fatalf("second page %+v", rest)
	}
	// since is inclusive, until exclusive.
	at := all[1].At.Format(time.RFC3339Nano)
	var since, until []engine.AuditEntry
	admin.Do("GET", "/api/v1/audit?action=user.create&since="+url.QueryEscape(at), nil, 200, &since)
	admin.Do("GET", "/api/v1/audit?action=user.create&until="+url.QueryEscape(at), nil, 200, &until)
	if len(since)+len(until) != 4 || len(since) < 2 || !slices.ContainsFunc(since, func(e engine.AuditEntry) bool { return e.Seq == all[1].Seq }) {
		t.Fatalf("since %d, until %d entries", len(since), len(until))
	}
	var none []engine.AuditEntry
	admin.Do("GET", "/api/v1/audit?since="+url.QueryEscape(time.Now().Add(time.Hour).Format(time.RFC3339)), nil, 200, &none)
	if len(none) != 0 {
		t.Fatalf("entries from the future: %d", len(none))
	}
	bad := admin.Do("GET", "/api/v1/audit?since=yesterday", nil, 400, nil)
	if !apitest.ErrorFields(bad.Error(t).Fields).HasField("since", "wrong_type") {
		t.Fatalf("bad since: %s", bad.Body)
	}
}
