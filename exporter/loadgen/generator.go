package loadgen

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"

	"github.com/kwindow/kwindow/exporter/internal/jsonstr"
)

// Incident kinds.
const (
	ErrorSpike   = "error_spike"   // raises the 5xx rate to ErrorRate
	LatencySpike = "latency_spike" // multiplies latencies by LatencyFactor
)

// Incident degrades an endpoint for a while.
type Incident struct {
	Kind          string // ErrorSpike or LatencySpike
	Endpoint      string // an EndpointProfile.Path; empty means every endpoint
	Start, End    int64  // unix ms, the incident covers [Start, End)
	ErrorRate     float64
	LatencyFactor float64
}

// Config configures a Generator; its zero value is a valid default.
type Config struct {
	Seed int64
	// Endpoints, when > 0, replaces the default endpoints (see Endpoints) with that
	// many synthetic ones of equal shares, for tests of cardinality; see
	// Config.EndpointProfiles. At most MaxEndpoints.
	Endpoints int
	// Regions replaces the default regions (see DefaultRegions), with equal shares.
	Regions   []string
	Incidents []Incident
}

// Validate reports the first problem of c. New does not need it (it ignores incidents
// that cannot apply), but a command line should refuse them.
func (c Config) Validate() error {
	if c.Endpoints < 0 || c.Endpoints > MaxEndpoints {
		return fmt.Errorf("endpoints: want 0 (the default profile) to %d, got %d", MaxEndpoints, c.Endpoints)
	}
	var eps []EndpointProfile
	if len(c.Incidents) > 0 {
		eps = c.EndpointProfiles()
	}
	for i, r := range c.Regions {
		if r == "" {
			return fmt.Errorf("regions[%d]: empty", i)
		}
	}
	for i, inc := range c.Incidents {
		name := fmt.Sprintf("incidents[%d]", i)
		if inc.Endpoint != "" && endpointIndex(eps, inc.Endpoint) < 0 {
			return fmt.Errorf("%s.endpoint: unknown endpoint %q", name, inc.Endpoint)
		}
		if inc.End <= inc.Start {
			return fmt.Errorf("%s: end %d is not after start %d", name, inc.End, inc.Start)
		}
		switch inc.Kind {
		case ErrorSpike:
			if !(inc.ErrorRate >= 0 && inc.ErrorRate <= 1) {
				return fmt.Errorf("%s.error_rate: want a probability in [0, 1], got %v", name, inc.ErrorRate)
			}
		case LatencySpike:
			if !(inc.LatencyFactor > 0) || math.IsInf(inc.LatencyFactor, 0) {
				return fmt.Errorf("%s.latency_factor: want a finite number > 0, got %v", name, inc.LatencyFactor)
			}
		default:
			return fmt.Errorf("%s.kind: want %q or %q, got %q", name, ErrorSpike, LatencySpike, inc.Kind)
		}
	}
	return nil
}

func endpointIndex(eps []EndpointProfile, path string) int {
	for i, e := range eps {
		if e.Path == path {
			return i
		}
	}
	return -1
}

// Request is one generated request-log event.
type Request struct {
	Time      int64 // unix ms
	Endpoint  string
	Method    string
	Region    string
	Status    int
	LatencyMs float64 // > 0, rounded to the microsecond
}

// Generator draws requests. It is not safe for concurrent use.
type Generator struct {
	rng       *rand.Rand
	endpoints []EndpointProfile
	login     []bool    // whether endpoints[i] answers as /api/login does
	epCum     []float64 // cumulative endpoint weights
	regions   []string
	regionCum []float64
	incidents []Incident
}

// New returns a generator for cfg. Incidents of an unknown kind or endpoint are ignored.
func New(cfg Config) *Generator {
	seed := uint64(cfg.Seed)
	g := &Generator{rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	g.endpoints = cfg.EndpointProfiles()
	for i := range g.endpoints {
		g.login = append(g.login, endpoints[i%len(endpoints)].Path == loginPath)
	}
	g.epCum = cumulative(len(g.endpoints), func(i int) float64 { return g.endpoints[i].Weight })
	if len(cfg.Regions) == 0 {
		for _, r := range defaultRegions {
			g.regions = append(g.regions, r.v)
		}
		g.regionCum = cumulative(len(defaultRegions), func(i int) float64 { return defaultRegions[i].w })
	} else {
		g.regions = append(g.regions, cfg.Regions...)
		g.regionCum = cumulative(len(g.regions), func(int) float64 { return 1 })
	}
	for _, inc := range cfg.Incidents {
		if (inc.Kind == ErrorSpike || inc.Kind == LatencySpike) && (inc.Endpoint == "" || endpointIndex(g.endpoints, inc.Endpoint) >= 0) {
			g.incidents = append(g.incidents, inc)
		}
	}
	return g
}

// cumulative returns the running sums of n weights, normalised to end at 1.
func cumulative(n int, w func(int) float64) []float64 {
	cum := make([]float64, n)
	sum := 0.0
	for i := range cum {
		sum += w(i)
		cum[i] = sum
	}
	for i := range cum {
		cum[i] /= sum
	}
	return cum
}

// pick returns the first i with u < cum[i], or the last index if there is none:
// a binary search, as synthetic endpoints may number many thousands.
func pick(cum []float64, u float64) int {
	lo, hi := 0, len(cum)-1
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if u < cum[m] {
			hi = m
		} else {
			lo = m + 1
		}
	}
	return lo
}

func pickWeighted[T any](ws []weighted[T], u float64) T {
	for _, w := range ws {
		if u < w.w {
			return w.v
		}
		u -= w.w
	}
	return ws[len(ws)-1].v
}

// Next draws one request at event time t (unix ms). The random draws do not depend on
// incidents, so an incident changes the requests it affects and nothing else.
func (g *Generator) Next(t int64) Request {
	i := pick(g.epCum, g.rng.Float64())
	ep := &g.endpoints[i]
	uStatus, uCode := g.rng.Float64(), g.rng.Float64()
	norm := g.rng.NormFloat64()
	region := g.regions[pick(g.regionCum, g.rng.Float64())]

	serverRate, factor := ep.ServerErrorRate, 1.0
	for i := range g.incidents {
		inc := &g.incidents[i]
		if t < inc.Start || t >= inc.End || (inc.Endpoint != "" && inc.Endpoint != ep.Path) {
			continue
		}
		switch inc.Kind {
		case ErrorSpike:
			serverRate = max(serverRate, inc.ErrorRate)
		case LatencySpike:
			factor *= inc.LatencyFactor
		}
	}

	var status int
	switch {
	case uStatus < serverRate:
		status = pickWeighted(serverErrors, uCode)
	case uStatus < serverRate+ep.ClientErrorRate:
		if g.login[i] {
			status = pickWeighted(loginErrors, uCode)
		} else {
			status = pickWeighted(clientErrors, uCode)
		}
	case ep.Method == "GET":
		status = pickWeighted(getSuccess, uCode)
	case g.login[i]:
		status = 200
	default:
		status = pickWeighted(postSuccess, uCode)
	}

	lat := ep.MedianMs * math.Exp(ep.Sigma*norm) * factor
	lat = max(math.Round(lat*1000)/1000, 0.001)
	return Request{Time: t, Endpoint: ep.Path, Method: ep.Method, Region: region, Status: status, LatencyMs: lat}
}

// AppendJSON appends r as a default-schema event:
//
//	{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}
//
// A non-finite LatencyMs is written as null.
func (g *Generator) AppendJSON(dst []byte, r Request) []byte {
	dst = append(dst, `{"timestamp":`...)
	dst = strconv.AppendInt(dst, r.Time, 10)
	dst = append(dst, `,"endpoint":`...)
	dst = jsonstr.AppendString(dst, r.Endpoint)
	dst = append(dst, `,"method":`...)
	dst = jsonstr.AppendString(dst, r.Method)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(r.Status), 10)
	dst = append(dst, `,"region":`...)
	dst = jsonstr.AppendString(dst, r.Region)
	dst = append(dst, `,"latency_ms":`...)
	if math.IsNaN(r.LatencyMs) || math.IsInf(r.LatencyMs, 0) {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendFloat(dst, r.LatencyMs, 'f', -1, 64)
	}
	return append(dst, '}')
}
