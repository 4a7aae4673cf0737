package metrics

import (
	"strings"
	"testing"

	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/stream"
)

// TestWindowCompleteAcrossPartitions: /a belongs to partition 0 and /b to
// partition 1. Partition 0 closes windows W0 and W1 before partition 1 closes
// W0. The window gauges of both keys show only windows every local partition has
// closed, so the keys of the instance move from window to window together, and
// the anomaly history sees each window once, in order.
func TestWindowCompleteAcrossPartitions(t *testing.T) {
	v := NewView(parseConfig(t, `
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    measures: [count]
    anomaly: {measures: [count], alpha: 0.5, warmup: 2}
`))
	c := NewCollector(v)
	closed := func(p int32, st int64, g string, ws ...engine.Change) stream.Commit {
		for i := range ws {
			ws[i] = withKey(ws[i], g)
		}
		return stream.Commit{Partition: p, StreamTime: st, Closed: ws}
	}
	a, b := group("/a"), group("/b")
	v.Active(0, 0, nil)
	v.Active(1, 0, nil)

	steps := []struct {
		commits []stream.Commit
		a, b    float64 // window_requests, -1 for none
	}{
		// Partition 0 closes W0 (6 events) and W1 (5) of /a; partition 1 is at 30 s.
		{[]stream.Commit{closed(0, 2*minute+10000, a, window(0, 6, 0, 10), window(minute, 5, 0, 10)), closed(1, 30000, b)}, -1, -1},
		// Partition 1 closes W0 of /b (4): W0 is complete, W1 is not.
		{[]stream.Commit{closed(1, minute+10000, b, window(0, 4, 0, 10))}, 6, 4},
		// Partition 1 closes W1 (7).
		{[]stream.Commit{closed(1, 2*minute+10000, b, window(minute, 7, 0, 10))}, 5, 7},
		// Both close W2: /a's 8 is scored against the history of W0 and W1.
		{[]stream.Commit{closed(0, 3*minute+10000, a, window(2*minute, 8, 0, 10)), closed(1, 3*minute+10000, b, window(2*minute, 1, 0, 10))}, 8, 1},
	}
	for i, s := range steps {
		v.Committed(s.commits)
		text := gatherText(t, c)
		for _, k := range []struct {
			name string
			want float64
		}{{"/a", s.a}, {"/b", s.b}} {
			got, ok := sample(t, text, `kwindow_endpoint_1m_window_requests{endpoint="`+k.name+`"}`)
			if !ok {
				got = -1
			}
			if got != k.want {
				t.Errorf("step %d: %s window_requests %v, want %v (-1: none)", i, k.name, got, k.want)
			}
		}
	}
	// History 6, 5 (alpha 0.5): mean 5.5, variance 0.5·(0 + 0.5·1²) = 0.25; W2 = 8
	// scores (8 - 5.5) / 0.5.
	got, ok := sample(t, gatherText(t, c), `kwindow_endpoint_1m_anomaly_score{endpoint="/a",measure="count"}`)
	if !ok || got != 5 {
		t.Errorf("anomaly score of W2 = %v (exported %v), want 5: the history must hold W0 = 6 and W1 = 5, once each", got, ok)
	}
}

// TestSessionWindowCloseTime: a session window completes at its own close time
// (last event + gap + grace), not at end + grace.
func TestSessionWindowCloseTime(t *testing.T) {
	v := NewView(parseConfig(t, `
aggregations:
  - name: sessions
    group_by: [endpoint]
    window: {type: session, gap: 30s}
    measures: [count]
`))
	c := NewCollector(v)
	a := group("/a")
	// A session whose last event is at 10 s: End is 10 s + 1 ms, close 40 s.
	session := engine.Change{Group: a, Start: 0, Value: window(0, 3, 0, 10).Value}
	session.Value.End, session.Value.Last = 10001, 10000
	v.Active(0, 0, nil)
	v.Active(1, 0, nil)
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 40000, Closed: []engine.Change{session}}, {Partition: 1, StreamTime: 39999}})
	const gauge = `kwindow_sessions_window_requests{endpoint="/a"}`
	if got, ok := sample(t, gatherText(t, c), gauge); ok {
		t.Errorf("session exported as %v while partition 1 (stream time 39.999 s) has not reached its close time", got)
	}
	v.Committed([]stream.Commit{{Partition: 1, StreamTime: 40000}})
	if got, _ := sample(t, gatherText(t, c), gauge); got != 3 {
		t.Errorf("window_requests %v once both partitions passed the close time, want 3", got)
	}
}

// TestPendingWindowsBounded: a partition that never catches up holds at most
// maxPending windows per key; the next forces the oldest out, counted.
func TestPendingWindowsBounded(t *testing.T) {
	v := NewView(testConfig(t))
	c := NewCollector(v)
	a := group("/a")
	v.Active(1, 30000, nil) // never closes anything
	const gauge = `kwindow_endpoint_1m_window_requests{endpoint="/a"}`
	const forced = `kwindow_window_forced_total{aggregation="endpoint_1m"}`
	for i := int64(0); i <= maxPending; i++ {
		v.Committed([]stream.Commit{{Partition: 0, StreamTime: (i+1)*minute + 10000,
			Closed: []engine.Change{withKey(window(i*minute, int(10+i), 0, 10), a)}}})
		text := gatherText(t, c)
		got, ok := sample(t, text, gauge)
		n, _ := sample(t, text, forced)
		if pending := i + 1; pending <= maxPending {
			if ok || n != 0 {
				t.Errorf("%d windows pending: window_requests %v (exported %v), forced %v; want none and 0", pending, got, ok, n)
			}
			if k := v.aggs[0].keys[a]; len(k.pending) != int(pending) {
				t.Errorf("%d windows pending, the view holds %d", pending, len(k.pending))
			}
			continue
		}
		// One past the bound: the oldest (W0, 10 events) goes out as it is.
		if got != 10 || n != 1 {
			t.Errorf("%d windows pending: window_requests %v, forced %v; want 10 (W0) and 1", i+1, got, n)
		}
		if k := v.aggs[0].keys[a]; len(k.pending) != maxPending {
			t.Errorf("the view holds %d pending windows, want %d", len(k.pending), maxPending)
		}
	}
	// Partition 1 catches up, with no event of /a (a key of partition 0): W1 is
	// complete.
	v.Committed([]stream.Commit{{Partition: 1, StreamTime: 2*minute + 10000}})
	text := gatherText(t, c)
	if got, _ := sample(t, text, gauge); got != 11 {
		t.Errorf("window_requests %v after partition 1 passed W1, want 11", got)
	}
	if got, _ := sample(t, text, forced); got != 1 {
		t.Errorf("forced %v, want 1", got)
	}
}

// TestInactiveCompletesWindows: a window waiting for a partition is complete
// once that partition leaves the instance.
func TestInactiveCompletesWindows(t *testing.T) {
	v := NewView(testConfig(t))
	c := NewCollector(v)
	a := group("/a")
	v.Active(1, 30000, nil)
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute + 10000, Closed: []engine.Change{withKey(window(0, 6, 0, 10), a)}}})
	const gauge = `kwindow_endpoint_1m_window_requests{endpoint="/a"}`
	if got, ok := sample(t, gatherText(t, c), gauge); ok {
		t.Fatalf("window exported as %v while partition 1 is behind", got)
	}
	v.Inactive(1)
	if got, _ := sample(t, gatherText(t, c), gauge); got != 6 {
		t.Errorf("window_requests %v after partition 1 left, want 6", got)
	}
}

// TestIdleKeysDropped: activity is per key. On a busy partition, a key whose
// last event is idle_windows windows old is dropped from the view, even while
// late events still change its running total; another key of the partition
// stays. When it has events again, its counters resume from its running total.
func TestIdleKeysDropped(t *testing.T) {
	v := NewView(testConfig(t)) // idle_windows: 2
	c := NewCollector(v)
	a, b := group("/a"), group("/b")
	keyTotal := func(g string, n uint64, last int64) engine.Change {
		ch := withKey(total(n, 0, 0, 10), g)
		ch.Value.Last = last
		return ch
	}
	// /b's last event is at 30 s (in W0); after that it only gets late events.
	bw := withKey(window(0, 1, 0, 10), b)
	bw.Value.Last = 30000
	for i := int64(0); i < 5; i++ {
		commit := stream.Commit{Partition: 0, StreamTime: (i+1)*minute + 10000,
			Closed: []engine.Change{withKey(window(i*minute, 5, 0, 10), a)},
			Totals: []engine.Change{keyTotal(a, uint64(5*(i+1)), (i+1)*minute-1), keyTotal(b, uint64(1+i), 30000)}}
		if i == 0 {
			commit.Closed = append(commit.Closed, bw)
		}
		v.Committed([]stream.Commit{commit})
		text := gatherText(t, c)
		// The newest window starts at i minutes; /b is idle once 30 s is before
		// i - 2 minutes.
		idle := i >= 3
		if present := strings.Contains(text, `endpoint="/b"`); present == idle {
			t.Errorf("window %d: /b exported %v, want %v", i, present, !idle)
		}
		if _, ok := sample(t, text, `kwindow_endpoint_1m_window_requests{endpoint="/a"}`); !ok {
			t.Errorf("window %d: /a, active, is not exported", i)
		}
		want := 2
		if idle {
			want = 1
		}
		if n := len(v.aggs[0].keys); n != want {
			t.Errorf("window %d: the view holds %d keys, want %d", i, n, want)
		}
	}
	// More late events for /b between windows do not bring it back.
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 5*minute + 10000, Totals: []engine.Change{keyTotal(b, 6, 30000)}}})
	if text := gatherText(t, c); strings.Contains(text, `endpoint="/b"`) {
		t.Errorf("/b, idle, is exported again after a late event:\n%s", text)
	}
	// /b has an event again: its counter resumes from its running total.
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: 5*minute + 20000, Totals: []engine.Change{keyTotal(b, 7, 5*minute+20000)}}})
	if got, _ := sample(t, gatherText(t, c), `kwindow_endpoint_1m_requests_total{endpoint="/b"}`); got != 7 {
		t.Errorf("/b requests_total %v after it came back, want 7", got)
	}
}

// TestPartitionWithoutEventsDoesNotHoldBack: a local partition that never had an
// event (stream time engine.NoTime, e.g. an input partition no producer writes
// to) has nothing to add to any window, and windows do not wait for it.
func TestPartitionWithoutEventsDoesNotHoldBack(t *testing.T) {
	v := NewView(testConfig(t))
	c := NewCollector(v)
	v.Active(1, engine.NoTime, nil)
	v.Committed([]stream.Commit{{Partition: 0, StreamTime: minute + 10000, Closed: []engine.Change{withKey(window(0, 6, 0, 10), group("/a"))}},
		{Partition: 1, StreamTime: engine.NoTime}})
	if got, _ := sample(t, gatherText(t, c), `kwindow_endpoint_1m_window_requests{endpoint="/a"}`); got != 6 {
		t.Errorf("window_requests %v, want 6: partition 1 has no events and nothing to add", got)
	}
}

// TestEmptyView: before any commit, a scrape has only the per-aggregation
// families, and no error.
func TestEmptyView(t *testing.T) {
	v := NewView(testConfig(t))
	v.Active(0, engine.NoTime, nil)
	text := gatherText(t, NewCollector(v))
	for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
		if !strings.HasPrefix(line, "#") && !strings.HasPrefix(line, "kwindow_window_") {
			t.Errorf("empty view exports %s", line)
		}
	}
	if !strings.Contains(text, `kwindow_window_forced_total{aggregation="endpoint_1m"} 0`) {
		t.Errorf("empty view lacks the forced windows counter:\n%s", text)
	}
}
