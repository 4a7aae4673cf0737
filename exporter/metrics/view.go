package metrics

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
)

// View is the committed state /metrics exposes. It implements stream.Sink; its
// methods are safe for concurrent use with Collect.
type View struct {
	cfg  *config.Config
	now  func() time.Time
	mu   sync.Mutex
	aggs []*aggView
	// streamTimes of the partitions this instance runs.
	streamTimes map[int32]int64
}

type aggView struct {
	cfg       *config.Aggregation
	spec      windowSpec
	keys      map[string]*keyView
	newest    int64 // latest window start seen, for idleness
	newestEnd int64
	lastClose time.Time // wall time a window last closed here
	measures  []measure
}

type windowSpec struct{ size, grace int64 }

type measure struct {
	name string
	q    float64 // for quantile measures
	kind int     // 0 count, 1 error ratio, 2 quantile
}

type keyView struct {
	vals   []string
	totals map[int32]*aggregate.Aggregate // running totals by partition
	// The newest window: partial results of the local partitions merged.
	start, end int64
	win        *aggregate.Aggregate
	scored     bool // the newest window has gone into the anomaly history
	lastActive int64
	anomaly    []ewma // by aggregation measure
}

// NewView returns an empty view for cfg.
func NewView(cfg *config.Config) *View {
	v := &View{cfg: cfg, now: time.Now, streamTimes: map[int32]int64{}}
	started := v.now()
	for i := range cfg.Aggregations {
		a := &cfg.Aggregations[i]
		s := a.WindowSpec()
		size := s.Size
		if size == 0 {
			size = s.Gap
		}
		// lastClose starts at the start, so "nothing closed for a while" also covers
		// "nothing closed since the start".
		av := &aggView{cfg: a, spec: windowSpec{size: size, grace: s.Grace}, keys: map[string]*keyView{}, newest: math.MinInt64, lastClose: started}
		if a.Anomaly != nil {
			for _, m := range a.Anomaly.Measures {
				switch m {
				case config.Count:
					av.measures = append(av.measures, measure{name: m, kind: 0})
				case config.ErrorRatio:
					av.measures = append(av.measures, measure{name: m, kind: 1})
				default:
					q, _ := config.QuantileOf(m)
					av.measures = append(av.measures, measure{name: m, q: q, kind: 2})
				}
			}
		}
		v.aggs = append(v.aggs, av)
	}
	return v
}

var _ stream.Sink = (*View)(nil)

func (av *aggView) key(group string) *keyView {
	k := av.keys[group]
	if k == nil {
		vals, _ := store.SplitGroup([]byte(group))
		k = &keyView{totals: map[int32]*aggregate.Aggregate{}, start: math.MinInt64, lastActive: math.MinInt64,
			anomaly: make([]ewma, len(av.measures))}
		for _, b := range vals {
			k.vals = append(k.vals, string(b))
		}
		k.vals = slices.Clip(k.vals) // Collect appends labels to it
		av.keys[group] = k
	}
	return k
}

// Active implements stream.Sink.
func (v *View) Active(partition int32, streamTime int64, totals []engine.Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.streamTimes[partition] = streamTime
	for _, c := range totals {
		av := v.aggs[c.Agg]
		k := av.key(c.Group)
		k.totals[partition] = c.Value.Agg.Clone()
		// A key restored with no window yet is active as of its last event.
		k.lastActive = max(k.lastActive, c.Value.Last)
	}
}

// Inactive implements stream.Sink.
func (v *View) Inactive(partition int32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.streamTimes, partition)
	for _, av := range v.aggs {
		for _, k := range av.keys {
			delete(k.totals, partition)
		}
	}
}

// Committed implements stream.Sink.
func (v *View) Committed(commits []stream.Commit) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	for _, c := range commits {
		v.streamTimes[c.Partition] = c.StreamTime
		for _, t := range c.Totals {
			av := v.aggs[t.Agg]
			k := av.key(t.Group)
			if cur := k.totals[c.Partition]; cur != nil {
				*cur = *t.Value.Agg
				if t.Value.Agg.Sketch != nil {
					cur.Sketch = t.Value.Agg.Sketch.Clone()
				}
			} else {
				k.totals[c.Partition] = t.Value.Agg.Clone()
			}
			k.lastActive = max(k.lastActive, c.StreamTime)
		}
		for _, r := range c.Closed {
			av := v.aggs[r.Agg]
			av.lastClose = now
			k := av.key(r.Group)
			switch {
			case r.Start > k.start:
				v.score(av, k) // the previous window is complete: no partition can add to it
				k.start, k.end, k.win, k.scored = r.Start, r.Value.End, r.Value.Agg.Clone(), false
			case r.Start == k.start:
				k.win.Merge(r.Value.Agg) // another partition's part of the same window
			default:
				continue // an older window closing late on another partition
			}
			if r.Start > av.newest {
				av.newest, av.newestEnd = r.Start, r.Value.End
			}
		}
	}
	// A window is complete here once every local partition's stream time has passed
	// its close: score it then rather than wait for the next one.
	low := v.lowStreamTime()
	for _, av := range v.aggs {
		for _, k := range av.keys {
			if k.win != nil && !k.scored && low >= k.end+av.spec.grace {
				v.score(av, k)
			}
		}
	}
}

// lowStreamTime is the smallest stream time of the local partitions.
func (v *View) lowStreamTime() int64 {
	low := int64(math.MaxInt64)
	for _, st := range v.streamTimes {
		low = min(low, st)
	}
	return low
}

// missing reports whether k had no event in the aggregation's newest window,
// once that window is complete on every local partition: its count is then 0.
func (av *aggView) missing(k *keyView, low int64) bool {
	return k.start < av.newest && low >= av.newestEnd+av.spec.grace
}

// score adds k's newest window to its anomaly history, once.
func (v *View) score(av *aggView, k *keyView) {
	if k.win == nil || k.scored || av.cfg.Anomaly == nil {
		return
	}
	k.scored = true
	for i, m := range av.measures {
		var x float64
		switch m.kind {
		case 0:
			x = float64(k.win.Count)
		case 1:
			x = k.win.ErrorRatio()
		default:
			x = k.win.Quantile(m.q)
		}
		k.anomaly[i].observe(x, av.cfg.Anomaly.Alpha, av.cfg.Anomaly.Warmup)
	}
}

// idle reports whether k has had no window for IdleWindows windows of its
// aggregation: its series are no longer exported.
func (v *View) idle(av *aggView, k *keyView) bool {
	if av.newest == math.MinInt64 {
		return false
	}
	last := max(k.start, k.lastActive-av.spec.size)
	return last < av.newest-int64(v.cfg.Metrics.IdleWindows)*av.spec.size
}

// LastClose is the wall time a window of aggregation i last closed here.
func (v *View) LastClose(i int) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.aggs[i].lastClose
}
