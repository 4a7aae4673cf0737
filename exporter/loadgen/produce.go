package loadgen

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// ProduceOptions configure Produce.
type ProduceOptions struct {
	Topic string
	// Rate is the target in events per second, > 0. A rate above what the
	// generator and the producer sustain runs them flat out, so the resulting
	// ProduceStats.Rate is their maximum.
	Rate int
	// Duration stops generating after this long; 0 runs until ctx is done or
	// Total is reached.
	Duration time.Duration
	// Total stops after this many events; 0 is unlimited.
	Total int64
	// StartTime is the event-time source (unix ms), called for each event;
	// default the wall clock.
	StartTime func() int64
	// Progress, when set, is called about every ProgressInterval.
	Progress func(ProduceStats)
}

// ProgressInterval is how often Produce reports progress.
const ProgressInterval = 5 * time.Second

// ProduceStats count what Produce has done.
type ProduceStats struct {
	// Produced is the events the broker acknowledged; Failed those it refused
	// or that could not be delivered.
	Produced, Failed int64
	Elapsed          time.Duration
	// Rate is Produced per second of Elapsed.
	Rate float64
}

const (
	// tick is how often Produce catches up with its rate: small batches keep
	// event time smooth at the broker.
	tick = 5 * time.Millisecond
	// drainGrace is how long records already handed to the client may still be
	// delivered after ctx is done, before they are failed.
	drainGrace = 10 * time.Second
)

// Produce generates events from g at o.Rate per second and produces them to
// o.Topic, each keyed by its endpoint so that one endpoint's events stay in order
// in one partition. It stops when o.Duration has passed, o.Total events have
// been generated, ctx is done, or a record fails; it then waits for the records
// it produced to be acknowledged (or failed), giving up drainGrace after ctx is
// done. Stopping because ctx is done is not an error; a failed record is.
// Falling behind the rate (a slow broker) never owes more than one second of
// events: the rest is skipped rather than sent in a burst later.
//
// Records are produced asynchronously: the client's MaxBufferedRecords bounds
// what is in flight, and a full buffer slows generation down to what the
// brokers take.
func Produce(ctx context.Context, cl *kgo.Client, g *Generator, o ProduceOptions) (ProduceStats, error) {
	switch {
	case o.Topic == "":
		return ProduceStats{}, errors.New("loadgen: no topic to produce to")
	case o.Rate <= 0:
		return ProduceStats{}, fmt.Errorf("loadgen: rate must be > 0, got %d", o.Rate)
	case o.Duration < 0 || o.Total < 0:
		return ProduceStats{}, fmt.Errorf("loadgen: duration and total must be >= 0, got %v and %d", o.Duration, o.Total)
	}
	clock := o.StartTime
	if clock == nil {
		clock = func() int64 { return time.Now().UnixMilli() }
	}
	s := newSender(ctx, cl, o.Topic)
	defer s.stop()
	var deadline time.Time
	if o.Duration > 0 {
		deadline = s.start.Add(o.Duration)
	}
	nextProgress := s.start.Add(ProgressInterval)
	progress := func(now time.Time) {
		if o.Progress != nil && !now.Before(nextProgress) {
			nextProgress = now.Add(ProgressInterval)
			o.Progress(s.stats(now))
		}
	}
	ticker := time.NewTicker(tick)
	defer ticker.Stop()

	// sent events so far; skipped: events never generated because the producer
	// fell more than a second behind (a stalled broker), so that it does not
	// burst to catch up when it recovers.
	var sent, skipped int64
generate:
	for {
		now := time.Now()
		if ctx.Err() != nil || s.err() != nil || (!deadline.IsZero() && !now.Before(deadline)) {
			break
		}
		target := int64(float64(o.Rate)*now.Sub(s.start).Seconds()) - skipped
		if behind := target - sent - int64(o.Rate); behind > 0 {
			skipped += behind
			target -= behind
		}
		if o.Total > 0 {
			target = min(target, o.Total)
		}
		for sent < target {
			s.send(g, g.Next(clock()))
			sent++
			if sent%256 == 0 { // behind a high rate, this loop runs flat out
				now = time.Now()
				if ctx.Err() != nil || s.err() != nil || (!deadline.IsZero() && !now.Before(deadline)) {
					break generate
				}
				progress(now)
			}
		}
		if o.Total > 0 && sent >= o.Total {
			break
		}
		progress(now)
		select {
		case <-ctx.Done():
		case <-ticker.C:
		}
	}
	return s.finish()
}

// Preload produces n events from g to topic as fast as the client takes them,
// keyed like Produce, with deterministic event times: event i happens at
// startMs + i×spacingMicros/1000 (whole milliseconds). progress, when set, is
// called about every second with the number of events acknowledged so far, and
// once at the end. It returns the first failure, or ctx's error if ctx ends
// before all n are acknowledged.
func Preload(ctx context.Context, cl *kgo.Client, g *Generator, topic string, n int64, startMs, spacingMicros int64, progress func(done int64)) error {
	if topic == "" {
		return errors.New("loadgen: no topic to produce to")
	}
	if n < 0 || spacingMicros < 0 {
		return fmt.Errorf("loadgen: preload count and spacing must be >= 0, got %d and %d", n, spacingMicros)
	}
	s := newSender(ctx, cl, topic)
	defer s.stop()
	next := s.start.Add(time.Second)
	for i := int64(0); i < n; i++ {
		s.send(g, g.Next(startMs+i*spacingMicros/1000))
		if i%1024 == 1023 {
			if ctx.Err() != nil || s.err() != nil {
				break
			}
			if now := time.Now(); progress != nil && now.After(next) {
				next = now.Add(time.Second)
				progress(s.acked.Load())
			}
		}
	}
	st, err := s.finish()
	if progress != nil {
		progress(st.Produced)
	}
	if err == nil && st.Produced < n {
		err = fmt.Errorf("loadgen: preloaded %d of %d events: %w", st.Produced, n, context.Cause(ctx))
	}
	return err
}

// sender produces generated events without an allocation per event: values
// are cut from shared slabs and records from shared chunks, which the garbage
// collector frees once the client is done with all of their records.
type sender struct {
	cl    *kgo.Client
	ctx   context.Context // outlives the caller's by drainGrace
	stop  func()          // releases ctx
	topic string
	start time.Time
	keys  map[[2]string][]byte
	slab  []byte
	recs  []kgo.Record

	acked, failed atomic.Int64
	mu            sync.Mutex
	firstErr      error
	promise       func(*kgo.Record, error)
}

const (
	slabSize  = 256 << 10
	maxEvent  = 512 // bytes; a generated event is about 120
	chunkSize = 1024
)

func newSender(ctx context.Context, cl *kgo.Client, topic string) *sender {
	pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	var grace *time.Timer
	var mu sync.Mutex
	stopAfter := context.AfterFunc(ctx, func() {
		mu.Lock()
		grace = time.AfterFunc(drainGrace, cancel)
		mu.Unlock()
	})
	s := &sender{
		cl: cl, ctx: pctx, topic: topic, start: time.Now(), keys: map[[2]string][]byte{},
		stop: func() {
			stopAfter()
			mu.Lock()
			if grace != nil {
				grace.Stop()
			}
			mu.Unlock()
			cancel()
		},
	}
	s.promise = func(_ *kgo.Record, err error) {
		if err == nil {
			s.acked.Add(1)
			return
		}
		s.failed.Add(1)
		s.mu.Lock()
		if s.firstErr == nil {
			s.firstErr = err
		}
		s.mu.Unlock()
	}
	return s
}

func (s *sender) send(g *Generator, r Request) {
	if cap(s.slab)-len(s.slab) < maxEvent {
		s.slab = make([]byte, 0, slabSize)
	}
	n := len(s.slab)
	s.slab = g.AppendJSON(s.slab, r)
	if len(s.recs) == 0 {
		s.recs = make([]kgo.Record, chunkSize)
	}
	rec := &s.recs[0]
	s.recs = s.recs[1:]
	// Keyed by endpoint and region: each such stream stays in order in one
	// partition, and the 8 x 4 keys spread over the partitions (endpoint alone
	// left some partitions empty). kwindow merges the partial aggregates that the
	// same group key gets in different partitions when it reads them.
	k := [2]string{r.Endpoint, r.Region}
	key, ok := s.keys[k]
	if !ok {
		key = []byte(r.Endpoint + "|" + r.Region)
		s.keys[k] = key
	}
	rec.Topic, rec.Key, rec.Value = s.topic, key, s.slab[n:len(s.slab):len(s.slab)]
	s.cl.Produce(s.ctx, rec, s.promise)
}

func (s *sender) err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.firstErr
}

func (s *sender) stats(now time.Time) ProduceStats {
	st := ProduceStats{Produced: s.acked.Load(), Failed: s.failed.Load(), Elapsed: now.Sub(s.start)}
	if st.Elapsed > 0 {
		st.Rate = float64(st.Produced) / st.Elapsed.Seconds()
	}
	return st
}

// finish waits for the records sent to be acknowledged or failed.
func (s *sender) finish() (ProduceStats, error) {
	flushErr := s.cl.Flush(s.ctx)
	st := s.stats(time.Now())
	if err := s.err(); err != nil {
		return st, fmt.Errorf("loadgen: producing to %s: %d events failed, the first with: %w", s.topic, st.Failed, err)
	}
	if flushErr != nil {
		return st, fmt.Errorf("loadgen: producing to %s: gave up waiting for acknowledgements %v after the stop", s.topic, drainGrace)
	}
	return st, nil
}
