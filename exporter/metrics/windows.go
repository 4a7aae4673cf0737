package metrics

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/internal/satint"
	win "github.com/kwindow/kwindow/exporter/window"
)

// Every key belongs to one stage-2 partition, whose closed windows are final
// (global) results. The window gauges and anomaly scores still show only windows
// complete on this instance: closed by every local partition (its committed
// stream time has passed the window's close time, window.Spec.CloseTime), or by
// every partition still local. The local partitions' stream times differ
// slightly, and this keeps the keys of one instance on the same window: a key
// with no event in the newest complete window exports a count of 0, which must
// not happen because another partition got there first. Until then a key's
// closed windows wait in its pending windows; complete windows are exported and
// scored once each, in window order.

// maxPending bounds the closed windows a key keeps waiting for a local partition
// that lags behind (one catching up after a restore, say): when a fifth arrives,
// the oldest is exported and scored before that partition has closed it, and
// counted in kwindow_window_forced_total, so a partition that never catches up
// costs at most maxPending windows per key.
const maxPending = 4

type pendingWindow struct {
	w     win.Window
	close int64
	agg   *aggregate.Aggregate
	owned bool // agg is the view's copy (a key reported by two partitions), not the engine's final result
}

// winSnap is the newest complete window of a key as exported: immutable.
type winSnap struct {
	start int64
	count float64
	ratio float64 // 5xx share, 0 for a window without events
	// extra is nil for an aggregation without quantiles and anomaly scores: a
	// count-only key's window is 32 bytes, not 96.
	extra *winExtra
}

// winExtra is what a window exports beyond its count and error ratio.
type winExtra struct {
	// quantiles of the values, in the order of aggView.quantiles; nil when no
	// event carried a value.
	quantiles []float64
	// Anomaly scores per measure, as of this window.
	scores   []float64
	hasScore []bool
}

// addWindow adds a partition's final result of a closed window to the key's
// pending windows.
func (v *View) addWindow(partition int32, r *engine.Change, now time.Time) {
	if r.Agg < 0 || r.Agg >= len(v.aggs) || r.Value.Agg == nil {
		return
	}
	av := v.aggs[r.Agg]
	av.lastClose = now
	k := av.keys[r.Group]
	if k == nil {
		if av.idle(r.Value.Last) {
			av.late++ // older than anything still exported
			return
		}
		k = av.key(r.Group)
	}
	av.own(k, partition)
	k.last = max(k.last, r.Value.Last)
	w := win.Window{Start: r.Start, End: r.Value.End}
	ct := av.closeTime(w)
	if ct <= k.doneClose {
		// Its window was exported and scored already (forced, or the key's
		// window from a second partition).
		av.late++
		return
	}
	i, found := slices.BinarySearchFunc(k.pending, w, func(p pendingWindow, w win.Window) int {
		if c := cmp.Compare(p.close, ct); c != 0 {
			return c
		}
		if c := cmp.Compare(p.w.Start, w.Start); c != 0 {
			return c
		}
		return cmp.Compare(p.w.End, w.End)
	})
	if found {
		// Only for a key reported by two partitions: sum them.
		p := &k.pending[i]
		if !p.owned {
			p.agg, p.owned = p.agg.Clone(), true // the engine's result is never modified
		}
		p.agg.Merge(r.Value.Agg)
		return
	}
	k.pending = slices.Insert(k.pending, i, pendingWindow{w: w, close: ct, agg: r.Value.Agg})
	av.waiting[k] = struct{}{}
	av.due = min(av.due, ct)
	if len(k.pending) == maxPending+1 {
		av.overfull = append(av.overfull, k)
	}
}

// closeTime is w's close time, MaxInt64 if it overflows.
func (av *aggView) closeTime(w win.Window) int64 {
	ct := av.spec.CloseTime(w)
	if ct < w.Start {
		return math.MaxInt64
	}
	return ct
}

// complete exports and scores, in window order, the pending windows that every
// local partition has closed.
func (v *View) complete(av *aggView, low int64) {
	if low < av.due {
		return
	}
	due := int64(math.MaxInt64)
	for k := range av.waiting {
		for len(k.pending) > 0 && k.pending[0].close <= low {
			v.finish(av, k, false)
		}
		if len(k.pending) == 0 {
			delete(av.waiting, k)
		} else {
			due = min(due, k.pending[0].close)
		}
	}
	av.due = due
}

// finish makes k's oldest pending window its newest complete one: exported in the
// window gauges and added to the anomaly history. forced says it is incomplete.
func (v *View) finish(av *aggView, k *keyView, forced bool) {
	p := k.pending[0]
	k.pending[0] = pendingWindow{}
	k.pending = k.pending[1:]
	if len(k.pending) == 0 {
		k.pending = nil
	}
	k.doneClose = p.close
	k.latest = av.windowSnap(k, p)
	av.markDirty(k)
	if forced {
		av.forced++
		return
	}
	if !av.hasNewest || p.w.Start > av.newest.Start {
		av.newest, av.hasNewest, av.newestMoved = p.w, true, true
	}
}

// windowSnap computes what a complete window exports and scores it.
func (av *aggView) windowSnap(k *keyView, p pendingWindow) *winSnap {
	a := p.agg
	w := &winSnap{start: p.w.Start, count: float64(a.Count), ratio: zeroIfNaN(a.ErrorRatio())}
	if !av.latency && av.cfg.Anomaly == nil {
		return w
	}
	x := &winExtra{}
	w.extra = x
	if av.latency && a.Values > 0 {
		x.quantiles = make([]float64, len(av.quantiles))
		for i, q := range av.quantiles {
			x.quantiles[i] = a.Quantile(q)
		}
	}
	if an := av.cfg.Anomaly; an != nil {
		x.scores, x.hasScore = make([]float64, len(av.measures)), make([]bool, len(av.measures))
		for i, m := range av.measures {
			var obs float64
			switch m.kind {
			case 0:
				obs = float64(a.Count)
			case 1:
				obs = a.ErrorRatio()
			default:
				obs = a.Quantile(m.q)
			}
			e := &k.anomaly[i]
			e.observe(obs, an.Alpha, an.Warmup)
			x.scores[i], x.hasScore[i] = clampScore(e.score), e.hasScore
		}
	}
	return w
}

// dropIdle removes the keys with no event for metrics.idle_windows windows
// before the newest complete one. A key that comes back starts again from its
// next commit, which carries its whole running total.
func (v *View) dropIdle(av *aggView) {
	for i := len(av.list) - 1; i >= 0; i-- {
		if k := av.list[i]; len(k.pending) == 0 && av.idle(k.last) {
			av.drop(k)
		}
	}
}

// idle reports whether a key whose latest event is at last is idle: no event
// for idle_windows windows before the newest complete window.
func (av *aggView) idle(last int64) bool {
	return av.hasNewest && last < satint.Sub(av.newest.Start, mulSat(int64(av.idleWindows), av.span))
}

func zeroIfNaN(x float64) float64 {
	if math.IsNaN(x) {
		return 0
	}
	return x
}

func mulSat(a, b int64) int64 {
	if a > 0 && b > 0 && a > math.MaxInt64/b {
		return math.MaxInt64
	}
	return a * b
}
