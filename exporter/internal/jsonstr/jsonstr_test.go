package jsonstr

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// jsonDecoded is what a JSON parser reads back from s written by encoding/json: s
// itself, except that each byte not part of valid UTF-8 becomes U+FFFD. It is the
// reference for Append.
func jsonDecoded(t *testing.T, s string) string {
	t.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var back string
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return back
}

// awkward holds the values an error message must quote safely: every control
// character, DEL, quotes, backslashes, non-ASCII, JavaScript's line separators, and
// invalid UTF-8 (a lone byte, a truncated sequence, an encoded surrogate).
func awkward() []string {
	var vs []string
	for c := 0; c < 0x20; c++ {
		vs = append(vs, "a"+string(rune(c))+"b")
	}
	vs = append(vs, "\x7f", `"`, `\`, `\"`, "é", "漢", "😀", "\u2028", "\u2029", "\ufffd",
		"\xff", "\xc3", "x\xc3(", "\xed\xa0\x80", "\xf4\x90\x80\x80")
	var all strings.Builder
	for _, v := range vs {
		all.WriteString(v)
	}
	return append(vs, all.String())
}

func TestAppend(t *testing.T) {
	check := func(s string) {
		t.Helper()
		out := Append(nil, []byte(s))
		if !utf8.Valid(out) || !json.Valid(out) {
			t.Fatalf("%q: wrote %q, not valid JSON", s, out)
		}
		var got string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatal(err)
		}
		if want := jsonDecoded(t, s); got != want {
			t.Fatalf("%q: reads back as %q, want %q", s, got, want)
		}
	}
	for _, v := range awkward() {
		check(v)
	}
	for c := 0; c < 256; c++ {
		check(string([]byte{byte(c)}))
	}
	rng := rand.New(rand.NewPCG(9, 10))
	for i := 0; i < 20000; i++ {
		b := make([]byte, rng.IntN(12))
		for j := range b {
			b[j] = byte(rng.IntN(256))
		}
		check(string(b))
	}
}
