package query

import (
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// Source is one stage-2 task's store, as a query reads it.
type Source struct {
	Partition int32 // the repartition partition the task owns
	Store     store.Store
	// StreamTime is the task's stream time as of the store's last committed
	// write (engine.NoTime before any event): the windows it has closed are
	// final. A caller that reads it after the store may only understate it.
	StreamTime int64
}

// Limits bound an answer. Zero fields take the defaults.
type Limits struct {
	// MaxPoints bounds the points of a range answer, over all its series.
	MaxPoints int
	// MaxKeys bounds the series of a range answer, the keys of a latest or
	// top-k answer (before top-k cuts them), and the values of a dimension
	// values answer.
	MaxKeys int
}

// Default limits: a 1-minute step over 1 day for 170 keys, or 1,000 keys over
// 4 hours.
const (
	DefaultMaxPoints = 250_000
	DefaultMaxKeys   = 10_000
)

// Local answers queries over the stores of the stage-2 tasks of one instance.
// It is safe for concurrent use: it keeps no state but the configuration.
type Local struct {
	aggs   map[string]*aggInfo
	limits Limits
}

// aggInfo is what a query needs to know of one aggregation.
type aggInfo struct {
	name    string
	groupBy []string
	spec    window.Spec
	cfg     *config.Aggregation
	errors  bool // the events carry a status: error counts are kept
	values  bool // value statistics (sum, min, max) are kept
	sketch  bool // a sketch is kept: quantiles can be asked for
	// levels are the resolutions the aggregation is stored at, finest first:
	// its own windows, then its rollups (tumbling windows only).
	levels []level
}

// New returns a Local for a validated configuration. A negative limit is an
// error; zero takes the default.
func New(c *config.Config, lim Limits) (*Local, error) {
	if lim.MaxPoints < 0 || lim.MaxKeys < 0 {
		return nil, fmt.Errorf("query: limits must be >= 0, got max_points %d, max_keys %d", lim.MaxPoints, lim.MaxKeys)
	}
	if lim.MaxPoints == 0 {
		lim.MaxPoints = DefaultMaxPoints
	}
	if lim.MaxKeys == 0 {
		lim.MaxKeys = DefaultMaxKeys
	}
	l := &Local{aggs: map[string]*aggInfo{}, limits: lim}
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		l.aggs[a.Name] = &aggInfo{
			name:    a.Name,
			groupBy: slices.Clone(a.GroupBy),
			spec:    a.WindowSpec(),
			cfg:     a,
			errors:  c.Events != nil && c.Events.Status != nil,
			values:  a.NeedsValue(),
			sketch:  len(a.Quantiles) > 0,
		}
		info := l.aggs[a.Name]
		info.levels = []level{{res: info.spec.Size, name: a.Name}}
		for _, r := range a.Rollups {
			info.levels = append(info.levels, level{res: r.Resolution.Millis(), name: store.RollupAgg(a.Name, r.Resolution.Millis())})
		}
	}
	return l, nil
}

// Limits returns the limits in force, defaults filled in.
func (l *Local) Limits() Limits { return l.limits }

func (l *Local) aggregation(name string) (*aggInfo, error) {
	a, ok := l.aggs[name]
	if !ok {
		names := make([]string, 0, len(l.aggs))
		for n := range l.aggs {
			names = append(names, n)
		}
		slices.Sort(names)
		return nil, badQuery("aggregation", "unknown aggregation %q (have %v)", name, names)
	}
	return a, nil
}

// dim returns the index of dimension d in the aggregation's group_by.
func (a *aggInfo) dim(param, d string) (int, error) {
	i := slices.Index(a.groupBy, d)
	if i < 0 {
		return 0, badQuery(param, "%q is not a dimension of aggregation %s (group_by %v)", d, a.name, a.groupBy)
	}
	return i, nil
}

// minStreamTime is the least stream time of the sources; math.MaxInt64 for none.
func minStreamTime(srcs []Source) int64 {
	st := int64(math.MaxInt64)
	for _, s := range srcs {
		st = min(st, s.StreamTime)
	}
	return st
}

func partitions(srcs []Source) []int32 {
	p := make([]int32, 0, len(srcs))
	for _, s := range srcs {
		p = append(p, s.Partition)
	}
	slices.Sort(p)
	return slices.Compact(p)
}

// mergePartitions returns the sorted union of a and b.
func mergePartitions(a, b []int32) []int32 {
	p := append(slices.Clone(a), b...)
	slices.Sort(p)
	return slices.Compact(p)
}

// canceled checks ctx every 256 calls: cheap enough for a scan callback.
type canceled struct {
	ctx context.Context
	n   int
	err error
}

func (c *canceled) check() bool {
	if c.n++; c.n&255 == 0 && c.err == nil {
		c.err = c.ctx.Err()
	}
	return c.err != nil
}

// maxStart is the bound above every window start: running totals are stored at
// engine.TotalStart and must never be read as windows.
const maxStart = engine.TotalStart
