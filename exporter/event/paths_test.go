package event

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// node.at compares keys of up to 15 bytes as words; it must say what a plain byte
// comparison says, at every offset and near the end of the payload.
func TestKeyAtMatchesBytes(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const letters = `ab"\` + "\x01"
	word := func(n int) string {
		var sb strings.Builder
		for range n {
			sb.WriteByte(letters[rng.IntN(len(letters))])
		}
		return sb.String()
	}
	for range 20000 {
		key := word(rng.IntN(20))
		n := node{key: key, plain: !strings.ContainsAny(key, `"\`+"\x01")}
		n.words()
		// The payload is the key (or a near miss) and a quote or not, with random
		// bytes around it, cut anywhere.
		k := key
		if len(k) > 0 && rng.IntN(3) == 0 {
			b := []byte(k)
			b[rng.IntN(len(b))] = letters[rng.IntN(len(letters))]
			k = string(b)
		}
		data := []byte(word(rng.IntN(4)) + k + word(rng.IntN(3)) + word(rng.IntN(12)))
		if rng.IntN(2) == 0 {
			data = []byte(word(rng.IntN(4)) + k + `"` + word(rng.IntN(12)))
		}
		for i := 0; i <= len(data); i++ {
			e := i + len(key)
			want := n.plain && e < len(data) && data[e] == '"' && string(data[i:e]) == key
			if got := n.at(data, i); got != want {
				t.Fatalf("key %q at %d of %q: got %v, want %v", key, i, data, got, want)
			}
		}
	}
}
