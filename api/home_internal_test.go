package api

import (
	"fmt"
	"testing"
	"testing/fstest"
)

// TestHardening07Review_UIMissesNotCached: anonymous requests for paths the web app does not
// have must not grow the server's file cache (each miss was remembered: ~3 KB a request).
func TestHardening07Review_UIMissesNotCached(t *testing.T) {
	s := &Server{opts: Options{UI: fstest.MapFS{
		"index.html":         {Data: []byte("<!doctype html>")},
		"assets/app-a1b2.js": {Data: []byte("console.log(1)")},
	}}}
	for i := range 1000 {
		if f := s.appFile(fmt.Sprintf("x%d-%0200d.js", i, i)); f != nil {
			t.Fatalf("a missing file was served")
		}
	}
	if f := s.appFile("assets/app-a1b2.js"); f == nil {
		t.Fatal("the bundle is not served")
	}
	if n := len(s.ui.files); n != 1 {
		t.Fatalf("%d files cached after 1,000 misses and one hit, want 1", n)
	}
}
