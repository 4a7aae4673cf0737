package engine

// expiryHeap is a binary min-heap of keys by the expiry they had when pushed or
// last updated (at). Each key is in it at most once and knows its index, so it can
// be removed when it leaves memory.
type expiryHeap []expiryEntry

type expiryEntry struct {
	at int64
	k  *key
}

func (h *expiryHeap) push(k *key) {
	*h = append(*h, expiryEntry{k.expiry, k})
	k.heapAt = len(*h) - 1
	h.up(k.heapAt)
}

// update moves k to its current expiry, which is never earlier.
func (h *expiryHeap) update(k *key) {
	(*h)[k.heapAt].at = k.expiry
	h.down(k.heapAt)
}

func (h *expiryHeap) remove(k *key) {
	i, last := k.heapAt, len(*h)-1
	if i != last {
		h.swap(i, last)
	}
	(*h)[last] = expiryEntry{}
	*h = (*h)[:last]
	k.heapAt = -1
	if i != last && !h.down(i) {
		h.up(i)
	}
}

func (h expiryHeap) swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].k.heapAt, h[j].k.heapAt = i, j
}

func (h expiryHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if h[p].at <= h[i].at {
			return
		}
		h.swap(i, p)
		i = p
	}
}

// down sifts the entry at i down and reports whether it moved.
func (h expiryHeap) down(i int) bool {
	start := i
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		c := l
		if r := l + 1; r < len(h) && h[r].at < h[l].at {
			c = r
		}
		if h[i].at <= h[c].at {
			break
		}
		h.swap(i, c)
		i = c
	}
	return i > start
}
