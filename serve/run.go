package serve

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTPServer returns an http.Server for h with the timeouts a service open
// to slow or hostile clients needs: 5 s to send the headers, 30 s for the
// whole request, 60 s to write the answer, 2 minutes idle between requests
// on a connection, 64 KiB of headers.
func HTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
}

// Run serves s on ln until ctx ends (SIGTERM or SIGINT, say), then shuts
// down gracefully: /readyz fails, no new connections are accepted, requests
// in flight get up to grace to finish, and the database is closed after the
// writes in progress.
func Run(ctx context.Context, s *Server, ln net.Listener, grace time.Duration) error {
	hs := HTTPServer(s)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	var serveErr error
	select {
	case <-ctx.Done():
	case serveErr = <-errc:
	}
	s.Drain()
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	shutErr := hs.Shutdown(sctx)
	if shutErr != nil {
		shutErr = fmt.Errorf("shutdown: %w", shutErr)
	}
	closeErr := s.Close()
	if errors.Is(serveErr, http.ErrServerClosed) {
		serveErr = nil
	}
	return errors.Join(serveErr, shutErr, closeErr)
}
