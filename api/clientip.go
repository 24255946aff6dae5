package api

import (
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// ParseTrustedProxies reads --trusted-proxies: addresses ("10.0.0.5") and CIDR ranges
// ("10.0.0.0/8"). An entry that is neither is an error, so a typo cannot silently trust nobody.
func ParseTrustedProxies(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: not an address or CIDR range", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// clientAddr finds the client's address. Without trusted proxies, or when the peer is not one,
// it is the peer. Behind trusted proxies it walks X-Forwarded-For from the right — the entries
// the proxies appended, nearest first — past every trusted address to the first one that is not
// trusted: entries left of it are whatever the client chose to send. An entry that is not an
// address stops the walk at the hop that reported it (the last trusted address): what a
// trusted proxy forwarded is believed, nothing a client invented.
func clientAddr(peer netip.Addr, xff [][]byte, trusted []netip.Prefix) netip.Addr {
	peer = peer.Unmap()
	if len(trusted) == 0 || !isTrusted(peer, trusted) {
		return peer
	}
	hop := peer
	for i := len(xff) - 1; i >= 0; i-- {
		entries := strings.Split(string(xff[i]), ",")
		for j := len(entries) - 1; j >= 0; j-- {
			e := strings.TrimSpace(entries[j])
			if e == "" {
				continue
			}
			a, ok := parseForwarded(e)
			if !ok {
				return hop
			}
			if !isTrusted(a, trusted) {
				return a
			}
			hop = a
		}
	}
	return hop
}

// parseForwarded reads one X-Forwarded-For entry: an address, possibly with a port
// ("203.0.113.7:5123", "[2001:db8::1]:443") as some proxies write it.
func parseForwarded(s string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(s); err == nil && ap.Addr().Zone() == "" {
		return ap.Addr().Unmap(), true
	}
	return netip.Addr{}, false
}

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

const clientIPKey = "tc.client_ip"

// clientIP is the request's client address as clientAddr finds it, worked out once per request.
func (s *Server) clientIP(c *fiber.Ctx) string {
	if ip, ok := c.Locals(clientIPKey).(string); ok {
		return ip
	}
	var peer netip.Addr
	if ta, ok := c.Context().RemoteAddr().(*net.TCPAddr); ok {
		peer, _ = netip.AddrFromSlice(ta.IP)
	} else {
		peer, _ = netip.ParseAddr(c.Context().RemoteIP().String())
	}
	var xff [][]byte
	if len(s.trusted) > 0 {
		xff = c.Request().Header.PeekAll(fiber.HeaderXForwardedFor)
	}
	ip := ""
	if a := clientAddr(peer, xff, s.trusted); a.IsValid() {
		ip = a.String()
	}
	c.Locals(clientIPKey, ip)
	return ip
}
