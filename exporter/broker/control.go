package broker

import (
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// The compactor's control functions: they run in kfake's run loop, one at a time,
// and while one runs the broker handles no client request (see compactor).

func isPoke(req *kmsg.ProduceRequest) bool {
	return len(req.Topics) == 0 && req.TransactionID != nil && *req.TransactionID == pokeID
}

// onProduce is the control function of every produce request. It runs the
// compactor's pokes; for transactional requests it records the topics (whose
// partitions a compaction waits for) and, while the gate is closed, parks a
// request that would begin a transaction. It never answers another request:
// kfake handles it as usual.
func (k *compactor) onProduce(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req, ok := kreq.(*kmsg.ProduceRequest)
	if !ok {
		return nil, nil, false
	}
	if isPoke(req) {
		k.c.KeepControl()
		k.runPoke()
		return req.ResponseKind(), nil, true
	}
	if req.TransactionID == nil {
		return nil, nil, false
	}
	txn := *req.TransactionID
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, nil, false
	}
	for _, t := range req.Topics {
		name := t.Topic
		if name == "" { // produce v13+ names topics by ID
			name = k.topicName(t.TopicID)
		}
		if name != "" {
			k.topics[name] = struct{}{}
		}
	}
	if gate := k.gate; gate != nil && !k.inTxn[txn] {
		start := time.Now()
		k.mu.Unlock()
		k.c.SleepControl(func() {
			select {
			case <-gate:
			case <-k.done:
			}
		})
		k.mu.Lock()
		d := time.Since(start)
		k.stats.Parked++
		k.stats.ParkedTotal += d
		k.stats.ParkedMax = max(k.stats.ParkedMax, d)
		if k.onPark != nil {
			k.onPark(d)
		}
	}
	k.inTxn[txn] = true
	return nil, nil, false
}

// onEndTxn notes that a transactional ID's transaction ends. The note only
// decides whom the gate parks; the compaction itself relies on the partitions'
// stable offsets alone.
func (k *compactor) onEndTxn(kreq kmsg.Request) (kmsg.Response, error, bool) {
	req, ok := kreq.(*kmsg.EndTxnRequest)
	if !ok {
		return nil, nil, false
	}
	k.mu.Lock()
	delete(k.inTxn, req.TransactionalID)
	k.mu.Unlock()
	return nil, nil, false
}

// topicName resolves a topic ID; k.mu is held.
func (k *compactor) topicName(id [16]byte) string {
	if name, ok := k.ids[id]; ok {
		return name
	}
	info := k.c.TopicIDInfo(id)
	if info == nil {
		return ""
	}
	k.ids[id] = info.Topic
	return info.Topic
}

// runPoke runs in the control function of the compactor's poke request, so that
// kfake handles no client request between checking and compacting.
func (k *compactor) runPoke() {
	start := time.Now()
	k.mu.Lock()
	p := k.pending
	k.pending = nil
	if p == nil || k.closed {
		k.mu.Unlock()
		return
	}
	var r pokeResult
	defer func() {
		r.took = time.Since(start)
		p.done <- r
	}()
	if r.open = k.openTxns(); len(r.open) == 0 {
		k.compactNow()
		r.compacted = true
		k.mu.Unlock()
		return
	}
	if !p.gate || stuck(p.before, r.open) {
		k.mu.Unlock()
		return
	}
	gate := make(chan struct{})
	k.gate = gate
	k.stats.Gates++
	k.mu.Unlock()
	defer func() {
		k.mu.Lock()
		k.gate = nil
		close(gate)
		k.mu.Unlock()
	}()
	for time.Since(start) < maxPark {
		k.c.SleepControl(func() {
			select {
			case <-time.After(pollEvery):
			case <-k.done:
			}
		})
		k.mu.Lock()
		if k.closed {
			k.mu.Unlock()
			return
		}
		if r.open = k.openTxns(); len(r.open) == 0 {
			k.compactNow()
			r.compacted = true
			k.mu.Unlock()
			return
		}
		k.mu.Unlock()
	}
	k.mu.Lock()
	k.stats.GateTimeouts++
	k.mu.Unlock()
}

// openTxns lists the partitions with undecided transactional records; k.mu is held.
func (k *compactor) openTxns() []openTxn {
	var open []openTxn
	for t := range k.topics {
		ps := k.c.PartitionInfos(t)
		if ps == nil { // deleted
			delete(k.topics, t)
			continue
		}
		for _, p := range ps {
			if p.LastStableOffset < p.HighWatermark {
				open = append(open, openTxn{t, p.Partition, p.LastStableOffset})
			}
		}
	}
	sort.Slice(open, func(i, j int) bool {
		if open[i].topic != open[j].topic {
			return open[i].topic < open[j].topic
		}
		return open[i].partition < open[j].partition
	})
	return open
}

// compactNow compacts every compacted topic and applies retention; k.mu is held.
func (k *compactor) compactNow() {
	start := time.Now()
	k.c.Compact()
	k.stats.Compactions++
	k.stats.LastCompaction = time.Now()
	k.stats.LastDuration = time.Since(start)
	k.stats.LongestDuration = max(k.stats.LongestDuration, k.stats.LastDuration)
}

// stuck reports whether a partition of now has had its open transaction at the
// same offset as in before: a transaction that has not moved, which parking the
// others will not end.
func stuck(before, now []openTxn) bool {
	for _, n := range now {
		for _, b := range before {
			if b == n {
				return true
			}
		}
	}
	return false
}
