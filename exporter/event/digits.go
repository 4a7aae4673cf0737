package event

// Numbers of a configured field are read while they are checked: most are plain
// decimals (epoch milliseconds, a status, a latency such as 12.5), which then need
// no second pass.

var pow10u = [...]uint64{1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18}

// plainNumber reads the number at data[i] if it is a plain decimal: no sign, no
// exponent, an integer part without leading zeros and at most 18 digits in all. It
// returns the offset after it, its digits as an integer (12.5 is 125), the number of
// fraction digits, how many digits it has, and whether the number has a fraction
// part; ok is false for any other number, valid or not (the caller checks those
// apart).
func plainNumber(data []byte, i int) (end int, mant uint64, frac, digits int, dot, ok bool) {
	mant, n := digitRun(data, i)
	if n == 0 || n > 18 || data[i] == '0' && n > 1 {
		return 0, 0, 0, 0, false, false
	}
	end = i + n
	if end < len(data) && data[end] == '.' {
		f, m := digitRun(data, end+1)
		if m == 0 || n+m > 18 {
			return 0, 0, 0, 0, false, false
		}
		mant = mant*pow10u[m] + f
		end, frac, dot = end+1+m, m, true
	}
	if end < len(data) && continuesNumber(data[end]) {
		return 0, 0, 0, 0, false, false
	}
	return end, mant, frac, n + frac, dot, true
}

// digitRun returns the number n of decimal digits at data[i:] and, if n is at most
// 19, their value.
func digitRun(data []byte, i int) (v uint64, n int) {
	j := i
	for ; j < len(data); j++ {
		c := data[j] - '0'
		if c > 9 {
			break
		}
		v = v*10 + uint64(c)
	}
	return v, j - i
}
