package api

// The client-disconnect watch exists on Linux only (reqctx_linux.go); elsewhere a request ends
// by its deadline or shutdown, which reqctx_test.go covers.

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"
)

// TestHardening08_ClientGone: when the client closes its connection, the handler's context
// ends (issue 7 item 8).
func TestHardening08_ClientGone(t *testing.T) {
	p := newCtxProbe()
	_, url := startTestServer(t, p.route("/test/wait", time.Hour))
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/test/wait", nil)
	done := make(chan error, 1)
	go func() {
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	<-p.started
	cancel() // the client gives up: its connection closes
	if cause := waitCause(t, p); !errors.Is(cause, errClientGone) {
		t.Fatalf("cause %v, want errClientGone", cause)
	}
	<-done
}
