package engine_test

import (
	"errors"
	"testing"

	"tracecraft/engine"
)

func TestDecodeDefinitionChecksTheSchemaThenDecodesStrictly(t *testing.T) {
	meta := engine.MustSchema("thing.schema.json", []byte(`{
		"$schema": "https://json-schema.org/draft/2020-12/schema",
		"type": "object", "required": ["key"],
		"properties": {"key": {"type": "string", "pattern": "^[a-z]+$"}, "size": {"type": "number"}}
	}`))
	type thing struct {
		Key string `json:"key"`
	}
	got, err := engine.DecodeDefinition[thing](meta, []byte(`{"key": "lot"}`))
	if err != nil || got.Key != "lot" {
		t.Fatalf("decode: %+v, %v", got, err)
	}
	// The meta-schema speaks first, naming the place.
	_, err = engine.DecodeDefinition[thing](meta, []byte(`{"key": "Lot"}`))
	var fe engine.FieldErrors
	if !errors.As(err, &fe) || len(fe) == 0 || fe[0].Path != "/key" {
		t.Fatalf("bad key: %v", err)
	}
	// What the schema allows but the Go type does not know is refused too.
	_, err = engine.DecodeDefinition[thing](meta, []byte(`{"key": "lot", "size": 3}`))
	if !errors.As(err, &fe) {
		t.Fatalf("unknown member: want field errors, got %v", err)
	}
	if _, err := engine.DecodeDefinition[thing](meta, []byte(`{"key": "lot"} {}`)); err == nil {
		t.Fatal("data after the document: want an error")
	}
}
