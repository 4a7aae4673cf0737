package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kwindow/kwindow/exporter/aggregate"
	"github.com/kwindow/kwindow/exporter/api"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/query"
	"github.com/kwindow/kwindow/exporter/store"
	"github.com/kwindow/kwindow/exporter/stream"
	"github.com/kwindow/kwindow/exporter/window"
)

// Buffers of the live stream. A subscriber whose buffer fills is dropped: it
// never holds up the runtime, which only hands the hub its commits.
const (
	subscriberBuffer = 4096 // window updates per subscriber
	hubBuffer        = 1024 // commits waiting for the hub's goroutine
)

// Hub hands the windows of the local stores' committed transactions to live
// subscribers. It is the runtime's stream.Sink: Committed only queues the
// commits (the windows are already encoded), and the hub's own goroutine
// decodes and filters them, so subscribers cost processing nothing.
type Hub struct {
	cfg   *config.Config
	local *query.Local
	log   *slog.Logger
	specs []window.Spec

	in     chan committed
	active atomic.Int32 // subscribers; Committed does nothing without any

	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	closed bool
	done   chan struct{}
	// dropped counts subscribers dropped for being slow (tests, metrics).
	dropped atomic.Uint64
}

// committed is the commits of one transaction, and when it committed (unix ms).
type committed struct {
	cs []stream.Commit
	at int64
}

type subscriber struct {
	agg    int
	sel    *query.Selector
	sketch bool // measures need the sketch
	ch     chan api.StreamEvent
	reason string // why dropped, set before ch closes
}

func newHub(cfg *config.Config, l *query.Local, log *slog.Logger) *Hub {
	h := &Hub{cfg: cfg, local: l, log: log, in: make(chan committed, hubBuffer),
		subs: map[*subscriber]struct{}{}, done: make(chan struct{})}
	for i := range cfg.Aggregations {
		h.specs = append(h.specs, cfg.Aggregations[i].WindowSpec())
	}
	go h.run()
	return h
}

// Active is part of stream.Sink.
func (h *Hub) Active(int32, int64, []engine.Change) {}

// Inactive is part of stream.Sink.
func (h *Hub) Inactive(int32) {}

// WantsOpenWindows is part of stream.OpenWindowsSink: open hopping windows are
// assembled for the hub while it has subscribers.
func (h *Hub) WantsOpenWindows() bool { return h.active.Load() > 0 }

// Committed queues the commits for the subscribers, without blocking: if the
// hub is that far behind, its subscribers are dropped instead.
func (h *Hub) Committed(commits []stream.Commit) {
	if h.active.Load() == 0 {
		return
	}
	select {
	case h.in <- committed{cs: commits, at: time.Now().UnixMilli()}:
	default:
		h.dropAll(fmt.Sprintf("the server fell behind by %d commits", hubBuffer))
	}
}

func (h *Hub) run() {
	for {
		select {
		case <-h.done:
			return
		case c := <-h.in:
			for i := range c.cs {
				h.publish(&c.cs[i], c.at)
			}
		}
	}
}

// publish hands one commit's windows to the subscribers that select them: the
// windows it wrote (open ones partial), then those it closed, final.
func (h *Hub) publish(c *stream.Commit, now int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.subs) == 0 {
		return
	}
	for _, w := range c.Windows {
		if w.Value == nil {
			if w.Assembled.Agg != nil { // an open hopping window
				h.offer(c, w.Agg, w.Group, w.Start, now, func() (aggregate.Value, error) { return w.Assembled, nil })
			}
			continue // or a session window merged into another: the other's update follows
		}
		h.offer(c, w.Agg, w.Group, w.Start, now, func() (aggregate.Value, error) {
			var v aggregate.Value
			err := v.UnmarshalBinary(w.Value)
			return v, err
		})
	}
	for _, w := range c.Closed {
		h.offer(c, w.Agg, w.Group, w.Start, now, func() (aggregate.Value, error) { return w.Value, nil })
	}
}

// offer sends one window to the subscribers that select it, decoding it (value)
// only if one does. h.mu is held.
func (h *Hub) offer(c *stream.Commit, agg int, group string, start, now int64, value func() (aggregate.Value, error)) {
	var (
		vals [][]byte
		upd  *api.WindowUpdate
	)
	for s := range h.subs {
		if s.agg != agg {
			continue
		}
		if vals == nil {
			var err error
			if vals, err = store.SplitGroup([]byte(group)); err != nil {
				return
			}
		}
		if !s.sel.Match(vals) {
			continue
		}
		if upd == nil {
			v, err := value()
			if err != nil {
				h.log.Warn("live stream: undecodable window", "err", err)
				return
			}
			key := make([]string, len(vals))
			for i, b := range vals {
				key[i] = string(b)
			}
			upd = &api.WindowUpdate{Aggregation: h.cfg.Aggregations[agg].Name, Key: key, Partition: c.Partition,
				Start: start, End: v.End, Last: v.Last, Agg: v.Agg, CommittedAt: now,
				Partial: h.specs[agg].CloseTime(window.Window{Start: start, End: v.End}) > c.StreamTime}
		}
		select {
		case s.ch <- api.StreamEvent{Update: upd}:
		default:
			h.drop(s, fmt.Sprintf("slow consumer: %d updates were waiting", subscriberBuffer))
		}
	}
}

// subscribe adds a subscriber of the local stores' updates, until ctx ends.
func (h *Hub) subscribe(ctx context.Context, q api.StreamQuery) (<-chan api.StreamEvent, error) {
	sel, err := h.local.Select(q.Aggregation, q.Filters, q.Measures)
	if err != nil {
		return nil, err
	}
	agg := -1
	for i := range h.cfg.Aggregations {
		if h.cfg.Aggregations[i].Name == q.Aggregation {
			agg = i
		}
	}
	s := &subscriber{agg: agg, sel: sel, ch: make(chan api.StreamEvent, subscriberBuffer)}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil, errors.New("shutting down")
	}
	h.subs[s] = struct{}{}
	h.active.Add(1)
	h.mu.Unlock()
	out := make(chan api.StreamEvent)
	go func() {
		defer close(out)
		stop := context.AfterFunc(ctx, func() {
			h.mu.Lock()
			h.remove(s)
			h.mu.Unlock()
		})
		defer stop()
		for ev := range s.ch {
			select {
			case out <- ev:
			case <-ctx.Done():
				return
			}
		}
		if s.reason != "" {
			select {
			case out <- api.StreamEvent{Dropped: s.reason}:
			case <-ctx.Done():
			}
		}
	}()
	return out, nil
}

// remove forgets s and closes its channel; h.mu is held.
func (h *Hub) remove(s *subscriber) {
	if _, ok := h.subs[s]; ok {
		delete(h.subs, s)
		h.active.Add(-1)
		close(s.ch)
	}
}

// drop ends s with a reason; h.mu is held.
func (h *Hub) drop(s *subscriber, reason string) {
	if _, ok := h.subs[s]; ok {
		s.reason = reason
		h.dropped.Add(1)
		h.remove(s)
	}
}

func (h *Hub) dropAll(reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for s := range h.subs {
		h.drop(s, reason)
	}
}

func (h *Hub) close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.done)
	}
	h.mu.Unlock()
	h.dropAll("the instance is shutting down")
}
