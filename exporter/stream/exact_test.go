package stream

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/store"
)

// expectation computes, independently of the engine, what each window must hold:
// per partition, stream time is the largest event time so far, and an event is late
// for a window when stream time has reached the window's end + grace.
type expectation struct {
	windows map[string]*expWindow // by outputResult.id()
	late    int
	invalid int
}

type expWindow struct {
	count, client, server uint64
	lat                   []float64
}

type sent struct {
	partition int32
	ts        int64
	endpoint  string
	status    int
	latency   float64
	bad       string // non-empty: a malformed payload
}

func expect(events []sent, closeAt map[int32]int64) expectation {
	e := expectation{windows: map[string]*expWindow{}}
	st := map[int32]int64{}
	const grace = 10000
	add := func(id string, ev sent) {
		w := e.windows[id]
		if w == nil {
			w = &expWindow{}
			e.windows[id] = w
		}
		w.count++
		w.client += b2u(ev.status/100 == 4)
		w.server += b2u(ev.status/100 == 5)
		w.lat = append(w.lat, ev.latency/1000)
	}
	for _, ev := range events {
		if ev.bad != "" {
			e.invalid++
			continue
		}
		if cur, ok := st[ev.partition]; !ok || ev.ts > cur {
			st[ev.partition] = ev.ts
		}
		s := st[ev.partition]
		late := false
		// endpoint_1m: tumbling 1m.
		start := ev.ts / minute * minute
		if s >= start+minute+grace {
			late = true
		} else {
			add(fmt.Sprintf("endpoint_1m|endpoint=%s|%d", ev.endpoint, start), ev)
		}
		// status_5m: hopping 5m advance 1m: windows starting at start-4m..start.
		for ws := start - 4*minute; ws <= start; ws += minute {
			if s >= ws+5*minute+grace {
				late = true
				continue
			}
			add(fmt.Sprintf("status_5m|endpoint=%s,status=%d|%d", ev.endpoint, ev.status, ws), ev)
		}
		if late {
			e.late++
		}
	}
	// Only windows closed by the final stream time are published.
	for id := range e.windows {
		var agg, key string
		var start int64
		fmt.Sscanf(id[len(id)-13:], "%d", &start)
		agg = id[:len("status_5m")]
		_ = key
		size := minute
		if agg == "status_5m" {
			size = 5 * minute
		}
		closed := false
		for p, s := range st {
			_ = p
			if s >= start+size+grace {
				closed = true
			}
		}
		if !closed {
			delete(e.windows, id)
		}
	}
	return e
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// TestExactlyOnceResults: known events, including out-of-order, late and malformed
// ones, give exactly the expected window results on the output topic and in the
// store, and exactly the expected dead-letter and late records.
func TestExactlyOnceResults(t *testing.T) {
	addr := newCluster(t)
	cfg := testConfig(t, addr, "")
	now := time.Now().UnixMilli()
	base := (now - 3600_000) / minute * minute
	rng := rand.New(rand.NewPCG(11, 12))
	endpoints := []string{"/api/users", "/api/search", "/api/cart"}
	var events []sent
	// Every endpoint goes to one partition, as a keyed producer would send it, so
	// each (endpoint, window) lives in one task.
	for i := 0; i < 6000; i++ {
		ep := rng.IntN(len(endpoints))
		ev := sent{partition: int32(ep), ts: base + int64(i)*50 + int64(rng.IntN(8000)), endpoint: endpoints[ep],
			status: []int{200, 200, 200, 201, 404, 429, 500, 503}[rng.IntN(8)], latency: math.Round(math.Exp(rng.NormFloat64())*20*1000) / 1000}
		switch i % 173 {
		case 7:
			ev.bad = `{"timestamp":` // not JSON
		case 11:
			ev.bad = string(reqJSON(ev.ts, ev.endpoint, ev.status, -1)) // negative latency
		case 13:
			ev.bad = `{"endpoint":"/x","status":200,"latency_ms":1}` // no method: missing_field
		}
		events = append(events, ev)
	}
	// Late: the first minute closed long ago on every partition.
	for p := int32(0); p < partitions; p++ {
		for j := 0; j < 5; j++ {
			events = append(events, sent{partition: p, ts: base + int64(j)*1000, endpoint: endpoints[p], status: 200, latency: 1})
		}
	}
	// Move every partition's stream time far ahead so its windows close.
	for p := int32(0); p < partitions; p++ {
		events = append(events, sent{partition: p, ts: base + 30*minute, endpoint: endpoints[p], status: 200, latency: 1})
	}
	exp := expect(events, nil)

	var rs []*kgo.Record
	for _, ev := range events {
		v := []byte(ev.bad)
		if ev.bad == "" {
			v = reqJSON(ev.ts, ev.endpoint, ev.status, ev.latency)
		}
		rs = append(rs, &kgo.Record{Topic: input, Partition: ev.partition, Value: v})
	}
	produce(t, client(t, addr), rs)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var got []Result
	rt, err := New(ctx, cfg, Options{OnResults: func(r []Result) { got = append(got, r...) }})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- rt.Run(ctx) }()

	out := consumeAll(t, addr, cfg.Stream.OutputTopic, len(exp.windows), 60*time.Second)
	results := decodeResults(t, out)
	for id, w := range exp.windows {
		r, ok := results[id]
		if !ok {
			t.Errorf("window %s missing from the output topic", id)
			continue
		}
		if r.Aggregation == "status_5m" {
			w.client, w.server = 0, 0 // status_5m computes counts only
		}
		if r.Count != w.count || r.ClientErrors != w.client || r.ServerErrors != w.server {
			t.Errorf("window %s: count %d 4xx %d 5xx %d, want %d %d %d", id, r.Count, r.ClientErrors, r.ServerErrors, w.count, w.client, w.server)
		}
		if r.Aggregation == "endpoint_1m" {
			checkQuantile(t, id, r.Quantiles["0.99"], w.lat, 0.99)
		}
	}
	if len(results) != len(exp.windows) {
		t.Errorf("%d windows on the output topic, want %d", len(results), len(exp.windows))
	}

	dlq := consumeAll(t, addr, cfg.Stream.DeadLetterTopic, exp.invalid, 10*time.Second)
	if len(dlq) != exp.invalid {
		t.Errorf("%d dead letters, want %d", len(dlq), exp.invalid)
	}
	reasons := map[string]int{}
	for _, r := range dlq {
		reasons[header(r, HeaderReason)]++
		if header(r, HeaderTopic) != input || header(r, HeaderOffset) == "" {
			t.Errorf("dead letter without its source: %v", r.Headers)
		}
	}
	if want := exp.invalid / 3; reasons["not_json"] != want || reasons["invalid_value"] != want || reasons["missing_field"] != want {
		t.Errorf("dead letters by reason %v, want %d of not_json, invalid_value and missing_field", reasons, want)
	}
	late := consumeAll(t, addr, "test-late", exp.late, 10*time.Second)
	if len(late) != exp.late || exp.late < 15 {
		t.Errorf("%d late records, want %d (at least the 15 sent for the first minute)", len(late), exp.late)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(got) != len(exp.windows) {
		t.Errorf("OnResults saw %d results, want %d", len(got), len(exp.windows))
	}
	// The stores hold the same counts: each key in the store of the stage-2 task
	// that owns it.
	n := 0
	for p := 0; p < partitions; p++ {
		st, err := store.OpenRocks(fmt.Sprintf("%s/test/test-repartition-%d", cfg.State.Dir, p), store.RocksOptions{})
		if err != nil {
			t.Fatal(err)
		}
		err = st.Groups("endpoint_1m", func(g []byte) bool {
			vals, _ := store.SplitGroup(g)
			g = slices.Clone(g)
			st.Range("endpoint_1m", g, math.MinInt64, math.MaxInt64, func(e store.Entry) bool {
				id := "endpoint_1m|endpoint=" + string(vals[0]) + "|" + strconv.FormatInt(e.Key.Start, 10)
				w, ok := exp.windows[id]
				if !ok {
					return true // still open
				}
				var v aggregate.Value
				if err := v.UnmarshalBinary(e.Value); err != nil {
					t.Fatal(err)
				}
				if v.Agg.Count != w.count {
					t.Errorf("store: window %s count %d, want %d", id, v.Agg.Count, w.count)
				}
				n++
				return true
			})
			return true
		})
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	if n == 0 {
		t.Errorf("no closed endpoint_1m window in the stores")
	}
}

func checkQuantile(t *testing.T, id string, got float64, lat []float64, q float64) {
	t.Helper()
	s := slices.Clone(lat)
	slices.Sort(s)
	exact := s[int(math.Ceil(q*float64(len(s))))-1]
	if math.Abs(got-exact) > 0.0055*exact {
		t.Errorf("window %s: P%v %v, exact %v: off by more than 0.55%%", id, q*100, got, exact)
	}
}
