package stream

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/broker"
	"github.com/kwindow/kwindow/exporter/engine"
	"github.com/kwindow/kwindow/exporter/store"

	"github.com/kwindow/kwindow/exporter/internal/testtool"
)

// TestChaos is the scenario that breaks exactly once in the field: three
// instances of one consumer group on six partitions of the embedded broker (the
// one every new user runs, compacting its changelogs every second here), traffic
// all along, and for 70 s one instance after another killed with SIGKILL or
// stopped cleanly and restarted a few seconds later or after its session timed
// out (the others then take its partitions over while its last transaction is
// still open), plus a broker outage of 8 s (its data kept) in the middle. Ground truth is the input topic read back afterwards,
// counted here without kwindow's code. Every window must be published exactly once
// with its exact count, in both aggregations (tumbling and hopping), and every
// running total (the Prometheus counters) must equal its key's events.
func TestChaos(t *testing.T) {
	if testing.Short() || raceEnabled {
		t.Skip("starts exporter processes for a minute and a half")
	}
	const parts = 6
	dir := t.TempDir()
	port := freePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	startBroker := func() *broker.Broker {
		var b *broker.Broker
		var err error
		for range 100 { // the port may take a moment to be free again
			b, err = broker.Start(broker.Options{Addr: addr, DataDir: filepath.Join(dir, "broker"), Partitions: parts,
				Topics: []string{input}, CompactInterval: time.Second})
			if err == nil {
				return b
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatal(err)
		return nil
	}
	brk := startBroker()
	defer func() { brk.Close() }()

	names := []string{"a", "b", "c"}
	cfgs := map[string]string{}
	for _, n := range names {
		yml := fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.99]}
  - {name: status_5m, group_by: [endpoint, status], window: {type: hopping, size: 5m, advance: 1m}, grace: 10s, measures: [count]}
kafka: {brokers: [%q], fetch_max_wait: 50ms}
stream: {application_id: chaos, instance_id: %s, input_topic: requests, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 6s}
state: {dir: %q}
`, addr, n, filepath.Join(dir, "state-"+n))
		cfgs[n] = filepath.Join(dir, n+".yml")
		if err := os.WriteFile(cfgs[n], []byte(yml), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	logs := map[string]*testtool.Buffer{}
	children := map[string]*exec.Cmd{}
	var childMu sync.Mutex
	start := func(n string) {
		childMu.Lock()
		defer childMu.Unlock()
		if logs[n] == nil {
			logs[n] = &testtool.Buffer{}
		}
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+cfgs[n])
		cmd.Stdout, cmd.Stderr = logs[n], logs[n]
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		children[n] = cmd
	}
	stop := func(n string, sig syscall.Signal) {
		childMu.Lock()
		cmd := children[n]
		childMu.Unlock()
		cmd.Process.Signal(sig)
		cmd.Wait()
	}
	for _, n := range names {
		start(n)
	}
	defer func() {
		for _, n := range names {
			stop(n, syscall.SIGTERM)
		}
		if t.Failed() {
			for _, n := range names {
				t.Logf("instance %s:\n%s", n, tail(logs[n].String(), 60))
			}
		}
	}()

	// Traffic: about 4,000 events/s, 12 endpoints on 6 partitions, event time 20 ms
	// apart with jitter below the grace, so nothing is late and windows keep closing.
	prod := client(t, addr, kgo.RecordRetries(1<<30), kgo.RequestTimeoutOverhead(30*time.Second))
	endpoints := make([]string, 12)
	for i := range endpoints {
		endpoints[i] = fmt.Sprintf("/api/%d", i)
	}
	base := (time.Now().UnixMilli() - 24*3600_000) / minute * minute
	rng := rand.New(rand.NewPCG(42, 7))
	var sent int
	trafficDone := make(chan struct{})
	stopTraffic := make(chan struct{})
	go func() {
		defer close(trafficDone)
		for {
			select {
			case <-stopTraffic:
				return
			case <-time.After(50 * time.Millisecond):
			}
			rs := make([]*kgo.Record, 0, 200)
			for range 200 {
				e := rng.IntN(len(endpoints))
				ts := base + int64(sent)*20 + int64(rng.IntN(5000))
				status := []int{200, 200, 200, 404, 500}[rng.IntN(5)]
				sent++
				// Any partition: every key's events are spread over all of
				// them, and stage 2 must merge them into one result per window.
				rs = append(rs, &kgo.Record{Topic: input, Partition: int32(rng.IntN(parts)), Value: reqJSON(ts, endpoints[e], status, 5)})
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
			err := prod.ProduceSync(ctx, rs...).FirstErr()
			cancel()
			if err != nil {
				t.Errorf("producing: %v", err)
				return
			}
		}
	}()

	// Chaos: every 5-8 s one instance is killed (or, one time in four, stopped
	// cleanly) and restarted either soon (2-4 s: its static membership takes its
	// partitions back) or late (10-13 s: past the session timeout, so the others
	// take its partitions over and restore them while its transaction is still
	// open); once, the broker goes away for 8 s instead.
	crng := rand.New(rand.NewPCG(1, 2))
	chaosEnd := time.Now().Add(70 * time.Second)
	brokerRestarted := false
	var kills, stops, late int
	for time.Now().Before(chaosEnd) {
		time.Sleep(time.Duration(5000+crng.IntN(3000)) * time.Millisecond)
		if !brokerRestarted && time.Until(chaosEnd) < 35*time.Second {
			brokerRestarted = true
			brk.Close()
			time.Sleep(8 * time.Second)
			brk = startBroker()
			continue
		}
		n := names[crng.IntN(len(names))]
		sig := syscall.SIGKILL
		if crng.IntN(4) == 0 {
			sig = syscall.SIGTERM
			stops++
		} else {
			kills++
		}
		stop(n, sig)
		down := time.Duration(2000+crng.IntN(2000)) * time.Millisecond
		if (kills+stops)%2 == 0 {
			down, late = time.Duration(10000+crng.IntN(3000))*time.Millisecond, late+1
		}
		time.Sleep(down)
		start(n)
	}
	close(stopTraffic)
	<-trafficDone
	// Close every window: one event per partition far ahead in event time.
	far := base + int64(sent)*20 + 30*minute
	var closing []*kgo.Record
	for p := range parts {
		closing = append(closing, &kgo.Record{Topic: input, Partition: int32(p), Value: reqJSON(far, endpoints[p], 200, 5)})
	}
	produce(t, prod, closing)
	t.Logf("%d events; %d kills, %d clean stops (%d restarted after the session timeout); broker restarted: %v",
		sent, kills, stops, late, brokerRestarted)

	// Ground truth from the input topic.
	want := map[string]uint64{}
	totals := map[string]uint64{} // aggregation|group -> events
	for _, r := range readToEnd(t, addr, input) {
		var ev struct {
			Timestamp int64  `json:"timestamp"`
			Endpoint  string `json:"endpoint"`
			Status    int    `json:"status"`
		}
		if err := json.Unmarshal(r.Value, &ev); err != nil {
			t.Fatal(err)
		}
		totals["endpoint_1m|"+ev.Endpoint]++
		totals["status_5m|"+ev.Endpoint+","+strconv.Itoa(ev.Status)]++
		if ev.Timestamp == far {
			continue // its windows never close
		}
		start := ev.Timestamp / minute * minute
		want[fmt.Sprintf("endpoint_1m|%s|%d", ev.Endpoint, start)]++
		for s := start - 4*minute; s <= start; s += minute { // hopping 5m by 1m
			want[fmt.Sprintf("status_5m|%s,%d|%d", ev.Endpoint, ev.Status, s)]++
		}
	}
	// Windows that were still open when the closing events arrived cannot have
	// closed: the closing events are 30 minutes ahead, past every window's end.
	got := map[string][]uint64{}
	for _, r := range consumeAll(t, addr, "chaos-results", len(want), 120*time.Second) {
		var res outputResult
		if err := json.Unmarshal(r.Value, &res); err != nil {
			t.Fatal(err)
		}
		key := res.Key["endpoint"]
		if s, ok := res.Key["status"]; ok {
			key += "," + s
		}
		id := fmt.Sprintf("%s|%s|%d", res.Aggregation, key, res.StartMs)
		got[id] = append(got[id], res.Count)
	}
	var missing, twice, wrong int
	for id, n := range want {
		switch c := got[id]; {
		case len(c) == 0:
			missing++
			if missing <= 10 {
				t.Errorf("window %s never published (%d events)", id, n)
			}
		case len(c) > 1:
			twice++
			if twice <= 10 {
				t.Errorf("window %s published %d times: %v (want %d)", id, len(c), c, n)
			}
		case c[0] != n:
			wrong++
			if wrong <= 10 {
				t.Errorf("window %s count %d, want %d", id, c[0], n)
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("window %s published but holds no input event", id)
		}
	}
	if missing+twice+wrong > 0 {
		t.Errorf("%d of %d windows missing, %d published more than once, %d with a wrong count", missing, len(want), twice, wrong)
	}

	// The running totals, as the changelogs hold them (what a task restores and
	// /metrics exports): the latest committed total of each key, which lives in
	// exactly one changelog partition (its stage-2 task's).
	last := map[string]uint64{}
	owner := map[string]int32{}
	for _, topic := range []string{"chaos-endpoint_1m-changelog", "chaos-status_5m-changelog"} {
		records := readToEnd(t, addr, topic)
		for _, r := range records {
			k, err := store.ParseKey(r.Key)
			if err != nil || k.Start != engine.TotalStart || r.Value == nil {
				continue
			}
			id := k.Agg + "|" + string(k.Group)
			if p, ok := owner[id]; ok && p != r.Partition {
				t.Errorf("running total %s in changelog partitions %d and %d", id, p, r.Partition)
			}
			owner[id] = r.Partition
		}
		for id, v := range changelogTotals(t, records) {
			agg, group, _ := strings.Cut(id, "|")
			vals, _ := store.SplitGroup([]byte(group))
			g := string(vals[0])
			if len(vals) > 1 {
				g += "," + string(vals[1])
			}
			last[agg+"|"+g] = v.Agg.Count
		}
	}
	for k, n := range totals {
		if last[k] != n {
			t.Errorf("running total %s = %d, want %d", k, last[k], n)
		}
	}
	if t.Failed() {
		for _, topic := range []string{"chaos-endpoint_1m-changelog", "chaos-status_5m-changelog"} {
			per := map[int32]int{}
			tot := map[int32]int{}
			for _, r := range readToEnd(t, addr, topic) {
				per[r.Partition]++
				if k, err := store.ParseKey(r.Key); err == nil && k.Start == engine.TotalStart {
					tot[r.Partition]++
				}
			}
			adm := kadm.NewClient(client(t, addr))
			lso, _ := adm.ListCommittedOffsets(context.Background(), topic)
			hwm, _ := adm.ListEndOffsets(context.Background(), topic)
			start, _ := adm.ListStartOffsets(context.Background(), topic)
			t.Logf("DEBUG %s records per partition %v totals %v; start %v lso %v end %v", topic, per, tot, start, lso, hwm)
		}
	}
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := 0
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == '\n' {
			if lines++; lines > n {
				return s[i+1:]
			}
		}
	}
	return s
}

// readToEnd reads topic (read_committed) from its start to its last stable offset.
func readToEnd(t *testing.T, addr, topic string) []*kgo.Record {
	t.Helper()
	adm := kadm.NewClient(client(t, addr))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	ends, err := adm.ListCommittedOffsets(ctx, topic)
	if err == nil {
		err = ends.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	left := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) {
		if o.Offset > 0 {
			left[o.Partition] = o.Offset
		}
	})
	cl := client(t, addr, kgo.ConsumeTopics(topic), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.KeepControlRecords())
	var out []*kgo.Record
	for len(left) > 0 {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("reading %s: %v; not read to the end: %v", topic, err, left)
		}
		fs.EachRecord(func(r *kgo.Record) {
			if end, ok := left[r.Partition]; ok && r.Offset+1 >= end {
				delete(left, r.Partition)
			}
			if !r.Attrs.IsControl() {
				out = append(out, r)
			}
		})
	}
	return out
}
