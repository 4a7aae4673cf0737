package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
)

// Group encoding: each value is written with every 0x00 byte escaped as
// 0x00 0xFF and is terminated by 0x00 0x01. Escaped bytes compare like the
// original bytes, and the terminator sorts below any escaped byte, so a value
// that is a prefix of another sorts first and bytes.Compare of two encodings
// agrees with comparing the tuples value by value. The pair 0x00 0x00 never
// occurs inside an encoding: keys use it to end the group (see Key).
const (
	escByte   = 0x00 // first byte of every two-byte sequence
	escZero   = 0xFF // 0x00 0xFF: a 0x00 inside a value
	escEnd    = 0x01 // 0x00 0x01: end of a value
	escGroupZ = 0x00 // 0x00 0x00: end of the group, in keys only
)

// AppendGroup appends the encoding of the dimension values to dst and returns
// the extended slice. The encoding is self-delimiting and order-preserving:
// bytes.Compare of two encodings orders them like the value tuples, a shorter
// tuple before its extensions. No values encodes as an empty group.
// It allocates only when dst must grow.
func AppendGroup(dst []byte, values ...[]byte) []byte {
	for _, v := range values {
		for {
			i := bytes.IndexByte(v, 0)
			if i < 0 {
				dst = append(dst, v...)
				break
			}
			dst = append(dst, v[:i]...)
			dst = append(dst, escByte, escZero)
			v = v[i+1:]
		}
		dst = append(dst, escByte, escEnd)
	}
	return dst
}

// SplitGroup decodes a group written by AppendGroup into its values. The
// values do not alias group. An empty group has no values.
func SplitGroup(group []byte) ([][]byte, error) {
	n, err := checkGroup(group)
	if err != nil {
		return nil, err
	}
	values := make([][]byte, 0, n)
	buf := make([]byte, 0, len(group)-2*n)
	start := 0
	for i := 0; i < len(group); i++ {
		if group[i] != escByte {
			buf = append(buf, group[i])
			continue
		}
		i++
		if group[i] == escZero {
			buf = append(buf, 0)
			continue
		}
		values = append(values, buf[start:len(buf):len(buf)])
		start = len(buf)
	}
	return values, nil
}

// checkGroup reports the number of values in group, or why group is not an
// encoding written by AppendGroup.
func checkGroup(group []byte) (values int, err error) {
	for i := 0; i < len(group); i++ {
		if i = nextEscape(group, i); i == len(group) {
			break
		}
		if i+1 == len(group) {
			return 0, fmt.Errorf("%w: group ends inside an escape at byte %d", ErrInvalidKey, i)
		}
		i++
		switch group[i] {
		case escZero:
		case escEnd:
			values++
		default:
			return 0, fmt.Errorf("%w: group has 0x00 0x%02x at byte %d", ErrInvalidKey, group[i], i-1)
		}
	}
	if len(group) > 0 && (len(group) < 2 || group[len(group)-2] != escByte || group[len(group)-1] != escEnd) {
		return 0, fmt.Errorf("%w: group does not end with a value terminator", ErrInvalidKey)
	}
	return values, nil
}

// nextEscape returns the offset of the first escByte in b from i on, or len(b). Values
// are mostly short text: eight bytes are tested at a time, without a call.
func nextEscape(b []byte, i int) int {
	for ; i+8 <= len(b); i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		// The first zero byte of x has its high bit set in m, and none before it.
		if m := (x - 0x0101010101010101) &^ x & 0x8080808080808080; m != 0 {
			return i + bits.TrailingZeros64(m)/8
		}
	}
	for ; i < len(b) && b[i] != escByte; i++ {
	}
	return i
}
