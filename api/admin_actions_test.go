package api_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"tracecraft/engine"
)

// TestGrantActionsAPI (issue 9, admin): GET /api/v1/admin/actions lists the actions a role may
// grant — the ones the server checks — with zh-CN and en labels and where each applies, for
// administrators only; the OpenAPI document describes it with its answer's shape. Each listed
// action, granted where the list says it applies, is accepted in a role and gives a holder
// exactly that right (so the list names actions the server really checks).
func TestGrantActionsAPI(t *testing.T) {
	f := newFixture(t)
	var got []struct {
		ID    string            `json:"id"`
		Label map[string]string `json:"label"`
		On    []string          `json:"on"`
	}
	f.admin.Do("GET", "/api/v1/admin/actions", nil, 200, &got)
	byID := map[string][]string{}
	for _, a := range got {
		if a.Label["zh-CN"] == "" || a.Label["en"] == "" {
			t.Errorf("%s lacks a label: %v", a.ID, a.Label)
		}
		if len(a.On) == 0 {
			t.Errorf("%s applies nowhere", a.ID)
		}
		byID[a.ID] = a.On
	}
	want := map[string][]string{
		engine.PermSystemAdmin: {engine.GrantOnPlatform},
		engine.PermAppRead:     {engine.GrantOnApp},
		engine.PermAppDesign:   {engine.GrantOnApp},
		"*":                    {engine.GrantOnPlatform, engine.GrantOnApp},
	}
	if len(byID) != len(want) {
		t.Errorf("listed actions %v, want %v", byID, want)
	}
	for id, on := range want {
		if !slices.Equal(byID[id], on) {
			t.Errorf("%s applies to %v, want %v", id, byID[id], on)
		}
	}

	// A user with no system.admin may not list them; nor may anyone signed out.
	reader := f.user(t, "reader", "reader")
	reader.Do("GET", "/api/v1/admin/actions", nil, 403, nil)
	f.s.Client(t).Do("GET", "/api/v1/admin/actions", nil, 401, nil)

	// Each action, granted where it applies, gives its holder that right and no other listed one.
	ctx := context.Background()
	sys := engine.SystemPrincipal()
	auth := f.s.Kernel.Auth
	for _, a := range got {
		if a.ID == "*" {
			continue
		}
		app := plantApp
		if slices.Contains(a.On, engine.GrantOnPlatform) {
			app = ""
		}
		role := "r-" + strings.ReplaceAll(a.ID, ".", "-")
		if _, err := auth.PutRole(ctx, sys, engine.Role{Name: role, Label: engine.Text{ZH: role}, Grants: []engine.Grant{{App: app, Actions: []string{a.ID}}}}); err != nil {
			t.Fatalf("a role granting %s: %v", a.ID, err)
		}
		user := "u-" + strings.ReplaceAll(a.ID, ".", "-")
		if _, err := auth.CreateUser(ctx, sys, engine.UserInput{Username: user, DisplayName: user, Roles: []string{role}, Password: "passw0rd-" + user}); err != nil {
			t.Fatal(err)
		}
		p := &engine.Principal{Username: user, Roles: []string{role}}
		for _, other := range got {
			if other.ID == "*" {
				continue
			}
			where := plantApp
			if slices.Contains(other.On, engine.GrantOnPlatform) {
				where = ""
			}
			if can := auth.Can(ctx, p, where, other.ID); can != (other.ID == a.ID) {
				t.Errorf("a holder of %s: may %s is %v", a.ID, other.ID, can)
			}
		}
	}

	// The API description has the route and its answer's fields.
	var doc struct {
		Paths map[string]map[string]json.RawMessage `json:"paths"`
	}
	res := f.admin.Do("GET", "/api/v1/openapi.json", nil, 200, &doc)
	if _, ok := doc.Paths["/api/v1/admin/actions"]["get"]; !ok {
		t.Fatal("openapi.json lacks GET /api/v1/admin/actions")
	}
	if !strings.Contains(string(res.Body), "GrantAction") {
		t.Error("openapi.json does not describe the GrantAction answer")
	}
}
