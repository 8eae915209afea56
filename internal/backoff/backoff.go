// Package backoff is mvwatch's one retry pause: capped exponential backoff with jitter, used by the
// camera reconnect loop and by webhook deliveries.
package backoff

import (
	"math/rand/v2"
	"time"
)

// Jitter fractions for Backoff.Jitter.
const (
	// NoJitter makes every pause exactly the exponential delay.
	NoJitter = 0.0
	// EqualJitter draws each pause from [d/2, d]: spread out, never much shorter than planned.
	EqualJitter = 0.5
	// FullJitter draws each pause from [0, d]: the most spread out (AWS's "full jitter").
	FullJitter = 1.0
)

// Backoff computes the pauses between the attempts of one retry loop. Its zero value needs Initial
// and Max set. A Backoff is not safe for concurrent use; each loop owns its own.
type Backoff struct {
	// Initial is the planned pause before the first retry; it doubles at each further retry.
	Initial time.Duration
	// Max caps every pause (a pause never exceeds it, jitter included). A Max below Initial is
	// raised to Initial.
	Max time.Duration
	// Jitter is the random fraction of each pause, from 0 (NoJitter) to 1 (FullJitter): the pause
	// is drawn uniformly from [(1-Jitter)*d, d] where d is the capped exponential delay. Values
	// outside [0, 1] are clamped.
	Jitter float64

	attempt int
}

// Delay returns the pause before retry number n (0 for the first), capped and jittered, without
// changing b.
func (b *Backoff) Delay(n int) time.Duration {
	limit := max(b.Max, b.Initial)
	d := max(b.Initial, 0)
	for i := 0; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	if j := min(max(b.Jitter, 0), 1); j > 0 && d > 0 {
		d -= time.Duration(rand.Float64() * j * float64(d))
	}
	return max(d, 0)
}

// Next returns the pause before the next retry and counts the attempt.
func (b *Backoff) Next() time.Duration {
	d := b.Delay(b.attempt)
	if b.attempt < 64 {
		b.attempt++
	}
	return d
}

// Reset starts the sequence again from Initial, after a success.
func (b *Backoff) Reset() { b.attempt = 0 }

// Attempts returns how many pauses Next has handed out since the last Reset.
func (b *Backoff) Attempts() int { return b.attempt }
