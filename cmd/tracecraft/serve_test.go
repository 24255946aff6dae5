package main

import (
	"context"
	"io"
	"strings"
	"testing"
)

// TestHardening14_ServeRefusesBadTrustedProxies: a mistyped --trusted-proxies entry stops the
// server at start instead of silently trusting nobody (issue 7 item 14).
func TestHardening14_ServeRefusesBadTrustedProxies(t *testing.T) {
	err := cmdServe(context.Background(), []string{"--data", t.TempDir(), "--trusted-proxies", "10.0.0.0/8, 10.0.0.300"}, io.Discard, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "10.0.0.300") {
		t.Fatalf("serve with a bad trusted proxy: %v, want an error naming it", err)
	}
}
