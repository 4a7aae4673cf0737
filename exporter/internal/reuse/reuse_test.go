package reuse

import "testing"

func TestSlice(t *testing.T) {
	f := func(length, capacity int, wantKept bool) {
		t.Helper()
		s := make([]*int, length, capacity)
		for i := range s {
			s[i] = new(int)
		}
		full := s[:capacity]
		got := Slice(s)
		if len(got) != 0 {
			t.Fatalf("len %d, cap %d: %d elements left", length, capacity, len(got))
		}
		if kept := got != nil; kept != wantKept {
			t.Fatalf("len %d, cap %d: array kept %v, want %v", length, capacity, kept, wantKept)
		}
		for i, p := range full {
			if p != nil {
				t.Fatalf("len %d, cap %d: element %d still set", length, capacity, i)
			}
		}
	}
	if got := Slice[*int](nil); got != nil || len(got) != 0 {
		t.Fatalf("nil: got %v", got)
	}
	f(0, 0, true)
	f(0, 1, true)
	f(0, Floor, true)
	f(0, Floor+1, false)
	f(Floor/4, Floor+1, false)
	f((Floor+1)/4+1, Floor+1, true)
	f(1000, 4000, true)
	f(999, 4000, false)
	f(4000, 4000, true)
}
