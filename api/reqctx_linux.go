package api

import (
	"errors"
	"net"
	"syscall"
)

// canWatch tells whether clientGone can look at conn: a plain TCP connection (not TLS, not the
// in-memory connections of tests).
func canWatch(conn net.Conn) bool {
	_, ok := conn.(*net.TCPConn)
	return ok
}

// clientGone peeks at the socket without blocking and without taking any byte from it: the peer
// has closed it (end of stream) or reset it. Bytes waiting (a pipelined request) or nothing yet
// mean it is still there.
func clientGone(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	gone := false
	var buf [1]byte
	err = rc.Control(func(fd uintptr) {
		n, _, rerr := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		switch {
		case rerr == nil:
			gone = n == 0
		case errors.Is(rerr, syscall.EAGAIN), errors.Is(rerr, syscall.EINTR):
		default:
			gone = true // ECONNRESET and the like
		}
	})
	return err == nil && gone
}
