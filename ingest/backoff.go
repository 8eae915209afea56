package ingest

import (
	"math/rand/v2"
	"time"
)

// backoff computes capped exponential delays with jitter.
type backoff struct {
	initial time.Duration
	max     time.Duration
	jitter  float64 // fraction of the delay, drawn uniformly from [-jitter, +jitter]
}

// delay is the pause before attempt number n (0 for the first retry).
func (b backoff) delay(n int) time.Duration {
	d := b.initial
	for i := 0; i < n && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	if b.jitter > 0 {
		d += time.Duration((rand.Float64()*2 - 1) * b.jitter * float64(d))
	}
	return max(d, 0)
}
