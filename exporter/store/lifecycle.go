package store

import "sync"

// lifecycle lets calls run concurrently with each other but not with Close,
// which must not free native objects under a running call. A Mutex rather
// than an RWMutex: a callback that queries the store again must not deadlock
// behind a waiting Close.
type lifecycle struct {
	mu     sync.Mutex
	idle   sync.Cond
	active int
	closed bool
}

func (l *lifecycle) init() { l.idle.L = &l.mu }

// enter reports whether a call may run; if so the caller must exit.
func (l *lifecycle) enter() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.active++
	return true
}

func (l *lifecycle) exit() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.active--
	if l.active == 0 && l.closed {
		l.idle.Broadcast()
	}
}

// close marks the store closed and waits for running calls. It reports false
// if the store was already closed.
func (l *lifecycle) close() bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return false
	}
	l.closed = true
	for l.active > 0 {
		l.idle.Wait()
	}
	return true
}
