package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"
)

// Checkpoint is what a restart resumes from. It is written in the same
// atomic Write as the data it describes.
type Checkpoint struct {
	InputOffset      int64            // next input offset to consume, -1 if none
	ChangelogOffsets map[string]int64 // per aggregation: next changelog offset to replay
	StreamTime       int64            // unix ms, max event time seen; math.MinInt64 if none
	// Watermarks are a stage-2 task's latest watermark of each stage-1 source (input
	// partition), math.MinInt64 for a source not heard from; nil for a store
	// written before they existed.
	Watermarks []int64
}

// checkpointVersion is the first byte of an encoded checkpoint; a store
// refuses one it does not know rather than misreading it.
// Version 1 lacks the watermarks.
const checkpointVersion = 2

// appendCheckpoint encodes cp: version, varint input offset, varint stream
// time, uvarint count, then per aggregation in name order a uvarint name
// length, the name and a varint offset; then a uvarint count and the varint
// watermarks.
func appendCheckpoint(dst []byte, cp Checkpoint) []byte {
	dst = append(dst, checkpointVersion)
	dst = binary.AppendVarint(dst, cp.InputOffset)
	dst = binary.AppendVarint(dst, cp.StreamTime)
	dst = binary.AppendUvarint(dst, uint64(len(cp.ChangelogOffsets)))
	for _, name := range slices.Sorted(maps.Keys(cp.ChangelogOffsets)) {
		dst = binary.AppendUvarint(dst, uint64(len(name)))
		dst = append(dst, name...)
		dst = binary.AppendVarint(dst, cp.ChangelogOffsets[name])
	}
	dst = binary.AppendUvarint(dst, uint64(len(cp.Watermarks)))
	for _, w := range cp.Watermarks {
		dst = binary.AppendVarint(dst, w)
	}
	return dst
}

var errCheckpointShort = errors.New("truncated")

func decodeCheckpoint(b []byte) (Checkpoint, error) {
	if len(b) == 0 || b[0] < 1 || b[0] > checkpointVersion {
		return Checkpoint{}, fmt.Errorf("store: checkpoint: unknown format (%d bytes)", len(b))
	}
	d := decoder{b: b[1:]}
	cp := Checkpoint{InputOffset: d.varint(), StreamTime: d.varint()}
	n := d.uvarint()
	if d.err == nil && n > uint64(len(d.b)) { // each entry takes at least 2 bytes
		d.err = fmt.Errorf("%d aggregations in %d bytes", n, len(d.b))
	}
	cp.ChangelogOffsets = make(map[string]int64, int(min(n, 1024)))
	for i := uint64(0); i < n && d.err == nil; i++ {
		name := d.bytes(d.uvarint())
		cp.ChangelogOffsets[string(name)] = d.varint()
	}
	if b[0] >= 2 {
		n := d.uvarint()
		if d.err == nil && n > uint64(len(d.b)) { // each takes at least a byte
			d.err = fmt.Errorf("%d watermarks in %d bytes", n, len(d.b))
		}
		for i := uint64(0); i < n && d.err == nil; i++ {
			cp.Watermarks = append(cp.Watermarks, d.varint())
		}
	}
	if d.err == nil && len(d.b) > 0 {
		d.err = fmt.Errorf("%d trailing bytes", len(d.b))
	}
	if d.err != nil {
		return Checkpoint{}, fmt.Errorf("store: checkpoint: %w", d.err)
	}
	return cp, nil
}

// decoder reads a checkpoint; after the first error every read is a no-op.
type decoder struct {
	b   []byte
	err error
}

func (d *decoder) varint() int64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err = errCheckpointShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err = errCheckpointShort
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.err = errCheckpointShort
		return nil
	}
	v := d.b[:n]
	d.b = d.b[n:]
	return v
}

func cloneCheckpoint(cp Checkpoint) Checkpoint {
	cp.ChangelogOffsets = maps.Clone(cp.ChangelogOffsets)
	cp.Watermarks = slices.Clone(cp.Watermarks)
	if cp.ChangelogOffsets == nil {
		cp.ChangelogOffsets = map[string]int64{}
	}
	return cp
}
