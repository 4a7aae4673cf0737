// Command peerbench measures kwindow's engine and VictoriaMetrics vmagent's stream
// aggregation doing the same work per key (count and P50/P95/P99 of a latency over a
// 1-minute window) at the same key counts, taking turns, and prints events (kwindow)
// and samples (vmagent) per CPU-second of each process and their ratio. `make
// bench-peers` runs it through .ci/bench-peers, which builds both programs.
//
// The figure is CPU time, not wall time: on a shared machine a process waiting for
// a core is slower by the clock but not per CPU-second. A run that fails (a program
// that exits with an error, vmagent aggregating fewer samples than it was sent)
// fails the command; a low ratio does not.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strconv"
	"strings"
)

func main() {
	log.SetFlags(0)
	log.SetOutput(os.Stdout)
	log.SetPrefix("peerbench: ")
	var (
		engineTest = flag.String("engine-test", "", "test binary of exporter/engine (go test -c), required")
		vmagent    = flag.String("vmagent", "", "vmagent binary, required")
		keysFlag   = flag.String("keys", "400,10000", "key counts, comma-separated (multiples of 20)")
		rounds     = flag.Int("rounds", 3, "runs of each program per key count, taking turns")
		events     = flag.Int("events", 4_000_000, "events per kwindow run (4,000,000 is 100 s of event time: a window closes)")
		samples    = flag.Int("samples", 10_000_000, "samples per vmagent run")
		procs      = flag.Int("vmagent-procs", 1, "GOMAXPROCS of vmagent (kwindow's benchmark runs with -cpu=1)")
		workDir    = flag.String("dir", os.TempDir(), "directory for vmagent's files")
		profile    = flag.String("vmagent-profile", "", "write a 5 s CPU profile of vmagent's last run to this file")
	)
	flag.Parse()
	if *engineTest == "" || *vmagent == "" {
		log.Fatal("-engine-test and -vmagent are required")
	}
	var keys []int
	for _, s := range strings.Split(*keysFlag, ",") {
		k, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || k <= 0 || k%20 != 0 {
			log.Fatalf("-keys: want positive multiples of 20, got %q", s)
		}
		keys = append(keys, k)
	}
	if *rounds < 1 || *events < 1 || *samples < 1 || *procs < 1 {
		log.Fatal("-rounds, -events, -samples and -vmagent-procs must be >= 1")
	}

	kw := map[int][]float64{}
	vm := map[int][]float64{}
	for r := 1; r <= *rounds; r++ {
		for _, k := range keys {
			rate, err := runKwindow(*engineTest, k, *events)
			if err != nil {
				log.Fatalf("round %d, kwindow, %d keys: %v", r, k, err)
			}
			log.Printf("round %d, %5d keys: kwindow %s events/cpu-s", r, k, millions(rate))
			kw[k] = append(kw[k], rate)

			res, err := runVmagent(vmagentRun{bin: *vmagent, dir: *workDir, keys: k, samples: *samples, procs: *procs, profile: *profile})
			if err != nil {
				log.Fatalf("round %d, vmagent, %d keys: %v", r, k, err)
			}
			log.Printf("round %d, %5d keys: vmagent %s samples/cpu-s (%.2f CPU-s, %d samples aggregated)",
				r, k, millions(res.rate), res.cpuSeconds, res.aggregated)
			vm[k] = append(vm[k], res.rate)
		}
	}

	fmt.Printf("\nper CPU-second, median (min–max) of %d runs each; kwindow with -cpu=1, vmagent with GOMAXPROCS=%d\n\n", *rounds, *procs)
	fmt.Println("| keys | kwindow events/CPU-s | vmagent samples/CPU-s | kwindow ÷ vmagent |")
	fmt.Println("| ---: | --- | --- | --- |")
	for _, k := range keys {
		a, b := kw[k], vm[k]
		fmt.Printf("| %d | %s | %s | **%.2f×** (%.2f–%.2f) |\n", k, spread(a), spread(b),
			median(a)/median(b), slices.Min(a)/slices.Max(b), slices.Max(a)/slices.Min(b))
	}
}

func spread(xs []float64) string {
	return fmt.Sprintf("%s (%s–%s)", millions(median(xs)), millions(slices.Min(xs)), millions(slices.Max(xs)))
}

func millions(x float64) string { return fmt.Sprintf("%.2fM", x/1e6) }

func median(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if n := len(s); n%2 == 0 {
		return (s[n/2-1] + s[n/2]) / 2
	}
	return s[len(s)/2]
}
