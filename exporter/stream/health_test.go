package stream

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
)

// TestHealth: what /readyz and kwindow_kafka_up say as the broker fails and
// recovers and as transactions abort and commit, on an injected clock.
func TestHealth(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	clock := func() time.Time { return now }
	reg := prometheus.NewRegistry()
	h := newHealth(clock, newMetrics(config.Default(), reg))
	var warnings []string
	h.log = func(msg string, _ ...any) { warnings = append(warnings, msg) }
	broker := kgo.BrokerMetadata{Host: "127.0.0.1", Port: 9092}
	ok := func(want bool, contains string) {
		t.Helper()
		why := h.unhealthy()
		if (why == "") != want || !strings.Contains(why, contains) {
			t.Errorf("at %v: unhealthy() = %q, want healthy=%v containing %q", now.Format(time.TimeOnly), why, want, contains)
		}
	}
	up := func(want float64) {
		t.Helper()
		if got := gaugeValue(t, reg, "kwindow_kafka_up"); got != want {
			t.Errorf("at %v: kwindow_kafka_up = %v, want %v", now.Format(time.TimeOnly), got, want)
		}
	}

	up(0) // no session yet
	h.up()
	up(1)
	ok(true, "")

	// The broker stops answering: not yet unhealthy at 4.9 s, unhealthy at 5 s.
	h.OnBrokerE2E(broker, 0, kgo.BrokerE2E{ReadErr: errors.New("connection refused")})
	now = now.Add(4900 * time.Millisecond)
	h.OnBrokerE2E(broker, 0, kgo.BrokerE2E{ReadErr: errors.New("connection refused")})
	ok(true, "")
	up(1)
	now = now.Add(100 * time.Millisecond)
	ok(false, "Kafka unreachable for 5s: broker 127.0.0.1:9092: connection refused")
	up(0)
	if len(warnings) != 1 {
		t.Errorf("%d warnings in 5 s of failures, want 1 (rate-limited)", len(warnings))
	}
	// One answer and it is back.
	h.OnBrokerE2E(broker, 0, kgo.BrokerE2E{})
	ok(true, "")
	up(1)
	// Our own shutdown is not the broker failing.
	h.OnBrokerE2E(broker, 0, kgo.BrokerE2E{ReadErr: kgo.ErrClientClosed})
	now = now.Add(time.Minute)
	ok(true, "")

	// Four aborts in a row are a rebalance; the fifth is a pipeline that cannot commit.
	for i := range 5 {
		h.working(now)
		if n := h.aborted("MESSAGE_TOO_LARGE"); n != i+1 {
			t.Errorf("aborted() = %d, want %d", n, i+1)
		}
		if i < 4 {
			ok(true, "")
		}
	}
	ok(false, "not committing: the last 5 transactions aborted; last cause: MESSAGE_TOO_LARGE")
	if got := gaugeValue(t, reg, "kwindow_aborted_transactions_in_a_row"); got != 5 {
		t.Errorf("kwindow_aborted_transactions_in_a_row = %v, want 5", got)
	}
	h.committed(now)
	ok(true, "")
	if got := gaugeValue(t, reg, "kwindow_last_commit_timestamp_seconds"); got != float64(now.Unix()) {
		t.Errorf("kwindow_last_commit_timestamp_seconds = %v, want %v", got, now.Unix())
	}

	// Work waiting without a commit (a transaction that cannot end): unhealthy
	// after 30 s.
	h.working(now)
	now = now.Add(29 * time.Second)
	ok(true, "")
	now = now.Add(time.Second)
	ok(false, "records waiting for 30s without a commit")
	h.down(errors.New("session failed"))
	up(0)
}
