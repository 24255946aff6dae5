package rules

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// errRefusedAddress is a webhook call to an address the engine does not call: loopback,
// private, link-local, unspecified, broadcast or multicast (the plant's own network and the
// cloud metadata service), unless Options.WebhookAllow permits it.
var errRefusedAddress = errors.New("refused address")

// maxWebhookAnswer bounds how much of a receiver's answer is read.
const maxWebhookAnswer = 64 << 10

// newWebhookClient is the client that sends webhooks: it never uses a proxy from the
// environment, refuses addresses outside allow that refusedAddr names when it connects (after
// name resolution, so a name pointing at 127.0.0.1 is refused too), does not follow redirects,
// and bounds every call by timeout.
func newWebhookClient(timeout time.Duration, allow []netip.Prefix) *http.Client {
	dialer := &net.Dialer{Timeout: timeout, Control: func(_, address string, _ syscall.RawConn) error {
		host, _, err := net.SplitHostPort(address)
		if err != nil {
			return errRefusedAddress
		}
		ip, err := netip.ParseAddr(host)
		if err != nil || !webhookAddrAllowed(ip, allow) {
			return errRefusedAddress
		}
		return nil
	}}
	tr := &http.Transport{
		Proxy:                 nil,
		DialContext:           dialer.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   timeout,
		ResponseHeaderTimeout: timeout,
		MaxIdleConns:          16,
		IdleConnTimeout:       90 * time.Second,
	}
	return &http.Client{Timeout: timeout, Transport: tr,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// blockedPrefixes are ranges refusedAddr names besides what netip classifies.
var blockedPrefixes = []netip.Prefix{
	netip.MustParsePrefix("0.0.0.0/8"),          // "this network"
	netip.MustParsePrefix("255.255.255.255/32"), // broadcast
}

// webhookAddrAllowed tells whether a webhook may connect to ip: an address in allow always;
// else not a loopback, private (RFC 1918, fc00::/7), link-local, unspecified or multicast one.
func webhookAddrAllowed(ip netip.Addr, allow []netip.Prefix) bool {
	ip = ip.Unmap()
	for _, p := range allow {
		if p.Contains(ip) {
			return true
		}
	}
	if ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() ||
		ip.IsInterfaceLocalMulticast() || ip.IsMulticast() || ip.IsUnspecified() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return false
		}
	}
	return true
}

// ParseWebhookAllow reads the addresses and CIDR ranges (192.168.10.0/24, 10.1.2.3, fd00::/8)
// an administrator lets webhooks reach though they are internal (Options.WebhookAllow).
func ParseWebhookAllow(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("webhook allow %q: %w", s, err)
			}
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("webhook allow %q: %w", s, err)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// webhookCallError is what a failed call says in a delivery (and so to administrators and the
// run log): whether the address was refused, the call timed out or the receiver could not be
// reached — never the resolved address or the network's own message.
func webhookCallError(ctx context.Context, err error) error {
	var ne net.Error
	switch {
	case errors.Is(err, errRefusedAddress):
		return errors.New("webhook: refused address")
	case errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() || ctx.Err() != nil:
		return errors.New("webhook: timed out")
	}
	return errors.New("webhook: receiver unreachable")
}
