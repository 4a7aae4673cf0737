package config

import (
	"reflect"
	"strings"
)

// unknownField says that key is not a field of struct t and suggests the closest
// field name when one is close enough to be a typo ("retension": did you mean
// retention?); otherwise it lists the fields.
// It also returns the suggested name.
func unknownField(key string, t reflect.Type) (msg, suggested string) {
	names := fieldNames(t)
	if s := closest(key, names); s != "" {
		return "unknown field; did you mean " + s + "?", s
	}
	return "unknown field (the fields here are " + strings.Join(names, ", ") + ")", ""
}

// closest returns the candidate nearest to key, if it is near enough to be a typo
// of it: a few edits (the more the longer the word), or key is a prefix of it or
// the other way round ("group" for group_by, "fetch_max_wait_ms").
func closest(key string, candidates []string) string {
	k := strings.ToLower(key)
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(k, c)
		if d < bestD || bestD < 0 {
			best, bestD = c, d
		}
	}
	if best == "" {
		return ""
	}
	if bestD <= typoEdits(len(k)) {
		return best
	}
	if len(k) >= 4 {
		for _, c := range candidates {
			if strings.HasPrefix(c, k) || strings.HasPrefix(k, c) {
				return c
			}
		}
	}
	return ""
}

// typoEdits is how many edits a word of n letters may have and still count as a
// typo of a field name.
func typoEdits(n int) int {
	switch {
	case n <= 2:
		return 0
	case n <= 5:
		return 1
	case n <= 10:
		return 2
	}
	return 3
}

// editDistance is the optimal string alignment distance between a and b: the
// insertions, deletions, substitutions and swaps of adjacent letters that turn
// one into the other.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
