package decodelimit

import "github.com/mvwatch/mvwatch/internal/config"

// FromConfig returns the limits of the config's decode section.
func FromConfig(d config.Decode) Limits {
	return Limits{
		MaxWidth:           d.MaxWidth,
		MaxHeight:          d.MaxHeight,
		MaxPixels:          d.MaxPixels,
		MaxRefFrames:       d.MaxRefFrames,
		MaxAccessUnitBytes: d.MaxAccessUnitBytes,
		MaxQueueBytes:      d.MaxQueueBytes,
		MaxFPS:             d.MaxFPS,
		FPSMargin:          d.FPSMargin,
	}
}
