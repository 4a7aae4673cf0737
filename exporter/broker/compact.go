package broker

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// The compactor runs the log cleaner of the embedded broker in place of kfake's
// own, and never while a transaction is open.
//
// kfake's cleaner (Cluster.compact) treats the records of an open transaction as
// ordinary data: a committed record of key K is dropped as superseded by K's record
// in a transaction that is still open, and when that transaction aborts (its
// producer died and was fenced by its restart), K's committed value is gone. Real
// Kafka never cleans past the last stable offset. kwindow's changelogs are exactly
// that case: a crashed instance leaves its transaction open, and the instance that
// restores the partitions must find every committed record.
//
// So kfake's cleaner is off (brokerConfigs) and compaction runs only at a moment when
// no partition that has received transactional records has any that are undecided
// (LastStableOffset == HighWatermark everywhere). The check and the compaction must
// be atomic with respect to produce requests: kfake's run loop handles one request
// at a time, and while a control function runs (or runs again after SleepControl),
// it serves only admin calls (PartitionInfos, Compact), no client request. So a round
// runs inside a control function: the compactor sends the broker a produce request of
// its own with no records (a poke), and the produce control function, recognizing
// it, checks and compacts with no produce request handled in between.
//
// kwindow writes a transaction's records at its commit, so a transaction is open for
// a few milliseconds of every commit interval, and a poke usually finds every
// partition stable. When it does not, and the open transactions are moving, the poke
// closes a gate: transactional produce requests that would begin a transaction are
// parked (SleepControl), those of transactions in progress go through, so that the
// open ones end and no new one begins; the poke checks again every pollEvery, for at
// most maxPark, then opens the gate whatever happened. A round retries every
// retryEvery for retryFor, then waits for the next interval. An open transaction that
// has not moved since the previous attempt (its producer died: it stays open until
// the producer's restart fences it or its transaction timeout aborts it) is not
// waited for with the gate: parking the others would not end it.
type compactor struct {
	c        *kfake.Cluster
	cl       *kgo.Client // sends the pokes
	interval time.Duration
	logf     func(format string, args ...any) // warnings
	debugf   func(format string, args ...any)

	// round serializes rounds (the interval's and Broker.Compact's).
	round sync.Mutex

	// mu guards what follows. Every admin call a control function makes is made
	// under mu after checking closed, so that none is made once Close has begun
	// (kfake's admin calls block forever once its run loop has stopped). Nothing
	// sleeps under mu.
	mu       sync.Mutex
	closed   bool
	done     chan struct{} // closed by close: wakes everything parked
	topics   map[string]struct{}
	ids      map[[16]byte]string
	inTxn    map[string]bool // transactional IDs that have produced since their last EndTxn
	gate     chan struct{}   // non-nil while closed; closed when opened
	pending  *poke
	stats    CompactionStats
	deferred int                   // rounds deferred in a row
	onPark   func(d time.Duration) // tests: every park's duration
}

// Compaction timing. Variables so that tests can shorten them.
var (
	retryEvery = 150 * time.Millisecond
	retryFor   = 3 * time.Second
	maxPark    = 100 * time.Millisecond
	pollEvery  = 2 * time.Millisecond
	// warnAfter rounds deferred in a row log a warning (and every warnAfter after).
	warnAfter = 4
)

// errClosed: the broker is closed.
var errClosed = errors.New("broker: closed")

// pokeID marks the compactor's own produce requests (which carry no topic).
const pokeID = "\x00kwindow-broker-compactor"

// CompactionStats counts what the embedded broker's compactor has done.
type CompactionStats struct {
	Compactions int64 // compactions run
	// Attempts that found a transaction open: each is retried within its round.
	DeferredAttempts int64
	// Rounds that found no moment without an open transaction, left to the next
	// interval.
	DeferredRounds int64
	// Gates closed (an attempt that found transactions open and moving parks
	// the produce requests that would begin one), and those that opened after
	// maxPark without the open transactions having ended.
	Gates, GateTimeouts int64
	// Produce requests the gate parked, and how long in all and at most.
	Parked      int64
	ParkedTotal time.Duration
	ParkedMax   time.Duration
	// LastCompaction is when the last compaction ran (zero: none yet).
	LastCompaction time.Time
	// LastDuration is how long it blocked the broker, LongestDuration the most
	// any did.
	LastDuration    time.Duration
	LongestDuration time.Duration
}

// openTxn is a partition with records of a transaction not yet decided from
// offset LSO on.
type openTxn struct {
	topic     string
	partition int32
	lso       int64
}

func (o openTxn) String() string {
	return fmt.Sprintf("%s-%d from offset %d", o.topic, o.partition, o.lso)
}

// poke is one attempt: what the compactor asks of its poke request and what the
// control function answers.
type poke struct {
	gate   bool      // close the gate if a transaction is open and moving
	before []openTxn // the open transactions the previous attempt found
	done   chan pokeResult
}

type pokeResult struct {
	compacted bool
	open      []openTxn // when not compacted
	took      time.Duration
}

func newCompactor(c *kfake.Cluster, addr string, interval time.Duration, logf, debugf func(string, ...any)) (*compactor, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return nil, fmt.Errorf("broker: compactor client: %w", err)
	}
	k := &compactor{
		c: c, cl: cl, interval: interval, logf: logf, debugf: debugf,
		done:   make(chan struct{}),
		topics: map[string]struct{}{},
		ids:    map[[16]byte]string{},
		inTxn:  map[string]bool{},
	}
	c.ControlKey(int16(kmsg.Produce), k.onProduce)
	c.ControlKey(int16(kmsg.EndTxn), k.onEndTxn)
	return k, nil
}

// watch adds topics whose partitions must be stable for a compaction: those that
// hold records from before the compactor started (a reloaded DataDir).
func (k *compactor) watch(topics ...string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	for _, t := range topics {
		k.topics[t] = struct{}{}
	}
}

// run compacts every interval until ctx is done.
func (k *compactor) run(ctx context.Context) {
	t := time.NewTicker(k.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		compacted, open, err := k.compact(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			k.logf("broker: log compaction: %v", err)
		}
		k.mu.Lock()
		if compacted {
			k.deferred = 0
			k.mu.Unlock()
			continue
		}
		k.deferred++
		k.stats.DeferredRounds++
		n := k.deferred
		k.mu.Unlock()
		// Retention still applies: kfake applies it with compaction, and the
		// changelogs' retention.ms relies on it.
		k.c.ApplyRetention()
		if len(open) > 0 && n%warnAfter == 0 && err == nil {
			k.logf("broker: log compaction deferred for %v: %s has had an open transaction since (a producer that died "+
				"keeps its transaction open until it restarts or its transaction times out); compacted topics grow meanwhile",
				time.Duration(n)*k.interval, open[0])
		}
	}
}

// compact runs one round: attempts every retryEvery for retryFor until one finds
// no open transaction and compacts. It returns the open transactions of the last
// attempt when none did.
func (k *compactor) compact(ctx context.Context) (compacted bool, open []openTxn, err error) {
	k.round.Lock()
	defer k.round.Unlock()
	deadline := time.Now().Add(retryFor)
	for attempt := 1; ; attempt++ {
		p := &poke{gate: attempt > 1, before: open, done: make(chan pokeResult, 1)}
		r, err := k.poke(ctx, p)
		switch {
		case errors.Is(err, errClosed):
			return false, open, err
		case err != nil:
			k.debugf("broker: log compaction attempt %d: %v", attempt, err)
		case r.compacted:
			k.mu.Lock()
			st := k.stats
			k.mu.Unlock()
			k.debugf("broker: log compaction %d done in %v (attempt %d, broker blocked %v); %d produce requests parked so far, %v in all, at most %v",
				st.Compactions, r.took.Round(time.Millisecond), attempt, st.LastDuration.Round(time.Microsecond), st.Parked,
				st.ParkedTotal.Round(time.Millisecond), st.ParkedMax.Round(time.Microsecond))
			return true, nil, nil
		default:
			open = r.open
			k.mu.Lock()
			k.stats.DeferredAttempts++
			k.mu.Unlock()
			if len(open) > 0 {
				k.debugf("broker: log compaction attempt %d deferred after %v: %d partitions have an open transaction (%s)",
					attempt, r.took.Round(time.Millisecond), len(open), open[0])
			}
		}
		if time.Now().Add(retryEvery).After(deadline) {
			return false, open, err
		}
		select {
		case <-ctx.Done():
			return false, open, ctx.Err()
		case <-time.After(retryEvery):
		}
	}
}

// poke sends the compactor's produce request and returns what its control
// function did.
func (k *compactor) poke(ctx context.Context, p *poke) (pokeResult, error) {
	k.mu.Lock()
	if k.closed {
		k.mu.Unlock()
		return pokeResult{}, errClosed
	}
	k.pending = p
	k.mu.Unlock()
	req := kmsg.NewPtrProduceRequest()
	id := pokeID
	req.TransactionID = &id
	req.TimeoutMillis = 1000
	ctx, cancel := context.WithTimeout(ctx, maxPark+10*time.Second)
	defer cancel()
	_, err := k.cl.SeedBrokers()[0].Request(ctx, req)
	k.mu.Lock()
	if k.pending == p {
		k.pending = nil
	}
	k.mu.Unlock()
	select {
	case r := <-p.done:
		return r, nil
	default:
		if err == nil {
			err = errors.New("the broker answered the compactor's request without running it")
		}
		return pokeResult{}, err
	}
}

// Stats returns what the compactor has done.
func (k *compactor) Stats() CompactionStats {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stats
}

// close stops the compactor: nothing is parked after it returns, and no control
// function calls kfake any more. The caller has stopped run.
func (k *compactor) close() {
	k.mu.Lock()
	if !k.closed {
		k.closed = true
		close(k.done)
	}
	k.mu.Unlock()
	k.cl.Close()
}
