package engine

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

type registryTestNode struct {
	ID    string         `json:"id"`
	Kind  string         `json:"kind"`
	Label Text           `json:"label"`
	At    time.Time      `json:"at"`
	Props map[string]int `json:"props,omitempty"`
}

type registryTestBase struct {
	Version int `json:"version"`
}

type registryTestFlow struct {
	registryTestBase
	Name  string             `json:"name"`
	Nodes []registryTestNode `json:"nodes"`
	Extra json.RawMessage    `json:"extra,omitempty"`
	Any   any                `json:"any,omitempty"`
	Note  *string            `json:"note"`
	Skip  string             `json:"-"`
}

func registryTestKind(id string) DefinitionKind {
	return DefinitionKind{
		ID:    id,
		Label: Text{ZH: "流程", EN: "Flow"},
		Validate: func(ctx context.Context, raw json.RawMessage) (any, error) {
			var f registryTestFlow
			if err := DecodeStrict(raw, &f); err != nil {
				return nil, err
			}
			var fe FieldErrors
			if f.Name == "" {
				fe.Add("/name", "required", nil)
			}
			return &f, fe.Err()
		},
	}
}

func TestRegistryKinds(t *testing.T) {
	var r Registry
	for _, id := range []string{"workflow.flow", "forms.form", "printing.template", "reports.board", "rules.rule"} {
		if err := r.RegisterKind(registryTestKind(id)); err != nil {
			t.Fatalf("register %s: %v", id, err)
		}
	}
	if err := r.RegisterKind(registryTestKind("forms.form")); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Fatalf("duplicate: %v", err)
	}
	for _, id := range []string{"", "forms", "Forms.form", "forms.form.x", "forms.Form", "forms-x.form", "forms.", ".form", "forms.form1"} {
		if err := r.RegisterKind(registryTestKind(id)); err == nil {
			t.Errorf("id %q accepted", id)
		}
	}
	if err := r.RegisterKind(DefinitionKind{ID: "x.y"}); err == nil {
		t.Error("kind without Validate accepted")
	}
	if err := r.RegisterKind(registryTestKind("rules.date_offset")); err != nil {
		t.Errorf("underscore in kind: %v", err)
	}

	var ids []string
	for _, k := range r.Kinds() {
		ids = append(ids, k.ID)
	}
	want := []string{"forms.form", "printing.template", "reports.board", "rules.date_offset", "rules.rule", "workflow.flow"}
	if !reflect.DeepEqual(ids, want) {
		t.Fatalf("Kinds = %v, want %v", ids, want)
	}
	k, ok := r.Kind("workflow.flow")
	if !ok || k.Label.In(LangEN) != "Flow" {
		t.Fatalf("Kind(workflow.flow) = %+v, %v", k, ok)
	}
	if _, ok := r.Kind("workflow.nope"); ok {
		t.Fatal("unknown kind found")
	}
}

func TestRegistryValidate(t *testing.T) {
	var r Registry
	if err := r.RegisterKind(registryTestKind("workflow.flow")); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	v, err := r.Validate(ctx, "workflow.flow", json.RawMessage(`{"name":"审批","version":2,"nodes":[{"id":"a","kind":"start","label":{"zh-CN":"开始"}}]}`))
	if err != nil {
		t.Fatal(err)
	}
	f := v.(*registryTestFlow)
	if f.Name != "审批" || f.Version != 2 || len(f.Nodes) != 1 || f.Nodes[0].Label.ZH != "开始" {
		t.Fatalf("compiled value %+v", f)
	}

	_, err = r.Validate(ctx, "workflow.flow", json.RawMessage(`{"version":1}`))
	fe, ok := AsFieldErrors(err)
	if !ok || len(fe) != 1 || fe[0].Path != "/name" || fe[0].Code != "required" {
		t.Fatalf("missing name: %v", err)
	}

	_, err = r.Validate(ctx, "workflow.nope", json.RawMessage(`{}`))
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown kind: %v, want ErrNotFound", err)
	}

	boom := errors.New("boom")
	if err := r.RegisterKind(DefinitionKind{ID: "rules.rule", Validate: func(context.Context, json.RawMessage) (any, error) { return nil, boom }}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Validate(ctx, "rules.rule", nil); !errors.Is(err, boom) || !strings.Contains(err.Error(), "rules.rule") {
		t.Fatalf("hook error: %v", err)
	}
}

func TestRegistryDecodeStrict(t *testing.T) {
	tests := []struct {
		name, in, path, code, detail string
	}{
		{"ok", `{"name":"x","nodes":[{"id":"a","at":"2024-05-01T08:00:00Z"}],"extra":{"anything":[1]},"any":{"x":1},"note":null}`, "", "", ""},
		{"case-insensitive name", `{"NAME":"x"}`, "", "", ""},
		{"embedded field", `{"name":"x","version":3}`, "", "", ""},
		{"unknown top", `{"name":"x","nmae":"y"}`, "/nmae", "unknown_field", ""},
		{"unknown nested", `{"name":"x","nodes":[{"id":"a"},{"id":"b","colour":"red"}]}`, "/nodes/1/colour", "unknown_field", ""},
		{"unknown in text", `{"nodes":[{"label":{"fr":"x"}}]}`, "/nodes/0/label/fr", "unknown_field", ""},
		{"ignored field is unknown", `{"Skip":"x"}`, "/Skip", "unknown_field", ""},
		{"wrong type", `{"nodes":[{"id":"a"},{"id":7}]}`, "/nodes/1/id", "wrong_type", "string"},
		{"wrong type map value", `{"nodes":[{"props":{"a/b":"x"}}]}`, "/nodes/0/props/a~1b", "wrong_type", "integer"},
		{"fraction for int", `{"version":1.5}`, "/version", "wrong_type", "integer"},
		{"object for array", `{"nodes":{}}`, "/nodes", "wrong_type", "array"},
		{"bad time", `{"nodes":[{"at":"yesterday"}]}`, "/nodes/0/at", "invalid_format", "yesterday"},
		{"syntax", "{\n  \"name\": \"x\",\n}", "", "invalid_json", "line 3, column 1"},
		{"truncated", `{"name":`, "", "invalid_json", "end"},
		{"trailing", `{"name":"x"} {}`, "", "invalid_json", "after"},
		{"empty", `  `, "", "invalid_json", "empty"},
		{"not an object", `[1]`, "", "wrong_type", "object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f registryTestFlow
			err := DecodeStrict([]byte(tt.in), &f)
			if tt.code == "" {
				if err != nil {
					t.Fatalf("DecodeStrict: %v", err)
				}
				return
			}
			fe, ok := AsFieldErrors(err)
			if !ok || len(fe) != 1 {
				t.Fatalf("DecodeStrict = %v, want one field error", err)
			}
			if fe[0].Path != tt.path || fe[0].Code != tt.code {
				t.Fatalf("got %s %s (%v), want %s %s", fe[0].Path, fe[0].Code, err, tt.path, tt.code)
			}
			if msg := err.Error(); !strings.Contains(msg, tt.detail) {
				t.Fatalf("message %q does not mention %q", msg, tt.detail)
			}
		})
	}
	if err := DecodeStrict([]byte(`{}`), registryTestFlow{}); err == nil {
		t.Fatal("non-pointer accepted")
	}
}

func TestRegistrySet(t *testing.T) {
	var s Set[func(float64) float64]
	s.Register("double", func(x float64) float64 { return 2 * x })
	s.Register("abs", func(x float64) float64 { return max(x, -x) })
	if got := s.IDs(); !reflect.DeepEqual(got, []string{"abs", "double"}) {
		t.Fatalf("IDs = %v", got)
	}
	f, ok := s.Get("double")
	if !ok || f(21) != 42 {
		t.Fatal("Get(double)")
	}
	if _, ok := s.Get("triple"); ok {
		t.Fatal("Get(triple) found")
	}
	mustPanic := func(name string, fn func()) {
		t.Helper()
		defer func() {
			if recover() == nil {
				t.Errorf("%s did not panic", name)
			}
		}()
		fn()
	}
	mustPanic("duplicate", func() { s.Register("double", nil) })
	mustPanic("empty id", func() { s.Register("", nil) })

	var empty Set[int]
	if ids := empty.IDs(); len(ids) != 0 {
		t.Fatalf("empty IDs = %v", ids)
	}
}
