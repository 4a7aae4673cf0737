package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/api/client"
	"github.com/kwindow/kwindow/exporter/config"
	"github.com/kwindow/kwindow/exporter/internal/testtool"
	"github.com/kwindow/kwindow/exporter/web"
)

// TestQueryAPI runs three exporters as `kwindow run` does (serveStream), one
// consumer group behind a bearer token, and queries each over HTTP with the Go
// client: every instance answers the same exact counts, fanning out to the
// others with the token it read from the tokens file; a request without the
// token or with a wrong one is 401 while /metrics needs none; and a live stream
// on one instance carries the windows of every partition.
func TestQueryAPI(t *testing.T) {
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(6, "requests"), kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	broker := c.ListenAddrs()[0]
	tokens := filepath.Join(t.TempDir(), "tokens")
	if err := os.WriteFile(tokens, []byte("# the API's tokens\nsecret-token-1\nsecret-token-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var addrs []string
	for _, id := range []string{"a", "b", "c"} {
		cfg, err := config.Parse("k.yml", fmt.Appendf(nil, `
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: api, instance_id: %s, input_topic: requests, commit_interval: 50ms, idle_timeout: 0s, session_timeout: 3s}
state: {dir: %q}
api: {tokens_file: %q}
`, broker, id, t.TempDir(), tokens))
		if err != nil {
			t.Fatal(err)
		}
		addrs = append(addrs, startAPIExporter(t, cfg))
	}
	// Each instance serves HTTP (/healthz) before joining the group.
	for _, addr := range addrs {
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			resp, err := http.Get("http://" + addr + "/healthz")
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
				err = fmt.Errorf("status %s", resp.Status)
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s/healthz: %v", addr, err)
			}
		}
	}

	// Three minutes of events on six partitions, then one per partition ten
	// minutes later, which closes the three.
	base := time.Now().Add(-time.Hour).Truncate(time.Minute)
	want := map[string]float64{}
	var recs []*kgo.Record
	for i := range 3000 {
		ep := fmt.Sprintf("/api/e%d", i%7)
		ts := base.Add(time.Duration(i) * 3 * time.Minute / 3000)
		want[ep]++
		recs = append(recs, &kgo.Record{Topic: "requests", Partition: int32(i % 6),
			Value: fmt.Appendf(nil, `{"timestamp":%d,"endpoint":%q,"method":"GET","status":200,"region":"eu-west-1","latency_ms":12}`, ts.UnixMilli(), ep)})
	}
	for p := range int32(6) {
		recs = append(recs, &kgo.Record{Topic: "requests", Partition: p,
			Value: fmt.Appendf(nil, `{"timestamp":%d,"endpoint":"/closer","method":"GET","status":200,"region":"eu-west-1","latency_ms":1}`, base.Add(10*time.Minute).UnixMilli())})
	}

	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	// The live stream opens before the events, on the first instance.
	cl0 := apiClient(t, addrs[0], "secret-token-2")
	type seen struct {
		count    float64
		partial  bool
		hasValue bool
	}
	var (
		mu   sync.Mutex
		last = map[string]seen{} // by endpoint@start, the stream's last update
	)
	ended := make(chan struct{})
	probed := make(chan string, 64) // the endpoints of probe windows the stream carried
	probeWindow := base.Add(-5 * time.Minute).UnixMilli()
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	go func() {
		defer close(ended)
		for ev, err := range cl0.Stream(streamCtx, client.StreamRequest{Aggregation: "endpoint_1m", Match: []client.Matcher{client.Re("endpoint", "/api/.*")}, Measures: []string{"count"}}) {
			if err != nil || ev.Dropped != "" {
				if streamCtx.Err() == nil {
					t.Errorf("the stream ended: %v %q", err, ev.Dropped)
				}
				break
			}
			u := ev.Update
			if int64(u.Start) == probeWindow {
				select {
				case probed <- u.Labels["endpoint"]:
				default:
				}
				continue
			}
			mu.Lock()
			last[fmt.Sprintf("%s@%d", u.Labels["endpoint"], int64(u.Start))] = seen{count: float64(u.Values["count"]), partial: u.Partial, hasValue: true}
			mu.Unlock()
		}
	}()

	prod, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	// The group settles: every instance sees three members owning the six
	// partitions between them, none restoring.
	for _, addr := range addrs {
		cl := apiClient(t, addr, "secret-token-1")
		for {
			st, err := cl.Status(ctx)
			if err == nil {
				owned := 0
				for _, m := range st.Members {
					owned += len(m.Partitions) - len(m.Restoring)
				}
				if len(st.Members) == 3 && owned == 6 {
					break
				}
				err = fmt.Errorf("%d members owning %d running partitions", len(st.Members), owned)
			}
			if ctx.Err() != nil {
				t.Fatalf("%s: the group never settled: %v", addr, err)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	// The stream carries a key once the group has settled and the first
	// instance follows the stream of the key's owner. Until a probe of each
	// endpoint, in a window outside the queried range, comes through, probe
	// again: the SSE stream replays nothing, so events produced earlier would
	// be missed, as a live panel opened during a rebalance misses them.
	pending := map[string]bool{}
	for e := range 7 {
		pending[fmt.Sprintf("/api/e%d", e)] = true
	}
	for round := 0; len(pending) > 0; round++ {
		if ctx.Err() != nil {
			t.Fatalf("the live stream on the first instance never carried probes of partitions %v", slices.Sorted(maps.Keys(pending)))
		}
		var probes []*kgo.Record
		for e := range 7 {
			probes = append(probes, &kgo.Record{Topic: "requests", Partition: int32(e % 6),
				Value: fmt.Appendf(nil, `{"timestamp":%d,"endpoint":"/api/e%d","method":"GET","status":200,"region":"eu-west-1","latency_ms":1}`, probeWindow, e)})
		}
		if err := prod.ProduceSync(ctx, probes...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		for deadline := time.After(2 * time.Second); len(pending) > 0; {
			select {
			case ep := <-probed:
				delete(pending, ep)
				continue
			case <-deadline:
			}
			break
		}
		if round > 0 && len(pending) > 0 {
			t.Logf("round %d: the stream has not yet carried probes of %v", round, slices.Sorted(maps.Keys(pending)))
		}
	}

	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}

	req := client.RangeRequest{Aggregation: "endpoint_1m", GroupBy: []string{"endpoint"}, Match: []client.Matcher{client.Re("endpoint", "/api/.*")},
		Measures: []string{"count", "p99"}, From: base, To: base.Add(3 * time.Minute), Step: 3 * time.Minute}
	var answers []map[string]float64
	for i, addr := range addrs {
		cl := apiClient(t, addr, "secret-token-1")
		for {
			r, err := cl.QueryRange(ctx, req)
			if err == nil && r.Complete {
				got := map[string]float64{}
				for _, s := range r.Series {
					for _, p := range s.Points {
						got[s.Labels["endpoint"]] += float64(p.Values["count"])
					}
				}
				if reflect.DeepEqual(got, want) {
					answers = append(answers, got)
					if len(r.Partitions) != 6 || len(r.Instances) != 3 {
						t.Errorf("instance %d read partitions %v from instances %v, want 6 from 3", i, r.Partitions, r.Instances)
					}
					break
				}
				err = fmt.Errorf("counts %v, want %v", got, want)
			}
			if ctx.Err() != nil {
				t.Fatalf("instance %d never answered the exact counts: %v", i, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// Auth: no token and a wrong token are the same 401; /metrics needs none.
	for _, tok := range []string{"", "secret-token-3"} {
		_, err := apiClient(t, addrs[1], tok).QueryRange(ctx, req)
		var ce *client.Error
		if !errors.As(err, &ce) || ce.Status != http.StatusUnauthorized {
			t.Errorf("token %q: %v, want 401", tok, err)
		}
	}
	resp, err := http.Get("http://" + addrs[1] + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/metrics without a token: %d", resp.StatusCode)
	}

	// The stream carries every window of every endpoint with its final count:
	// the windows are final in the answers above, and their final updates reach
	// the subscriber within a few commit intervals (10 s allowed for a loaded
	// machine).
	wantWindows := map[string]float64{}
	for _, r := range recs[:3000] {
		var ts int64
		var ep string
		fmt.Sscanf(string(r.Value), `{"timestamp":%d,"endpoint":%q`, &ts, &ep)
		wantWindows[fmt.Sprintf("%s@%d", ep, ts/60000*60000)]++
	}
	var wrong []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		wrong = wrong[:0]
		mu.Lock()
		for k, n := range wantWindows {
			if s := last[k]; s.count != n || s.partial {
				wrong = append(wrong, fmt.Sprintf("window %s: last update count %v partial %v, want %v final", k, s.count, s.partial, n))
			}
		}
		mu.Unlock()
		if len(wrong) == 0 || time.Now().After(deadline) {
			break
		}
	}
	stopStream()
	<-ended
	slices.Sort(wrong)
	for _, w := range wrong {
		t.Errorf("stream, %s", w)
	}
}

func apiClient(t *testing.T, addr, token string) *client.Client {
	t.Helper()
	var opts []client.Option
	if token != "" {
		opts = append(opts, client.WithToken(token))
	}
	cl, err := client.New("http://"+addr, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// startAPIExporter is startExporter without waiting for /readyz: members of a
// group become ready together, as they join.
func startAPIExporter(t *testing.T, cfg *config.Config) string {
	t.Helper()
	addr := testtool.FreeAddr(t)
	logs := &testtool.Buffer{}
	g := &globals{
		web: &web.FlagConfig{WebListenAddresses: &[]string{addr}, WebSystemdSocket: new(bool), WebConfigFile: new(string)},
		log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error, 1)
	go func() { stopped <- serveStream(ctx, cfg, g, nil) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-stopped:
			if err != nil {
				t.Errorf("kwindow: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("kwindow did not stop within 30s of its context's end")
		}
		if t.Failed() {
			t.Logf("kwindow's log (end):\n%s", tail(logs.String()))
		}
	})
	return addr
}
