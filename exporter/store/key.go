package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// ErrInvalidKey is wrapped by every error about a key or group that breaks
// the rules on Key, whether given to a Batch, a query or ParseKey.
var ErrInvalidKey = errors.New("store: invalid key")

// Key names one window aggregate.
//
// Encoded, a key is
//
//	Agg 0x00 | Group 0x00 0x00 | Start as 8 bytes big-endian, sign bit flipped
//
// Agg holds no 0x00, so the first 0x00 ends it and a shorter name sorts
// before its extensions. Group is an AppendGroup encoding, which never holds
// 0x00 0x00, and 0x00 0x00 sorts below every value's first bytes, so a group
// sorts before its extensions whatever the starts. Flipping the sign bit
// makes negative starts sort before positive ones. Every key of a group thus
// shares the prefix Agg 0x00 Group 0x00 0x00, and the next group begins at
// that prefix with its last byte incremented.
type Key struct {
	Agg   string // aggregation name: non-empty, without 0x00
	Group []byte // encoded group key (AppendGroup); empty for an aggregation without group-by
	Start int64  // window start, unix milliseconds
}

// startLen is the length of the encoded window start, the suffix of every key.
const startLen = 8

// Append appends the encoding of k to dst and returns the extended slice. It
// does not check k: the store does, when k is given to a Batch or a query.
func (k Key) Append(dst []byte) []byte {
	dst = slices.Grow(dst, len(k.Agg)+1+len(k.Group)+2+startLen) // one growth, not one per part
	dst = appendPrefix(dst, k.Agg, k.Group)
	return appendStart(dst, k.Start)
}

// ParseKey decodes a key written by Key.Append. The Group of the result
// aliases b.
func ParseKey(b []byte) (Key, error) {
	i := bytes.IndexByte(b, 0)
	if i <= 0 {
		return Key{}, fmt.Errorf("%w: no aggregation name", ErrInvalidKey)
	}
	rest := b[i+1:]
	if len(rest) < 2+startLen {
		return Key{}, fmt.Errorf("%w: %d bytes after the aggregation name, want at least %d", ErrInvalidKey, len(rest), 2+startLen)
	}
	group := rest[:len(rest)-startLen-2]
	if end := rest[len(group):][:2]; end[0] != escByte || end[1] != escGroupZ {
		return Key{}, fmt.Errorf("%w: group not terminated by 0x00 0x00", ErrInvalidKey)
	}
	if _, err := checkGroup(group); err != nil {
		return Key{}, err
	}
	return Key{Agg: string(b[:i]), Group: group, Start: decodeStart(rest[len(rest)-startLen:])}, nil
}

// check reports whether k can be stored.
func (k Key) check() error {
	if err := checkAgg(k.Agg); err != nil {
		return err
	}
	_, err := checkGroup(k.Group)
	return err
}

func checkAgg(agg string) error {
	if agg == "" {
		return fmt.Errorf("%w: empty aggregation name", ErrInvalidKey)
	}
	if strings.IndexByte(agg, 0) >= 0 {
		// Quoted apart, so that agg does not escape: a Key whose Group was
		// converted from a string for a Batch can then stay on the stack.
		return fmt.Errorf("%w: aggregation name %s holds 0x00", ErrInvalidKey, strconv.Quote(agg))
	}
	return nil
}

// appendAggPrefix appends the prefix shared by every key of agg.
func appendAggPrefix(dst []byte, agg string) []byte {
	dst = append(dst, agg...)
	return append(dst, 0)
}

// appendPrefix appends the prefix shared by every key of (agg, group).
func appendPrefix(dst []byte, agg string, group []byte) []byte {
	dst = appendAggPrefix(dst, agg)
	dst = append(dst, group...)
	return append(dst, escByte, escGroupZ)
}

func appendStart(dst []byte, start int64) []byte {
	return binary.BigEndian.AppendUint64(dst, uint64(start)^1<<63)
}

func decodeStart(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b) ^ 1<<63)
}

// incLast turns a prefix ending in a byte below 0xFF into the smallest key
// above every key with that prefix. Both prefixes built here end in 0x00.
func incLast(prefix []byte) []byte {
	prefix[len(prefix)-1]++
	return prefix
}

// splitStored splits a key read back from a store's own key space into its
// group prefix, group and start. It only checks lengths: the key was checked
// before it was written.
func splitStored(key []byte, aggPrefixLen int) (prefix, group []byte, start int64, ok bool) {
	if len(key) < aggPrefixLen+2+startLen {
		return nil, nil, 0, false
	}
	prefix = key[:len(key)-startLen]
	return prefix, prefix[aggPrefixLen : len(prefix)-2], decodeStart(key[len(prefix):]), true
}
