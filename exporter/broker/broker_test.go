package broker

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

func start(t *testing.T, o Options) *Broker {
	t.Helper()
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	o.Logf = t.Logf
	b, err := Start(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}

func client(t *testing.T, b *Broker, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr())}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// produce writes n records numbered from 0 to partition p of topic.
func produce(t *testing.T, cl *kgo.Client, topic string, p int32, n int) {
	t.Helper()
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Topic: topic, Partition: p, Value: fmt.Appendf(nil, "%d", i)}
	}
	if err := cl.ProduceSync(testContext(t), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// consume reads records of topic from the start until it has n.
func consume(t *testing.T, b *Broker, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := client(t, b, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx := testContext(t)
	var got []*kgo.Record
	for len(got) < n {
		fs := cl.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("consumed %d of %d records: %v", len(got), n, err)
		}
		got = append(got, fs.Records()...)
	}
	return got
}

func TestStart(t *testing.T) {
	b := start(t, Options{Partitions: 3, Topics: []string{"requests"}})
	if !strings.HasPrefix(b.Addr(), "127.0.0.1:") || strings.HasSuffix(b.Addr(), ":0") {
		t.Errorf("Addr() = %q, want 127.0.0.1 and the port picked", b.Addr())
	}
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for p := range int32(3) {
		produce(t, cl, "requests", p, 100)
	}
	if got := consume(t, b, "requests", 300); len(got) != 300 {
		t.Errorf("consumed %d records, want 300", len(got))
	}

	// A topic created without a partition count gets Options.Partitions.
	adm := kadm.NewClient(cl)
	ctx := testContext(t)
	if _, err := adm.CreateTopic(ctx, -1, -1, nil, "other"); err != nil {
		t.Fatal(err)
	}
	details, err := adm.ListTopics(kadm.WithAuthorizedOps(ctx))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"requests", "other"} {
		if got := len(details[name].Partitions); got != 3 {
			t.Errorf("%s: %d partitions, want 3", name, got)
		}
	}
}

func TestStartDataDir(t *testing.T) {
	dir := t.TempDir()
	b, err := Start(Options{Addr: "127.0.0.1:0", DataDir: dir, Partitions: 2, Topics: []string{"requests"}})
	if err != nil {
		t.Fatal(err)
	}
	produce(t, client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner())), "requests", 1, 10)
	b.Close()

	// Restarted with more topics and another default: the old topic keeps its
	// partitions and records, the new one is created.
	b = start(t, Options{DataDir: dir, Partitions: 4, Topics: []string{"requests", "more"}})
	if got := consume(t, b, "requests", 10); len(got) != 10 || got[0].Partition != 1 {
		t.Errorf("after restart: %d records, want the 10 of partition 1", len(got))
	}
	details, err := kadm.NewClient(client(t, b)).ListTopics(kadm.WithAuthorizedOps(testContext(t)))
	if err != nil {
		t.Fatal(err)
	}
	if a, m := len(details["requests"].Partitions), len(details["more"].Partitions); a != 2 || m != 4 {
		t.Errorf("partitions after restart: requests %d, more %d; want 2 and 4", a, m)
	}
}

func TestStartAddr(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr string // substring; empty: starts
	}{
		{"localhost:0", ""},
		{"[::1]:0", ""},
		{"0.0.0.0:9092", "loopback address only"},
		{":9092", "loopback address only"},
		{"192.0.2.1:9092", "loopback address only"},
		{"kafka.example.com:9092", "loopback address only"},
		{"127.0.0.1", "missing port"},
		{"127.0.0.1:http", `bad port "http"`},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			if tt.addr == "[::1]:0" {
				if ln, err := net.Listen("tcp", tt.addr); err != nil {
					t.Skip("no IPv6 loopback:", err)
				} else {
					ln.Close()
				}
			}
			b, err := Start(Options{Addr: tt.addr})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				defer b.Close()
				if err := client(t, b).Ping(testContext(t)); err != nil {
					t.Errorf("ping %s: %v", b.Addr(), err)
				}
				return
			}
			if err == nil {
				b.Close()
				t.Fatalf("started on %s, want an error", tt.addr)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want one containing %q", err, tt.wantErr)
			}
		})
	}
}
