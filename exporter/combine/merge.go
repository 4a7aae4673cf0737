package combine

import (
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/internal/satint"
	"github.com/kwindow/kwindow/exporter/window"
)

// Absorb moves every key o holds into c, merging the parts of keys both hold, and
// leaves o empty, as a Flush of o would. The stage-1 tasks of an instance process
// their partitions on several goroutines, each into its own combiner; the runtime
// absorbs them into one before Flush, so a key changed on every local partition
// still costs one delta per interval. The result is what one combiner fed every
// event would hold: parts merge by window (tumbling, hopping: pane; sliding: event
// time), local sessions merge within the gap, late parts into the late part. c
// and o must come from the same configuration.
//
// Stats stay with each combiner: c's Late does not grow by o's, and o's counts as
// flushed.
func (c *Combiner) Absorb(o *Combiner) {
	for i, oa := range o.aggs {
		a := c.aggs[i]
		for _, ok := range oa.order {
			k, had := a.keys[ok.group]
			if !had {
				// The key moves whole: o forgets it below.
				a.keys[ok.group] = ok
				a.order = append(a.order, ok)
				continue
			}
			for j := range ok.parts {
				a.absorbPart(k, ok.parts[j])
			}
			if ok.late != nil {
				l := a.latePart(k)
				l.Agg.Merge(ok.late.Agg)
				l.Last = max(l.Last, ok.late.Last)
			}
		}
		oa.forget()
		oa.flushed = oa.stats.Late
	}
}

// absorbPart merges p, a part of another combiner's key, into k.
func (a *agg) absorbPart(k *key, p engine.Part) {
	if a.spec.Kind == window.Session {
		a.absorbSession(k, p)
		return
	}
	for i := len(k.parts) - 1; i >= 0; i-- {
		if q := &k.parts[i]; q.Start == p.Start && q.From == p.From {
			q.Agg.Merge(p.Agg)
			q.Last = max(q.Last, p.Last)
			return
		}
	}
	k.parts = append(k.parts, p)
}

// absorbSession merges the local session p with every session of k within the
// gap of it, as session does for one event. k's sessions are more than the gap
// apart, so none the merged one reaches was out of p's reach.
func (a *agg) absorbSession(k *key, p engine.Part) {
	lo, hi := satint.Sub(p.Start, a.spec.Gap), satint.Add(p.End-1, a.spec.Gap)
	out := k.parts[:0]
	for _, q := range k.parts {
		if q.End-1 < lo || q.Start > hi {
			out = append(out, q)
			continue
		}
		p.Start, p.End, p.Last = min(p.Start, q.Start), max(p.End, q.End), max(p.Last, q.Last)
		p.Agg.Merge(q.Agg)
	}
	clear(k.parts[len(out):])
	k.parts = append(out, p)
}
