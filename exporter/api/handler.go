package api

import (
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/query"
)

// Prefix is where the API is served.
const Prefix = "/api/v1/"

// Options configures NewHandler.
type Options struct {
	// Config is the validated configuration: its aggregations and the api
	// section, which gives the zero fields below their values.
	Config *config.Config
	// Timeout bounds each query (context.WithTimeout): 504 past it. Default
	// api.timeout.
	Timeout time.Duration
	// Limits are checked before a query is sent (k and limit at most MaxKeys);
	// the Backend enforces them while reading. Default api.max_points and
	// api.max_keys.
	Limits query.Limits
	// Auth holds the accepted bearer tokens; nil serves without a token.
	Auth TokenSource
	// Logger receives internal errors. Nil discards them.
	Logger *slog.Logger
	// Version is reported by /api/v1/status.
	Version string
	// Internal, when set, serves /api/v1/internal/ (the instances' fan-out),
	// behind the same authentication. It sees the whole path, the prefix
	// included, and no timeout: it sets its own.
	Internal http.Handler
	// MaxSubscribers bounds the open /api/v1/stream connections: 503 past it.
	// Default api.max_subscribers.
	MaxSubscribers int
	// Heartbeat is the interval of the streams' comment lines, which keep
	// proxies from closing an idle stream. Default 15s.
	Heartbeat time.Duration
	// Now is the clock for default time ranges. Default time.Now.
	Now func() time.Time
}

func (o *Options) fill() {
	a := o.Config.API
	if o.Timeout <= 0 {
		o.Timeout = time.Duration(a.Timeout)
	}
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	if o.Limits.MaxPoints <= 0 {
		o.Limits.MaxPoints = cmpOr(a.MaxPoints, query.DefaultMaxPoints)
	}
	if o.Limits.MaxKeys <= 0 {
		o.Limits.MaxKeys = cmpOr(a.MaxKeys, query.DefaultMaxKeys)
	}
	if o.MaxSubscribers <= 0 {
		o.MaxSubscribers = cmpOr(a.MaxSubscribers, 1000)
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = 15 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

type handler struct {
	b           Backend
	o           Options
	log         *slog.Logger
	aggs        map[string]*config.Aggregation
	subscribers atomic.Int64
	routes      []*route
	doc         []byte // the OpenAPI document
}

// route is one endpoint: how the mux serves it, what it reads and answers,
// and what the OpenAPI document says of it.
type route struct {
	path        string // as in the document: /api/v1/aggregations/{name}
	methods     []string
	summary     string
	description string
	params      []param
	// data is the type of a success answer's data; nil for an answer that is
	// no envelope (the stream, the document itself).
	data     reflect.Type
	produces string // content type when data is nil
	statuses []int  // the error statuses it answers besides 401, 404, 405 and 500
	serve    serveFunc
	read     sync.Map // names of the parameters read: the document's test compares them
}

type serveFunc func(h *handler, w http.ResponseWriter, r *http.Request, p *params)

// NewHandler serves the query API under /api/v1/ over b. Mount it at
// Prefix; a request outside Prefix is answered not_found.
func NewHandler(b Backend, o Options) http.Handler {
	_, hh := newHandler(b, o)
	return hh
}

func newHandler(b Backend, o Options) (*handler, http.Handler) {
	if o.Config == nil {
		o.Config = &config.Config{}
	}
	o.fill()
	h := &handler{b: b, o: o, log: o.Logger, aggs: map[string]*config.Aggregation{}, routes: routes()}
	for i := range o.Config.Aggregations {
		a := &o.Config.Aggregations[i]
		h.aggs[a.Name] = a
	}
	h.doc = h.openAPI()
	mux := http.NewServeMux()
	for _, rt := range h.routes {
		mux.Handle(rt.path, h.endpoint(rt)) // ServeMux and OpenAPI both write {name}
	}
	if o.Internal != nil {
		mux.Handle(Prefix+"internal/", o.Internal)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeErr(w, http.StatusNotFound, &errorInfo{Code: codeNotFound, Message: "no route " + r.URL.Path + " (see " + Prefix + "openapi.json)"})
	})
	return h, h.authenticate(mux)
}

// endpoint wraps a route: the method check, reading the parameters, and the
// check that none but the route's is given.
func (h *handler) endpoint(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !slices.Contains(rt.methods, r.Method) {
			allow := strings.Join(rt.methods, ", ")
			w.Header().Set("Allow", allow)
			writeErr(w, http.StatusMethodNotAllowed, &errorInfo{Code: codeMethodNotAllowed,
				Message: r.Method + " is not allowed on " + rt.path + "; use " + allow})
			return
		}
		p, err := readParams(r, rt)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		rt.serve(h, w, r, p)
	})
}
