package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// aggrConfig is vmagent's stream aggregation rule: per series (no by/without: every
// label kept), count and three quantiles over 1-minute intervals. Matched input
// samples are dropped after aggregation (vmagent's default), so remote write carries
// only the aggregates, once a minute.
const aggrConfig = `- match: 'http_request_duration_seconds'
  interval: 1m
  outputs: [count_samples, 'quantiles(0.5, 0.95, 0.99)']
`

type vmagentRun struct {
	bin, dir      string
	keys, samples int
	procs         int
	profile       string // where to write a CPU profile of vmagent taken during the measurement
}

type vmagentResult struct {
	rate       float64 // samples per CPU-second
	cpuSeconds float64
	aggregated int64 // vm_streamaggr_matched_samples_total during the measurement
}

// runVmagent starts vmagent with the rule, pushes one warm-up body holding every
// series, then r.samples samples in pre-built Prometheus text bodies over HTTP from
// this process, and returns the samples per CPU-second vmagent spent on them
// (utime + stime of its process, every thread). It fails unless vmagent's stream
// aggregation counted exactly the samples sent and ignored none.
func runVmagent(r vmagentRun) (res vmagentResult, err error) {
	dir, err := os.MkdirTemp(r.dir, "peerbench-vmagent-")
	if err != nil {
		return res, err
	}
	defer os.RemoveAll(dir)
	cfg := filepath.Join(dir, "aggr.yml")
	if err := os.WriteFile(cfg, []byte(aggrConfig), 0o644); err != nil {
		return res, err
	}

	sink, err := startSink()
	if err != nil {
		return res, err
	}
	defer sink.Close()
	addr, err := freeAddr()
	if err != nil {
		return res, err
	}
	logFile, err := os.Create(filepath.Join(dir, "vmagent.log"))
	if err != nil {
		return res, err
	}
	defer logFile.Close()
	cmd := exec.Command(r.bin, "-httpListenAddr="+addr,
		"-remoteWrite.url=http://"+sink.Addr+"/api/v1/write",
		"-remoteWrite.tmpDataPath="+filepath.Join(dir, "remotewrite"),
		"-streamAggr.config="+cfg, "-loggerLevel=WARN")
	cmd.Env = append(os.Environ(), "GOMAXPROCS="+strconv.Itoa(r.procs))
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		return res, fmt.Errorf("start %s: %w", r.bin, err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(os.Interrupt)
		select {
		case <-exited:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		if err != nil {
			log, _ := os.ReadFile(logFile.Name())
			err = fmt.Errorf("%w\nvmagent's log:\n%s", err, tail(log, 2000))
		}
	}()
	base := "http://" + addr
	if err := waitHealthy(base, exited); err != nil {
		return res, err
	}

	bodies, warmup := promBodies(r.keys)
	if err := push(base, [][]byte{warmup}, 1, 1); err != nil {
		return res, fmt.Errorf("warm-up: %w", err)
	}
	m0, err := aggrCounters(base)
	if err != nil {
		return res, err
	}
	c0, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	n := (r.samples + linesPerBody - 1) / linesPerBody
	profiled := make(chan error, 1)
	if r.profile != "" {
		go func() { profiled <- saveProfile(base, r.profile) }()
	} else {
		profiled <- nil
	}
	if err := push(base, bodies, n, 2); err != nil {
		return res, err
	}
	c1, err := procCPU(cmd.Process.Pid)
	if err != nil {
		return res, err
	}
	m1, err := aggrCounters(base)
	if err != nil {
		return res, err
	}
	if err := <-profiled; err != nil {
		return res, fmt.Errorf("profile: %w", err)
	}
	sent := int64(n) * linesPerBody
	res.aggregated = m1.matched - m0.matched
	if res.aggregated != sent || m1.ignored != m0.ignored {
		return res, fmt.Errorf("stream aggregation matched %d samples and ignored %d, want %d and 0",
			res.aggregated, m1.ignored-m0.ignored, sent)
	}
	res.cpuSeconds = (c1 - c0).Seconds()
	res.rate = float64(sent) / res.cpuSeconds
	return res, nil
}

// push posts bodies (cycling through them) n times over conns connections to
// vmagent's Prometheus text import endpoint.
func push(base string, bodies [][]byte, n, conns int) error {
	url := base + "/api/v1/import/prometheus"
	var (
		mu       sync.Mutex
		next     int
		firstErr error
		wg       sync.WaitGroup
	)
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				mu.Lock()
				i := next
				next++
				stop := i >= n || firstErr != nil
				mu.Unlock()
				if stop {
					return
				}
				if err := post(url, bodies[i%len(bodies)]); err != nil {
					mu.Lock()
					firstErr = errors.Join(firstErr, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}

func post(url string, body []byte) error {
	resp, err := http.Post(url, "text/plain", bytes.NewReader(body))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %s: %s", url, resp.Status, msg)
	}
	return nil
}

func waitHealthy(base string, exited <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("vmagent exited at start: %v", err)
		default:
		}
		if resp, err := http.Get(base + "/health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("vmagent did not answer /health within 30 s")
}

type counters struct{ matched, ignored int64 }

// aggrCounters sums vmagent's own counters of stream aggregation from its /metrics.
func aggrCounters(base string) (counters, error) {
	var c counters
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		return c, err
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		return c, err
	}
	found := false
	for _, line := range strings.Split(string(text), "\n") {
		var dst *int64
		switch {
		case strings.HasPrefix(line, "vm_streamaggr_matched_samples_total{"):
			dst, found = &c.matched, true
		case strings.HasPrefix(line, "vm_streamaggr_ignored_samples_total{"):
			dst = &c.ignored
		default:
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		if err != nil {
			return c, fmt.Errorf("vmagent /metrics: %q: %w", line, err)
		}
		*dst += int64(v)
	}
	if !found {
		return c, errors.New("vmagent /metrics has no vm_streamaggr_matched_samples_total: is stream aggregation on?")
	}
	return c, nil
}

// procCPU is the user + system CPU time of process pid, all its threads.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// The fields after the command name, which is in parentheses and may hold spaces:
	// state is field 3, utime 14 and stime 15, in clock ticks (USER_HZ, 100 on Linux).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0, fmt.Errorf("/proc/%d/stat: %d fields", pid, len(f))
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc/%d/stat: %w", pid, err)
	}
	return time.Duration(ut+st) * (time.Second / 100), nil
}

// saveProfile writes a 5-second CPU profile of vmagent to path.
func saveProfile(base, path string) error {
	resp, err := http.Get(base + "/debug/pprof/profile?seconds=5")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

// startSink serves a remote-write endpoint that accepts and discards everything.
func startSink() (*http.Server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	srv := &http.Server{Addr: ln.Addr().String(), Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.WriteHeader(http.StatusNoContent)
	})}
	go func() { _ = srv.Serve(ln) }()
	return srv, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
