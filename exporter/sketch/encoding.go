package sketch

import (
	"encoding"
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// encodingVersion is the first byte of every encoding; see AppendBinary.
const encodingVersion = 1

var (
	// ErrCorrupt is returned (wrapped) by UnmarshalBinary for input that is not a sketch.
	ErrCorrupt = errors.New("sketch: corrupt encoding")
	// ErrVersion is returned (wrapped) by UnmarshalBinary for an encoding version this
	// code does not know, written by a newer kwindow.
	ErrVersion = errors.New("sketch: unsupported encoding version")
)

var (
	_ encoding.BinaryAppender    = (*Sketch)(nil)
	_ encoding.BinaryMarshaler   = (*Sketch)(nil)
	_ encoding.BinaryUnmarshaler = (*Sketch)(nil)
)

// AppendBinary appends the binary encoding of s to dst. The error is always nil; the
// signature is encoding.BinaryAppender's.
//
// The format, version 1 (integers as encoding/binary varints, floats little-endian):
//
//	version  byte     1
//	schema   byte     int8, -4..8
//	zero     uvarint  zero-bucket count
//	positive bucket set, then negative bucket set:
//	  span   uvarint  buckets from the lowest to the highest non-empty one; 0 if none
//	  first  varint   (zigzag) index of the lowest non-empty bucket; only if span > 0
//	  items  until span buckets are covered: uvarint c > 0 is one bucket of count c;
//	         c = 0 is followed by uvarint r and stands for r+1 empty buckets.
//	         The first and last bucket are non-empty.
//	sum, min, max  8 bytes each, IEEE 754 bits; only if the total count is > 0
//
// The total count is not stored: it is the zero count plus the bucket counts. An empty
// sketch takes 5 bytes; 100k log-normal latencies at schema 6 about 1 KB.
func (s *Sketch) AppendBinary(dst []byte) ([]byte, error) {
	if s.enc != nil {
		return append(dst, s.enc...), nil
	}
	dst = append(dst, encodingVersion, byte(int8(s.schema)))
	dst = binary.AppendUvarint(dst, s.zero)
	dst = s.pos.appendBinary(dst)
	dst = s.neg.appendBinary(dst)
	if s.count > 0 {
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.sum))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.min))
		dst = binary.LittleEndian.AppendUint64(dst, math.Float64bits(s.max))
	}
	return dst, nil
}

// MarshalBinary returns the binary encoding of s; the error is always nil.
func (s *Sketch) MarshalBinary() ([]byte, error) { return s.AppendBinary(nil) }

func (b *buckets) appendBinary(dst []byte) []byte {
	lo, hi, ok := b.nonZero()
	if !ok {
		return append(dst, 0)
	}
	dst = binary.AppendUvarint(dst, uint64(hi-lo+1))
	dst = binary.AppendVarint(dst, int64(lo))
	return appendCounts(dst, b.counts[lo-b.offset:hi-b.offset+1])
}

// itemRoom is the most bytes one item of appendCounts takes: a zero and a run.
const itemRoom = 1 + binary.MaxVarintLen64

// appendCounts appends the items of counts, whose first and last are non-zero.
// It is the encoder's hot path (every changed window and running total at every
// commit): it makes room for the worst case of up to 32 items at a time, then
// writes them by index with one- and two-byte counts inline.
func appendCounts(dst []byte, counts []uint64) []byte {
	const chunk = 32
	for k := 0; k < len(counts); {
		dst = slices.Grow(dst, min(len(counts)-k, chunk)*itemRoom)
		n, buf := len(dst), dst[:cap(dst)]
		for end := min(k+chunk, len(counts)); k < end; { // one item per round
			c := counts[k]
			k++
			switch {
			case c-1 < 1<<7-1: // 1..127
				buf[n] = byte(c)
				n++
			case c-1 < 1<<14-1: // 128..16383
				buf[n], buf[n+1] = byte(c)|0x80, byte(c>>7)
				n += 2
			case c != 0:
				n += binary.PutUvarint(buf[n:], c)
			default:
				run := k
				if counts[k] == 0 { // the last bucket is non-empty
					// A run of more: in sparse sketches (most windows) they are
					// long, so 8 empty buckets are skipped per test while they last.
					for k+9 <= len(counts) {
						w := counts[k+1 : k+9 : k+9]
						if w[0]|w[1]|w[2]|w[3]|w[4]|w[5]|w[6]|w[7] != 0 {
							break
						}
						k += 8
					}
					for k++; counts[k] == 0; k++ {
					}
				}
				buf[n] = 0
				if r := k - run; r < 1<<7 { // r+1 empty buckets
					buf[n+1] = byte(r)
					n += 2
				} else {
					n += 1 + binary.PutUvarint(buf[n+1:], uint64(r))
				}
			}
		}
		dst = buf[:n]
	}
	return dst
}
