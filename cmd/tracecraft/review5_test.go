package main

import (
	"bufio"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"

	"tracecraft/api"
)

// TestReview5_6_PlainEntryHeaderLimit: the plain entry keeps the main server's header limit
// (api.HeaderLimit, 4 KiB of request line and headers, else 431) — net/http's own slack of 4 KiB
// on MaxHeaderBytes would let 5 and 7 KiB through to a 308.
func TestReview5_6_PlainEntryHeaderLimit(t *testing.T) {
	pe, err := newPlainEntry("127.0.0.1:0", "8443", slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	go pe.serve()
	t.Cleanup(func() { pe.srv.Close(); pe.inner.Close() })
	// status sends a request whose line and headers take n bytes in all.
	status := func(n int) int {
		const head = "GET / HTTP/1.1\r\nHost: good\r\nX-Big: "
		const tail = "\r\nConnection: close\r\n\r\n"
		c, err := net.Dial("tcp", pe.ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := io.WriteString(c, head+strings.Repeat("a", n-len(head)-len(tail))+tail); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatalf("%d bytes: %v", n, err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	for _, tc := range []struct{ bytes, want int }{
		{3 << 10, http.StatusPermanentRedirect},
		{api.HeaderLimit, http.StatusPermanentRedirect},
		{api.HeaderLimit + 2, http.StatusRequestHeaderFieldsTooLarge},
		{5 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{7000, http.StatusRequestHeaderFieldsTooLarge},
		{9000, http.StatusRequestHeaderFieldsTooLarge},
	} {
		if got := status(tc.bytes); got != tc.want {
			t.Errorf("%d bytes of request line and headers: %d, want %d", tc.bytes, got, tc.want)
		}
	}
}
