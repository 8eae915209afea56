package source

import (
	"fmt"
	"sync"

	"github.com/mvwatch/mvwatch/demux"
	"github.com/mvwatch/mvwatch/internal/media"
)

// KeyframeDecoders is a bounded set of open keyframe-only decoders that the pre-gates of many
// cameras share for their keyframe checks. Opening a decoder costs about a third of a noisy 720p
// IDR's decode (BenchmarkKeyframeCheck: 6.0 ms fresh against 4.5 ms reused), and one decoder kept
// per sleeping camera would hold its picture memory for hundreds of cameras; a few shared ones
// (about one per core is used at a time) cost neither. Each check drains its decoder (Flush), so
// the next one, for any camera, starts clean at its own IDR and parameter sets. Safe for
// concurrent use.
type KeyframeDecoders struct {
	mu     sync.Mutex
	cfg    demux.DecoderConfig
	free   map[media.Codec][]*demux.Decoder
	max    int
	closed bool
}

// keyframeDecoderConfig is the keyframe check's decoder: pixels only, in software, on one thread,
// without the deblocking filter (the check compares block means, which the filter hardly moves,
// and the IDR is never predicted from).
func keyframeDecoderConfig(base demux.DecoderConfig) demux.DecoderConfig {
	base.MotionVectors, base.Pixels, base.HWAccel, base.Threads, base.SkipLoopFilter = false, true, demux.HWNone, 1, true
	return base
}

// NewKeyframeDecoders returns a set that keeps at most idle open decoders per codec (at least 1).
func NewKeyframeDecoders(idle int) *KeyframeDecoders {
	return &KeyframeDecoders{cfg: keyframeDecoderConfig(demux.DecoderConfig{}), free: map[media.Codec][]*demux.Decoder{}, max: max(idle, 1)}
}

// get returns an idle decoder for codec, or a new one.
func (k *KeyframeDecoders) get(codec media.Codec) (*demux.Decoder, error) {
	k.mu.Lock()
	if free := k.free[codec]; len(free) > 0 {
		d := free[len(free)-1]
		k.free[codec] = free[:len(free)-1]
		k.mu.Unlock()
		return d, nil
	}
	k.mu.Unlock()
	d, err := demux.NewDecoder(codec, k.cfg)
	if err != nil {
		return nil, fmt.Errorf("keyframe decoder: %w", err)
	}
	return d, nil
}

// put hands back a drained decoder: kept when there is room, closed otherwise (or when it failed).
func (k *KeyframeDecoders) put(codec media.Codec, d *demux.Decoder, ok bool) {
	k.mu.Lock()
	if ok && !k.closed && len(k.free[codec]) < k.max {
		k.free[codec] = append(k.free[codec], d)
		d = nil
	}
	k.mu.Unlock()
	if d != nil {
		d.Close()
	}
}

// Idle is the number of open decoders waiting for a check.
func (k *KeyframeDecoders) Idle() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	n := 0
	for _, f := range k.free {
		n += len(f)
	}
	return n
}

// Close closes the idle decoders; those still in a check are closed when they come back.
func (k *KeyframeDecoders) Close() {
	k.mu.Lock()
	free := k.free
	k.free, k.closed = map[media.Codec][]*demux.Decoder{}, true
	k.mu.Unlock()
	for _, f := range free {
		for _, d := range f {
			d.Close()
		}
	}
}
