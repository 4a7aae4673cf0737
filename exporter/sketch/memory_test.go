package sketch

import (
	"fmt"
	"slices"
	"testing"
)

// TestBucketMemory: a sketch's dense bucket array holds at most an eighth more
// counts than the span of its non-empty buckets (or initialLen more), however
// the values arrive: added one by one in any order, or merged from many small
// sketches as stage 2 merges stage 1's deltas. Before, a growing array doubled
// its span, and at 10,000 keys those arrays were most of the memory per key.
func TestBucketMemory(t *testing.T) {
	values := logNormal(5, 20000, 0.45)
	sorted := slices.Sorted(slices.Values(values))
	reversed := slices.Clone(sorted)
	slices.Reverse(reversed)
	check := func(t *testing.T, s *Sketch) {
		t.Helper()
		lo, hi, ok := s.pos.nonZero()
		if !ok {
			t.Fatal("no buckets")
		}
		span := int(hi - lo + 1)
		if n, most := cap(s.pos.counts), span+max(span/8, initialLen)+8; n > most {
			t.Fatalf("%d counts for a span of %d buckets, want at most %d", n, span, most)
		}
	}
	for _, schema := range []int32{0, 4, 6, 8} {
		for _, order := range []struct {
			name   string
			values []float64
		}{{"random", values}, {"ascending", sorted}, {"descending", reversed}} {
			t.Run(fmt.Sprintf("schema=%d/add/%s", schema, order.name), func(t *testing.T) {
				s := New(schema)
				for i, v := range order.values {
					s.Add(v)
					if i%997 == 0 {
						check(t, s)
					}
				}
				check(t, s)
				if d := diff(s, sketchOf(schema, values), 1e-9); d != "" {
					t.Fatalf("not the sketch of the same values in another order: %s", d)
				}
			})
			t.Run(fmt.Sprintf("schema=%d/merge/%s", schema, order.name), func(t *testing.T) {
				s := New(schema)
				for i := 0; i < len(order.values); i += 40 {
					s.Merge(sketchOf(schema, order.values[i:min(i+40, len(order.values))]))
					check(t, s)
				}
				if d := diff(s, sketchOf(schema, values), 1e-9); d != "" {
					t.Fatalf("not the sketch of the values merged: %s", d)
				}
			})
		}
	}
}
