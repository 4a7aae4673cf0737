package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
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
	final := make(chan map[string]seen, 1)
	streamCtx, stopStream := context.WithCancel(ctx)
	defer stopStream()
	go func() {
		last := map[string]seen{}
		for ev, err := range cl0.Stream(streamCtx, client.StreamRequest{Aggregation: "endpoint_1m", Match: []client.Matcher{client.Re("endpoint", "/api/.*")}, Measures: []string{"count"}}) {
			if err != nil || ev.Dropped != "" {
				if streamCtx.Err() == nil {
					t.Errorf("the stream ended: %v %q", err, ev.Dropped)
				}
				break
			}
			u := ev.Update
			last[fmt.Sprintf("%s@%d", u.Labels["endpoint"], int64(u.Start))] = seen{count: float64(u.Values["count"]), partial: u.Partial, hasValue: true}
		}
		final <- last
	}()
	time.Sleep(3 * time.Second) // the instances follow each other's streams every 2 s

	prod, err := kgo.NewClient(kgo.SeedBrokers(broker), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
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

	// The stream saw every window of every endpoint, with its final count.
	time.Sleep(time.Second)
	stopStream()
	last := <-final
	wantWindows := map[string]float64{}
	for _, r := range recs[:3000] {
		var ts int64
		var ep string
		fmt.Sscanf(string(r.Value), `{"timestamp":%d,"endpoint":%q`, &ts, &ep)
		wantWindows[fmt.Sprintf("%s@%d", ep, ts/60000*60000)]++
	}
	for k, n := range wantWindows {
		if s := last[k]; s.count != n || s.partial {
			t.Errorf("stream, window %s: last update count %v partial %v, want %v final", k, s.count, s.partial, n)
		}
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
	addr := freeAddr(t)
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
