package engine

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// TestExpiryHeap drives the heap with random pushes, removals and expiry updates,
// and checks after each step that its top is the smallest expiry of the keys in it
// (a brute-force minimum) and that every key knows its index.
func TestExpiryHeap(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 5))
	var h expiryHeap
	var in []*key
	for step := 0; step < 10000; step++ {
		switch op := rng.IntN(10); {
		case op < 5 || len(in) == 0:
			k := &key{expiry: rng.Int64N(1000) - 500, heapAt: -1}
			h.push(k)
			in = append(in, k)
		case op < 8:
			k := in[rng.IntN(len(in))]
			k.expiry += rng.Int64N(300) // expiries only grow
			h.update(k)
		default:
			i := rng.IntN(len(in))
			h.remove(in[i])
			if in[i].heapAt != -1 {
				t.Fatalf("step %d: removed key keeps index %d", step, in[i].heapAt)
			}
			in = slices.Delete(in, i, i+1)
		}
		if len(h) != len(in) {
			t.Fatalf("step %d: heap holds %d keys, want %d", step, len(h), len(in))
		}
		if len(in) == 0 {
			continue
		}
		least := slices.MinFunc(in, func(a, b *key) int { return int(a.expiry - b.expiry) }).expiry
		if h[0].at != least {
			t.Fatalf("step %d: top %d, smallest expiry %d", step, h[0].at, least)
		}
		for i, e := range h {
			if e.k.heapAt != i || e.at != e.k.expiry {
				t.Fatalf("step %d: entry %d: key index %d, at %d, key expiry %d", step, i, e.k.heapAt, e.at, e.k.expiry)
			}
		}
	}
}
