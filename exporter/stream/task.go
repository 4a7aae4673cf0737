package stream

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/combine"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/internal/reuse"
	"github.com/kwindow/kwindow/exporter/rollup"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/window"
)

// Result is the final result of a window, handed to Options.OnResults once the
// transaction that published it has committed.
type Result struct {
	Partition int32
	engine.Change
}

// Commit is what one task's committed transaction changed.
type Commit struct {
	Partition int32
	// StreamTime: every window closing at or before it has been published, in
	// this commit or an earlier one.
	StreamTime int64
	// Closed are the final results of the windows that closed. Their aggregates
	// are never modified again.
	Closed []engine.Change
	// Totals are the running totals (Start == engine.TotalStart) that changed.
	// Their aggregates go on changing after the call returns: copy what you keep.
	Totals []engine.Change
	// Windows are the windows (not running totals) the transaction wrote, open
	// ones included, as the store holds them: for live subscribers. Read-only.
	Windows []WindowChange
}

// WindowChange is one window as a committed transaction wrote it, or, for a
// hopping aggregation (whose open windows stage 2 keeps as panes, stored as
// such), an open window assembled from its panes for live readers.
type WindowChange struct {
	Agg   int    // index of the aggregation in the configuration
	Group string // encoded group key; store.SplitGroup gives the dimension values
	Start int64
	// Value is the window's aggregate.Value encoding; nil: the window was
	// deleted (a session window merged into another), or it is Assembled.
	Value []byte
	// Assembled is an open hopping window, assembled from its panes (Value is
	// nil then): in Commit.Windows only when the Sink wants them
	// (OpenWindowsSink). Read-only.
	Assembled aggregate.Value
}

// OpenWindowsSink is a Sink that may want the open windows of hopping
// aggregations in Commit.Windows. Stage 2 keeps those as panes, and assembles
// them for readers only when the Sink asks at a commit (live subscribers).
type OpenWindowsSink interface {
	Sink
	WantsOpenWindows() bool
}

// Sink receives committed state only, on the runtime's goroutine: its methods must
// not block. The metrics view and the query API implement it.
type Sink interface {
	// Active: partition's task is restored and running, with these running totals
	// (copy what you keep) at this stream time.
	Active(partition int32, streamTime int64, totals []engine.Change)
	// Committed: a transaction committed these changes.
	Committed(commits []Commit)
	// Inactive: the partition left this instance.
	Inactive(partition int32)
}

// task is a stage-2 task: one repartition partition, owning its keys. It merges
// the deltas the stage-1 tasks ship into its engine, whose stream time is the
// least of the sources' watermarks, and keeps its windows and running totals in
// its store and changelogs. Only its lane touches it while records are in flight
// (process), and only the session's loop goroutine once the lanes are synced,
// except the produce promises, which update next under mu.
type task struct {
	rt        *Runtime
	s         *session
	partition int32
	label     string // partition as a metric label
	store     store.Store
	eng       *engine.Engine
	cp        store.Checkpoint // as of the last commit (what the store holds)
	rec       combine.Record   // scratch for decoding

	// watermarks are the latest of each source (input partition); watermarked
	// says they moved since the last commit.
	watermarks  []int64
	watermarked bool

	// What the current transaction adds. The changelog records' keys are the
	// batch's and their values in values (see prepare).
	batch      store.Batch
	values     []byte       // encoded values, back to back; see prepare
	valuesLen  int          // bytes of values the last prepare wrote
	records    []kgo.Record // the changelog records (see record)
	results    []Result
	totals     []engine.Change
	windows    []WindowChange
	nextInput  int64 // repartition offset after the last processed record, -1 if none
	inputEpoch int32 // leader epoch of that record
	streamTime int64 // stream time the meta record of this transaction carries
	saveMarks  bool  // the transaction writes the watermarks
	flushed    int64 // stream time of the last flush: every window closing by then is published
	processed  uint64
	lateMerges []uint64 // per aggregation
	// logRecords and logBytes count the transaction's changelog records (key
	// and value bytes) per changelog, for the metrics once it commits.
	logRecords, logBytes []uint64

	mu   sync.Mutex
	next []int64                    // per changelog (Runtime.changelogs): offset after this transaction's last record, -1 if none
	acks []func(*kgo.Record, error) // per changelog: the promise of its records
	// pending counts the changelog records whose promise has not run: until it
	// has, the producer may use a record and its key and value.
	pending atomic.Int64

	// overflowSeen is the engine's overflow count already added to the metrics.
	overflowSeen []uint64

	retainedAt time.Time // last retention pass

	// backfill names the rollups the next transaction fills from the windows
	// closed by stream time backfillAt (see rollup.go).
	backfill   []string
	backfillAt int64

	// initial are the recent running totals read at restoration, for Sink.Active.
	initial  []engine.Change
	loadTook time.Duration // how long loading the open windows took at restoration
}

func newTask(s *session, partition int32, st store.Store, now time.Time) (*task, error) {
	rt := s.rt
	n := len(rt.cfg.Aggregations)
	t := &task{rt: rt, s: s, partition: partition, label: strconv.Itoa(int(partition)), store: st, next: make([]int64, len(rt.changelogs)),
		lateMerges: make([]uint64, n), overflowSeen: make([]uint64, n), retainedAt: now,
		logRecords: make([]uint64, len(rt.changelogs)), logBytes: make([]uint64, len(rt.changelogs))}
	t.acks = make([]func(*kgo.Record, error), len(rt.changelogs))
	for log := range t.acks {
		t.acks[log] = t.ack(log)
	}
	if err := t.load(); err != nil {
		return nil, err
	}
	return t, nil
}

// load (re)builds the engine from the store: its stream time and the windows that
// may still be open or needed at that stream time.
func (t *task) load() error {
	cp, ok, err := t.store.Checkpoint()
	if err != nil {
		return fmt.Errorf("partition %d: reading checkpoint: %w", t.partition, err)
	}
	if !ok {
		cp = store.Checkpoint{InputOffset: -1, StreamTime: engine.NoTime, ChangelogOffsets: map[string]int64{}}
	}
	if cp.ChangelogOffsets == nil {
		cp.ChangelogOffsets = map[string]int64{}
	}
	t.cp = cp
	// One watermark per input partition; a store from a time the input had fewer
	// keeps its own, and new partitions start unknown.
	t.watermarks = make([]int64, t.rt.partitions)
	for i := range t.watermarks {
		t.watermarks[i] = engine.NoTime
	}
	copy(t.watermarks, cp.Watermarks)
	t.watermarked = false
	// Running totals stay in the store until their key has an event (LoadTotal):
	// only the windows that may still be open or needed are read now.
	e := engine.NewWithOptions(t.rt.cfg, engine.Options{LoadTotal: t.loadTotal, Panes: true})
	e.AdvanceTo(minWatermark(t.watermarks))
	for i := range t.rt.cfg.Aggregations {
		name := t.rt.cfg.Aggregations[i].Name
		// One pass over the aggregation's keys; the upper bound excludes the
		// running totals, at TotalStart.
		var decodeErr error
		spec := t.rt.cfg.Aggregations[i].WindowSpec()
		err := t.store.Windows(name, e.RestoreFrom(i), engine.TotalStart, func(en store.Entry) bool {
			var v aggregate.Value
			if decodeErr = v.UnmarshalBinary(en.Value); decodeErr != nil {
				return false
			}
			if t.rt.hopping[i] && !spec.Closed(window.Window{Start: en.Key.Start, End: v.End}, e.StreamTime()) {
				// Stage 2 stores a hopping window only once it has closed: an
				// open one comes from a kwindow that stored every window.
				decodeErr = fatalf(fmt.Errorf("an open %s window at %d", name, en.Key.Start),
					"the state was written by a kwindow from before hopping panes, whose open hopping windows do not carry over: use a new stream.application_id (see the README's Upgrading)")
				return false
			}
			e.Restore(i, slices.Clone(en.Key.Group), en.Key.Start, v)
			return true
		})
		if err == nil {
			err = decodeErr
		}
		if err != nil {
			return fmt.Errorf("partition %d: loading %s windows: %w", t.partition, name, err)
		}
		if err := t.loadPanes(e, i); err != nil {
			return err
		}
	}
	t.eng = e
	t.backfillFrom(cp, e.StreamTime())
	clear(t.overflowSeen)
	t.reset()
	return nil
}

// wantsOpenWindows reports whether the Sink wants open hopping windows
// assembled at this commit (OpenWindowsSink).
func (rt *Runtime) wantsOpenWindows() bool {
	s, ok := rt.opts.Sink.(OpenWindowsSink)
	return ok && s.WantsOpenWindows()
}

// loadPanes gives engine e the pane variants of aggregation i, if hopping: every
// one stored is still needed by an open window.
func (t *task) loadPanes(e *engine.Engine, i int) error {
	a := &t.rt.cfg.Aggregations[i]
	spec := a.WindowSpec()
	if spec.Kind != window.Hopping {
		return nil
	}
	variants := int((spec.Size + spec.Advance - 1) / spec.Advance)
	for v := range variants {
		name := store.PaneAgg(a.Name, v)
		var decodeErr error
		err := t.store.Windows(name, math.MinInt64, engine.TotalStart, func(en store.Entry) bool {
			var val aggregate.Value
			if decodeErr = val.UnmarshalBinary(en.Value); decodeErr != nil {
				return false
			}
			e.RestorePane(i, en.Key.Group, en.Key.Start, v, val)
			return true
		})
		if err == nil {
			err = decodeErr
		}
		if err != nil {
			return fmt.Errorf("partition %d: loading %s panes: %w", t.partition, a.Name, err)
		}
	}
	return nil
}

// reset forgets what the current transaction would have added. It runs once
// the transaction has ended, so the producer holds none of its records:
// the next transaction reuses their memory and the batch's. Not so a record
// that failed before the producer buffered it: its promise runs apart, and
// the producer's Flush does not wait for it. Until it has run, the record and
// its key stay untouched, in memory the task lets go of.
func (t *task) reset() {
	// A minute boundary's buffers are released (see package reuse).
	if t.pending.Load() == 0 {
		t.records = reuse.Slice(t.records)
		t.batch.Reset()
	} else {
		t.records, t.batch = nil, store.Batch{}
	}
	t.results = reuse.Slice(t.results)
	t.totals = reuse.Slice(t.totals)
	t.windows = reuse.Slice(t.windows)
	t.nextInput = -1
	t.streamTime = t.cp.StreamTime
	t.flushed = t.cp.StreamTime
	t.saveMarks = false
	t.processed = 0
	clear(t.lateMerges)
	clear(t.logRecords)
	clear(t.logBytes)
	for i := range t.next {
		t.next[i] = -1
	}
}

// process applies one repartition record: a watermark of a stage-1 source, or a
// delta to merge. Stream time is the minimum of the sources' watermarks, once
// every source has sent one.
func (t *task) process(r *kgo.Record) error {
	rt := t.rt
	t.nextInput, t.inputEpoch = r.Offset+1, r.LeaderEpoch
	rec := &t.rec
	if err := combine.DecodeRecord(r.Key, r.Value, rec); err != nil {
		// Only kwindow writes the repartition topic, in transactions: a record it
		// cannot read is a bug or a version mismatch, and skipping it would lose
		// counts silently.
		return fmt.Errorf("repartition partition %d offset %d: %w", t.partition, r.Offset, err)
	}
	if rec.Watermark {
		if rec.Source < 0 || int(rec.Source) >= len(t.watermarks) {
			return fmt.Errorf("repartition partition %d offset %d: watermark of input partition %d, but the input topic has %d partitions",
				t.partition, r.Offset, rec.Source, len(t.watermarks))
		}
		if rec.StreamTime > t.watermarks[rec.Source] {
			t.watermarks[rec.Source] = rec.StreamTime
			t.watermarked = true
			t.eng.AdvanceTo(minWatermark(t.watermarks))
		}
		return nil
	}
	agg, ok := rt.aggIndex[rec.AggName]
	if !ok {
		return fmt.Errorf("repartition partition %d offset %d: a delta of aggregation %q, which the configuration does not have (the aggregations changed: use a new stream.application_id)",
			t.partition, r.Offset, rec.AggName)
	}
	t.processed++
	for i := range rec.Delta.Parts {
		if t.eng.Merge(agg, rec.Delta.Group, &rec.Delta.Parts[i]) {
			t.lateMerges[agg]++
		}
	}
	return nil
}

// minWatermark is stage 2's stream time: the least watermark of the sources, or
// NoTime while one of them has sent none.
func minWatermark(w []int64) int64 {
	m := int64(math.MaxInt64)
	for _, v := range w {
		m = min(m, v)
	}
	if len(w) == 0 {
		return engine.NoTime
	}
	return m
}

// prepare produces what the transaction commits for this task: changelog records
// of the changed windows, the results of the closed ones, and the stream time. It
// runs on the task's lane, which lends its rollup merger (nil without rollups).
func (t *task) prepare(rollups *rollup.Merger) error {
	rt := t.rt
	var f *engine.Flush
	if rt.wantsOpenWindows() {
		f = t.eng.FlushOpen()
	} else {
		f = t.eng.Flush()
	}
	if err := t.eng.Err(); err != nil {
		return err // the store failed to give back a running total
	}
	t.flushed = f.StreamTime
	// The values are encoded back to back in t.values, after those of earlier
	// transactions, which Commit.Windows handed on: no transaction writes over
	// them. Room for as much as the last transaction wrote is made at once.
	t.values = slices.Grow(t.values[len(t.values):], t.valuesLen)
	// Commit hands the totals and windows on: new slices, of the right size.
	t.totals = append(slices.Grow(t.totals, len(f.Totals)), f.Totals...)
	t.windows = slices.Grow(t.windows, len(f.Changes)+len(f.Open))
	for i := range f.Changes {
		c := &f.Changes[i]
		name := rt.cfg.Aggregations[c.Agg].Name
		if c.Pane > 0 {
			name = store.PaneAgg(name, c.Pane-1)
		}
		k := store.Key{Agg: name, Group: []byte(c.Group), Start: c.Start}
		var key, value []byte
		if c.Value.Agg == nil {
			key = t.batch.Delete(k)
		} else {
			n := len(t.values)
			b, err := c.Value.AppendBinary(t.values)
			if err != nil {
				t.s.failProduce(fmt.Errorf("encoding %s window: %w", name, err))
				continue
			}
			t.values, value = b, b[n:len(b):len(b)]
			key = t.batch.Put(k, value)
		}
		if key == nil {
			return fmt.Errorf("partition %d: %s group %q: %w", t.partition, name, c.Group, store.ErrInvalidKey)
		}
		switch {
		case c.Start == engine.TotalStart:
			// Stored, and changelogged: Totals has what readers see.
		case c.Pane > 0, rt.hopping[c.Agg]:
			// Panes are no windows; a hopping window is stored when it closes,
			// and Closed has it.
		default:
			t.windows = append(t.windows, WindowChange{Agg: c.Agg, Group: c.Group, Start: c.Start, Value: value})
		}
		t.produceChangelog(c.Agg, key, value)
	}
	for _, c := range f.Open {
		t.windows = append(t.windows, WindowChange{Agg: c.Agg, Group: c.Group, Start: c.Start, Assembled: c.Value})
	}
	t.valuesLen = len(t.values)
	for i := range f.Closed {
		c := &f.Closed[i]
		t.results = append(t.results, Result{Partition: t.partition, Change: *c})
		t.s.publishResult(t.partition, c)
	}
	if err := t.rollup(rollups, f.Closed); err != nil {
		return err // the store failed to give back a rollup window
	}
	// The watermarks are persisted whenever they moved: a restarted task reads the
	// repartition topic from the committed offset, past the watermark records
	// already consumed, and a source that has since gone quiet sends no new one.
	// (Stage 1 ships an idle advance at most once a second.)
	if t.watermarked {
		t.streamTime = f.StreamTime
		t.saveMarks = true
		t.watermarked = false
		for i := range rt.cfg.Aggregations {
			t.produceChangelog(i, metaKey, metaValue(t.watermarks))
		}
	}
	return nil
}

// produceChangelog writes a record to changelog log (an index in
// Runtime.changelogs: an aggregation's, or a rollup's). The producer holds key
// and value until the record's promise has run.
func (t *task) produceChangelog(log int, key, value []byte) {
	r := t.record()
	*r = kgo.Record{Topic: t.rt.changelogs[log], Partition: t.partition, Key: key, Value: value}
	t.logRecords[log]++
	t.logBytes[log] += uint64(len(key) + len(value))
	t.pending.Add(1)
	t.s.send(r, t.acks[log])
}

// record returns a record of t.records. The records of a transaction share
// arrays, which the next transaction reuses (see reset); an array that is full
// is left to the producer, which holds pointers into it, and a new one begins.
func (t *task) record() *kgo.Record {
	if len(t.records) == cap(t.records) {
		t.records = make([]kgo.Record, 0, max(64, 2*cap(t.records)))
	}
	t.records = t.records[:len(t.records)+1]
	return &t.records[len(t.records)-1]
}

// ack returns the promise of the records of changelog log: the transaction
// aborts if one failed, and the checkpoint moves past the last acknowledged.
func (t *task) ack(log int) func(*kgo.Record, error) {
	return func(r *kgo.Record, err error) {
		if err != nil {
			t.s.failRecord(r, err)
		} else {
			t.mu.Lock()
			t.next[log] = max(t.next[log], r.Offset+1)
			t.mu.Unlock()
		}
		t.pending.Add(-1) // last: the record is the task's again
	}
}

// committed writes the transaction's changes to the store with the checkpoint they
// reach, and returns the results it published and what readers see of it.
func (t *task) committed() ([]Result, Commit, error) {
	t.mu.Lock()
	for i, n := range t.next {
		if n >= 0 {
			t.cp.ChangelogOffsets[t.rt.logNames[i]] = n
		}
	}
	t.mu.Unlock()
	if t.nextInput >= 0 {
		t.cp.InputOffset = t.nextInput
	}
	t.cp.StreamTime = t.streamTime
	if t.saveMarks {
		t.cp.Watermarks = slices.Clone(t.watermarks)
	}
	t.batch.SetCheckpoint(t.cp)
	if err := t.store.Write(&t.batch); err != nil {
		return nil, Commit{}, fmt.Errorf("partition %d: writing committed state: %w", t.partition, err)
	}
	t.rt.metrics.committed(t)
	results := t.results
	c := Commit{Partition: t.partition, StreamTime: max(t.streamTime, t.flushed), Totals: t.totals, Windows: t.windows}
	for _, r := range results {
		c.Closed = append(c.Closed, r.Change)
	}
	t.results, t.totals, t.windows = nil, nil, nil
	t.reset()
	return results, c, nil
}

// loadTotal reads the running total of a key from the store, for the engine
// (engine.Options.LoadTotal): a nil Agg when the key has none yet.
func (t *task) loadTotal(agg int, group []byte) (aggregate.Value, error) {
	name := t.rt.cfg.Aggregations[agg].Name
	b, ok, err := t.store.Get(store.Key{Agg: name, Group: group, Start: engine.TotalStart})
	if err != nil {
		return aggregate.Value{}, fmt.Errorf("partition %d: reading a %s running total: %w", t.partition, name, err)
	}
	var v aggregate.Value
	if !ok {
		return v, nil
	}
	if err := v.UnmarshalBinary(b); err != nil {
		return aggregate.Value{}, fmt.Errorf("partition %d: decoding a %s running total: %w", t.partition, name, err)
	}
	return v, nil
}

// recentTotals reads from the store the running totals of the keys active within
// metrics.idle_windows windows of the task's stream time, for Sink.Active: keys
// quiet for longer are not exported, and come back with their next event.
func (t *task) recentTotals() ([]engine.Change, error) {
	var out []engine.Change
	for i := range t.rt.cfg.Aggregations {
		a := &t.rt.cfg.Aggregations[i]
		span := a.Window.Size.Millis()
		if a.Window.Type == "session" {
			span = a.Window.Gap.Millis()
		}
		since := int64(math.MinInt64)
		if t.cp.StreamTime != engine.NoTime {
			since = t.cp.StreamTime - int64(t.rt.cfg.Metrics.IdleWindows+1)*span
		}
		var decodeErr error
		var stored []engine.Change
		err := t.store.Window(a.Name, engine.TotalStart, func(en store.Entry) bool {
			var v aggregate.Value
			if decodeErr = v.UnmarshalBinary(en.Value); decodeErr != nil {
				return false
			}
			if v.Agg != nil {
				stored = append(stored, engine.Change{Agg: i, Group: string(en.Key.Group), Start: engine.TotalStart, Value: v})
			}
			return true
		})
		if err == nil {
			err = decodeErr
		}
		for j := 0; err == nil && j < len(stored); j++ {
			c := &stored[j]
			if c.Value, err = t.wholeTotal(i, c.Group, c.Value); err == nil && c.Value.Last >= since {
				out = append(out, *c)
			}
		}
		if err != nil {
			return nil, fmt.Errorf("partition %d: reading %s running totals: %w", t.partition, a.Name, err)
		}
	}
	return out, nil
}

// wholeTotal is the running total v of a key of aggregation i as stored, made
// whole: a tumbling aggregation's stored total leaves out the key's windows from
// v.End on, a hopping one's its pane variants (engine.ResolveTotal), which the
// store has.
func (t *task) wholeTotal(i int, group string, v aggregate.Value) (aggregate.Value, error) {
	a := &t.rt.cfg.Aggregations[i]
	names := []string{a.Name}
	if spec := a.WindowSpec(); spec.Kind == window.Hopping {
		names = names[:0]
		for p := range int((spec.Size + spec.Advance - 1) / spec.Advance) {
			names = append(names, store.PaneAgg(a.Name, p))
		}
	}
	var err error
	v = engine.ResolveTotal(v, func(from int64, fn func(aggregate.Value)) {
		for _, name := range names {
			var decodeErr error
			err = t.store.Range(name, []byte(group), from, engine.TotalStart, func(en store.Entry) bool {
				var w aggregate.Value
				if decodeErr = w.UnmarshalBinary(en.Value); decodeErr != nil {
					return false
				}
				fn(w)
				return true
			})
			if err = cmp.Or(err, decodeErr); err != nil {
				return
			}
		}
	})
	return v, err
}

// rollback drops what the aborted transaction added and rebuilds the engine from
// the store, which holds exactly the last committed state.
func (t *task) rollback() error {
	t.reset()
	return t.load()
}

// retain deletes windows past retention from the store, at most once a minute:
// each aggregation's windows and each of its rollups' after their own retention.
// Stage 2 deletes a hopping aggregation's panes as soon as no open window needs
// them; retention deletes any left behind with its windows (a pane is needed
// for at most size + grace, no longer than retention).
func (t *task) retain(now time.Time) error {
	if now.Sub(t.retainedAt) < time.Minute || t.cp.StreamTime == engine.NoTime {
		return nil
	}
	t.retainedAt = now
	del := func(name string, before int64) error {
		if _, err := t.store.DeleteBefore(name, before); err != nil {
			return fmt.Errorf("partition %d: retention of %s: %w", t.partition, name, err)
		}
		return nil
	}
	for i, name := range t.rt.logNames {
		before := t.cp.StreamTime - t.rt.logRetention[i]
		if err := del(name, before); err != nil {
			return err
		}
		if i >= len(t.rt.hopping) || !t.rt.hopping[i] {
			continue
		}
		spec := t.rt.cfg.Aggregations[i].WindowSpec()
		for v := range int((spec.Size + spec.Advance - 1) / spec.Advance) {
			if err := del(store.PaneAgg(name, v), before); err != nil {
				return err
			}
		}
	}
	return nil
}
