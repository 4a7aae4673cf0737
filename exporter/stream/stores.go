package stream

import (
	"cmp"
	"slices"
	"sync"

	"github.com/kwindow/kwindow/exporter/store"
)

// StoreInfo is one stage-2 task's store as queries see it.
type StoreInfo struct {
	Partition int32 // the repartition partition
	// Store holds what the task's committed transactions wrote (writes reach it
	// only after their transaction commits). It may be closed at any moment, when
	// the partition leaves the instance: calls then fail with store.ErrClosed.
	Store store.Store
	// Restoring: the task is still replaying its changelog, so the store is
	// behind what the group committed by Behind records.
	Restoring bool
	Behind    int64
}

// Stores lists the stage-2 stores open in this instance, by partition: those of
// running tasks and those being restored. It is safe for concurrent use.
func (rt *Runtime) Stores() []StoreInfo {
	rt.stores.mu.Lock()
	out := make([]StoreInfo, 0, len(rt.stores.m))
	for p, e := range rt.stores.m {
		out = append(out, StoreInfo{Partition: p, Store: e.st, Restoring: !e.active})
	}
	rt.stores.mu.Unlock()
	for i := range out {
		if out[i].Restoring {
			out[i].Behind = rt.metrics.restoreLeftOf(out[i].Partition)
		}
	}
	slices.SortFunc(out, func(a, b StoreInfo) int { return cmp.Compare(a.Partition, b.Partition) })
	return out
}

// RepartitionPartitions is the number of partitions of the repartition topic (the
// stage-2 tasks of the group), 0 until the runtime has first connected.
func (rt *Runtime) RepartitionPartitions() int32 { return rt.repPartsSeen.Load() }

// openStores are the stage-2 stores open in the runtime, by partition.
type openStores struct {
	mu sync.Mutex
	m  map[int32]openStore
}

type openStore struct {
	st     store.Store
	active bool // its task runs (restored)
}

func (o *openStores) add(p int32, st store.Store) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil {
		o.m = map[int32]openStore{}
	}
	o.m[p] = openStore{st: st}
}

// activate marks p's store as its running task's, if it is still the open one.
func (o *openStores) activate(p int32, st store.Store) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.m[p]; ok && e.st == st {
		o.m[p] = openStore{st: st, active: true}
	}
}

// remove forgets p's store, if st is still the one listed.
func (o *openStores) remove(p int32, st store.Store) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if e, ok := o.m[p]; ok && e.st == st {
		delete(o.m, p)
	}
}
