package metrics

import (
	"cmp"
	"math"
	"slices"
	"strconv"
	"sync"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/stream"
	win "github.com/kwindow/kwindow/exporter/window"
)

// View is the committed state /metrics exposes. It implements stream.Sink; its
// methods are safe for concurrent use with Collect.
//
// The Sink methods run on the stream runtime's processing goroutine. They keep
// what they build under mu and publish, per key, a keySnap of pointers to
// immutable values, replaced (never modified) when the key changes. Collect holds
// mu only to copy those snapshots and builds the metrics outside it, so a
// scrape, however long, never holds back processing.
type View struct {
	cfg    *config.Config
	now    func() time.Time
	schema int32 // of the exported native histograms
	// classic are the upper bounds of the classic buckets of the value
	// histograms (metrics.classic_buckets); scrapes point into it.
	classic []float64

	mu   sync.Mutex
	aggs []*aggView
	// streamTimes of the stage-2 partitions this instance runs.
	streamTimes map[int32]int64
	hists       histBuilder // scratch
}

type aggView struct {
	cfg         *config.Aggregation
	spec        win.Spec
	span        int64 // window size (gap for sessions): the unit of idle_windows
	idleWindows int
	aligned     bool // tumbling or hopping: every key has the same windows
	layout      dimLayout
	measures    []measure
	mpairs      []*dto.LabelPair // the measure label of each measure
	latency     bool             // the aggregation exports a value histogram
	errors      bool             // and error counters
	// The window quantiles and their label pairs, in the order the registry
	// sorts the gauges: by the label value, as a string.
	quantiles []float64
	qpairs    []*dto.LabelPair
	at        extraAt // where the keys' pairs with a quantile or a measure start

	keys  map[string]*keyView
	list  []*keyView // the keys, in no order; keyView.pos indexes it
	snaps []keySnap  // what Collect reads: snaps[i] is list[i]'s
	dirty []*keyView // keys whose snapshot is out of date

	// newest is the newest window complete on every local partition (for any
	// key): keys with no event in it export a count of 0, and keys whose last
	// event is idle_windows windows before it are dropped.
	newest      win.Window
	hasNewest   bool
	newestMoved bool
	waiting     map[*keyView]struct{} // keys with pending windows
	due         int64                 // no pending window completes before this stream time
	overfull    []*keyView            // keys with more than maxPending pending windows

	lastClose time.Time // wall time a window last closed here, zero until one has
	forced    uint64    // windows exported before every local partition had closed them
	late      uint64    // window results that arrived after their window was exported
	split     int       // keys reported by more than one partition (should stay 0)
}

type measure struct {
	name string
	q    float64 // for quantile measures
	kind int     // 0 count, 1 error ratio, 2 quantile
}

// keyView is a group key as the processing side keeps it (under View.mu).
type keyView struct {
	pos    int // index in aggView.list, -1 once dropped
	group  string
	labels *keyLabels
	// owners are the partitions that reported the key, sorted: one, since a key
	// belongs to one stage-2 partition. Should a key ever be reported by two,
	// the view sums them (aggView.split counts such keys).
	owners []int32
	totals []*partTotal // running totals by partition, sorted by partition
	total  *partTotal   // their sum, what is exported; nil without totals
	// pending are the closed windows not yet complete here (a local partition,
	// maybe not the key's, has not closed them yet), by close time.
	pending   []pendingWindow
	doneClose int64    // close time of the newest complete window, MinInt64 if none
	latest    *winSnap // the newest complete window, nil if none
	last      int64    // the key's latest event time, from its totals and windows
	anomaly   []ewma   // by aggregation measure
	dirty     bool
}

// keySnap is what Collect reads of a key, copied under the lock: the pointers
// it holds are immutable.
type keySnap struct {
	labels *keyLabels
	total  *partTotal
	latest *winSnap
}

// partTotal is a key's running total as a partition reported it, or the sum of
// several (keyView.total): immutable.
type partTotal struct {
	partition             int32
	count, client, server float64
	// hist is nil unless the aggregation has quantiles and the total a sketch:
	// a count-only key's total is 40 bytes, not 200.
	hist *hist
}

// histTotal is a partTotal with its hist, in one allocation.
type histTotal struct {
	partTotal
	h hist
}

// NewView returns an empty view for cfg.
func NewView(cfg *config.Config) *View {
	v := &View{cfg: cfg, now: time.Now, schema: sketchSchema(cfg), classic: slices.Clone(cfg.Metrics.ClassicBuckets),
		streamTimes: map[int32]int64{}}
	for i := range cfg.Aggregations {
		a := &cfg.Aggregations[i]
		s := a.WindowSpec()
		span := s.Size
		if s.Kind == win.Session {
			span = s.Gap
		}
		av := &aggView{cfg: a, spec: s, span: span, idleWindows: cfg.Metrics.IdleWindows, aligned: s.Kind == win.Tumbling || s.Kind == win.Hopping,
			layout: newDimLayout(a.GroupBy), latency: len(a.Quantiles) > 0, errors: a.Has(config.Errors),
			keys: map[string]*keyView{}, waiting: map[*keyView]struct{}{}, due: math.MaxInt64}
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
			for i := range av.measures {
				av.mpairs = append(av.mpairs, &dto.LabelPair{Name: &measureName, Value: &av.measures[i].name})
			}
		}
		names := make([]string, len(a.Quantiles))
		for i, q := range a.Quantiles {
			names[i] = strconv.FormatFloat(q, 'g', -1, 64)
		}
		order := make([]int, len(a.Quantiles))
		for i := range order {
			order[i] = i
		}
		slices.SortFunc(order, func(x, y int) int { return cmp.Compare(names[x], names[y]) })
		for _, i := range order {
			av.quantiles = append(av.quantiles, a.Quantiles[i])
			av.qpairs = append(av.qpairs, &dto.LabelPair{Name: &quantileName, Value: &names[i]})
		}
		av.at = newExtraAt(av.errors, len(av.quantiles))
		v.aggs = append(v.aggs, av)
	}
	return v
}

func sketchSchema(cfg *config.Config) int32 {
	if s := cfg.Metrics.HistogramSchema; s != nil {
		return *s
	}
	return 3
}

var _ stream.Sink = (*View)(nil)

// key returns the key of group, creating it.
func (av *aggView) key(group string) *keyView {
	if k := av.keys[group]; k != nil {
		return k
	}
	k := &keyView{pos: len(av.list), group: group, labels: av.layout.newKeyLabels(group, av.mpairs, av.qpairs, av.errors),
		doneClose: math.MinInt64, last: math.MinInt64, anomaly: make([]ewma, len(av.measures))}
	av.keys[group] = k
	av.list = append(av.list, k)
	av.snaps = append(av.snaps, keySnap{})
	av.markDirty(k)
	return k
}

func (av *aggView) markDirty(k *keyView) {
	if !k.dirty {
		k.dirty = true
		av.dirty = append(av.dirty, k)
	}
}

// drop removes k from the view.
func (av *aggView) drop(k *keyView) {
	last := len(av.list) - 1
	moved := av.list[last]
	av.list[k.pos], av.snaps[k.pos] = moved, av.snaps[last]
	moved.pos = k.pos
	av.list[last], av.snaps[last] = nil, keySnap{}
	av.list, av.snaps = av.list[:last], av.snaps[:last]
	k.pos = -1
	if len(k.owners) > 1 {
		av.split--
	}
	delete(av.keys, k.group)
	delete(av.waiting, k)
}

// Active implements stream.Sink.
func (v *View) Active(partition int32, streamTime int64, totals []engine.Change) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.streamTimes[partition] = streamTime
	for i := range totals {
		v.setTotal(partition, &totals[i])
	}
	v.settle()
}

// own records that partition reported k.
func (av *aggView) own(k *keyView, partition int32) {
	i, found := slices.BinarySearch(k.owners, partition)
	if found {
		return
	}
	k.owners = slices.Insert(k.owners, i, partition)
	if len(k.owners) == 2 {
		av.split++
	}
}

// Inactive implements stream.Sink. The keys of the partition leave with it, their
// window gauges and anomaly history too: the partition's new owner exports them,
// and no key is exported by two instances.
func (v *View) Inactive(partition int32) {
	v.mu.Lock()
	defer v.mu.Unlock()
	delete(v.streamTimes, partition)
	for _, av := range v.aggs {
		for i := len(av.list) - 1; i >= 0; i-- {
			k := av.list[i]
			j, found := slices.BinarySearch(k.owners, partition)
			if !found {
				continue
			}
			if len(k.owners) == 1 {
				av.drop(k)
				continue
			}
			// A key reported by several partitions keeps the others' part.
			k.owners = slices.Delete(k.owners, j, j+1)
			if len(k.owners) == 1 {
				av.split--
			}
			if j := slices.IndexFunc(k.totals, func(t *partTotal) bool { return t.partition == partition }); j >= 0 {
				k.totals = slices.Delete(k.totals, j, j+1)
				k.total = sumTotals(k.totals)
			}
			av.markDirty(k)
		}
	}
	// Windows the partition could still have closed are complete without it.
	v.settle()
}

// Committed implements stream.Sink.
func (v *View) Committed(commits []stream.Commit) {
	v.mu.Lock()
	defer v.mu.Unlock()
	now := v.now()
	// Stream times first: the results of one call are all committed, so a window
	// may complete with results from later commits of the same call.
	for _, c := range commits {
		v.streamTimes[c.Partition] = c.StreamTime
	}
	for _, c := range commits {
		for i := range c.Totals {
			v.setTotal(c.Partition, &c.Totals[i])
		}
		for i := range c.Closed {
			v.addWindow(c.Partition, &c.Closed[i], now)
		}
	}
	v.settle()
}

// settle completes the windows every local partition has closed, bounds the
// pending ones, drops idle keys and publishes what changed.
func (v *View) settle() {
	low := v.lowStreamTime()
	for _, av := range v.aggs {
		v.complete(av, low)
		for _, k := range av.overfull {
			for len(k.pending) > maxPending {
				v.finish(av, k, true)
			}
			if len(k.pending) == 0 {
				delete(av.waiting, k)
			}
		}
		clear(av.overfull)
		av.overfull = av.overfull[:0]
		if av.newestMoved {
			av.newestMoved = false
			v.dropIdle(av)
		}
		for _, k := range av.dirty {
			k.dirty = false
			if k.pos >= 0 {
				av.snaps[k.pos] = keySnap{labels: k.labels, total: k.total, latest: k.latest}
			}
		}
		clear(av.dirty)
		av.dirty = av.dirty[:0]
	}
}

// lowStreamTime is the smallest stream time of the local partitions, not counting
// partitions that never had an event (engine.NoTime): they have published nothing
// and a window would otherwise wait for them forever.
func (v *View) lowStreamTime() int64 {
	low := int64(math.MaxInt64)
	for _, st := range v.streamTimes {
		if st != engine.NoTime {
			low = min(low, st)
		}
	}
	return low
}

// setTotal records a key's running total on a partition, replacing the previous
// one (which a scrape may still be reading).
func (v *View) setTotal(partition int32, c *engine.Change) {
	if c.Agg < 0 || c.Agg >= len(v.aggs) || c.Value.Agg == nil {
		return
	}
	av := v.aggs[c.Agg]
	k := av.keys[c.Group]
	if k == nil {
		if av.idle(c.Value.Last) {
			return // e.g. late events of a key dropped as idle: it stays dropped
		}
		k = av.key(c.Group)
	}
	av.own(k, partition)
	k.last = max(k.last, c.Value.Last)
	a := c.Value.Agg
	var t *partTotal
	if av.latency && a.Sketch != nil {
		ht := &histTotal{}
		ht.hist = &ht.h
		t = &ht.partTotal
		v.hists.build(t.hist, a.Sketch, v.schema)
		if len(v.classic) > 0 {
			// From the sketch at its own schema, not the exported one: the finer
			// its buckets, the smaller the error at a classic bound.
			t.hist.classic = make([]uint64, len(v.classic))
			a.Sketch.ClassicCounts(v.classic, t.hist.classic)
		}
	} else {
		t = &partTotal{}
	}
	t.partition, t.count, t.client, t.server = partition, float64(a.Count), float64(a.ClientErrors), float64(a.ServerErrors)
	i, found := slices.BinarySearchFunc(k.totals, partition, func(x *partTotal, p int32) int { return cmp.Compare(x.partition, p) })
	if found {
		k.totals[i] = t
	} else {
		k.totals = slices.Insert(k.totals, i, t)
	}
	k.total = sumTotals(k.totals)
	av.markDirty(k)
}

// sumTotals is the total a key exports: its one partition's, or, should it have
// several, their sum.
func sumTotals(ts []*partTotal) *partTotal {
	switch len(ts) {
	case 0:
		return nil
	case 1:
		return ts[0]
	}
	sum := &partTotal{partition: -1}
	var hists []*hist
	for _, t := range ts {
		sum.count += t.count
		sum.client += t.client
		sum.server += t.server
		if t.hist != nil {
			hists = append(hists, t.hist)
		}
	}
	if len(hists) > 0 {
		h := sumHists(hists)
		sum.hist = &h
	}
	return sum
}

// LastClose is the wall time a window of aggregation i last closed here, the
// zero time until one has.
func (v *View) LastClose(i int) time.Time {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.aggs[i].lastClose
}

// aggSnapshot is what Collect reads of an aggregation.
type aggSnapshot struct {
	keys         []keySnap
	newestStart  int64
	missingCheck bool // keys whose window is older than newestStart had no event in it
	lastClose    time.Time
	forced, late uint64
	split        int
}

// snapshot copies, under the lock, the pointers Collect needs.
func (v *View) snapshot() []aggSnapshot {
	v.mu.Lock()
	defer v.mu.Unlock()
	out := make([]aggSnapshot, len(v.aggs))
	for i, av := range v.aggs {
		out[i] = aggSnapshot{keys: slices.Clone(av.snaps), newestStart: av.newest.Start, missingCheck: av.aligned && av.hasNewest,
			lastClose: av.lastClose, forced: av.forced, late: av.late, split: av.split}
	}
	return out
}
