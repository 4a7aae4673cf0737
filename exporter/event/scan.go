package event

import (
	"encoding/binary"
	"math/bits"
)

// The scanner walks the payload once. It descends only into objects on a configured
// path, records where each configured leaf value is (a token, no copy), and skips
// everything else while still checking that it is well-formed JSON: an event that
// encoding/json would refuse is refused here too (not_json), whatever field is broken.

// kind is the JSON type of a scanned value.
type kind uint8

const (
	kAbsent kind = iota
	kNull
	kFalse
	kTrue
	kNumber
	kString
	kObject
	kArray
)

var kindNames = [...]string{"absent", "null", "boolean", "boolean", "number", "string", "object", "array"}

func (k kind) String() string { return kindNames[k] }

// token locates one leaf value in the payload: for strings the bytes between the
// quotes, for other scalars the literal.
type token struct {
	start, end int
	kind       kind
	esc        bool // string holds backslash escapes
	high       bool // string holds bytes >= 0x80 (UTF-8 still to check)
	isInt      bool // number of at most 18 digits, no sign, fraction or exponent
	// plain: a number of at most 18 digits in all, no sign or exponent, with or
	// without a fraction; int is then its digits as an integer (12.5 is 125, and
	// its value when isInt), frac the number of fraction digits, digits of all.
	plain        bool
	frac, digits uint8
	int          int64
}

var (
	// skipStop marks the bytes that end a run of plain string content.
	skipStop [256]bool
	// leafStop also stops at non-ASCII bytes, so only strings with some are UTF-8 checked.
	leafStop [256]bool
)

func init() {
	for c := 0; c < 256; c++ {
		s := c < 0x20 || c == '"' || c == '\\'
		skipStop[c] = s
		leafStop[c] = s || c >= 0x80
	}
}

const (
	loBits = 0x0101010101010101
	hiBits = 0x8080808080808080
)

// zeroBytes flags (with its high bit) the first zero byte of x exactly; bytes after it
// may be flagged wrongly, which does not matter to a search for the first one.
func zeroBytes(x uint64) uint64 { return (x - loBits) &^ x & hiBits }

func skipWS(data []byte, i int) int {
	for i < len(data) && data[i] <= ' ' {
		switch data[i] {
		case ' ', '\t', '\n', '\r':
			i++
		default:
			return i
		}
	}
	return i
}

// fail records a syntax error at offset i and returns -1, the scanners' error result.
func (d *Decoder) fail(data []byte, i int, context string) int {
	d.synOff = i
	if i >= len(data) {
		d.synMsg = "unexpected end of input"
		if context != "" {
			d.synMsg += " " + context
		}
		return -1
	}
	d.synMsg = "invalid character " + quoteChar(data[i]) + " " + context
	return -1
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	if c < 0x20 || c >= 0x7f {
		const hex = "0123456789abcdef"
		return `'\x` + string([]byte{hex[c>>4], hex[c&15]}) + `'`
	}
	return "'" + string(rune(c)) + "'"
}

// scanObject scans the object at data[i] == '{' at nesting depth (1 for the top level),
// recording the configured leaves below n (nil: record nothing). It returns the offset
// after the closing brace, or -1.
func (d *Decoder) scanObject(data []byte, i int, n *node, depth int) int {
	if depth > maxNesting {
		d.synOff, d.synMsg = i, "exceeded max depth"
		return -1
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == '}' {
		return i + 1
	}
	var prev *node // the child matched by the previous key
	for {
		if i >= len(data) || data[i] != '"' {
			return d.fail(data, i, "looking for beginning of object key string")
		}
		ks := i + 1
		var kid *node
		if n != nil && len(n.kids) > 0 {
			// Most keys are the one that came after the previous key last time.
			g := n.first
			if prev != nil {
				g = prev.next
			}
			if kid = &n.kids[g]; !kid.at(data, ks) {
				kid = n.match(data, ks, prev)
			}
			prev = kid
		}
		if kid != nil {
			i = ks + len(kid.key) + 1
		} else {
			var esc bool
			if i, esc, _ = d.scanString(data, ks, &skipStop); i < 0 {
				return -1
			}
			if esc && n != nil { // a configured key may be spelled with escapes
				d.keyBuf = appendUnescaped(d.keyBuf[:0], data[ks:i-1])
				kid = n.find(d.keyBuf)
			}
		}
		// Whitespace is looked for only where the expected character is not.
		if i >= len(data) || data[i] != ':' {
			if i = skipWS(data, i); i >= len(data) || data[i] != ':' {
				return d.fail(data, i, "after object key")
			}
		}
		i = skipWS(data, i+1)
		switch {
		case kid == nil:
			i = d.skipValue(data, i, depth)
		case kid.leaf >= 0:
			i = d.scanLeaf(data, i, depth, &d.toks[kid.leaf])
		default:
			// A repeated key replaces what the earlier one held: the last one wins.
			clear(d.toks[kid.tlo:kid.thi])
			clear(d.objs[kid.olo:kid.ohi])
			if i < len(data) && data[i] == '{' {
				d.objs[kid.obj] = kObject
				i = d.scanObject(data, i, kid, depth+1)
			} else {
				d.objs[kid.obj] = kindAt(data, i)
				i = d.skipValue(data, i, depth)
			}
		}
		if i < 0 {
			return -1
		}
		if i >= len(data) || data[i] != ',' && data[i] != '}' {
			if i = skipWS(data, i); i >= len(data) {
				return d.fail(data, i, "after object key:value pair")
			}
		}
		switch data[i] {
		case ',':
			if i++; i >= len(data) || data[i] != '"' {
				i = skipWS(data, i)
			}
		case '}':
			return i + 1
		default:
			return d.fail(data, i, "after object key:value pair")
		}
	}
}

func (d *Decoder) scanArray(data []byte, i int, depth int) int {
	if depth > maxNesting {
		d.synOff, d.synMsg = i, "exceeded max depth"
		return -1
	}
	i = skipWS(data, i+1)
	if i < len(data) && data[i] == ']' {
		return i + 1
	}
	for {
		i = d.skipValue(data, i, depth)
		if i < 0 {
			return -1
		}
		i = skipWS(data, i)
		if i >= len(data) {
			return d.fail(data, i, "after array element")
		}
		switch data[i] {
		case ',':
			i = skipWS(data, i+1)
		case ']':
			return i + 1
		default:
			return d.fail(data, i, "after array element")
		}
	}
}

// kindAt is the kind of the value starting at data[i], assuming it is well-formed.
func kindAt(data []byte, i int) kind {
	if i >= len(data) {
		return kAbsent
	}
	switch data[i] {
	case '"':
		return kString
	case '{':
		return kObject
	case '[':
		return kArray
	case 't':
		return kTrue
	case 'f':
		return kFalse
	case 'n':
		return kNull
	}
	return kNumber
}

// skipValue checks the value at data[i], inside a container at depth, and returns the
// offset after it, or -1.
func (d *Decoder) skipValue(data []byte, i int, depth int) int {
	if i >= len(data) {
		return d.fail(data, i, "looking for beginning of value")
	}
	switch c := data[i]; c {
	case '"':
		i, _, _ = d.scanString(data, i+1, &skipStop)
		return i
	case '{':
		return d.scanObject(data, i, nil, depth+1)
	case '[':
		return d.scanArray(data, i, depth+1)
	case 't':
		return d.literal(data, i, "true")
	case 'f':
		return d.literal(data, i, "false")
	case 'n':
		return d.literal(data, i, "null")
	default:
		if c == '-' || '0' <= c && c <= '9' {
			return d.scanNumber(data, i)
		}
		return d.fail(data, i, "looking for beginning of value")
	}
}

// scanLeaf is skipValue for a configured field: it also records where the value is.
func (d *Decoder) scanLeaf(data []byte, i int, depth int, t *token) int {
	start := i
	*t = token{start: i, kind: kindAt(data, i)}
	switch t.kind {
	case kString:
		if end, ok := plainString(data, i+1); ok {
			t.start, t.end = start+1, end
			return end + 1
		}
		i, t.esc, t.high = d.scanString(data, i+1, &leafStop)
		t.start, t.end = start+1, i-1
		return i
	case kObject, kArray:
		return d.skipValue(data, i, depth)
	case kNumber:
		// Most numbers are plain decimals (epoch ms, a status, a latency): take the
		// value while checking them.
		if end, mant, frac, digits, dot, ok := plainNumber(data, i); ok {
			t.end, t.int, t.plain, t.isInt = end, int64(mant), true, !dot
			t.frac, t.digits = uint8(frac), uint8(digits)
			return end
		}
	}
	i = d.skipValue(data, i, depth)
	t.end = i
	return i
}

func (d *Decoder) literal(data []byte, i int, lit string) int {
	for j := 0; j < len(lit); j++ {
		if i+j >= len(data) || data[i+j] != lit[j] {
			return d.fail(data, i+j, "in literal "+lit+" (expecting "+quoteChar(lit[j])+")")
		}
	}
	return i + len(lit)
}

// plainString finds the closing quote of the string whose content starts at data[i],
// if the content is printable ASCII without escapes (most dimension values): ok is
// false for any other string, valid or not, and at the end of data.
func plainString(data []byte, i int) (end int, ok bool) {
	for i+8 <= len(data) {
		x := binary.LittleEndian.Uint64(data[i:])
		// Flags a quote, a backslash, a byte < 0x20 or >= 0x80 (byte-0x20 flags
		// those from 0xa0, byte^'"'-1 the others): the first flagged byte is the
		// first such byte, as borrows only move upward.
		if m := ((x ^ (loBits * '"') - loBits) | (x ^ (loBits * '\\') - loBits) | (x - loBits*0x20)) & hiBits; m != 0 {
			i += bits.TrailingZeros64(m) / 8
			return i, data[i] == '"'
		}
		i += 8
	}
	for ; i < len(data); i++ {
		if c := data[i]; leafStop[c] {
			return i, c == '"'
		}
	}
	return i, false
}

// scanString checks the string whose content starts at data[i] and returns the offset
// after its closing quote (or -1), whether it holds escapes, and whether it holds bytes
// >= 0x80 (reported only when stop marks them).
func (d *Decoder) scanString(data []byte, i int, stop *[256]bool) (end int, esc, high bool) {
	// The bytes >= 0x80 matter only if stop marks them.
	var highMask uint64
	if stop[0x80] {
		highMask = hiBits
	}
	for {
		// Eight bytes at a time while no byte can end the run (SWAR), then bytewise.
		for i+8 <= len(data) {
			x := binary.LittleEndian.Uint64(data[i:])
			m := zeroBytes(x^(loBits*'"')) | zeroBytes(x^(loBits*'\\')) | (x-loBits*0x20)&^x&hiBits | x&highMask
			if m != 0 {
				i += bits.TrailingZeros64(m) / 8
				break
			}
			i += 8
		}
		for i < len(data) && !stop[data[i]] {
			i++
		}
		if i >= len(data) {
			return d.fail(data, i, "in string literal"), false, false
		}
		switch c := data[i]; {
		case c == '"':
			return i + 1, esc, high
		case c == '\\':
			esc = true
			if i+1 >= len(data) {
				return d.fail(data, i+1, "in string escape code"), false, false
			}
			switch data[i+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				i += 2
			case 'u':
				for j := i + 2; j < i+6; j++ {
					if j >= len(data) || unhex(data[j]) < 0 {
						return d.fail(data, j, "in \\u hexadecimal character escape"), false, false
					}
				}
				i += 6
			default:
				return d.fail(data, i+1, "in string escape code"), false, false
			}
		case c < 0x20:
			return d.fail(data, i, "in string literal"), false, false
		default:
			high = true
			i++
		}
	}
}

// scanNumber checks the JSON number at data[i] and returns the offset after it, or -1.
func (d *Decoder) scanNumber(data []byte, i int) int {
	j := numberEnd(data, i)
	if j < 0 {
		return d.fail(data, -j-1, "in numeric literal")
	}
	return j
}
