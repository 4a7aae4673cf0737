package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Client calls one kwindow instance's query API; any instance answers for the
// whole group. It is safe for concurrent use.
type Client struct {
	base    *url.URL
	token   string
	hc      *http.Client
	timeout time.Duration
}

// Option configures a Client.
type Option func(*Client)

// WithToken sends token as a bearer token (api.tokens_file on the server).
func WithToken(token string) Option { return func(c *Client) { c.token = token } }

// WithHTTPClient sends requests with hc instead of http.DefaultClient (for TLS
// settings, proxies, transports). Its Timeout also bounds streams: leave it 0
// and use WithTimeout.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.hc = hc } }

// WithTimeout bounds each request but Stream (whose context alone ends it).
// Zero, the default, leaves it to the context.
func WithTimeout(d time.Duration) Option { return func(c *Client) { c.timeout = d } }

// New returns a client of the API at baseURL, the instance's scheme, host and
// port ("http://kwindow-0:9897"), with any path prefix a proxy adds.
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("client: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: base URL %q: want http://host:port or https://host:port", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/api/v1/"
	u.RawQuery, u.Fragment = "", ""
	c := &Client{base: u, hc: http.DefaultClient}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Error is an answer with an error status, or one that is not the API's JSON
// (a proxy's error page: then Code is empty).
type Error struct {
	Status  int    // the HTTP status
	Code    string // CodeBadQuery, CodeLimitExceeded, ...
	Message string
	Param   string // bad_query: the parameter at fault
	// Limit, for limit_exceeded: the limit the answer would exceed
	// ("max_points", "max_keys", "max_subscribers").
	Limit      string
	Partitions []int32 // unavailable: the partitions that could not be read
	// RetryAfter is the Retry-After header's hint, for unavailable; 0 without one.
	RetryAfter time.Duration
}

func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "kwindow: %d", e.Status)
	if e.Code != "" {
		b.WriteString(" " + e.Code)
	}
	if e.Param != "" {
		b.WriteString(" (" + e.Param + ")")
	}
	if e.Message != "" {
		b.WriteString(": " + e.Message)
	}
	return b.String()
}

// Status returns the group's state as the instance sees it.
func (c *Client) Status(ctx context.Context) (*Status, error) {
	return get[Status](ctx, c, "status", nil)
}

// Aggregations describes every configured aggregation.
func (c *Client) Aggregations(ctx context.Context) ([]Aggregation, error) {
	as, err := get[[]Aggregation](ctx, c, "aggregations", nil)
	if err != nil {
		return nil, err
	}
	return *as, nil
}

// Aggregation describes one aggregation; an unknown one is an *Error with
// CodeNotFound.
func (c *Client) Aggregation(ctx context.Context, name string) (*Aggregation, error) {
	return get[Aggregation](ctx, c, "aggregations/"+url.PathEscape(name), nil)
}

// Values returns the distinct values of a dimension.
func (c *Client) Values(ctx context.Context, r ValuesRequest) (*ValuesResult, error) {
	return get[ValuesResult](ctx, c, "values", r.query())
}

// QueryRange answers a range query.
func (c *Client) QueryRange(ctx context.Context, r RangeRequest) (*RangeResult, error) {
	return get[RangeResult](ctx, c, "query_range", r.query())
}

// Latest returns the latest closed and the open windows of every key.
func (c *Client) Latest(ctx context.Context, r LatestRequest) (*LatestResult, error) {
	return get[LatestResult](ctx, c, "latest", r.query())
}

// TopK returns the keys with the largest (or smallest) value of a measure.
func (c *Client) TopK(ctx context.Context, r TopKRequest) (*TopKResult, error) {
	return get[TopKResult](ctx, c, "topk", r.query())
}

// get sends a GET and decodes the envelope's data.
func get[T any](ctx context.Context, c *Client, path string, q url.Values) (*T, error) {
	var out T
	if err := c.do(ctx, path, q, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// do sends a GET and decodes the envelope's data into out.
func (c *Client) do(ctx context.Context, path string, q url.Values, out any) error {
	if c.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.timeout)
		defer cancel()
	}
	resp, err := c.send(ctx, path, q, "application/json")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("kwindow: %s: reading the answer: %w", path, err)
	}
	if resp.StatusCode/100 != 2 {
		return responseError(resp, body)
	}
	env := Envelope{Data: out}
	if err := json.Unmarshal(body, &env); err != nil {
		return fmt.Errorf("kwindow: %s: decoding the answer: %w", path, err)
	}
	if env.Status != "success" {
		return fmt.Errorf("kwindow: %s: status %q in a %d answer", path, env.Status, resp.StatusCode)
	}
	return nil
}

func (c *Client) send(ctx context.Context, path string, q url.Values, accept string) (*http.Response, error) {
	u := c.base.String() + path // path's segments are escaped
	if enc := q.Encode(); enc != "" {
		u += "?" + enc
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("kwindow: %w", err)
	}
	req.Header.Set("Accept", accept)
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("kwindow: %w", err)
	}
	return resp, nil
}

// responseError decodes the error of an answer with a non-2xx status.
func responseError(resp *http.Response, body []byte) error {
	e := &Error{Status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	var env Envelope
	if err := json.Unmarshal(body, &env); err != nil || env.Error == nil {
		e.Message = strings.TrimSpace(string(bytes.ToValidUTF8(body[:min(len(body), 512)], nil)))
		return e
	}
	ei := env.Error
	e.Code, e.Message, e.Param, e.Limit, e.Partitions = ei.Code, ei.Message, ei.Param, ei.Limit, ei.Partitions
	if e.RetryAfter == 0 && ei.RetryAfterSeconds > 0 {
		e.RetryAfter = time.Duration(ei.RetryAfterSeconds) * time.Second
	}
	return e
}
