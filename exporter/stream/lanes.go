package stream

import (
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/event"
	"github.com/kwindow/kwindow/exporter/rollup"
)

// A lane processes records on a goroutine of its own (stream.threads lanes per
// session), so that the partitions of an instance use every core. Each stage-1
// source and each stage-2 task belongs to one lane (partition % lanes), which
// alone touches it while records are in flight; the loop goroutine polls and
// hands each fetched partition's records to its lane. A lane decodes with its own
// decoder and pre-aggregates into its own combiner; at commit, the session absorbs
// every lane's combiner into the first before shipping the deltas
// (combine.Combiner.Absorb), so a key changed on several local partitions still
// costs one delta per interval.
//
// The loop waits for every lane (sync) before anything else touches a source or
// a task: before the commit, and before it applies group changes or finished
// restorations. Between those points the lanes run behind the loop, each at most
// laneQueue batches behind. With one lane, the loop processes records itself.
type lane struct {
	dec     *event.Decoder
	ev      event.Event
	comb    *combine.Combiner
	rollups *rollup.Merger // nil without rollups
	now     int64          // what dec was last told is the current time (unix ms)

	work chan laneWork // nil with one lane: do runs on the loop goroutine
	err  error         // the first error of a batch since the last sync
}

// laneWork is one fetched partition's records for a source or a task, or, with
// sync set, a request to report and forget the lane's error.
type laneWork struct {
	src  *source
	task *task
	recs []*kgo.Record
	now  time.Time
	sync chan<- error
}

// laneQueue bounds the batches a lane may be behind the loop.
const laneQueue = 16

func newLanes(rt *Runtime, n int) ([]*lane, error) {
	lanes := make([]*lane, n)
	for i := range lanes {
		dec, err := event.NewDecoder(rt.cfg.EventSchema())
		if err != nil {
			return nil, fmt.Errorf("events: %w", err)
		}
		lanes[i] = &lane{dec: dec, comb: combine.New(rt.cfg)}
		if rt.hasRollups {
			lanes[i].rollups = rollup.NewMerger(rt.cfg)
		}
		if n > 1 {
			lanes[i].work = make(chan laneWork, laneQueue)
		}
	}
	return lanes, nil
}

// start runs the lanes' goroutines (none with one lane) until stop.
func (s *session) startLanes() {
	for _, l := range s.lanes {
		if l.work != nil {
			s.wg.Go(l.run)
		}
	}
}

func (s *session) stopLanes() {
	for _, l := range s.lanes {
		if l.work != nil {
			close(l.work)
		}
	}
}

func (l *lane) run() {
	for w := range l.work {
		if w.sync != nil {
			w.sync <- l.err
			l.err = nil
			continue
		}
		l.do(w)
	}
}

// do processes one batch. After a stage-2 record that cannot be read, the lane
// processes nothing more until the loop has seen the error (sync).
func (l *lane) do(w laneWork) {
	if l.err != nil {
		return
	}
	if w.task != nil {
		for _, r := range w.recs {
			if err := w.task.process(r); err != nil {
				l.err = err
				return
			}
		}
		return
	}
	if now := w.now.UnixMilli(); now != l.now {
		l.dec.SetNow(now)
		l.now = now
	}
	for _, r := range w.recs {
		w.src.process(l, r, w.now)
	}
}

// dispatch hands w to its lane: the source's or the task's.
func (s *session) dispatch(w laneWork) {
	var l *lane
	if w.src != nil {
		l = w.src.lane
	} else {
		l = s.laneOf(w.task.partition)
	}
	if l.work == nil {
		l.do(w)
		return
	}
	l.work <- w
}

func (s *session) laneOf(partition int32) *lane { return s.lanes[int(partition)%len(s.lanes)] }

// sync waits until every lane has processed what it was handed, and returns the
// first error one of them met.
func (s *session) sync() error {
	var first error
	if len(s.lanes) == 1 {
		l := s.lanes[0]
		first, l.err = l.err, nil
		return first
	}
	done := make(chan error, len(s.lanes))
	for _, l := range s.lanes {
		l.work <- laneWork{sync: done}
	}
	for range s.lanes {
		if err := <-done; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// shipDeltas produces the deltas of the keys the session's sources changed this
// interval, every lane's combiner absorbed into the first: before any source's
// watermark (see source.prepare). The lanes must be synced.
func (s *session) shipDeltas() {
	rt := s.rt
	comb := s.lanes[0].comb
	for _, l := range s.lanes[1:] {
		comb.Absorb(l.comb)
	}
	comb.Flush(func(d *combine.Delta) {
		name := rt.cfg.Aggregations[d.Agg].Name
		s.key = combine.AppendDeltaKey(s.key[:0], name, d.Group)
		var err error
		if s.val, err = combine.AppendDeltaValue(s.val[:0], -1, d); err != nil {
			s.failProduce(fmt.Errorf("encoding a %s delta: %w", name, err))
			return
		}
		// The records own their bytes: the producer holds them until acknowledged.
		s.produce(&kgo.Record{Topic: rt.repartition, Partition: combine.Partition(s.key, rt.repParts),
			Key: append([]byte(nil), s.key...), Value: append([]byte(nil), s.val...)}, nil)
		s.deltas++
		s.deltaBytes += len(s.key) + len(s.val)
	})
}

// prepareTasks runs every task's prepare, each on its lane's goroutine (the lanes
// are synced, so each is idle): encoding the changed windows is the bulk of a
// commit's work when many keys change. It returns the first error.
func (s *session) prepareTasks() error {
	byLane := make([][]*task, len(s.lanes))
	for p, t := range s.tasks {
		i := int(p) % len(s.lanes)
		byLane[i] = append(byLane[i], t)
	}
	errs := make([]error, len(s.lanes))
	prepare := func(i int) {
		for _, t := range byLane[i] {
			if errs[i] = t.prepare(s.lanes[i].rollups); errs[i] != nil {
				return
			}
		}
	}
	var wg sync.WaitGroup
	for i := 1; i < len(s.lanes); i++ {
		if len(byLane[i]) > 0 {
			wg.Go(func() { prepare(i) })
		}
	}
	prepare(0)
	wg.Wait()
	return errors.Join(errs...)
}
