package event

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// The configured paths compile into a tree of nodes that the scanner walks alongside
// the payload: one leaf token per distinct leaf path, one state per object on a path.

// pathTree is the configured paths as a tree, in configuration order.
type pathTree struct {
	keys []string
	kids []*pathTree
}

func (t *pathTree) insert(p Path) {
	for _, k := range p {
		var next *pathTree
		for i, key := range t.keys {
			if key == k {
				next = t.kids[i]
			}
		}
		if next == nil {
			next = &pathTree{}
			t.keys = append(t.keys, k)
			t.kids = append(t.kids, next)
		}
		t = next
	}
}

// pathIndex maps a path (pathKey) to its token or object index while compiling.
type pathIndex struct{ leaf, obj map[string]int }

// compile turns the tree below t (at path p) into nodes, numbering leaves and objects
// depth first so that a node's descendants have contiguous indices.
func (d *Decoder) compile(t *pathTree, p Path, idx pathIndex) node {
	n := node{field: p.String(), leaf: -1, obj: -1}
	if len(p) > 0 {
		n.key = p[len(p)-1]
		n.plain = !strings.ContainsFunc(n.key, func(r rune) bool { return r < 0x20 || r == '"' || r == '\\' })
		n.words()
	}
	if len(t.kids) == 0 && len(p) > 0 {
		n.leaf = len(d.toks)
		idx.leaf[pathKey(p)] = n.leaf
		d.toks = append(d.toks, token{})
		return n
	}
	if len(p) > 0 {
		n.obj = len(d.objs)
		idx.obj[pathKey(p)] = n.obj
		d.objs = append(d.objs, kAbsent)
	}
	n.tlo, n.olo = len(d.toks), len(d.objs)
	for i, k := range t.keys {
		n.kids = append(n.kids, d.compile(t.kids[i], append(p[:len(p):len(p)], k), idx))
	}
	n.thi, n.ohi = len(d.toks), len(d.objs)
	return n
}

func pathKey(p Path) string { return fmt.Sprintf("%q", []string(p)) }

// target returns the compiled field at p (nil: a field not configured).
func (idx pathIndex) target(p Path) target {
	if p == nil {
		return target{leaf: -1}
	}
	t := target{leaf: idx.leaf[pathKey(p)], field: p.String()}
	for i := 1; i < len(p); i++ {
		t.anc = append(t.anc, ancestor{obj: idx.obj[pathKey(p[:i])], field: p[:i].String()})
	}
	return t
}

// node is one object key on a configured path.
type node struct {
	key   string
	plain bool   // key is spelled in JSON without escapes, so match can find it
	field string // dotted path, for errors
	leaf  int    // index in Decoder.toks; -1 for an object node
	obj   int    // index in Decoder.objs; -1 for a leaf
	kids  []node
	// Learned key order (see match): the child tried first, and the sibling tried
	// first after this node.
	first, next int
	// Leaves and object nodes below this one are toks[tlo:thi] and objs[olo:ohi]
	// (indices are given in depth-first order), reset when the key repeats.
	tlo, thi, olo, ohi int
	// quoted is len(key)+1, the key with its closing quote; when it is at most 16,
	// at compares the sixteen bytes at the key as two words under masks.
	quoted         int
	w0, w1, m0, m1 uint64
}

// match returns the child whose key, followed by its closing quote, starts at data[i].
// prev is the child matched by the previous key of the object, or nil. Producers write
// keys in a fixed order, so match first tries the child that came after prev last
// time: most keys are then found by the first comparison.
func (n *node) match(data []byte, i int, prev *node) *node {
	if len(n.kids) == 0 {
		return nil
	}
	guess := n.first
	if prev != nil {
		guess = prev.next
	}
	if k := &n.kids[guess]; k.at(data, i) {
		return n.learn(prev, guess)
	}
	for j := range n.kids {
		if j != guess && n.kids[j].at(data, i) {
			return n.learn(prev, j)
		}
	}
	return nil
}

func (n *node) learn(prev *node, j int) *node {
	if prev == nil {
		n.first = j
	} else {
		prev.next = j
	}
	return &n.kids[j]
}

// at reports whether n's key and its closing quote are at data[i].
func (n *node) at(data []byte, i int) bool {
	if n.quoted > 16 || i+16 > len(data) {
		return n.atBytes(data, i)
	}
	return binary.LittleEndian.Uint64(data[i:])&n.m0 == n.w0 && binary.LittleEndian.Uint64(data[i+8:])&n.m1 == n.w1
}

func (n *node) atBytes(data []byte, i int) bool {
	e := i + len(n.key)
	return n.plain && e < len(data) && data[e] == '"' && n.key == string(data[i:e])
}

// words sets up at's word comparisons for a plain key of at most 15 bytes; any other
// key gets quoted > 16 (compared bytewise).
func (n *node) words() {
	q := n.key + `"`
	if !n.plain || len(q) > 16 {
		n.quoted = 17
		return
	}
	n.quoted = len(q)
	var b, m [16]byte
	copy(b[:], q)
	for i := range q {
		m[i] = 0xff
	}
	n.w0, n.w1 = binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:])
	n.m0, n.m1 = binary.LittleEndian.Uint64(m[:8]), binary.LittleEndian.Uint64(m[8:])
}

func (n *node) find(key []byte) *node {
	for i := range n.kids {
		k := &n.kids[i]
		if len(k.key) == len(key) && k.key[0] == key[0] && k.key == string(key) {
			return k
		}
	}
	return nil
}
