package testcam

import (
	"os"
	"testing"

	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/bluenviron/mediacommon/v2/pkg/codecs/h265"
	"github.com/stretchr/testify/require"

	"github.com/mvwatch/mvwatch/ingest"
)

// TestMarshalH264SPS re-encodes the clip's SPS: it parses back to the same fields, edits included.
func TestMarshalH264SPS(t *testing.T) {
	aus, err := ingest.ParseAnnexB(DefaultClip(), 0)
	require.NoError(t, err)
	var orig h264.SPS
	require.NoError(t, orig.Unmarshal(aus[0].NALUs[0]))
	for _, edit := range []func(*h264.SPS){
		func(*h264.SPS) {},
		func(s *h264.SPS) { s.PicWidthInMbsMinus1, s.PicHeightInMapUnitsMinus1 = 999, 999 },
		func(s *h264.SPS) { s.MaxNumRefFrames = 1000 },
		func(s *h264.SPS) { s.FrameCropping = nil },
	} {
		want := orig
		edit(&want)
		b, err := MarshalH264SPS(&want)
		require.NoError(t, err)
		var got h264.SPS
		require.NoError(t, got.Unmarshal(b))
		require.Equal(t, want.Width(), got.Width())
		require.Equal(t, want.Height(), got.Height())
		require.Equal(t, want.MaxNumRefFrames, got.MaxNumRefFrames)
		require.Equal(t, want.Log2MaxFrameNumMinus4, got.Log2MaxFrameNumMinus4)
		require.Equal(t, want.PicOrderCntType, got.PicOrderCntType)
		require.InDelta(t, want.FPS(), got.FPS(), 1e-9)
	}
}

// TestRewriteH265Size changes the luma size of real H.265 SPS and nothing else.
func TestRewriteH265Size(t *testing.T) {
	data, err := os.ReadFile("../pregate/testdata/h265-bframes.265")
	require.NoError(t, err)
	var nalus h264.AnnexB
	require.NoError(t, nalus.Unmarshal(data))
	found := false
	for _, n := range nalus {
		if (n[0]>>1)&0x3f != 33 {
			continue
		}
		found = true
		var orig h265.SPS
		require.NoError(t, orig.Unmarshal(n))
		b, err := RewriteH265Size(n, 16000, 16000)
		require.NoError(t, err)
		var got h265.SPS
		require.NoError(t, got.Unmarshal(b))
		require.Equal(t, uint32(16000), got.PicWidthInLumaSamples)
		require.Equal(t, uint32(16000), got.PicHeightInLumaSamples)
		got.PicWidthInLumaSamples, got.PicHeightInLumaSamples = orig.PicWidthInLumaSamples, orig.PicHeightInLumaSamples
		require.Equal(t, orig, got, "every other field unchanged")
		same, err := RewriteH265Size(n, orig.PicWidthInLumaSamples, orig.PicHeightInLumaSamples)
		require.NoError(t, err)
		require.Equal(t, n, same, "the same size gives the same bytes")
	}
	require.True(t, found)
}
