package decodelimit

import (
	"errors"
	"fmt"
)

var (
	errShort = errors.New("not enough bits")
	errRange = errors.New("out of range")
)

// bitReader reads the fields of an RBSP (emulation prevention removed). The first error sticks:
// later reads return 0, so a parse reads straight through and checks err once.
type bitReader struct {
	buf []byte
	pos int // in bits
	err error
}

func (r *bitReader) fail(what string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", what, err)
	}
}

// u reads an n-bit unsigned field, n <= 32.
func (r *bitReader) u(n int, what string) uint32 {
	if r.err != nil {
		return 0
	}
	if r.pos+n > len(r.buf)*8 {
		r.fail(what, errShort)
		return 0
	}
	var v uint32
	for i := 0; i < n; i++ {
		v = v<<1 | uint32(r.buf[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v
}

// skip skips n bits.
func (r *bitReader) skip(n int, what string) {
	if r.err != nil {
		return
	}
	if r.pos+n > len(r.buf)*8 {
		r.fail(what, errShort)
		return
	}
	r.pos += n
}

// ue reads an unsigned Exp-Golomb field, failing when it exceeds maxValue.
func (r *bitReader) ue(what string, maxValue uint32) uint32 {
	zeros := 0
	for r.err == nil && r.u(1, what) == 0 {
		zeros++
		if zeros > 31 {
			r.fail(what, errRange)
		}
	}
	if r.err != nil {
		return 0
	}
	v := uint64(1)<<zeros - 1 + uint64(r.u(zeros, what))
	if v > uint64(maxValue) {
		r.fail(what, fmt.Errorf("%w: %d", errRange, v))
		return 0
	}
	return uint32(v)
}

// se reads a signed Exp-Golomb field.
func (r *bitReader) se(what string) int32 {
	k := r.ue(what, 1<<31-1)
	if k%2 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}
