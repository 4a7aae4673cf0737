package combine

import (
	"github.com/kwindow/kwindow/exporter/aggregate"
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
		// o needs about as many keys next interval: hand it c's spare ones, which
		// c's Flush would otherwise keep while o allocates new ones.
		if n := min(len(oa.order), len(a.free)); n > 0 {
			oa.free = append(oa.free, a.free[len(a.free)-n:]...)
			clear(a.free[len(a.free)-n:])
			a.free = a.free[:len(a.free)-n]
		}
		for _, ok := range oa.order {
			k, had := a.keys[ok.group]
			if !had {
				// The key moves whole: o forgets it below.
				a.keys[ok.group] = ok
				a.order = append(a.order, ok)
				continue
			}
			for j := range ok.parts {
				ok.parts[j].Agg = a.absorbPart(k, ok.parts[j])
			}
			if ok.late != nil {
				l := a.latePart(k)
				l.Agg.Merge(ok.late.Agg)
				l.Last = max(l.Last, ok.late.Last)
			}
			oa.release(ok)
		}
		oa.forget()
		oa.flushed = oa.stats.Late
	}
}

// absorbPart merges p, a part of another combiner's key, into k. It returns the
// aggregate the other key may reuse in p's place: p's own if it was merged into
// one of k's parts, else (k keeps p.Agg) the spare one p displaced from k, or nil.
func (a *agg) absorbPart(k *key, p engine.Part) (left *aggregate.Aggregate) {
	if a.spec.Kind == window.Session {
		return a.absorbSession(k, p)
	}
	for i := len(k.parts) - 1; i >= 0; i-- {
		if q := &k.parts[i]; q.Start == p.Start && q.From == p.From {
			q.Agg.Merge(p.Agg)
			q.Last = max(q.Last, p.Last)
			return p.Agg
		}
	}
	if n := len(k.parts); n < cap(k.parts) {
		left = k.parts[:n+1][n].Agg
	}
	k.parts = append(k.parts, p)
	return left
}

// absorbSession merges the local session p with every session of k within the
// gap of it, as session does for one event, and returns the aggregate the other
// key may reuse in p's place (as absorbPart). k's sessions are more than the gap
// apart, so none the merged one reaches was out of p's reach.
func (a *agg) absorbSession(k *key, p engine.Part) (left *aggregate.Aggregate) {
	lo, hi := satint.Sub(p.Start, a.spec.Gap), satint.Add(p.End-1, a.spec.Gap)
	out := k.parts[:0]
	var into *aggregate.Aggregate // the first of k's sessions p reaches: the merge's
	for _, q := range k.parts {
		if q.End-1 < lo || q.Start > hi {
			out = append(out, q)
			continue
		}
		p.Start, p.End, p.Last = min(p.Start, q.Start), max(p.End, q.End), max(p.Last, q.Last)
		if into == nil {
			into = q.Agg
		} else {
			into.Merge(q.Agg)
		}
	}
	if into != nil {
		into.Merge(p.Agg)
		left, p.Agg = p.Agg, into
	} else if n := len(out); n < cap(k.parts) {
		left = k.parts[:n+1][n].Agg // the spare p displaces
	}
	clear(k.parts[len(out):])
	k.parts = append(out, p)
	return left
}
