package event

import (
	"strconv"
	"unicode/utf8"
)

// maxExcerpt is how many bytes of an offending value an error message quotes: a
// 600 KiB field must not make a 600 KiB error message (it is copied into a Kafka
// header of the dead letter).
const maxExcerpt = 64

// quote quotes b for an error message as a JSON string, cut to maxExcerpt bytes
// (on a rune boundary) and then followed by "... (N bytes)".
func quote(b []byte) string {
	cut := b
	if len(b) > maxExcerpt {
		n := maxExcerpt
		for n > maxExcerpt-utf8.UTFMax && !utf8.RuneStart(b[n]) {
			n--
		}
		cut = b[:n]
	}
	out := appendJSONString(make([]byte, 0, len(cut)+8), cut)
	if len(cut) < len(b) {
		out = appendCut(out, len(b))
	}
	return string(out)
}

func quoteString(s string) string { return quote([]byte(s)) }

// excerpt is quote for the literal of a checked JSON number (or a numeric string):
// its bytes need no escapes, so it is written as it is, cut to maxExcerpt bytes.
func excerpt(lit []byte) string {
	if len(lit) <= maxExcerpt {
		return string(lit)
	}
	return string(appendCut(append([]byte(nil), lit[:maxExcerpt]...), len(lit)))
}

func appendCut(dst []byte, n int) []byte {
	dst = append(dst, "... ("...)
	dst = strconv.AppendInt(dst, int64(n), 10)
	return append(dst, " bytes)"...)
}

// appendJSONString appends s as a JSON string (RFC 8259): '"' and '\\' escaped, the
// control characters U+0000-U+001F and U+007F as \n, \t... or \u00XX, U+2028 and
// U+2029 as \u escapes (JavaScript reads them as line ends), and each byte that is
// not part of valid UTF-8 as \ufffd, as encoding/json does: the result is valid
// UTF-8 and valid JSON whatever s holds.
func appendJSONString(dst, s []byte) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0 // s[start:i] is pending, needing no escape
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != 0x7f {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(append(dst, s[start:i]...), `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(append(dst, s[start:i]...), '\\', 'u', '2', '0', '2', hex[r&15])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}
