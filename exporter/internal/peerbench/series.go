package main

import (
	"fmt"
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// linesPerBody is the samples of one pushed request body (about 5 MB).
const linesPerBody = 50_000

// The label sets of BenchmarkPeers (exporter/engine/peers_bench_test.go): endpoints ×
// these statuses × these regions, keys/20 endpoints named /api/e0000, /api/e0001, ….
var (
	statuses = []string{"200", "201", "404", "500", "503"}
	regions  = []string{"us-east-1", "us-west-2", "eu-west-1", "ap-south-1"}
)

// promBodies returns 8 request bodies of linesPerBody samples in Prometheus text
// format, each over a series drawn uniformly from keys series, with log-normal
// latencies in seconds (median 20 ms, σ 0.5, microsecond resolution: the
// distribution of BenchmarkPeers' events) and a timestamp; and a warm-up body
// holding each series once.
func promBodies(keys int) (bodies [][]byte, warmup []byte) {
	now := time.Now().UnixMilli()
	rng := rand.New(rand.NewPCG(1, 2))
	line := func(dst []byte, k int) []byte {
		lat := max(math.Round(20*math.Exp(0.5*rng.NormFloat64())*1000), 1) / 1e6
		return fmt.Appendf(dst, "http_request_duration_seconds{endpoint=\"/api/e%04d\",status=\"%s\",region=\"%s\"} %s %d\n",
			k/(len(statuses)*len(regions)), statuses[k/len(regions)%len(statuses)], regions[k%len(regions)],
			strconv.FormatFloat(lat, 'f', -1, 64), now)
	}
	for k := range keys {
		warmup = line(warmup, k)
	}
	bodies = make([][]byte, 8)
	for i := range bodies {
		for range linesPerBody {
			bodies[i] = line(bodies[i], rng.IntN(keys))
		}
	}
	return bodies, warmup
}
