package api

import "time"

// The HTTP server's timeouts and limits. They are exported so that every listener serve opens
// keeps to the same ones (the plain-HTTP redirect beside HTTPS, cmd/tracecraft).
const (
	// ReadTimeout bounds reading one request: its line, headers and body.
	ReadTimeout = 30 * time.Second
	// WriteTimeout bounds writing one answer (exports stream for minutes).
	WriteTimeout = 5 * time.Minute
	// IdleTimeout closes a kept-alive connection that sends nothing for this long.
	IdleTimeout = 2 * time.Minute
	// HeaderLimit is the most bytes a request's line and headers may take.
	HeaderLimit = 4096
)
