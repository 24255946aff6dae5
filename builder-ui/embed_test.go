package builderui

import (
	"flag"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "write dist/"+SourceHashFile+" from the current sources (make ui runs this after the build)")

// TestDistIsFresh fails when the committed dist was not built from the committed sources: someone
// changed src/ (or the build's configuration) without running `make ui`.
func TestDistIsFresh(t *testing.T) {
	want, err := SourceHash(".")
	if err != nil {
		t.Fatal(err)
	}
	stamp := filepath.Join("dist", SourceHashFile)
	if *update {
		if err := os.WriteFile(stamp, []byte(want+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(stamp)
	if err != nil {
		t.Fatalf("dist has no source hash (%v): run make ui", err)
	}
	if strings.TrimSpace(string(got)) != want {
		t.Fatalf("builder-ui/dist is stale: built from sources %s, the sources are now %s; run make ui and commit dist", strings.TrimSpace(string(got)), want)
	}
}

// TestDistHasTheApp checks what the server relies on: index.html at the root, loading hashed
// bundles from /assets/.
func TestDistHasTheApp(t *testing.T) {
	index, err := fs.ReadFile(Dist(), "index.html")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(index), `src="/assets/`) {
		t.Fatalf("index.html loads no bundle from /assets/:\n%s", index)
	}
	if strings.Contains(string(index), "<script>") {
		t.Fatal("index.html has an inline script: the Content-Security-Policy forbids it")
	}
}
