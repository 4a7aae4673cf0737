package engine

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/event"
)

// peersConfig is one aggregation doing what the vmagent rule of `make bench-peers`
// does (quantiles(0.5, 0.95, 0.99) and count_samples per series, 1m interval): a 1m
// tumbling window per endpoint × status × region with count and P50/P95/P99.
const peersConfig = `
aggregations:
  - name: peers_1m
    group_by: [endpoint, status, region]
    window: {type: tumbling, size: 1m}
    grace: 10s
    measures: [count]
    quantiles: [0.5, 0.95, 0.99]
`

// The label sets: keys/20 endpoints × 5 statuses × 4 regions, as the series
// exporter/internal/peerbench pushes to vmagent.
var (
	peerStatuses = []string{"200", "201", "404", "500", "503"}
	peerRegions  = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-south-1"}
)

var peersKeys = flag.String("peers.keys", "400,10000", "key counts of BenchmarkPeers, comma-separated")

// BenchmarkPeers is BenchmarkCommitInterval (every=4000) with keys=N distinct group
// keys in one aggregation with count and three quantiles: decode each JSON event
// from memory, apply it, and every 4,000 events encode every changed window and
// running total as changelog record and store-batch entry (closed windows as result
// records). Events pick a key uniformly at random; latencies are log-normal (median
// 20 ms, σ 0.5). -peers.keys chooses the key counts. Besides wall-clock events/s it reports events per CPU-second of the whole
// process (getrusage: GC and every other thread included), the figure `make
// bench-peers` compares with vmagent's samples per CPU-second on a loaded machine.
func BenchmarkPeers(b *testing.B) {
	for _, s := range strings.Split(*peersKeys, ",") {
		keys, err := strconv.Atoi(s)
		if err != nil || keys <= 0 || keys%20 != 0 {
			b.Fatalf("-peers.keys: want positive multiples of 20, got %q", s)
		}
		b.Run("keys="+strconv.Itoa(keys), func(b *testing.B) { benchPeers(b, keys) })
	}
}

func benchPeers(b *testing.B, keys int) {
	cfg, err := config.Parse("peers.yml", []byte(peersConfig))
	if err != nil {
		b.Fatal(err)
	}
	payloads := peerPayloads(keys, 1<<16)
	dec := benchDecoder(b, cfg)
	e := New(cfg)
	tk := newBenchTask(cfg)
	var ev event.Event
	changes := 0
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime(b)
	for i := 0; i < b.N; i++ {
		if err := dec.Decode(payloads[i%len(payloads)], &ev); err != nil {
			b.Fatal(err)
		}
		ev.Time = benchBase + int64(i)/(eventsPerSec/1000)
		e.Process(&ev)
		if (i+1)%benchInterval == 0 {
			changes += tk.commit(e.Flush(), int64(i+1))
		}
	}
	cpu := cpuTime(b) - cpu0
	b.StopTimer()
	if st := e.Stats(0); st.Keys > keys || st.Overflowed != 0 || st.Late != 0 || (b.N >= 10*keys && st.Keys < keys/2) {
		b.Fatalf("after %d events over %d keys: %+v", b.N, keys, st)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
	b.ReportMetric(float64(changes)/float64(b.N), "changes/event")
}

// peerPayloads returns n default-schema request-log events over keys label sets,
// each key drawn uniformly; the timestamp is overwritten after decoding.
func peerPayloads(keys, n int) [][]byte {
	rng := rand.New(rand.NewPCG(1, 2))
	payloads := make([][]byte, n)
	for i := range payloads {
		k := rng.IntN(keys)
		ep, st, rg := k/(len(peerStatuses)*len(peerRegions)), k/len(peerRegions)%len(peerStatuses), k%len(peerRegions)
		lat := math.Round(20*math.Exp(0.5*rng.NormFloat64())*1000) / 1000
		payloads[i] = fmt.Appendf(nil, `{"timestamp":%d,"endpoint":"/api/e%04d","method":"GET","status":%s,"region":"%s","latency_ms":%s}`,
			benchBase, ep, peerStatuses[st], peerRegions[rg], strconv.FormatFloat(max(lat, 0.001), 'f', -1, 64))
	}
	return payloads
}

// cpuTime is the CPU time (user + system) the process has used.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
