package engine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/sketch"
	"github.com/kwindow/kwindow/exporter/store"
)

const minute = 60000

// req builds a default-schema event: dims endpoint, method, status, region.
func req(t int64, endpoint string, status int, latencyMs float64) *event.Event {
	class := event.OK
	switch {
	case status >= 500:
		class = event.ServerError
	case status >= 400:
		class = event.ClientError
	}
	return &event.Event{
		Time: t, Value: latencyMs / 1000, HasValue: true, Status: status, Class: class,
		Dims: [][]byte{[]byte(endpoint), []byte("GET"), []byte(strconv.Itoa(status)), []byte("us-east-1")},
	}
}

func group(vals ...string) string {
	var b [][]byte
	for _, v := range vals {
		b = append(b, []byte(v))
	}
	return string(store.AppendGroup(nil, b...))
}

type result struct {
	agg   string
	group string
	start int64
	value aggregate.Value
}

// closedAfter processes events, flushes, and returns the closed windows by
// "agg|group|start".
func closed(e *Engine, f *Flush) map[string]aggregate.Value {
	out := map[string]aggregate.Value{}
	for _, c := range f.Closed {
		out[fmt.Sprintf("%s|%s|%d", e.Name(c.Agg), c.Group, c.Start)] = c.Value
	}
	return out
}

func TestExactResults(t *testing.T) {
	e := New(config.Default())
	rng := rand.New(rand.NewPCG(7, 7))
	type want struct {
		count, client, server uint64
		lat                   []float64
	}
	exp := map[string]*want{}
	endpoints := []string{"/a", "/b", "/c"}
	statuses := []int{200, 200, 200, 404, 503}
	for i := 0; i < 30000; i++ {
		ts := int64(i*5) + int64(rng.IntN(9000)) // three 1m windows, out of order by less than the grace
		ep := endpoints[rng.IntN(3)]
		st := statuses[rng.IntN(len(statuses))]
		lat := math.Exp(rng.NormFloat64()) * 20
		if late := e.Process(req(ts, ep, st, lat)); late != 0 {
			t.Fatalf("event %d at %d late (mask %b) before any window closed", i, ts, late)
		}
		k := fmt.Sprintf("endpoint_1m|%s|%d", group(ep), ts/minute*minute)
		w := exp[k]
		if w == nil {
			w = &want{}
			exp[k] = w
		}
		w.count++
		w.client += b2u(st/100 == 4)
		w.server += b2u(st/100 == 5)
		w.lat = append(w.lat, lat/1000)
	}
	// Stream time is now below 3m09s: [0,1m) and [1m,2m) closed, [2m,3m) open
	// until 3m10s.
	f := e.Flush()
	got := closed(e, f)
	if n := countAgg(e, f, "endpoint_1m"); n != 6 {
		t.Fatalf("%d endpoint_1m windows closed at stream time %d, want 6", n, f.StreamTime)
	}
	e.AdvanceTo(3*minute + 10000 - 1)
	if n := countAgg(e, e.Flush(), "endpoint_1m"); n != 0 {
		t.Fatalf("%d endpoint_1m windows closed at 3m09.999s, want 0", n)
	}
	e.AdvanceTo(3*minute + 10000)
	f = e.Flush()
	if n := countAgg(e, f, "endpoint_1m"); n != 3 {
		t.Fatalf("%d endpoint_1m windows closed at 3m10s, want 3", n)
	}
	for k, v := range closed(e, f) {
		got[k] = v
	}
	for k, w := range exp {
		v, ok := got[k]
		if !ok {
			t.Fatalf("window %q never closed", k)
		}
		check(t, k, v.Agg, w.count, w.client, w.server, w.lat)
	}
}

func countAgg(e *Engine, f *Flush, name string) int {
	n := 0
	for _, c := range f.Closed {
		if e.Name(c.Agg) == name {
			n++
		}
	}
	return n
}

func b2u(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

func check(t *testing.T, k string, a *aggregate.Aggregate, count, client, server uint64, lat []float64) {
	t.Helper()
	if a.Count != count || a.ClientErrors != client || a.ServerErrors != server {
		t.Errorf("%s: count %d 4xx %d 5xx %d, want %d %d %d", k, a.Count, a.ClientErrors, a.ServerErrors, count, client, server)
	}
	s := slices.Clone(lat)
	slices.Sort(s)
	if a.Min != s[0] || a.Max != s[len(s)-1] {
		t.Errorf("%s: min %v max %v, want %v %v", k, a.Min, a.Max, s[0], s[len(s)-1])
	}
	bound := sketch.RelativeError(sketch.DefaultSchema)
	for _, q := range []float64{0.5, 0.95, 0.99} {
		exact := s[int(math.Ceil(q*float64(len(s))))-1]
		if got := a.Quantile(q); math.Abs(got-exact) > bound*exact {
			t.Errorf("%s: P%v = %v, exact %v: off by more than %.2f%%", k, q*100, got, exact, bound*100)
		}
	}
}

func TestLateAndHopping(t *testing.T) {
	e := New(config.Default())
	status5m := e.Aggregation("status_5m")
	e.Process(req(30000, "/a", 200, 1))
	e.Process(req(5*minute+10000, "/a", 200, 1)) // stream time 5m10s: [0,1m) of the 1m aggregations closes
	late := e.Process(req(59999, "/a", 200, 1))
	if late != 0b111 {
		t.Fatalf("late mask %03b, want all three aggregations (111)", late)
	}
	// status_5m: the event at 59.999s falls in hopping windows starting -4m..0m;
	// those starting at -4m (closes 1m10s) .. 0m (closes 5m10s) are all closed.
	if late&(1<<status5m) == 0 {
		t.Errorf("status_5m: event in closed hopping windows not late")
	}
	if s := e.Stats(0); s.Late != 1 {
		t.Errorf("endpoint_1m late count %d, want 1", s.Late)
	}
	f := e.Flush()
	var starts []int64
	for _, c := range f.Closed {
		if c.Agg == status5m {
			starts = append(starts, c.Start)
			if c.Value.Agg.Count != 1 {
				t.Errorf("status_5m window %d count %d, want 1 (the late event must not count)", c.Start, c.Value.Agg.Count)
			}
		}
	}
	slices.Sort(starts)
	if want := []int64{-4 * minute, -3 * minute, -2 * minute, -minute, 0}; !slices.Equal(starts, want) {
		t.Errorf("closed status_5m windows %v, want %v", starts, want)
	}
}

func sketchCount(a *aggregate.Aggregate) uint64 {
	if a.Sketch == nil {
		return 0
	}
	return a.Sketch.Count()
}

// TestTotals: the running totals count every valid event of a key, late ones too,
// whatever the window kind.
func TestTotals(t *testing.T) {
	e := New(config.Default())
	e.Process(req(30000, "/a", 200, 1))
	e.Process(req(31000, "/a", 503, 2))
	e.Process(req(5*minute, "/a", 404, 3))
	e.Process(req(1000, "/a", 200, 4)) // late for every aggregation
	f := e.Flush()
	type sum struct{ n, client, server uint64 }
	got := map[string]sum{}
	for _, c := range f.Totals {
		if c.Start == TotalStart {
			s := got[e.Name(c.Agg)]
			s.n += c.Value.Agg.Count
			s.client += c.Value.Agg.ClientErrors
			s.server += c.Value.Agg.ServerErrors
			got[e.Name(c.Agg)] = s
		}
	}
	for _, name := range []string{"endpoint_1m", "status_5m", "region_1m"} {
		if got[name] != (sum{4, 1, 1}) {
			t.Errorf("%s running totals %+v, want 4 events, one 4xx, one 5xx (hopping windows hold each event 5 times; totals once)", name, got[name])
		}
	}
}

func TestOverflow(t *testing.T) {
	c := config.Default()
	c.Aggregations[0].MaxKeys = 2
	e := New(c)
	for _, ep := range []string{"/a", "/b", "/c", "/d", "/a"} {
		e.Process(req(1000, ep, 200, 1))
	}
	if s := e.Stats(0); s.Overflowed != 2 {
		t.Errorf("overflowed %d, want 2 (/c and /d)", s.Overflowed)
	}
	e.AdvanceTo(2 * minute)
	got := closed(e, e.Flush())
	for k, n := range map[string]uint64{"/a": 2, "/b": 1, OverflowValue: 2} {
		v, ok := got["endpoint_1m|"+group(k)+"|0"]
		if !ok || v.Agg.Count != n {
			t.Errorf("key %s: count %v (present %v), want %d", k, v.Agg, ok, n)
		}
	}
}

// memStore stands in for a task's state store: it holds what every Flush hands out,
// encoded as the store holds it, and gives running totals back as LoadTotal.
type memStore struct {
	t     *testing.T
	m     map[string]stored // by agg|group|start
	loads int               // LoadTotal calls
}

type stored struct {
	agg   int
	group string
	start int64
	value []byte
}

func newMemStore(t *testing.T) *memStore { return &memStore{t: t, m: map[string]stored{}} }

func storeKey(agg int, group string, start int64) string {
	return fmt.Sprintf("%d|%s|%d", agg, group, start)
}

// apply writes a flush's changes, as a task does once its transaction commits.
func (s *memStore) apply(f *Flush) {
	for _, ch := range f.Changes {
		k := storeKey(ch.Agg, ch.Group, ch.Start)
		if ch.Value.Agg == nil {
			delete(s.m, k)
			continue
		}
		b, err := ch.Value.AppendBinary(nil)
		if err != nil {
			s.t.Fatal(err)
		}
		s.m[k] = stored{ch.Agg, ch.Group, ch.Start, b}
	}
}

// get decodes a stored value afresh, as a store read does.
func (s *memStore) get(agg int, group string, start int64) (aggregate.Value, bool) {
	var v aggregate.Value
	st, ok := s.m[storeKey(agg, group, start)]
	if !ok {
		return v, false
	}
	if err := v.UnmarshalBinary(st.value); err != nil {
		s.t.Fatal(err)
	}
	return v, true
}

// total is the running total of a key as the store holds it, made whole
// (ResolveTotal) from the key's stored windows, as a task's restore does.
func (s *memStore) total(agg int, group string) (aggregate.Value, bool) {
	v, ok := s.get(agg, group, TotalStart)
	if !ok {
		return v, false
	}
	return ResolveTotal(v, func(from int64, fn func(aggregate.Value)) {
		for _, st := range s.m {
			if st.agg == agg && st.group == group && st.start >= from && st.start != TotalStart {
				w, _ := s.get(agg, group, st.start)
				fn(w)
			}
		}
	}), true
}

// load is Options.LoadTotal over the store.
func (s *memStore) load(agg int, group []byte) (aggregate.Value, error) {
	s.loads++
	v, _ := s.get(agg, string(group), TotalStart)
	return v, nil
}

// TestRestore splits a stream at random points: everything flushed goes to a map
// standing in for the store, a new engine restores the open windows from it and
// carries on. The final results, and the running totals in the store, must equal
// one engine's over the whole stream. Keys come and go (they leave memory and come
// back), and the session aggregation overflows.
//
// With LoadTotal ("load") the engine is restored as a task restores it: the windows
// only, the totals read when their keys need them. Without it ("legacy") the totals
// are restored too, and stay in memory.
func TestRestore(t *testing.T) {
	c, err := config.Parse("t.yml", []byte(`
aggregations:
  - {name: tumbling, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.5]}
  - {name: hopping, group_by: [endpoint, status], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s}
  - {name: session, group_by: [endpoint], window: {type: session, gap: 20s}, grace: 5s, max_keys: 3}
  - {name: sliding, group_by: [region], window: {type: sliding, size: 30s}, grace: 5s}
`))
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	var events []*event.Event
	for i := 0; i < 3000; i++ {
		ts := int64(i)*100 + int64(rng.IntN(15000)) // out of order by up to 15 s
		ep := []string{"/a", "/b"}[rng.IntN(2)]
		if i%7 == 0 {
			ep = fmt.Sprintf("/s%d", (i/300)%4) // active 30 s, then quiet 90 s
		}
		events = append(events, req(ts, ep, []int{200, 500}[rng.IntN(2)], float64(rng.IntN(100))))
	}
	finalOf := func(withLoad bool, split map[int]bool) (map[string]string, *memStore) {
		out := map[string]string{}
		st := newMemStore(t)
		var streamTime int64 = NoTime
		newEngine := func() *Engine {
			if withLoad {
				return NewWithOptions(c, Options{LoadTotal: st.load})
			}
			return New(c)
		}
		e := newEngine()
		drain := func(f *Flush) {
			st.apply(f)
			for _, ch := range f.Closed {
				k := fmt.Sprintf("%s|%s|%d|%d", e.Name(ch.Agg), ch.Group, ch.Start, ch.Value.End)
				if _, dup := out[k]; dup {
					t.Fatalf("window %s published twice", k)
				}
				out[k] = fmt.Sprintf("n=%d 5xx=%d sum=%v p50=%v last=%d", ch.Value.Agg.Count, ch.Value.Agg.ServerErrors, ch.Value.Agg.Sum, ch.Value.Agg.Quantile(0.5), ch.Value.Last)
			}
			streamTime = f.StreamTime
		}
		for i, ev := range events {
			if split[i] {
				drain(e.Flush())
				e = newEngine()
				e.AdvanceTo(streamTime)
				for _, s := range st.m {
					if s.start == TotalStart && withLoad {
						continue // read when needed
					}
					v, _ := st.get(s.agg, s.group, s.start)
					e.Restore(s.agg, []byte(s.group), s.start, v)
				}
			}
			e.Process(ev)
			if i%37 == 0 {
				drain(e.Flush())
			}
		}
		e.AdvanceTo(1 << 50)
		drain(e.Flush())
		if err := e.Err(); err != nil {
			t.Fatal(err)
		}
		for _, s := range st.m {
			if s.start == TotalStart {
				v, _ := st.get(s.agg, s.group, s.start)
				a := v.Agg
				out[fmt.Sprintf("total|%s|%s", e.Name(s.agg), s.group)] = fmt.Sprintf("n=%d 5xx=%d values=%d sketch=%d last=%d", a.Count, a.ServerErrors, a.Values, sketchCount(a), v.Last)
			}
		}
		// What is still in memory is what the store holds.
		for i := range c.Aggregations {
			e.Totals(i, func(g string, a *aggregate.Aggregate) {
				v, ok := st.get(i, g, TotalStart)
				if !ok || v.Agg.Count != a.Count || v.Agg.Sum != a.Sum {
					t.Fatalf("%s total of %q in memory: %d events, stored %+v", e.Name(i), g, a.Count, v.Agg)
				}
			})
		}
		return out, st
	}
	whole, st := finalOf(false, nil)
	if len(whole) < 100 {
		t.Fatalf("only %d results", len(whole))
	}
	if _, ok := whole["total|session|"+group(OverflowValue)]; !ok {
		t.Fatalf("the session aggregation never overflowed")
	}
	if st.loads != 0 {
		t.Fatalf("an engine without LoadTotal called it")
	}
	got, st := finalOf(true, nil)
	if fmt.Sprint(got) != fmt.Sprint(whole) {
		t.Fatalf("results with LoadTotal differ from those without:\n%v\n%v", got, whole)
	}
	if st.loads == 0 {
		t.Fatalf("no key came back into memory: the test does not test eviction")
	}
	for trial := 0; trial < 10; trial++ {
		split := map[int]bool{}
		for j := 0; j < 10; j++ {
			split[rng.IntN(len(events))] = true
		}
		withLoad := trial%2 == 1
		got, _ := finalOf(withLoad, split)
		for k, v := range whole {
			if got[k] != v {
				t.Fatalf("trial %d (LoadTotal %v): %s: %q after restores, %q in one run", trial, withLoad, k, got[k], v)
			}
		}
		if len(got) != len(whole) {
			t.Fatalf("trial %d (LoadTotal %v): %d results after restores, %d in one run", trial, withLoad, len(got), len(whole))
		}
	}
}
