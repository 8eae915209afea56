package pregate

import "errors"

// Sentinel errors of the bitstream parsers. Every parse error wraps exactly one of them, so a caller
// can count a fallback by reason with errors.Is.
var (
	// ErrCorrupt means a NAL unit ended early or held a value the standard forbids.
	ErrCorrupt = errors.New("pregate: corrupt bitstream")
	// ErrUnsupported means valid syntax that this parser does not handle (for example H.264 field
	// coding with MVC slice extensions, or H.265 long-term reference pictures signalled in the SPS).
	ErrUnsupported = errors.New("pregate: unsupported bitstream feature")
	// ErrMissingParameterSet means a slice referred to an SPS or PPS (or VPS) that has not been seen.
	ErrMissingParameterSet = errors.New("pregate: missing parameter set")
	// ErrNoSlice means an access unit held no coded slice.
	ErrNoSlice = errors.New("pregate: access unit without a coded slice")
)
