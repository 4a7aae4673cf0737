package stream

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// traffic produces events in event-time order (jitter below the grace period, so
// none is late) and remembers how many each window got.
type traffic struct {
	mu     sync.Mutex
	counts map[string]uint64 // endpoint_1m window id -> events
	sent   int
	base   int64
}

var crashEndpoints = []string{"/api/users", "/api/search", "/api/cart", "/api/orders", "/health", "/api/login"}

func (tr *traffic) batch(rng *rand.Rand, n int) []*kgo.Record {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	rs := make([]*kgo.Record, 0, n)
	for i := 0; i < n; i++ {
		ep := rng.IntN(len(crashEndpoints))
		ts := tr.base + int64(tr.sent)*10 + int64(rng.IntN(2000))
		tr.sent++
		tr.counts[fmt.Sprintf("endpoint_1m|endpoint=%s|%d", crashEndpoints[ep], ts/minute*minute)]++
		// Any partition: a key's events are spread over all of them, and stage 2
		// merges them (global windows).
		rs = append(rs, &kgo.Record{Topic: input, Partition: int32(rng.IntN(partitions)), Value: reqJSON(ts, crashEndpoints[ep], 200, 5)})
	}
	return rs
}

// closeAll sends one event per partition far ahead, closing every window sent so far.
func (tr *traffic) closeAll() []*kgo.Record {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	ts := tr.base + int64(tr.sent)*10 + 30*minute
	var rs []*kgo.Record
	for p := 0; p < partitions; p++ {
		rs = append(rs, &kgo.Record{Topic: input, Partition: int32(p), Value: reqJSON(ts, crashEndpoints[p], 200, 5)})
	}
	return rs
}

func startChild(t *testing.T, cfgPath string, logs *bytes.Buffer) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// TestCrash kills the exporter process with SIGKILL at random moments while events
// flow, restarting it each time. Under exactly_once every window's count must equal
// the events sent for it; under at_least_once none may be lower.
func TestCrash(t *testing.T) {
	for _, guarantee := range []string{"exactly_once", "at_least_once"} {
		t.Run(guarantee, func(t *testing.T) { testCrash(t, guarantee) })
	}
}

func testCrash(t *testing.T, guarantee string) {
	if testing.Short() || raceEnabled {
		t.Skip("starts exporter processes; the in-process tests cover data races")
	}
	addr := newCluster(t)
	cfg := testConfig(t, addr, "")
	dir := t.TempDir()
	yml := fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.99]}
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: crash, instance_id: one, input_topic: requests, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 3s, processing_guarantee: %s}
state: {dir: %q}
`, addr, guarantee, filepath.Join(dir, "state"))
	cfgPath := filepath.Join(dir, "kwindow.yml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	_ = cfg
	now := time.Now().UnixMilli()
	tr := &traffic{counts: map[string]uint64{}, base: (now - 2*3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(5, 6))
	prod := client(t, addr)

	var logs bytes.Buffer
	child := startChild(t, cfgPath, &logs)
	defer func() {
		child.Process.Signal(syscall.SIGTERM)
		child.Wait()
		if t.Failed() {
			t.Logf("exporter output:\n%s", logs.String())
		}
	}()
	// About 12 s of traffic at ~5,000 events/s (50 s of event time a second), with
	// four kills at random moments.
	kills := 0
	nextKill := time.Now().Add(time.Duration(1000+rng.IntN(2000)) * time.Millisecond)
	for end := time.Now().Add(12 * time.Second); time.Now().Before(end); {
		produce(t, prod, tr.batch(rng, 500))
		time.Sleep(100 * time.Millisecond)
		if time.Now().After(nextKill) && kills < 4 {
			child.Process.Signal(syscall.SIGKILL)
			child.Wait()
			kills++
			child = startChild(t, cfgPath, &logs)
			nextKill = time.Now().Add(time.Duration(1000+rng.IntN(2500)) * time.Millisecond)
		}
	}
	produce(t, prod, tr.closeAll())
	if kills < 4 {
		t.Fatalf("only %d kills", kills)
	}

	got := published(t, addr, "crash-results", len(tr.counts))
	for id, want := range tr.counts {
		counts := got[id]
		switch {
		case len(counts) == 0:
			t.Errorf("window %s never published (%d events sent)", id, want)
		case guarantee == "exactly_once" && (len(counts) != 1 || counts[0] != want):
			t.Errorf("window %s published as %v, want exactly once with %d", id, counts, want)
		case guarantee == "at_least_once" && counts[len(counts)-1] < want:
			t.Errorf("window %s published as %v: lost events (sent %d)", id, counts, want)
		}
	}
	t.Logf("%s: %d events, %d windows, %d kills", guarantee, tr.sent, len(tr.counts), kills)
}
