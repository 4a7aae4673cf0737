package stream

import (
	"encoding/binary"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/event"
)

// source is a stage-1 task: one input partition. It decodes the partition's
// events, dead-letters the malformed ones, decides lateness against its own stream
// time, and pre-aggregates the rest into its lane's combiner, which the stage-1
// tasks of that lane share; the lanes' combiners are absorbed into one at commit,
// so a key changed on every local input partition costs one delta per interval,
// not one per partition (combine.Combiner.ProcessAt, lanes.go). At
// each commit the session produces, in the transaction, the deltas of the keys
// that changed to the repartition topic (each to the partition that owns its key);
// then every source produces its stream time to every repartition partition (the
// watermark stage 2 closes windows by) and to the stream-time topic (so that
// lateness is decided the same way after a restart). Deltas go before the
// watermarks in every repartition partition: see package combine for why stage 2
// then never receives a part for a window it has closed.
//
// Only its lane touches a source while records are in flight, and only the
// session's loop goroutine once the lanes are synced.
type source struct {
	s         *session
	lane      *lane
	partition int32
	label     string

	st         int64 // stream time: the largest event time processed, or advanced by idleness
	committed  int64 // stream time as of the last commit (what the stream-time topic holds)
	streamTime int64 // stream time this transaction ships, if it commits

	nextInput  int64 // input offset after the last processed record, -1 if none
	inputEpoch int32
	late       []uint64
	invalid    map[event.Reason]uint64
	skipped    [numSkips]uint64
	processed  uint64
	shippedNow bool      // this transaction ships the watermark
	shipped    time.Time // wall time of the last committed watermark

	started    time.Time // wall time the task started, for the idle timeout of a partition without events
	lastActive time.Time // wall time of the last record, for the idle timeout
	idleMark   time.Time // wall time up to which idleness has advanced stream time
}

func newSource(s *session, partition int32, streamTime int64, now time.Time) *source {
	c := &source{s: s, lane: s.laneOf(partition), partition: partition, label: strconv.Itoa(int(partition)), st: streamTime,
		committed: streamTime, late: make([]uint64, len(s.rt.cfg.Aggregations)), invalid: map[event.Reason]uint64{},
		started: now, lastActive: now}
	c.reset()
	return c
}

// reset forgets what the current transaction would have added.
func (c *source) reset() {
	c.nextInput = -1
	c.streamTime = c.committed
	clear(c.late)
	clear(c.invalid)
	clear(c.skipped[:])
	c.processed = 0
	c.shippedNow = false
}

// Why a record without an event was skipped (kwindow_skipped_records_total{reason}).
const (
	skipTombstone = iota
	skipEmpty
	numSkips
)

var skipNames = [numSkips]string{"tombstone", "empty"}

// process applies one input record, on lane l.
func (c *source) process(l *lane, r *kgo.Record, now time.Time) {
	ev := &l.ev
	c.nextInput, c.inputEpoch = r.Offset+1, r.LeaderEpoch
	c.lastActive = now
	switch {
	case r.Value == nil:
		// A tombstone (a compacted input topic has them) carries no event: skipped
		// and counted, not dead-lettered, so compaction does not look like bad input.
		c.skipped[skipTombstone]++
		return
	case len(r.Value) == 0:
		c.skipped[skipEmpty]++
		return
	}
	// The event time is the payload's or, without one, the record's; either way
	// the decoder bounds it (min_timestamp, max_future_skew).
	if err := l.dec.DecodeRecord(r.Value, r.Timestamp.UnixMilli(), ev); err != nil {
		reason := event.NotJSON
		if e, ok := err.(*event.Error); ok {
			reason = e.Reason
		}
		c.invalid[reason]++
		c.s.deadLetter(c.partition, r, reason, err)
		return
	}
	c.processed++
	c.st = max(c.st, ev.Time)
	if late := l.comb.ProcessAt(ev, c.st); late != 0 {
		for i := range c.late {
			if late&(1<<i) != 0 {
				c.late[i]++
			}
		}
		c.s.lateRecord(c.partition, r, late)
	}
}

// prepare produces the source's watermark, if it moved, after the session's deltas.
func (c *source) prepare(now time.Time) {
	rt := c.s.rt
	c.idle(now)
	st := c.st
	if st == c.committed || c.nextInput < 0 && now.Sub(c.shipped) < time.Second {
		// Unchanged, or an idle advance: those go out at most once a second, so
		// that an idle pipeline does not commit every interval. Until then
		// lateness is judged against the advanced stream time, which is only
		// stricter than the one stage 2 knows.
		return
	}
	c.shippedNow = true
	c.streamTime = st
	for p := int32(0); p < rt.repParts; p++ {
		k, v := combine.AppendWatermark(nil, nil, c.partition, st)
		c.s.produce(&kgo.Record{Topic: rt.repartition, Partition: p, Key: k, Value: v}, nil)
	}
	c.s.produce(&kgo.Record{Topic: rt.streamTimeTopic, Partition: c.partition, Key: streamTimeKey, Value: binary.AppendVarint(nil, st)}, nil)
}

// idle advances stream time with the wall clock once the partition has received
// nothing for the idle timeout, so that stage 2's windows still close: by the
// wall time since then when it has had events, to the wall clock minus the idle
// timeout when it never had any (nothing else tells how far event time has gone).
func (c *source) idle(now time.Time) {
	timeout := time.Duration(*c.s.rt.cfg.Stream.IdleTimeout)
	if timeout <= 0 {
		return
	}
	if c.st == engine.NoTime {
		if now.Sub(c.started) >= timeout {
			c.st = max(c.st, now.Add(-timeout).UnixMilli())
			c.idleMark = now
		}
		return
	}
	from := c.lastActive.Add(timeout)
	if c.idleMark.After(from) {
		from = c.idleMark
	}
	if d := now.Sub(from); d > 0 {
		c.st += d.Milliseconds()
		c.idleMark = from.Add(time.Duration(d.Milliseconds()) * time.Millisecond)
	}
}

// commit records that the transaction committed.
func (c *source) commit(now time.Time) {
	c.s.rt.metrics.committedSource(c)
	if c.shippedNow {
		c.shipped = now
	}
	c.committed = c.streamTime
	c.reset()
}

// rollback drops what the aborted transaction processed: the consumer rewinds to
// the committed offsets, and stream time goes back to the committed one. (The
// session resets the shared combiner.)
func (c *source) rollback() {
	c.st = c.committed
	c.reset()
}

// streamTimeKey is the key of every record of the stream-time topic: the topic is
// compacted, and each partition keeps its latest.
var streamTimeKey = []byte("stream_time")
