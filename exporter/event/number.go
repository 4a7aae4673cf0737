package event

import (
	"math"
	"strconv"
)

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22}

// parseFloat parses a checked JSON number and divides it by 10^shift (shift >= 0, for a
// scale such as 0.001). Plain decimals such as 12.5 take Clinger's fast path: an exact
// integer mantissa < 2^53 divided by an exact power of ten is one correctly rounded
// operation, so 12.5 ms is exactly the float64 nearest to 0.0125 s, which multiplying
// by 0.001 would miss by an ulp. Anything else goes to strconv (then divides). Overflow
// gives ±Inf.
func parseFloat(lit []byte, shift int) float64 {
	i, neg := 0, false
	if len(lit) > 0 && lit[0] == '-' {
		i, neg = 1, true
	}
	var mant uint64
	digits, frac := 0, 0
	dot := false
	for ; i < len(lit); i++ {
		c := lit[i]
		switch {
		case isDigit(c):
			mant = mant*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.':
			dot = true
		default:
			return slowFloat(lit) / pow10[shift]
		}
	}
	if digits > 15 || frac+shift >= len(pow10) {
		return slowFloat(lit) / pow10[shift]
	}
	f := float64(mant) / pow10[frac+shift]
	if neg {
		f = -f
	}
	return f
}

// slowFloat parses a checked JSON number with strconv; out of range it is ±Inf or ±0.
func slowFloat(lit []byte) float64 {
	f, _ := strconv.ParseFloat(string(lit), 64)
	return f
}

// parseStatus parses a checked JSON number that must be an integer in [0, maxStatus];
// integral forms such as 200.0 or 2e2 are accepted.
func parseStatus(lit []byte) (int, bool) {
	if len(lit) <= 9 {
		v, ok := 0, true
		for _, c := range lit {
			if !isDigit(c) {
				ok = false
				break
			}
			v = v*10 + int(c-'0')
		}
		if ok {
			return v, true
		}
	}
	f := parseFloat(lit, 0)
	if !(f >= 0 && f <= maxStatus) || f != math.Trunc(f) {
		return 0, false
	}
	return int(f), true
}

// epochMillis converts a checked JSON number, an epoch in unit u (not TimeRFC3339),
// into unix milliseconds, truncating toward zero. It works on the decimal digits, so
// 1732230000.123 s is exactly 1732230000123 ms and 1732230000123456789 ns loses nothing
// to float rounding. ok is false when the result does not fit in an int64.
func epochMillis(lit []byte, u Unit) (ms int64, ok bool) {
	if v, ok := plainInt(lit); ok { // the common case: integer digits only
		return intMillis(v, u)
	}
	neg := false
	if lit[0] == '-' {
		neg, lit = true, lit[1:]
	}
	// Split into digits (integer part then fraction) and the decimal exponent.
	intEnd := 0
	for intEnd < len(lit) && isDigit(lit[intEnd]) {
		intEnd++
	}
	intPart, frac, rest := lit[:intEnd], lit[intEnd:intEnd], lit[intEnd:]
	if len(rest) > 0 && rest[0] == '.' {
		j := 1
		for j < len(rest) && isDigit(rest[j]) {
			j++
		}
		frac, rest = rest[1:j], rest[j:]
	}
	exp := 0
	if len(rest) > 0 { // e[+-]digits
		rest = rest[1:]
		eneg := false
		if rest[0] == '+' || rest[0] == '-' {
			eneg, rest = rest[0] == '-', rest[1:]
		}
		for _, c := range rest {
			if exp < 1e6 {
				exp = exp*10 + int(c-'0')
			}
		}
		if eneg {
			exp = -exp
		}
	}
	digit := func(k int) int64 { // k-th significant digit, 0 past the end
		if k < len(intPart) {
			return int64(intPart[k] - '0')
		}
		if k-len(intPart) < len(frac) {
			return int64(frac[k-len(intPart)] - '0')
		}
		return 0
	}
	ndig := len(intPart) + len(frac)
	first := 0 // skip leading zeros
	for first < ndig && digit(first) == 0 {
		first++
	}
	if first == ndig {
		return 0, true
	}
	// The value is 0.d[first]d[first+1]... × 10^point.
	point := len(intPart) + exp - first
	if u == TimeAuto {
		switch {
		case point <= 11:
			u = TimeSeconds
		case point <= 14:
			u = TimeMillis
		case point <= 17:
			u = TimeMicros
		default:
			u = TimeNanos
		}
	}
	switch u {
	case TimeSeconds:
		point += 3
	case TimeMicros:
		point -= 3
	case TimeNanos:
		point -= 6
	}
	if point > 19 {
		return 0, false
	}
	for k := 0; k < point; k++ {
		d := digit(first + k)
		if ms > (math.MaxInt64-d)/10 {
			return 0, false
		}
		ms = ms*10 + d
	}
	if neg {
		ms = -ms
	}
	return ms, true
}

// plainInt parses lit if it is only decimal digits and fits in 18 of them.
func plainInt(lit []byte) (int64, bool) {
	if len(lit) == 0 || len(lit) > 18 {
		return 0, false
	}
	var v int64
	for _, c := range lit {
		if !isDigit(c) {
			return 0, false
		}
		v = v*10 + int64(c-'0')
	}
	return v, true
}

// intMillis is epochMillis for a non-negative integer v.
func intMillis(v int64, u Unit) (int64, bool) {
	if u == TimeAuto {
		switch {
		case v < 1e11:
			u = TimeSeconds
		case v < 1e14:
			u = TimeMillis
		case v < 1e17:
			u = TimeMicros
		default:
			u = TimeNanos
		}
	}
	switch u {
	case TimeSeconds:
		if v > math.MaxInt64/1000 {
			return 0, false
		}
		return v * 1000, true
	case TimeMicros:
		return v / 1e3, true
	case TimeNanos:
		return v / 1e6, true
	}
	return v, true
}

// numberEnd returns the end of the JSON number at data[i], or -(offset of the bad
// byte)-1. A number ends at the first byte that cannot continue it.
func numberEnd(data []byte, i int) int {
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i >= len(data):
		return -i - 1
	case data[i] == '0':
		i++
	case '1' <= data[i] && data[i] <= '9':
		i++
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	default:
		return -i - 1
	}
	if i < len(data) && data[i] == '.' {
		i++
		if i >= len(data) || !isDigit(data[i]) {
			return -i - 1
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if i >= len(data) || !isDigit(data[i]) {
			return -i - 1
		}
		for i < len(data) && isDigit(data[i]) {
			i++
		}
	}
	return i
}

// isNumber reports whether b is exactly one JSON number (for numeric strings).
func isNumber(b []byte) bool { return len(b) > 0 && numberEnd(b, 0) == len(b) }

func continuesNumber(c byte) bool { return isDigit(c) || c == '.' || c == 'e' || c == 'E' }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
