package api

import (
	"net/netip"
	"sync"
	"time"
)

// rateLimiter allows n requests per client in each window: a fixed-window counter, enough for
// public pages and login, kept in memory per node. Clients are told apart by rateKey: an IPv4
// address, or the /64 an IPv6 address is in (one subscriber's line gets a whole /64 and may
// pick any address of it for each request).
type rateLimiter struct {
	n      int
	window time.Duration
	mu     sync.Mutex
	start  time.Time
	counts map[string]int
}

func newRateLimiter(n int, window time.Duration) *rateLimiter {
	return &rateLimiter{n: n, window: window, counts: map[string]int{}}
}

func (l *rateLimiter) allow(ip string) bool {
	key := rateKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if now.Sub(l.start) >= l.window {
		l.start, l.counts = now, map[string]int{}
	}
	l.counts[key]++
	return l.counts[key] <= l.n
}

// rateKey is the client a rate limit counts an address against: the IPv4 address (/32), the
// IPv6 address's /64; anything else as it is.
func rateKey(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, err := a.WithZone("").Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}
