package pregate

import "time"

// Unit is one access unit as the pre-gate keeps it: the NAL units (without start codes) and
// presentation time that ingest handed over, plus what the parser found. The NAL unit slices are
// kept, not copied; the caller must not modify them afterwards.
type Unit struct {
	NALUs [][]byte
	PTS   time.Duration
	// IDR is true for a picture a decoder can start at.
	IDR bool
	// Bytes is the total size of NALUs.
	Bytes int
}

// unitBytes sums the NAL unit sizes.
func unitBytes(nalus [][]byte) int {
	n := 0
	for _, nalu := range nalus {
		n += len(nalu)
	}
	return n
}

// GOPBuffer keeps the access units since the last IDR (NewGOPBuffer: the pre-gate's), or whole GOPs
// covering a window of time (NewGOPWindow: an event clip's pre-roll), bounded in bytes. It starts at
// an IDR: until the first one (and again after an overflow) it holds nothing and Complete is false.
// Not safe for concurrent use.
type GOPBuffer struct {
	maxBytes  int
	window    time.Duration
	units     []Unit
	bytes     int
	complete  bool
	overflows uint64
	drops     uint64
}

// NewGOPBuffer returns an empty buffer bounded to maxBytes.
func NewGOPBuffer(maxBytes int) *GOPBuffer {
	return &GOPBuffer{maxBytes: maxBytes}
}

// NewGOPWindow returns an empty buffer bounded to maxBytes that keeps whole GOPs: it starts at the
// last IDR at or before the newest unit's PTS minus window, so that the units of the last window (and
// the IDR they need) are there. When the bound is reached, the oldest GOPs go first (counted as
// drops); only a single GOP larger than the bound empties it.
func NewGOPWindow(maxBytes int, window time.Duration) *GOPBuffer {
	return &GOPBuffer{maxBytes: maxBytes, window: window}
}

// Push adds a unit. An IDR starts a new GOP (NewGOPBuffer: the previous one is released; NewGOPWindow:
// GOPs older than the window are). It returns false when the unit was not kept: no IDR seen since
// the start or the last overflow, or the unit would exceed the bound (an overflow: the buffer
// empties, counts its units as drops, and waits for the next IDR).
func (b *GOPBuffer) Push(u Unit) bool {
	if u.IDR {
		if b.window <= 0 {
			b.Reset()
		}
		b.complete = true
	}
	if !b.complete {
		return false
	}
	for b.bytes+u.Bytes > b.maxBytes && b.window > 0 && b.dropFirstGOP() {
	}
	if b.bytes+u.Bytes > b.maxBytes {
		b.overflows++
		b.drops += uint64(len(b.units)) + 1
		b.Reset()
		return false
	}
	b.units = append(b.units, u)
	b.bytes += u.Bytes
	if u.IDR && b.window > 0 {
		b.trim(u.PTS - b.window)
	}
	return true
}

// trim drops the GOPs that end before from: the buffer then starts at the last IDR at or before it.
func (b *GOPBuffer) trim(from time.Duration) {
	keep := 0
	for i, u := range b.units {
		if u.IDR && u.PTS <= from {
			keep = i
		}
	}
	b.dropFirst(keep)
}

// dropFirstGOP drops the oldest GOP when a later one exists; false when there is none.
func (b *GOPBuffer) dropFirstGOP() bool {
	for i := 1; i < len(b.units); i++ {
		if b.units[i].IDR {
			b.drops += uint64(i)
			b.dropFirst(i)
			return true
		}
	}
	return false
}

// dropFirst removes the first n units.
func (b *GOPBuffer) dropFirst(n int) {
	if n <= 0 {
		return
	}
	for _, u := range b.units[:n] {
		b.bytes -= u.Bytes
	}
	m := copy(b.units, b.units[n:])
	clear(b.units[m:]) // release the NAL units for the garbage collector
	b.units = b.units[:m]
}

// Since returns the buffered units from the last IDR at or before pts (from the first unit when
// none is), oldest first: what a clip starting at pts needs. The slice is the buffer's own; it is
// valid until the next Push or Reset.
func (b *GOPBuffer) Since(pts time.Duration) []Unit {
	start := 0
	for i, u := range b.units {
		if u.PTS > pts {
			break
		}
		if u.IDR {
			start = i
		}
	}
	return b.units[start:]
}

// Reset empties the buffer; it holds nothing until the next IDR.
func (b *GOPBuffer) Reset() {
	clear(b.units) // release the NAL units for the garbage collector
	b.units = b.units[:0]
	b.bytes = 0
	b.complete = false
}

// Complete reports whether the buffer holds every unit since the last IDR (it starts with one).
func (b *GOPBuffer) Complete() bool { return b.complete }

// Units returns the buffered units, oldest first. The slice is the buffer's own; it is valid
// until the next Push or Reset.
func (b *GOPBuffer) Units() []Unit { return b.units }

// Len returns the number of buffered units.
func (b *GOPBuffer) Len() int { return len(b.units) }

// Bytes returns the buffered size.
func (b *GOPBuffer) Bytes() int { return b.bytes }

// Overflows returns how many times a GOP exceeded the bound.
func (b *GOPBuffer) Overflows() uint64 { return b.overflows }

// Drops returns how many units overflows (and, for a window, GOPs dropped to stay within the
// bound) have discarded from the buffer.
func (b *GOPBuffer) Drops() uint64 { return b.drops }
