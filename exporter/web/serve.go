package web

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	toolkitweb "github.com/prometheus/exporter-toolkit/web"
)

const (
	// shutdownTimeout bounds how long Serve waits for requests in flight once ctx is
	// done; a scrape takes well under a second.
	shutdownTimeout = 5 * time.Second
	// readHeaderTimeout drops clients that open a connection and never finish a
	// request header (slowloris).
	readHeaderTimeout = 10 * time.Second
)

// Serve serves h on the listeners flags describes (see AddFlags), with the TLS, basic
// auth and rate limits of --web.config.file, until ctx is done or a listener fails.
// Once ctx is done it stops accepting connections, waits up to 5s for
// requests in flight, and returns nil.
//
// A bad --web.config.file is reported before anything listens. Request contexts
// derive from ctx, so a long-lived response (a live stream of window updates) ends
// when ctx does rather than holding shutdown up until the timeout.
func Serve(ctx context.Context, flags *FlagConfig, h http.Handler, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := checkFlags(flags)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: readHeaderTimeout,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelError),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}

	served := make(chan error, 1)
	go func() { served <- toolkitweb.ListenAndServe(srv, f, logger) }()
	select {
	case err := <-served:
		// Only Shutdown makes ListenAndServe return ErrServerClosed, and it has
		// not been called: this is a listener that could not be opened or failed.
		return fmt.Errorf("serving HTTP: %w", err)
	case <-ctx.Done():
	}

	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownTimeout)
	defer cancel()
	shutdownErr := srv.Shutdown(shutdownCtx)
	if shutdownErr != nil {
		srv.Close()
	}
	err = <-served
	switch {
	case shutdownErr != nil:
		return fmt.Errorf("shutting down HTTP server: %w", shutdownErr)
	case err != nil && !errors.Is(err, http.ErrServerClosed):
		return fmt.Errorf("serving HTTP: %w", err)
	}
	logger.Info("HTTP server stopped")
	return nil
}

// checkFlags refuses no listener at all (exporter-toolkit would serve nothing and
// return nil at once) and names the flag when --web.config.file is invalid. The
// copy it returns has a WebConfigFile, which exporter-toolkit dereferences.
func checkFlags(flags *FlagConfig) (*FlagConfig, error) {
	if flags == nil {
		return nil, toolkitweb.ErrNoListeners
	}
	f := *flags
	systemd := f.WebSystemdSocket != nil && *f.WebSystemdSocket
	if !systemd && (f.WebListenAddresses == nil || len(*f.WebListenAddresses) == 0) {
		return nil, toolkitweb.ErrNoListeners
	}
	if f.WebConfigFile == nil {
		f.WebConfigFile = new(string)
	}
	if err := toolkitweb.Validate(*f.WebConfigFile); err != nil {
		return nil, fmt.Errorf("--web.config.file=%s: %w", *f.WebConfigFile, err)
	}
	return &f, nil
}
