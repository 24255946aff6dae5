//go:build !linux

package api

import "net"

// canWatch is false off Linux: requests end on their deadline and at shutdown only.
func canWatch(net.Conn) bool { return false }

func clientGone(net.Conn) bool { return false }
