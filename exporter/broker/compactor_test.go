package broker

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kversion"
)

// A compaction that finds an open transaction is deferred; one that has not moved
// (its producer died) parks nobody, and compaction resumes once it is aborted.
// The transaction is open on another topic than the one that would shrink: the
// compactor waits for every topic that has transactional records, whether the
// produce requests name topics (before v13) or give their IDs.
func TestCompactDefersForOpenTransaction(t *testing.T) {
	for _, tt := range []struct {
		name     string
		versions *kversion.Versions
	}{
		{"topic IDs", nil},
		{"topic names", kversion.V3_5_0()}, // produce v9
	} {
		t.Run(tt.name, func(t *testing.T) { testCompactDefers(t, tt.versions) })
	}
}

func testCompactDefers(t *testing.T, versions *kversion.Versions) {
	const topic, other = "changelog", "other-changelog"
	b := start(t, Options{Partitions: 1, CompactInterval: time.Hour})
	createCompacted(t, b, topic, 1)
	createCompacted(t, b, other, 1)
	ctx := testContext(t)
	a := txnClient(t, b, "a")
	for i := range 3 {
		if err := commitTxn(ctx, a, []*kgo.Record{rec(topic, 0, "K", fmt.Sprint(i))}); err != nil {
			t.Fatal(err)
		}
	}
	opts := []kgo.Opt{kgo.TransactionalID("b")}
	if versions != nil {
		opts = append(opts, kgo.MaxVersions(versions))
	}
	dying := client(t, b, opts...)
	if err := dying.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := dying.ProduceSync(ctx, rec(other, 0, "K", "open")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	before := size(b, topic, 0)
	start := time.Now()
	compacted, err := b.Compact(ctx)
	took := time.Since(start)
	st := b.CompactionStats()
	if compacted || err != nil || st.Compactions != 0 {
		t.Fatalf("Compact with a transaction open = %v, %v (%d compactions), want false", compacted, err, st.Compactions)
	}
	if size(b, topic, 0) != before {
		t.Errorf("%s changed from %d bytes to %d with a transaction open", topic, before, size(b, topic, 0))
	}
	// Every attempt of the round found it: one each retryEvery, for retryFor (a
	// loaded machine sleeps longer, not shorter).
	if want := int64(retryFor / retryEvery); st.DeferredAttempts < want/2 || st.DeferredAttempts > want+1 {
		t.Errorf("%d attempts deferred in %v, want about %d (every %v for %v)", st.DeferredAttempts, took, want, retryEvery, retryFor)
	}
	if took < retryFor-retryEvery || took > retryFor+time.Second {
		t.Errorf("the round gave up after %v, want about %v", took, retryFor)
	}
	if st.Gates != 0 || st.Parked != 0 {
		t.Errorf("the gate closed %d times (%d produce requests parked) for a transaction that does not move, want 0",
			st.Gates, st.Parked)
	}

	// Fenced by its restart: the transaction aborts and compaction runs.
	if err := commitTxn(ctx, client(t, b, opts...), []*kgo.Record{rec(other, 0, "Y", "y")}); err != nil {
		t.Fatal(err)
	}
	if compacted, err := b.Compact(ctx); !compacted || err != nil {
		t.Fatalf("Compact after the abort = %v, %v; want true", compacted, err)
	}
	if st := b.CompactionStats(); st.Compactions != 1 || st.LastCompaction.Before(start) {
		t.Errorf("stats after compacting: %+v", st)
	}
	if n := size(b, topic, 0); n >= before {
		t.Errorf("%s holds %d bytes after compaction, %d before", topic, n, before)
	}
	if got := latest(t, b, topic, 1); got["K"] != "2" {
		t.Errorf("%s after compaction: %v, want K=2", topic, got)
	}
	if got := latest(t, b, other, 1); got["Y"] != "y" || got["K"] != "" {
		t.Errorf("%s after compaction: %v, want Y=y and no K (aborted)", other, got)
	}
}

// With no transaction open, compaction runs every interval and keeps each key's
// last record only.
func TestCompactShrinks(t *testing.T) {
	const (
		topic = "changelog"
		keys  = 20
		every = 50 * time.Millisecond
	)
	b := start(t, Options{Partitions: 2, CompactInterval: every})
	createCompacted(t, b, topic, 2)
	ctx := testContext(t)
	a := txnClient(t, b, "a")
	plain := client(t, b, kgo.RecordPartitioner(kgo.ManualPartitioner()))
	want := map[string]string{}
	for round := range 10 {
		var recs []*kgo.Record
		for k := range keys {
			key, value := fmt.Sprintf("k%02d", k), fmt.Sprintf("v%d", round)
			recs = append(recs, rec(topic, int32(k%2), key, value))
			want[key] = value
		}
		// Even rounds in transactions, odd ones plain.
		var err error
		if round%2 == 0 {
			err = commitTxn(ctx, a, recs)
		} else {
			err = plain.ProduceSync(ctx, recs...).FirstErr()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Each partition has keys/2 keys written 10 times. Compaction keeps the last
	// batch (the active segment, which does not count as superseding) and the
	// records it does not supersede: the last two versions at most.
	if n := shrinks(b, topic, 0, size(b, topic, 0), 100*every); n == 0 {
		t.Fatal("partition 0 is empty")
	}
	for p := range int32(2) {
		if n := count(t, b, topic, p); n > 2*keys/2 {
			t.Errorf("partition %d holds %d records of %d keys after compaction, want 2 versions of each at most", p, n, keys/2)
		}
	}
	if got := latest(t, b, topic, 2); !mapsEqual(got, want) {
		t.Errorf("after compaction: %v, want %v", got, want)
	}
	if st := b.CompactionStats(); st.Compactions == 0 || st.Parked != 0 {
		t.Errorf("stats: %+v, want compactions and nothing parked", st)
	}
}

// Compaction finds its moments while several producers commit transactions
// back to back, and loses nothing any of them committed.
func TestCompactWhileCommitting(t *testing.T) {
	if testing.Short() {
		t.Skip("runs producers for 4s")
	}
	const (
		topic     = "changelog"
		producers = 4
		keys      = 10
		every     = 100 * time.Millisecond
		run       = 4 * time.Second
	)
	b := start(t, Options{Partitions: 2, CompactInterval: every})
	createCompacted(t, b, topic, 2)
	var (
		mu    sync.Mutex
		parks []time.Duration
	)
	b.k.mu.Lock()
	b.k.onPark = func(d time.Duration) {
		mu.Lock()
		parks = append(parks, d)
		mu.Unlock()
	}
	b.k.mu.Unlock()

	ctx, cancel := context.WithTimeout(testContext(t), run)
	defer cancel()
	committed := make([]map[string]string, producers)
	txns := make([]int, producers)
	var wg sync.WaitGroup
	for i := range producers {
		committed[i] = map[string]string{}
		cl := txnClient(t, b, fmt.Sprintf("p%d", i))
		wg.Go(func() {
			for n := 0; ctx.Err() == nil; n++ {
				// Two produce requests per transaction, a few ms apart.
				var first, second []*kgo.Record
				for k := range keys {
					r := rec(topic, int32(k%2), fmt.Sprintf("p%d-k%d", i, k), fmt.Sprint(n))
					if k < keys/2 {
						first = append(first, r)
					} else {
						second = append(second, r)
					}
				}
				err := commitTxn(context.Background(), cl, first, second)
				if err != nil {
					t.Errorf("producer %d, transaction %d: %v", i, n, err)
					return
				}
				for _, r := range append(first, second...) {
					committed[i][string(r.Key)] = string(r.Value)
				}
				txns[i]++
				time.Sleep(2 * time.Millisecond)
			}
		})
	}
	wg.Wait()

	st := b.CompactionStats()
	mu.Lock()
	slices.Sort(parks)
	var p50 time.Duration
	if len(parks) > 0 {
		p50 = parks[len(parks)/2]
	}
	mu.Unlock()
	t.Logf("%v: %v transactions committed; %d compactions, %d attempts deferred, %d rounds deferred; "+
		"%d gates closed, %d timed out; %d produce requests parked, p50 %v, max %v; compactions took up to %v",
		run, txns, st.Compactions, st.DeferredAttempts, st.DeferredRounds, st.Gates, st.GateTimeouts, st.Parked, p50,
		st.ParkedMax, st.LongestDuration)
	// Every round found its moment (a round runs at most once per interval, and
	// takes longer when it has to retry).
	if st.DeferredRounds != 0 || st.Compactions < 5 {
		t.Errorf("%d compactions and %d rounds deferred in %v, want every round (5 at least) to compact",
			st.Compactions, st.DeferredRounds, run)
	}
	// The gate parks only the requests that would begin a transaction, so the
	// open ones end and it rarely has to give up (parking every request would
	// leave a transaction with a second request to make open until maxPark).
	if st.Gates == 0 || st.GateTimeouts*4 > st.Gates {
		t.Errorf("%d of %d gates timed out, want a quarter at most", st.GateTimeouts, st.Gates)
	}
	// The gate opens after maxPark whatever happens, or after the compaction it
	// waited for (which blocks the broker); a parked request then waits for the
	// broker's loop to get to it.
	slack := 50 * time.Millisecond
	if raceEnabled {
		slack = 300 * time.Millisecond
	}
	if bound := maxPark + st.LongestDuration + slack; st.ParkedMax > bound {
		t.Errorf("a produce request was parked %v, more than the gate's %v + the longest compaction %v + %v",
			st.ParkedMax, maxPark, st.LongestDuration, slack)
		t.Logf("parks: %v", parks)
	}
	want := map[string]string{}
	for _, c := range committed {
		for k, v := range c {
			want[k] = v
		}
	}
	if got := latest(t, b, topic, 2); !mapsEqual(got, want) {
		t.Errorf("read_committed after compactions: %v, want the last committed values %v", got, want)
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

func TestStartCompactInterval(t *testing.T) {
	tests := []struct {
		every   time.Duration
		wantErr string
	}{
		{0, ""}, // the default
		{MinCompactInterval, ""},
		{math.MaxInt64, ""},
		{MinCompactInterval - 1, "at least 10ms"},
		{-1, "at least 10ms"},
		{math.MinInt64, "at least 10ms"},
	}
	for _, tt := range tests {
		t.Run(tt.every.String(), func(t *testing.T) {
			b, err := Start(Options{Addr: "127.0.0.1:0", CompactInterval: tt.every})
			if tt.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				b.Close()
				return
			}
			if err == nil {
				b.Close()
				t.Fatalf("started with a compaction interval of %v, want an error", tt.every)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

// Close returns promptly while a compaction round waits for a transaction and
// while producers are parked, and Compact then says the broker is closed.
func TestCloseDuringCompaction(t *testing.T) {
	const topic = "changelog"
	b, err := Start(Options{Addr: "127.0.0.1:0", Partitions: 1, CompactInterval: MinCompactInterval})
	if err != nil {
		t.Fatal(err)
	}
	createCompacted(t, b, topic, 1)
	open := txnClient(t, b, "open")
	if err := open.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := open.ProduceSync(testContext(t), rec(topic, 0, "K", "v")).FirstErr(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * MinCompactInterval) // a round is retrying
	closed := make(chan struct{})
	go func() {
		b.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return within 10s")
	}
	if compacted, err := b.Compact(testContext(t)); compacted || err == nil {
		t.Errorf("Compact after Close = %v, %v; want an error", compacted, err)
	} else if !errors.Is(err, errClosed) {
		t.Errorf("Compact after Close: %v, want %v", err, errClosed)
	}
}
