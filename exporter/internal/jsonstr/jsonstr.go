// Package jsonstr writes JSON strings. Every string kwindow writes into JSON (output
// records, error messages, the load generator's events) goes through Append, so none
// carries Go's quoting (\a, \x00), which JSON parsers reject.
package jsonstr

import "unicode/utf8"

// Append appends s as a JSON string (RFC 8259): '"' and '\\' escaped, the
// control characters U+0000-U+001F and U+007F as \n, \t... or \u00XX, U+2028 and
// U+2029 as \u escapes (JavaScript reads them as line ends), and each byte that is
// not part of valid UTF-8 as \ufffd, as encoding/json does: the result is valid
// UTF-8 and valid JSON whatever s holds.
func Append(dst, s []byte) []byte {
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

// AppendString is Append for a string.
func AppendString(dst []byte, s string) []byte { return Append(dst, []byte(s)) }
