package store

import (
	"bytes"
	"cmp"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// randValue draws from a small alphabet rich in the bytes the encoding
// treats specially, so that prefixes and escapes are common.
func randValue(rnd *rand.Rand) []byte {
	alphabet := []byte{0x00, 0x01, 0x02, 'a', 0xFE, 0xFF}
	v := make([]byte, rnd.IntN(5))
	for i := range v {
		v[i] = alphabet[rnd.IntN(len(alphabet))]
	}
	return v
}

func randTuple(rnd *rand.Rand) [][]byte {
	t := make([][]byte, rnd.IntN(4))
	for i := range t {
		t[i] = randValue(rnd)
	}
	return t
}

func compareTuples(a, b [][]byte) int {
	for i := range min(len(a), len(b)) {
		if c := bytes.Compare(a[i], b[i]); c != 0 {
			return c
		}
	}
	return cmp.Compare(len(a), len(b))
}

func randKey(rnd *rand.Rand) (Key, [][]byte) {
	aggs := []string{"a", "a\x01", "ab", "b", "\xff"}
	starts := []int64{math.MinInt64, -1 << 40, -1, 0, 1, 1 << 40, math.MaxInt64}
	tuple := randTuple(rnd)
	start := starts[rnd.IntN(len(starts))]
	if rnd.IntN(2) == 0 {
		start = rnd.Int64() - rnd.Int64()
	}
	return Key{Agg: aggs[rnd.IntN(len(aggs))], Group: AppendGroup(nil, tuple...), Start: start}, tuple
}

func TestGroupRoundTrip(t *testing.T) {
	f := func(values ...[]byte) {
		t.Helper()
		enc := AppendGroup([]byte("prefix"), values...)
		if !bytes.HasPrefix(enc, []byte("prefix")) {
			t.Fatalf("AppendGroup overwrote dst: %x", enc)
		}
		got, err := SplitGroup(enc[len("prefix"):])
		if err != nil {
			t.Fatalf("SplitGroup(%x): %v", enc, err)
		}
		if !slices.EqualFunc(got, values, bytes.Equal) {
			t.Errorf("SplitGroup(AppendGroup(%q)) = %q", values, got)
		}
	}
	f()
	f(nil)
	f([]byte{})
	f(nil, nil)
	f([]byte{0})
	f([]byte{0, 0xFF}, []byte{0, 1}, []byte{1, 0})
	f([]byte("GET /api"), []byte("500"), []byte("eu-west-1"))
	rnd := rand.New(rand.NewPCG(1, 1))
	for range 10000 {
		f(randTuple(rnd)...)
	}
}

func TestGroupEncoding(t *testing.T) {
	f := func(want []byte, values ...string) {
		t.Helper()
		bs := make([][]byte, len(values))
		for i, v := range values {
			bs[i] = []byte(v)
		}
		if got := AppendGroup(nil, bs...); !bytes.Equal(got, want) {
			t.Errorf("AppendGroup(%q) = %x, want %x", values, got, want)
		}
	}
	f(nil)
	f([]byte{0, 1}, "")
	f([]byte{'a', 0, 1, 'b', 0, 0xFF, 0xFF, 1, 0, 1}, "a", "b\x00\xff\x01")
}

func TestSplitGroupMalformed(t *testing.T) {
	f := func(group []byte) {
		t.Helper()
		if _, err := SplitGroup(group); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("SplitGroup(%x) = %v, want ErrInvalidKey", group, err)
		}
	}
	f([]byte("a"))           // unterminated
	f([]byte{0})             // truncated escape
	f([]byte{0, 0})          // group terminator inside a group
	f([]byte{0, 2})          // unknown escape
	f([]byte{'a', 0, 0xFF})  // escaped 0x00, then unterminated
	f([]byte{0, 1, 'a'})     // trailing bytes
	f([]byte{0, 1, 0, 0xFE}) // unknown escape after a value
}

// TestGroupOrder is the property keys rely on: encodings compare like the
// tuples they encode.
func TestGroupOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(2, 2))
	for range 100000 {
		a, b := randTuple(rnd), randTuple(rnd)
		got := bytes.Compare(AppendGroup(nil, a...), AppendGroup(nil, b...))
		if want := compareTuples(a, b); got != want {
			t.Fatalf("bytes.Compare(enc %q, enc %q) = %d, want %d", a, b, got, want)
		}
	}
}

func TestKeyRoundTrip(t *testing.T) {
	rnd := rand.New(rand.NewPCG(3, 3))
	for range 10000 {
		k, _ := randKey(rnd)
		enc := k.Append([]byte{9})[1:]
		got, err := ParseKey(enc)
		if err != nil {
			t.Fatalf("ParseKey(%x): %v", enc, err)
		}
		if got.Agg != k.Agg || !bytes.Equal(got.Group, k.Group) || got.Start != k.Start {
			t.Fatalf("ParseKey(Append(%+v)) = %+v", k, got)
		}
	}
}

// TestKeyOrder checks that encoded keys sort by (Agg, tuple, Start), groups
// of different lengths mixed.
func TestKeyOrder(t *testing.T) {
	rnd := rand.New(rand.NewPCG(4, 4))
	for range 100000 {
		a, ta := randKey(rnd)
		b, tb := randKey(rnd)
		want := cmp.Compare(a.Agg, b.Agg)
		if want == 0 {
			want = compareTuples(ta, tb)
		}
		if want == 0 {
			want = cmp.Compare(a.Start, b.Start)
		}
		if got := bytes.Compare(a.Append(nil), b.Append(nil)); got != want {
			t.Fatalf("bytes.Compare(%x, %x) = %d, want %d for %+v, %+v", a.Append(nil), b.Append(nil), got, want, a, b)
		}
	}
}

func TestParseKeyMalformed(t *testing.T) {
	start := appendStart(nil, 5)
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f := func(b []byte) {
		t.Helper()
		if k, err := ParseKey(b); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ParseKey(%x) = %+v, %v; want ErrInvalidKey", b, k, err)
		}
	}
	f(nil)
	f(cat([]byte("\x00"), []byte{0, 0}, start))           // empty aggregation
	f(cat([]byte("a"), []byte{0, 0}, start))              // no separator
	f(cat([]byte("a\x00"), []byte{0, 0}, start[:7]))      // short start
	f(cat([]byte("a\x00"), []byte{0, 1}, start))          // group not terminated
	f(cat([]byte("a\x00x"), []byte{0, 0}, start))         // unterminated value
	f(cat([]byte("a\x00x\x00\x02"), []byte{0, 0}, start)) // bad escape
	f(checkpointKey)
}

func FuzzSplitGroup(f *testing.F) {
	f.Fuzz(func(t *testing.T, group []byte) {
		values, err := SplitGroup(group)
		if err != nil {
			return
		}
		if enc := AppendGroup(nil, values...); !bytes.Equal(enc, group) {
			t.Fatalf("AppendGroup(SplitGroup(%x)) = %x", group, enc)
		}
	})
}

func FuzzParseKey(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		k, err := ParseKey(b)
		if err != nil {
			return
		}
		if err := k.check(); err != nil {
			t.Fatalf("ParseKey(%x) returned a key that fails check: %v", b, err)
		}
		if enc := k.Append(nil); !bytes.Equal(enc, b) {
			t.Fatalf("Append(ParseKey(%x)) = %x", b, enc)
		}
	})
}

// nextEscape, checkGroup's search, finds what bytes.IndexByte finds, at every
// offset and length.
func TestNextEscape(t *testing.T) {
	rnd := rand.New(rand.NewPCG(2, 3))
	for range 100000 {
		b := make([]byte, rnd.IntN(40))
		for i := range b {
			switch rnd.IntN(12) {
			case 0:
				b[i] = 0
			case 1:
				b[i] = byte(rnd.IntN(256))
			default:
				b[i] = 'a' + byte(rnd.IntN(26))
			}
		}
		i := rnd.IntN(len(b) + 1)
		want := len(b)
		if j := bytes.IndexByte(b[i:], 0); j >= 0 {
			want = i + j
		}
		if got := nextEscape(b, i); got != want {
			t.Fatalf("nextEscape(%x, %d) = %d, want %d", b, i, got, want)
		}
	}
}
