package broker

import (
	"context"
	"fmt"
	"math"
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
	// The last record keeps its 1 MiB segment (and its spare capacity, as much
	// again at most); the clients keep a little.
	const limit = 2*segmentBytes + 2<<20
	// A segment grows by appending: the spare capacity of the active one is
	// bounded by the segment size (8 MiB segments took 110 MiB for these 64).
	if grew := int64(before) - int64(base); grew > 64<<20+64<<20/8 {
		t.Errorf("64 MiB of records take %.1f MiB of heap, want at most 72", float64(grew)/(1<<20))
	}
	if freed := int64(before) - int64(after); freed < 64<<20-limit {
		t.Errorf("trimming 64 MiB of records freed %.1f MiB, want at least %d", float64(freed)/(1<<20), (64<<20-limit)>>20)
	}
	if kept := int64(after) - int64(base); kept > limit {
		t.Errorf("%.1f MiB more than before the records after trimming them, want at most %d", float64(kept)/(1<<20), limit>>20)
	}
}

// heap is the live heap once what earlier tests left behind (clients and
// connections that close asynchronously) has gone: it collects until the live
// heap stops shrinking.
func heap() uint64 {
	var m runtime.MemStats
	last := uint64(math.MaxUint64)
	for range 20 {
		runtime.GC()
		runtime.ReadMemStats(&m)
		if m.HeapAlloc+64<<10 >= last {
			break
		}
		last = m.HeapAlloc
		time.Sleep(20 * time.Millisecond)
	}
	return m.HeapAlloc
}

func TestTrimOlder(t *testing.T) {
	b := start(t, Options{Partitions: 3, Topics: []string{"results"}})
	cl := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := kadm.NewClient(cl)
	now := time.Now().Truncate(time.Millisecond)
	// Partition 0: 10 records two hours old, then 5 ten minutes old; partition 1:
	// 7 two hours old; partition 2: empty.
	var recs []*kgo.Record
	for i := range 15 {
		ts := now.Add(-2 * time.Hour).Add(time.Duration(i) * time.Millisecond)
		if i >= 10 {
			ts = now.Add(-10 * time.Minute).Add(time.Duration(i) * time.Millisecond)
		}
		recs = append(recs, &kgo.Record{Topic: "results", Partition: 0, Value: []byte("v"), Timestamp: ts})
	}
	for range 7 {
		recs = append(recs, &kgo.Record{Topic: "results", Partition: 1, Value: []byte("v"), Timestamp: now.Add(-2 * time.Hour)})
	}
	for _, r := range recs { // one batch each
		if err := cl.ProduceSync(testContext(t), r).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	steps := []struct {
		name        string
		before      time.Time
		wantDeleted int64
		wantStart   map[int32]int64
	}{
		{"the zero time", time.Time{}, 0, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{"1970", time.UnixMilli(-1), 0, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{"before everything", now.Add(-3 * time.Hour), 0, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{"at the first record", now.Add(-2 * time.Hour), 0, map[int32]int64{0: 0, 1: 0, 2: 0}},
		{"one hour", now.Add(-time.Hour), 10 + 7, map[int32]int64{0: 10, 1: 7, 2: 0}},
		{"again", now.Add(-time.Hour), 0, map[int32]int64{0: 10, 1: 7, 2: 0}},
		{"just past the newest record", now.Add(-10*time.Minute + 15*time.Millisecond), 5, map[int32]int64{0: 15, 1: 7, 2: 0}},
		{"the far future", time.Unix(1<<40, 0), 0, map[int32]int64{0: 15, 1: 7, 2: 0}},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			n, err := TrimOlder(testContext(t), adm, "results", s.before)
			if err != nil || n != s.wantDeleted {
				t.Errorf("TrimOlder = %d, %v; want %d", n, err, s.wantDeleted)
			}
			got := startOffsets(t, adm, "results")
			for p, want := range s.wantStart {
				if got[p] != want {
					t.Errorf("partition %d starts at %d, want %d", p, got[p], want)
				}
			}
		})
	}
	if n, err := TrimOlder(testContext(t), adm, "no-such-topic", now); n != 0 || err != nil {
		t.Errorf("TrimOlder of a missing topic = %d, %v; want 0, nil", n, err)
	}
}

func TestRunRetention(t *testing.T) {
	b := start(t, Options{Partitions: 1, Topics: []string{"results"}})
	cl := client(t, b)
	adm := kadm.NewClient(cl)
	old := &kgo.Record{Topic: "results", Value: []byte("old"), Timestamp: time.Now().Add(-2 * time.Hour)}
	if err := cl.ProduceSync(testContext(t), old, &kgo.Record{Topic: "results", Value: []byte("new")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(testContext(t))
	logged := make(chan string, 10)
	done := make(chan struct{})
	go func() {
		defer close(done)
		RunRetention(ctx, adm, []string{"results", "absent"}, time.Hour, 10*time.Millisecond, func(f string, args ...any) {
			select {
			case logged <- fmt.Sprintf(f, args...):
			default:
			}
		})
	}()
	select {
	case msg := <-logged:
		if msg != "broker: deleted 1 records of results older than 1h0m0s" {
			t.Errorf("logged %q", msg)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunRetention deleted nothing")
	}
	if got := startOffsets(t, adm, "results")[0]; got != 1 {
		t.Errorf("start offset %d, want 1", got)
	}
	cancel()
	<-done
}
