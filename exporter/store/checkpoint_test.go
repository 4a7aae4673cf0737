package store

import (
	"maps"
	"math"
	"slices"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	f := func(cp Checkpoint) {
		t.Helper()
		got, err := decodeCheckpoint(appendCheckpoint(nil, cp))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", cp, err)
		}
		if got.InputOffset != cp.InputOffset || got.StreamTime != cp.StreamTime || !maps.Equal(got.ChangelogOffsets, cp.ChangelogOffsets) || got.ChangelogOffsets == nil ||
			!slices.Equal(got.Watermarks, cp.Watermarks) {
			t.Errorf("decode(encode(%+v)) = %+v", cp, got)
		}
	}
	f(Checkpoint{InputOffset: -1, StreamTime: math.MinInt64})
	f(Checkpoint{InputOffset: math.MaxInt64, StreamTime: math.MaxInt64, ChangelogOffsets: map[string]int64{"": 0, "a": -1, "b\x00": math.MaxInt64}})
	f(Checkpoint{InputOffset: 5, StreamTime: 7, Watermarks: []int64{math.MinInt64, 0, 7, math.MaxInt64}})
}

// A store written before watermarks existed (version 1) still opens.
func TestCheckpointVersion1(t *testing.T) {
	v1 := []byte{1, 10, 14, 1, 1, 'a', 6} // input 5, stream time 7, {a: 3}
	cp, err := decodeCheckpoint(v1)
	if err != nil || cp.InputOffset != 5 || cp.StreamTime != 7 || cp.ChangelogOffsets["a"] != 3 || cp.Watermarks != nil {
		t.Fatalf("decode(v1) = %+v, %v", cp, err)
	}
}

func TestCheckpointMalformed(t *testing.T) {
	good := appendCheckpoint(nil, Checkpoint{InputOffset: 300, ChangelogOffsets: map[string]int64{"endpoint_1m": 7}})
	f := func(b []byte) {
		t.Helper()
		if cp, err := decodeCheckpoint(b); err == nil {
			t.Errorf("decode(%x) = %+v, want an error", b, cp)
		}
	}
	f(nil)
	f([]byte{3})                                     // unknown version
	f(good[:len(good)-1])                            // truncated
	f(append(good[:len(good):len(good)], 0))         // trailing byte
	f([]byte{1, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}) // count larger than the input
}

func FuzzDecodeCheckpoint(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		cp, err := decodeCheckpoint(b)
		if err != nil {
			return
		}
		again, err := decodeCheckpoint(appendCheckpoint(nil, cp))
		if err != nil || again.InputOffset != cp.InputOffset || again.StreamTime != cp.StreamTime || !maps.Equal(again.ChangelogOffsets, cp.ChangelogOffsets) ||
			!slices.Equal(again.Watermarks, cp.Watermarks) {
			t.Fatalf("re-encoding %+v gave %+v, %v", cp, again, err)
		}
	})
}
