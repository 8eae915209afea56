package decodelimit

import "time"

// throttleWindow is how many seconds of pictures at the allowed rate a camera may send in a burst
// (a backlog after a slow decode, a key frame's packets arriving together).
const throttleWindow = 2

// Throttle bounds one camera's decode work: it admits access units at most at rate (the SPS's
// declared frame rate times Limits.FPSMargin, capped at Limits.MaxFPS, or MaxFPS when none is
// declared) with a burst of throttleWindow seconds, a token bucket. An access unit over the rate is
// dropped and so is every one after it up to the next random-access unit, so that the decoder never
// gets a picture whose references were dropped. With each camera's decoder single-threaded, this
// bounds what a flooding camera can take from the others to its fair share of pictures. It is not
// safe for concurrent use.
type Throttle struct {
	limits  Limits
	tokens  float64
	last    time.Time
	resync  bool
	dropped uint64
}

// NewThrottle returns a throttle for l (defaults applied).
func NewThrottle(l Limits) *Throttle { return &Throttle{limits: l.WithDefaults()} }

// Rate is the allowed pictures per second for a stream that declares fps (0: none); 0 when the
// throttle is off.
func (t *Throttle) Rate(fps float64) float64 {
	if t.limits.FPSMargin <= 0 {
		return 0
	}
	if fps <= 0 {
		return t.limits.MaxFPS
	}
	return min(fps*t.limits.FPSMargin, t.limits.MaxFPS)
}

// Admit reports whether an access unit arriving at now may be decoded, for a stream declaring fps.
func (t *Throttle) Admit(now time.Time, fps float64, randomAccess bool) bool {
	rate := t.Rate(fps)
	if rate <= 0 {
		return true
	}
	burst := rate * throttleWindow
	if t.last.IsZero() {
		t.tokens = burst
	} else {
		t.tokens = min(burst, t.tokens+now.Sub(t.last).Seconds()*rate)
	}
	t.last = now
	if t.tokens < 1 || (t.resync && !randomAccess) {
		t.resync = true
		t.dropped++
		return false
	}
	t.resync = false
	t.tokens--
	return true
}

// Dropped is the number of access units the throttle refused.
func (t *Throttle) Dropped() uint64 { return t.dropped }
