package engine

import (
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/store"
)

// GroupKey builds the group keys of one aggregation from events: the values of its
// group-by dimensions, encoded by store.AppendGroup. Stage 1 (package combine) and
// the engine build them with it, so both agree byte for byte. It is not safe for
// concurrent use.
type GroupKey struct {
	dims []int
	vals [][]byte
}

// NewGroupKey returns the group key builder of aggregation a of a validated
// configuration c.
func NewGroupKey(c *config.Config, a *config.Aggregation) *GroupKey {
	return &GroupKey{dims: c.DimensionIndexes(a), vals: make([][]byte, len(a.GroupBy))}
}

// Append appends the encoded group key of ev to dst. It allocates only when dst
// must grow.
func (g *GroupKey) Append(dst []byte, ev *event.Event) []byte {
	for i, d := range g.dims {
		g.vals[i] = ev.Dims[d]
	}
	dst = store.AppendGroup(dst, g.vals...)
	clear(g.vals)
	return dst
}
