package kafka

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"sync/atomic"

	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// MaxBatchBytes bounds what one fetched batch may decompress to, as franz-go's
// own decompressor does by default (kgo.MaxDecompressBatchBytes).
const MaxBatchBytes = 1 << 30

// Decompressor decompresses fetched batches as franz-go's default does, but
// decodes LZ4 frames block by block straight into the batch's output.
//
// franz-go streams an LZ4 frame through pierrec/lz4's Reader into a pooled
// buffer, then copies the result out: every decoder in its pool holds a block
// buffer of the frame's maximum block size (4 MiB for frames written by
// franz-go's producer, the demo's load generator among them), and each batch
// is copied once more than needed. Here a batch costs one allocation, its
// output, sized from the ratio of recent batches (exactly, when the frame
// states its content size), and no decoder state is kept.
//
// The frame's checksums (header, block and content xxHash32) are not
// verified: every record batch carries a CRC-32C over its compressed bytes,
// which franz-go checks before decompressing, and a damaged block still fails
// to decode or decodes to the wrong length. Other codecs go to franz-go's
// default decompressor.
type Decompressor struct {
	other kgo.Decompressor
	max   int
	// ratio is the decompressed size over the compressed size of the last
	// LZ4 batch, in 1/16ths: the next batch's first guess.
	ratio atomic.Uint32
}

// NewDecompressor returns a Decompressor bounding batches at limit bytes.
func NewDecompressor(limit int) *Decompressor {
	d := &Decompressor{other: kgo.DefaultDecompressor(), max: limit}
	d.ratio.Store(4 * 16)
	return d
}

// Decompress implements kgo.Decompressor.
func (d *Decompressor) Decompress(src []byte, codec kgo.CompressionCodecType) ([]byte, error) {
	if codec != kgo.CodecLz4 {
		return d.other.Decompress(src, codec)
	}
	guess := uint64(len(src))*uint64(d.ratio.Load())/16 + uint64(len(src))/8 + 256
	out, err := decodeLZ4(src, int(min(guess, uint64(d.max))), d.max)
	if err != nil {
		return nil, err
	}
	if len(src) > 0 {
		d.ratio.Store(uint32(min(uint64(len(out))*16/uint64(len(src)), math.MaxUint32)))
	}
	return out, nil
}

// errLZ4 is wrapped by every error of a malformed LZ4 frame.
var errLZ4 = errors.New("lz4: malformed frame")

const (
	lz4Magic          = 0x184D2204
	lz4SkippableMagic = 0x184D2A50 // to 0x184D2A5F
	lz4Window         = 64 << 10   // how far back a linked block may refer
)

// decodeLZ4 decodes the LZ4 frames of src (one, from a Kafka producer, but
// any number may follow one another, skippable frames among them) into a
// slice of capacity guess, grown as needed, at most limit bytes.
func decodeLZ4(src []byte, guess, limit int) ([]byte, error) {
	out := make([]byte, 0, max(guess, 0))
	for len(src) > 0 {
		if len(src) < 4 {
			return nil, fmt.Errorf("%w: %d trailing bytes", errLZ4, len(src))
		}
		magic := binary.LittleEndian.Uint32(src)
		if magic&^0xF == lz4SkippableMagic {
			if len(src) < 8 {
				return nil, fmt.Errorf("%w: truncated skippable frame", errLZ4)
			}
			n := uint64(binary.LittleEndian.Uint32(src[4:]))
			if n > uint64(len(src)-8) {
				return nil, fmt.Errorf("%w: truncated skippable frame", errLZ4)
			}
			src = src[8+n:]
			continue
		}
		if magic != lz4Magic {
			return nil, fmt.Errorf("%w: magic number %#x", errLZ4, magic)
		}
		var err error
		if out, src, err = decodeLZ4Frame(out, src[4:], limit); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// decodeLZ4Frame appends the content of the frame whose descriptor starts src
// (after the magic number) to out, and returns the bytes after the frame.
func decodeLZ4Frame(out, src []byte, limit int) (_, rest []byte, _ error) {
	if len(src) < 3 {
		return nil, nil, fmt.Errorf("%w: truncated frame descriptor", errLZ4)
	}
	flg, bd := src[0], src[1]
	if flg>>6 != 1 || flg&0b10 != 0 || bd&0b1000_1111 != 0 {
		return nil, nil, fmt.Errorf("%w: frame descriptor %#x %#x", errLZ4, flg, bd)
	}
	linked := flg&(1<<5) == 0
	blockChecksum := flg&(1<<4) != 0
	contentChecksum := flg&(1<<2) != 0
	blockMax := 1 << (8 + 2*int(bd>>4)) // 4: 64 KiB ... 7: 4 MiB
	if bd>>4 < 4 {
		return nil, nil, fmt.Errorf("%w: block maximum size code %d", errLZ4, bd>>4)
	}
	n := 2
	if flg&(1<<3) != 0 { // content size
		if len(src) < n+8 {
			return nil, nil, fmt.Errorf("%w: truncated frame descriptor", errLZ4)
		}
		size := binary.LittleEndian.Uint64(src[n:])
		if size > uint64(limit-len(out)) {
			return nil, nil, kgo.ErrMaxDecompress
		}
		if room := int(size); cap(out)-len(out) < room {
			out = grow(out, room)
		}
		n += 8
	}
	if flg&1 != 0 { // a dictionary, which Kafka producers do not use
		return nil, nil, fmt.Errorf("%w: frames with a dictionary are not supported", errLZ4)
	}
	n++ // the header checksum
	if len(src) < n {
		return nil, nil, fmt.Errorf("%w: truncated frame descriptor", errLZ4)
	}
	src = src[n:]
	start := len(out)
	for {
		if len(src) < 4 {
			return nil, nil, fmt.Errorf("%w: truncated block", errLZ4)
		}
		size := binary.LittleEndian.Uint32(src)
		src = src[4:]
		if size == 0 { // end mark
			break
		}
		raw := size&(1<<31) != 0
		size &^= 1 << 31
		if int64(size) > int64(len(src)) || int(size) > blockMax {
			return nil, nil, fmt.Errorf("%w: block of %d bytes, %d left, maximum %d", errLZ4, size, len(src), blockMax)
		}
		block := src[:size]
		src = src[size:]
		if blockChecksum {
			if len(src) < 4 {
				return nil, nil, fmt.Errorf("%w: truncated block checksum", errLZ4)
			}
			src = src[4:]
		}
		var err error
		if out, err = appendBlock(out, block, raw, linked, start, blockMax, limit); err != nil {
			return nil, nil, err
		}
	}
	if contentChecksum {
		if len(src) < 4 {
			return nil, nil, fmt.Errorf("%w: truncated content checksum", errLZ4)
		}
		src = src[4:]
	}
	return out, src, nil
}

// appendBlock appends the decoding of one block to out: as is when raw;
// otherwise with room for what recent batches suggest, and more only if the
// block needs it (a decoder cannot tell how long its output is beforehand,
// and a short destination and a damaged block fail alike, so a block that
// still fails with room for blockMax bytes is damaged). A linked block may
// refer to the 64 KiB before it in the frame, which start begins.
func appendBlock(out, block []byte, raw, linked bool, start, blockMax, limit int) ([]byte, error) {
	if raw {
		if len(block) > limit-len(out) {
			return nil, kgo.ErrMaxDecompress
		}
		return append(out, block...), nil
	}
	for {
		room := min(cap(out)-len(out), blockMax, limit-len(out))
		dst := out[len(out) : len(out)+room]
		var (
			n   int
			err error
		)
		if linked && len(out) > start {
			n, err = lz4.UncompressBlockWithDict(block, dst, out[max(start, len(out)-lz4Window):])
		} else {
			n, err = lz4.UncompressBlock(block, dst)
		}
		if err == nil {
			return out[:len(out)+n], nil
		}
		switch {
		case room >= blockMax:
			return nil, fmt.Errorf("%w: %w", errLZ4, err)
		case room >= limit-len(out):
			return nil, kgo.ErrMaxDecompress
		}
		out = grow(out, min(max(2*room, 4<<10), blockMax, limit-len(out)))
	}
}

// grow returns out with room for at least n more bytes, doubling its capacity
// at least.
func grow(out []byte, n int) []byte {
	c := max(2*cap(out), len(out)+n)
	b := make([]byte, len(out), c)
	copy(b, out)
	return b
}
