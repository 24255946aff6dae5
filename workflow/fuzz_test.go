package workflow

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"tracecraft/engine"
)

// FuzzFlowDefinition (issue 7): whatever the bytes, compiling a flow definition gives a compiled
// flow or field errors naming the place (a 400), never a panic and never an internal error (a
// 500). The seeds are the definitions of testdata/compile.
func FuzzFlowDefinition(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "compile", "*.txt"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no golden files: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		input, _, _ := strings.Cut(string(raw), "\n----------\n")
		var def []string
		for _, line := range strings.Split(input, "\n") {
			if !strings.HasPrefix(line, "#") {
				def = append(def, line)
			}
		}
		f.Add([]byte(strings.Join(def, "\n")))
	}
	e := newFlowEnv(f)
	f.Fuzz(func(t *testing.T, raw []byte) {
		_, err := e.s.Compile(e.ctx, "qa", raw)
		if err == nil {
			return
		}
		var fe engine.FieldErrors
		switch {
		case errors.As(err, &fe):
			for _, it := range fe {
				if it.Code == "" {
					t.Fatalf("a field error without a code: %v\ninput: %q", err, raw)
				}
			}
		case errors.Is(err, engine.ErrNotFound):
		default:
			t.Fatalf("an internal error (a 500): %v\ninput: %q", err, raw)
		}
	})
}
