package loadgen

import (
	"fmt"
	"hash/fnv"
	"math"
	"strings"
	"testing"
)

// statusMix restates the documented status mix of a default endpoint, written
// out here rather than read from the generator's tables: the probability of
// each status code of one request.
func statusMix(ep EndpointProfile) map[int]float64 {
	p := map[int]float64{}
	add := func(rate float64, mix map[int]float64) {
		for code, w := range mix {
			p[code] += rate * w
		}
	}
	login := ep.Path == "/api/login"
	ok := 1 - ep.ServerErrorRate - ep.ClientErrorRate
	add(ep.ServerErrorRate, map[int]float64{500: 0.40, 502: 0.20, 503: 0.30, 504: 0.10})
	switch {
	case login:
		add(ep.ClientErrorRate, map[int]float64{400: 0.10, 401: 0.75, 429: 0.15})
		add(ok, map[int]float64{200: 1})
	case ep.Method == "GET":
		add(ep.ClientErrorRate, map[int]float64{400: 0.25, 401: 0.15, 403: 0.10, 404: 0.40, 429: 0.10})
		add(ok, map[int]float64{200: 0.93, 304: 0.05, 301: 0.02})
	default:
		add(ep.ClientErrorRate, map[int]float64{400: 0.25, 401: 0.15, 403: 0.10, 404: 0.40, 429: 0.10})
		add(ok, map[int]float64{200: 0.55, 201: 0.40, 204: 0.05})
	}
	for code, q := range p {
		if q == 0 {
			delete(p, code)
		}
	}
	return p
}

// expectedPairs is the expected number of distinct (endpoint, status) pairs in
// draws requests from n synthetic endpoints of equal shares, the i-th behaving
// as default endpoint i mod 8, and the variance of that number were the pairs
// independent (they are slightly negatively correlated, so it errs high).
func expectedPairs(n int, draws float64) (mean, variance float64) {
	defaults := Endpoints()
	for i := 0; i < n; i++ {
		for _, q := range statusMix(defaults[i%len(defaults)]) {
			seen := -math.Expm1(draws * math.Log1p(-q/float64(n)))
			mean += seen
			variance += seen * (1 - seen)
		}
	}
	return mean, variance
}

func TestSyntheticEndpoints(t *testing.T) {
	f := func(n, draws int) {
		t.Helper()
		g := New(Config{Seed: 5, Endpoints: n})
		perEndpoint := map[string]int{}
		pairs := map[string]bool{}
		regions := map[string]bool{}
		for _, r := range draw(g, draws) {
			perEndpoint[r.Endpoint]++
			pairs[fmt.Sprint(r.Endpoint, r.Status)] = true
			regions[r.Region] = true
		}
		if len(perEndpoint) != n {
			t.Errorf("n=%d: %d distinct endpoints", n, len(perEndpoint))
		}
		for i := 0; i < n; i++ {
			path := fmt.Sprintf("/api/e%04d", i)
			within(t, fmt.Sprintf("n=%d: share of %s", n, path), float64(perEndpoint[path])/float64(draws), 1/float64(n), draws)
		}
		mean, variance := expectedPairs(n, float64(draws))
		if got := float64(len(pairs)); math.Abs(got-mean) > 5*math.Sqrt(variance)+1 {
			t.Errorf("n=%d: %v distinct (endpoint, status) pairs in %d requests, want %.1f ± %.1f", n, got, draws, mean, 5*math.Sqrt(variance)+1)
		}
		if len(regions) != 4 {
			t.Errorf("n=%d: regions %v", n, regions)
		}
	}
	f(1, 20000)
	f(8, 100000)
	f(1000, 200000)
	f(3000, 100000) // many pairs unseen: the estimate is tested where it is not just a count
}

// TestSyntheticMix checks that synthetic endpoints keep their template's latency
// and status behaviour: the one modelled on /api/login never answers 403.
func TestSyntheticMix(t *testing.T) {
	eps := Config{Endpoints: 16}.EndpointProfiles()
	defaults := Endpoints()
	for i, ep := range eps {
		d := defaults[i%8]
		if ep.Method != d.Method || ep.MedianMs != d.MedianMs || ep.Sigma != d.Sigma ||
			ep.ClientErrorRate != d.ClientErrorRate || ep.ServerErrorRate != d.ServerErrorRate || ep.Weight != 1.0/16 {
			t.Errorf("endpoint %d: %+v, want the mix of %+v", i, ep, d)
		}
	}
	counts := map[string]map[int]int{}
	for _, r := range draw(New(Config{Seed: 9, Endpoints: 16}), 400000) {
		if counts[r.Endpoint] == nil {
			counts[r.Endpoint] = map[int]int{}
		}
		counts[r.Endpoint][r.Status]++
	}
	for i, ep := range eps {
		c := counts[ep.Path]
		total := 0
		for _, k := range c {
			total += k
		}
		for code, q := range statusMix(defaults[i%8]) {
			within(t, fmt.Sprintf("%s status %d", ep.Path, code), float64(c[code])/float64(total), q, total)
		}
		for code := range c {
			if _, ok := statusMix(defaults[i%8])[code]; !ok {
				t.Errorf("%s answered %d, which %s never does", ep.Path, code, defaults[i%8].Path)
			}
		}
	}
}

// TestDefaultStreamUnchanged guards the default profile against the cardinality
// knob: the endpoints, methods, statuses and regions that seed 1 drew before it
// existed (latencies are left out: their last bit may differ by architecture).
func TestDefaultStreamUnchanged(t *testing.T) {
	for _, cfg := range []Config{{Seed: 1}, {Seed: 1, Endpoints: 0}} {
		g := New(cfg)
		h := fnv.New64a()
		for i := 0; i < 100000; i++ {
			r := g.Next(t0 + int64(i))
			fmt.Fprintf(h, "%s|%s|%d|%s\n", r.Endpoint, r.Method, r.Status, r.Region)
		}
		if got := fmt.Sprintf("%x", h.Sum64()); got != "7d43a1f024cde68b" {
			t.Errorf("%+v: hash %s, want 7d43a1f024cde68b", cfg, got)
		}
	}
}

func TestEndpointsValidate(t *testing.T) {
	f := func(cfg Config, want string) {
		t.Helper()
		err := cfg.Validate()
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%+v: got %v, want %q", cfg, err, want)
		}
	}
	f(Config{Endpoints: 0}, "")
	f(Config{Endpoints: 1}, "")
	f(Config{Endpoints: MaxEndpoints}, "")
	f(Config{Endpoints: -1}, "endpoints: want 0 (the default profile) to 1000000, got -1")
	f(Config{Endpoints: MaxEndpoints + 1}, "endpoints: want 0 (the default profile) to 1000000, got 1000001")
	f(Config{Endpoints: 20, Incidents: []Incident{{Kind: ErrorSpike, Endpoint: "/api/e0019", Start: 1, End: 2, ErrorRate: 1}}}, "")
	f(Config{Endpoints: 20, Incidents: []Incident{{Kind: ErrorSpike, Endpoint: "/api/e0020", Start: 1, End: 2}}}, `incidents[0].endpoint: unknown endpoint "/api/e0020"`)
	f(Config{Endpoints: 20, Incidents: []Incident{{Kind: ErrorSpike, Endpoint: "/api/users", Start: 1, End: 2}}}, `incidents[0].endpoint: unknown endpoint "/api/users"`)
	if n := len(Config{Endpoints: MaxEndpoints + 5}.EndpointProfiles()); n != MaxEndpoints {
		t.Errorf("%d profiles past the limit, want %d", n, MaxEndpoints)
	}
}

// TestSyntheticIncident checks that an incident applies to a synthetic endpoint.
func TestSyntheticIncident(t *testing.T) {
	cfg := Config{Seed: 3, Endpoints: 10, Incidents: []Incident{{Kind: LatencySpike, Endpoint: "/api/e0003", Start: t0, End: t0 + 1e9, LatencyFactor: 4}}}
	base := draw(New(Config{Seed: 3, Endpoints: 10}), 20000)
	for i, r := range draw(New(cfg), 20000) {
		want := base[i].LatencyMs
		if r.Endpoint == "/api/e0003" {
			want *= 4
		}
		if math.Abs(r.LatencyMs/want-1) > 1e-3 {
			t.Fatalf("request %d on %s: latency %v, want %v", i, r.Endpoint, r.LatencyMs, want)
		}
	}
}
