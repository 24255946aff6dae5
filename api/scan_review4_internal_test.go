package api

import (
	"testing"
	"time"
)

// TestCodesReview4_7: public rate limits count an IPv6 client by its /64 (a line's subscriber
// may take any address of it for each request) and an IPv4 client by its address.
func TestCodesReview4_7(t *testing.T) {
	l := newRateLimiter(2, time.Minute)
	for i, ip := range []string{"2001:db8:1:2::1", "2001:db8:1:2:ffff:1:2:3"} {
		if !l.allow(ip) {
			t.Fatalf("request %d refused", i)
		}
	}
	if l.allow("2001:db8:1:2:abcd::9") {
		t.Fatal("a third address of the same /64 was allowed past the limit of 2")
	}
	if !l.allow("2001:db8:1:3::1") || !l.allow("203.0.113.7") || !l.allow("203.0.113.8") || !l.allow("::ffff:203.0.113.7") {
		t.Fatal("another /64 or another IPv4 address shares the limit")
	}
	if l.allow("203.0.113.7") {
		t.Fatal("an IPv4 address written as IPv4-mapped IPv6 is another client")
	}
}
