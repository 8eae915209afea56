package pregate

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/bits"
)

// bitReader reads an RBSP (emulation prevention already removed) with a sticky error: after the
// first failed read every later read returns zero and err keeps the first failure. The reads
// themselves are mediacommon's bounds-checked bits functions; the wrapper only saves the
// `if err != nil` after each of the dozens of syntax elements a slice header has, and turns
// mediacommon's plain errors into ErrCorrupt.
type bitReader struct {
	buf []byte
	pos int
	err error
}

func (r *bitReader) fail(what string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at bit %d: %w", ErrCorrupt, what, r.pos, err)
	}
}

// u reads n bits (n <= 32) as an unsigned number.
func (r *bitReader) u(n int, what string) uint32 {
	if r.err != nil || n == 0 {
		return 0
	}
	v, err := bits.ReadBits(r.buf, &r.pos, n)
	if err != nil {
		r.fail(what, err)
		return 0
	}
	return uint32(v)
}

// flag reads one bit.
func (r *bitReader) flag(what string) bool {
	if r.err != nil {
		return false
	}
	v, err := bits.ReadFlag(r.buf, &r.pos)
	if err != nil {
		r.fail(what, err)
		return false
	}
	return v
}

// ue reads an unsigned Exp-Golomb value and checks it against max (inclusive).
func (r *bitReader) ue(what string, maxValue uint32) uint32 {
	if r.err != nil {
		return 0
	}
	v, err := bits.ReadGolombUnsigned(r.buf, &r.pos)
	if err != nil {
		r.fail(what, err)
		return 0
	}
	if v > maxValue {
		r.fail(what, fmt.Errorf("value %d above %d", v, maxValue))
		return 0
	}
	return v
}

// se reads a signed Exp-Golomb value and checks it against [minValue, maxValue].
func (r *bitReader) se(what string, minValue, maxValue int32) int32 {
	if r.err != nil {
		return 0
	}
	v, err := bits.ReadGolombSigned(r.buf, &r.pos)
	if err != nil {
		r.fail(what, err)
		return 0
	}
	if v < minValue || v > maxValue {
		r.fail(what, fmt.Errorf("value %d outside [%d, %d]", v, minValue, maxValue))
		return 0
	}
	return v
}

// skip advances n bits.
func (r *bitReader) skip(n int, what string) {
	if r.err != nil {
		return
	}
	if err := bits.HasSpace(r.buf, r.pos, n); err != nil {
		r.fail(what, err)
		return
	}
	r.pos += n
}

// ceilLog2 returns Ceil(Log2(n)) for n >= 1, the width of the u(v) indices in both standards.
func ceilLog2(n uint32) int {
	b := 0
	for b < 32 && (uint32(1)<<b) < n {
		b++
	}
	return b
}
