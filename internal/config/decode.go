package config

// Decode bounds what one camera may make the decoder allocate and do (package decodelimit): every
// SPS, in the SDP and in-band, is checked before the decoder sees it, and a camera over a limit
// fails with a reason naming the field. Sizes are coded sizes (before cropping), what the decoder
// allocates.
type Decode struct {
	// MaxWidth and MaxHeight bound a picture's coded width and height in pixels, 16..16384. They
	// default to 4096 and 2304 (4K UHD and DCI 4K fit).
	MaxWidth  int `yaml:"max_width" json:"max_width"`
	MaxHeight int `yaml:"max_height" json:"max_height"`
	// MaxPixels bounds width x height, 256..268435456. It defaults to 8912896 (4096x2176, 8.9 Mpixel).
	MaxPixels int64 `yaml:"max_pixels" json:"max_pixels"`
	// MaxRefFrames bounds the reference frames an SPS may ask the decoder to keep (H.264
	// max_num_ref_frames, H.265 sps_max_dec_pic_buffering), 1..16. It defaults to 16, the most
	// either standard allows.
	MaxRefFrames int `yaml:"max_ref_frames" json:"max_ref_frames"`
	// MaxAccessUnitBytes bounds one access unit (so one NAL unit); a bigger one is cut off, dropped
	// and counted. 65536..8388608 (8 MiB, the RTP depacketiser's own cap). It defaults to 4194304
	// (4 MiB).
	MaxAccessUnitBytes int `yaml:"max_access_unit_bytes" json:"max_access_unit_bytes"`
	// MaxQueueBytes bounds the bytes buffered between a camera's network reader and its decoder,
	// max_access_unit_bytes..1 GiB. It defaults to 33554432 (32 MiB).
	MaxQueueBytes int `yaml:"max_queue_bytes" json:"max_queue_bytes"`
	// MaxFPS caps each camera's decode rate whatever its SPS declares, 1..1000. It defaults to 120.
	MaxFPS float64 `yaml:"max_fps" json:"max_fps"`
	// FPSMargin is how many times faster than its declared frame rate a camera may send before
	// access units are dropped (counted in mvwatch_decode_throttled_access_units_total), 1..100.
	// It defaults to 2.
	FPSMargin float64 `yaml:"fps_margin" json:"fps_margin"`
}

// Decode defaults.
const (
	DefaultDecodeMaxWidth      = 4096
	DefaultDecodeMaxHeight     = 2304
	DefaultDecodeMaxPixels     = 4096 * 2176
	DefaultDecodeMaxRefFrames  = 16
	DefaultDecodeMaxAUBytes    = 4 << 20
	DefaultDecodeMaxQueueBytes = 32 << 20
	DefaultDecodeMaxFPS        = 120
	DefaultDecodeFPSMargin     = 2
)

// Bounds of the decode section's values.
const (
	minDecodeDim, maxDecodeDim                 = 16, 16384
	minDecodePixels, maxDecodePixels           = 256, maxDecodeDim * maxDecodeDim
	maxDecodeRefFrames                         = 16
	minDecodeAUBytes, maxDecodeAUBytes         = 64 << 10, 8 << 20
	maxDecodeQueueBytes                        = 1 << 30
	maxDecodeFPS, maxDecodeFPSMargin   float64 = 1000, 100
)

func (d *Decode) applyDefaults() {
	setI := func(p *int, v int) {
		if *p == 0 {
			*p = v
		}
	}
	setI(&d.MaxWidth, DefaultDecodeMaxWidth)
	setI(&d.MaxHeight, DefaultDecodeMaxHeight)
	setI(&d.MaxRefFrames, DefaultDecodeMaxRefFrames)
	setI(&d.MaxAccessUnitBytes, DefaultDecodeMaxAUBytes)
	setI(&d.MaxQueueBytes, DefaultDecodeMaxQueueBytes)
	if d.MaxPixels == 0 {
		d.MaxPixels = DefaultDecodeMaxPixels
	}
	setF(&d.MaxFPS, DefaultDecodeMaxFPS)
	setF(&d.FPSMargin, DefaultDecodeFPSMargin)
}

func (d Decode) validate(p *problems) {
	for _, f := range []struct {
		path string
		v    int
	}{{"decode.max_width", d.MaxWidth}, {"decode.max_height", d.MaxHeight}} {
		if f.v < minDecodeDim || f.v > maxDecodeDim {
			p.bad(f.path, "must be %d..%d, not %d", minDecodeDim, maxDecodeDim, f.v)
		}
	}
	if d.MaxPixels < minDecodePixels || d.MaxPixels > maxDecodePixels {
		p.bad("decode.max_pixels", "must be %d..%d, not %d", minDecodePixels, maxDecodePixels, d.MaxPixels)
	}
	if d.MaxRefFrames < 1 || d.MaxRefFrames > maxDecodeRefFrames {
		p.bad("decode.max_ref_frames", "must be 1..%d, not %d", maxDecodeRefFrames, d.MaxRefFrames)
	}
	if d.MaxAccessUnitBytes < minDecodeAUBytes || d.MaxAccessUnitBytes > maxDecodeAUBytes {
		p.bad("decode.max_access_unit_bytes", "must be %d..%d, not %d", minDecodeAUBytes, maxDecodeAUBytes, d.MaxAccessUnitBytes)
	}
	if d.MaxQueueBytes < d.MaxAccessUnitBytes || d.MaxQueueBytes > maxDecodeQueueBytes {
		p.bad("decode.max_queue_bytes", "must be max_access_unit_bytes (%d)..%d, not %d", d.MaxAccessUnitBytes, maxDecodeQueueBytes, d.MaxQueueBytes)
	}
	if !(d.MaxFPS >= 1 && d.MaxFPS <= maxDecodeFPS) {
		p.bad("decode.max_fps", "must be 1..%g, not %g", maxDecodeFPS, d.MaxFPS)
	}
	if !(d.FPSMargin >= 1 && d.FPSMargin <= maxDecodeFPSMargin) {
		p.bad("decode.fps_margin", "must be 1..%g, not %g", maxDecodeFPSMargin, d.FPSMargin)
	}
}
