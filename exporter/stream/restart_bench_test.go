package stream

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/kwindow/kwindow/exporter/internal/testtool"
)

// BenchmarkRestartAfterKill measures how long an exporter process killed with
// SIGKILL takes to be ready again with 1,000,000 keys of state (one open
// endpoint_1m window and one running total each: 2,000,000 store entries and
// changelog records over 6 partitions):
//
//   - kept_state_s: restarted on its own state directory, from exec to the
//     "ready" log line: RocksDB reopens (replaying its write-ahead log) and only
//     the changelog written after the last local write is replayed;
//   - no_state_s: the same with the state directory deleted first: everything
//     comes back from the changelogs, as on a new machine.
//
// The exporter runs as a child process (this test binary re-executed), against
// the embedded broker in this process; the two share the machine's cores, so the
// session timeout is 30 s, lest a starved broker expire the session mid-restore. Run it with
//
//	go test -run='^$' -bench=RestartAfterKill -benchtime=1x -timeout=20m ./exporter/stream/
func BenchmarkRestartAfterKill(b *testing.B) {
	oneRun(b)
	const keys = 1_000_000
	addr := benchBroker(b)
	dir := b.TempDir()
	group := fmt.Sprintf("bench-restart-%d", time.Now().UnixNano())
	yml := fmt.Sprintf(`
aggregations:
  - {name: endpoint_1m, group_by: [endpoint], window: {type: tumbling, size: 1m}, grace: 10s, quantiles: [0.5, 0.99], max_keys: 2000000}
kafka: {brokers: [%q]}
stream: {application_id: %s, instance_id: one, input_topic: %s, commit_interval: 100ms, idle_timeout: 0s, session_timeout: 30s}
state: {dir: %q}
`, addr, group, benchTopic, filepath.Join(dir, "state"))
	cfgPath := filepath.Join(dir, "kwindow.yml")
	if err := os.WriteFile(cfgPath, []byte(yml), 0o644); err != nil {
		b.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.ProducerBatchCompression(kgo.Lz4Compression()))
	if err != nil {
		b.Fatal(err)
	}
	defer cl.Close()
	// Every key's one event falls in the same open window (they are all within
	// 30 s of event time, well before now).
	base := (time.Now().UnixMilli() - 3600_000) / 60000 * 60000
	rs := make([]*kgo.Record, 0, 10000)
	for i := range keys {
		rs = append(rs, &kgo.Record{Topic: benchTopic, Partition: int32(i % benchPartitions),
			Value: reqJSON(base+int64(i)*30_000/keys, fmt.Sprintf("/k/%d", i), 200, 5)})
		if len(rs) == cap(rs) || i == keys-1 {
			if err := cl.ProduceSync(context.Background(), rs...).FirstErr(); err != nil {
				b.Fatal(err)
			}
			rs = rs[:0]
		}
	}
	adm := kadm.NewClient(cl)
	var logs testtool.Buffer
	type child struct {
		cmd    *exec.Cmd
		exited chan error
	}
	start := func() *child {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), childEnv+"="+cfgPath)
		cmd.Stdout, cmd.Stderr = &logs, &logs
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		c := &child{cmd, make(chan error, 1)}
		go func() { c.exited <- cmd.Wait() }()
		return c
	}
	kill := func(c *child) {
		c.cmd.Process.Signal(syscall.SIGKILL)
		<-c.exited
	}
	// ready waits for the child's "ready" log line after the log's offset from.
	ready := func(c *child, from int) time.Duration {
		began := time.Now()
		for time.Since(began) < 10*time.Minute {
			if strings.Contains(logs.String()[from:], "msg=\"ready: every assigned partition is restored and running\" partitions=6") {
				return time.Since(began)
			}
			select {
			case err := <-c.exited:
				b.Fatalf("the exporter exited (%v):\n%s", err, logs.String()[from:])
			case <-time.After(20 * time.Millisecond):
			}
		}
		kill(c)
		b.Fatalf("not ready within 10 minutes:\n%s", logs.String()[from:])
		return 0
	}

	built := time.Now()
	proc := start()
	waitGroupCommitted(b, adm, group, keys, proc.exited, &logs)
	b.Logf("state of %d keys built in %v", keys, time.Since(built).Round(time.Millisecond))
	time.Sleep(time.Second) // let the last committed interval reach the store
	kill(proc)

	b.ResetTimer()
	from := logs.Len()
	proc = start()
	kept := ready(proc, from)
	b.StopTimer()
	for _, line := range strings.Split(logs.String()[from:], "\n") {
		if strings.Contains(line, "partition ready") {
			b.Log(line)
		}
	}
	kill(proc)
	if err := os.RemoveAll(filepath.Join(dir, "state")); err != nil {
		b.Fatal(err)
	}
	from = logs.Len()
	proc = start()
	fresh := ready(proc, from)
	kill(proc)
	b.ReportMetric(kept.Seconds(), "kept_state_s")
	b.ReportMetric(fresh.Seconds(), "no_state_s")
	b.Logf("ready after SIGKILL: %v with the state directory kept, %v without it", kept.Round(time.Millisecond), fresh.Round(time.Millisecond))
}

func waitGroupCommitted(b *testing.B, adm *kadm.Client, group string, n int64, exited chan error, logs *testtool.Buffer) {
	b.Helper()
	for deadline := time.Now().Add(10 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		select {
		case err := <-exited:
			b.Fatalf("the exporter exited (%v):\n%s", err, logs.String())
		default:
		}
		offs, err := adm.FetchOffsets(context.Background(), group)
		if err != nil {
			continue
		}
		var sum int64
		offs.Each(func(o kadm.OffsetResponse) { sum += o.At })
		if sum >= n {
			return
		}
	}
	b.Fatalf("group %s did not commit %d records within 10 minutes", group, n)
}
