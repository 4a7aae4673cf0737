package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/config"
)

const (
	minute     = int64(60000)
	input      = "requests"
	partitions = 3
)

// newCluster starts a kfake broker on 127.0.0.1 with the input topic.
func newCluster(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(partitions, input),
		kfake.GroupMinSessionTimeout(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

// testConfig is a small configuration against broker addr.
func testConfig(t *testing.T, addr, extra string) *config.Config {
	t.Helper()
	yml := fmt.Sprintf(`
aggregations:
  - name: endpoint_1m
    group_by: [endpoint]
    window: {type: tumbling, size: 1m}
    grace: 10s
    quantiles: [0.5, 0.99]
  - name: status_5m
    group_by: [endpoint, status]
    window: {type: hopping, size: 5m, advance: 1m}
    grace: 10s
    measures: [count]
kafka:
  brokers: [%q]
  fetch_max_wait: 50ms
stream:
  application_id: test
  instance_id: a
  input_topic: requests
  late_topic: test-late
  commit_interval: 50ms
  idle_timeout: 0s
state:
  dir: %q
%s`, addr, t.TempDir(), extra)
	c, err := config.Parse("test.yml", []byte(yml))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func client(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produce(t *testing.T, cl *kgo.Client, rs []*kgo.Record) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, rs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

func reqJSON(ts int64, endpoint string, status int, latencyMs float64) []byte {
	return fmt.Appendf(nil, `{"timestamp":%d,"endpoint":%q,"method":"GET","status":%d,"region":"eu-west-1","latency_ms":%g}`,
		ts, endpoint, status, latencyMs)
}

// outputResult is the part of an output record the tests check.
type outputResult struct {
	Aggregation  string            `json:"aggregation"`
	StartMs      int64             `json:"start_ms"`
	EndMs        int64             `json:"end_ms"`
	Key          map[string]string `json:"key"`
	Count        uint64            `json:"count"`
	ClientErrors uint64            `json:"client_errors"`
	ServerErrors uint64            `json:"server_errors"`
	Quantiles    map[string]float64
}

func (r outputResult) id() string {
	var kv []string
	for _, k := range []string{"endpoint", "status"} {
		if v, ok := r.Key[k]; ok {
			kv = append(kv, k+"="+v)
		}
	}
	return r.Aggregation + "|" + strings.Join(kv, ",") + "|" + strconv.FormatInt(r.StartMs, 10)
}

// consumeAll reads topic (read_committed) until want records arrived or timeout,
// then a little longer to catch extra ones.
func consumeAll(t *testing.T, addr, topic string, want int, timeout time.Duration) []*kgo.Record {
	t.Helper()
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(100*time.Millisecond))
	var out []*kgo.Record
	deadline := time.Now().Add(timeout)
	extra := time.Time{}
	for time.Now().Before(deadline) && (extra.IsZero() || time.Now().Before(extra)) {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r) })
		if len(out) >= want && extra.IsZero() {
			extra = time.Now().Add(time.Second)
		}
	}
	return out
}

func decodeOne(t *testing.T, r *kgo.Record) outputResult {
	t.Helper()
	var res outputResult
	if err := json.Unmarshal(r.Value, &res); err != nil {
		t.Fatalf("output record %s: %v", r.Value, err)
	}
	return res
}

func decodeResults(t *testing.T, rs []*kgo.Record) map[string]outputResult {
	t.Helper()
	out := map[string]outputResult{}
	for _, r := range rs {
		res := decodeOne(t, r)
		if _, dup := out[res.id()]; dup {
			t.Errorf("window %s published twice", res.id())
		}
		out[res.id()] = res
	}
	return out
}

func header(r *kgo.Record, key string) string {
	for _, h := range r.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

// published reads the output topic until want windows arrived (or a timeout) and
// returns every count published per window: more than one means published twice.
func published(t *testing.T, addr, topic string, want int) map[string][]uint64 {
	t.Helper()
	got := map[string][]uint64{}
	for _, r := range consumeAll(t, addr, topic, want, 90*time.Second) {
		res := decodeOne(t, r)
		got[res.id()] = append(got[res.id()], res.Count)
	}
	return got
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
