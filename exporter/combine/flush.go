package combine

import (
	"encoding/binary"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/engine"
)

// Delta is the parts of one group key of one aggregation from one commit interval.
type Delta struct {
	Agg   int
	Group string // encoded group key
	Parts []engine.Part
}

// valueHeader bounds a delta value's bytes before its parts: the version, the
// source and the part count.
const valueHeader = 1 + 2*binary.MaxVarintLen64

// noValues clears a's value statistics (Values, Sum, Min, Max) for an aggregation
// that does not need them: see the package comment.
func noValues(a *aggregate.Aggregate) {
	a.Values, a.Sum, a.Min, a.Max = 0, 0, math.Inf(1), math.Inf(-1)
}

// Flush hands out the deltas of every key changed since the last Flush or Reset,
// then forgets them. The Delta, its parts and their aggregates are valid only
// until fn returns: the combiner reuses them for later intervals. Keys
// come per aggregation in the order they first had an event, a key's late part
// (if any) last. A key with many parts (sliding, sessions) may come as several
// Deltas so that every encoded record (AppendDeltaKey, AppendDeltaValue) stays
// under MaxRecordBytes. An aggregation that needs no value statistics gets parts
// without them (Values 0).
func (c *Combiner) Flush(fn func(*Delta)) {
	var scratch []byte
	d := &c.delta
	for _, a := range c.aggs {
		for _, k := range a.order {
			parts := k.parts
			if k.late != nil {
				// Not into k.parts' spare room, which holds aggregates to reuse.
				parts = append(slices.Clip(parts), *k.late)
			}
			if !a.values {
				for i := range parts {
					noValues(parts[i].Agg)
				}
			}
			budget := MaxRecordBytes - len(AppendDeltaKey(scratch[:0], a.name, k.group)) - valueHeader
			from, size := 0, 0
			for i := range parts {
				if len(parts) == 1 {
					break
				}
				scratch, _ = appendPart(scratch[:0], &parts[i])
				if size+len(scratch) > budget && i > from {
					*d = Delta{Agg: a.index, Group: k.group, Parts: parts[from:i:i]}
					fn(d)
					from, size = i, 0
				}
				size += len(scratch)
			}
			*d = Delta{Agg: a.index, Group: k.group, Parts: parts[from:len(parts):len(parts)]}
			fn(d)
		}
		*d = Delta{}
		a.recycle()
		a.flushed = a.stats.Late
	}
}
