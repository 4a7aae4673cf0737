package event

import (
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var plainRE = regexp.MustCompile(`^(0|[1-9][0-9]*)(\.([0-9]+))?`)

// plainNumber, the fast path for numbers, must agree with a regular expression
// and strconv about every number, at every length and near the end of the payload.
func TestPlainNumber(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const chars = "0123456789012345678901234567890123456789.-eE+,}\" a/\x00\xff"
	for range 200000 {
		var sb strings.Builder
		if rng.IntN(2) == 0 { // mostly digits
			for n := rng.IntN(24); n > 0; n-- {
				sb.WriteByte('0' + byte(rng.IntN(10)))
			}
			if rng.IntN(2) == 0 {
				sb.WriteByte('.')
				for n := rng.IntN(12); n > 0; n-- {
					sb.WriteByte('0' + byte(rng.IntN(10)))
				}
			}
		}
		for n := rng.IntN(4); n > 0; n-- {
			sb.WriteByte(chars[rng.IntN(len(chars))])
		}
		data := []byte(sb.String())
		if len(data) == 0 {
			continue
		}

		m := plainRE.FindSubmatch(data)
		var wantEnd, wantFrac, wantDigits int
		var wantMant uint64
		wantOK := false
		if m != nil {
			wantEnd, wantFrac = len(m[0]), len(m[3])
			wantDigits = len(m[1]) + wantFrac
			wantOK = wantDigits <= 18 && (wantEnd == len(data) || !strings.ContainsRune("0123456789.eE", rune(data[wantEnd])))
			if wantOK {
				v, err := strconv.ParseUint(string(m[1])+string(m[3]), 10, 64)
				if err != nil {
					t.Fatal(err)
				}
				wantMant = v
			}
		}
		end, mant, frac, digits, dot, ok := plainNumber(data, 0)
		if ok != wantOK || ok && (end != wantEnd || mant != wantMant || frac != wantFrac || digits != wantDigits || dot != (len(m[2]) > 0)) {
			t.Fatalf("%q: got end %d mant %d frac %d digits %d dot %v ok %v, want end %d mant %d frac %d digits %d ok %v",
				data, end, mant, frac, digits, dot, ok, wantEnd, wantMant, wantFrac, wantDigits, wantOK)
		}
	}
}

func TestDigitRun(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	for range 100000 {
		b := make([]byte, rng.IntN(30))
		for i := range b {
			if rng.IntN(12) == 0 {
				b[i] = byte(rng.IntN(256))
			} else {
				b[i] = '0' + byte(rng.IntN(10))
			}
		}
		i := 0
		if len(b) > 0 {
			i = rng.IntN(len(b) + 1)
		}
		var want uint64
		n := 0
		for i+n < len(b) && '0' <= b[i+n] && b[i+n] <= '9' {
			want = want*10 + uint64(b[i+n]-'0')
			n++
		}
		v, got := digitRun(b, i)
		if n > 19 {
			v = want // meaningless
		}
		if got != n || v != want {
			t.Fatalf("%q at %d: got %d digits, value %d; want %d, %d", b, i, got, v, n, want)
		}
	}
}
