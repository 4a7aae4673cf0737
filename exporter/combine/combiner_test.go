package combine

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
)

func oneAggregation(t testing.TB, yaml string) *config.Config {
	t.Helper()
	c, err := config.Parse("t.yml", []byte("aggregations:\n  - "+yaml+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestReset: Reset drops the interval's parts and late counts, and sets stream time.
func TestReset(t *testing.T) {
	c := New(oneAggregation(t, "{name: a, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s}"))
	rng := rand.New(rand.NewPCG(1, 1))
	c.Process(newEvent(rng, base+100_000, "/a"))
	c.Process(newEvent(rng, base, "/a")) // late
	c.Flush(func(*Delta) {})
	c.Process(newEvent(rng, base+200_000, "/b"))
	c.Process(newEvent(rng, base+1, "/b")) // late
	if s := c.Stats(0); s.Late != 2 || s.Keys != 1 {
		t.Errorf("before Reset: %+v, want 2 late, 1 key", s)
	}
	c.Reset(base + 100_000)
	if s := c.Stats(0); s.Late != 1 || s.Keys != 0 || c.StreamTime() != base+100_000 {
		t.Errorf("after Reset: %+v at %d, want 1 late, 0 keys at %d", s, c.StreamTime(), base+100_000)
	}
	n := 0
	c.Flush(func(*Delta) { n++ })
	if n != 0 {
		t.Errorf("Flush after Reset handed out %d deltas", n)
	}
	if New(testConfig(t)).StreamTime() != engine.NoTime {
		t.Error("a new combiner has a stream time")
	}
}

// TestFlushSplitsAtTheBound: a sliding key with tens of thousands of distinct
// event times in one interval comes as several Deltas, each encoded record at most
// MaxRecordBytes and the largest close to it, holding every event once.
func TestFlushSplitsAtTheBound(t *testing.T) {
	c := New(oneAggregation(t, "{name: a, group_by: [region], window: {type: sliding, size: 1h}, grace: 1h, quantiles: [0.5]}"))
	rng := rand.New(rand.NewPCG(2, 2))
	const n = 30000
	for i := range n {
		ev := newEvent(rng, base+int64(i), "/a")
		ev.Dims[3] = []byte("r")
		c.Process(ev)
	}
	var deltas, largest int
	var events uint64
	c.Flush(func(d *Delta) {
		deltas++
		key := AppendDeltaKey(nil, "a", d.Group)
		value, err := AppendDeltaValue(nil, math.MaxInt32, d)
		if err != nil {
			t.Fatal(err)
		}
		size := len(key) + len(value)
		if size > MaxRecordBytes {
			t.Errorf("record of %d bytes, over %d", size, MaxRecordBytes)
		}
		largest = max(largest, size)
		for _, p := range d.Parts {
			events += p.Agg.Count
		}
	})
	if deltas < 2 || largest < MaxRecordBytes-200 || events != n {
		t.Errorf("%d deltas, the largest %d bytes (bound %d), %d events: want several, near the bound, %d", deltas, largest, MaxRecordBytes, events, n)
	}
}

// TestSlidingPartIsItsEvents: adding one sliding part of k events at time t gives the
// windows (bounds, counts, latest times) adding the k events one by one gives, in
// an engine fed either way with the same events (every time duplicated a random
// number of times, out of order within grace).
func TestSlidingPartIsItsEvents(t *testing.T) {
	cfg := oneAggregation(t, "{name: s, group_by: [region], window: {type: sliding, size: 10s}, grace: 30s}")
	rng := rand.New(rand.NewPCG(4, 4))
	byEvent, byPart := engine.New(cfg), engine.New(cfg)
	c := New(cfg)
	type res struct {
		end, last int64
		count     uint64
	}
	collect := func(out map[[2]int64]res, f *engine.Flush) {
		for _, ch := range f.Closed {
			out[[2]int64{ch.Start, ch.Value.End}] = res{ch.Value.End, ch.Value.Last, ch.Value.Agg.Count}
		}
	}
	want, got := map[[2]int64]res{}, map[[2]int64]res{}
	for i := range 3000 {
		ts := base + int64(i)*997/4 + int64(rng.IntN(20000))
		for range 1 + rng.IntN(3) {
			ev := newEvent(rng, ts, "/a")
			ev.Dims[3] = []byte("r")
			if byEvent.Process(ev) != 0 || c.Process(ev) != 0 {
				t.Fatalf("event at %d late", ts)
			}
		}
		if i%50 == 49 {
			c.Flush(func(d *Delta) {
				for _, p := range d.Parts {
					if p.Start != p.Last || p.End != p.Start+1 {
						t.Fatalf("sliding part %+v", p)
					}
					byPart.Merge(0, d.Group, &p)
				}
			})
			byPart.AdvanceTo(c.StreamTime())
			collect(want, byEvent.Flush())
			collect(got, byPart.Flush())
		}
	}
	for _, e := range []*engine.Engine{byEvent, byPart} {
		e.AdvanceTo(math.MaxInt64)
	}
	collect(want, byEvent.Flush())
	collect(got, byPart.Flush())
	if len(want) < 1000 || len(got) != len(want) {
		t.Fatalf("%d windows by part, %d by event", len(got), len(want))
	}
	for k, w := range want {
		if got[k] != w {
			t.Errorf("window %v: by part %+v, by event %+v", k, got[k], w)
		}
	}
}

// TestSessionPartNeverJoinsAClosedSession is the session case of the package
// comment's argument, checked directly: for random stored sessions closed or not at
// stage 2's stream time m, and random parts whose every event passed the rule at
// some stage-1 stream time s >= m, the part is never within the gap of a closed
// session.
func TestSessionPartNeverJoinsAClosedSession(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	for range 200000 {
		gap, grace := 1+rng.Int64N(100), rng.Int64N(100)
		m := rng.Int64N(1000)
		s := m + rng.Int64N(200)
		// A stored session [a, b) closed at m: b-1+gap+grace <= m.
		b := 1 + rng.Int64N(m-gap-grace+200) - 200 + 1
		a := b - 1 - rng.Int64N(100)
		if b-1+gap+grace > m {
			continue
		}
		// A part of events not late at s: each t has t+grace > s.
		first := s - grace + 1 + rng.Int64N(50)
		last := first + rng.Int64N(3*gap)
		if joins := b-1 >= first-gap && a <= last+gap; joins {
			t.Fatalf("part [%d,%d] (s %d) joins session [%d,%d) closed at m %d (gap %d, grace %d)", first, last, s, a, b, m, gap, grace)
		}
	}
}

// TestProcessDoesNotKeepTheEvent: Process copies what it needs; the event's
// dimension values can be reused at once (as the decoder reuses them).
func TestProcessDoesNotKeepTheEvent(t *testing.T) {
	c := New(testConfig(t))
	ev := &event.Event{Time: base, Dims: [][]byte{[]byte("/a"), []byte("GET"), []byte("200"), []byte("r")}}
	c.Process(ev)
	copy(ev.Dims[0], "/b")
	keys := map[string]bool{}
	c.Flush(func(d *Delta) { keys[d.Group] = true })
	for k := range keys {
		if len(k) > 1 && k[1] == 'b' {
			t.Errorf("group %q changed with the event", k)
		}
	}
}

// encodeFlush flushes c and returns its deltas encoded, keys and values one
// after the other.
func encodeFlush(t testing.TB, cfg *config.Config, c *Combiner) string {
	var out []byte
	c.Flush(func(d *Delta) {
		var err error
		if out, err = AppendDeltaValue(AppendDeltaKey(out, cfg.Aggregations[d.Agg].Name, d.Group), -1, d); err != nil {
			t.Fatal(err)
		}
	})
	return string(out)
}

// TestFlushReusesParts: a combiner reuses its flushed keys, parts and sketches
// for later intervals, lanes absorbed into it included. Each interval's deltas
// are byte for byte those of a new combiner fed the same events, and once the
// first interval has grown the sketches, an interval of the same keys allocates
// a small fraction of what the first did (the keys' strings): stage 1 no longer
// allocates a sketch per key and interval.
func TestFlushReusesParts(t *testing.T) {
	cfg := testConfig(t)
	rng := rand.New(rand.NewPCG(3, 3))
	main, lane := New(cfg), New(cfg)
	feed := func(main, lane *Combiner, evs []*event.Event) {
		for i, ev := range evs {
			if i%2 == 0 {
				main.Process(ev)
			} else {
				lane.ProcessAt(ev, main.StreamTime())
			}
		}
		main.Absorb(lane)
	}
	var allocs []uint64
	for interval := range 6 {
		var evs []*event.Event
		for i := range 2000 {
			evs = append(evs, newEvent(rng, base+int64(interval)*100+int64(i%100), fmt.Sprintf("/e%d", rng.IntN(200))))
		}
		freshMain, freshLane := New(cfg), New(cfg)
		freshMain.AdvanceTo(main.StreamTime())
		feed(freshMain, freshLane, evs)
		want := encodeFlush(t, cfg, freshMain)

		// The deltas are encoded into room allocated beforehand: only here may
		// they be read, and the encoding is not what is measured.
		got := make([]byte, 0, 2*len(want))
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		feed(main, lane, evs)
		main.Flush(func(d *Delta) {
			var err error
			if got, err = AppendDeltaValue(AppendDeltaKey(got, cfg.Aggregations[d.Agg].Name, d.Group), -1, d); err != nil {
				t.Fatal(err)
			}
		})
		runtime.ReadMemStats(&after)
		allocs = append(allocs, after.TotalAlloc-before.TotalAlloc)
		if string(got) != want {
			t.Fatalf("interval %d: %d bytes of deltas, not those of new combiners fed the same events (%d)", interval, len(got), len(want))
		}
	}
	t.Logf("bytes allocated per interval: %v", allocs)
	for i, a := range allocs[2:] {
		if a > allocs[0]/4 {
			t.Errorf("interval %d allocated %d bytes, the first %d: parts are not reused", i+2, a, allocs[0])
		}
	}
}
