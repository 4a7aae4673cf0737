package loadgen

import (
	"bytes"
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/event"
)

const t0 = 1732230000000

// draw generates n requests, one every 10 ms from t0.
func draw(g *Generator, n int) []Request {
	rs := make([]Request, n)
	for i := range rs {
		rs[i] = g.Next(t0 + int64(i)*10)
	}
	return rs
}

func TestDeterministic(t *testing.T) {
	tests := []struct {
		name     string
		a, b     Config
		wantSame bool
	}{
		{"same seed", Config{Seed: 7}, Config{Seed: 7}, true},
		{"zero config", Config{}, Config{}, true},
		{"same seed and incidents", Config{Seed: 7, Incidents: []Incident{{Kind: ErrorSpike, Start: t0, End: t0 + 1e4, ErrorRate: 0.5}}},
			Config{Seed: 7, Incidents: []Incident{{Kind: ErrorSpike, Start: t0, End: t0 + 1e4, ErrorRate: 0.5}}}, true},
		{"other seed", Config{Seed: 7}, Config{Seed: 8}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ga, gb := New(tt.a), New(tt.b)
			var ja, jb []byte
			for i := 0; i < 10000; i++ {
				ts := t0 + int64(i)
				ja = ga.AppendJSON(ja, ga.Next(ts))
				jb = gb.AppendJSON(jb, gb.Next(ts))
			}
			if same := bytes.Equal(ja, jb); same != tt.wantSame {
				t.Errorf("streams equal: %v, want %v", same, tt.wantSame)
			}
		})
	}
}

// within fails t unless got is within 5 standard errors of the proportion p over n draws.
func within(t *testing.T, what string, got, p float64, n int) {
	t.Helper()
	tol := 5 * math.Sqrt(p*(1-p)/float64(n))
	if math.Abs(got-p) > tol {
		t.Errorf("%s: %.4f, want %.4f ± %.4f", what, got, p, tol)
	}
}

func TestTrafficMix(t *testing.T) {
	const n = 100000
	rs := draw(New(Config{Seed: 1}), n)
	count := map[string]int{}
	server := map[string]int{}
	client := map[string]int{}
	regions := map[string]int{}
	total5xx := 0
	for _, r := range rs {
		count[r.Endpoint]++
		regions[r.Region]++
		switch {
		case r.Status >= 500:
			server[r.Endpoint]++
			total5xx++
		case r.Status >= 400:
			client[r.Endpoint]++
		}
	}
	want5xx := 0.0
	sum := 0.0
	for _, ep := range Endpoints() {
		sum += ep.Weight
		want5xx += ep.Weight * ep.ServerErrorRate
		t.Run(ep.Path, func(t *testing.T) {
			within(t, "share", float64(count[ep.Path])/n, ep.Weight, n)
			c := count[ep.Path]
			within(t, "5xx ratio", float64(server[ep.Path])/float64(c), ep.ServerErrorRate, c)
			within(t, "4xx ratio", float64(client[ep.Path])/float64(c), ep.ClientErrorRate, c)
		})
	}
	if math.Abs(sum-1) > 1e-9 {
		t.Errorf("endpoint weights sum to %v", sum)
	}
	within(t, "overall 5xx rate", float64(total5xx)/n, want5xx, n)
	names, shares := DefaultRegions()
	for i, name := range names {
		within(t, "region "+name, float64(regions[name])/n, shares[i], n)
	}
	if len(regions) != len(names) {
		t.Errorf("regions %v, want %v", regions, names)
	}
}

func TestLatencyProfiles(t *testing.T) {
	rs := draw(New(Config{Seed: 2}), 200000)
	lat := map[string][]float64{}
	for _, r := range rs {
		if r.LatencyMs <= 0 || math.IsInf(r.LatencyMs, 0) || math.IsNaN(r.LatencyMs) {
			t.Fatalf("latency %v", r.LatencyMs)
		}
		lat[r.Endpoint] = append(lat[r.Endpoint], r.LatencyMs)
	}
	for _, ep := range Endpoints() {
		t.Run(ep.Path, func(t *testing.T) {
			ls := lat[ep.Path]
			sort.Float64s(ls)
			med := ls[len(ls)/2]
			if math.Abs(med/ep.MedianMs-1) > 0.05 {
				t.Errorf("median %.3f ms, want %.3f ± 5%%", med, ep.MedianMs)
			}
			// log-normal: P99/P50 = e^(2.326σ)
			p99 := ls[len(ls)*99/100]
			if want := math.Exp(2.326 * ep.Sigma); math.Abs(p99/med/want-1) > 0.15 {
				t.Errorf("P99/P50 %.2f, want %.2f ± 15%%", p99/med, want)
			}
		})
	}
}

func TestIncidents(t *testing.T) {
	const n = 200000
	start, end := t0+int64(n)*10/4, t0+int64(n)*10/2 // the second quarter of the run
	cfg := Config{Seed: 3, Incidents: []Incident{
		{Kind: ErrorSpike, Endpoint: "/api/checkout", Start: start, End: end, ErrorRate: 0.4},
		{Kind: LatencySpike, Endpoint: "/api/search", Start: start, End: end, LatencyFactor: 5},
	}}
	base := draw(New(Config{Seed: 3}), n)
	rs := draw(New(cfg), n)
	type tally struct{ n, server int }
	var in, out, otherIn tally
	changed := 0
	for i, r := range rs {
		inside := r.Time >= start && r.Time < end
		if r != base[i] {
			changed++
			if !inside || r.Endpoint != "/api/checkout" && r.Endpoint != "/api/search" {
				t.Fatalf("request %d changed outside the incidents: %+v, was %+v", i, r, base[i])
			}
		}
		if r.Endpoint == "/api/search" {
			factor := r.LatencyMs / base[i].LatencyMs
			if inside && math.Abs(factor-5) > 0.01 || !inside && factor != 1 {
				t.Fatalf("search latency ×%.3f at %d (inside %v)", factor, r.Time, inside)
			}
		}
		tl := &out
		switch {
		case r.Endpoint != "/api/checkout" && inside:
			tl = &otherIn
		case r.Endpoint != "/api/checkout":
			continue
		case inside:
			tl = &in
		}
		tl.n++
		if r.Status >= 500 {
			tl.server++
		}
	}
	var checkout EndpointProfile
	for _, ep := range Endpoints() {
		if ep.Path == "/api/checkout" {
			checkout = ep
		}
	}
	within(t, "checkout 5xx inside", float64(in.server)/float64(in.n), 0.4, in.n)
	within(t, "checkout 5xx outside", float64(out.server)/float64(out.n), checkout.ServerErrorRate, out.n)
	if r := float64(otherIn.server) / float64(otherIn.n); r > 0.01 {
		t.Errorf("other endpoints' 5xx ratio during the incident: %.4f", r)
	}
	if changed == 0 {
		t.Error("the incidents changed nothing")
	}
}

func TestJSONDecodes(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
	}{
		{"default", Config{Seed: 4}},
		{"regions that need escaping", Config{Seed: 5, Regions: []string{`eu "west"`, `a\b`, "tab\there", "ctl\x01", "é"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := event.NewDecoder(event.RequestLogSchema())
			if err != nil {
				t.Fatal(err)
			}
			d.SetNow(t0 + 1e6*10)
			g := New(tt.cfg)
			var buf []byte
			var ev event.Event
			for _, r := range draw(g, 20000) {
				buf = g.AppendJSON(buf[:0], r)
				if !json.Valid(buf) {
					t.Fatalf("invalid JSON %s", buf)
				}
				if err := d.DecodeRecord(buf, r.Time, &ev); err != nil {
					t.Fatalf("%s: %v", buf, err)
				}
				got := []string{string(ev.Dims[0]), string(ev.Dims[1]), string(ev.Dims[2]), string(ev.Dims[3])}
				want := []string{r.Endpoint, r.Method, strconv.Itoa(r.Status), r.Region}
				if ev.Time != r.Time || ev.Status != r.Status || strings.Join(got, "|") != strings.Join(want, "|") ||
					math.Abs(ev.Value-r.LatencyMs/1000) > 1e-15*r.LatencyMs {
					t.Fatalf("%s decodes to %+v %q", buf, ev, got)
				}
			}
		})
	}
}

func TestAppendJSONExact(t *testing.T) {
	g := New(Config{})
	got := string(g.AppendJSON([]byte("x"), Request{Time: 1732230000123, Endpoint: "/api/users", Method: "GET", Region: "us-east-1", Status: 200, LatencyMs: 12.5}))
	want := `x{"timestamp":1732230000123,"endpoint":"/api/users","method":"GET","status":200,"region":"us-east-1","latency_ms":12.5}`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	got = string(g.AppendJSON(nil, Request{LatencyMs: math.NaN()}))
	if !json.Valid([]byte(got)) || !strings.HasSuffix(got, `"latency_ms":null}`) {
		t.Errorf("NaN latency: %s", got)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"zero", Config{}, ""},
		{"incidents", Config{Incidents: []Incident{
			{Kind: ErrorSpike, Endpoint: "/api/cart", Start: 1, End: 2, ErrorRate: 1},
			{Kind: LatencySpike, Start: 1, End: 2, LatencyFactor: 0.5},
		}}, ""},
		{"empty region", Config{Regions: []string{"a", ""}}, "regions[1]: empty"},
		{"unknown kind", Config{Incidents: []Incident{{Kind: "outage", Start: 1, End: 2}}}, `incidents[0].kind: want "error_spike" or "latency_spike", got "outage"`},
		{"unknown endpoint", Config{Incidents: []Incident{{Kind: ErrorSpike, Endpoint: "/nope", Start: 1, End: 2}}}, `incidents[0].endpoint: unknown endpoint "/nope"`},
		{"empty window", Config{Incidents: []Incident{{Kind: ErrorSpike, Start: 2, End: 2}}}, "incidents[0]: end 2 is not after start 2"},
		{"bad rate", Config{Incidents: []Incident{{Kind: ErrorSpike, Start: 1, End: 2, ErrorRate: 1.5}}}, "incidents[0].error_rate"},
		{"bad factor", Config{Incidents: []Incident{{Kind: LatencySpike, Start: 1, End: 2}}}, "incidents[0].latency_factor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Errorf("got %v, want %q", err, tt.want)
			}
		})
	}
}

func BenchmarkGenerate(b *testing.B) {
	g := New(Config{Seed: 1})
	buf := make([]byte, 0, 256)
	b.ReportAllocs()
	ts := int64(t0)
	for b.Loop() {
		buf = g.AppendJSON(buf[:0], g.Next(ts))
		ts++
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
