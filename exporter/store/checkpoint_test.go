package store

import (
	"maps"
	"math"
	"testing"
)

func TestCheckpointRoundTrip(t *testing.T) {
	f := func(cp Checkpoint) {
		t.Helper()
		got, err := decodeCheckpoint(appendCheckpoint(nil, cp))
		if err != nil {
			t.Fatalf("decode(encode(%+v)): %v", cp, err)
		}
		if got.InputOffset != cp.InputOffset || got.StreamTime != cp.StreamTime || !maps.Equal(got.ChangelogOffsets, cp.ChangelogOffsets) || got.ChangelogOffsets == nil {
			t.Errorf("decode(encode(%+v)) = %+v", cp, got)
		}
	}
	f(Checkpoint{InputOffset: -1, StreamTime: math.MinInt64})
	f(Checkpoint{InputOffset: math.MaxInt64, StreamTime: math.MaxInt64, ChangelogOffsets: map[string]int64{"": 0, "a": -1, "b\x00": math.MaxInt64}})
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
	f([]byte{2})                                     // unknown version
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
		if err != nil || again.InputOffset != cp.InputOffset || again.StreamTime != cp.StreamTime || !maps.Equal(again.ChangelogOffsets, cp.ChangelogOffsets) {
			t.Fatalf("re-encoding %+v gave %+v, %v", cp, again, err)
		}
	})
}
