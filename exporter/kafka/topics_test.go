package kafka

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
)

// newCluster starts a one-broker kfake cluster on a random loopback port.
func newCluster(t *testing.T, opts ...kfake.Opt) *kfake.Cluster {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

func newAdmin(t *testing.T, c *kfake.Cluster) *kadm.Client {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(c.ListenAddrs()...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return kadm.NewClient(cl)
}

func testContext(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestEnsureTopics(t *testing.T) {
	adm := newAdmin(t, newCluster(t))
	ctx := testContext(t)
	compact := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	specs := []TopicSpec{
		{Name: "requests", Partitions: 6},
		{Name: "kwindow-endpoint_1m-changelog", Partitions: 6, Configs: compact},
		{Name: "kwindow-results"},
	}

	tests := []struct {
		name    string
		specs   []TopicSpec
		wantErr string // substring; empty: success
	}{
		{"creates", specs, ""},
		{"idempotent", specs, ""},
		{"any partition count accepted", []TopicSpec{{Name: "requests"}}, ""},
		{"partition mismatch", []TopicSpec{{Name: "kwindow-endpoint_1m-changelog", Partitions: 3}},
			`topic "kwindow-endpoint_1m-changelog" has 6 partitions, want 3`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := EnsureTopics(ctx, adm, -1, tt.specs...)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !errors.Is(err, ErrPartitionMismatch) {
				t.Fatalf("error %v, want ErrPartitionMismatch containing %q", err, tt.wantErr)
			}
		})
	}

	details, err := adm.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"requests": 6, "kwindow-endpoint_1m-changelog": 6, "kwindow-results": 10} // kfake's default is 10
	for name, n := range want {
		if got := len(details[name].Partitions); got != n {
			t.Errorf("%s: %d partitions, want %d", name, got, n)
		}
	}
	cfgs, err := adm.DescribeTopicConfigs(ctx, "kwindow-endpoint_1m-changelog")
	if err != nil {
		t.Fatal(err)
	}
	rc, err := cfgs.On("kwindow-endpoint_1m-changelog", nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range rc.Configs {
		if c.Key == "cleanup.policy" && c.MaybeValue() != "compact" {
			t.Errorf("changelog cleanup.policy = %q, want compact", c.MaybeValue())
		}
	}
}

// Instances starting together all create the same topics: TopicAlreadyExists is
// not an error, and the partition count is still checked.
func TestEnsureTopicsRace(t *testing.T) {
	c := newCluster(t)
	ctx := testContext(t)
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		adm := newAdmin(t, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = EnsureTopics(ctx, adm, 1, TopicSpec{Name: "in", Partitions: 4}, TopicSpec{Name: "cl", Partitions: 4})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("instance %d: %v", i, err)
		}
	}
	if err := EnsureTopics(ctx, newAdmin(t, c), 1, TopicSpec{Name: "cl", Partitions: 2}); !errors.Is(err, ErrPartitionMismatch) {
		t.Errorf("mismatch after race: %v, want ErrPartitionMismatch", err)
	}
}

func TestPartitionCount(t *testing.T) {
	adm := newAdmin(t, newCluster(t, kfake.SeedTopics(3, "requests")))
	ctx := testContext(t)
	n, err := PartitionCount(ctx, adm, "requests")
	if err != nil || n != 3 {
		t.Errorf("PartitionCount(requests) = %d, %v; want 3", n, err)
	}
	_, err = PartitionCount(ctx, adm, "nope")
	if !errors.Is(err, ErrNoTopic) || err.Error() != `input topic "nope" does not exist` {
		t.Errorf("PartitionCount(nope) error %v, want ErrNoTopic", err)
	}
	// A topic created after a lookup said it was missing is seen at once.
	if err := EnsureTopics(ctx, adm, -1, TopicSpec{Name: "nope", Partitions: 2}); err != nil {
		t.Fatal(err)
	}
	if n, err := PartitionCount(ctx, adm, "nope"); err != nil || n != 2 {
		t.Errorf("PartitionCount(nope) after creation = %d, %v; want 2", n, err)
	}
}
