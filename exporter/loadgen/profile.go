package loadgen

import "fmt"

// EndpointProfile is the traffic model of one endpoint.
type EndpointProfile struct {
	Path   string
	Method string
	// Weight is the endpoint's share of requests (the weights sum to 1).
	Weight float64
	// Latency is log-normal: MedianMs × e^(Sigma × N(0,1)) milliseconds, so its P99
	// is MedianMs × e^(2.326 × Sigma). Every profile keeps its P99 under 1 s, the
	// threshold of the KwindowHighLatencyP99 alert: normal traffic raises no alert,
	// a latency_spike incident does.
	MedianMs float64
	Sigma    float64
	// ClientErrorRate and ServerErrorRate are the probabilities of a 4xx and a 5xx.
	ClientErrorRate float64
	ServerErrorRate float64
}

var endpoints = []EndpointProfile{
	{Path: "/api/users", Method: "GET", Weight: 0.30, MedianMs: 12, Sigma: 0.35, ClientErrorRate: 0.02, ServerErrorRate: 0.002},
	{Path: "/api/products", Method: "GET", Weight: 0.20, MedianMs: 20, Sigma: 0.45, ClientErrorRate: 0.03, ServerErrorRate: 0.003},
	{Path: "/api/search", Method: "GET", Weight: 0.12, MedianMs: 150, Sigma: 0.75, ClientErrorRate: 0.02, ServerErrorRate: 0.005},
	{Path: "/api/orders", Method: "GET", Weight: 0.10, MedianMs: 40, Sigma: 0.5, ClientErrorRate: 0.03, ServerErrorRate: 0.004},
	{Path: "/api/cart", Method: "POST", Weight: 0.10, MedianMs: 30, Sigma: 0.4, ClientErrorRate: 0.04, ServerErrorRate: 0.004},
	{Path: loginPath, Method: "POST", Weight: 0.08, MedianMs: 60, Sigma: 0.5, ClientErrorRate: 0.10, ServerErrorRate: 0.003},
	{Path: "/api/checkout", Method: "POST", Weight: 0.05, MedianMs: 220, Sigma: 0.55, ClientErrorRate: 0.05, ServerErrorRate: 0.02},
	{Path: "/health", Method: "GET", Weight: 0.05, MedianMs: 1, Sigma: 0.2},
}

// loginPath answers with its own status mix (see loginErrors), and so do the
// synthetic endpoints modelled on it.
const loginPath = "/api/login"

// MaxEndpoints bounds Config.Endpoints: a million synthetic endpoints take some
// 100 MB of profiles, more than any test of cardinality needs.
const MaxEndpoints = 1_000_000

// Endpoints returns the default endpoint profiles, so that tests can compute what
// to expect.
func Endpoints() []EndpointProfile { return append([]EndpointProfile(nil), endpoints...) }

// EndpointProfiles returns the endpoints a generator of c draws from: the default
// ones, or with c.Endpoints = n > 0, n synthetic ones /api/e0000 … of share 1/n
// each, the i-th with the method, latency and error rates of default endpoint
// i mod 8 (and its status mix: the ones modelled on /api/login answer as it does).
// A synthetic endpoint is a distinct key of every aggregation grouped by
// endpoint, so n sets the cardinality while the traffic mix stays realistic.
// n is capped at MaxEndpoints.
func (c Config) EndpointProfiles() []EndpointProfile {
	if c.Endpoints <= 0 {
		return Endpoints()
	}
	n := min(c.Endpoints, MaxEndpoints)
	eps := make([]EndpointProfile, n)
	for i := range eps {
		eps[i] = endpoints[i%len(endpoints)]
		eps[i].Path = fmt.Sprintf("/api/e%04d", i)
		eps[i].Weight = 1 / float64(n)
	}
	return eps
}

type weighted[T any] struct {
	v T
	w float64
}

// The status mixes. Successes depend on the method; error codes are shared.
var (
	getSuccess = []weighted[int]{{200, 0.93}, {304, 0.05}, {301, 0.02}}
	// POST /api/login answers 200; other POSTs create (201) or accept with no body (204).
	postSuccess  = []weighted[int]{{200, 0.55}, {201, 0.40}, {204, 0.05}}
	clientErrors = []weighted[int]{{400, 0.25}, {401, 0.15}, {403, 0.10}, {404, 0.40}, {429, 0.10}}
	serverErrors = []weighted[int]{{500, 0.40}, {502, 0.20}, {503, 0.30}, {504, 0.10}}
	// login failures are mostly bad credentials.
	loginErrors = []weighted[int]{{400, 0.10}, {401, 0.75}, {429, 0.15}}
)

var defaultRegions = []weighted[string]{
	{"us-east-1", 0.40}, {"us-west-2", 0.25}, {"eu-west-1", 0.25}, {"ap-southeast-1", 0.10},
}

// DefaultRegions returns the regions (and their traffic shares) used when
// Config.Regions is empty.
func DefaultRegions() (names []string, shares []float64) {
	for _, r := range defaultRegions {
		names = append(names, r.v)
		shares = append(shares, r.w)
	}
	return names, shares
}
