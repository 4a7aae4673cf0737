package stream

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Thresholds of readiness. A broker unreachable for kafkaDownAfter, stallAfter of
// pending work without a commit, or abortsUnready transactions aborted in a row
// make /readyz answer 503 with the reason: a pipeline that cannot commit must
// not look healthy.
const (
	kafkaDownAfter = 5 * time.Second
	stallAfter     = 30 * time.Second
	abortsUnready  = 5
	warnEvery      = 10 * time.Second // at most one "Kafka failing" warning per this
)

// health follows what the runtime cannot see from its own loop: whether Kafka
// answers (franz-go's broker hooks, on every request of every client) and whether
// transactions commit. It feeds /readyz, kwindow_kafka_up and the WARN lines of an
// outage. Safe for concurrent use.
type health struct {
	now func() time.Time
	m   *metrics

	mu           sync.Mutex
	log          func(msg string, args ...any) // warnings; set by the runtime
	info         func(msg string, args ...any)
	sessionUp    bool
	errSince     time.Time // first failed request since the last success; zero if none
	lastErr      error
	warned       time.Time
	lastCommit   time.Time
	workingSince time.Time // first interval with work since the last commit; zero if none
	abortsInRow  int
	lastCause    string
}

var (
	_ kgo.HookBrokerConnect = (*health)(nil)
	_ kgo.HookBrokerE2E     = (*health)(nil)
)

func newHealth(now func() time.Time, m *metrics) *health {
	h := &health{now: now, m: m, log: func(string, ...any) {}, info: func(string, ...any) {}}
	m.registerHealth(h)
	return h
}

// OnBrokerConnect implements kgo.HookBrokerConnect.
func (h *health) OnBrokerConnect(meta kgo.BrokerMetadata, _ time.Duration, _ net.Conn, err error) {
	h.request(meta, err)
}

// OnBrokerE2E implements kgo.HookBrokerE2E.
func (h *health) OnBrokerE2E(meta kgo.BrokerMetadata, _ int16, e2e kgo.BrokerE2E) {
	h.request(meta, e2e.Err())
}

func (h *health) request(meta kgo.BrokerMetadata, err error) {
	if err != nil && (errors.Is(err, context.Canceled) || errors.Is(err, kgo.ErrClientClosed) || errors.Is(err, net.ErrClosed)) {
		return // our own shutdown, not the broker's
	}
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		if !h.errSince.IsZero() && now.Sub(h.errSince) >= kafkaDownAfter {
			h.info("Kafka answers again", "broker", fmt.Sprintf("%s:%d", meta.Host, meta.Port), "after", now.Sub(h.errSince).Round(time.Millisecond))
		}
		h.errSince, h.lastErr = time.Time{}, nil
		return
	}
	if h.errSince.IsZero() {
		h.errSince = now
	}
	h.lastErr = fmt.Errorf("broker %s:%d: %w", meta.Host, meta.Port, err)
	if now.Sub(h.warned) >= warnEvery {
		h.warned = now
		h.log("Kafka request failing", "err", h.lastErr, "failing_for", now.Sub(h.errSince).Round(time.Millisecond))
	}
}

// fetchError records an error the consumer reported for a partition.
func (h *health) fetchError(topic string, partition int32, err error) {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	if now.Sub(h.warned) >= warnEvery {
		h.warned = now
		h.log("fetch error", "topic", topic, "partition", partition, "err", err)
	}
}

// up: a session joined the group. down: the session failed.
func (h *health) up() {
	h.mu.Lock()
	h.sessionUp = true
	h.mu.Unlock()
}

func (h *health) down(err error) {
	h.mu.Lock()
	h.sessionUp = false
	h.workingSince = time.Time{}
	h.mu.Unlock()
}

// working: an interval with records to commit began ending at t.
func (h *health) working(t time.Time) {
	h.mu.Lock()
	if h.workingSince.IsZero() {
		h.workingSince = t
	}
	h.mu.Unlock()
}

func (h *health) committed(t time.Time) {
	h.mu.Lock()
	h.lastCommit, h.workingSince, h.abortsInRow, h.lastCause = t, time.Time{}, 0, ""
	h.mu.Unlock()
	h.m.lastCommit.Set(float64(t.UnixNano()) / 1e9)
}

// aborted counts an aborted transaction that had work; it returns how many aborted
// in a row.
func (h *health) aborted(cause string) int {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.abortsInRow++
	h.lastCause = cause
	return h.abortsInRow
}

// kafkaUp: a session is joined and the broker answers.
func (h *health) kafkaUp() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.sessionUp && (h.errSince.IsZero() || h.now().Sub(h.errSince) < kafkaDownAfter)
}

func (h *health) abortStreak() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.abortsInRow
}

// unhealthy says why the pipeline cannot be trusted to commit, or "".
func (h *health) unhealthy() string {
	now := h.now()
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case !h.errSince.IsZero() && now.Sub(h.errSince) >= kafkaDownAfter:
		return fmt.Sprintf("Kafka unreachable for %s: %v", now.Sub(h.errSince).Round(time.Second), h.lastErr)
	case h.abortsInRow >= abortsUnready:
		return fmt.Sprintf("not committing: the last %d transactions aborted; last cause: %s", h.abortsInRow, h.lastCause)
	case !h.workingSince.IsZero() && now.Sub(h.workingSince) >= stallAfter:
		return fmt.Sprintf("not committing: records waiting for %s without a commit", now.Sub(h.workingSince).Round(time.Second))
	}
	return ""
}

// summarize logs one line every interval: throughput, lag, commits and aborts, so
// an operator reading the log sees the pipeline move without per-event noise.
func (rt *Runtime) summarize(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	last := rt.metrics.snapshot()
	lastAt := rt.now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		cur, now := rt.metrics.snapshot(), rt.now()
		secs := max(now.Sub(lastAt).Seconds(), 1e-3)
		ok, why := rt.Ready()
		if why == "" {
			why = "ready"
		}
		rt.log.Info("summary",
			"records_per_second", int64((cur.processed-last.processed)/secs),
			"consumed", int64(cur.consumed-last.consumed),
			"commits", int64(cur.commits-last.commits),
			"aborts", int64(cur.aborted-last.aborted),
			"lag", int64(cur.lag),
			"partitions", len(rt.Partitions()),
			"ready", ok, "status", why)
		last, lastAt = cur, now
	}
}

// counterValue reads a counter or gauge for the summary line.
func counterValue(c prometheus.Metric) float64 {
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		return 0
	}
	if m.Counter != nil {
		return m.Counter.GetValue()
	}
	return m.Gauge.GetValue()
}
