package event

import (
	"math/rand/v2"
	"testing"
)

// plainString, the fast path for dimension values, must say what scanString says:
// the same end for a string of printable ASCII without escapes, and no for any
// other, at every length and near the end of the payload.
func TestPlainString(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	const chars = `abcdefghijklmnopqrstuvwxyz/-_. "\` + "\x00\x01\x1f\x7f\x80\xc3\xa9\xff"
	d := &Decoder{}
	for range 200000 {
		b := make([]byte, rng.IntN(40))
		for i := range b {
			if rng.IntN(10) == 0 {
				b[i] = chars[rng.IntN(len(chars))]
			} else {
				b[i] = 'a' + byte(rng.IntN(26))
			}
		}
		i := 0
		if len(b) > 0 {
			i = rng.IntN(len(b) + 1)
		}
		end, esc, high := d.scanString(b, i, &leafStop)
		wantOK := end >= 0 && !esc && !high
		got, ok := plainString(b, i)
		if ok != wantOK || ok && got != end-1 {
			t.Fatalf("%q at %d: got %d, %v; scanString says end %d, escapes %v, high bytes %v", b, i, got, ok, end, esc, high)
		}
	}
}
