package track

import (
	"math/rand"
	"slices"
	"testing"
)

func TestNth(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for n := 1; n < 60; n++ {
		xs := make([]float32, n)
		for i := range xs {
			xs[i] = float32(r.Intn(7)) // many ties
		}
		sorted := slices.Clone(xs)
		slices.Sort(sorted)
		for k := 0; k < n; k++ {
			if got := nth(slices.Clone(xs), k); got != sorted[k] {
				t.Fatalf("n %d k %d: %v, want %v", n, k, got, sorted[k])
			}
		}
	}
}
