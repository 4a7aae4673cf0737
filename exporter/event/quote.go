package event

import (
	"strconv"
	"unicode/utf8"

	"github.com/kwindow/kwindow/exporter/internal/jsonstr"
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
	out := jsonstr.Append(make([]byte, 0, len(cut)+8), cut)
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
