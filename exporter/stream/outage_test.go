package stream

import (
	"context"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/twmb/franz-go/pkg/kfake"
)

// restartableCluster is a kfake broker on a fixed loopback port whose data
// survives Stop and Start, as a real broker's does across a restart.
type restartableCluster struct {
	t    *testing.T
	port int
	dir  string
	c    *kfake.Cluster
}

func newRestartableCluster(t *testing.T) *restartableCluster {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	rc := &restartableCluster{t: t, port: port, dir: t.TempDir()}
	rc.Start()
	t.Cleanup(func() {
		if rc.c != nil {
			rc.c.Close()
		}
	})
	return rc
}

func (rc *restartableCluster) Addr() string { return "127.0.0.1:" + strconv.Itoa(rc.port) }

func (rc *restartableCluster) Start() {
	rc.t.Helper()
	var err error
	for range 50 { // the port may take a moment to be free again
		rc.c, err = kfake.NewCluster(kfake.NumBrokers(1), kfake.Ports(rc.port), kfake.DataDir(rc.dir),
			kfake.SeedTopics(partitions, input), kfake.GroupMinSessionTimeout(time.Second))
		if err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	rc.t.Fatal(err)
}

func (rc *restartableCluster) Stop() {
	rc.c.Close()
	rc.c = nil
}

// TestBrokerOutage: the broker goes away mid-stream, with records in flight, for
// longer than a transaction may take to end, and comes back with its data. While
// it is away kwindow says so (/readyz 503 with the reason, kwindow_kafka_up 0);
// then it reconnects by itself and every window is published exactly once with
// its exact count. Before, kwindow answered ready throughout and exited after
// about 30 s.
func TestBrokerOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("a 35 s outage")
	}
	rc := newRestartableCluster(t)
	addr := rc.Addr()
	cfg := instanceConfig(t, addr, "a", filepath.Join(t.TempDir(), "state"))
	tr := &traffic{counts: map[string]uint64{}, base: (time.Now().UnixMilli() - 3600_000) / minute * minute}
	rng := rand.New(rand.NewPCG(6, 1))
	prod := client(t, addr)

	ctx, cancel := context.WithCancel(context.Background())
	reg := prometheus.NewRegistry()
	rt, err := New(ctx, cfg, Options{Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	rt.backoffMax = 2 * time.Second
	in := &instance{rt: rt, reg: reg, cancel: cancel, done: make(chan error, 1)}
	go func() { in.done <- rt.Run(ctx) }()
	defer in.stop(t)
	waitReady(t, in)

	for range 10 {
		produce(t, prod, tr.batch(rng, 300))
	}
	produce(t, prod, tr.batch(rng, 3000)) // still being processed when the broker goes
	rc.Stop()
	prod.Close()

	var sawReason string
	var sawDown bool
	for end := time.Now().Add(35 * time.Second); time.Now().Before(end); time.Sleep(250 * time.Millisecond) {
		if ok, why := rt.Ready(); !ok && why != "" {
			sawReason = why
		}
		if up, err := testutil.GatherAndCount(reg, "kwindow_kafka_up"); err == nil && up == 1 && gaugeValue(t, reg, "kwindow_kafka_up") == 0 {
			sawDown = true
		}
		select {
		case err := <-in.done:
			in.done <- err // for the deferred stop
			t.Fatalf("kwindow stopped during the outage: %v", err)
		default:
		}
	}
	if !strings.Contains(sawReason, "Kafka") {
		t.Errorf("during the outage /readyz said %q, want a reason naming Kafka", sawReason)
	}
	if !sawDown {
		t.Error("kwindow_kafka_up never went to 0 during the outage")
	}
	rc.Start()
	prod = client(t, addr)
	for range 10 {
		produce(t, prod, tr.batch(rng, 300))
	}
	waitReady(t, in)
	produce(t, prod, tr.closeAll())
	checkExact(t, addr, tr)
}

func gaugeValue(t *testing.T, g prometheus.Gatherer, name string) float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.Metric) == 1 {
			return mf.Metric[0].GetGauge().GetValue()
		}
	}
	return -1
}
