package broker

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// startOffsets returns the log start offset of each partition of topic.
func startOffsets(t *testing.T, adm *kadm.Client, topic string) map[int32]int64 {
	t.Helper()
	l, err := adm.ListStartOffsets(testContext(t), topic)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int32]int64{}
	l.Each(func(o kadm.ListedOffset) { m[o.Partition] = o.Offset })
	return m
}

func commit(t *testing.T, adm *kadm.Client, group, topic string, at map[int32]int64) {
	t.Helper()
	os := make(kadm.Offsets)
	for p, o := range at {
		os.AddOffset(topic, p, o, -1)
	}
	if err := adm.CommitAllOffsets(testContext(t), group, os); err != nil {
		t.Fatal(err)
	}
}

func TestTrim(t *testing.T) {
	b := start(t, Options{Partitions: 2, Topics: []string{"requests"}})
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	produce(t, cl, "requests", 0, 100)
	produce(t, cl, "requests", 1, 50)

	steps := []struct {
		name        string
		commit      map[int32]int64 // committed before trimming; nil: nothing new
		wantDeleted int64
		wantStart   map[int32]int64
	}{
		{"no group yet", nil, 0, map[int32]int64{0: 0, 1: 0}},
		{"one partition committed", map[int32]int64{0: 40}, 40, map[int32]int64{0: 40, 1: 0}},
		{"again", nil, 0, map[int32]int64{0: 40, 1: 0}},
		{"both, up to the end", map[int32]int64{0: 100, 1: 50}, 60 + 50, map[int32]int64{0: 100, 1: 50}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if s.commit != nil {
				commit(t, adm, "kwindow", "requests", s.commit)
			}
			n, err := Trim(testContext(t), adm, "kwindow", "requests")
			if err != nil || n != s.wantDeleted {
				t.Errorf("Trim = %d, %v; want %d", n, err, s.wantDeleted)
			}
			got := startOffsets(t, adm, "requests")
			for p, want := range s.wantStart {
				if got[p] != want {
					t.Errorf("partition %d starts at %d, want %d", p, got[p], want)
				}
			}
		})
	}

	// The records that are left are the ones at and after the start offset.
	produce(t, cl, "requests", 0, 1)
	if got := consume(t, b, "requests", 1); got[0].Offset != 100 {
		t.Errorf("first record left at offset %d, want 100", got[0].Offset)
	}
}

func TestRunTrimmer(t *testing.T) {
	b := start(t, Options{Partitions: 1, Topics: []string{"requests"}})
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	produce(t, cl, "requests", 0, 30)
	commit(t, adm, "kwindow", "requests", map[int32]int64{0: 20})

	ctx, cancel := context.WithCancel(testContext(t))
	logged := make(chan string, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunTrimmer(ctx, adm, "kwindow", []string{"requests"}, 10*time.Millisecond, func(f string, args ...any) {
			t.Logf(f, args...)
			select {
			case logged <- f:
			default:
			}
		})
	}()
	select {
	case <-logged:
	case <-time.After(10 * time.Second):
		t.Fatal("the trimmer did not trim")
	}
	if got := startOffsets(t, adm, "requests")[0]; got != 20 {
		t.Errorf("start offset %d, want 20", got)
	}
	cancel()
	<-done
}

// kfake frees a partition's memory when DeleteRecords moves the log start past
// whole segments: trimming a topic gives the heap back.
func TestTrimFreesMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("produces 64 MiB")
	}
	b := start(t, Options{Partitions: 1, Topics: []string{"requests"}})
	cl := client(t, b, kgo.ProducerBatchCompression(kgo.NoCompression()))
	adm := kadm.NewClient(cl)
	ctx := testContext(t)
	base := heap()
	value := make([]byte, 1000)
	const n = 64 << 10 // 64 MiB of values
	for range n {
		cl.Produce(ctx, &kgo.Record{Topic: "requests", Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	before := heap()
	commit(t, adm, "kwindow", "requests", map[int32]int64{0: n - 1})
	if _, err := Trim(ctx, adm, "kwindow", "requests"); err != nil {
		t.Fatal(err)
	}
	after := heap()
	t.Logf("heap %d MiB at start, %d MiB before trimming, %d MiB after", base>>20, before>>20, after>>20)
	// The last record keeps its 8 MiB segment (and its spare capacity).
	if kept := int64(after) - int64(base); before-base < 64<<20 || kept > 24<<20 {
		t.Errorf("heap grew by %d MiB for 64 MiB of records and kept %d MiB after trimming, want at most 24",
			(before-base)>>20, kept>>20)
	}
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}
