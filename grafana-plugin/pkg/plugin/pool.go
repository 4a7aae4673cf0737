package plugin

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/kwindow/kwindow/exporter/api/client"
)

// Pool is the clients of a data source's URLs, in order, over one transport.
type Pool struct {
	urls      []string
	clients   []*client.Client
	transport *http.Transport
}

// NewPool returns the clients of s's URLs. userAgent goes on every request.
func NewPool(s Settings, userAgent string) (*Pool, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 16
	tr.ResponseHeaderTimeout = 0 // streams wait for headers as long as they like; WithTimeout bounds the rest
	hc := &http.Client{Transport: recordingTransport{next: tr, userAgent: userAgent}}
	p := &Pool{urls: s.URLs, transport: tr}
	for _, u := range s.URLs {
		opts := []client.Option{client.WithHTTPClient(hc), client.WithTimeout(s.Timeout)}
		if s.Token != "" {
			opts = append(opts, client.WithToken(s.Token))
		}
		c, err := client.New(u, opts...)
		if err != nil {
			return nil, err
		}
		p.clients = append(p.clients, c)
	}
	return p, nil
}

// Close closes the idle connections; requests under way finish.
func (p *Pool) Close() { p.transport.CloseIdleConnections() }

// URLs returns the instances' URLs in order.
func (p *Pool) URLs() []string { return p.urls }

// Attempt is one instance tried by Do, and why it did not answer.
type Attempt struct {
	URL string
	Err error
}

// UnreachableError: no instance answered. Attempts are every URL tried, in
// order, with its error (a connection error or a 5xx answer).
type UnreachableError struct {
	Attempts []Attempt
}

func (e *UnreachableError) Error() string { return "no kwindow instance answered: " + e.attempts() }

// attempts lists the instances tried: "http://a:9897: error; http://b:9897: error".
func (e *UnreachableError) attempts() string {
	var b strings.Builder
	for i, a := range e.Attempts {
		if i > 0 {
			b.WriteString("; ")
		}
		fmt.Fprintf(&b, "%s: %v", a.URL, a.Err)
	}
	return b.String()
}

// Unwrap returns the last instance's error, which decides the status.
func (e *UnreachableError) Unwrap() error {
	if len(e.Attempts) == 0 {
		return nil
	}
	return e.Attempts[len(e.Attempts)-1].Err
}

// Do calls f with the client of each URL in order until one answers: it moves
// on after a connection error, a timeout of the request or a 5xx answer, and
// stops at a 4xx, which every instance would give (they answer for the same
// group with the same configuration), or when ctx ends. It returns the
// instances that failed before the one that answered, and f's error when none
// answered: a *client.Error for a 4xx, else an *UnreachableError.
func (p *Pool) Do(ctx context.Context, f func(ctx context.Context, c *client.Client) error) ([]Attempt, error) {
	var failed []Attempt
	for i, c := range p.clients {
		err := f(ctx, c)
		if err == nil {
			return failed, nil
		}
		if ctx.Err() != nil {
			return failed, fmt.Errorf("%s: %w", p.urls[i], ctx.Err())
		}
		var ce *client.Error
		if errors.As(err, &ce) && ce.Status < 500 {
			return failed, err
		}
		failed = append(failed, Attempt{URL: p.urls[i], Err: err})
	}
	return failed, &UnreachableError{Attempts: failed}
}

// recorder collects the URLs a context's requests were sent to, for the frames'
// ExecutedQueryString.
type recorder struct {
	mu   sync.Mutex
	urls []string
}

type recorderKey struct{}

// withRecorder returns a context whose API requests are recorded in r.
func withRecorder(ctx context.Context, r *recorder) context.Context {
	return context.WithValue(ctx, recorderKey{}, r)
}

// last returns the URL of the last request, "" before any.
func (r *recorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.urls) == 0 {
		return ""
	}
	return r.urls[len(r.urls)-1]
}

// recordingTransport records each request's URL on its context's recorder and
// sets the User-Agent. The token travels in a header, never in the URL.
type recordingTransport struct {
	next      http.RoundTripper
	userAgent string
}

func (t recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if r, ok := req.Context().Value(recorderKey{}).(*recorder); ok {
		r.mu.Lock()
		r.urls = append(r.urls, req.URL.String())
		r.mu.Unlock()
	}
	if t.userAgent != "" {
		req = req.Clone(req.Context())
		req.Header.Set("User-Agent", t.userAgent)
	}
	return t.next.RoundTrip(req)
}

// isTimeout reports whether err is a deadline: a request's timeout, the
// query's context, or the API's own 504.
func isTimeout(err error) bool {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Status == http.StatusGatewayTimeout
	}
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// retryAfter is the hint of a 503, 0 without one.
func retryAfter(err error) time.Duration {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.RetryAfter
	}
	return 0
}
