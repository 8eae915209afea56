package decodelimit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/internal/media"
	"github.com/mvwatch/mvwatch/internal/testcam"
)

// realSPS returns the SPS NAL units of the committed test streams: internal/pregate's seed streams
// (baseline, high, interlaced, H.265) and the test camera's clips.
func realSPS(t testing.TB) map[media.Codec][][]byte {
	t.Helper()
	streams := map[string][]byte{"testcam.264": testcam.DefaultClip(), "scene.264": testcam.SceneClip()}
	paths, err := filepath.Glob(filepath.Join("..", "pregate", "testdata", "*.26[45]"))
	require.NoError(t, err)
	for _, p := range paths {
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		streams[filepath.Base(p)] = data
	}
	out := map[media.Codec][][]byte{}
	for name, data := range streams {
		var nalus h264.AnnexB
		require.NoError(t, nalus.Unmarshal(data), name)
		codec := media.CodecH264
		if strings.HasSuffix(name, ".265") {
			codec = media.CodecH265
		}
		for _, n := range nalus {
			if isSPS(codec, n) {
				out[codec] = append(out[codec], n)
			}
		}
	}
	require.NotEmpty(t, out[media.CodecH264])
	require.NotEmpty(t, out[media.CodecH265])
	return out
}

// reference parses nalu with mediacommon (the parser internal/pregate uses) into the fields this
// package reads; ok is false when mediacommon cannot parse it.
func reference(codec media.Codec, nalu []byte) (SPS, bool) {
	switch codec {
	case media.CodecH264:
		var s h264.SPS
		if s.Unmarshal(nalu) != nil {
			return SPS{}, false
		}
		h := (int64(s.PicHeightInMapUnitsMinus1) + 1) * 16
		if !s.FrameMbsOnlyFlag {
			h *= 2
		}
		return SPS{Width: (int64(s.PicWidthInMbsMinus1) + 1) * 16, Height: h, RefFrames: int64(s.MaxNumRefFrames), FPS: saneFPS(s.FPS())}, true
	case media.CodecH265:
		var s h265.SPS
		if s.Unmarshal(nalu) != nil {
			return SPS{}, false
		}
		var dpb int64
		for _, v := range s.MaxDecPicBufferingMinus1 {
			dpb = max(dpb, int64(v)+1)
		}
		return SPS{Width: int64(s.PicWidthInLumaSamples), Height: int64(s.PicHeightInLumaSamples), RefFrames: dpb, FPS: saneFPS(s.FPS())}, true
	}
	return SPS{}, false
}

// TestParseSPSRealStreams reads the real streams' SPS like mediacommon does.
func TestParseSPSRealStreams(t *testing.T) {
	for codec, list := range realSPS(t) {
		for _, n := range list {
			want, ok := reference(codec, n)
			require.True(t, ok)
			got, err := ParseSPS(codec, n)
			require.NoError(t, err)
			require.Equal(t, want, got, "%s SPS %x", codec, n)
			require.NotZero(t, got.Width)
		}
	}
	// The interlaced stream is field-coded: its coded height is twice the map units.
	var s h264.SPS
	for _, n := range realSPS(t)[media.CodecH264] {
		require.NoError(t, s.Unmarshal(n))
		got, _ := ParseSPS(media.CodecH264, n)
		if !s.FrameMbsOnlyFlag {
			require.Equal(t, int64(s.PicHeightInMapUnitsMinus1+1)*32, got.Height)
		}
	}
}

// hostileH264 re-encodes the test camera's SPS with edit applied.
func hostileH264(t testing.TB, edit func(*h264.SPS)) []byte {
	t.Helper()
	var nalus h264.AnnexB
	require.NoError(t, nalus.Unmarshal(testcam.DefaultClip()))
	var s h264.SPS
	require.NoError(t, s.Unmarshal(nalus[0]))
	edit(&s)
	b, err := testcam.MarshalH264SPS(&s)
	require.NoError(t, err)
	return b
}

func TestCheck(t *testing.T) {
	l := Default()
	cases := []struct {
		name   string
		edit   func(*h264.SPS)
		reason Reason
		msg    string
	}{
		{"healthy", func(*h264.SPS) {}, "", ""},
		{"16000x16000", func(s *h264.SPS) { s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1, s.FrameCropping = 999, 999, nil },
			ReasonDimensions, "sps: 16000x16000 exceeds the 4096x2304 limit (decode.max_width/max_height)"},
		// Cropping does not hide the coded size: the decoder allocates the coded size.
		{"cropped to small", func(s *h264.SPS) {
			s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1 = 999, 999
			s.FrameCropping = &h264.SPS_FrameCropping{RightOffset: 7800, BottomOffset: 7800}
		}, ReasonDimensions, "sps: 16000x16000 exceeds"},
		{"4096x2304 too many pixels", func(s *h264.SPS) { s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1, s.FrameCropping = 255, 143, nil },
			ReasonPixels, "sps: 4096x2304 is 9437184 pixels, over the 8912896 limit (decode.max_pixels)"},
		{"3840x2160", func(s *h264.SPS) { s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1, s.FrameCropping = 239, 134, nil }, "", ""},
		{"fields", func(s *h264.SPS) { s.PicHeightInMapUnitsMinus1, s.FrameMbsOnlyFlag = 99, false }, ReasonDimensions, "sps: 640x3200 exceeds"},
		{"1000 refs", func(s *h264.SPS) { s.MaxNumRefFrames = 1000 }, ReasonRefFrames, "sps: 1000 reference frames exceed the 16 limit (decode.max_ref_frames)"},
		{"2^32-2 width", func(s *h264.SPS) { s.PicWidthInMbsMinus1 = 1<<32 - 2 }, ReasonDimensions, "sps: 68719476720x368 exceeds"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := NewChecker(l, nil)
			err := c.Check(media.CodecH264, [][]byte{hostileH264(t, tc.edit), {0x68, 0xce}, {0x65, 0x88}})
			if tc.reason == "" {
				require.NoError(t, err)
				return
			}
			var v *Violation
			require.ErrorAs(t, err, &v)
			require.ErrorIs(t, err, ErrLimit)
			require.Equal(t, tc.reason, v.Reason)
			require.Contains(t, err.Error(), tc.msg)
		})
	}
}

// TestCheckChangedSPS: an SPS is parsed again when it changes mid-stream, not when it repeats.
func TestCheckChangedSPS(t *testing.T) {
	c := NewChecker(Limits{}, nil)
	good := hostileH264(t, func(*h264.SPS) {})
	require.NoError(t, c.Check(media.CodecH264, [][]byte{good}))
	require.InDelta(t, 15, c.FPS(), 1e-9, "the clip's SPS declares 15 fps")
	require.NoError(t, c.Check(media.CodecH264, [][]byte{good}))
	bad := hostileH264(t, func(s *h264.SPS) { s.MaxNumRefFrames = 17 })
	require.ErrorIs(t, c.Check(media.CodecH264, [][]byte{bad}), ErrLimit)

	tight := NewChecker(Limits{MaxWidth: 320, MaxHeight: 240}, nil)
	require.ErrorContains(t, tight.Check(media.CodecH264, [][]byte{good}), "sps: 640x368 exceeds the 320x240 limit")
}

// TestCheckUnparseable: an SPS that cannot be read cannot be bounded, so it is refused.
func TestCheckUnparseable(t *testing.T) {
	c := NewChecker(Limits{}, nil)
	for _, n := range [][]byte{{0x67}, {0x67, 0x42, 0x00, 0x1e}, append([]byte{0x67, 0x42, 0, 0x1e}, make([]byte, 40)...),
		append([]byte{0x67}, make([]byte, maxSPSBytes)...)} {
		err := c.Check(media.CodecH264, [][]byte{n})
		var v *Violation
		require.ErrorAs(t, err, &v, "%x", n)
		require.Equal(t, ReasonBadSPS, v.Reason)
		require.Contains(t, err.Error(), "cannot be bounded")
	}
	h265 := realSPS(t)[media.CodecH265][0]
	err := c.Check(media.CodecH265, [][]byte{h265[:6]})
	require.ErrorIs(t, err, ErrLimit)
}

// TestCheckH265 edits the luma size of a real H.265 SPS in place: pic_width_in_luma_samples is
// an Exp-Golomb field, so the test writes a new SPS from the parsed prefix.
func TestCheckH265(t *testing.T) {
	for _, n := range realSPS(t)[media.CodecH265] {
		s, err := ParseSPS(media.CodecH265, n)
		require.NoError(t, err)
		require.NoError(t, NewChecker(Limits{}, nil).Check(media.CodecH265, [][]byte{n}))
		err = NewChecker(Limits{MaxWidth: int(s.Width) - 1}, nil).Check(media.CodecH265, [][]byte{n})
		require.ErrorContains(t, err, "exceeds the")
		err = NewChecker(Limits{MaxRefFrames: int(s.RefFrames) - 1}, nil).Check(media.CodecH265, [][]byte{n})
		require.ErrorContains(t, err, "reference frames exceed")
	}
}

func oversizedEdit(s *h264.SPS) {
	s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1, s.FrameCropping = 999, 999, nil
}
