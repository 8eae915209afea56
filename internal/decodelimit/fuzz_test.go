package decodelimit

import (
	"errors"
	"testing"

	"github.com/mvwatch/mvwatch/internal/media"
)

// fuzzSPS checks ParseSPS against mediacommon's parser: it never panics, and whenever mediacommon
// reads the SPS, both agree on every field the limits look at. (ParseSPS may read SPS that
// mediacommon refuses: it stops at the last field it needs; and it refuses values out of the
// standards' ranges that mediacommon lets through.)
func fuzzSPS(t *testing.T, codec media.Codec, data []byte) {
	got, err := ParseSPS(codec, data)
	want, ok := reference(codec, data)
	if ok && err == nil && got != want {
		t.Fatalf("ParseSPS %+v, mediacommon %+v", got, want)
	}
	// ParseSPS checks the ranges the standards give (FFmpeg refuses such an SPS too); mediacommon
	// checks fewer.
	if ok && err != nil && len(data) <= maxSPSBytes && !errors.Is(err, errRange) {
		t.Fatalf("mediacommon reads the SPS, ParseSPS fails: %v", err)
	}
	_ = NewChecker(Limits{}, nil).Check(codec, [][]byte{data})
}

func FuzzH264SPS(f *testing.F) {
	for _, n := range realSPS(f)[media.CodecH264] {
		f.Add(n)
	}
	f.Add(hostileH264(f, oversizedEdit))
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSPS(t, media.CodecH264, data) })
}

func FuzzH265SPS(f *testing.F) {
	for _, n := range realSPS(f)[media.CodecH265] {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, data []byte) { fuzzSPS(t, media.CodecH265, data) })
}
